//! Tokenizer metadata for a GGUF export: a byte-level BPE `tokenizer.json` (Llama 3, SmolLM2)
//! becomes `tokenizer.ggml.*` keys and the chat template.
//!
//! Follows llama.cpp `conversion/base.py` (`_set_vocab_gpt2`, `get_vocab_base`,
//! `does_token_look_special`) and gguf-py `vocab.py` (`SpecialVocab`: merges, special token
//! ids from `tokenizer_config.json` then `config.json`, `add_*_token` from the post-processor
//! then `tokenizer_config.json`, chat template). One deliberate difference: llama.cpp picks
//! `tokenizer.ggml.pre` by hashing the token ids of a probe text; we recognise the
//! pre-tokenizer from its structure in `tokenizer.json` (the families [`PreTokenizer`] knows,
//! which are the ones llama.cpp's loader maps the same way) and accept an explicit override.

use std::path::Path;

use serde_json::Value as Json;

use super::source::read_json;
use crate::error::{Error, Result};
use crate::tokenizer::PreTokenizer;
use crate::value::{Array, Value};

/// llama.cpp token types (`llama_token_type`).
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const UNUSED: i32 = 5;

/// Special-token kinds gguf-py looks up, in its order, with the GGUF key each one writes
/// (`cls` has no GGUF key: gguf-py skips it).
const SPECIAL: &[(&str, Option<&str>)] = &[
    ("bos", Some("tokenizer.ggml.bos_token_id")),
    ("eos", Some("tokenizer.ggml.eos_token_id")),
    ("unk", Some("tokenizer.ggml.unknown_token_id")),
    ("sep", Some("tokenizer.ggml.seperator_token_id")),
    ("pad", Some("tokenizer.ggml.padding_token_id")),
    ("cls", None),
    ("mask", Some("tokenizer.ggml.mask_token_id")),
];

/// Recognises the `tokenizer.ggml.pre` name of a `tokenizer.json` pre-tokenizer.
pub(crate) fn detect_pre(pre: &Json) -> Option<&'static str> {
    let kind = |v: &Json| v.get("type").and_then(Json::as_str).map(str::to_string);
    let byte_level_regex = |v: &Json| {
        kind(v).as_deref() == Some("ByteLevel")
            && v.get("use_regex").and_then(Json::as_bool) != Some(false)
    };
    if byte_level_regex(pre) {
        return Some("gpt2");
    }
    let parts = pre.get("pretokenizers").and_then(Json::as_array)?;
    match parts.as_slice() {
        [digits, bl]
            if kind(digits).as_deref() == Some("Digits")
                && digits.get("individual_digits").and_then(Json::as_bool) == Some(true)
                && byte_level_regex(bl) =>
        {
            Some("smollm")
        }
        [split, bl]
            if kind(split).as_deref() == Some("Split")
                && split.pointer("/pattern/Regex").and_then(Json::as_str)
                    == Some(crate::tokenizer::LLAMA3_REGEX)
                && kind(bl).as_deref() == Some("ByteLevel")
                && !byte_level_regex(bl) =>
        {
            Some("llama-bpe")
        }
        _ => None,
    }
}

fn looks_special(token: &str) -> bool {
    matches!(token, "<pad>" | "<mask>" | "<2mass>" | "[@BOS@]")
        || (token.starts_with("<|") && token.ends_with("|>"))
}

/// The `tokenizer.*` keys, in the order llama.cpp's converter writes them.
pub(crate) fn tokenizer_kvs(
    dir: &Path,
    config: &Json,
    vocab_size: usize,
    pre_override: Option<&str>,
) -> Result<Vec<(String, Value)>> {
    let tok_path = dir.join("tokenizer.json");
    let tok = read_json(&tok_path)?;
    let model = tok.get("model").unwrap_or(&Json::Null);
    if model.get("type").and_then(Json::as_str) != Some("BPE")
        || tok.pointer("/decoder/type").and_then(Json::as_str) != Some("ByteLevel")
    {
        return Err(Error::checkpoint(
            &tok_path,
            "only byte-level BPE tokenizers (Llama 3, SmolLM2, GPT-2 style) export to GGUF; \
             SentencePiece vocabularies (Llama 2, TinyLlama) are not supported yet",
        ));
    }
    let pre = match pre_override {
        Some(p) => {
            PreTokenizer::from_gguf(p)?;
            p.to_string()
        }
        None => detect_pre(tok.get("pre_tokenizer").unwrap_or(&Json::Null))
            .ok_or_else(|| {
                Error::checkpoint(
                    &tok_path,
                    "unrecognised pre_tokenizer; name llama.cpp's tokenizer.ggml.pre \
                     explicitly (e.g. llama-bpe, smollm, gpt2)",
                )
            })?
            .to_string(),
    };

    // Token strings and types: the vocabulary plus added tokens, holes as [PAD{i}].
    let mut tokens: Vec<Option<String>> = vec![None; vocab_size];
    let mut types = vec![NORMAL; vocab_size];
    let vocab = model
        .get("vocab")
        .and_then(Json::as_object)
        .ok_or_else(|| Error::checkpoint(&tok_path, "model.vocab is not an object"))?;
    let put = |tokens: &mut Vec<Option<String>>, id: u64, text: &str| -> Result<usize> {
        let i = usize::try_from(id)
            .ok()
            .filter(|&i| i < vocab_size)
            .ok_or_else(|| {
                Error::checkpoint(
                    &tok_path,
                    format!(
                        "token {text:?} has id {id}, outside the {vocab_size}-token vocab_size"
                    ),
                )
            })?;
        tokens[i] = Some(text.to_string());
        Ok(i)
    };
    for (text, id) in vocab {
        let id = id
            .as_u64()
            .ok_or_else(|| Error::checkpoint(&tok_path, format!("token {text:?}: bad id")))?;
        put(&mut tokens, id, text)?;
    }
    let added = tok
        .get("added_tokens")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for a in &added {
        let (Some(id), Some(content)) = (
            a.get("id").and_then(Json::as_u64),
            a.get("content").and_then(Json::as_str),
        ) else {
            return Err(Error::checkpoint(
                &tok_path,
                "added token without id/content",
            ));
        };
        let special = a.get("special").and_then(Json::as_bool).unwrap_or(false);
        let (text, ty) = if special || looks_special(content) {
            (content.to_string(), CONTROL)
        } else {
            (content.replace('\u{2581}', " "), USER_DEFINED)
        };
        let i = put(&mut tokens, id, &text)?;
        types[i] = ty;
    }
    let tokens: Vec<String> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            t.unwrap_or_else(|| {
                types[i] = UNUSED;
                format!("[PAD{i}]")
            })
        })
        .collect();

    let merges = merges(model).map_err(|r| Error::checkpoint(&tok_path, r))?;

    let mut kvs: Vec<(String, Value)> = vec![
        ("tokenizer.ggml.model".into(), "gpt2".into()),
        ("tokenizer.ggml.pre".into(), pre.as_str().into()),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(Array::String(tokens)),
        ),
        ("tokenizer.ggml.token_type".into(), types.into()),
    ];
    if !merges.is_empty() {
        kvs.push((
            "tokenizer.ggml.merges".into(),
            Value::Array(Array::String(merges)),
        ));
    }
    let cfg_path = dir.join("tokenizer_config.json");
    let tcfg = if cfg_path.is_file() {
        Some(read_json(&cfg_path)?)
    } else {
        None
    };
    special_kvs(&tok, tcfg.as_ref(), config, &added, &mut kvs);
    if let Some(t) = chat_template(dir, tcfg.as_ref())? {
        kvs.push(("tokenizer.chat_template".into(), t.into()));
    }
    Ok(kvs)
}

/// Merges as "a b" strings; the pair form of transformers >= 4.45 is joined, with spaces
/// inside a part written as U+0120 as gguf-py does.
fn merges(model: &Json) -> std::result::Result<Vec<String>, String> {
    let Some(list) = model.get("merges").and_then(Json::as_array) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|m| match m {
            Json::String(s) => Ok(s.clone()),
            Json::Array(pair) if pair.len() == 2 => {
                let part = |v: &Json| {
                    v.as_str()
                        .map(|s| s.replace(' ', "\u{0120}"))
                        .ok_or_else(|| format!("bad merge {m}"))
                };
                Ok(format!("{} {}", part(&pair[0])?, part(&pair[1])?))
            }
            _ => Err(format!("bad merge {m}")),
        })
        .collect()
}

/// Special token ids and `add_{bos,eos}_token` flags, as gguf-py's `SpecialVocab` derives them.
fn special_kvs(
    tok: &Json,
    tcfg: Option<&Json>,
    config: &Json,
    added: &[Json],
    kvs: &mut Vec<(String, Value)>,
) {
    let content_of = |v: &Json| -> Option<String> {
        match v {
            Json::String(s) => Some(s.clone()),
            Json::Object(o) => o.get("content").and_then(Json::as_str).map(str::to_string),
            _ => None,
        }
    };
    // add_special_token: post-processor first (ByteLevel: setdefault false; a template that
    // starts with the BOS token adds it), then tokenizer_config's add_*_token where unset.
    let mut add: Vec<(&str, bool)> = Vec::new();
    let set_default = |add: &mut Vec<(&str, bool)>, typ: &'static str, v: bool| {
        if !add.iter().any(|(t, _)| *t == typ) {
            add.push((typ, v));
        }
    };
    let bos_text = tcfg.and_then(|c| c.get("bos_token")).and_then(content_of);
    if let Some(pp) = tok.get("post_processor").filter(|p| !p.is_null()) {
        let procs = pp
            .get("processors")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_else(|| vec![pp.clone()]);
        for p in procs {
            match p.get("type").and_then(Json::as_str) {
                Some("ByteLevel") => {
                    set_default(&mut add, "bos", false);
                    set_default(&mut add, "eos", false);
                }
                Some("TemplateProcessing") => {
                    let single = p.get("single").and_then(Json::as_array);
                    if let Some(single) = single.filter(|s| s.len() > 1)
                        && let Some(first) =
                            single[0].pointer("/SpecialToken/id").and_then(Json::as_str)
                    {
                        let is_bos = bos_text.as_deref().is_none_or(|b| b == first);
                        add.retain(|(t, _)| *t != "bos");
                        add.push(("bos", is_bos));
                    }
                }
                _ => {}
            }
        }
    }
    let mut ids: Vec<(&str, u64)> = Vec::new();
    for &(typ, _) in SPECIAL {
        if let Some(v) = tcfg
            .and_then(|c| c.get(format!("add_{typ}_token")))
            .and_then(Json::as_bool)
        {
            set_default(&mut add, typ, v);
        }
        let text = tcfg
            .and_then(|c| c.get(format!("{typ}_token")))
            .and_then(content_of);
        if let Some(text) = text {
            let id = added.iter().find_map(|a| {
                (a.get("content").and_then(Json::as_str) == Some(text.as_str()))
                    .then(|| a.get("id").and_then(Json::as_u64))
                    .flatten()
            });
            if let Some(id) = id {
                ids.push((typ, id));
            }
        }
    }
    for &(typ, _) in SPECIAL {
        if let Some(id) = config.get(format!("{typ}_token_id")).and_then(Json::as_u64)
            && !ids.iter().any(|(t, _)| *t == typ)
        {
            ids.push((typ, id));
        }
    }
    for (typ, id) in ids {
        if let Some((_, Some(key))) = SPECIAL.iter().find(|(t, _)| *t == typ) {
            kvs.push(((*key).to_string(), Value::U32(id as u32)));
        }
    }
    for (typ, v) in add {
        if matches!(typ, "bos" | "eos" | "sep") {
            kvs.push((format!("tokenizer.ggml.add_{typ}_token"), Value::Bool(v)));
        }
    }
}

/// `chat_template` from `tokenizer_config.json`, else `chat_template.jinja` / `.json`.
fn chat_template(dir: &Path, tcfg: Option<&Json>) -> Result<Option<String>> {
    if let Some(t) = tcfg
        .and_then(|c| c.get("chat_template"))
        .and_then(Json::as_str)
    {
        return Ok(Some(t.to_string()));
    }
    let jinja = dir.join("chat_template.jinja");
    if jinja.is_file() {
        return std::fs::read_to_string(&jinja)
            .map(Some)
            .map_err(|e| Error::io(&jinja, e));
    }
    let json = dir.join("chat_template.json");
    if json.is_file() {
        return Ok(read_json(&json)?
            .get("chat_template")
            .and_then(Json::as_str)
            .map(str::to_string));
    }
    Ok(None)
}
