//! `perplexity`: rolling-window log-likelihood of a text, every token scored exactly once, as
//! lm-evaluation-harness' `loglikelihood_rolling` (`utils.get_rolling_token_windows` with
//! `context_len = 1` and `make_disjoint_window`), prefixed by BOS (or EOS when there is none).

use anyhow::{Context, Result, bail};
use cogumi_cli::CommonArgs;
use cogumi_model::{Llama, TokenBatch};
use serde::Serialize;

use crate::cli::PerplexityArgs;

/// One window: `input` tokens are fed, the last `scored` positions' next tokens are scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Tokens fed to the model.
    pub input: Vec<u32>,
    /// Tokens whose log-probability is summed (the targets of the last positions).
    pub targets: Vec<u32>,
}

/// Splits `tokens` into disjoint scoring windows of at most `max_len` model inputs.
///
/// The first window predicts `tokens[0..]` from `prefix`; later windows carry as much preceding
/// context as fits. Every token is a target exactly once.
pub fn rolling_windows(tokens: &[u32], prefix: u32, max_len: usize) -> Vec<Window> {
    assert!(max_len >= 1, "window length must be positive");
    let mut out = Vec::new();
    if tokens.is_empty() {
        return out;
    }
    let first = max_len.min(tokens.len());
    let mut input = vec![prefix];
    input.extend_from_slice(&tokens[..first - 1]);
    out.push(Window {
        input,
        targets: tokens[..first].to_vec(),
    });
    let mut predicted = first;
    while predicted < tokens.len() {
        let n = (tokens.len() - predicted).min(max_len);
        let end = predicted + n;
        // Input covers tokens[end - max_len - 1 .. end - 1] (as much context as fits).
        let start = (end as isize - max_len as isize - 1).max(0) as usize;
        out.push(Window {
            input: tokens[start..end - 1].to_vec(),
            targets: tokens[end - n..end].to_vec(),
        });
        predicted = end;
    }
    out
}

/// Perplexity report.
#[derive(Debug, Clone, Serialize)]
pub struct PerplexityReport {
    /// Tokens scored.
    pub tokens: usize,
    /// Whitespace-separated words in the text.
    pub words: usize,
    /// UTF-8 bytes in the text.
    pub bytes: usize,
    /// Total negative log-likelihood (nats).
    pub nll: f64,
    /// exp(nll / tokens)
    pub token_perplexity: f64,
    /// exp(nll / words), lm-eval's `word_perplexity`.
    pub word_perplexity: f64,
    /// exp(nll / bytes), lm-eval's `byte_perplexity`.
    pub byte_perplexity: f64,
    /// nll / bytes / ln 2, lm-eval's `bits_per_byte`.
    pub bits_per_byte: f64,
    /// Windows evaluated.
    pub windows: usize,
    /// Window length.
    pub max_length: usize,
    /// Tokens per second over the whole evaluation.
    pub tok_s: f64,
}

fn log_softmax_at(row: &[f32], target: u32) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
    row[target as usize] as f64 - max - sum.ln()
}

/// Total NLL of `tokens` under `model` with rolling windows.
pub fn score(model: &Llama, tokens: &[u32], prefix: u32, max_len: usize) -> Result<(f64, usize)> {
    let windows = rolling_windows(tokens, prefix, max_len);
    let mut nll = 0.0;
    for w in &windows {
        let logits = model.forward_host(&TokenBatch::single(&w.input)?, None)?;
        let t = w.input.len();
        let offset = t - w.targets.len();
        for (k, &target) in w.targets.iter().enumerate() {
            nll -= log_softmax_at(logits.row(0, offset + k), target);
        }
    }
    Ok((nll, windows.len()))
}

/// Runs the subcommand; prints a JSON report on stdout.
pub fn run(args: &PerplexityArgs, common: &CommonArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.text)
        .with_context(|| format!("reading {}", args.text.display()))?;
    let loaded = crate::model_dir::open(&args.model, &common.device)?;
    let Some(tokenizer) = loaded.tokenizer.as_ref() else {
        bail!(
            "{} has no tokenizer.json; perplexity needs one",
            args.model.model.display()
        );
    };
    let config = loaded.model.config();
    let prefix = config
        .bos_token_id
        .or(tokenizer.bos_id())
        .or(config.eos_token_ids.first().copied())
        .context("the model has neither a BOS nor an EOS token to prefix the text with")?;
    let tokens = tokenizer.encode(&text, false)?;
    let max_length = args
        .max_length
        .unwrap_or(config.max_position_embeddings.min(2048));
    let start = std::time::Instant::now();
    let (nll, windows) = score(&loaded.model, &tokens, prefix, max_length)?;
    let secs = start.elapsed().as_secs_f64();
    let words = text.split_whitespace().count().max(1);
    let bytes = text.len().max(1);
    let report = PerplexityReport {
        tokens: tokens.len(),
        words,
        bytes,
        nll,
        token_perplexity: (nll / tokens.len().max(1) as f64).exp(),
        word_perplexity: (nll / words as f64).exp(),
        byte_perplexity: (nll / bytes as f64).exp(),
        bits_per_byte: nll / bytes as f64 / std::f64::consts::LN_2,
        windows,
        max_length,
        tok_s: tokens.len() as f64 / secs.max(1e-9),
    };
    let _ = common;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_is_scored_once_with_maximal_context() {
        let tokens: Vec<u32> = (10..27).collect(); // 17 tokens
        for max_len in 1..20 {
            let w = rolling_windows(&tokens, 1, max_len);
            let targets: Vec<u32> = w.iter().flat_map(|w| w.targets.clone()).collect();
            assert_eq!(targets, tokens, "max_len {max_len}");
            for win in &w {
                assert!(win.input.len() <= max_len);
                assert!(win.targets.len() <= win.input.len());
            }
        }
        // Hand-derived for max_len 8: inputs [1, 10..=16] score 10..=17; [17..=24] score 18..=25; ...
        let w = rolling_windows(&tokens, 1, 8);
        assert_eq!(w[0].input, vec![1, 10, 11, 12, 13, 14, 15, 16]);
        assert_eq!(w[1].input, (17..25).collect::<Vec<_>>());
        assert_eq!(w[1].targets, (18..26).collect::<Vec<_>>());
        assert_eq!(w[2].targets, vec![26]);
        assert_eq!(w[2].input, (18..26).collect::<Vec<_>>());
    }
}
