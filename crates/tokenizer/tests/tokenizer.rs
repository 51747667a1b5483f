//! Golden tests of [`Tokenizer`] on fixtures/tokenizer/tiny_bpe (a Llama-3-style byte-level BPE
//! made by fixtures/gen/tokenizer.py): ids, decodes and chat-template ids must equal what
//! transformers 4.57.1 / tokenizers 0.22.2 produced; the streaming detokeniser must reproduce the
//! full decode without emitting U+FFFD mid-character; directory variants load as transformers
//! loads them.

use std::path::PathBuf;

use cogumi_tokenizer::{Error, Message, Tokenizer};
use serde_json::{Value, json};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tokenizer")
}

fn expected() -> Value {
    let path = fixture_dir().join("expected.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run fixtures/gen/tokenizer.py", path.display()));
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn tiny() -> Tokenizer {
    Tokenizer::from_dir(fixture_dir().join("tiny_bpe")).expect("tiny tokenizer loads")
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("id list")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

#[test]
fn vocabulary_and_special_ids() {
    let (tok, exp) = (tiny(), expected());
    assert_eq!(tok.vocab_size() as u64, exp["vocab_size"].as_u64().unwrap());
    assert_eq!(tok.bos_id().map(u64::from), exp["bos_token_id"].as_u64());
    // eos_token from the config first, then generation_config.json's list.
    let mut want = vec![exp["eos_token_id"].as_u64().unwrap() as u32];
    for id in ids(&exp["generation_eos_token_id"]) {
        if !want.contains(&id) {
            want.push(id);
        }
    }
    assert_eq!(tok.eos_ids(), want.as_slice());
    assert!(want.iter().all(|&id| tok.is_eos(id)));
    assert!(!tok.is_eos(tok.bos_id().unwrap()));
    for (token, id) in exp["token_ids"].as_object().unwrap() {
        assert_eq!(
            tok.token_to_id(token).map(u64::from),
            id.as_u64(),
            "{token}"
        );
        if let Some(id) = id.as_u64() {
            assert_eq!(tok.id_to_token(id as u32).as_deref(), Some(token.as_str()));
        }
    }
    assert!(tok.is_special(tok.token_to_id("<|eot_id|>").unwrap()));
    assert!(
        !tok.is_special(tok.token_to_id("<tool>").unwrap()),
        "<tool> is added but not special"
    );
    assert_eq!(tok.model_max_length(), None, "1e30 means unbounded");
    assert_eq!(
        tok.special_tokens().bos.as_deref(),
        Some("<|begin_of_text|>")
    );
}

#[test]
fn encode_and_decode_match_transformers() {
    let (tok, exp) = (tiny(), expected());
    let cases = exp["encode"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let with = ids(&case["ids"]);
        assert_eq!(tok.encode(text, true).unwrap(), with, "encode {text:?}");
        assert_eq!(
            tok.encode(text, false).unwrap(),
            ids(&case["ids_no_special"]),
            "encode no special {text:?}"
        );
        let tokens: Vec<String> = with.iter().map(|&i| tok.id_to_token(i).unwrap()).collect();
        let want_tokens: Vec<&str> = case["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tokens, want_tokens, "tokens {text:?}");
        assert_eq!(
            tok.decode(&with, false).unwrap(),
            case["decode"].as_str().unwrap(),
            "decode {text:?}"
        );
        assert_eq!(
            tok.decode(&with, true).unwrap(),
            case["decode_skip_special"].as_str().unwrap(),
            "decode skip {text:?}"
        );
        assert_eq!(
            tok.decode_raw(&with, false).unwrap(),
            case["raw_decode"].as_str().unwrap(),
            "raw decode {text:?}"
        );
    }
    let texts: Vec<&str> = exp["batch"]["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let want: Vec<Vec<u32>> = exp["batch"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(ids)
        .collect();
    assert_eq!(tok.encode_batch(&texts, true).unwrap(), want);
}

#[test]
fn clean_up_applies_only_when_configured() {
    // The fixture sets clean_up_tokenization_spaces (as Llama-3 does); the recorded case shows it.
    let exp = expected();
    let case = exp["encode"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"].as_str().unwrap().starts_with("Hello , world"))
        .unwrap();
    assert_ne!(
        case["decode"], case["raw_decode"],
        "the fixture must exercise the clean-up"
    );
    assert_eq!(
        cogumi_tokenizer::clean_up_tokenization("a , b . I 'm"),
        "a, b. I'm"
    );
}

#[test]
fn chat_template_ids_match_transformers() {
    let (tok, exp) = (tiny(), expected());
    for case in exp["chat"].as_array().unwrap() {
        let messages: Vec<Message> = serde_json::from_value(case["messages"].clone()).unwrap();
        let generation = case["add_generation_prompt"].as_bool().unwrap();
        assert_eq!(
            tok.apply_chat_template(&messages, generation).unwrap(),
            case["text"].as_str().unwrap()
        );
        let got = tok.apply_chat_template_ids(&messages, generation).unwrap();
        assert_eq!(got, ids(&case["ids"]), "{}", case["name"]);
        // The template wrote BOS itself; encoding must not add a second one.
        assert_eq!(got.iter().filter(|&&i| Some(i) == tok.bos_id()).count(), 1);
    }
}

/// Feeds every id through a stream; returns the chunks (plus the final flush).
fn stream_chunks(tok: &Tokenizer, ids: &[u32], skip_special: bool) -> Vec<String> {
    let mut stream = tok.decode_stream(skip_special);
    let mut chunks = Vec::new();
    for &id in ids {
        if let Some(chunk) = stream.step(id).unwrap() {
            chunks.push(chunk);
        }
    }
    chunks.extend(stream.finish().unwrap());
    chunks
}

#[test]
fn stream_reproduces_full_decode_without_replacement_chars() {
    let tok = tiny();
    let texts = [
        "emoji 🦀🎉 and CJK 你好世界",
        "👨‍👩‍👧 family and 🚀 rockets",
        "日本語のテキスト、Привет, café",
        "plain ascii text, nothing special",
    ];
    for text in texts {
        let ids = tok.encode(text, true).unwrap();
        // Multi-byte characters really are split over several byte-level tokens here.
        assert!(
            ids.len() > text.chars().count() / 2,
            "{text:?} encodes to {} ids",
            ids.len()
        );
        for skip in [false, true] {
            let chunks = stream_chunks(&tok, &ids, skip);
            assert_eq!(
                chunks.concat(),
                tok.decode_raw(&ids, skip).unwrap(),
                "{text:?} skip={skip}"
            );
            assert!(
                chunks.iter().all(|c| !c.contains('\u{FFFD}')),
                "{text:?}: {chunks:?}"
            );
        }
    }
}

#[test]
fn stream_holds_back_incomplete_characters() {
    let tok = tiny();
    // 🦀 is F0 9F A6 80; with no merges over those bytes it takes several byte-level tokens.
    let ids = tok.encode("🦀", false).unwrap();
    assert!(ids.len() >= 2, "{ids:?}");
    let mut stream = tok.decode_stream(false);
    for &id in &ids[..ids.len() - 1] {
        assert_eq!(stream.step(id).unwrap(), None);
    }
    assert!(stream.pending() > 0);
    assert_eq!(
        stream.step(ids[ids.len() - 1]).unwrap().as_deref(),
        Some("🦀")
    );
    assert_eq!(stream.finish().unwrap(), None);

    // Generation stopped mid-character: finish flushes what a full decode shows.
    let mut stream = tok.decode_stream(false);
    assert_eq!(stream.step(ids[0]).unwrap(), None);
    let tail = stream.finish().unwrap().unwrap();
    assert_eq!(tail, tok.decode_raw(&ids[..1], false).unwrap());
    assert!(tail.contains('\u{FFFD}'));
}

#[test]
fn stream_skips_special_tokens_when_asked() {
    let tok = tiny();
    let eot = tok.token_to_id("<|eot_id|>").unwrap();
    let mut ids = tok.encode("Hi", true).unwrap();
    ids.push(eot);
    assert_eq!(stream_chunks(&tok, &ids, true).concat(), "Hi");
    assert_eq!(
        stream_chunks(&tok, &ids, false).concat(),
        "<|begin_of_text|>Hi<|eot_id|>"
    );
}

/// Copies the tiny tokenizer into a temporary directory with a replaced tokenizer_config.json.
fn variant(config: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture_dir().join("tiny_bpe");
    for name in ["tokenizer.json", "generation_config.json"] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    dir
}

fn base_config() -> Value {
    let text =
        std::fs::read_to_string(fixture_dir().join("tiny_bpe/tokenizer_config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn llama_class_rebuilds_post_processor_like_transformers() {
    let exp = expected();
    let mut config = base_config();
    for (k, v) in exp["llama_class"]["config_overrides"].as_object().unwrap() {
        config[k] = v.clone();
    }
    let dir = variant(config);
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    for case in exp["llama_class"]["cases"].as_array().unwrap() {
        assert_eq!(
            tok.encode(case["text"].as_str().unwrap(), true).unwrap(),
            ids(&case["ids"])
        );
    }
}

#[test]
fn named_templates_and_jinja_file_override() {
    let mut config = base_config();
    config["chat_template"] = json!([
        {"name": "default", "template": "D{{ messages | length }}"},
        {"name": "tool_use", "template": "T{{ tools | length }}"},
    ]);
    let dir = variant(config);
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    assert_eq!(tok.chat_template_names(), vec!["default", "tool_use"]);
    assert_eq!(
        tok.apply_chat_template(&[Message::user("x")], false)
            .unwrap(),
        "D1"
    );
    let mut req = cogumi_tokenizer::ChatRequest::new(vec![], false);
    req.tools = Some(json!([{}, {}]));
    assert_eq!(tok.render_chat(&req).unwrap(), "T2");
    let err = tok.chat_template(Some("nope"), false).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownChatTemplate { available, .. } if available.len() == 2),
        "{err:?}"
    );

    // chat_template.jinja wins over the config's templates, as in transformers.
    std::fs::write(dir.path().join("chat_template.jinja"), "J{{ bos_token }}").unwrap();
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    assert_eq!(tok.chat_template_names(), vec!["default"]);
    assert_eq!(
        tok.apply_chat_template(&[], false).unwrap(),
        "J<|begin_of_text|>"
    );
}

#[test]
fn broken_template_still_tokenizes_and_reports_file_and_line() {
    let mut config = base_config();
    config["chat_template"] = json!("ok\n{% for %}");
    let dir = variant(config);
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    assert!(!tok.encode("still works", false).unwrap().is_empty());
    let err = tok.apply_chat_template(&[], false).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::TemplateSyntax { line: Some(2), .. }),
        "{msg}"
    );
    assert!(
        msg.contains("tokenizer_config.json#chat_template line 2"),
        "{msg}"
    );
}

#[test]
fn missing_files_and_templates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = Tokenizer::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if path.ends_with("tokenizer.json")),
        "{err:?}"
    );

    let mut config = base_config();
    config.as_object_mut().unwrap().remove("chat_template");
    let dir = variant(config);
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    assert!(matches!(
        tok.apply_chat_template(&[], true),
        Err(Error::NoChatTemplate { .. })
    ));

    std::fs::write(
        dir.path().join("generation_config.json"),
        "{\"eos_token_id\": \"x\"}",
    )
    .unwrap();
    let err = Tokenizer::from_dir(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("generation_config.json: eos_token_id"),
        "{err}"
    );
}
