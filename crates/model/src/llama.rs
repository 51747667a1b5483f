//! The Llama decoder (Llama 2/3/3.1/3.2, SmolLM2, TinyLlama) as HF transformers defines it:
//! RMSNorm, rotate-half RoPE (with `llama3` scaling), GQA/MQA attention, SwiGLU MLP, tied or
//! untied embeddings, explicit `head_dim`, left padding and a KV cache.
//!
//! Follows transformers `models/llama/modeling_llama.py` (order: config → cache → attention →
//! MLP → block → model, as candle's `llama.rs`). Module field names are HF's, so checkpoint names
//! map one to one (`model.layers.N.self_attn.q_proj.weight`).

use burn::module::{Module, Param};
use burn::tensor::activation::silu;
use burn::tensor::module::{attention, embedding};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Device, Int, Tensor, TensorData};

use std::sync::OnceLock;

use crate::batch::TokenBatch;
use crate::config::LlamaConfig;
use crate::error::{Error, Result};
use crate::host::{HostModel, Output, Step};
use crate::kv_cache::{HostKv, KvCache};
use crate::linear::Linear;
use crate::rope::{self, RopeTable};

/// RMSNorm: `x / sqrt(mean(x²) + eps) · weight`, computed in f32 as HF does.
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// `[hidden]`
    pub weight: Param<Tensor<1>>,
    #[module(skip)]
    eps: f64,
}

impl RmsNorm {
    /// Wraps a weight `[hidden]`.
    pub fn new(weight: Tensor<1>, eps: f64) -> Self {
        RmsNorm {
            weight: Param::from_tensor(weight),
            eps,
        }
    }

    /// # Shapes
    /// - `x`: `[B, T, hidden]` → `[B, T, hidden]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        let x32 = if dtype == DType::F32 {
            x
        } else {
            x.cast(DType::F32)
        };
        let var = x32.clone().square().mean_dim(2);
        let normed = x32 * (var + self.eps).sqrt().recip();
        let normed = if dtype == DType::F32 {
            normed
        } else {
            normed.cast(dtype)
        };
        normed * self.weight.val().unsqueeze::<3>()
    }
}

/// Multi-head attention with grouped key/value heads.
#[derive(Module, Debug)]
pub struct Attention {
    /// `hidden → n_heads·head_dim`
    pub q_proj: Linear,
    /// `hidden → n_kv·head_dim`
    pub k_proj: Linear,
    /// `hidden → n_kv·head_dim`
    pub v_proj: Linear,
    /// `n_heads·head_dim → hidden`
    pub o_proj: Linear,
    #[module(skip)]
    n_heads: usize,
    #[module(skip)]
    n_kv: usize,
    #[module(skip)]
    head_dim: usize,
}

/// The attention mask shared by every layer of one forward pass.
#[derive(Debug, Clone)]
pub(crate) struct MaskPlan {
    /// `[B, 1, T, T_total]`, `true` = masked; `None` when plain causal masking suffices.
    mask: Option<Tensor<4, Bool>>,
    is_causal: bool,
}

impl MaskPlan {
    /// Plain causal masking, no padding.
    #[cfg(test)]
    pub(crate) fn causal() -> Self {
        MaskPlan {
            mask: None,
            is_causal: true,
        }
    }
}

impl Attention {
    /// # Shapes
    /// - `x`: `[B, T, hidden]`; `cos`, `sin`: `[B, 1, T, head_dim]`
    /// - returns `[B, T, hidden]`
    pub(crate) fn forward(
        &self,
        x: Tensor<3>,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        plan: &MaskPlan,
        cache: Option<&mut Option<(Tensor<4>, Tensor<4>)>>,
        expand_kv: bool,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (nh, nkv, hd) = (self.n_heads, self.n_kv, self.head_dim);
        // (B, T, n, hd) -> (B, n, T, hd)
        let q = self
            .q_proj
            .forward(x.clone())
            .reshape([b, t, nh, hd])
            .swap_dims(1, 2);
        let k = self
            .k_proj
            .forward(x.clone())
            .reshape([b, t, nkv, hd])
            .swap_dims(1, 2);
        let v = self
            .v_proj
            .forward(x)
            .reshape([b, t, nkv, hd])
            .swap_dims(1, 2);
        let q = rope::apply(q, cos, sin);
        let k = rope::apply(k, cos, sin);
        let (k, v) = match cache {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
                    None => (k, v),
                };
                *slot = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        // burn's attention backward (the autodiff fallback) has no GQA broadcast: expand K/V
        // whenever gradients flow, as on backends without native GQA.
        let (k, v) = if (expand_kv || q.is_autodiff()) && nkv != nh {
            (repeat_kv(k, nh / nkv), repeat_kv(v, nh / nkv))
        } else {
            (k, v)
        };
        let options = AttentionModuleOptions {
            scale: None,
            softcap: None,
            is_causal: plan.is_causal,
        };
        let out = attention(q, k, v, plan.mask.clone(), None, options); // (B, nh, T, hd)
        let out = out.swap_dims(1, 2).reshape([b, t, nh * hd]);
        self.o_proj.forward(out)
    }
}

/// `[B, n_kv, T, hd]` → `[B, n_kv·rep, T, hd]`, for backends without native GQA.
fn repeat_kv(x: Tensor<4>, rep: usize) -> Tensor<4> {
    let [b, nkv, t, hd] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, nkv, rep, t, hd])
        .reshape([b, nkv * rep, t, hd])
}

/// SwiGLU feed-forward: `down(silu(gate(x)) ⊙ up(x))`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `hidden → intermediate`
    pub gate_proj: Linear,
    /// `hidden → intermediate`
    pub up_proj: Linear,
    /// `intermediate → hidden`
    pub down_proj: Linear,
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[B, T, hidden]` → `[B, T, hidden]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = silu(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}

/// One pre-norm decoder block.
#[derive(Module, Debug)]
pub struct Block {
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Self-attention.
    pub self_attn: Attention,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
    /// Feed-forward.
    pub mlp: Mlp,
}

/// The whole causal LM: embeddings, blocks, final norm and LM head.
#[derive(Module, Debug)]
pub struct Llama {
    /// `[vocab, hidden]` (HF layout).
    pub embed_tokens: Param<Tensor<2>>,
    /// Decoder blocks.
    pub layers: Vec<Block>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Untied LM head; `None` when tied to `embed_tokens`.
    pub lm_head: Option<Linear>,
    #[module(skip)]
    pub(crate) config: LlamaConfig,
    #[module(skip)]
    rope: RopeTable,
    #[module(skip)]
    expand_kv: bool,
    /// Inference copy of a tied head in burn layout `[hidden, vocab]`, contiguous, made on the
    /// burn path's first use: burn's matmul on a transposed view copies the whole embedding
    /// every call (113 MB per token for SmolLM2). The flex fast path reads the embedding as is
    /// and never makes it. Training code sets `untied` (`untie_cache`) so gradients reach
    /// `embed_tokens`.
    #[module(skip)]
    tied_head: OnceLock<Tensor<2>>,
    #[module(skip)]
    untied: bool,
    #[module(skip)]
    no_fast_path: bool,
}

/// A batch checked against the cache, with its positions.
pub(crate) struct Prepared {
    pub(crate) past_valid: Vec<Vec<bool>>,
    pub(crate) past: usize,
    pub(crate) positions: Vec<i64>,
}

/// Logits on the host, row-major `[B, T, vocab]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLogits {
    /// `B·T·vocab` values.
    pub data: Vec<f32>,
    /// `B`
    pub batch: usize,
    /// `T`
    pub seq: usize,
    /// `vocab`
    pub vocab: usize,
}

impl HostLogits {
    /// Copies `[B, T, vocab]` f32 logits to the host.
    fn from_tensor(logits: Tensor<3>) -> Result<Self> {
        let [batch, seq, vocab] = logits.dims();
        let data = logits
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::Input(format!("reading logits: {e:?}")))?;
        Ok(HostLogits {
            data,
            batch,
            seq,
            vocab,
        })
    }

    /// The logits of row `b`, position `t`.
    pub fn row(&self, b: usize, t: usize) -> &[f32] {
        let start = (b * self.seq + t) * self.vocab;
        &self.data[start..start + self.vocab]
    }
}

/// The parts a [`Llama`] is assembled from (the loader fills it from a checkpoint).
#[derive(Debug)]
pub struct LlamaParts {
    /// `[vocab, hidden]`
    pub embed_tokens: Tensor<2>,
    /// Blocks in order.
    pub layers: Vec<Block>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Untied head, if any.
    pub lm_head: Option<Linear>,
}

impl Block {
    /// Assembles a block from its projections and norm weights.
    pub fn new(
        config: &LlamaConfig,
        input_norm: Tensor<1>,
        post_norm: Tensor<1>,
        qkvo: [Linear; 4],
        gate_up_down: [Linear; 3],
    ) -> Self {
        let [q_proj, k_proj, v_proj, o_proj] = qkvo;
        let [gate_proj, up_proj, down_proj] = gate_up_down;
        Block {
            input_layernorm: RmsNorm::new(input_norm, config.rms_norm_eps),
            self_attn: Attention {
                q_proj,
                k_proj,
                v_proj,
                o_proj,
                n_heads: config.num_attention_heads,
                n_kv: config.num_key_value_heads,
                head_dim: config.head_dim,
            },
            post_attention_layernorm: RmsNorm::new(post_norm, config.rms_norm_eps),
            mlp: Mlp {
                gate_proj,
                up_proj,
                down_proj,
            },
        }
    }

    /// # Shapes
    /// - `x`: `[B, T, hidden]` → `[B, T, hidden]`
    pub(crate) fn forward(
        &self,
        x: Tensor<3>,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        plan: &MaskPlan,
        cache: Option<&mut Option<(Tensor<4>, Tensor<4>)>>,
        expand_kv: bool,
    ) -> Tensor<3> {
        let h = self.input_layernorm.forward(x.clone());
        let x = x + self.self_attn.forward(h, cos, sin, plan, cache, expand_kv);
        let h = self.post_attention_layernorm.forward(x.clone());
        x + self.mlp.forward(h)
    }
}

impl Llama {
    /// Assembles a model. `expand_kv` repeats K/V heads for backends whose attention kernel
    /// lacks native GQA (burn's fallback path); flex handles GQA natively.
    pub fn from_parts(config: LlamaConfig, parts: LlamaParts, expand_kv: bool) -> Self {
        let device = parts.embed_tokens.device();
        let dtype = parts.embed_tokens.dtype();
        let mut rope = RopeTable::new(&config, config.max_position_embeddings, &device);
        if dtype != DType::F32 {
            rope = rope.cast(dtype);
        }
        Llama {
            embed_tokens: Param::from_tensor(parts.embed_tokens),
            layers: parts.layers,
            norm: parts.norm,
            lm_head: parts.lm_head,
            config,
            rope,
            expand_kv,
            tied_head: OnceLock::new(),
            untied: false,
            no_fast_path: false,
        }
    }

    /// Drops the inference copy of a tied head, so the head reads `embed_tokens` directly
    /// (needed when training updates the embedding).
    pub fn untie_cache(mut self) -> Self {
        self.tied_head = OnceLock::new();
        self.untied = true;
        self
    }

    /// The RoPE `cos`/`sin` tables, `[max_positions, head_dim]` each.
    pub(crate) fn rope_tables(&self) -> (Tensor<2>, Tensor<2>) {
        self.rope.tables()
    }

    /// The resolved configuration.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.embed_tokens.val().device()
    }

    /// A fresh KV cache sized for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    /// Runs the decoder and returns the final-norm hidden states.
    ///
    /// With a cache, `batch` holds only the new tokens; keys/values are appended to it.
    ///
    /// # Shapes
    /// - `batch`: `B` rows of `T` token ids, with a validity mask (left padding is invalid)
    /// - returns `[B, T, hidden]`
    pub fn forward_hidden(
        &self,
        batch: &TokenBatch,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor<3>> {
        if let Some(host) = self.host_model() {
            let out = self.run_host(&host, batch, cache, Output::Hidden)?;
            let dims = [batch.batch(), batch.seq(), self.config.hidden_size];
            return Ok(Tensor::from_data(
                TensorData::new(out, dims),
                &self.device(),
            ));
        }
        self.forward_hidden_burn(batch, cache)
    }

    /// Whether inference runs on the flex fast path ([`crate::host`]): every weight is a
    /// contiguous f32 flex tensor outside autodiff, and every projection dense or LoRA.
    pub fn uses_fast_path(&self) -> bool {
        self.host_model().is_some()
    }

    /// Turns the flex fast path off (or back on): inference then runs burn op by op, as on
    /// every other backend. For tests and measurements that compare the two.
    pub fn with_fast_path(mut self, on: bool) -> Self {
        self.no_fast_path = !on;
        self
    }

    pub(crate) fn host_model(&self) -> Option<HostModel> {
        if self.no_fast_path {
            return None;
        }
        HostModel::new(self)
    }

    /// Validates `batch` against the cache and computes its positions.
    pub(crate) fn prepare(&self, batch: &TokenBatch, cache: Option<&KvCache>) -> Result<Prepared> {
        let b = batch.batch();
        if let Some(&bad) = batch
            .ids()
            .iter()
            .find(|&&id| id as usize >= self.config.vocab_size)
        {
            return Err(Error::Input(format!(
                "token id {bad} is outside the vocabulary (size {})",
                self.config.vocab_size
            )));
        }
        let past_valid: Vec<Vec<bool>> = match cache {
            Some(c) if !c.is_empty() => {
                if c.valid.len() != b {
                    return Err(Error::Input(format!(
                        "cache holds {} rows but the batch has {b}",
                        c.valid.len()
                    )));
                }
                c.valid.clone()
            }
            _ => vec![Vec::new(); b],
        };
        let past = past_valid[0].len();
        let t = batch.seq();
        // Positions continue from the number of real tokens already seen (as generate() does);
        // the documents of a packed batch each continue from there (several continuations of
        // one cached prefix, scored in one pass).
        let positions = if past == 0 {
            batch.positions()
        } else if batch.segments().is_some() {
            let fresh = batch.positions();
            let mut positions = Vec::with_capacity(b * t);
            for (row, past_row) in past_valid.iter().enumerate() {
                let seen = past_row.iter().filter(|v| **v).count() as i64;
                positions.extend(fresh[row * t..(row + 1) * t].iter().map(|p| seen + p));
            }
            positions
        } else {
            let mut positions = Vec::with_capacity(b * t);
            for (row, past_row) in past_valid.iter().enumerate() {
                let mut seen = past_row.iter().filter(|v| **v).count() as i64;
                for j in 0..t {
                    if batch.valid()[row * t + j] {
                        seen += 1;
                    }
                    positions.push((seen - 1).max(0));
                }
            }
            positions
        };
        let max_pos = *positions.iter().max().unwrap_or(&0) as usize;
        if max_pos >= self.rope.max_positions() {
            return Err(Error::Input(format!(
                "position {max_pos} exceeds max_position_embeddings {}",
                self.rope.max_positions()
            )));
        }
        Ok(Prepared {
            past_valid,
            past,
            positions,
        })
    }

    /// Records `batch`'s positions in the cache after a forward appended them.
    fn record(cache: &mut KvCache, batch: &TokenBatch, past: usize) {
        let (b, t) = (batch.batch(), batch.seq());
        if cache.valid.len() != b {
            cache.valid = vec![Vec::new(); b];
        }
        for (row, valid) in cache.valid.iter_mut().enumerate() {
            valid.extend_from_slice(&batch.valid()[row * t..(row + 1) * t]);
        }
        debug_assert_eq!(cache.len(), past + t);
    }

    /// The fast-path forward ([`crate::host`]).
    fn run_host(
        &self,
        host: &HostModel,
        batch: &TokenBatch,
        cache: Option<&mut KvCache>,
        output: Output,
    ) -> Result<Vec<f32>> {
        let prep = self.prepare(batch, cache.as_deref())?;
        let (b, t) = (batch.batch(), batch.seq());
        let valid = (0..b)
            .map(|r| [&prep.past_valid[r][..], &batch.valid()[r * t..(r + 1) * t]].concat())
            .collect();
        let step = Step {
            ids: batch.ids(),
            batch: b,
            seq: t,
            positions: &prep.positions,
            valid,
            segments: batch.segments(),
            past: prep.past,
        };
        let c = &self.config;
        let (nkv, hd) = (c.num_key_value_heads, c.head_dim);
        Ok(match cache {
            Some(cache) => {
                let out = host.forward(c, &step, cache.host_mut(b, nkv, hd), output);
                Self::record(cache, batch, prep.past);
                out
            }
            None => {
                let mut kv = HostKv::new(self.layers.len(), b, nkv, hd, t);
                host.forward(c, &step, &mut kv, output)
            }
        })
    }

    /// The burn forward, op by op (every backend, autodiff).
    fn forward_hidden_burn(
        &self,
        batch: &TokenBatch,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor<3>> {
        let prep = self.prepare(batch, cache.as_deref())?;
        let (b, t) = (batch.batch(), batch.seq());
        let device = self.device();
        let plan = self.mask_plan(batch, &prep.past_valid, &device);
        let pos =
            Tensor::<2, Int>::from_data(TensorData::new(prep.positions.clone(), [b, t]), &device);
        let (cos, sin) = self.rope.gather(pos);
        let ids: Vec<i64> = batch.ids().iter().map(|&x| x as i64).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), &device);
        let mut x = embedding(self.embed_tokens.val(), ids);
        match cache {
            Some(c) => {
                let layers = c.layers_mut(&device);
                for (layer, slot) in self.layers.iter().zip(layers.iter_mut()) {
                    x = layer.forward(x, &cos, &sin, &plan, Some(slot), self.expand_kv);
                }
                Self::record(c, batch, prep.past);
            }
            None => {
                for layer in &self.layers {
                    x = layer.forward(x, &cos, &sin, &plan, None, self.expand_kv);
                }
            }
        }
        Ok(self.norm.forward(x))
    }

    /// Runs the decoder and the LM head.
    ///
    /// # Shapes
    /// - returns logits `[B, T, vocab]` in f32
    pub fn forward(&self, batch: &TokenBatch, cache: Option<&mut KvCache>) -> Result<Tensor<3>> {
        if let Some(host) = self.host_model() {
            let (b, t) = (batch.batch(), batch.seq());
            let out = self.run_host(&host, batch, cache, Output::Logits(t))?;
            let dims = [b, t, self.config.vocab_size];
            return Ok(Tensor::from_data(
                TensorData::new(out, dims),
                &self.device(),
            ));
        }
        let h = self.forward_hidden_burn(batch, cache)?;
        Ok(self.lm_head(h))
    }

    /// Like [`Llama::forward`], with the logits copied to the host.
    pub fn forward_host(
        &self,
        batch: &TokenBatch,
        cache: Option<&mut KvCache>,
    ) -> Result<HostLogits> {
        self.forward_tail(batch, cache, batch.seq())
    }

    /// Logits of each row's last position only (what prefill for generation needs).
    ///
    /// # Shapes
    /// - returns host logits `[B, 1, vocab]`
    pub fn forward_last(
        &self,
        batch: &TokenBatch,
        cache: Option<&mut KvCache>,
    ) -> Result<HostLogits> {
        self.forward_tail(batch, cache, 1)
    }

    /// Logits of each row's last `n` positions only: the LM head (`hidden × vocab` per
    /// position) runs where scores are needed, as log-likelihood scoring wants.
    ///
    /// # Shapes
    /// - returns host logits `[B, min(n, T), vocab]`
    pub fn forward_tail(
        &self,
        batch: &TokenBatch,
        cache: Option<&mut KvCache>,
        n: usize,
    ) -> Result<HostLogits> {
        let (b, t) = (batch.batch(), batch.seq());
        let n = n.clamp(1, t.max(1));
        if let Some(host) = self.host_model() {
            let data = self.run_host(&host, batch, cache, Output::Logits(n))?;
            return Ok(HostLogits {
                data,
                batch: b,
                seq: n,
                vocab: self.config.vocab_size,
            });
        }
        let h = self.forward_hidden_burn(batch, cache)?;
        let d = self.config.hidden_size;
        HostLogits::from_tensor(self.lm_head(h.slice([0..b, t - n..t, 0..d])))
    }

    /// Logits at chosen token positions only, `at` holding flat indices `row·T + t` — e.g. the
    /// ends of several continuations packed after one cached prefix.
    ///
    /// # Shapes
    /// - returns host logits `[1, at.len(), vocab]`
    pub fn forward_rows(
        &self,
        batch: &TokenBatch,
        cache: Option<&mut KvCache>,
        at: &[usize],
    ) -> Result<HostLogits> {
        let (b, t) = (batch.batch(), batch.seq());
        if let Some(&bad) = at.iter().find(|&&i| i >= b * t) {
            return Err(Error::Input(format!(
                "position {bad} is outside the [{b}, {t}] batch"
            )));
        }
        let vocab = self.config.vocab_size;
        if let Some(host) = self.host_model() {
            let data = self.run_host(&host, batch, cache, Output::Rows(at))?;
            return Ok(HostLogits {
                data,
                batch: 1,
                seq: at.len(),
                vocab,
            });
        }
        let all = HostLogits::from_tensor(self.forward(batch, cache)?)?;
        let mut data = Vec::with_capacity(at.len() * vocab);
        for &i in at {
            data.extend_from_slice(all.row(i / t, i % t));
        }
        Ok(HostLogits {
            data,
            batch: 1,
            seq: at.len(),
            vocab,
        })
    }

    /// Projects hidden states to logits.
    ///
    /// # Shapes
    /// - `h`: `[B, T, hidden]` → `[B, T, vocab]` (f32)
    pub fn lm_head(&self, h: Tensor<3>) -> Tensor<3> {
        let logits = match &self.lm_head {
            Some(head) => head.forward(h),
            None if self.untied => {
                burn::tensor::module::linear(h, self.embed_tokens.val().transpose(), None)
            }
            None => {
                let head = self.tied_head.get_or_init(|| {
                    let embed = self.embed_tokens.val();
                    let (device, dtype) = (embed.device(), embed.dtype());
                    Tensor::from_data(embed.transpose().into_data(), (&device, dtype))
                });
                burn::tensor::module::linear(h, head.clone(), None)
            }
        };
        if logits.dtype() == DType::F32 {
            logits
        } else {
            logits.cast(DType::F32)
        }
    }

    fn mask_plan(&self, batch: &TokenBatch, past_valid: &[Vec<bool>], device: &Device) -> MaskPlan {
        let (b, t) = (batch.batch(), batch.seq());
        let past = past_valid.first().map_or(0, Vec::len);
        let total = past + t;
        let all_valid =
            batch.valid().iter().all(|v| *v) && past_valid.iter().all(|r| r.iter().all(|v| *v));
        if all_valid && batch.segments().is_none() {
            return MaskPlan {
                mask: None,
                is_causal: t > 1,
            };
        }
        if let Some(seg) = batch.segments() {
            // Block-diagonal causal: a token sees the (valid) cached positions and earlier
            // tokens of its own document only (padding, segment 0, sees earlier padding, so no
            // row is fully masked).
            let mut mask = Vec::with_capacity(b * t * total);
            for (row, past_row) in past_valid.iter().enumerate().take(b) {
                let s = &seg[row * t..(row + 1) * t];
                for i in 0..t {
                    mask.extend(past_row.iter().map(|v| !v));
                    for j in 0..t {
                        mask.push(j > i || s[j] != s[i]);
                    }
                }
            }
            let mask =
                Tensor::<4, Bool>::from_data(TensorData::new(mask, [b, 1, t, total]), device);
            return MaskPlan {
                mask: Some(mask),
                is_causal: false,
            };
        }
        // Causal + padding. A padded query keeps its own key so its row is never fully masked
        // (its output is unused; this only keeps the softmax finite).
        let mut mask = Vec::with_capacity(b * t * total);
        for (row, past_row) in past_valid.iter().enumerate().take(b) {
            let key_valid = |j: usize| {
                if j < past {
                    past_row[j]
                } else {
                    batch.valid()[row * t + (j - past)]
                }
            };
            for i in 0..t {
                let q = past + i;
                for j in 0..total {
                    mask.push(j > q || (!key_valid(j) && j != q));
                }
            }
        }
        let mask = Tensor::<4, Bool>::from_data(TensorData::new(mask, [b, 1, t, total]), device);
        MaskPlan {
            mask: Some(mask),
            is_causal: false,
        }
    }
}
