//! The flex fast path: inference (no autodiff) of an f32 model on burn's `flex` CPU backend,
//! run directly on the backend's host buffers through `cogumi-kernels`.
//!
//! burn executes the decoder op by op, allocating a tensor per elementwise op, using a naive
//! attention kernel whenever a KV past exists, and sending single-row products through
//! `gemm`'s matrix-matrix path. This file runs the same computation as `llama.rs` (transformers'
//! `modeling_llama.py`) with fused kernels, a KV cache with spare capacity, and the LM head
//! only where logits are asked for; in the last layer, only those rows go past attention's
//! keys and values (as llama.cpp does). It reads the weights in place (zero copies) and is
//! chosen automatically when every weight is a contiguous f32 flex tensor and every projection
//! is dense or LoRA over dense; otherwise `llama.rs` runs. `tests/fast_path.rs` holds the two
//! paths to each other.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::Tensor;
use cogumi_kernels::{self as k, AttentionDims, KeyMask, MatMut, MatRef, WeightLayout};

use crate::config::LlamaConfig;
use crate::kv_cache::HostKv;
use crate::linear::Linear;
use crate::llama::Llama;
use crate::lora::LoraBase;

/// A weight the fast path reads in place: a contiguous f32 flex buffer.
pub(crate) struct HostTensor(FlexTensor);

impl HostTensor {
    fn new<const D: usize>(t: Tensor<D>) -> Option<Self> {
        let flex = t.try_into_primitive::<Flex>().ok()?;
        flex.as_slice::<f32>()?;
        Some(HostTensor(flex))
    }

    pub(crate) fn s(&self) -> &[f32] {
        self.0
            .as_slice::<f32>()
            .expect("checked contiguous f32 in HostTensor::new")
    }
}

/// A projection: `x·W`, plus `s·(x·A)·B` for a LoRA layer.
pub(crate) struct HostLinear {
    pub(crate) w: HostTensor,
    pub(crate) layout: WeightLayout,
    pub(crate) k: usize,
    pub(crate) n: usize,
    /// `A: [k, r]`, `B: [r, n]`, `r`, scale.
    pub(crate) lora: Option<(HostTensor, HostTensor, usize, f32)>,
}

impl HostLinear {
    fn new(linear: &Linear) -> Option<Self> {
        let (k, n) = linear.dims();
        match linear {
            Linear::Dense(d) => Some(HostLinear {
                w: HostTensor::new(d.weight.val())?,
                layout: WeightLayout::KN,
                k,
                n,
                lora: None,
            }),
            Linear::Lora(l) => {
                let LoraBase::Dense(base) = &l.base else {
                    return None;
                };
                let a = l.lora_a.val();
                let rank = a.dims()[1];
                Some(HostLinear {
                    w: HostTensor::new(base.weight.val())?,
                    layout: WeightLayout::KN,
                    k,
                    n,
                    lora: Some((
                        HostTensor::new(a)?,
                        HostTensor::new(l.lora_b.val())?,
                        rank,
                        l.scale() as f32,
                    )),
                })
            }
            Linear::Nf4(_) => None,
        }
    }

    /// # Shapes
    /// - `x`: `[m, k]` → `y`: `[m, n]` (overwritten)
    pub(crate) fn forward(&self, x: &[f32], m: usize, y: &mut [f32]) {
        k::matmul(x, m, self.k, self.w.s(), self.layout, self.n, y);
        if let Some((a, b, r, scale)) = &self.lora {
            let mut xa = vec![0f32; m * r];
            k::matmul(x, m, self.k, a.s(), WeightLayout::KN, *r, &mut xa);
            // y += s·(x·A)·B, accumulated by the product itself (no update buffer).
            k::gemm(
                MatMut {
                    data: y,
                    rows: m,
                    cols: self.n,
                    row_stride: self.n,
                    col_stride: 1,
                },
                MatRef {
                    data: &xa,
                    rows: m,
                    cols: *r,
                    row_stride: *r,
                    col_stride: 1,
                },
                MatRef {
                    data: b.s(),
                    rows: *r,
                    cols: self.n,
                    row_stride: self.n,
                    col_stride: 1,
                },
                *scale,
                true,
                true,
            );
        }
    }
}

pub(crate) struct HostBlock {
    pub(crate) input_norm: HostTensor,
    pub(crate) post_norm: HostTensor,
    pub(crate) q: HostLinear,
    pub(crate) k: HostLinear,
    pub(crate) v: HostLinear,
    pub(crate) o: HostLinear,
    pub(crate) gate: HostLinear,
    pub(crate) up: HostLinear,
    pub(crate) down: HostLinear,
}

/// The model's weights as host slices, gathered per call (a few hundred refcount bumps).
pub(crate) struct HostModel {
    pub(crate) embed: HostTensor,
    pub(crate) layers: Vec<HostBlock>,
    pub(crate) norm: HostTensor,
    pub(crate) head: HostLinear,
    pub(crate) cos: HostTensor,
    pub(crate) sin: HostTensor,
}

/// The input of a projection group inside a decoder layer, as [`HostModel::layer`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// `input_layernorm(x)`: the input of q, k and v, `[rows, hidden]`.
    Attn,
    /// The attention output before `o_proj`, `[rows, heads·head_dim]`.
    O,
    /// `post_attention_layernorm(x)`: the input of gate and up, `[rows, hidden]`.
    Mlp,
    /// `silu(gate)·up`: the input of down, `[rows, intermediate]`.
    Down,
}

/// What a fast-path forward returns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Output<'a> {
    /// Final-norm hidden states of every position, `[B, T, hidden]`.
    Hidden,
    /// Logits of each row's last `n` positions, `[B, n, vocab]`.
    Logits(usize),
    /// Logits of the given flat token indices (`row·T + t`), `[len, vocab]`.
    Rows(&'a [usize]),
}

/// Everything a forward needs besides the weights.
pub(crate) struct Step<'a> {
    pub(crate) ids: &'a [u32],
    pub(crate) batch: usize,
    pub(crate) seq: usize,
    pub(crate) positions: &'a [i64],
    /// Per row: validity of the cached positions followed by this batch's.
    pub(crate) valid: Vec<Vec<bool>>,
    pub(crate) segments: Option<&'a [u32]>,
    pub(crate) past: usize,
}

impl HostModel {
    /// The host view of `model`, or `None` when a weight is not a contiguous f32 flex tensor
    /// (another backend, bf16, autodiff) or a projection is NF4.
    pub(crate) fn new(model: &Llama) -> Option<Self> {
        let layers = model
            .layers
            .iter()
            .map(|b| {
                Some(HostBlock {
                    input_norm: HostTensor::new(b.input_layernorm.weight.val())?,
                    post_norm: HostTensor::new(b.post_attention_layernorm.weight.val())?,
                    q: HostLinear::new(&b.self_attn.q_proj)?,
                    k: HostLinear::new(&b.self_attn.k_proj)?,
                    v: HostLinear::new(&b.self_attn.v_proj)?,
                    o: HostLinear::new(&b.self_attn.o_proj)?,
                    gate: HostLinear::new(&b.mlp.gate_proj)?,
                    up: HostLinear::new(&b.mlp.up_proj)?,
                    down: HostLinear::new(&b.mlp.down_proj)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let c = model.config();
        let embed = HostTensor::new(model.embed_tokens.val())?;
        let head = match &model.lm_head {
            Some(head) => HostLinear::new(head)?,
            // Tied: the embedding `[vocab, hidden]` is the head in PyTorch's layout, read as is.
            None => HostLinear {
                w: HostTensor::new(model.embed_tokens.val())?,
                layout: WeightLayout::NK,
                k: c.hidden_size,
                n: c.vocab_size,
                lora: None,
            },
        };
        let (cos, sin) = model.rope_tables();
        Some(HostModel {
            embed,
            layers,
            norm: HostTensor::new(model.norm.weight.val())?,
            head,
            cos: HostTensor::new(cos)?,
            sin: HostTensor::new(sin)?,
        })
    }

    /// Runs the decoder on `step`, appending its keys and values to `kv` at `step.past`.
    ///
    /// # Shapes
    /// - returns `[B, T, hidden]` for [`Output::Hidden`], `[B, n, vocab]` for [`Output::Logits`]
    pub(crate) fn forward(
        &self,
        c: &LlamaConfig,
        step: &Step<'_>,
        kv: &mut HostKv,
        output: Output,
    ) -> Vec<f32> {
        let (b, t, d) = (step.batch, step.seq, c.hidden_size);
        let (nh, nkv, hd, inter) = (
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim,
            c.intermediate_size,
        );
        let eps = c.rms_norm_eps as f32;
        kv.reserve(step.past, step.past + t);

        let embed = self.embed.s();
        let mut x = Vec::with_capacity(b * t * d);
        for &id in step.ids {
            x.extend_from_slice(&embed[id as usize * d..(id as usize + 1) * d]);
        }
        // With logits for the last `n` positions only, the last layer needs every row's keys
        // and values but only those rows' queries, attention output and MLP.
        let tail = match output {
            Output::Logits(n) if step.segments.is_none() => n.clamp(1, t),
            _ => t,
        };
        let rows = b * t;
        let mut bufs = Buffers::new(rows, d, nh * hd, nkv * hd, inter);
        let last = self.layers.len().saturating_sub(1);
        for li in 0..self.layers.len() {
            let qt = if li == last { tail } else { t };
            self.layer(c, li, li, step, kv, &mut bufs, &mut x, qt, &mut |_, _| {});
        }
        let xrows = x.len() / d;
        let mut hn = vec![0f32; x.len()];
        k::rms_norm(&x, self.norm.s(), eps, &mut hn);
        match output {
            Output::Hidden => hn,
            Output::Logits(n) => {
                let per = xrows / b;
                let n = n.clamp(1, per);
                let hn = if n < per {
                    last_rows(&hn, b, per, n, d)
                } else {
                    hn
                };
                let mut logits = vec![0f32; b * n * self.head.n];
                self.head.forward(&hn, b * n, &mut logits);
                logits
            }
            Output::Rows(at) => {
                let mut picked = Vec::with_capacity(at.len() * d);
                for &r in at {
                    picked.extend_from_slice(&hn[r * d..(r + 1) * d]);
                }
                let mut logits = vec![0f32; at.len() * self.head.n];
                self.head.forward(&picked, at.len(), &mut logits);
                logits
            }
        }
    }

    /// Runs decoder layer `li` on `x` (`[B, T, hidden]` rows of `step`), appending its keys and
    /// values to slot `kv_li` of `kv`; only the last `qt` positions of each row go past attention's keys and
    /// values (then `x` keeps only those rows). `observe(site, input)` sees the input of each
    /// projection group (for calibration statistics), `[rows, width]` row-major.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn layer(
        &self,
        c: &LlamaConfig,
        li: usize,
        kv_li: usize,
        step: &Step<'_>,
        kv: &mut HostKv,
        bufs: &mut Buffers,
        x: &mut Vec<f32>,
        qt: usize,
        observe: &mut dyn FnMut(Site, &[f32]),
    ) {
        let (b, t, d) = (step.batch, step.seq, c.hidden_size);
        let (nh, nkv, hd, inter) = (
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim,
            c.intermediate_size,
        );
        let eps = c.rms_norm_eps as f32;
        let rows = b * t;
        let layer = &self.layers[li];
        let qrows = b * qt;
        let h = &mut bufs.h[..rows * d];
        k::rms_norm(x, layer.input_norm.s(), eps, h);
        observe(Site::Attn, h);
        let (kb, vb) = (
            &mut bufs.k[..rows * nkv * hd],
            &mut bufs.v[..rows * nkv * hd],
        );
        layer.k.forward(h, rows, kb);
        layer.v.forward(h, rows, vb);
        self.rope_rows(kb, nkv * hd, hd, |r| step.positions[r]);
        kv.append(kv_li, kb, vb, step.past, t);
        if qt < t {
            *x = last_rows(x, b, t, qt, d);
            let hq = last_rows(h, b, t, qt, d);
            h[..qrows * d].copy_from_slice(&hq);
        }
        let q = &mut bufs.q[..qrows * nh * hd];
        layer.q.forward(&bufs.h[..qrows * d], qrows, q);
        self.rope_rows(q, nh * hd, hd, |r| {
            step.positions[(r / qt) * t + (t - qt) + r % qt]
        });
        let attn = &mut bufs.attn[..qrows * nh * hd];
        for row in 0..b {
            let dims = AttentionDims {
                n_heads: nh,
                n_kv: nkv,
                head_dim: hd,
                past: step.past + t - qt,
                queries: qt,
                capacity: kv.capacity,
            };
            let mask = KeyMask {
                valid: &step.valid[row],
                segments: step.segments.map(|s| &s[row * t..(row + 1) * t]),
            };
            let out = k::attention(
                &q[row * qt * nh * hd..(row + 1) * qt * nh * hd],
                kv.row(&kv.k[kv_li], row),
                kv.row(&kv.v[kv_li], row),
                dims,
                mask,
            );
            attn[row * qt * nh * hd..(row + 1) * qt * nh * hd].copy_from_slice(&out);
        }
        observe(Site::O, attn);
        let o = &mut bufs.out[..qrows * d];
        layer.o.forward(attn, qrows, o);
        k::add_inplace(x, o);
        let h = &mut bufs.h[..qrows * d];
        k::rms_norm(x, layer.post_norm.s(), eps, h);
        observe(Site::Mlp, h);
        let (g, u) = (
            &mut bufs.gate[..qrows * inter],
            &mut bufs.up[..qrows * inter],
        );
        layer.gate.forward(h, qrows, g);
        layer.up.forward(h, qrows, u);
        k::silu_mul(g, u);
        observe(Site::Down, g);
        let o = &mut bufs.out[..qrows * d];
        layer.down.forward(g, qrows, o);
        k::add_inplace(x, o);
    }

    /// Applies RoPE to each token row of `buf` (`[rows, heads·head_dim]`) at `position(row)`.
    pub(crate) fn rope_rows(
        &self,
        buf: &mut [f32],
        width: usize,
        hd: usize,
        position: impl Fn(usize) -> i64,
    ) {
        let (cos, sin) = (self.cos.s(), self.sin.s());
        for (r, row) in buf.chunks_exact_mut(width).enumerate() {
            let p = position(r) as usize;
            k::rope(
                row,
                hd,
                &cos[p * hd..(p + 1) * hd],
                &sin[p * hd..(p + 1) * hd],
            );
        }
    }
}

/// The last `keep` of each row's `t` token rows of `x` (`[b·t, d]` → `[b·keep, d]`).
fn last_rows(x: &[f32], b: usize, t: usize, keep: usize, d: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(b * keep * d);
    for row in 0..b {
        out.extend_from_slice(&x[(row * t + t - keep) * d..(row + 1) * t * d]);
    }
    out
}

/// Scratch reused by every layer of one forward (no allocation per op).
pub(crate) struct Buffers {
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    out: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
}

impl Buffers {
    pub(crate) fn new(
        rows: usize,
        d: usize,
        q_width: usize,
        kv_width: usize,
        inter: usize,
    ) -> Self {
        Buffers {
            h: vec![0.0; rows * d],
            q: vec![0.0; rows * q_width],
            k: vec![0.0; rows * kv_width],
            v: vec![0.0; rows * kv_width],
            attn: vec![0.0; rows * q_width],
            out: vec![0.0; rows * d],
            gate: vec![0.0; rows * inter],
            up: vec![0.0; rows * inter],
        }
    }
}
