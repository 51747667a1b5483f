//! Autoregressive generation with a KV cache: prefill once, then one token per step, with EOS,
//! max-token and caller-decided stops (stop strings, streaming) through a callback.
//!
//! Mirrors transformers' `generate()` loop (`generation/utils.py::_sample`); the tokenizer-level
//! parts (stop strings, chat templates) live in [`crate::text`].

use std::time::Instant;

use serde::Serialize;
use tracing::debug_span;

use crate::batch::TokenBatch;
use crate::error::{Error, Result};
use crate::llama::Llama;
use crate::sampling::{Sampler, SamplingConfig};

/// What the callback tells the loop after each token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop now (the token just emitted is kept).
    Stop,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// An end-of-sequence token was produced.
    Eos,
    /// `max_new_tokens` was reached.
    Length,
    /// The callback asked to stop (e.g. a stop string matched).
    Stop,
}

/// Generation settings.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Upper bound on produced tokens.
    pub max_new_tokens: usize,
    /// Token selection.
    pub sampling: SamplingConfig,
    /// Tokens that end generation (kept in the output, as transformers does).
    pub eos_ids: Vec<u32>,
}

/// The produced tokens and timings.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    /// New tokens only.
    pub tokens: Vec<u32>,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Prompt length.
    pub prompt_tokens: usize,
    /// Seconds spent on the prompt (prefill, including the first token's selection).
    pub prefill_secs: f64,
    /// Seconds spent on the remaining tokens.
    pub decode_secs: f64,
}

impl Generation {
    /// Prompt tokens per second.
    pub fn prefill_tok_s(&self) -> f64 {
        self.prompt_tokens as f64 / self.prefill_secs.max(1e-9)
    }

    /// Generated tokens per second after the first.
    pub fn decode_tok_s(&self) -> f64 {
        self.tokens.len().saturating_sub(1) as f64 / self.decode_secs.max(1e-9)
    }
}

/// Generates up to `max_new_tokens` after `prompt`, calling `on_token` for each new token.
pub fn generate(
    model: &Llama,
    prompt: &[u32],
    config: &GenerateConfig,
    on_token: &mut dyn FnMut(u32) -> Control,
) -> Result<Generation> {
    if prompt.is_empty() {
        return Err(Error::Input("the prompt has no tokens".into()));
    }
    let needed = prompt.len() + config.max_new_tokens;
    if needed > model.config().max_position_embeddings {
        return Err(Error::Input(format!(
            "prompt ({}) + max_new_tokens ({}) exceeds max_position_embeddings ({})",
            prompt.len(),
            config.max_new_tokens,
            model.config().max_position_embeddings
        )));
    }
    let mut sampler = Sampler::new(config.sampling.clone());
    let mut cache = model.new_cache();
    let mut history = prompt.to_vec();
    let mut tokens = Vec::new();
    let start = Instant::now();
    let mut prefill_secs = 0.0;
    let mut finish = FinishReason::Length;
    let mut next_input = TokenBatch::single(prompt)?;
    for step in 0..config.max_new_tokens {
        let _span = debug_span!("decode_step", step).entered();
        let mut logits = model.forward_last(&next_input, Some(&mut cache))?.data;
        let tok = sampler.sample(&mut logits, &history);
        if step == 0 {
            prefill_secs = start.elapsed().as_secs_f64();
        }
        tokens.push(tok);
        history.push(tok);
        if config.eos_ids.contains(&tok) {
            finish = FinishReason::Eos;
            break;
        }
        if on_token(tok) == Control::Stop {
            finish = FinishReason::Stop;
            break;
        }
        next_input = TokenBatch::single(&[tok])?;
    }
    let total = start.elapsed().as_secs_f64();
    Ok(Generation {
        tokens,
        finish,
        prompt_tokens: prompt.len(),
        prefill_secs,
        decode_secs: total - prefill_secs,
    })
}
