//! The embedded default, SmolLM2-135M-Instruct imported from its Q4_1 GGUF, against transformers
//! 4.57.1 loading the same GGUF (`gguf_file=`; `fixtures/gen/smollm2_logits.py`): logits of a
//! 24-token prompt, greedy continuations of a plain and a chat prompt, and the chat template.
//! Needs `cargo xtask fetch-model smollm2` (the README's test command runs it first).

use cogumi_model::{
    Control, GenerateConfig, LoadOptions, SamplingConfig, TokenBatch, generate, load,
};
use cogumi_testkit::{assert_close, fixture, read_tensor, smollm2_model_dir};
use cogumi_tokenizer::{Message, Tokenizer};

fn expected(name: &str) -> cogumi_testkit::FixtureTensor {
    read_tensor(&fixture("smollm2/expected.safetensors"), name)
}

fn prompts() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("smollm2/prompts.json")).unwrap())
        .unwrap()
}

fn greedy(n: usize) -> GenerateConfig {
    GenerateConfig {
        max_new_tokens: n,
        sampling: SamplingConfig::default(),
        eos_ids: vec![],
    }
}

#[test]
fn smollm2_logits_and_greedy_match_transformers_on_the_same_gguf() {
    let dir = smollm2_model_dir();
    let model = load(&dir, &LoadOptions::default()).unwrap();
    let ids = expected("prompt_ids").u32();
    let logits = model
        .forward_host(&TokenBatch::single(&ids).unwrap(), None)
        .unwrap();
    let v = logits.vocab;
    assert_eq!(v, 49152);
    // Full rows for the last four positions.
    let tail = expected("logits_tail").f32();
    for k in 0..4 {
        let t = ids.len() - 4 + k;
        assert_close(
            logits.row(0, t),
            &tail[k * v..(k + 1) * v],
            1e-3,
            &format!("position {t}"),
        );
    }
    // Top-20 ids and values at every position.
    let top_ids = expected("top_ids").u32();
    let top_logits = expected("top_logits").f32();
    for t in 0..ids.len() {
        let row = logits.row(0, t);
        for k in 0..20 {
            let id = top_ids[t * 20 + k] as usize;
            let want = top_logits[t * 20 + k];
            assert!(
                (row[id] - want).abs() <= 1e-3,
                "position {t}, token {id}: {} vs {want}",
                row[id]
            );
        }
        assert_eq!(
            cogumi_model::sampling::argmax(row),
            top_ids[t * 20],
            "argmax at {t}"
        );
    }
    let want = expected("greedy_ids").u32();
    let out = generate(&model, &ids, &greedy(want.len() - ids.len()), &mut |_| {
        Control::Continue
    })
    .unwrap();
    assert_eq!(out.tokens, want[ids.len()..]);
}

#[test]
fn smollm2_chat_template_and_greedy_answer_match_transformers() {
    let dir = smollm2_model_dir();
    let tok = Tokenizer::from_dir(&dir).unwrap();
    let p = prompts();
    let text = tok
        .apply_chat_template(&[Message::user("What is 2+2?")], true)
        .unwrap();
    assert_eq!(text, p["chat"]["text"].as_str().unwrap());
    // The rendered text starts with `<|im_start|>` itself; like transformers, no second BOS.
    let want_ids = expected("chat_ids").u32();
    let ids = tok
        .apply_chat_template_ids(&[Message::user("What is 2+2?")], true)
        .unwrap();
    assert_eq!(ids, want_ids);
    let model = load(&dir, &LoadOptions::default()).unwrap();
    let want = expected("chat_greedy_ids").u32();
    let out = generate(
        &model,
        &want_ids,
        &greedy(want.len() - want_ids.len()),
        &mut |_| Control::Continue,
    )
    .unwrap();
    assert_eq!(out.tokens, want[want_ids.len()..]);
    let eos = p["chat"]["eos_in_answer_at"].as_u64().unwrap() as usize;
    let answer = tok.decode(&out.tokens[..eos], true).unwrap();
    assert_eq!(answer, p["chat"]["answer_text_until_eos"].as_str().unwrap());
}
