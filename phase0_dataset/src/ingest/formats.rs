//! Source schemas and their conversion into [`Example`]: Alpaca / Alpaca-GPT4 / CodeAlpaca /
//! WizardLM-70k (`instruction`/`input`/`output`), Dolly-15k (`instruction`/`context`/`response`/
//! `category`), OpenOrca (`system_prompt`/`question`/`response`), ShareGPT and ChatML
//! conversations, Anthropic-HH (`chosen`/`rejected`), MetaMathQA (`query`/`response`), and a
//! user field mapping for anything else. Field names follow the datasets' HF hub cards.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::RowError;
use super::chat::{parse_hh, parse_turns};
use crate::check::Check;
use crate::schema::{Difficulty, Domain, Example, Message, Role};

/// Input schema of a raw file.
#[derive(clap::ValueEnum, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Detect from the first rows' fields (and the file name for Alpaca look-alikes).
    #[default]
    Auto,
    /// `instruction`, `input`, `output` (Alpaca, Alpaca-GPT4).
    Alpaca,
    /// `instruction`, `context`, `response`, `category` (databricks-dolly-15k).
    Dolly,
    /// `system_prompt`, `question`, `response` (OpenOrca).
    Openorca,
    /// `conversations` of `from`/`value` turns, or ChatML `messages` of `role`/`content`.
    #[value(alias = "chatml")]
    Sharegpt,
    /// `chosen` / `rejected` Human/Assistant transcripts (Anthropic-HH).
    Hh,
    /// `query`, `response`, `type`, `original_question` (MetaMathQA).
    Metamath,
    /// Alpaca fields (CodeAlpaca-20k).
    Codealpaca,
    /// Alpaca fields (WizardLM evol-instruct 70k) or ShareGPT `conversations` (the 196k set).
    Wizardlm,
    /// Fields named by `--map target=source,...`.
    Mapped,
}

impl Format {
    /// Lowercase name (as on the command line).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Alpaca => "alpaca",
            Format::Dolly => "dolly",
            Format::Openorca => "openorca",
            Format::Sharegpt => "sharegpt",
            Format::Hh => "hh",
            Format::Metamath => "metamath",
            Format::Codealpaca => "codealpaca",
            Format::Wizardlm => "wizardlm",
            Format::Mapped => "mapped",
        }
    }
}

/// Targets a `--map` entry may name.
pub const MAP_TARGETS: [&str; 9] = [
    "instruction",
    "input",
    "output",
    "system",
    "messages",
    "id",
    "source",
    "domain",
    "difficulty",
];

/// Parses `instruction=prompt,output=completion` into target → source path.
pub fn parse_map(spec: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((target, source)) = pair.split_once('=') else {
            anyhow::bail!("map entry `{pair}` is not target=source");
        };
        map.insert(target.trim().to_owned(), source.trim().to_owned());
    }
    validate_map(&map)?;
    Ok(map)
}

/// Checks that targets are known and that the map yields a prompt and a response.
pub fn validate_map(map: &BTreeMap<String, String>) -> anyhow::Result<()> {
    for (target, source) in map {
        if !MAP_TARGETS.contains(&target.as_str()) {
            anyhow::bail!(
                "unknown map target `{target}` (expected one of {})",
                MAP_TARGETS.join(", ")
            );
        }
        if source.is_empty() {
            anyhow::bail!("map target `{target}` has an empty source field");
        }
    }
    let single = map.contains_key("instruction") && map.contains_key("output");
    if !single && !map.contains_key("messages") {
        anyhow::bail!("a field map needs `instruction` and `output`, or `messages`");
    }
    Ok(())
}

/// Guesses the format from one row's keys; `stem` (the file name) separates the Alpaca
/// look-alikes, which share their fields.
pub fn detect(obj: &Map<String, Value>, stem: &str) -> Option<Format> {
    let has = |k: &str| obj.contains_key(k);
    let stem = stem.to_ascii_lowercase();
    let f = if has("chosen") {
        Format::Hh
    } else if has("conversations") {
        if stem.contains("wizard") {
            Format::Wizardlm
        } else {
            Format::Sharegpt
        }
    } else if has("messages") {
        Format::Sharegpt
    } else if has("question") && has("response") {
        Format::Openorca
    } else if has("query") && has("response") {
        Format::Metamath
    } else if has("instruction") && has("response") {
        Format::Dolly
    } else if has("instruction") && has("output") {
        if stem.contains("code") {
            Format::Codealpaca
        } else if stem.contains("wizard") {
            Format::Wizardlm
        } else {
            Format::Alpaca
        }
    } else {
        return None;
    };
    Some(f)
}

/// A converted row, before the id and source are assigned.
#[derive(Debug)]
pub struct Parsed {
    /// The example (id and source empty).
    pub example: Example,
    /// A `source` the row named itself.
    pub row_source: Option<String>,
    /// Trailing user turns dropped from a conversation.
    pub dropped_turns: usize,
}

/// Converts one JSON object in `format` (never `Auto`).
pub fn convert(
    format: Format,
    mut obj: Map<String, Value>,
    map: &BTreeMap<String, String>,
) -> Result<Parsed, RowError> {
    let mut ex = Example::default();
    let mut dropped_turns = 0;
    match format {
        Format::Alpaca | Format::Codealpaca => alpaca(&mut obj, &mut ex)?,
        Format::Wizardlm if obj.contains_key("conversations") => {
            dropped_turns = conversation(&mut obj, "conversations", &mut ex)?;
        }
        Format::Wizardlm => alpaca(&mut obj, &mut ex)?,
        Format::Dolly => {
            ex.instruction = req_str(&mut obj, "instruction")?;
            ex.input = opt_str(&mut obj, "context")?.unwrap_or_default();
            ex.output = req_str(&mut obj, "response")?;
        }
        Format::Openorca => {
            let system = opt_str(&mut obj, "system_prompt")?.unwrap_or_default();
            let question = req_str(&mut obj, "question")?;
            let response = req_str(&mut obj, "response")?;
            let mut m = Vec::with_capacity(3);
            if !system.is_empty() {
                m.push(Message::new(Role::System, system));
            }
            m.push(Message::new(Role::User, question));
            m.push(Message::new(Role::Assistant, response));
            ex.messages = Some(m);
        }
        Format::Metamath => {
            ex.instruction = req_str(&mut obj, "query")?;
            ex.output = req_str(&mut obj, "response")?;
        }
        Format::Hh => {
            let chosen = req_str(&mut obj, "chosen")?;
            ex.messages = Some(parse_hh(&chosen)?);
            // `rejected` stays in meta under its own name.
        }
        Format::Sharegpt => {
            let field = if obj.contains_key("conversations") {
                "conversations"
            } else {
                "messages"
            };
            dropped_turns = conversation(&mut obj, field, &mut ex)?;
        }
        Format::Mapped => dropped_turns = mapped(&mut obj, map, &mut ex)?,
        Format::Auto => unreachable!("auto is resolved per file before conversion"),
    }
    let row_source = finish(obj, &mut ex);
    Ok(Parsed {
        example: ex,
        row_source,
        dropped_turns,
    })
}

fn alpaca(obj: &mut Map<String, Value>, ex: &mut Example) -> Result<(), RowError> {
    ex.instruction = req_str(obj, "instruction")?;
    ex.input = opt_str(obj, "input")?.unwrap_or_default();
    ex.output = req_str(obj, "output")?;
    Ok(())
}

fn conversation(
    obj: &mut Map<String, Value>,
    field: &str,
    ex: &mut Example,
) -> Result<usize, RowError> {
    let turns = obj.remove(field).ok_or_else(|| RowError::Missing {
        field: field.to_owned(),
    })?;
    let (m, dropped) = parse_turns(&turns, field)?;
    ex.messages = Some(m);
    Ok(dropped)
}

fn mapped(
    obj: &mut Map<String, Value>,
    map: &BTreeMap<String, String>,
    ex: &mut Example,
) -> Result<usize, RowError> {
    let mut dropped = 0;
    if let Some(path) = map.get("messages") {
        let turns = lookup(obj, path).ok_or_else(|| RowError::Missing {
            field: path.clone(),
        })?;
        let (m, d) = parse_turns(&turns, path)?;
        dropped = d;
        ex.messages = Some(m);
    } else {
        ex.instruction = mapped_str(obj, map, "instruction", true)?.unwrap_or_default();
        ex.input = mapped_str(obj, map, "input", false)?.unwrap_or_default();
        ex.output = mapped_str(obj, map, "output", true)?.unwrap_or_default();
        if let Some(system) = mapped_str(obj, map, "system", false)? {
            let user = if ex.input.is_empty() {
                std::mem::take(&mut ex.instruction)
            } else {
                format!("{}\n\n{}", ex.instruction, ex.input)
            };
            ex.messages = Some(vec![
                Message::new(Role::System, system),
                Message::new(Role::User, user),
                Message::new(Role::Assistant, std::mem::take(&mut ex.output)),
            ]);
            ex.instruction.clear();
            ex.input.clear();
        }
    }
    // Mapped scalar targets are handed to `finish` under our names.
    let scalars: Vec<(&str, Value)> = ["id", "source", "domain", "difficulty"]
        .into_iter()
        .filter_map(|t| map.get(t).and_then(|p| lookup(obj, p)).map(|v| (t, v)))
        .collect();
    // Remove the top-level keys the map consumed, so they are not duplicated in meta.
    for path in map.values() {
        let top = path.split('.').next().unwrap_or(path);
        obj.remove(top);
    }
    for (t, v) in scalars {
        obj.insert(t.to_owned(), v);
    }
    Ok(dropped)
}

/// A mapped string target: trimmed; `null`/absent is `None` unless `required`.
fn mapped_str(
    obj: &Map<String, Value>,
    map: &BTreeMap<String, String>,
    target: &str,
    required: bool,
) -> Result<Option<String>, RowError> {
    let Some(path) = map.get(target) else {
        return Ok(None);
    };
    match lookup(obj, path) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(Value::String(_)) if required => Err(RowError::Empty {
            field: path.clone(),
        }),
        None | Some(Value::Null) if required => Err(RowError::Missing {
            field: path.clone(),
        }),
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(None),
        Some(_) => Err(RowError::WrongType {
            field: path.clone(),
            expected: "a string",
        }),
    }
}

/// Looks up a dotted path (`a.b.0.c`) in an object.
fn lookup(obj: &Map<String, Value>, path: &str) -> Option<Value> {
    let mut parts = path.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = match cur {
            Value::Object(o) => o.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur.clone())
}

/// Required non-empty string field (removed from `obj`).
fn req_str(obj: &mut Map<String, Value>, field: &str) -> Result<String, RowError> {
    match opt_str(obj, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(RowError::Empty {
            field: field.to_owned(),
        }),
        None => Err(RowError::Missing {
            field: field.to_owned(),
        }),
    }
}

/// Optional string field (removed from `obj`), trimmed; `null` counts as absent.
fn opt_str(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>, RowError> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(RowError::WrongType {
            field: field.to_owned(),
            expected: "a string",
        }),
    }
}

/// Moves the fields our schema knows (`domain`, `difficulty`, `answer`, `meta`, `id`) into the
/// example and everything else into `meta`; returns a row-level `source`.
fn finish(mut obj: Map<String, Value>, ex: &mut Example) -> Option<String> {
    let row_source = match obj.remove("source") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(other) => {
            ex.meta.insert("source".into(), other);
            None
        }
        None => None,
    };
    if let Some(Value::Object(m)) = obj.remove("meta") {
        ex.meta.extend(m);
    }
    if let Some(v) = obj.remove("id") {
        ex.meta.insert("orig_id".into(), v);
    }
    if let Some(v) = obj.remove("domain") {
        match v.as_str().and_then(Domain::parse) {
            Some(d) => ex.domain = Some(d),
            None => {
                ex.meta.insert("domain".into(), v);
            }
        }
    }
    if let Some(v) = obj.remove("difficulty") {
        match serde_json::from_value::<Difficulty>(v.clone()) {
            Ok(d) => ex.difficulty = Some(d),
            Err(_) => {
                ex.meta.insert("difficulty".into(), v);
            }
        }
    }
    if let Some(v) = obj.remove("answer") {
        match serde_json::from_value::<Check>(v.clone()) {
            Ok(c) => ex.answer = Some(c),
            Err(_) => {
                ex.meta.insert("answer".into(), v);
            }
        }
    }
    ex.meta.extend(obj);
    row_source
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn detection_by_fields_and_name() {
        let alp = obj(json!({"instruction": "a", "input": "", "output": "b"}));
        assert_eq!(detect(&alp, "alpaca_gpt4"), Some(Format::Alpaca));
        assert_eq!(detect(&alp, "code_alpaca_20k"), Some(Format::Codealpaca));
        assert_eq!(detect(&alp, "WizardLM_evol"), Some(Format::Wizardlm));
        let dolly = obj(json!({"instruction": "a", "context": "", "response": "b"}));
        assert_eq!(detect(&dolly, "x"), Some(Format::Dolly));
        let orca = obj(json!({"system_prompt": "", "question": "q", "response": "r"}));
        assert_eq!(detect(&orca, "x"), Some(Format::Openorca));
        let mm = obj(json!({"query": "q", "response": "r", "type": "GSM_Rephrased"}));
        assert_eq!(detect(&mm, "x"), Some(Format::Metamath));
        assert_eq!(
            detect(&obj(json!({"chosen": "", "rejected": ""})), "x"),
            Some(Format::Hh)
        );
        assert_eq!(
            detect(&obj(json!({"conversations": []})), "x"),
            Some(Format::Sharegpt)
        );
        assert_eq!(
            detect(&obj(json!({"messages": []})), "x"),
            Some(Format::Sharegpt)
        );
        assert_eq!(detect(&obj(json!({"prompt": "p"})), "x"), None);
    }

    #[test]
    fn dolly_keeps_category_in_meta() {
        let o = obj(
            json!({"instruction": "Sum up", "context": "Long text", "response": "Short", "category": "summarization"}),
        );
        let p = convert(Format::Dolly, o, &BTreeMap::new()).unwrap();
        assert_eq!(p.example.input, "Long text");
        assert_eq!(p.example.meta["category"], json!("summarization"));
    }

    #[test]
    fn openorca_becomes_messages_with_system() {
        let o = obj(
            json!({"id": "niv.1", "system_prompt": "Be helpful.", "question": "Q?", "response": "A."}),
        );
        let p = convert(Format::Openorca, o, &BTreeMap::new()).unwrap();
        let m = p.example.messages.unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].role, Role::System);
        assert_eq!(p.example.meta["orig_id"], json!("niv.1"));
    }

    #[test]
    fn known_fields_are_lifted_and_rest_kept() {
        let o = obj(json!({
            "instruction": "Add 2 and 3.", "output": "Answer: 5", "source": "synth",
            "domain": "math", "difficulty": "easy", "answer": {"type": "exact", "value": 5},
            "meta": {"template": "add"}, "extra": 1
        }));
        let p = convert(Format::Alpaca, o, &BTreeMap::new()).unwrap();
        assert_eq!(p.row_source.as_deref(), Some("synth"));
        assert_eq!(p.example.domain, Some(Domain::Math));
        assert_eq!(p.example.difficulty, Some(Difficulty::Easy));
        assert!(p.example.answer.is_some());
        assert_eq!(p.example.meta["template"], json!("add"));
        assert_eq!(p.example.meta["extra"], json!(1));
    }

    #[test]
    fn row_errors() {
        let e = convert(
            Format::Alpaca,
            obj(json!({"instruction": "a"})),
            &BTreeMap::new(),
        );
        assert_eq!(e.unwrap_err().to_string(), "missing field `output`");
        let e = convert(
            Format::Alpaca,
            obj(json!({"instruction": "a", "output": 3})),
            &BTreeMap::new(),
        );
        assert_eq!(e.unwrap_err().to_string(), "field `output` is not a string");
        let e = convert(
            Format::Alpaca,
            obj(json!({"instruction": " ", "output": "x"})),
            &BTreeMap::new(),
        );
        assert_eq!(e.unwrap_err().to_string(), "field `instruction` is empty");
    }

    #[test]
    fn mapped_fields_with_paths() {
        let map = parse_map("instruction=prompt, output=completions.0.text, id=uid").unwrap();
        let o = obj(json!({"prompt": "P", "completions": [{"text": "C"}], "uid": 7, "score": 0.5}));
        let p = convert(Format::Mapped, o, &map).unwrap();
        assert_eq!(p.example.instruction, "P");
        assert_eq!(p.example.output, "C");
        assert_eq!(p.example.meta["orig_id"], json!(7));
        assert_eq!(p.example.meta["score"], json!(0.5));
        assert!(!p.example.meta.contains_key("prompt"));
        let e = convert(Format::Mapped, obj(json!({"prompt": "P"})), &map).unwrap_err();
        assert_eq!(e.to_string(), "missing field `completions.0.text`");
        assert!(parse_map("prompt=instruction").is_err());
        assert!(parse_map("instruction=a").is_err());
    }
}
