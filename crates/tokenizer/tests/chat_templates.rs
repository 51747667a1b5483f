//! Golden test: every rendering in fixtures/chat_templates/expected.json (made by transformers
//! 4.57.1's `apply_chat_template` with Jinja2 3.1.6, see fixtures/gen/chat_templates.py) must be
//! reproduced byte for byte.

use std::path::PathBuf;

use cogumi_tokenizer::{ChatRequest, ChatTemplate, Message, SpecialTokens};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/chat_templates")
}

fn load_expected() -> Value {
    let path = fixtures().join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run fixtures/gen/chat_templates.py",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("expected.json is JSON")
}

/// transformers' `special_tokens_map` as recorded with each case.
fn special_tokens(map: &Value) -> SpecialTokens {
    let get = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    SpecialTokens {
        bos: get("bos_token"),
        eos: get("eos_token"),
        unk: get("unk_token"),
        sep: get("sep_token"),
        pad: get("pad_token"),
        cls: get("cls_token"),
        mask: get("mask_token"),
        additional: Vec::new(),
        extra: Vec::new(),
    }
}

/// First differing position, with some context, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    let at = want
        .char_indices()
        .zip(got.chars())
        .find(|((_, a), b)| a != b)
        .map(|((i, _), _)| i)
        .unwrap_or(want.len().min(got.len()));
    let lo = want.floor_char_boundary(at.saturating_sub(40));
    let context = |s: &str| {
        s.get(lo..s.len().min(at + 40))
            .map(str::to_string)
            .unwrap_or_else(|| s[lo.min(s.len())..].to_string())
    };
    format!(
        "at byte {at}:\n  want …{:?}\n  got  …{:?}",
        context(want),
        context(got)
    )
}

#[test]
fn renders_match_transformers() {
    let expected = load_expected();
    let cases = expected["cases"].as_array().expect("cases");
    assert!(cases.len() >= 70, "fixture has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let file = case["template"].as_str().expect("template");
        let source = std::fs::read_to_string(fixtures().join(file)).expect("template file");
        let template = ChatTemplate::named(file, source)
            .expect("compiles")
            .with_special_tokens(special_tokens(&case["special_tokens"]));
        let messages: Vec<Message> =
            serde_json::from_value(case["messages"].clone()).expect("messages");
        let request = ChatRequest {
            messages,
            add_generation_prompt: case["add_generation_prompt"].as_bool().expect("bool"),
            tools: Some(case["tools"].clone()).filter(|t| !t.is_null()),
            documents: None,
            extra: case["extra"].as_object().cloned().unwrap_or_default(),
        };
        let label = format!(
            "{file} / {} / gen={}",
            case["conversation"].as_str().unwrap_or("?"),
            request.add_generation_prompt
        );
        let want = case["expected"].as_str().expect("expected");
        match template.render(&request) {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!("{label}: {}", first_difference(want, &got))),
            Err(e) => failures.push(format!("{label}: error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} renders differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn llama31_template_uses_date_and_tools() {
    // Hand-derived from the template text: the default date is "26 Jul 2024"; tools in the first
    // user message are pretty-printed with tojson(indent=4).
    let source = std::fs::read_to_string(fixtures().join("llama31.jinja")).expect("template");
    let special = SpecialTokens {
        bos: Some("<|begin_of_text|>".into()),
        ..Default::default()
    };
    let t = ChatTemplate::named("llama31.jinja", source)
        .expect("compiles")
        .with_special_tokens(special);
    let out = t
        .render(&ChatRequest::new(vec![Message::user("Hi")], true))
        .expect("renders");
    assert_eq!(
        out,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n\
         Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
         <|start_header_id|>assistant<|end_header_id|>\n\n"
    );
    let mut req = ChatRequest::new(vec![Message::user("Hi")], false);
    req.tools = Some(serde_json::json!([{"name": "f", "parameters": {}}]));
    let out = t.render(&req).expect("renders");
    assert!(out.contains("Environment: ipython\n"), "{out}");
    assert!(
        out.contains("{\n    \"name\": \"f\",\n    \"parameters\": {}\n}\n\nHi<|eot_id|>"),
        "{out}"
    );
    // No first user message to put the tools in: the template raises.
    req.messages = vec![Message::system("only a system message")];
    assert!(matches!(
        t.render(&req),
        Err(cogumi_tokenizer::Error::TemplateRaised { .. })
    ));
}
