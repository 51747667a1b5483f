//! `speed`: prefill and decode throughput of a model on this machine (best of N runs), the
//! figure the seed plan gates on (> 50 tok/s) and `cargo xtask bench model` compares with PyTorch;
//! also time to first token and peak RSS, which `run --speed` stores in the results.

use std::time::Instant;

use anyhow::Result;
use cogumi_cli::CommonArgs;
use cogumi_eval::SpeedResult;
use cogumi_model::{Control, GenerateConfig, SamplingConfig, TokenBatch, generate};
use serde::Serialize;

use crate::cli::SpeedArgs;

/// Measured throughput.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedReport {
    /// Prompt length used for prefill.
    pub prompt_tokens: usize,
    /// Tokens generated for decode.
    pub new_tokens: usize,
    /// Best prefill throughput (tokens/s).
    pub prefill_tok_s: f64,
    /// Best decode throughput (tokens/s, KV cache, greedy).
    pub decode_tok_s: f64,
    /// Best time to first token on the prompt (prefill + first token), milliseconds.
    pub ttft_ms: f64,
    /// Peak resident memory of the process, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Runs measured (after one warm-up).
    pub repeats: usize,
    /// Threads available to the backend.
    pub threads: usize,
}

/// Deterministic prompt ids: the tokenised bundled text when a tokenizer exists, repeated to
/// length; otherwise a fixed stride through the vocabulary.
fn prompt_ids(loaded: &crate::model_dir::LoadedModel, n: usize) -> Result<Vec<u32>> {
    let vocab = loaded.model.config().vocab_size as u32;
    let mut ids = match &loaded.tokenizer {
        Some(t) => t.encode(SPEED_TEXT, false)?,
        None => Vec::new(),
    };
    if ids.is_empty() {
        ids = (0..n as u32).map(|i| (i * 7919 + 13) % vocab).collect();
    }
    let base = ids.clone();
    while ids.len() < n {
        ids.extend_from_slice(&base);
    }
    ids.truncate(n);
    Ok(ids)
}

const SPEED_TEXT: &str = include_str!("../../data/english.txt");

/// Measures prefill (and time to first token) on a `prompt_tokens` prompt and greedy decode of
/// `new_tokens`; best of `repeats` runs after one warm-up.
pub fn measure(
    loaded: &crate::model_dir::LoadedModel,
    prompt_tokens: usize,
    new_tokens: usize,
    repeats: usize,
    mode: &str,
) -> Result<SpeedResult> {
    let ids = prompt_ids(loaded, prompt_tokens)?;
    let model = &loaded.model;
    let (mut best_prefill, mut best_decode, mut best_ttft) = (0.0f64, 0.0f64, f64::INFINITY);
    let batch = TokenBatch::single(&ids)?;
    for run in 0..=repeats {
        let start = Instant::now();
        model.forward_last(&batch, None)?;
        let secs = start.elapsed().as_secs_f64();
        let prefill = ids.len() as f64 / secs;
        let config = GenerateConfig {
            max_new_tokens: new_tokens,
            sampling: SamplingConfig::default(),
            eos_ids: vec![],
        };
        let short = &ids[..ids.len().min(16)];
        let g = generate(model, short, &config, &mut |_| Control::Continue)?;
        let decode = g.decode_tok_s();
        tracing::info!(
            run,
            prefill_tok_s = prefill,
            decode_tok_s = decode,
            "speed run"
        );
        if run > 0 || repeats == 0 {
            best_prefill = best_prefill.max(prefill);
            best_decode = best_decode.max(decode);
            best_ttft = best_ttft.min(secs * 1000.0);
        }
    }
    Ok(SpeedResult {
        mode: format!("{mode}, {} threads", rayon_threads()),
        prefill_tok_s: best_prefill,
        decode_tok_s: best_decode,
        ttft_ms: best_ttft,
        peak_rss_bytes: cogumi_cli::peak_rss_bytes(),
        prompt_tokens: ids.len(),
        new_tokens,
    })
}

/// Runs the subcommand; prints the report as JSON on stdout.
pub fn run(args: &SpeedArgs, common: &CommonArgs) -> Result<()> {
    let loaded = crate::model_dir::open(&args.model, &common.device)?;
    let r = measure(
        &loaded,
        args.prompt_tokens,
        args.new_tokens,
        args.repeats,
        &args.model.dtype,
    )?;
    let report = SpeedReport {
        prompt_tokens: r.prompt_tokens,
        new_tokens: r.new_tokens,
        prefill_tok_s: r.prefill_tok_s,
        decode_tok_s: r.decode_tok_s,
        ttft_ms: r.ttft_ms,
        peak_rss_bytes: r.peak_rss_bytes,
        repeats: args.repeats,
        threads: rayon_threads(),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
