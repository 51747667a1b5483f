//! Edge structs for the HF files next to `tokenizer.json`: `tokenizer_config.json`,
//! `special_tokens_map.json`, `chat_template.jinja` + `additional_chat_templates/*.jinja` and
//! `generation_config.json`, read the way transformers 4.57 reads them
//! (`PreTrainedTokenizerBase.from_pretrained` / `_from_pretrained`, `GenerationConfig`). HF quirks
//! (tokens as strings or AddedToken dicts, ids as ints or lists, `model_max_length` = 1e30 meaning
//! "unbounded") stay here (STYLE.md §2.5).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::chat::SpecialTokens;
use crate::error::{Error, Result};

/// transformers writes `int(1e30)` (`VERY_LARGE_INTEGER`) when a tokenizer has no length limit;
/// anything at least this large is read as "no limit".
const UNBOUNDED_MAX_LENGTH: f64 = 1e18;

/// What `tokenizer_config.json` (and its companions) say about a tokenizer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenizerConfig {
    /// Chat templates by name. A single template is stored under "default", as transformers does
    /// when it turns the list form `[{"name", "template"}]` into a dict.
    pub chat_templates: Vec<(String, String)>,
    /// Where each template came from (file path, plus `#chat_template` for a config entry), used in
    /// template error messages.
    pub chat_template_sources: Vec<String>,
    /// The special-token strings handed to chat templates (transformers' `special_tokens_map`).
    pub special_tokens: SpecialTokens,
    /// `add_bos_token`, when present.
    pub add_bos_token: Option<bool>,
    /// `add_eos_token`, when present.
    pub add_eos_token: Option<bool>,
    /// `model_max_length`; `None` when absent or transformers' "unbounded" sentinel.
    pub model_max_length: Option<u64>,
    /// `clean_up_tokenization_spaces` (transformers' default: false).
    pub clean_up_tokenization_spaces: bool,
    /// `tokenizer_class`, e.g. "PreTrainedTokenizerFast" or "LlamaTokenizerFast".
    pub tokenizer_class: Option<String>,
}

/// The token ids `generation_config.json` declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerationConfig {
    /// `bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `eos_token_id`: one id or a list (Llama-3.1 lists `<|end_of_text|>`, `<|eom_id|>`, `<|eot_id|>`).
    pub eos_token_ids: Vec<u32>,
    /// `pad_token_id`.
    pub pad_token_id: Option<u32>,
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json(path: &Path) -> Result<Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn config_error(path: &Path, message: String) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        message,
    }
}

/// A special token is written either as a string or as a serialised `AddedToken`
/// (`{"__type": "AddedToken", "content": ..., ...}`); `null` means unset.
fn token_string(path: &Path, key: &str, value: &Value) -> Result<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Object(map) => match map.get("content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => Err(config_error(
                path,
                format!("{key} is an object without a string \"content\""),
            )),
        },
        other => Err(config_error(
            path,
            format!("{key} must be a string or an AddedToken object, found {other}"),
        )),
    }
}

fn optional_bool(path: &Path, map: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(config_error(
            path,
            format!("{key} must be a boolean, found {other}"),
        )),
    }
}

fn token_id(path: &Path, key: &str, value: &Value) -> Result<u32> {
    value
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| config_error(path, format!("{key} must be a token id, found {value}")))
}

impl TokenizerConfig {
    /// Reads `tokenizer_config.json` (if present), `special_tokens_map.json` (fills special tokens
    /// the config leaves unset) and the chat template files of `dir`. `chat_template.jinja` and
    /// `additional_chat_templates/<name>.jinja` take precedence over the config's `chat_template`,
    /// as in transformers.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let mut config = Self::default();
        let path = dir.join("tokenizer_config.json");
        if path.exists() {
            config = Self::from_json(&path, &read_json(&path)?)?;
        }
        let map_path = dir.join("special_tokens_map.json");
        if map_path.exists() {
            let defaults = Self::from_json(&map_path, &read_json(&map_path)?)?;
            config.special_tokens.fill_from(&defaults.special_tokens);
        }
        let mut files = Vec::new();
        let default_file = dir.join("chat_template.jinja");
        if default_file.exists() {
            files.push(("default".to_string(), default_file));
        }
        let extra_dir = dir.join("additional_chat_templates");
        if extra_dir.is_dir() {
            let entries = std::fs::read_dir(&extra_dir).map_err(|source| Error::Io {
                path: extra_dir.clone(),
                source,
            })?;
            let mut extra: Vec<(String, PathBuf)> = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|source| Error::Io {
                    path: extra_dir.clone(),
                    source,
                })?;
                let file = entry.path();
                if let (Some(stem), Some("jinja")) = (
                    file.file_stem().and_then(|s| s.to_str()),
                    file.extension().and_then(|s| s.to_str()),
                ) {
                    extra.push((stem.to_string(), file));
                }
            }
            extra.sort();
            files.extend(extra);
        }
        if !files.is_empty() {
            config.chat_templates.clear();
            config.chat_template_sources.clear();
            for (name, file) in files {
                config.chat_templates.push((name, read_text(&file)?));
                config
                    .chat_template_sources
                    .push(file.display().to_string());
            }
        }
        Ok(config)
    }

    /// Interprets the JSON object of a `tokenizer_config.json` (or `special_tokens_map.json`);
    /// `path` is only used in error messages and template names.
    pub fn from_json(path: &Path, json: &Value) -> Result<Self> {
        let Some(map) = json.as_object() else {
            return Err(config_error(
                path,
                "the top level must be a JSON object".to_string(),
            ));
        };
        let mut config = Self::default();
        let source = format!("{}#chat_template", path.display());
        match map.get("chat_template") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                config
                    .chat_templates
                    .push(("default".to_string(), s.clone()));
                config.chat_template_sources.push(source);
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let name = item.get("name").and_then(Value::as_str);
                    let template = item.get("template").and_then(Value::as_str);
                    let (Some(name), Some(template)) = (name, template) else {
                        return Err(config_error(
                            path,
                            format!("chat_template[{i}] needs string \"name\" and \"template\""),
                        ));
                    };
                    config
                        .chat_templates
                        .push((name.to_string(), template.to_string()));
                    config
                        .chat_template_sources
                        .push(format!("{source}[{name}]"));
                }
            }
            Some(other) => {
                return Err(config_error(
                    path,
                    format!("chat_template must be a string or a list, found {other}"),
                ));
            }
        }
        let st = &mut config.special_tokens;
        for (key, slot) in [
            ("bos_token", &mut st.bos),
            ("eos_token", &mut st.eos),
            ("unk_token", &mut st.unk),
            ("sep_token", &mut st.sep),
            ("pad_token", &mut st.pad),
            ("cls_token", &mut st.cls),
            ("mask_token", &mut st.mask),
        ] {
            if let Some(value) = map.get(key) {
                *slot = token_string(path, key, value)?;
            }
        }
        match map.get("additional_special_tokens") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    if let Some(token) = token_string(path, "additional_special_tokens", item)? {
                        st.additional.push(token);
                    }
                }
            }
            Some(other) => {
                return Err(config_error(
                    path,
                    format!("additional_special_tokens must be a list, found {other}"),
                ));
            }
        }
        match map.get("extra_special_tokens") {
            None | Some(Value::Null) => {}
            Some(Value::Object(extra)) => {
                for (key, value) in extra {
                    if let Some(token) = token_string(path, key, value)? {
                        st.extra.push((key.clone(), token));
                    }
                }
            }
            // transformers also accepts a list here (treated as additional special tokens).
            Some(Value::Array(items)) => {
                for item in items {
                    if let Some(token) = token_string(path, "extra_special_tokens", item)? {
                        st.additional.push(token);
                    }
                }
            }
            Some(other) => {
                return Err(config_error(
                    path,
                    format!("extra_special_tokens must be an object, found {other}"),
                ));
            }
        }
        config.add_bos_token = optional_bool(path, map, "add_bos_token")?;
        config.add_eos_token = optional_bool(path, map, "add_eos_token")?;
        config.clean_up_tokenization_spaces =
            optional_bool(path, map, "clean_up_tokenization_spaces")?.unwrap_or(false);
        config.model_max_length = match map.get("model_max_length") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                (Some(v), _) if (v as f64) < UNBOUNDED_MAX_LENGTH => Some(v),
                (_, Some(f)) if (0.0..UNBOUNDED_MAX_LENGTH).contains(&f) && f.fract() == 0.0 => {
                    Some(f as u64)
                }
                (_, Some(f)) if f >= UNBOUNDED_MAX_LENGTH => None,
                _ => {
                    return Err(config_error(
                        path,
                        format!("model_max_length must be a non-negative integer, found {n}"),
                    ));
                }
            },
            Some(other) => {
                return Err(config_error(
                    path,
                    format!("model_max_length must be a number, found {other}"),
                ));
            }
        };
        config.tokenizer_class = map
            .get("tokenizer_class")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(config)
    }
}

impl GenerationConfig {
    /// Reads `generation_config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_json(path, &read_json(path)?)
    }

    /// Interprets the JSON object of a `generation_config.json`; `path` is used in error messages.
    pub fn from_json(path: &Path, json: &Value) -> Result<Self> {
        let Some(map) = json.as_object() else {
            return Err(config_error(
                path,
                "the top level must be a JSON object".to_string(),
            ));
        };
        let single = |key: &str| -> Result<Option<u32>> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => token_id(path, key, v).map(Some),
            }
        };
        let eos_token_ids = match map.get("eos_token_id") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| token_id(path, "eos_token_id", v))
                .collect::<Result<_>>()?,
            Some(v) => vec![token_id(path, "eos_token_id", v)?],
        };
        Ok(Self {
            bos_token_id: single("bos_token_id")?,
            eos_token_ids,
            pad_token_id: single("pad_token_id")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_as_strings_or_added_token_dicts() {
        let cfg = TokenizerConfig::from_json(
            Path::new("t.json"),
            &json!({
                "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
                "eos_token": "</s>",
                "pad_token": null,
                "additional_special_tokens": ["<a>", {"content": "<b>"}],
                "model_max_length": 1e30,
                "add_bos_token": true,
            }),
        )
        .unwrap();
        assert_eq!(cfg.special_tokens.bos.as_deref(), Some("<s>"));
        assert_eq!(cfg.special_tokens.eos.as_deref(), Some("</s>"));
        assert_eq!(cfg.special_tokens.pad, None);
        assert_eq!(cfg.special_tokens.additional, vec!["<a>", "<b>"]);
        assert_eq!(cfg.model_max_length, None);
        assert_eq!(cfg.add_bos_token, Some(true));
        assert!(cfg.chat_templates.is_empty());
    }

    #[test]
    fn chat_template_list_form_and_max_length() {
        let cfg = TokenizerConfig::from_json(
            Path::new("t.json"),
            &json!({
                "chat_template": [{"name": "default", "template": "A"}, {"name": "tool_use", "template": "B"}],
                "model_max_length": 8192,
            }),
        )
        .unwrap();
        assert_eq!(
            cfg.chat_templates,
            vec![
                ("default".into(), "A".into()),
                ("tool_use".into(), "B".into())
            ]
        );
        assert_eq!(
            cfg.chat_template_sources[1],
            "t.json#chat_template[tool_use]"
        );
        assert_eq!(cfg.model_max_length, Some(8192));
    }

    #[test]
    fn malformed_fields_name_the_field() {
        let err = TokenizerConfig::from_json(Path::new("cfg.json"), &json!({"eos_token": 5}))
            .unwrap_err();
        assert!(err.to_string().contains("cfg.json: eos_token"), "{err}");
        let err = TokenizerConfig::from_json(
            Path::new("cfg.json"),
            &json!({"chat_template": [{"name": "x"}]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("chat_template[0]"), "{err}");
    }

    #[test]
    fn generation_eos_int_or_list() {
        let one = GenerationConfig::from_json(Path::new("g"), &json!({"eos_token_id": 2})).unwrap();
        assert_eq!(one.eos_token_ids, vec![2]);
        let many = GenerationConfig::from_json(
            Path::new("g"),
            &json!({"eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000}),
        )
        .unwrap();
        assert_eq!(many.eos_token_ids, vec![128001, 128008, 128009]);
        assert_eq!(many.bos_token_id, Some(128000));
        assert!(GenerationConfig::from_json(Path::new("g"), &json!({"eos_token_id": -1})).is_err());
    }
}
