//! Per-sample records (`samples/<task>.jsonl`): the prompt's hash, every request's answer, the
//! output and the per-sample metrics, so a run can be audited, resumed, and re-scored without
//! the model — lm-eval's `--log_samples`, one JSON object per document.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What one document produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleRecord {
    /// Position of the document in its split (after `process_docs`, before `--limit`).
    pub doc_index: usize,
    /// The source's own id (`id`, `task_id`, …) when it has one.
    pub doc_id: Option<String>,
    /// sha256 of the exact prompt text (context, or the rendered chat turns).
    pub prompt_sha256: String,
    /// The target: the gold choice index or the reference answer.
    pub target: String,
    /// Per-choice log-likelihoods (multiple choice) or the document's (rolling).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logprobs: Vec<f64>,
    /// Per-choice `is_greedy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub is_greedy: Vec<bool>,
    /// Generated text (`generate_until`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Every sample when a task draws several per document (`output` is the first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    /// Extracted answers by filter name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extracted: BTreeMap<String, String>,
    /// Why a judged sample failed (test error, AST mismatch…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per-sample metric values (`acc`, `exact_match,flexible-extract`, `passed`, `ll`, …).
    pub metrics: BTreeMap<String, f64>,
}

/// Hex sha256 of a prompt.
pub fn prompt_hash(prompt: &str) -> String {
    hex::encode(Sha256::digest(prompt.as_bytes()))
}

/// The source id of a document, from the usual id fields.
pub fn doc_id(doc: &serde_json::Value) -> Option<String> {
    ["id", "task_id", "ind", "question_id"]
        .iter()
        .find_map(|k| {
            doc.get(*k).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
}

/// Reads a records file written by an interrupted run; a torn last line (the process died
/// mid-write) is dropped, any other malformed line is an error naming file and line.
pub fn read_records(path: &Path) -> Result<Vec<SampleRecord>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<SampleRecord>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(Error::Parse {
                    path: format!("{}:{}", path.display(), i + 1).into(),
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Appends records to a JSONL file, flushing each line.
#[derive(Debug)]
pub struct RecordWriter {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl RecordWriter {
    /// Opens `path` for appending (creating it), after truncating a torn last line.
    pub fn append(path: &Path, keep: &[SampleRecord]) -> Result<Self> {
        let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        for r in keep {
            let line = serde_json::to_string(r).expect("records serialise");
            writeln!(file, "{line}").map_err(|e| Error::io(path, e))?;
        }
        Ok(RecordWriter {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Writes one record.
    pub fn write(&mut self, r: &SampleRecord) -> Result<()> {
        let line = serde_json::to_string(r).expect("records serialise");
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> SampleRecord {
        SampleRecord {
            doc_index: i,
            doc_id: Some(format!("d{i}")),
            prompt_sha256: prompt_hash("p"),
            target: "0".into(),
            logprobs: vec![-1.0, -2.0],
            is_greedy: vec![true, false],
            output: None,
            outputs: Vec::new(),
            extracted: BTreeMap::new(),
            detail: None,
            metrics: BTreeMap::from([("acc".to_string(), 1.0)]),
        }
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut w = RecordWriter::append(&path, &[]).unwrap();
        w.write(&rec(0)).unwrap();
        w.write(&rec(1)).unwrap();
        drop(w);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"doc_index\": 2, \"doc_");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read_records(&path).unwrap(), vec![rec(0), rec(1)]);
        std::fs::write(&path, text.replace("{\"doc_index\":1", "{oops")).unwrap();
        let e = read_records(&path).unwrap_err().to_string();
        assert!(e.contains("s.jsonl:2"), "{e}");
    }
}
