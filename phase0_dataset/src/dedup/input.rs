//! Input side of `dedup`: reading JSON Lines in chunks (blank lines skipped, the same way in
//! both passes) and extracting what the engine needs from a row — from a plain JSONL object by
//! field names, without building a full `serde_json::Value`, or from a dataset [`Example`].

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use crate::schema::Example;

/// What the engine needs from one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowInfo<'a> {
    /// The text compared for duplication.
    pub text: Cow<'a, str>,
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
    pub fn parse<'a>(&self, line_no: u64, line: &'a str) -> anyhow::Result<RowInfo<'a>> {
        match self {
            RowFormat::Dataset => {
                let ex: Example = serde_json::from_str(line)?;
                Ok(RowInfo {
                    text: Cow::Owned(ex.dedup_text()),
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

/// Bytes read per chunk (whole lines; a longer line makes a longer chunk).
pub const CHUNK_BYTES: usize = 8 << 20;

/// Calls `f` with consecutive chunks of `(1-based line number, line)` of the non-blank lines
/// of `path` (line terminators removed). Lines are slices of one block read per chunk, so
/// there is no allocation per line. Invalid UTF-8 is an error naming the line.
pub fn for_each_chunk(
    path: &Path,
    mut f: impl FnMut(&[(u64, &str)]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut block: Vec<u8> = Vec::new();
    let mut line_no = 0u64;
    let mut eof = false;
    let mut target = CHUNK_BYTES;
    while !eof {
        // Top the block up to `target` bytes (it starts with the previous partial line).
        while block.len() < target {
            let old = block.len();
            block.resize(target, 0);
            let n = file
                .read(&mut block[old..])
                .with_context(|| format!("reading {}", path.display()))?;
            block.truncate(old + n);
            if n == 0 {
                eof = true;
                break;
            }
        }
        // Complete lines only, unless at end of file.
        let cut = match block.iter().rposition(|&b| b == b'\n') {
            _ if eof => block.len(),
            Some(p) => p + 1,
            None => {
                // One line longer than the block: read more before cutting.
                target += CHUNK_BYTES;
                continue;
            }
        };
        target = CHUNK_BYTES;
        let rest = block.split_off(cut);
        if !block.is_empty() {
            let text = match std::str::from_utf8(&block) {
                Ok(t) => t,
                Err(e) => {
                    let bad = line_no + 1 + bytecount_newlines(&block[..e.valid_up_to()]);
                    bail!("{} line {bad} is not UTF-8", path.display());
                }
            };
            let mut lines: Vec<(u64, &str)> = Vec::new();
            let body = text.strip_suffix('\n').unwrap_or(text);
            for raw in body.split('\n') {
                line_no += 1;
                let line = raw.strip_suffix('\r').unwrap_or(raw);
                if !line.trim_ascii().is_empty() {
                    lines.push((line_no, line));
                }
            }
            f(&lines)?;
        }
        block = rest;
    }
    Ok(())
}

fn bytecount_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[derive(Default)]
struct Picked<'de> {
    text: Option<Cow<'de, str>>,
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

/// A string borrowed from the line when it has no escapes, `None` for anything else
/// (reported as a missing text field).
struct TextValue;

impl<'de> DeserializeSeed<'de> for TextValue {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextValue {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
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
    type Value = Picked<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Picked<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Picker<'_> {
    type Value = Picked<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Picked<'de>, A::Error> {
        let mut out = Picked::default();
        while let Some(field) = map.next_key_seed(KeySeed(&self))? {
            match field {
                Field::Text => out.text = map.next_value_seed(TextValue)?,
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
        assert!(matches!(r.text, Cow::Owned(_)), "escapes force a copy");
        assert!(matches!(
            plain(None).parse(1, r#"{"text": "plain"}"#).unwrap().text,
            Cow::Borrowed("plain")
        ));
        assert_eq!(r.length, 9);
        assert_eq!(r.id, "17");
        assert_eq!(r.source.as_deref(), Some("a"));
        let r = plain(None)
            .parse(3, r#"{"text": "t", "id": "a\"b"}"#)
            .unwrap();
        assert_eq!(r.id, "3");
        let r = plain(Some("id"))
            .parse(3, r#"{"text": "t", "id": "a\"b"}"#)
            .unwrap();
        assert_eq!(r.id, r#""a\"b""#);
    }

    #[test]
    fn chunks_number_lines_and_skip_blanks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "a\r\n\n  \nb\nc").unwrap();
        let mut got = Vec::new();
        for_each_chunk(&path, |lines| {
            got.extend(lines.iter().map(|(n, l)| (*n, l.to_string())));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![(1, "a".into()), (4, "b".into()), (5, "c".into())]);
        std::fs::write(&path, b"ok\n\xff\n").unwrap();
        let err = for_each_chunk(&path, |_| Ok(())).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
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
