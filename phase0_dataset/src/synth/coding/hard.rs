//! Hard coding specs: loops with state (run-length encoding, bracket matching, interval
//! merging, rotations, ciphers, recurrences, base conversion, ranking), each with several
//! parameters, identifier choices and, for some, two reference implementations.

use super::{
    Spec, WORDS, build, cases, pick_name, py_bool, py_list, py_str, py_strs, rand_list, sentence,
};
use crate::synth::Task;
use crate::synth::rng::Rng;

pub(super) fn rle(rng: &mut Rng) -> Task {
    let sep = *rng.pick(&["", ":", "-", "x"]);
    let join = *rng.pick(&["", ",", " ", ";"]);
    let count_first = rng.chance(0.5);
    let name = pick_name(
        rng,
        &["run_length_encode", "rle", "compress_runs", "encode_runs"],
        "",
    );
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
    let shown_join = if join.is_empty() {
        "nothing".to_owned()
    } else {
        format!("'{join}'")
    };
    let shown_sep = if sep.is_empty() {
        "directly".to_owned()
    } else {
        format!("with '{sep}' in between")
    };
    let order = if count_first {
        "the run length followed by the character"
    } else {
        "the character followed by the run length"
    };
    let piece = if count_first {
        format!("str({j} - {i}) + '{sep}' + {p}[{i}]")
    } else {
        format!("{p}[{i}] + '{sep}' + str({j} - {i})")
    };
    build(
        rng,
        Spec {
            template: "coding:rle",
            description: format!(
                "run-length encodes the string `{p}`: each maximal run of one repeated character becomes {order} ({shown_sep}), and the encoded runs are joined with {shown_join}"
            ),
            code: format!(
                "def {name}({p}):\n    parts = []\n    {i} = 0\n    while {i} < len({p}):\n        {j} = {i}\n        while {j} < len({p}) and {p}[{j}] == {p}[{i}]:\n            {j} += 1\n        parts.append({piece})\n        {i} = {j}\n    return '{join}'.join(parts)"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn balanced(rng: &mut Rng) -> Task {
    let all = [('(', ')'), ('[', ']'), ('{', '}'), ('<', '>')];
    let k = 2 + rng.below(3);
    let pairs = rng.sample(&all, k);
    let name = pick_name(
        rng,
        &["is_balanced", "brackets_ok", "check_nesting", "well_nested"],
        "",
    );
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
                    let w: &&str = r.pick(WORDS);
                    s.push_str(w);
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
            pairs
                .iter()
                .map(|p| format!("{}: {}", py_str(&p.0.to_string()), py_str(&p.1.to_string())))
                .collect::<Vec<_>>()
                .join(", "),
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
        0 => format!(
            "returns True if the brackets in `{p}` are balanced and properly nested, using only the bracket pairs {}; all other characters are ignored",
            shown.join(" ")
        ),
        _ => format!(
            "checks whether every opening bracket in `{p}` is closed by the matching bracket in the right order (pairs: {}), ignoring any other character, and returns a bool",
            shown.join(", ")
        ),
    };
    build(
        rng,
        Spec {
            template: "coding:balanced",
            description,
            code,
            name,
            cases,
        },
    )
}

pub(super) fn merge_intervals(rng: &mut Rng) -> Task {
    let touching = rng.chance(0.5);
    let name = pick_name(
        rng,
        &[
            "merge_intervals",
            "combine_ranges",
            "union_of_intervals",
            "merge_spans",
        ],
        "",
    );
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
        let shown = format!(
            "[{}]",
            v.iter()
                .map(|(a, b)| format!("[{a}, {b}]"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        v.sort();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (a, b) in v {
            match merged.last_mut() {
                Some(last) if a < last.1 || (touching && a == last.1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let want = format!(
            "[{}]",
            merged
                .iter()
                .map(|(a, b)| format!("[{a}, {b}]"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        (shown, want)
    });
    let rule = if touching {
        "intervals that overlap or touch (one ends where the next starts) are merged"
    } else {
        "intervals that merely touch (one ends exactly where the next starts) are kept separate"
    };
    let cmp = if touching { "<=" } else { "<" };
    build(
        rng,
        Spec {
            template: "coding:merge_intervals",
            description: format!(
                "takes a list `{p}` of [start, end] pairs and returns the merged intervals sorted by start; {rule}"
            ),
            code: format!(
                "def {name}({p}):\n    {out} = []\n    for {a}, {b} in sorted({p}):\n        if {out} and {a} {cmp} {out}[-1][1]:\n            {out}[-1][1] = max({out}[-1][1], {b})\n        else:\n            {out}.append([{a}, {b}])\n    return {out}"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn rotate(rng: &mut Rng) -> Task {
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
            if left {
                o.rotate_left(s)
            } else {
                o.rotate_right(s)
            }
            o
        };
        (py_list(&v), py_list(&out))
    });
    let body = if left {
        "items[k:] + items[:k]"
    } else {
        "items[len(items) - k:] + items[:len(items) - k]"
    };
    build(
        rng,
        Spec {
            template: "coding:rotate",
            description: format!(
                "returns `items` rotated {k} positions to the {dir} (the rotation wraps around, and an empty list stays empty)"
            ),
            code: format!(
                "def {name}(items):\n    if not items:\n        return []\n    k = {k} % len(items)\n    return {body}"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn caesar(rng: &mut Rng) -> Task {
    let k = rng.range(1, 25);
    let name = pick_name(rng, &["caesar_shift", "encode_shift", "rotate_letters"], "");
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 4);
        let out: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() {
                    (b'a' + ((c as u8 - b'a' + k as u8) % 26)) as char
                } else {
                    c
                }
            })
            .collect();
        (py_str(&s), py_str(&out))
    });
    build(
        rng,
        Spec {
            template: "coding:caesar",
            description: format!(
                "shifts every lowercase letter of `text` {k} places forward in the alphabet, wrapping around from 'z' to 'a', and leaves every other character unchanged"
            ),
            code: format!(
                "def {name}(text):\n    return ''.join(chr((ord(c) - 97 + {k}) % 26 + 97) if 'a' <= c <= 'z' else c for c in text)"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn recurrence(rng: &mut Rng) -> Task {
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
    let qs = if q < 0 {
        format!("- {} * a(n-2)", -q)
    } else {
        format!("+ {q} * a(n-2)")
    };
    build(
        rng,
        Spec {
            template: "coding:recurrence",
            description: format!(
                "returns the n-th term (counting from 0) of the sequence with a(0) = {a0}, a(1) = {a1} and a(n) = {p} * a(n-1) {qs}"
            ),
            code: format!(
                "def {name}(n):\n    a, b = {a0}, {a1}\n    for _ in range(n):\n        a, b = b, {p} * b + ({q}) * a\n    return a"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn longest_run(rng: &mut Rng) -> Task {
    // (relation in words, Python comparison of the previous element and x, Rust predicate)
    type Pred = fn(i64, i64) -> bool;
    let rels: [(&str, &str, Pred); 4] = [
        ("equal to", "x == {p}[i - 1]", |prev, x| x == prev),
        ("greater than", "x > {p}[i - 1]", |prev, x| x > prev),
        ("less than", "x < {p}[i - 1]", |prev, x| x < prev),
        ("at least", "x >= {p}[i - 1]", |prev, x| x >= prev),
    ];
    let (what, cond, pred) = *rng.pick(&rels);
    let name = pick_name(
        rng,
        &[
            "longest_run",
            "max_streak",
            "longest_stretch",
            "best_streak",
        ],
        "",
    );
    let p = *rng.pick(&["nums", "values", "series", "data"]);
    let (best, cur) = *rng.pick(&[("best", "cur"), ("longest", "current"), ("top", "run")]);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 5, 0, 10);
        let (mut b, mut c) = (0usize, 0usize);
        for i in 0..v.len() {
            c = if i > 0 && pred(v[i - 1], v[i]) {
                c + 1
            } else {
                1
            };
            b = b.max(c);
        }
        (py_list(&v), b.to_string())
    });
    let cond = cond.replace("{p}", p);
    build(
        rng,
        Spec {
            template: "coding:longest_run",
            description: format!(
                "returns the length of the longest stretch of consecutive elements of `{p}` in which each element is {what} the one before it (a single element is a stretch of 1), or 0 for an empty list"
            ),
            code: format!(
                "def {name}({p}):\n    {best} = {cur} = 0\n    for i, x in enumerate({p}):\n        {cur} = {cur} + 1 if i > 0 and {cond} else 1\n        {best} = max({best}, {cur})\n    return {best}"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn to_base(rng: &mut Rng) -> Task {
    let b = rng.range(2, 9);
    let name = pick_name(
        rng,
        &["to_base_", "convert_to_base_", "in_base_"],
        &b.to_string(),
    );
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
    build(
        rng,
        Spec {
            template: "coding:to_base",
            description: format!(
                "converts the non-negative integer `n` to its base-{b} representation, returned as a string of digits ('0' for zero)"
            ),
            code: format!(
                "def {name}(n):\n    if n == 0:\n        return '0'\n    digits = []\n    while n > 0:\n        digits.append(str(n % {b}))\n        n //= {b}\n    return ''.join(reversed(digits))"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn chunks(rng: &mut Rng) -> Task {
    let k = rng.range(2, 5);
    let name = pick_name(rng, &["chunk_list", "split_into_groups", "batch_items"], "");
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 40, 0, 9);
        let out: Vec<String> = v.chunks(k as usize).map(py_list).collect();
        (py_list(&v), format!("[{}]", out.join(", ")))
    });
    build(
        rng,
        Spec {
            template: "coding:chunks",
            description: format!(
                "splits `items` into consecutive chunks of {k} elements, in order, where only the last chunk may be shorter"
            ),
            code: format!(
                "def {name}(items):\n    return [items[i:i + {k}] for i in range(0, len(items), {k})]"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn top_words(rng: &mut Rng) -> Task {
    let k = rng.range(1, 3);
    let name = pick_name(
        rng,
        &["top_words", "most_common_words", "frequent_words"],
        "",
    );
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
    build(
        rng,
        Spec {
            template: "coding:top_words",
            description: format!(
                "returns the {k} most frequent words of `text` (split on whitespace), most frequent first, breaking ties alphabetically; fewer are returned if there are fewer distinct words"
            ),
            code: format!(
                "def {name}(text):\n    counts = {{}}\n    for w in text.split():\n        counts[w] = counts.get(w, 0) + 1\n    ranked = sorted(counts, key=lambda w: (-counts[w], w))\n    return ranked[:{k}]"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn second_extreme(rng: &mut Rng) -> Task {
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
    build(
        rng,
        Spec {
            template: "coding:second_extreme",
            description: format!(
                "returns the second {what} distinct value in `nums`, or None when there are fewer than two distinct values"
            ),
            code: format!(
                "def {name}(nums):\n    d = sorted(set(nums))\n    return {pick} if len(d) >= 2 else None"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn password(rng: &mut Rng) -> Task {
    let min = rng.range(6, 14);
    let upper = rng.chance(0.5);
    let lower = rng.chance(0.5);
    let symbols = *rng.pick(&["!?#", "@$%", "*&+", "!@#$"]);
    let symbol = rng.chance(0.5);
    let no_space = rng.chance(0.5);
    let name = pick_name(
        rng,
        &[
            "is_strong_password",
            "password_ok",
            "valid_password",
            "check_password",
        ],
        "",
    );
    let p = *rng.pick(&["password", "pw", "candidate", "secret"]);
    let cases = cases(rng, 6, |r| {
        let len = r.range(3, 18) as usize;
        let pool: Vec<char> = format!("abcdefgxyzABCXYZ0123456789 {symbols}")
            .chars()
            .collect();
        let s: String = (0..len).map(|_| *r.pick(&pool)).collect();
        let ok = s.chars().count() as i64 >= min
            && s.chars().any(|c| c.is_ascii_digit())
            && (!upper || s.chars().any(|c| c.is_ascii_uppercase()))
            && (!lower || s.chars().any(|c| c.is_ascii_lowercase()))
            && (!symbol || s.chars().any(|c| symbols.contains(c)))
            && (!no_space || !s.contains(' '));
        (py_str(&s), py_bool(ok).to_owned())
    });
    let mut rules = vec![
        format!("has at least {min} characters"),
        "contains a digit".to_owned(),
    ];
    let mut checks = vec![
        format!("len({p}) >= {min}"),
        format!("any(c.isdigit() for c in {p})"),
    ];
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
    let code = format!(
        "def {name}({p}):\n    return (\n        {}\n    )",
        checks.join("\n        and ")
    );
    let last = rules.pop().unwrap_or_default();
    build(
        rng,
        Spec {
            template: "coding:password",
            description: format!(
                "returns True if `{p}` {} and {last}, and False otherwise",
                rules.join(", ")
            ),
            code,
            name,
            cases,
        },
    )
}
