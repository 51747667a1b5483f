//! Loss masks of `encode_chat` checked against independent expectations: ids and masks derived
//! by hand on a word-level tokenizer, and — for the ChatML (SmolLM2) and Llama-3 templates of
//! `fixtures/chat_templates/` over the byte-level BPE of `fixtures/tokenizer/tiny_bpe` and the
//! real SmolLM2 tokenizer — the masked-in tokens decoding to exactly the assistant content plus
//! the template's end-of-turn marker.

use std::path::Path;

use cogumi_dataset::schema::{Example, Message as Turn, Role};
use cogumi_dataset::{EncodeOptions, Encoded, Error, encode_chat, encode_example, to_messages};
use cogumi_testkit::{fixture, smollm2_model_dir};
use cogumi_tokenizer::{GenerationConfig, Message, Tokenizer, TokenizerConfig};

/// A word-level tokenizer whose ids can be written down by hand: role tags and `<end>` are
/// special tokens, words split on whitespace.
fn word_tokenizer(dir: &Path, template: &str) -> Tokenizer {
    let specials = ["<system>", "<user>", "<assistant>", "<end>"];
    let words = [
        "be", "brief", "hi", "there", "hello", "bye", "see", "you", "[UNK]",
    ];
    let added: Vec<_> = specials
        .iter()
        .enumerate()
        .map(|(id, t)| {
            serde_json::json!({"id": id, "content": t, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let vocab: serde_json::Map<_, _> = specials
        .iter()
        .chain(&words)
        .enumerate()
        .map(|(id, t)| (t.to_string(), serde_json::Value::from(id)))
        .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    let config = serde_json::json!({"eos_token": "<end>", "chat_template": template});
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer_config.json"), config.to_string()).unwrap();
    Tokenizer::from_dir(dir).unwrap()
}

const WORD_TEMPLATE: &str = "{% for m in messages %}<{{ m.role }}> {{ m.content }} <end> {% endfor %}{% if add_generation_prompt %}<assistant> {% endif %}";

fn two_turns() -> Vec<Message> {
    vec![
        Message::system("be brief"),
        Message::user("hi there"),
        Message::assistant("hello"),
        Message::user("bye"),
        Message::assistant("see you"),
    ]
}

#[test]
fn hand_derived_ids_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let tok = word_tokenizer(dir.path(), WORD_TEMPLATE);
    // <system> be brief <end> <user> hi there <end> <assistant> hello <end> <user> bye <end>
    // <assistant> see you <end>, with ids 0-3 for the tags and 4.. for the words in order.
    let ids = [0, 4, 5, 3, 1, 6, 7, 3, 2, 8, 3, 1, 9, 3, 2, 10, 11, 3];
    let (f, t) = (false, true);
    let mask = [f, f, f, f, f, f, f, f, f, t, t, f, f, f, f, t, t, t];
    let enc = encode_chat(&tok, &two_turns(), &EncodeOptions::default()).unwrap();
    assert_eq!(enc.ids, ids);
    assert_eq!(enc.loss_mask, mask);

    let last_only = EncodeOptions {
        mask_all_but_last_turn: true,
        ..Default::default()
    };
    let enc = encode_chat(&tok, &two_turns(), &last_only).unwrap();
    let expected: Vec<bool> = (0..ids.len()).map(|k| k >= 15).collect();
    assert_eq!(enc.loss_mask, expected);

    let everything = EncodeOptions {
        train_on_prompt: true,
        ..Default::default()
    };
    let enc = encode_chat(&tok, &two_turns(), &everything).unwrap();
    assert_eq!(enc.loss_mask, [true; 18]);

    // Truncated on the right, keeping the first turn's targets.
    let short = EncodeOptions {
        max_len: Some(10),
        ..Default::default()
    };
    let enc = encode_chat(&tok, &two_turns(), &short).unwrap();
    assert_eq!(
        (enc.ids.as_slice(), enc.loss_mask.as_slice()),
        (&ids[..10], &mask[..10])
    );
    let too_short = EncodeOptions {
        max_len: Some(9),
        ..Default::default()
    };
    let err = encode_chat(&tok, &two_turns(), &too_short).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLong {
                len: 18,
                max_len: 9,
                first_target: 9
            }
        ),
        "{err:?}"
    );
}

#[test]
fn without_an_eos_marker_the_last_special_token_ends_the_turn() {
    let dir = tempfile::tempdir().unwrap();
    // `<end>` is the EOS, but this template closes assistant turns with a `<system>` tag instead,
    // so the rule falls back to the last special token inside the turn.
    let template = "{% for m in messages %}<{{ m.role }}> {{ m.content }} {% if m.role == 'assistant' %}<system> {% endif %}{% endfor %}{% if add_generation_prompt %}<assistant> {% endif %}";
    let tok = word_tokenizer(dir.path(), template);
    let msgs = [Message::user("hi"), Message::assistant("hello there")];
    let enc = encode_chat(&tok, &msgs, &EncodeOptions::default()).unwrap();
    assert_eq!(enc.ids, [1, 6, 2, 8, 7, 0]);
    assert_eq!(enc.loss_mask, [false, false, false, true, true, true]);
}

#[test]
fn conversations_without_targets_or_unstable_templates_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tok = word_tokenizer(dir.path(), WORD_TEMPLATE);
    let opts = EncodeOptions::default();
    assert!(matches!(
        encode_chat(&tok, &[], &opts),
        Err(Error::NoTarget)
    ));
    let err = encode_chat(&tok, &[Message::user("hi")], &opts).unwrap_err();
    assert!(matches!(err, Error::NoTarget), "{err:?}");

    let dir = tempfile::tempdir().unwrap();
    let counting = "<system> {{ messages|length }} <end> {% for m in messages %}<{{ m.role }}> {{ m.content }} <end> {% endfor %}";
    let tok = word_tokenizer(dir.path(), counting);
    let err = encode_chat(&tok, &two_turns(), &opts).unwrap_err();
    assert!(
        matches!(err, Error::NotPrefixStable { turn: 2, .. }),
        "{err:?}"
    );
}

/// The tiny byte-level BPE of `fixtures/tokenizer/tiny_bpe` (it has both the ChatML and the
/// Llama-3 special tokens) with the chat template `fixtures/chat_templates/<name>.jinja`.
fn bpe_with_template(name: &str, bos: Option<&str>, eos: &str) -> Tokenizer {
    let base = Tokenizer::from_dir(fixture("tokenizer/tiny_bpe")).unwrap();
    let path = fixture(&format!("chat_templates/{name}.jinja"));
    let mut config = TokenizerConfig {
        chat_templates: vec![("default".into(), std::fs::read_to_string(&path).unwrap())],
        chat_template_sources: vec![path.display().to_string()],
        ..Default::default()
    };
    config.special_tokens.bos = bos.map(str::to_string);
    config.special_tokens.eos = Some(eos.to_string());
    Tokenizer::from_parts(
        base.inner().clone(),
        config,
        GenerationConfig::default(),
        path,
    )
    .unwrap()
}

/// The runs of consecutive masked-in tokens.
fn masked_runs(enc: &Encoded) -> Vec<Vec<u32>> {
    let mut runs: Vec<Vec<u32>> = Vec::new();
    let mut prev = false;
    for (&id, &m) in enc.ids.iter().zip(&enc.loss_mask) {
        if m && !prev {
            runs.push(Vec::new());
        }
        if m {
            runs.last_mut().unwrap().push(id);
        }
        prev = m;
    }
    runs
}

/// A conversation with spaces, newlines, code, punctuation and non-ASCII text.
fn rich_conversation() -> Vec<Message> {
    vec![
        Message::system("You answer in one line."),
        Message::user("What's 2+2? Also: say café."),
        Message::assistant("2+2 = 4, and café ☕ — done!"),
        Message::user("Now code, please."),
        Message::assistant("```rust\nfn main() {\n    println!(\"hi\");\n}\n```"),
    ]
}

fn assert_targets_are_content_plus_marker(tok: &Tokenizer, marker: &str) {
    let msgs = rich_conversation();
    let enc = encode_chat(tok, &msgs, &EncodeOptions::default()).unwrap();
    let expected: Vec<String> = msgs
        .iter()
        .filter(|m| m.role == "assistant")
        .map(|m| format!("{}{marker}", m.content.as_deref().unwrap()))
        .collect();
    let decoded: Vec<String> = masked_runs(&enc)
        .iter()
        .map(|run| tok.decode_raw(run, false).unwrap())
        .collect();
    assert_eq!(decoded, expected);
    // Nothing is lost or invented: the masked and unmasked tokens make the whole rendering.
    let rendered = tok.apply_chat_template(&msgs, false).unwrap();
    assert_eq!(tok.decode_raw(&enc.ids, false).unwrap(), rendered);

    let enc = encode_chat(
        tok,
        &msgs,
        &EncodeOptions {
            mask_all_but_last_turn: true,
            ..Default::default()
        },
    )
    .unwrap();
    let runs = masked_runs(&enc);
    assert_eq!(runs.len(), 1);
    assert_eq!(tok.decode_raw(&runs[0], false).unwrap(), expected[1]);
}

#[test]
fn chatml_targets_decode_to_content_and_im_end() {
    let tok = bpe_with_template("chatml", None, "<|im_end|>");
    assert_targets_are_content_plus_marker(&tok, "<|im_end|>");
    // SmolLM2's template adds a default system turn when there is none.
    let tok = bpe_with_template("smollm2", Some("<|im_start|>"), "<|im_end|>");
    assert_targets_are_content_plus_marker(&tok, "<|im_end|>");
    let enc = encode_chat(
        &tok,
        &[Message::user("Hi"), Message::assistant("Hello.")],
        &EncodeOptions::default(),
    )
    .unwrap();
    let runs = masked_runs(&enc);
    assert_eq!(tok.decode_raw(&runs[0], false).unwrap(), "Hello.<|im_end|>");
    // The separator after the marker is scaffolding.
    assert_eq!(enc.loss_mask.last(), Some(&false));
    assert_eq!(
        tok.decode_raw(&enc.ids[enc.ids.len() - 1..], false)
            .unwrap(),
        "\n"
    );
}

#[test]
fn chatml_marker_is_found_even_when_it_is_not_the_eos() {
    // A base-model tokenizer whose EOS is `<|end_of_text|>`: the last special token in the turn
    // (`<|im_end|>`) ends it.
    let tok = bpe_with_template("chatml", None, "<|end_of_text|>");
    assert_targets_are_content_plus_marker(&tok, "<|im_end|>");
}

#[test]
fn llama3_targets_decode_to_content_and_eot() {
    let tok = bpe_with_template("llama3", Some("<|begin_of_text|>"), "<|eot_id|>");
    assert_targets_are_content_plus_marker(&tok, "<|eot_id|>");
    let enc = encode_chat(&tok, &rich_conversation(), &EncodeOptions::default()).unwrap();
    assert_eq!(
        enc.ids[0],
        tok.bos_id().unwrap(),
        "BOS once, from the template"
    );
    assert!(!enc.loss_mask[0]);
    assert_eq!(enc.ids.iter().filter(|&&id| id == enc.ids[0]).count(), 1);
}

#[test]
fn real_smollm2_tokenizer() {
    let tok = Tokenizer::from_dir(smollm2_model_dir()).unwrap();
    assert_targets_are_content_plus_marker(&tok, "<|im_end|>");
}

#[test]
fn rows_become_conversations() {
    let single = Example {
        id: "x".into(),
        instruction: "Translate to French.".into(),
        input: "Good morning".into(),
        output: "Bonjour".into(),
        ..Default::default()
    };
    assert_eq!(
        to_messages(&single),
        [
            Message::user("Translate to French.\n\nGood morning"),
            Message::assistant("Bonjour")
        ]
    );
    let no_input = Example {
        input: String::new(),
        ..single.clone()
    };
    assert_eq!(
        to_messages(&no_input)[0],
        Message::user("Translate to French.")
    );
    let chat = Example {
        messages: Some(vec![
            Turn::new(Role::System, "s"),
            Turn::new(Role::User, "u"),
            Turn::new(Role::Assistant, "a"),
            Turn::new(Role::Tool, "t"),
        ]),
        ..Default::default()
    };
    let roles: Vec<String> = to_messages(&chat).into_iter().map(|m| m.role).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);

    let tok = bpe_with_template("chatml", None, "<|im_end|>");
    let enc = encode_example(&tok, &single, &EncodeOptions::default()).unwrap();
    let runs = masked_runs(&enc);
    assert_eq!(
        tok.decode_raw(&runs[0], false).unwrap(),
        "Bonjour<|im_end|>"
    );
}
