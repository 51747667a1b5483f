//! Documents: reading a split of an imported benchmark (`<data>/<dataset>/<split>.jsonl`, one
//! raw source row per line) and the named preprocessors lm-evaluation-harness applies in Python
//! (`hellaswag`: lm-eval `tasks/hellaswag/utils.py`, `process_docs` + `preprocess`).

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Names accepted in a task's `process_docs`.
pub const PREPROCESSORS: &[&str] = &["hellaswag"];

/// Reads `<data>/<dataset>/<split>.jsonl`; a malformed line is an error naming file and line.
pub fn load_split(data: &Path, dataset: &str, split: &str) -> Result<Vec<Value>> {
    let path = data.join(dataset).join(format!("{split}.jsonl"));
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::Parse {
                path: format!("{}:{}", path.display(), i + 1).into(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Applies the named preprocessor; the result keeps the original fields (as `datasets.map`).
pub fn preprocess(name: Option<&str>, doc: Value) -> Result<Value> {
    match name {
        None => Ok(doc),
        Some("hellaswag") => hellaswag(doc),
        Some(other) => Err(Error::task(other, "unknown preprocessor")),
    }
}

/// Python's `str.capitalize()`: first character upper-cased, the rest lower-cased.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
    }
}

/// lm-eval's `preprocess`: strip, WikiHow ` [title]` → `. `, drop `[…]`, collapse double spaces
/// once (it is `str.replace("  ", " ")`, not a loop).
fn hellaswag_text(text: &str) -> String {
    let text = text.trim().replace(" [title]", ". ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    // re.sub(r"\[.*?\]", "", text): shortest bracket spans, left to right.
    while let Some(open) = rest.find('[') {
        match rest[open + 1..].find(']') {
            Some(close) => {
                out.push_str(&rest[..open]);
                rest = &rest[open + 1 + close + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out.replace("  ", " ")
}

fn hellaswag(mut doc: Value) -> Result<Value> {
    let field = |d: &Value, k: &str| -> Result<String> {
        d.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::task("hellaswag", format!("document has no string field `{k}`")))
    };
    let ctx = format!(
        "{} {}",
        field(&doc, "ctx_a")?,
        capitalize(&field(&doc, "ctx_b")?)
    );
    let query = hellaswag_text(&format!("{}: {ctx}", field(&doc, "activity_label")?));
    let endings: Vec<Value> = doc
        .get("endings")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::task("hellaswag", "document has no `endings` list"))?
        .iter()
        .map(|e| Value::from(hellaswag_text(e.as_str().unwrap_or_default())))
        .collect();
    let gold: i64 = field(&doc, "label")?
        .trim()
        .parse()
        .map_err(|_| Error::task("hellaswag", "`label` is not an integer"))?;
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| Error::task("hellaswag", "document is not an object"))?;
    obj.insert("query".into(), query.into());
    obj.insert("choices".into(), endings.into());
    obj.insert("gold".into(), gold.into());
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hellaswag_preprocessing_follows_lm_eval() {
        // Hand-derived from lm-eval's utils.py on a WikiHow-style row.
        let doc = json!({"activity_label": "Home and Garden", "ctx_a": "[header] How to grow  herbs.",
            "ctx_b": "then THE man", "endings": [" [step] Water them. [title] Done", "x"], "label": "1"});
        let d = hellaswag(doc).unwrap();
        assert_eq!(
            d["query"],
            "Home and Garden: How to grow herbs. Then the man"
        );
        assert_eq!(
            d["choices"][0], " Water them.. Done",
            "strip runs before [step] is removed"
        );
        assert_eq!(d["gold"], 1);
        assert_eq!(d["label"], "1", "original fields are kept");
        assert_eq!(capitalize("éCOLE b"), "École b");
        assert_eq!(hellaswag_text("a [b] c [d"), "a c [d");
    }

    #[test]
    fn a_malformed_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("set")).unwrap();
        std::fs::write(dir.path().join("set/test.jsonl"), "{\"a\":1}\n{oops\n").unwrap();
        let e = load_split(dir.path(), "set", "test")
            .unwrap_err()
            .to_string();
        assert!(e.contains("test.jsonl:2"), "{e}");
    }
}
