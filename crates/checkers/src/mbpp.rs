//! MBPP (Austin et al. 2021, "Program Synthesis with Large Language Models"): problem records and
//! the check program `completion + "\n" + test_setup_code + "\n" + "\n".join(test_list)`.
//!
//! This follows lm-evaluation-harness `tasks/mbpp` (the reference is `"\n".join(test_list)`)
//! and HF `evaluate` `code_eval` (program = `candidate + "\n" + reference`), which
//! bigcode-evaluation-harness `mbpp.py` also uses. Those two do not run `test_setup_code`; the
//! original google-research MBPP release describes it as code to run before the tests, so it is
//! inserted between the completion and the asserts. It is empty in all but a handful of rows,
//! where the program is then the reference harnesses' plus one blank line.

use std::path::Path;

use serde::Deserialize;

use crate::error::Result;
use crate::sandbox::Limits;

/// One MBPP problem, as stored in the `google-research-datasets/mbpp` JSON lines.
#[derive(Clone, Debug, Deserialize)]
pub struct Problem {
    /// The problem number (1-974).
    pub task_id: u32,
    /// The natural-language task.
    pub text: String,
    /// The reference solution.
    pub code: String,
    /// Three `assert` lines.
    pub test_list: Vec<String>,
    /// Code to run before the tests (usually empty).
    #[serde(default)]
    pub test_setup_code: String,
    /// Extra, harder asserts (not used by the references' pass@k).
    #[serde(default)]
    pub challenge_test_list: Vec<String>,
}

impl Problem {
    /// The program that checks `completion` for this problem; see [`program`].
    pub fn program(&self, completion: &str) -> String {
        program(completion, &self.test_setup_code, &self.test_list)
    }
}

/// `completion + "\n" + test_setup_code + "\n" + "\n".join(test_list)`.
pub fn program(completion: &str, test_setup_code: &str, test_list: &[String]) -> String {
    format!("{completion}\n{test_setup_code}\n{}", test_list.join("\n"))
}

/// Sandbox limits matching HF `code_eval` (an `exec` into an empty dict, so `__name__` is
/// `"builtins"`); everything else is [`Limits::default`].
pub fn limits() -> Limits {
    Limits {
        run_name: "builtins".to_owned(),
        ..Limits::default()
    }
}

/// Reads MBPP JSON lines (`mbpp.jsonl`, optionally gzip-compressed).
pub fn read_problems(path: &Path) -> Result<Vec<Problem>> {
    crate::humaneval::read_jsonl(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_joins_setup_and_tests() {
        let p = Problem {
            task_id: 2,
            text: "Write a function to find the similar elements from the given two tuple lists."
                .into(),
            code: String::new(),
            test_list: vec![
                "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)".into(),
                "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)".into(),
            ],
            test_setup_code: String::new(),
            challenge_test_list: vec![],
        };
        let completion = "def similar_elements(a, b):\n  return tuple(sorted(set(a) & set(b)))";
        assert_eq!(
            p.program(completion),
            format!("{completion}\n\n{}\n{}", p.test_list[0], p.test_list[1])
        );
        assert_eq!(
            program("x = 1", "import math", &["assert x == 1".into()]),
            "x = 1\nimport math\nassert x == 1"
        );
    }
}
