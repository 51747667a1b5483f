//! Coding tasks: write one Python function, checked by `assert` unit tests in the style of
//! MBPP / HumanEval (Austin et al., 2021; Chen et al., 2021). Each spec carries its constants
//! (divisors, thresholds, shifts, bases) in the task text, a reference implementation, and a
//! Rust re-implementation with Python semantics that computes the expected test values.

mod easy;
mod hard;

use super::Task;
use super::rng::Rng;
use crate::check::Check;

/// Generates one coding task.
pub fn generate(rng: &mut Rng, hard: bool) -> Task {
    if hard {
        match rng.below(12) {
            0 => hard::rle(rng),
            1 => hard::balanced(rng),
            2 => hard::merge_intervals(rng),
            3 => hard::rotate(rng),
            4 => hard::caesar(rng),
            5 => hard::recurrence(rng),
            6 => hard::longest_run(rng),
            7 => hard::to_base(rng),
            8 => hard::chunks(rng),
            9 => hard::top_words(rng),
            10 => hard::second_extreme(rng),
            _ => hard::password(rng),
        }
    } else {
        match rng.below(12) {
            0 => easy::sum_multiples(rng),
            1 => easy::count_above(rng),
            2 => easy::scale_shift(rng),
            3 => easy::count_char(rng),
            4 => easy::long_words(rng),
            5 => easy::clamp(rng),
            6 => easy::digit_sum(rng),
            7 => easy::replace_char(rng),
            8 => easy::repeat_chars(rng),
            9 => easy::fizz(rng),
            10 => easy::first_over(rng),
            _ => easy::words_starting(rng),
        }
    }
}

// ---- Python literal helpers -------------------------------------------------------------

pub(super) fn py_list(v: &[i64]) -> String {
    format!(
        "[{}]",
        v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    )
}

pub(super) fn py_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(super) fn py_strs(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| py_str(s)).collect::<Vec<_>>().join(", ")
    )
}

pub(super) fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

pub(super) fn rand_list(
    rng: &mut Rng,
    lo: i64,
    hi: i64,
    min_len: usize,
    max_len: usize,
) -> Vec<i64> {
    let n = min_len + rng.below(max_len - min_len + 1);
    (0..n).map(|_| rng.range(lo, hi)).collect()
}

pub(super) const WORDS: &[&str] = &[
    "river", "stone", "apple", "cloud", "lantern", "maple", "orbit", "pepper", "quartz", "raven",
    "saddle", "tiger", "umbrella", "violet", "walnut", "yonder", "zebra", "amber", "breeze",
    "candle", "dune", "ember", "fjord", "glade", "harbor", "island", "jungle", "kettle", "lemon",
    "meadow", "nectar", "oak", "pebble", "quill", "reef", "spruce", "thistle", "valley", "willow",
    "a", "an", "to", "of", "sun", "map", "ink", "owl",
];

pub(super) fn sentence(rng: &mut Rng, min: usize, max: usize) -> String {
    let n = min + rng.below(max - min + 1);
    (0..n)
        .map(|_| *rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn word(rng: &mut Rng) -> String {
    (*rng.pick(WORDS)).to_owned()
}

/// Assembles a task: instruction with one worked example, reference code, assert tests.
pub(super) struct Spec {
    pub(super) template: &'static str,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) code: String,
    /// (call arguments, expected value) as Python source.
    pub(super) cases: Vec<(String, String)>,
}

pub(super) fn build(rng: &mut Rng, spec: Spec) -> Task {
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

pub(super) fn pick_name(rng: &mut Rng, stems: &[&str], suffix: &str) -> String {
    format!("{}{suffix}", rng.pick(stems))
}

pub(super) fn cases<F: FnMut(&mut Rng) -> (String, String)>(
    rng: &mut Rng,
    n: usize,
    mut f: F,
) -> Vec<(String, String)> {
    (0..n).map(|_| f(rng)).collect()
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
            assert!(
                t.output.contains(&format!("def {entry_point}(")),
                "{}",
                t.output
            );
            assert!(t.instruction.contains(&format!("`{entry_point}(")));
            assert!(tests.len() >= 4);
            assert!(
                tests
                    .iter()
                    .all(|s| s.starts_with(&format!("assert {entry_point}(")))
            );
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
