//! Rebuilds the HF `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` of a
//! byte-level BPE vocabulary (`tokenizer.ggml.model = "gpt2"`) from GGUF metadata.
//!
//! Facts come from llama.cpp `src/llama-vocab.cpp` (`llama_vocab::impl::load`: which
//! `tokenizer.ggml.pre` values select which pre-tokenizer regexes, `ignore_merges`, the `add_bos`
//! default, how a merge line splits, token types) and from the HF `tokenizers` JSON format as
//! the original checkpoints use it (SmolLM2: `Digits(individual_digits)` + `ByteLevel`; Llama-3:
//! a `Split` on the Llama-3 regex + `ByteLevel(use_regex = false)`, `ignore_merges`).
//!
//! Where transformers 4.57 (`integrations/ggml.py`, `GGUFLlamaConverter`) differs we follow
//! llama.cpp, which is what the GGUF is run with: transformers gives every llama-architecture
//! BPE vocabulary plain GPT-2 `ByteLevel` pre-tokenisation and always prepends BOS, ignoring
//! `tokenizer.ggml.pre` and `tokenizer.ggml.add_bos_token`.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::metadata::Metadata;

/// llama.cpp token types (`llama_token_type` / `LLAMA_TOKEN_TYPE_*`).
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;

/// The Llama-3 split regex (`LLAMA_VOCAB_PRE_TYPE_LLAMA3` in llama-vocab.cpp; the same pattern
/// is the `Split` pre-tokenizer of Meta's Llama-3 `tokenizer.json`).
pub(crate) const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Pre-tokenizer families, by the `tokenizer.ggml.pre` values llama.cpp maps to each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// `llama3`, `llama-v3`, `llama-bpe` (and falcon3, pixtral, ...): Llama-3 regex,
    /// `ignore_merges`, BOS added by default.
    Llama3,
    /// `smollm`, `starcoder`, `refact`, `command-r`, `codeshell`, `exaone`, `minerva`:
    /// every digit on its own (`\p{N}`), then the GPT-2 regex.
    DigitsThenGpt2,
    /// `gpt2`, `mpt`, `olmo`, `jais`, and `default`/absent: the GPT-2 regex.
    Gpt2,
}

impl PreTokenizer {
    /// Maps a `tokenizer.ggml.pre` value.
    pub fn from_gguf(pre: &str) -> Result<Self> {
        Ok(match pre {
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" => Self::Llama3,
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
            | "minerva" => Self::DigitsThenGpt2,
            "gpt2" | "mpt" | "olmo" | "jais" => Self::Gpt2,
            "default" => {
                // llama.cpp's DEFAULT type uses extra punctuation/number splits that HF has no
                // pre-tokenizer for; GPT-2's regex is what the HF converters use.
                tracing::warn!("tokenizer.ggml.pre is \"default\"; using the GPT-2 pre-tokenizer");
                Self::Gpt2
            }
            other => return Err(Error::Unsupported(format!("tokenizer.ggml.pre {other:?}"))),
        })
    }

    fn json(self) -> Value {
        let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
        match self {
            Self::Llama3 => json!({"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": false},
                byte_level(false),
            ]}),
            Self::DigitsThenGpt2 => json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true},
                byte_level(true),
            ]}),
            Self::Gpt2 => byte_level(true),
        }
    }
}

/// The three tokenizer files of an HF checkpoint.
#[derive(Clone, Debug)]
pub struct HfTokenizerFiles {
    /// `tokenizer.json`.
    pub tokenizer: Value,
    /// `tokenizer_config.json`.
    pub tokenizer_config: Value,
    /// `special_tokens_map.json`.
    pub special_tokens_map: Value,
    /// The pre-tokenizer chosen.
    pub pre: PreTokenizer,
    /// The `tokenizer.ggml.pre` value read (`"default"` when absent).
    pub pre_name: String,
}

fn token_id(md: &Metadata, key: &str, n: usize) -> Result<Option<usize>> {
    match md.opt_u64(key)? {
        Some(id) if id as usize >= n => Err(Error::bad_key(
            key,
            format!("token id {id} is outside the {n}-token vocabulary"),
        )),
        Some(id) => Ok(Some(id as usize)),
        None => Ok(None),
    }
}

/// Builds the HF tokenizer files; `model_max_length` is usually the context length.
pub fn build(md: &Metadata, model_max_length: u64) -> Result<HfTokenizerFiles> {
    let model = md.str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(Error::Unsupported(format!(
            "tokenizer.ggml.model {model:?} (only byte-level BPE \"gpt2\" is imported)"
        )));
    }
    let tokens = md
        .array("tokenizer.ggml.tokens")?
        .as_strings()
        .ok_or_else(|| Error::bad_key("tokenizer.ggml.tokens", "expected an array of strings"))?;
    let n = tokens.len();
    let types: Vec<i64> = match md.get("tokenizer.ggml.token_type") {
        None => vec![1; n],
        Some(_) => md
            .array("tokenizer.ggml.token_type")?
            .to_i64s()
            .ok_or_else(|| {
                Error::bad_key("tokenizer.ggml.token_type", "expected an integer array")
            })?,
    };
    if types.len() != n {
        return Err(Error::bad_key(
            "tokenizer.ggml.token_type",
            format!("{} entries for {n} tokens", types.len()),
        ));
    }
    let merges = md
        .array("tokenizer.ggml.merges")?
        .as_strings()
        .ok_or_else(|| Error::bad_key("tokenizer.ggml.merges", "expected an array of strings"))?;
    let pre_name = md
        .opt_str("tokenizer.ggml.pre")?
        .unwrap_or("default")
        .to_string();
    let pre = PreTokenizer::from_gguf(&pre_name)?;

    let mut vocab = Map::with_capacity(n);
    for (id, t) in tokens.iter().enumerate() {
        if vocab.insert(t.clone(), json!(id)).is_some() {
            return Err(Error::Tokenizer(format!(
                "token {t:?} appears twice (second time as id {id})"
            )));
        }
    }
    let mut pairs = Vec::with_capacity(merges.len());
    let mut dropped = 0usize;
    for (i, m) in merges.iter().enumerate() {
        // llama.cpp splits at the first space after the first character (`find(' ', 1)`).
        let split = m
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == ' ')
            .map(|(p, _)| p);
        let Some(p) = split else {
            return Err(Error::Tokenizer(format!(
                "merge {i} {m:?} has no separating space"
            )));
        };
        let (a, b) = (&m[..p], &m[p + 1..]);
        // HF's BPE refuses merges whose parts or result are not tokens; such a merge can never
        // produce a token in llama.cpp either, so it is dropped.
        if !vocab.contains_key(a)
            || !vocab.contains_key(b)
            || !vocab.contains_key(&format!("{a}{b}"))
        {
            dropped += 1;
            continue;
        }
        pairs.push(json!([a, b]));
    }
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "dropped merges whose parts or result are not in the vocabulary"
        );
    }

    let bos = token_id(md, "tokenizer.ggml.bos_token_id", n)?;
    let eos = token_id(md, "tokenizer.ggml.eos_token_id", n)?;
    let unk = token_id(md, "tokenizer.ggml.unknown_token_id", n)?;
    let pad = token_id(md, "tokenizer.ggml.padding_token_id", n)?;
    let add_bos = md
        .opt_bool("tokenizer.ggml.add_bos_token")?
        .unwrap_or(pre == PreTokenizer::Llama3);
    let add_eos = md
        .opt_bool("tokenizer.ggml.add_eos_token")?
        .unwrap_or(false);

    let mut added = Vec::new();
    let mut added_decoder = Map::new();
    let mut specials = HashSet::new();
    for (id, (t, &ty)) in tokens.iter().zip(&types).enumerate() {
        if ty != TOKEN_CONTROL && ty != TOKEN_USER_DEFINED {
            continue;
        }
        let special = ty == TOKEN_CONTROL;
        if special {
            specials.insert(id);
        }
        let entry = |with_id: bool| {
            let mut e = Map::new();
            if with_id {
                e.insert("id".into(), json!(id));
            }
            e.insert("content".into(), json!(t));
            e.insert("single_word".into(), json!(false));
            e.insert("lstrip".into(), json!(false));
            e.insert("rstrip".into(), json!(false));
            e.insert("normalized".into(), json!(false));
            e.insert("special".into(), json!(special));
            Value::Object(e)
        };
        added.push(entry(true));
        added_decoder.insert(id.to_string(), entry(false));
    }

    let name = |id: Option<usize>| id.map(|i| tokens[i].clone());
    let post = post_processor(
        if add_bos { name(bos) } else { None }.zip(bos),
        if add_eos { name(eos) } else { None }.zip(eos),
    );
    if add_bos && bos.is_none() {
        return Err(Error::MissingKey(
            "tokenizer.ggml.bos_token_id (add_bos_token is true)".into(),
        ));
    }
    if add_eos && eos.is_none() {
        return Err(Error::MissingKey(
            "tokenizer.ggml.eos_token_id (add_eos_token is true)".into(),
        ));
    }

    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre.json(),
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": pre == PreTokenizer::Llama3,
            "vocab": vocab,
            "merges": pairs,
        },
    });

    // Keys in the sorted order transformers writes them.
    let mut cfg = Map::new();
    let mut map = Map::new();
    let put = |cfg: &mut Map<String, Value>, key: &str, v: Value| {
        cfg.insert(key.to_string(), v);
    };
    put(&mut cfg, "add_bos_token", json!(add_bos));
    put(&mut cfg, "add_eos_token", json!(add_eos));
    put(
        &mut cfg,
        "added_tokens_decoder",
        Value::Object(added_decoder),
    );
    if let Some(t) = name(bos) {
        put(&mut cfg, "bos_token", json!(t));
    }
    if let Some(tpl) = md.opt_str("tokenizer.chat_template")? {
        put(&mut cfg, "chat_template", json!(tpl));
    }
    put(
        &mut cfg,
        "clean_up_tokenization_spaces",
        json!(pre == PreTokenizer::Llama3),
    );
    if let Some(t) = name(eos) {
        put(&mut cfg, "eos_token", json!(t));
    }
    put(
        &mut cfg,
        "model_input_names",
        json!(["input_ids", "attention_mask"]),
    );
    put(&mut cfg, "model_max_length", json!(model_max_length));
    if let Some(t) = name(pad) {
        put(&mut cfg, "pad_token", json!(t));
    }
    put(
        &mut cfg,
        "tokenizer_class",
        json!("PreTrainedTokenizerFast"),
    );
    if let Some(t) = name(unk) {
        put(&mut cfg, "unk_token", json!(t));
    }
    for (key, id) in [
        ("bos_token", bos),
        ("eos_token", eos),
        ("pad_token", pad),
        ("unk_token", unk),
    ] {
        if let Some(t) = name(id) {
            map.insert(key.into(), json!(t));
        }
    }
    tracing::debug!(n_tokens = n, n_merges = merges.len(), n_special = specials.len(), pre = %pre_name, add_bos, "rebuilt tokenizer");
    Ok(HfTokenizerFiles {
        tokenizer,
        tokenizer_config: Value::Object(cfg),
        special_tokens_map: Value::Object(map),
        pre,
        pre_name,
    })
}

/// `ByteLevel` (offsets only) when nothing is added; otherwise `ByteLevel` then a
/// `TemplateProcessing` that adds BOS / EOS as Llama-3's `tokenizer.json` does.
fn post_processor(bos: Option<(String, usize)>, eos: Option<(String, usize)>) -> Value {
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true});
    if bos.is_none() && eos.is_none() {
        return byte_level;
    }
    let tok = |t: &(String, usize), type_id: u32| json!({"SpecialToken": {"id": t.0, "type_id": type_id}});
    let seq = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
    let mut single = Vec::new();
    let mut pair = Vec::new();
    if let Some(b) = &bos {
        single.push(tok(b, 0));
        pair.push(tok(b, 0));
    }
    single.push(seq("A", 0));
    pair.push(seq("A", 0));
    if let Some(e) = &eos {
        single.push(tok(e, 0));
        pair.push(tok(e, 0));
    }
    if let Some(b) = &bos {
        pair.push(tok(b, 1));
    }
    pair.push(seq("B", 1));
    if let Some(e) = &eos {
        pair.push(tok(e, 1));
    }
    let mut special = Map::new();
    for t in bos.iter().chain(eos.iter()) {
        special.insert(
            t.0.clone(),
            json!({"id": t.0, "ids": [t.1], "tokens": [t.0]}),
        );
    }
    json!({"type": "Sequence", "processors": [
        byte_level,
        {"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": special},
    ]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Array, Value};

    fn metadata(pre: &str, merges: &[&str], add_bos: Option<bool>) -> Metadata {
        let tokens = ["<s>", "a", "b", "ab", "Ġ", "1", "2"]
            .map(String::from)
            .to_vec();
        let mut md = Metadata::default();
        md.insert("tokenizer.ggml.model".into(), "gpt2".into())
            .unwrap();
        md.insert("tokenizer.ggml.pre".into(), pre.into()).unwrap();
        md.insert(
            "tokenizer.ggml.tokens".into(),
            Value::Array(Array::String(tokens)),
        )
        .unwrap();
        md.insert(
            "tokenizer.ggml.token_type".into(),
            Value::Array(Array::I32(vec![3, 1, 1, 1, 1, 1, 1])),
        )
        .unwrap();
        md.insert(
            "tokenizer.ggml.merges".into(),
            Value::Array(Array::String(
                merges.iter().map(|m| m.to_string()).collect(),
            )),
        )
        .unwrap();
        md.insert("tokenizer.ggml.bos_token_id".into(), Value::U32(0))
            .unwrap();
        if let Some(b) = add_bos {
            md.insert("tokenizer.ggml.add_bos_token".into(), Value::Bool(b))
                .unwrap();
        }
        md
    }

    #[test]
    fn merges_are_split_after_the_first_character_and_unusable_ones_dropped() {
        let files = build(&metadata("smollm", &["a b", "b a", "Ġ 1"], None), 16).unwrap();
        assert_eq!(files.tokenizer["model"]["merges"], json!([["a", "b"]]));
        assert!(matches!(
            build(&metadata("gpt2", &["ab"], None), 16),
            Err(Error::Tokenizer(_))
        ));
    }

    #[test]
    fn pre_tokenizer_and_bos_follow_llama_cpp() {
        let smol = build(&metadata("smollm", &[], None), 16).unwrap();
        assert_eq!(smol.pre, PreTokenizer::DigitsThenGpt2);
        assert_eq!(
            smol.tokenizer["pre_tokenizer"]["pretokenizers"][0]["type"],
            "Digits"
        );
        assert_eq!(smol.tokenizer["post_processor"]["type"], "ByteLevel");
        let llama3 = build(&metadata("llama-bpe", &[], None), 16).unwrap();
        assert_eq!(llama3.tokenizer["model"]["ignore_merges"], true);
        assert_eq!(
            llama3.tokenizer["post_processor"]["processors"][1]["single"][0]["SpecialToken"]["id"],
            "<s>"
        );
        let no_bos = build(&metadata("llama-bpe", &[], Some(false)), 16).unwrap();
        assert_eq!(no_bos.tokenizer["post_processor"]["type"], "ByteLevel");
        assert_eq!(
            build(&metadata("gpt2", &[], None), 16).unwrap().tokenizer["pre_tokenizer"]["type"],
            "ByteLevel"
        );
        assert!(matches!(
            build(&metadata("qwen2", &[], None), 16),
            Err(Error::Unsupported(_))
        ));
    }
}
