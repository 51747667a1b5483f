//! Input side of `dedup`: reading JSON Lines in chunks (blank lines skipped, the same way in
//! both passes) and extracting what the engine needs from a row — from a plain JSONL object by
//! field names, without building a full `serde_json::Value`, or from a dataset [`Example`].

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, bail};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use crate::schema::Example;

/// Lines handed to rayon at a time.
pub const CHUNK_LINES: usize = 8192;

/// What the engine needs from one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowInfo {
    /// The text compared for duplication.
    pub text: String,
    /// Length for the `longest` keep policy (characters).
    pub length: u64,
    /// Source name, for source priority.
    pub source: Option<String>,
    /// The row id as JSON text (`"abc"` or `17`), written as is to `removed.jsonl`.
    pub id: String,
}

/// How rows are read.
#[derive(Debug, Clone)]
pub enum RowFormat {
    /// A plain JSONL file of objects.
    Plain {
        /// Field holding the text.
        text_field: String,
        /// Field holding the id; `None`: the 1-based line number.
        id_field: Option<String>,
        /// Field holding the source name, for source priority.
        source_field: Option<String>,
    },
    /// A dataset artifact's `data.jsonl` of normalised examples.
    Dataset,
}

impl RowFormat {
    /// Extracts a row; `line_no` is 1-based.
    pub fn parse(&self, line_no: u64, line: &str) -> anyhow::Result<RowInfo> {
        match self {
            RowFormat::Dataset => {
                let ex: Example = serde_json::from_str(line)?;
                Ok(RowInfo {
                    text: ex.dedup_text(),
                    length: ex.response_len() as u64,
                    id: serde_json::to_string(&ex.id)?,
                    source: Some(ex.source),
                })
            }
            RowFormat::Plain {
                text_field,
                id_field,
                source_field,
            } => {
                let picker = Picker {
                    text: text_field,
                    id: id_field.as_deref(),
                    source: source_field.as_deref(),
                };
                let mut de = serde_json::Deserializer::from_str(line);
                let picked = picker.deserialize(&mut de)?;
                de.end()?;
                let Some(text) = picked.text else {
                    bail!("no string field `{text_field}`");
                };
                let id = match (id_field, picked.id) {
                    (None, _) => line_no.to_string(),
                    (Some(_), Some(id)) => id,
                    (Some(f), None) => bail!("no string or number field `{f}`"),
                };
                Ok(RowInfo {
                    length: text.chars().count() as u64,
                    text,
                    source: picked.source,
                    id,
                })
            }
        }
    }
}

/// Calls `f` with consecutive chunks of `(1-based line number, line)` of non-blank lines.
pub fn for_each_chunk(
    path: &Path,
    mut f: impl FnMut(&[(u64, String)]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line_no = 0u64;
    let mut chunk: Vec<(u64, String)> = Vec::with_capacity(CHUNK_LINES);
    loop {
        chunk.clear();
        while chunk.len() < CHUNK_LINES {
            let mut line = String::new();
            let n = reader
                .read_line(&mut line)
                .with_context(|| format!("reading {} line {}", path.display(), line_no + 1))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if !line.trim().is_empty() {
                chunk.push((line_no, line));
            }
        }
        if chunk.is_empty() {
            return Ok(());
        }
        f(&chunk)?;
    }
}

#[derive(Default)]
struct Picked {
    text: Option<String>,
    id: Option<String>,
    source: Option<String>,
}

/// Deserialises only the named fields of a JSON object and skips the rest.
struct Picker<'f> {
    text: &'f str,
    id: Option<&'f str>,
    source: Option<&'f str>,
}

#[derive(Clone, Copy)]
enum Field {
    Text,
    Id,
    Source,
    Other,
}

/// Matches a key against the wanted field names without allocating.
struct KeySeed<'p, 'f>(&'p Picker<'f>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = Field;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_, '_> {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Field, E> {
        let p = self.0;
        Ok(if key == p.text {
            Field::Text
        } else if Some(key) == p.id {
            Field::Id
        } else if Some(key) == p.source {
            Field::Source
        } else {
            Field::Other
        })
    }
}

/// An id: a string (kept as JSON text with its quotes) or a number.
struct IdValue;

impl<'de> DeserializeSeed<'de> for IdValue {
    type Value = Option<String>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(match v {
            serde_json::Value::String(_) | serde_json::Value::Number(_) => Some(v.to_string()),
            _ => None,
        })
    }
}

use serde::Deserialize as _;

impl<'de> DeserializeSeed<'de> for Picker<'_> {
    type Value = Picked;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Picked, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Picker<'_> {
    type Value = Picked;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Picked, A::Error> {
        let mut out = Picked::default();
        while let Some(field) = map.next_key_seed(KeySeed(&self))? {
            match field {
                Field::Text => {
                    let v: Option<Cow<'de, str>> = map.next_value()?;
                    out.text = v.map(Cow::into_owned);
                }
                Field::Id => out.id = map.next_value_seed(IdValue)?,
                Field::Source => {
                    let v: Option<String> = map.next_value()?;
                    out.source = v;
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(id: Option<&str>) -> RowFormat {
        RowFormat::Plain {
            text_field: "text".into(),
            id_field: id.map(str::to_owned),
            source_field: Some("src".into()),
        }
    }

    #[test]
    fn picks_fields_and_skips_the_rest() {
        let line = r#"{"x": {"text": "nested"}, "id": 17, "text": "h\u00e9llo \"q\"", "src": "a", "y": [1, 2]}"#;
        let r = plain(Some("id")).parse(3, line).unwrap();
        assert_eq!(r.text, "héllo \"q\"");
        assert_eq!(r.length, 9);
        assert_eq!(r.id, "17");
        assert_eq!(r.source.as_deref(), Some("a"));
        let r = plain(None).parse(3, r#"{"text": "t", "id": "a\"b"}"#).unwrap();
        assert_eq!(r.id, "3");
        let r = plain(Some("id")).parse(3, r#"{"text": "t", "id": "a\"b"}"#).unwrap();
        assert_eq!(r.id, r#""a\"b""#);
    }

    #[test]
    fn missing_or_bad_fields_are_errors() {
        let p = plain(Some("id"));
        assert!(p.parse(1, r#"{"body": "t", "id": 1}"#).is_err());
        assert!(p.parse(1, r#"{"text": 5, "id": 1}"#).is_err());
        assert!(p.parse(1, r#"{"text": "t", "id": [1]}"#).is_err());
        assert!(p.parse(1, r#"{"text": "t", "id": 1} trailing"#).is_err());
        assert!(p.parse(1, "[1, 2]").is_err());
    }
}
