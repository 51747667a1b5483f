//! Coding tasks: write one Python function, checked by `assert` unit tests in the style of
//! MBPP / HumanEval (Austin et al., 2021; Chen et al., 2021). Each spec carries its constants
//! (divisors, thresholds, shifts, bases) in the task text, a reference implementation, and a
//! Rust re-implementation with Python semantics that computes the expected test values.

use super::Task;
use super::rng::Rng;
use crate::check::Check;

/// Generates one coding task.
pub fn generate(rng: &mut Rng, hard: bool) -> Task {
    if hard {
        match rng.below(12) {
            0 => rle(rng),
            1 => balanced(rng),
            2 => merge_intervals(rng),
            3 => rotate(rng),
            4 => caesar(rng),
            5 => recurrence(rng),
            6 => longest_run(rng),
            7 => to_base(rng),
            8 => chunks(rng),
            9 => top_words(rng),
            10 => second_extreme(rng),
            _ => password(rng),
        }
    } else {
        match rng.below(12) {
            0 => sum_multiples(rng),
            1 => count_above(rng),
            2 => scale_shift(rng),
            3 => count_char(rng),
            4 => long_words(rng),
            5 => clamp(rng),
            6 => digit_sum(rng),
            7 => replace_char(rng),
            8 => repeat_chars(rng),
            9 => fizz(rng),
            10 => first_over(rng),
            _ => words_starting(rng),
        }
    }
}

// ---- Python literal helpers -------------------------------------------------------------

fn py_list(v: &[i64]) -> String {
    format!(
        "[{}]",
        v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    )
}

fn py_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn py_strs(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| py_str(s)).collect::<Vec<_>>().join(", ")
    )
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn rand_list(rng: &mut Rng, lo: i64, hi: i64, min_len: usize, max_len: usize) -> Vec<i64> {
    let n = min_len + rng.below(max_len - min_len + 1);
    (0..n).map(|_| rng.range(lo, hi)).collect()
}

const WORDS: &[&str] = &[
    "river", "stone", "apple", "cloud", "lantern", "maple", "orbit", "pepper", "quartz", "raven",
    "saddle", "tiger", "umbrella", "violet", "walnut", "yonder", "zebra", "amber", "breeze",
    "candle", "dune", "ember", "fjord", "glade", "harbor", "island", "jungle", "kettle", "lemon",
    "meadow", "nectar", "oak", "pebble", "quill", "reef", "spruce", "thistle", "valley", "willow",
    "a", "an", "to", "of", "sun", "map", "ink", "owl",
];

fn sentence(rng: &mut Rng, min: usize, max: usize) -> String {
    let n = min + rng.below(max - min + 1);
    (0..n).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn word(rng: &mut Rng) -> String {
    (*rng.pick(WORDS)).to_owned()
}

/// Assembles a task: instruction with one worked example, reference code, assert tests.
struct Spec {
    template: &'static str,
    name: String,
    description: String,
    code: String,
    /// (call arguments, expected value) as Python source.
    cases: Vec<(String, String)>,
}

fn build(rng: &mut Rng, spec: Spec) -> Task {
    let Spec {
        template,
        name,
        description,
        code,
        cases,
    } = spec;
    let (ex_args, ex_want) = &cases[0];
    let (ex2_args, ex2_want) = &cases[1];
    let lead = match rng.below(3) {
        0 => format!("Write a Python function `{name}` that {description}."),
        1 => format!("Implement `{name}` in Python: it {description}."),
        _ => format!("Create a Python function named `{name}`, which {description}."),
    };
    let instruction = format!(
        "{lead} For example, `{name}({ex_args})` should return `{ex_want}`, and `{name}({ex2_args})` should return `{ex2_want}`."
    );
    let tests: Vec<String> = cases
        .iter()
        .map(|(args, want)| format!("assert {name}({args}) == {want}"))
        .collect();
    let output = format!("```python\n{code}\n```");
    Task::single(
        template,
        instruction,
        output,
        Check::PythonTests {
            entry_point: name,
            tests,
        },
    )
}

fn pick_name(rng: &mut Rng, stems: &[&str], suffix: &str) -> String {
    format!("{}{suffix}", rng.pick(stems))
}

fn cases<F: FnMut(&mut Rng) -> (String, String)>(rng: &mut Rng, n: usize, mut f: F) -> Vec<(String, String)> {
    (0..n).map(|_| f(rng)).collect()
}

// ---- easy specs ----------------------------------------------------------------------------

fn sum_multiples(rng: &mut Rng) -> Task {
    let k = rng.range(2, 13);
    let name = pick_name(rng, &["sum_multiples_of_", "add_multiples_of_", "total_divisible_by_"], &k.to_string());
    let var = *rng.pick(&["nums", "values", "numbers"]);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 120, 1, 8);
        let s: i64 = v.iter().filter(|x| *x % k == 0).sum();
        (py_list(&v), s.to_string())
    });
    build(rng, Spec {
        template: "coding:sum_multiples",
        description: format!("returns the sum of the elements of `{var}` that are divisible by {k} (0 if there are none)"),
        code: format!("def {name}({var}):\n    return sum(x for x in {var} if x % {k} == 0)"),
        name,
        cases,
    })
}

fn count_above(rng: &mut Rng) -> Task {
    let t = rng.range(-20, 80);
    let name = pick_name(rng, &["count_above", "how_many_over", "count_greater"], "");
    let var = *rng.pick(&["values", "readings", "scores"]);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, -30, 120, 0, 8);
        let c = v.iter().filter(|x| **x > t).count();
        (py_list(&v), c.to_string())
    });
    build(rng, Spec {
        template: "coding:count_above",
        description: format!("counts how many numbers in `{var}` are strictly greater than {t}"),
        code: format!("def {name}({var}):\n    return sum(1 for x in {var} if x > {t})"),
        name,
        cases,
    })
}

fn scale_shift(rng: &mut Rng) -> Task {
    let a = rng.range(2, 9);
    let b = rng.range(-15, 15);
    let name = pick_name(rng, &["scale_and_shift", "linear_map", "transform_all"], "");
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, -20, 50, 0, 7);
        let out: Vec<i64> = v.iter().map(|x| a * x + b).collect();
        (py_list(&v), py_list(&out))
    });
    let expr = if b >= 0 { format!("{a} * x + {b}") } else { format!("{a} * x - {}", -b) };
    build(rng, Spec {
        template: "coding:scale_shift",
        description: format!("returns a new list in which every element x of `nums` becomes {expr}"),
        code: format!("def {name}(nums):\n    return [{expr} for x in nums]"),
        name,
        cases,
    })
}

fn count_char(rng: &mut Rng) -> Task {
    let c = *rng.pick(&['a', 'e', 'i', 'o', 'r', 's', 't', 'n', 'l', ' ']);
    let shown = if c == ' ' { "space".to_owned() } else { format!("'{c}'") };
    let name = pick_name(rng, &["count_", "occurrences_of_", "tally_"], if c == ' ' { "spaces" } else { "letter" });
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 6);
        let n = s.chars().filter(|x| *x == c).count();
        (py_str(&s), n.to_string())
    });
    build(rng, Spec {
        template: "coding:count_char",
        description: format!("returns how many times the character {shown} occurs in the string `text`"),
        code: format!("def {name}(text):\n    return text.count({})", py_str(&c.to_string())),
        name,
        cases,
    })
}

fn long_words(rng: &mut Rng) -> Task {
    let n = rng.range(2, 6);
    let suffix = if rng.chance(0.5) { "" } else { "_n" };
    let name = pick_name(rng, &["long_words", "words_longer_than", "filter_long_words"], suffix);
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 7);
        let out: Vec<String> = s.split_whitespace().filter(|w| w.len() as i64 > n).map(str::to_owned).collect();
        (py_str(&s), py_strs(&out))
    });
    build(rng, Spec {
        template: "coding:long_words",
        description: format!("returns, in their original order, the words of `sentence` (split on whitespace) that have more than {n} characters"),
        code: format!("def {name}(sentence):\n    return [w for w in sentence.split() if len(w) > {n}]"),
        name,
        cases,
    })
}

fn clamp(rng: &mut Rng) -> Task {
    let lo = rng.range(-10, 20);
    let hi = lo + rng.range(5, 60);
    let name = pick_name(rng, &["clamp_all", "limit_values", "clip_list"], "");
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, lo - 30, hi + 30, 0, 7);
        let out: Vec<i64> = v.iter().map(|x| (*x).clamp(lo, hi)).collect();
        (py_list(&v), py_list(&out))
    });
    build(rng, Spec {
        template: "coding:clamp",
        description: format!("returns a new list where each value of `nums` is limited to the closed range [{lo}, {hi}]"),
        code: format!("def {name}(nums):\n    return [min(max(x, {lo}), {hi}) for x in nums]"),
        name,
        cases,
    })
}

fn digit_sum(rng: &mut Rng) -> Task {
    let k = rng.range(1, 9);
    let name = pick_name(rng, &["weighted_digit_sum", "digit_total", "sum_digits_times"], "");
    let cases = cases(rng, 5, |r| {
        let n = r.range(0, 999_999);
        let s: i64 = n.to_string().bytes().map(|b| i64::from(b - b'0')).sum();
        (n.to_string(), (k * s).to_string())
    });
    build(rng, Spec {
        template: "coding:digit_sum",
        description: format!("returns {k} times the sum of the decimal digits of the non-negative integer `n`"),
        code: format!("def {name}(n):\n    return {k} * sum(int(d) for d in str(n))"),
        name,
        cases,
    })
}

fn replace_char(rng: &mut Rng) -> Task {
    let pair = rng.sample(&['a', 'e', 'o', 'r', 't', 's', 'l', 'n', '_', '*', '#'], 2);
    let (a, b) = (pair[0], pair[1]);
    let name = pick_name(rng, &["swap_", "replace_", "substitute_"], "char");
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 5);
        (py_str(&s), py_str(&s.replace(a, &b.to_string())))
    });
    build(rng, Spec {
        template: "coding:replace_char",
        description: format!("returns `text` with every '{a}' replaced by '{b}'"),
        code: format!("def {name}(text):\n    return text.replace({}, {})", py_str(&a.to_string()), py_str(&b.to_string())),
        name,
        cases,
    })
}

fn repeat_chars(rng: &mut Rng) -> Task {
    let k = rng.range(2, 5);
    let name = pick_name(rng, &["stretch_word", "repeat_each_char", "echo_letters"], "");
    let cases = cases(rng, 5, |r| {
        let w = word(r);
        let out: String = w.chars().flat_map(|c| std::iter::repeat_n(c, k as usize)).collect();
        (py_str(&w), py_str(&out))
    });
    build(rng, Spec {
        template: "coding:repeat_chars",
        description: format!("returns a string in which each character of `word` is repeated {k} times in place"),
        code: format!("def {name}(word):\n    return ''.join(c * {k} for c in word)"),
        name,
        cases,
    })
}

fn fizz(rng: &mut Rng) -> Task {
    let pair = rng.sample(&[2i64, 3, 4, 5, 6, 7], 2);
    let (a, b) = (pair[0], pair[1]);
    let w = rng.sample(&["Fizz", "Buzz", "Ping", "Pong", "Zip", "Zap", "Tick", "Tock"], 2);
    let (w1, w2) = (w[0], w[1]);
    let name = pick_name(rng, &["custom_fizzbuzz", "fizz_like", "label_numbers"], "");
    let cases = cases(rng, 4, |r| {
        let n = r.range(1, 16);
        let out: Vec<String> = (1..=n)
            .map(|i| match (i % a == 0, i % b == 0) {
                (true, true) => format!("{w1}{w2}"),
                (true, false) => w1.to_owned(),
                (false, true) => w2.to_owned(),
                _ => i.to_string(),
            })
            .collect();
        (n.to_string(), py_strs(&out))
    });
    build(rng, Spec {
        template: "coding:fizz",
        description: format!("returns a list of strings for the numbers 1 to `n`: '{w1}{w2}' for multiples of both {a} and {b}, '{w1}' for other multiples of {a}, '{w2}' for other multiples of {b}, and the number itself otherwise"),
        code: format!("def {name}(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % {a} == 0 and i % {b} == 0:\n            out.append('{w1}{w2}')\n        elif i % {a} == 0:\n            out.append('{w1}')\n        elif i % {b} == 0:\n            out.append('{w2}')\n        else:\n            out.append(str(i))\n    return out"),
        name,
        cases,
    })
}

fn first_over(rng: &mut Rng) -> Task {
    let t = rng.range(0, 90);
    let name = pick_name(rng, &["first_index_above", "find_first_over", "index_of_first_greater"], "");
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 120, 0, 8);
        let i = v.iter().position(|x| *x > t).map_or(-1, |i| i as i64);
        (py_list(&v), i.to_string())
    });
    build(rng, Spec {
        template: "coding:first_over",
        description: format!("returns the index of the first element of `nums` that is greater than {t}, or -1 if there is none"),
        code: format!("def {name}(nums):\n    for i, x in enumerate(nums):\n        if x > {t}:\n            return i\n    return -1"),
        name,
        cases,
    })
}

fn words_starting(rng: &mut Rng) -> Task {
    let l = *rng.pick(&['a', 'b', 'c', 'm', 'o', 'r', 's', 't', 'w']);
    let name = pick_name(rng, &["count_words_starting_with_", "initial_count_", "words_beginning_"], &l.to_string());
    let cases = cases(rng, 5, |r| {
        let s: String = sentence(r, 1, 7)
            .split(' ')
            .map(|w| if r.chance(0.3) { super::words::capitalise(w) } else { w.to_owned() })
            .collect::<Vec<_>>()
            .join(" ");
        let n = s.split_whitespace().filter(|w| w.to_lowercase().starts_with(l)).count();
        (py_str(&s), n.to_string())
    });
    build(rng, Spec {
        template: "coding:words_starting",
        description: format!("counts the words of `sentence` that start with the letter '{l}', ignoring case"),
        code: format!("def {name}(sentence):\n    return sum(1 for w in sentence.split() if w.lower().startswith('{l}'))"),
        name,
        cases,
    })
}

// ---- hard specs ----------------------------------------------------------------------------

fn rle(rng: &mut Rng) -> Task {
    let sep = *rng.pick(&["", ":", "-", "x"]);
    let join = *rng.pick(&["", ",", " ", ";"]);
    let count_first = rng.chance(0.5);
    let name = pick_name(rng, &["run_length_encode", "rle", "compress_runs", "encode_runs"], "");
    let p = *rng.pick(&["s", "text", "data", "raw"]);
    let (i, j) = *rng.pick(&[("i", "j"), ("start", "end"), ("a", "b")]);
    let cases = cases(rng, 5, |r| {
        let n = r.below(12);
        let alphabet = ['a', 'b', 'c', 'x'];
        let mut s = String::new();
        while s.len() < n {
            let c = *r.pick(&alphabet);
            for _ in 0..(1 + r.below(4)) {
                s.push(c);
            }
        }
        let mut parts = Vec::new();
        let cs: Vec<char> = s.chars().collect();
        let mut a = 0;
        while a < cs.len() {
            let mut b = a;
            while b < cs.len() && cs[b] == cs[a] {
                b += 1;
            }
            parts.push(if count_first {
                format!("{}{sep}{}", b - a, cs[a])
            } else {
                format!("{}{sep}{}", cs[a], b - a)
            });
            a = b;
        }
        (py_str(&s), py_str(&parts.join(join)))
    });
    let shown_join = if join.is_empty() { "nothing".to_owned() } else { format!("'{join}'") };
    let shown_sep = if sep.is_empty() { "directly".to_owned() } else { format!("with '{sep}' in between") };
    let order = if count_first { "the run length followed by the character" } else { "the character followed by the run length" };
    let piece = if count_first {
        format!("str({j} - {i}) + '{sep}' + {p}[{i}]")
    } else {
        format!("{p}[{i}] + '{sep}' + str({j} - {i})")
    };
    build(rng, Spec {
        template: "coding:rle",
        description: format!("run-length encodes the string `{p}`: each maximal run of one repeated character becomes {order} ({shown_sep}), and the encoded runs are joined with {shown_join}"),
        code: format!("def {name}({p}):\n    parts = []\n    {i} = 0\n    while {i} < len({p}):\n        {j} = {i}\n        while {j} < len({p}) and {p}[{j}] == {p}[{i}]:\n            {j} += 1\n        parts.append({piece})\n        {i} = {j}\n    return '{join}'.join(parts)"),
        name,
        cases,
    })
}

fn balanced(rng: &mut Rng) -> Task {
    let all = [('(', ')'), ('[', ']'), ('{', '}'), ('<', '>')];
    let k = 2 + rng.below(3);
    let pairs = rng.sample(&all, k);
    let name = pick_name(rng, &["is_balanced", "brackets_ok", "check_nesting", "well_nested"], "");
    let p = *rng.pick(&["s", "text", "expr", "source"]);
    let st = *rng.pick(&["stack", "pending", "expected", "waiting"]);
    let opens: String = pairs.iter().map(|p| p.0).collect();
    let closes: String = pairs.iter().map(|p| p.1).collect();
    let cases = cases(rng, 6, |r| {
        let mut s = String::new();
        let mut stack = Vec::new();
        let len = r.below(10);
        for _ in 0..len {
            match r.below(4) {
                0 | 1 => {
                    let p = *r.pick(&pairs);
                    s.push(p.0);
                    stack.push(p.1);
                }
                2 => {
                    if let Some(c) = stack.pop() {
                        s.push(c);
                    }
                }
                _ => {
                    s.push_str(*r.pick(WORDS));
                    s.push(' ');
                }
            }
        }
        if r.chance(0.6) {
            while let Some(c) = stack.pop() {
                s.push(c);
            }
        }
        if r.chance(0.2) {
            s.push(r.pick(&pairs).1);
        }
        // Reference check with a stack, as the Python code does.
        let mut seen = Vec::new();
        let mut ok = true;
        for c in s.chars() {
            if let Some(i) = opens.find(c) {
                seen.push(closes.as_bytes()[i] as char);
            } else if closes.contains(c) && seen.pop() != Some(c) {
                ok = false;
                break;
            }
        }
        ok &= seen.is_empty();
        (py_str(&s), py_bool(ok).to_owned())
    });
    let shown: Vec<String> = pairs.iter().map(|p| format!("{}{}", p.0, p.1)).collect();
    let code = if rng.chance(0.5) {
        format!(
            "def {name}({p}):\n    pairs = {{{}}}\n    {st} = []\n    for c in {p}:\n        if c in pairs:\n            {st}.append(pairs[c])\n        elif c in {} and (not {st} or {st}.pop() != c):\n            return False\n    return not {st}",
            pairs.iter().map(|p| format!("{}: {}", py_str(&p.0.to_string()), py_str(&p.1.to_string()))).collect::<Vec<_>>().join(", "),
            py_str(&closes)
        )
    } else {
        format!(
            "def {name}({p}):\n    opening = {}\n    closing = {}\n    {st} = []\n    for ch in {p}:\n        if ch in opening:\n            {st}.append(closing[opening.index(ch)])\n        elif ch in closing:\n            if not {st} or {st}.pop() != ch:\n                return False\n    return len({st}) == 0",
            py_str(&opens),
            py_str(&closes)
        )
    };
    let description = match rng.below(2) {
        0 => format!("returns True if the brackets in `{p}` are balanced and properly nested, using only the bracket pairs {}; all other characters are ignored", shown.join(" ")),
        _ => format!("checks whether every opening bracket in `{p}` is closed by the matching bracket in the right order (pairs: {}), ignoring any other character, and returns a bool", shown.join(", ")),
    };
    build(rng, Spec { template: "coding:balanced", description, code, name, cases })
}

fn merge_intervals(rng: &mut Rng) -> Task {
    let touching = rng.chance(0.5);
    let name = pick_name(rng, &["merge_intervals", "combine_ranges", "union_of_intervals", "merge_spans"], "");
    let p = *rng.pick(&["intervals", "ranges", "spans", "periods"]);
    let (a, b) = *rng.pick(&[("a", "b"), ("start", "end"), ("lo", "hi")]);
    let out = *rng.pick(&["out", "merged", "result"]);
    let cases = cases(rng, 5, |r| {
        let n = r.below(6);
        let mut v: Vec<(i64, i64)> = (0..n)
            .map(|_| {
                let a = r.range(0, 30);
                (a, a + r.range(0, 8))
            })
            .collect();
        let shown = format!("[{}]", v.iter().map(|(a, b)| format!("[{a}, {b}]")).collect::<Vec<_>>().join(", "));
        v.sort();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (a, b) in v {
            match merged.last_mut() {
                Some(last) if a < last.1 || (touching && a == last.1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let want = format!("[{}]", merged.iter().map(|(a, b)| format!("[{a}, {b}]")).collect::<Vec<_>>().join(", "));
        (shown, want)
    });
    let rule = if touching { "intervals that overlap or touch (one ends where the next starts) are merged" } else { "intervals that merely touch (one ends exactly where the next starts) are kept separate" };
    let cmp = if touching { "<=" } else { "<" };
    build(rng, Spec {
        template: "coding:merge_intervals",
        description: format!("takes a list `{p}` of [start, end] pairs and returns the merged intervals sorted by start; {rule}"),
        code: format!("def {name}({p}):\n    {out} = []\n    for {a}, {b} in sorted({p}):\n        if {out} and {a} {cmp} {out}[-1][1]:\n            {out}[-1][1] = max({out}[-1][1], {b})\n        else:\n            {out}.append([{a}, {b}])\n    return {out}"),
        name,
        cases,
    })
}

fn rotate(rng: &mut Rng) -> Task {
    let k = rng.range(1, 9);
    let left = rng.chance(0.5);
    let dir = if left { "left" } else { "right" };
    let name = pick_name(rng, &["rotate_", "shift_", "cycle_"], dir);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 50, 0, 7);
        let out = if v.is_empty() {
            v.clone()
        } else {
            let s = (k as usize) % v.len();
            let mut o = v.clone();
            if left { o.rotate_left(s) } else { o.rotate_right(s) }
            o
        };
        (py_list(&v), py_list(&out))
    });
    let body = if left { "items[k:] + items[:k]" } else { "items[len(items) - k:] + items[:len(items) - k]" };
    build(rng, Spec {
        template: "coding:rotate",
        description: format!("returns `items` rotated {k} positions to the {dir} (the rotation wraps around, and an empty list stays empty)"),
        code: format!("def {name}(items):\n    if not items:\n        return []\n    k = {k} % len(items)\n    return {body}"),
        name,
        cases,
    })
}

fn caesar(rng: &mut Rng) -> Task {
    let k = rng.range(1, 25);
    let name = pick_name(rng, &["caesar_shift", "encode_shift", "rotate_letters"], "");
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 4);
        let out: String = s
            .chars()
            .map(|c| if c.is_ascii_lowercase() { (b'a' + ((c as u8 - b'a' + k as u8) % 26)) as char } else { c })
            .collect();
        (py_str(&s), py_str(&out))
    });
    build(rng, Spec {
        template: "coding:caesar",
        description: format!("shifts every lowercase letter of `text` {k} places forward in the alphabet, wrapping around from 'z' to 'a', and leaves every other character unchanged"),
        code: format!("def {name}(text):\n    return ''.join(chr((ord(c) - 97 + {k}) % 26 + 97) if 'a' <= c <= 'z' else c for c in text)"),
        name,
        cases,
    })
}

fn recurrence(rng: &mut Rng) -> Task {
    let p = rng.range(1, 3);
    let q = *rng.pick(&[-2i64, -1, 1, 2, 3]);
    let a0 = rng.range(0, 5);
    let a1 = rng.range(1, 7);
    let name = pick_name(rng, &["sequence_term", "nth_term", "recurrence_value"], "");
    let cases = cases(rng, 5, |r| {
        let n = r.range(0, 15);
        let (mut x, mut y) = (a0 as i128, a1 as i128);
        for _ in 0..n {
            (x, y) = (y, i128::from(p) * y + i128::from(q) * x);
        }
        (n.to_string(), x.to_string())
    });
    let qs = if q < 0 { format!("- {} * a(n-2)", -q) } else { format!("+ {q} * a(n-2)") };
    build(rng, Spec {
        template: "coding:recurrence",
        description: format!("returns the n-th term (counting from 0) of the sequence with a(0) = {a0}, a(1) = {a1} and a(n) = {p} * a(n-1) {qs}"),
        code: format!("def {name}(n):\n    a, b = {a0}, {a1}\n    for _ in range(n):\n        a, b = b, {p} * b + ({q}) * a\n    return a"),
        name,
        cases,
    })
}

fn longest_run(rng: &mut Rng) -> Task {
    // (relation in words, Python comparison of the previous element and x, Rust predicate)
    type Pred = fn(i64, i64) -> bool;
    let rels: [(&str, &str, Pred); 4] = [
        ("equal to", "x == {p}[i - 1]", |prev, x| x == prev),
        ("greater than", "x > {p}[i - 1]", |prev, x| x > prev),
        ("less than", "x < {p}[i - 1]", |prev, x| x < prev),
        ("at least", "x >= {p}[i - 1]", |prev, x| x >= prev),
    ];
    let (what, cond, pred) = *rng.pick(&rels);
    let name = pick_name(rng, &["longest_run", "max_streak", "longest_stretch", "best_streak"], "");
    let p = *rng.pick(&["nums", "values", "series", "data"]);
    let (best, cur) = *rng.pick(&[("best", "cur"), ("longest", "current"), ("top", "run")]);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 5, 0, 10);
        let (mut b, mut c) = (0usize, 0usize);
        for i in 0..v.len() {
            c = if i > 0 && pred(v[i - 1], v[i]) { c + 1 } else { 1 };
            b = b.max(c);
        }
        (py_list(&v), b.to_string())
    });
    let cond = cond.replace("{p}", p);
    build(rng, Spec {
        template: "coding:longest_run",
        description: format!("returns the length of the longest stretch of consecutive elements of `{p}` in which each element is {what} the one before it (a single element is a stretch of 1), or 0 for an empty list"),
        code: format!("def {name}({p}):\n    {best} = {cur} = 0\n    for i, x in enumerate({p}):\n        {cur} = {cur} + 1 if i > 0 and {cond} else 1\n        {best} = max({best}, {cur})\n    return {best}"),
        name,
        cases,
    })
}

fn to_base(rng: &mut Rng) -> Task {
    let b = rng.range(2, 9);
    let name = pick_name(rng, &["to_base_", "convert_to_base_", "in_base_"], &b.to_string());
    let cases = cases(rng, 5, |r| {
        let mut n = r.range(0, 5000);
        let shown = n.to_string();
        let mut digits = Vec::new();
        if n == 0 {
            digits.push('0');
        }
        while n > 0 {
            digits.push((b'0' + (n % b) as u8) as char);
            n /= b;
        }
        digits.reverse();
        (shown, py_str(&digits.into_iter().collect::<String>()))
    });
    build(rng, Spec {
        template: "coding:to_base",
        description: format!("converts the non-negative integer `n` to its base-{b} representation, returned as a string of digits ('0' for zero)"),
        code: format!("def {name}(n):\n    if n == 0:\n        return '0'\n    digits = []\n    while n > 0:\n        digits.append(str(n % {b}))\n        n //= {b}\n    return ''.join(reversed(digits))"),
        name,
        cases,
    })
}

fn chunks(rng: &mut Rng) -> Task {
    let k = rng.range(2, 5);
    let name = pick_name(rng, &["chunk_list", "split_into_groups", "batch_items"], "");
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 40, 0, 9);
        let out: Vec<String> = v.chunks(k as usize).map(py_list).collect();
        (py_list(&v), format!("[{}]", out.join(", ")))
    });
    build(rng, Spec {
        template: "coding:chunks",
        description: format!("splits `items` into consecutive chunks of {k} elements, in order, where only the last chunk may be shorter"),
        code: format!("def {name}(items):\n    return [items[i:i + {k}] for i in range(0, len(items), {k})]"),
        name,
        cases,
    })
}

fn top_words(rng: &mut Rng) -> Task {
    let k = rng.range(1, 3);
    let name = pick_name(rng, &["top_words", "most_common_words", "frequent_words"], "");
    let cases = cases(rng, 5, |r| {
        let pool = r.sample(&WORDS[..20], 4);
        let n = 3 + r.below(8);
        let s: Vec<&str> = (0..n).map(|_| *r.pick(&pool)).collect();
        let s = s.join(" ");
        let mut counts: std::collections::BTreeMap<&str, i64> = Default::default();
        for w in s.split_whitespace() {
            *counts.entry(w).or_default() += 1;
        }
        let mut v: Vec<(&str, i64)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let out: Vec<String> = v.iter().take(k as usize).map(|x| x.0.to_owned()).collect();
        (py_str(&s), py_strs(&out))
    });
    build(rng, Spec {
        template: "coding:top_words",
        description: format!("returns the {k} most frequent words of `text` (split on whitespace), most frequent first, breaking ties alphabetically; fewer are returned if there are fewer distinct words"),
        code: format!("def {name}(text):\n    counts = {{}}\n    for w in text.split():\n        counts[w] = counts.get(w, 0) + 1\n    ranked = sorted(counts, key=lambda w: (-counts[w], w))\n    return ranked[:{k}]"),
        name,
        cases,
    })
}

fn second_extreme(rng: &mut Rng) -> Task {
    let largest = rng.chance(0.5);
    let what = if largest { "largest" } else { "smallest" };
    let name = pick_name(rng, &["second_", "runner_up_", "next_"], what);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, -5, 12, 0, 7);
        let mut d: Vec<i64> = v.clone();
        d.sort_unstable();
        d.dedup();
        let want = if d.len() < 2 {
            "None".to_owned()
        } else if largest {
            d[d.len() - 2].to_string()
        } else {
            d[1].to_string()
        };
        (py_list(&v), want)
    });
    let pick = if largest { "d[-2]" } else { "d[1]" };
    build(rng, Spec {
        template: "coding:second_extreme",
        description: format!("returns the second {what} distinct value in `nums`, or None when there are fewer than two distinct values"),
        code: format!("def {name}(nums):\n    d = sorted(set(nums))\n    return {pick} if len(d) >= 2 else None"),
        name,
        cases,
    })
}

fn password(rng: &mut Rng) -> Task {
    let min = rng.range(6, 14);
    let upper = rng.chance(0.5);
    let lower = rng.chance(0.5);
    let symbols = *rng.pick(&["!?#", "@$%", "*&+", "!@#$"]);
    let symbol = rng.chance(0.5);
    let no_space = rng.chance(0.5);
    let name = pick_name(rng, &["is_strong_password", "password_ok", "valid_password", "check_password"], "");
    let p = *rng.pick(&["password", "pw", "candidate", "secret"]);
    let cases = cases(rng, 6, |r| {
        let len = r.range(3, 18) as usize;
        let pool: Vec<char> = format!("abcdefgxyzABCXYZ0123456789 {symbols}").chars().collect();
        let s: String = (0..len).map(|_| *r.pick(&pool)).collect();
        let ok = s.chars().count() as i64 >= min
            && s.chars().any(|c| c.is_ascii_digit())
            && (!upper || s.chars().any(|c| c.is_ascii_uppercase()))
            && (!lower || s.chars().any(|c| c.is_ascii_lowercase()))
            && (!symbol || s.chars().any(|c| symbols.contains(c)))
            && (!no_space || !s.contains(' '));
        (py_str(&s), py_bool(ok).to_owned())
    });
    let mut rules = vec![format!("has at least {min} characters"), "contains a digit".to_owned()];
    let mut checks = vec![format!("len({p}) >= {min}"), format!("any(c.isdigit() for c in {p})")];
    if upper {
        rules.push("contains an uppercase letter".into());
        checks.push(format!("any(c.isupper() for c in {p})"));
    }
    if lower {
        rules.push("contains a lowercase letter".into());
        checks.push(format!("any(c.islower() for c in {p})"));
    }
    if symbol {
        let shown: Vec<String> = symbols.chars().map(String::from).collect();
        rules.push(format!("contains one of the symbols {}", shown.join(" ")));
        checks.push(format!("any(c in {} for c in {p})", py_str(symbols)));
    }
    if no_space {
        rules.push("contains no space".into());
        checks.push(format!("' ' not in {p}"));
    }
    let code = format!("def {name}({p}):\n    return (\n        {}\n    )", checks.join("\n        and "));
    let last = rules.pop().unwrap_or_default();
    build(rng, Spec {
        template: "coding:password",
        description: format!("returns True if `{p}` {} and {last}, and False otherwise", rules.join(", ")),
        code,
        name,
        cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_well_formed() {
        let mut rng = Rng::new(2, "coding-test");
        for i in 0..600 {
            let t = generate(&mut rng, i % 2 == 1);
            let Check::PythonTests { entry_point, tests } = &t.answer else {
                panic!("not python tests");
            };
            assert!(t.output.contains(&format!("def {entry_point}(")), "{}", t.output);
            assert!(t.instruction.contains(&format!("`{entry_point}(")));
            assert!(tests.len() >= 4);
            assert!(tests.iter().all(|s| s.starts_with(&format!("assert {entry_point}("))));
            assert!(t.answer.verify(&t.output));
        }
    }

    #[test]
    fn python_literals() {
        assert_eq!(py_list(&[1, -2]), "[1, -2]");
        assert_eq!(py_str("it's"), "'it\\'s'");
        assert_eq!(py_strs(&["a".into()]), "['a']");
    }
}
