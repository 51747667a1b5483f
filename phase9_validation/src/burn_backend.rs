//! The burn model as an evaluation [`Backend`]: lm-evaluation-harness' HFLM semantics
//! (`models/huggingface.py`: `_encode_pair`, `_loglikelihood_tokens`, greedy `generate_until`)
//! with shared-prefix reuse — a KV cache kept across requests is rolled back to the longest
//! common token prefix, and the logits at the end of a context are kept, so the choices of one
//! question and the questions sharing few-shot examples are not recomputed.

use std::collections::HashMap;

use cogumi_eval::backend::{Progress, split_trailing_whitespace};
use cogumi_eval::{
    Backend, Error as EvalError, GeneratePrompt, GenerateRequest, Loglikelihood,
    LoglikelihoodRequest, RollingLoglikelihood,
};
use cogumi_model::text::{Prompt, generate_text};
use cogumi_model::{GenerateConfig, KvCache, Llama, SamplingConfig, TokenBatch};
use cogumi_tokenizer::{Message, Tokenizer};

/// Counters that show how much work prefix reuse saved.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ReuseStats {
    /// Tokens the requests would feed without reuse.
    pub requested_tokens: u64,
    /// Tokens actually run through the model.
    pub computed_tokens: u64,
}

/// The KV cache of the last sequence fed, and logits kept at chosen positions.
struct PrefixCache {
    tokens: Vec<u32>,
    kv: KvCache,
    logits: HashMap<usize, Vec<f32>>,
}

/// A loaded model and tokenizer answering lm-eval requests.
pub struct BurnBackend {
    model: Llama,
    tokenizer: Tokenizer,
    max_length: usize,
    prefix_token: u32,
    label: String,
    cache: Option<PrefixCache>,
    /// Work saved by prefix reuse.
    pub stats: ReuseStats,
}

fn err(reason: impl std::fmt::Display) -> EvalError {
    EvalError::Backend {
        backend: "burn".into(),
        reason: reason.to_string(),
    }
}

fn log_softmax_at(row: &[f32], target: u32) -> (f64, bool) {
    let (mut max, mut arg) = (f32::NEG_INFINITY, 0usize);
    for (i, &x) in row.iter().enumerate() {
        if x > max {
            max = x;
            arg = i;
        }
    }
    let sum: f64 = row.iter().map(|&x| ((x - max) as f64).exp()).sum();
    (
        row[target as usize] as f64 - max as f64 - sum.ln(),
        arg == target as usize,
    )
}

impl BurnBackend {
    /// Wraps a model; `max_length` caps the scored window as lm-eval's `max_length`.
    pub fn new(model: Llama, tokenizer: Tokenizer, label: String) -> anyhow::Result<Self> {
        let config = model.config();
        let max_length = config.max_position_embeddings.min(2048);
        // lm-eval's `prefix_token_id`: the EOT token (BOS when there is no EOS).
        let prefix_token = config
            .eos_token_ids
            .first()
            .copied()
            .or(tokenizer.eos_ids().first().copied())
            .or(config.bos_token_id)
            .ok_or_else(|| anyhow::anyhow!("the model has neither an EOS nor a BOS token"))?;
        Ok(BurnBackend {
            model,
            tokenizer,
            max_length,
            prefix_token,
            label,
            cache: None,
            stats: ReuseStats::default(),
        })
    }

    /// The model.
    pub fn model(&self) -> &Llama {
        &self.model
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, EvalError> {
        self.tokenizer.encode(text, false).map_err(err)
    }

    /// lm-eval `_encode_pair`: context and continuation tokens, the continuation being the
    /// tail of the whole string's encoding.
    pub fn encode_pair(
        &self,
        context: &str,
        continuation: &str,
    ) -> Result<(Vec<u32>, Vec<u32>), EvalError> {
        if context.is_empty() {
            return Ok((vec![self.prefix_token], self.encode(continuation)?));
        }
        let (context, continuation) = split_trailing_whitespace(context, continuation);
        let whole = self.encode(&format!("{context}{continuation}"))?;
        let ctx = self.encode(context)?;
        let cont = whole.get(ctx.len()..).unwrap_or_default().to_vec();
        Ok((ctx, cont))
    }

    /// Logits for positions `from..inp.len()` of `inp`, reusing the cache.
    fn tail_logits(&mut self, inp: &[u32], from: usize) -> Result<Vec<Vec<f32>>, EvalError> {
        let mut cache = self.cache.take().unwrap_or_else(|| PrefixCache {
            tokens: Vec::new(),
            kv: self.model.new_cache(),
            logits: HashMap::new(),
        });
        let common = cache
            .tokens
            .iter()
            .zip(inp)
            .take_while(|(a, b)| a == b)
            .count();
        // Keep what is shared; positions we hold logits for need no recomputation.
        let mut out: Vec<Vec<f32>> = Vec::new();
        let mut start = common.min(from);
        if common > from
            && let Some(l) = cache.logits.get(&from)
        {
            out.push(l.clone());
            start = from + 1;
        }
        let start = start.min(inp.len());
        cache.kv.truncate(start);
        cache.tokens.truncate(start);
        cache.logits.retain(|p, _| *p < start);
        self.stats.requested_tokens += inp.len() as u64;
        if start < inp.len() {
            let feed = &inp[start..];
            let need = inp.len() - from - out.len();
            let batch = TokenBatch::single(feed).map_err(err)?;
            let logits = self
                .model
                .forward_tail(&batch, Some(&mut cache.kv), need)
                .map_err(err)?;
            self.stats.computed_tokens += feed.len() as u64;
            for k in 0..logits.seq {
                out.push(logits.row(0, k).to_vec());
            }
            cache.tokens.extend_from_slice(feed);
        }
        cache.logits.insert(from, out[0].clone());
        if let Some(last) = out.last() {
            cache.logits.insert(inp.len() - 1, last.clone());
        }
        self.cache = Some(cache);
        Ok(out)
    }

    /// Scores one request (lm-eval `_loglikelihood_tokens` for one row).
    pub fn score(&mut self, context: &str, continuation: &str) -> Result<Loglikelihood, EvalError> {
        let (ctx, cont) = self.encode_pair(context, continuation)?;
        if cont.is_empty() {
            return Err(err(format!(
                "continuation {continuation:?} encodes to no tokens"
            )));
        }
        let mut full = ctx;
        full.extend_from_slice(&cont);
        // lm-eval: inp = (context_enc + continuation_enc)[-(max_length+1):][:-1]
        let keep = full.len().min(self.max_length + 1);
        let inp = &full[full.len() - keep..full.len() - 1];
        let from = inp.len() + 1 - cont.len();
        if cont.len() > inp.len() {
            return Err(err("continuation longer than the model's window"));
        }
        let rows = self.tail_logits(inp, from - 1)?;
        let (mut logprob, mut greedy) = (0.0, true);
        for (row, &target) in rows.iter().zip(&cont) {
            let (lp, g) = log_softmax_at(row, target);
            logprob += lp;
            greedy &= g;
        }
        Ok(Loglikelihood {
            logprob,
            is_greedy: greedy,
            tokens: cont.len(),
        })
    }
}

impl Backend for BurnBackend {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn work_summary(&self) -> Option<String> {
        let s = self.stats;
        (s.requested_tokens > 0).then(|| {
            format!(
                "log-likelihood scoring ran {} of {} requested tokens through the model (shared-prefix reuse)",
                s.computed_tokens, s.requested_tokens
            )
        })
    }

    fn loglikelihood(
        &mut self,
        requests: &[LoglikelihoodRequest],
        progress: Progress<'_>,
    ) -> Result<Vec<Loglikelihood>, EvalError> {
        requests
            .iter()
            .map(|r| {
                let out = self.score(&r.context, &r.continuation);
                progress(1);
                out
            })
            .collect()
    }

    fn loglikelihood_rolling(
        &mut self,
        texts: &[String],
        progress: Progress<'_>,
    ) -> Result<Vec<RollingLoglikelihood>, EvalError> {
        texts
            .iter()
            .map(|t| {
                let tokens = self.encode(t)?;
                let (nll, _) = crate::perplexity::score(
                    &self.model,
                    &tokens,
                    self.prefix_token,
                    self.max_length,
                )
                .map_err(err)?;
                progress(1);
                Ok(RollingLoglikelihood {
                    logprob: -nll,
                    tokens: tokens.len(),
                })
            })
            .collect()
    }

    fn generate_until(
        &mut self,
        requests: &[GenerateRequest],
        progress: Progress<'_>,
    ) -> Result<Vec<String>, EvalError> {
        requests
            .iter()
            .map(|r| {
                let ids = match &r.prompt {
                    GeneratePrompt::Text(t) => self.encode(t)?,
                    GeneratePrompt::Chat { system, user } => {
                        let mut m = Vec::new();
                        if let Some(s) = system {
                            m.push(Message::new("system", s));
                        }
                        m.push(Message::new("user", user));
                        self.tokenizer
                            .apply_chat_template_ids(&m, true)
                            .map_err(err)?
                    }
                };
                let config = GenerateConfig {
                    max_new_tokens: r.max_new_tokens,
                    sampling: SamplingConfig {
                        greedy: r.temperature <= 0.0,
                        temperature: r.temperature,
                        top_p: r.top_p,
                        seed: r.seed,
                        ..SamplingConfig::default()
                    },
                    eos_ids: self.tokenizer.eos_ids().to_vec(),
                };
                let g = generate_text(
                    &self.model,
                    Some(&self.tokenizer),
                    &Prompt::Ids(ids),
                    &config,
                    &r.until,
                    &mut |_| {},
                )
                .map_err(err)?;
                progress(1);
                Ok(g.text.unwrap_or_default())
            })
            .collect()
    }
}
