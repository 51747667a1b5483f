//! The burn model as an evaluation [`Backend`]: lm-evaluation-harness' HFLM semantics
//! (`models/huggingface.py`: `_encode_pair`, `_loglikelihood_tokens`, greedy `generate_until`)
//! with shared-prefix reuse — a KV cache kept across requests is rolled back to the longest
//! common token prefix, and the logits at the end of a context are kept, so the choices of one
//! question and the questions sharing few-shot examples are not recomputed — and packing: runs
//! of requests whose inputs share a long prefix (a subject's 5-shot examples) are scored in one
//! pass, their remainders packed as separate documents after the cached prefix.

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

    /// lm-eval `_loglikelihood_tokens` for one row: the model input `inp` (the window of
    /// context + continuation without its last token), the index in `inp` of the first
    /// position whose logits score the continuation, and the continuation tokens.
    fn encode_request(&self, context: &str, continuation: &str) -> Result<Encoded, EvalError> {
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
        let inp = full[full.len() - keep..full.len() - 1].to_vec();
        if cont.len() > inp.len() {
            return Err(err("continuation longer than the model's window"));
        }
        let first = inp.len() - cont.len();
        Ok(Encoded { inp, first, cont })
    }

    /// Scores one request (lm-eval `_loglikelihood_tokens` for one row).
    pub fn score(&mut self, context: &str, continuation: &str) -> Result<Loglikelihood, EvalError> {
        let e = self.encode_request(context, continuation)?;
        let rows = self.tail_logits(&e.inp, e.first)?;
        Ok(e.judge(rows.iter().map(Vec::as_slice)))
    }

    /// Scores `reqs` (several continuations of one long shared prefix of `shared` tokens) in
    /// one pass: the prefix from the cache, the distinct inputs' remainders packed as separate
    /// documents of one row that all attend to it, logits only where a continuation is scored.
    fn score_packed(
        &mut self,
        reqs: &[Encoded],
        shared: usize,
    ) -> Result<Vec<Loglikelihood>, EvalError> {
        let prefix = &reqs[0].inp[..shared];
        self.tail_logits(prefix, shared - 1)?;
        // Counted below with the whole inputs.
        self.stats.requested_tokens -= shared as u64;
        let mut cache = self.cache.take().expect("tail_logits leaves a cache");
        let mut distinct: Vec<&[u32]> = Vec::new();
        let mut which = Vec::with_capacity(reqs.len());
        for r in reqs {
            let k = match distinct.iter().position(|d| *d == r.inp.as_slice()) {
                Some(k) => k,
                None => {
                    distinct.push(&r.inp);
                    distinct.len() - 1
                }
            };
            which.push(k);
        }
        let (mut ids, mut seg, mut starts) = (Vec::new(), Vec::new(), Vec::new());
        for (k, d) in distinct.iter().enumerate() {
            starts.push(ids.len());
            ids.extend_from_slice(&d[shared..]);
            seg.extend(std::iter::repeat_n(k as u32 + 1, d.len() - shared));
        }
        // Flat positions of every scored row, each once.
        let mut at: Vec<usize> = Vec::new();
        let mut index: HashMap<usize, usize> = HashMap::new();
        for (r, &k) in reqs.iter().zip(&which) {
            for p in r.first..r.inp.len() {
                let flat = starts[k] + p - shared;
                index.entry(flat).or_insert_with(|| {
                    at.push(flat);
                    at.len() - 1
                });
            }
        }
        let n = ids.len();
        let batch = TokenBatch::packed(ids, seg, 1, n).map_err(err)?;
        let logits = self
            .model
            .forward_rows(&batch, Some(&mut cache.kv), &at)
            .map_err(err)?;
        self.stats.computed_tokens += n as u64;
        self.stats.requested_tokens += reqs.iter().map(|r| r.inp.len() as u64).sum::<u64>();
        // The packed remainders are not a sequence: roll the cache back to the prefix.
        cache.kv.truncate(shared);
        cache.tokens.truncate(shared);
        cache.logits.retain(|p, _| *p < shared);
        self.cache = Some(cache);
        Ok(reqs
            .iter()
            .zip(&which)
            .map(|(r, &k)| {
                let rows =
                    (r.first..r.inp.len()).map(|p| logits.row(0, index[&(starts[k] + p - shared)]));
                r.judge(rows)
            })
            .collect())
    }
}

/// One encoded log-likelihood request.
struct Encoded {
    inp: Vec<u32>,
    first: usize,
    cont: Vec<u32>,
}

impl Encoded {
    /// Summed log-probability of the continuation and whether it is the greedy one, from the
    /// logits rows at positions `first..inp.len()`.
    fn judge<'a>(&self, rows: impl Iterator<Item = &'a [f32]>) -> Loglikelihood {
        let (mut logprob, mut greedy) = (0.0, true);
        for (row, &target) in rows.zip(&self.cont) {
            let (lp, g) = log_softmax_at(row, target);
            logprob += lp;
            greedy &= g;
        }
        Loglikelihood {
            logprob,
            is_greedy: greedy,
            tokens: self.cont.len(),
        }
    }
}

/// Packing limits: distinct inputs and packed tokens per pass.
const PACK_MAX_INPUTS: usize = 16;
const PACK_MAX_TOKENS: usize = 1536;
/// A shared prefix worth packing after: at least this many tokens and half the shortest input.
const PACK_MIN_PREFIX: usize = 32;

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The longest run `reqs[i..j]` worth scoring in one packed pass, and its shared prefix length;
/// `None` when `reqs[i]` is best scored alone.
fn pack_group(reqs: &[Encoded], i: usize) -> Option<(usize, usize)> {
    let first = &reqs[i].inp;
    let (mut shared, mut j) = (first.len(), i + 1);
    let mut distinct: Vec<&[u32]> = vec![first];
    while j < reqs.len() {
        let r = &reqs[j];
        // Another choice of an input already in the group costs nothing more.
        if distinct.contains(&r.inp.as_slice()) {
            j += 1;
            continue;
        }
        let s = shared.min(common_prefix(first, &r.inp));
        let shortest = distinct
            .iter()
            .map(|d| d.len())
            .chain([r.inp.len()])
            .min()
            .unwrap_or(0);
        // Every scored position must lie after the prefix (each remainder non-empty).
        let min_first = reqs[i..=j].iter().map(|q| q.first).min().unwrap_or(0);
        let tokens: usize = distinct.iter().map(|d| d.len() - s).sum::<usize>() + r.inp.len() - s;
        if s < PACK_MIN_PREFIX
            || 2 * s < shortest
            || min_first < s
            || tokens > PACK_MAX_TOKENS
            || distinct.len() == PACK_MAX_INPUTS
        {
            break;
        }
        distinct.push(&r.inp);
        shared = s;
        j += 1;
    }
    (distinct.len() > 1).then_some((j, shared))
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
        let enc: Vec<Encoded> = requests
            .iter()
            .map(|r| self.encode_request(&r.context, &r.continuation))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(enc.len());
        let mut i = 0;
        while i < enc.len() {
            match pack_group(&enc, i) {
                Some((j, shared)) => {
                    out.extend(self.score_packed(&enc[i..j], shared)?);
                    progress(j - i);
                    i = j;
                }
                None => {
                    let e = &enc[i];
                    let rows = self.tail_logits(&e.inp, e.first)?;
                    out.push(e.judge(rows.iter().map(Vec::as_slice)));
                    progress(1);
                    i += 1;
                }
            }
        }
        Ok(out)
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
