//! Conformance of the task engine + burn backend with lm-evaluation-harness 0.4.13 (HFLM,
//! transformers 4.57.1) on SmolLM2-135M: prompts equal lm-eval's strings, tokens equal its
//! `_encode_pair`, per-choice log-likelihoods agree within 1e-3, and acc/acc_norm are equal —
//! on a fixed subset of MMLU (5-shot), ARC-Easy/Challenge and HellaSwag (0-shot).
//! Fixture: `fixtures/eval/loglik/reference.json` from `fixtures/gen/eval_loglik.py`.

use cogumi_eval::TaskDef;
use cogumi_eval::docs::preprocess;
use cogumi_eval::metrics::choice_scores;
use cogumi_eval::prompt::{PromptBuilder, Target};
use cogumi_model::{DType, DeviceSpec, LoadOptions};
use cogumi_testkit::{fixture, smollm2_model_dir};
use phase9_validation::burn_backend::BurnBackend;
use serde_json::Value;

fn backend() -> BurnBackend {
    let dir = smollm2_model_dir();
    let opts = LoadOptions {
        device: "cpu".parse::<DeviceSpec>().unwrap(),
        dtype: Some(DType::F32),
    };
    let model = cogumi_model::load(&dir, &opts).unwrap();
    let tok = cogumi_tokenizer::Tokenizer::from_dir(&dir).unwrap();
    BurnBackend::new(model, tok, "test".into()).unwrap()
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture("eval/loglik/reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn loglikelihoods_prompts_and_accuracies_match_lm_eval() {
    let reference = reference();
    let mut b = backend();
    let mut worst = 0.0f64;
    for task in reference["tasks"].as_array().unwrap() {
        let name = task["task"].as_str().unwrap();
        let def = TaskDef::builtin(name).unwrap();
        let builder = PromptBuilder::new(&def);
        let (mut acc, mut acc_norm, mut n) = (0.0, 0.0, 0.0);
        for (i, entry) in task["docs"].as_array().unwrap().iter().enumerate() {
            let doc = preprocess(def.process_docs.as_deref(), entry["doc"].clone()).unwrap();
            let shots: Vec<Value> = entry
                .get("fewshot_docs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                shots.len(),
                def.num_fewshot,
                "{name} doc {i}: few-shot count"
            );
            let context = builder.context(&doc, &shots).unwrap();
            let conts = builder.continuations(&doc).unwrap();
            let requests = entry["requests"].as_array().unwrap();
            assert_eq!(conts.len(), requests.len(), "{name} doc {i}: choices");
            let mut lls = Vec::new();
            for (cont, r) in conts.iter().zip(requests) {
                assert_eq!(
                    context,
                    r["context"].as_str().unwrap(),
                    "{name} doc {i}: context"
                );
                assert_eq!(cont, r["continuation"].as_str().unwrap(), "{name} doc {i}");
                let (ctx_t, cont_t) = b.encode_pair(&context, cont).unwrap();
                assert_eq!(
                    ctx_t,
                    u32s(&r["context_tokens"]),
                    "{name} doc {i}: context tokens"
                );
                assert_eq!(
                    cont_t,
                    u32s(&r["continuation_tokens"]),
                    "{name} doc {i}: continuation tokens"
                );
                let ours = b.score(&context, cont).unwrap();
                let expected = r["loglikelihood"].as_f64().unwrap();
                let diff = (ours.logprob - expected).abs();
                worst = worst.max(diff);
                assert!(
                    diff < 1e-3,
                    "{name} doc {i} {cont:?}: {} vs lm-eval {expected}",
                    ours.logprob
                );
                assert_eq!(
                    ours.is_greedy,
                    r["is_greedy"].as_bool().unwrap(),
                    "{name} doc {i} {cont:?}: is_greedy"
                );
                lls.push(ours.logprob);
            }
            let Target::Index(gold) = builder.target(&doc).unwrap() else {
                panic!("{name}: text target")
            };
            assert_eq!(
                gold as u64,
                entry["target"].as_u64().unwrap(),
                "{name} doc {i}: target"
            );
            let s = choice_scores(&lls, &builder.choices(&doc).unwrap(), gold);
            assert_eq!(s.acc, entry["acc"].as_f64().unwrap(), "{name} doc {i}: acc");
            assert_eq!(
                s.acc_norm,
                entry["acc_norm"].as_f64().unwrap(),
                "{name} doc {i}: acc_norm"
            );
            acc += s.acc;
            acc_norm += s.acc_norm;
            n += 1.0;
        }
        assert_eq!(
            acc / n,
            task["acc"].as_f64().unwrap(),
            "{name}: aggregate acc"
        );
        assert_eq!(
            acc_norm / n,
            task["acc_norm"].as_f64().unwrap(),
            "{name}: aggregate acc_norm"
        );
    }
    eprintln!("worst |Δ loglikelihood| vs lm-eval: {worst:.2e}");
    // Prefix reuse did real work: MMLU's shared 5-shot prefix and the shared contexts of choices.
    assert!(
        b.stats.computed_tokens * 2 < b.stats.requested_tokens,
        "{:?}",
        b.stats
    );
}

#[test]
fn prefix_reuse_gives_the_same_scores_as_fresh_computation() {
    let reference = reference();
    let task = &reference["tasks"][0];
    let entry = &task["docs"][1];
    let r = &entry["requests"][2];
    let (ctx, cont) = (
        r["context"].as_str().unwrap(),
        r["continuation"].as_str().unwrap(),
    );
    let mut warm = backend();
    // Warm the cache with a different question of the same subject (shared few-shot prefix).
    let other = &task["docs"][0]["requests"][0];
    warm.score(
        other["context"].as_str().unwrap(),
        other["continuation"].as_str().unwrap(),
    )
    .unwrap();
    let reused = warm.score(ctx, cont).unwrap();
    let fresh = backend().score(ctx, cont).unwrap();
    assert!(
        (reused.logprob - fresh.logprob).abs() < 1e-4,
        "{reused:?} vs {fresh:?}"
    );
    assert_eq!(reused.is_greedy, fresh.is_greedy);
    assert!(warm.stats.computed_tokens < warm.stats.requested_tokens);
}

#[test]
fn packed_scoring_of_whole_tasks_matches_lm_eval() {
    use cogumi_eval::{Backend, LoglikelihoodRequest};
    let reference = reference();
    let mut b = backend();
    for task in reference["tasks"].as_array().unwrap() {
        let name = task["task"].as_str().unwrap();
        let mut requests = Vec::new();
        let mut expected = Vec::new();
        for entry in task["docs"].as_array().unwrap() {
            for r in entry["requests"].as_array().unwrap() {
                requests.push(LoglikelihoodRequest {
                    context: r["context"].as_str().unwrap().to_string(),
                    continuation: r["continuation"].as_str().unwrap().to_string(),
                });
                expected.push((
                    r["loglikelihood"].as_f64().unwrap(),
                    r["is_greedy"].as_bool().unwrap(),
                ));
            }
        }
        let before = b.stats;
        let got = b.loglikelihood(&requests, &|_| {}).unwrap();
        for (i, (g, (want, greedy))) in got.iter().zip(&expected).enumerate() {
            assert!(
                (g.logprob - want).abs() < 1e-3,
                "{name} request {i}: {} vs lm-eval {want}",
                g.logprob
            );
            assert_eq!(g.is_greedy, *greedy, "{name} request {i}: is_greedy");
        }
        if name.starts_with("mmlu") {
            // The questions share their 5-shot prefix: their remainders were packed, so far
            // fewer tokens ran than were requested.
            let (run, asked) = (
                b.stats.computed_tokens - before.computed_tokens,
                b.stats.requested_tokens - before.requested_tokens,
            );
            assert!(run * 3 < asked, "{name}: ran {run} of {asked} tokens");
        }
    }
}
