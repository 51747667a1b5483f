//! Reading normalised rows back from a JSONL file (a dataset artifact's `data.jsonl`, or a split
//! artifact's `train.jsonl` / `validation.jsonl` / `test.jsonl` as phase 0's `split` writes them).
//! A malformed line is quarantined — returned with its file, 1-based line number and the parse
//! error — never dropped silently and never fatal, the way phase 0's ingest keeps `rejected.jsonl`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::Example;

/// A line that is not a valid [`Example`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// The parse error (serde's message with its column, or the UTF-8 error).
    pub error: String,
    /// The line as read (invalid UTF-8 replaced by U+FFFD), without its line ending.
    pub raw: String,
}

/// Reads every row of a JSONL file. Blank lines are skipped (they are not rows); every other
/// line either parses as an [`Example`] or comes back as [`Quarantined`]. Only I/O failures are
/// errors.
pub fn read_jsonl(path: impl AsRef<Path>) -> Result<(Vec<Example>, Vec<Quarantined>)> {
    let path = path.as_ref();
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut rows = Vec::new();
    let mut quarantined = Vec::new();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        line += 1;
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let parsed = match std::str::from_utf8(bytes) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => serde_json::from_str::<Example>(text).map_err(|e| e.to_string()),
            Err(e) => Err(format!("invalid UTF-8: {e}")),
        };
        match parsed {
            Ok(ex) => rows.push(ex),
            Err(error) => quarantined.push(Quarantined {
                path: path.to_path_buf(),
                line,
                error,
                raw: String::from_utf8_lossy(bytes).into_owned(),
            }),
        }
    }
    if !quarantined.is_empty() {
        tracing::warn!(
            path = %path.display(),
            rows = rows.len(),
            quarantined = quarantined.len(),
            first_line = quarantined[0].line,
            "malformed rows quarantined"
        );
    }
    Ok((rows, quarantined))
}

/// All the text of a row, for decontamination: every message (system turns included) or
/// `instruction`, `input` and `output`, non-empty parts joined by newlines. A row carrying both
/// forms contributes both.
pub fn example_text(ex: &Example) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if let Some(turns) = &ex.messages {
        parts.extend(turns.iter().map(|t| t.content.as_str()));
    }
    parts.extend([
        ex.instruction.as_str(),
        ex.input.as_str(),
        ex.output.as_str(),
    ]);
    parts.retain(|p| !p.is_empty());
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Message, Role};

    #[test]
    fn malformed_lines_are_quarantined_with_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.jsonl");
        let mut data = Vec::new();
        data.extend_from_slice(
            b"{\"id\":\"a\",\"source\":\"s\",\"instruction\":\"i\",\"output\":\"o\"}\n",
        );
        data.extend_from_slice(b"\n");
        data.extend_from_slice(b"{\"id\":\"b\",\"source\":\"s\",\"instruction\":\n");
        data.extend_from_slice(b"{\"source\":\"s\"}\r\n");
        data.extend_from_slice(b"{\"id\":\"c\",\"source\":\"\xff\"}\n");
        data.extend_from_slice(b"  \r\n");
        data.extend_from_slice(b"{\"id\":\"d\",\"source\":\"s\",\"domain\":\"math\"}");
        std::fs::write(&path, data).unwrap();
        let (rows, bad) = read_jsonl(&path).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "d"]
        );
        assert_eq!(bad.iter().map(|q| q.line).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(bad.iter().all(|q| q.path == path));
        assert!(
            bad[0].error.contains("EOF while parsing"),
            "{}",
            bad[0].error
        );
        assert!(
            bad[1].error.contains("missing field `id`"),
            "{}",
            bad[1].error
        );
        assert_eq!(bad[1].raw, "{\"source\":\"s\"}");
        assert!(
            bad[2].error.starts_with("invalid UTF-8"),
            "{}",
            bad[2].error
        );
        assert!(bad[2].raw.contains('\u{fffd}'));
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let err = read_jsonl("/nonexistent/x.jsonl").unwrap_err();
        assert!(matches!(&err, Error::Io { path, .. } if path.ends_with("x.jsonl")));
        assert_eq!(err.to_string(), "reading /nonexistent/x.jsonl");
    }

    #[test]
    fn example_text_covers_every_field() {
        let chat = Example {
            messages: Some(vec![
                Message::new(Role::System, "sys"),
                Message::new(Role::User, "u"),
                Message::new(Role::Assistant, "a"),
            ]),
            ..Default::default()
        };
        assert_eq!(example_text(&chat), "sys\nu\na");
        let single = Example {
            instruction: "i".into(),
            output: "o".into(),
            ..Default::default()
        };
        assert_eq!(example_text(&single), "i\no");
    }
}
