//! Easy coding specs: one-line list and string functions with one constant each (divisor,
//! threshold, character, factor), MBPP-sized.

use super::{Spec, build, cases, pick_name, py_list, py_str, py_strs, rand_list, sentence, word};
use crate::synth::Task;
use crate::synth::rng::Rng;

pub(super) fn sum_multiples(rng: &mut Rng) -> Task {
    let k = rng.range(2, 13);
    let name = pick_name(
        rng,
        &[
            "sum_multiples_of_",
            "add_multiples_of_",
            "total_divisible_by_",
        ],
        &k.to_string(),
    );
    let var = *rng.pick(&["nums", "values", "numbers"]);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 120, 1, 8);
        let s: i64 = v.iter().filter(|x| *x % k == 0).sum();
        (py_list(&v), s.to_string())
    });
    build(
        rng,
        Spec {
            template: "coding:sum_multiples",
            description: format!(
                "returns the sum of the elements of `{var}` that are divisible by {k} (0 if there are none)"
            ),
            code: format!("def {name}({var}):\n    return sum(x for x in {var} if x % {k} == 0)"),
            name,
            cases,
        },
    )
}

pub(super) fn count_above(rng: &mut Rng) -> Task {
    let t = rng.range(-20, 80);
    let name = pick_name(rng, &["count_above", "how_many_over", "count_greater"], "");
    let var = *rng.pick(&["values", "readings", "scores"]);
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, -30, 120, 0, 8);
        let c = v.iter().filter(|x| **x > t).count();
        (py_list(&v), c.to_string())
    });
    build(
        rng,
        Spec {
            template: "coding:count_above",
            description: format!(
                "counts how many numbers in `{var}` are strictly greater than {t}"
            ),
            code: format!("def {name}({var}):\n    return sum(1 for x in {var} if x > {t})"),
            name,
            cases,
        },
    )
}

pub(super) fn scale_shift(rng: &mut Rng) -> Task {
    let a = rng.range(2, 9);
    let b = rng.range(-15, 15);
    let name = pick_name(rng, &["scale_and_shift", "linear_map", "transform_all"], "");
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, -20, 50, 0, 7);
        let out: Vec<i64> = v.iter().map(|x| a * x + b).collect();
        (py_list(&v), py_list(&out))
    });
    let expr = if b >= 0 {
        format!("{a} * x + {b}")
    } else {
        format!("{a} * x - {}", -b)
    };
    build(
        rng,
        Spec {
            template: "coding:scale_shift",
            description: format!(
                "returns a new list in which every element x of `nums` becomes {expr}"
            ),
            code: format!("def {name}(nums):\n    return [{expr} for x in nums]"),
            name,
            cases,
        },
    )
}

pub(super) fn count_char(rng: &mut Rng) -> Task {
    let c = *rng.pick(&['a', 'e', 'i', 'o', 'r', 's', 't', 'n', 'l', ' ']);
    let shown = if c == ' ' {
        "space".to_owned()
    } else {
        format!("'{c}'")
    };
    let name = pick_name(
        rng,
        &["count_", "occurrences_of_", "tally_"],
        if c == ' ' { "spaces" } else { "letter" },
    );
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 6);
        let n = s.chars().filter(|x| *x == c).count();
        (py_str(&s), n.to_string())
    });
    build(
        rng,
        Spec {
            template: "coding:count_char",
            description: format!(
                "returns how many times the character {shown} occurs in the string `text`"
            ),
            code: format!(
                "def {name}(text):\n    return text.count({})",
                py_str(&c.to_string())
            ),
            name,
            cases,
        },
    )
}

pub(super) fn long_words(rng: &mut Rng) -> Task {
    let n = rng.range(2, 6);
    let suffix = if rng.chance(0.5) { "" } else { "_n" };
    let name = pick_name(
        rng,
        &["long_words", "words_longer_than", "filter_long_words"],
        suffix,
    );
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 7);
        let out: Vec<String> = s
            .split_whitespace()
            .filter(|w| w.len() as i64 > n)
            .map(str::to_owned)
            .collect();
        (py_str(&s), py_strs(&out))
    });
    build(
        rng,
        Spec {
            template: "coding:long_words",
            description: format!(
                "returns, in their original order, the words of `sentence` (split on whitespace) that have more than {n} characters"
            ),
            code: format!(
                "def {name}(sentence):\n    return [w for w in sentence.split() if len(w) > {n}]"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn clamp(rng: &mut Rng) -> Task {
    let lo = rng.range(-10, 20);
    let hi = lo + rng.range(5, 60);
    let name = pick_name(rng, &["clamp_all", "limit_values", "clip_list"], "");
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, lo - 30, hi + 30, 0, 7);
        let out: Vec<i64> = v.iter().map(|x| (*x).clamp(lo, hi)).collect();
        (py_list(&v), py_list(&out))
    });
    build(
        rng,
        Spec {
            template: "coding:clamp",
            description: format!(
                "returns a new list where each value of `nums` is limited to the closed range [{lo}, {hi}]"
            ),
            code: format!("def {name}(nums):\n    return [min(max(x, {lo}), {hi}) for x in nums]"),
            name,
            cases,
        },
    )
}

pub(super) fn digit_sum(rng: &mut Rng) -> Task {
    let k = rng.range(1, 9);
    let name = pick_name(
        rng,
        &["weighted_digit_sum", "digit_total", "sum_digits_times"],
        "",
    );
    let cases = cases(rng, 5, |r| {
        let n = r.range(0, 999_999);
        let s: i64 = n.to_string().bytes().map(|b| i64::from(b - b'0')).sum();
        (n.to_string(), (k * s).to_string())
    });
    build(
        rng,
        Spec {
            template: "coding:digit_sum",
            description: format!(
                "returns {k} times the sum of the decimal digits of the non-negative integer `n`"
            ),
            code: format!("def {name}(n):\n    return {k} * sum(int(d) for d in str(n))"),
            name,
            cases,
        },
    )
}

pub(super) fn replace_char(rng: &mut Rng) -> Task {
    let pair = rng.sample(&['a', 'e', 'o', 'r', 't', 's', 'l', 'n', '_', '*', '#'], 2);
    let (a, b) = (pair[0], pair[1]);
    let name = pick_name(rng, &["swap_", "replace_", "substitute_"], "char");
    let cases = cases(rng, 5, |r| {
        let s = sentence(r, 1, 5);
        (py_str(&s), py_str(&s.replace(a, &b.to_string())))
    });
    build(
        rng,
        Spec {
            template: "coding:replace_char",
            description: format!("returns `text` with every '{a}' replaced by '{b}'"),
            code: format!(
                "def {name}(text):\n    return text.replace({}, {})",
                py_str(&a.to_string()),
                py_str(&b.to_string())
            ),
            name,
            cases,
        },
    )
}

pub(super) fn repeat_chars(rng: &mut Rng) -> Task {
    let k = rng.range(2, 5);
    let name = pick_name(
        rng,
        &["stretch_word", "repeat_each_char", "echo_letters"],
        "",
    );
    let cases = cases(rng, 5, |r| {
        let w = word(r);
        let out: String = w
            .chars()
            .flat_map(|c| std::iter::repeat_n(c, k as usize))
            .collect();
        (py_str(&w), py_str(&out))
    });
    build(
        rng,
        Spec {
            template: "coding:repeat_chars",
            description: format!(
                "returns a string in which each character of `word` is repeated {k} times in place"
            ),
            code: format!("def {name}(word):\n    return ''.join(c * {k} for c in word)"),
            name,
            cases,
        },
    )
}

pub(super) fn fizz(rng: &mut Rng) -> Task {
    let pair = rng.sample(&[2i64, 3, 4, 5, 6, 7], 2);
    let (a, b) = (pair[0], pair[1]);
    let w = rng.sample(
        &["Fizz", "Buzz", "Ping", "Pong", "Zip", "Zap", "Tick", "Tock"],
        2,
    );
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
    build(
        rng,
        Spec {
            template: "coding:fizz",
            description: format!(
                "returns a list of strings for the numbers 1 to `n`: '{w1}{w2}' for multiples of both {a} and {b}, '{w1}' for other multiples of {a}, '{w2}' for other multiples of {b}, and the number itself otherwise"
            ),
            code: format!(
                "def {name}(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % {a} == 0 and i % {b} == 0:\n            out.append('{w1}{w2}')\n        elif i % {a} == 0:\n            out.append('{w1}')\n        elif i % {b} == 0:\n            out.append('{w2}')\n        else:\n            out.append(str(i))\n    return out"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn first_over(rng: &mut Rng) -> Task {
    let t = rng.range(0, 90);
    let name = pick_name(
        rng,
        &[
            "first_index_above",
            "find_first_over",
            "index_of_first_greater",
        ],
        "",
    );
    let cases = cases(rng, 5, |r| {
        let v = rand_list(r, 0, 120, 0, 8);
        let i = v.iter().position(|x| *x > t).map_or(-1, |i| i as i64);
        (py_list(&v), i.to_string())
    });
    build(
        rng,
        Spec {
            template: "coding:first_over",
            description: format!(
                "returns the index of the first element of `nums` that is greater than {t}, or -1 if there is none"
            ),
            code: format!(
                "def {name}(nums):\n    for i, x in enumerate(nums):\n        if x > {t}:\n            return i\n    return -1"
            ),
            name,
            cases,
        },
    )
}

pub(super) fn words_starting(rng: &mut Rng) -> Task {
    let l = *rng.pick(&['a', 'b', 'c', 'm', 'o', 'r', 's', 't', 'w']);
    let name = pick_name(
        rng,
        &[
            "count_words_starting_with_",
            "initial_count_",
            "words_beginning_",
        ],
        &l.to_string(),
    );
    let cases = cases(rng, 5, |r| {
        let s: String = sentence(r, 1, 7)
            .split(' ')
            .map(|w| {
                if r.chance(0.3) {
                    crate::synth::words::capitalise(w)
                } else {
                    w.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let n = s
            .split_whitespace()
            .filter(|w| w.to_lowercase().starts_with(l))
            .count();
        (py_str(&s), n.to_string())
    });
    build(
        rng,
        Spec {
            template: "coding:words_starting",
            description: format!(
                "counts the words of `sentence` that start with the letter '{l}', ignoring case"
            ),
            code: format!(
                "def {name}(sentence):\n    return sum(1 for w in sentence.split() if w.lower().startswith('{l}'))"
            ),
            name,
            cases,
        },
    )
}
