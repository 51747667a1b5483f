//! The flex fast path for LoRA training: the decoder's forward with its activations kept, the
//! masked next-token cross-entropy, and a hand-written backward to the LoRA factors, all on
//! burn flex's host buffers through `cogumi-kernels`.
//!
//! Follows autograd through transformers' `modeling_llama.py` and PEFT's `lora.Linear`
//! (`y = x·W + s·(x·A)·B`): for each projection `dB = s·(x·A)ᵀ·dy`, `dA = s·xᵀ·(dy·Bᵀ)`,
//! `dx = dy·Wᵀ + s·(dy·Bᵀ)·Aᵀ`; RMSNorm, SwiGLU, RoPE and attention backward are the
//! kernels' (`rms_norm_backward`, `silu_mul_backward`, `rope_backward`, `attention_backward`).
//! The frozen base gets no gradient and no weight-shaped buffer; the LM head and softmax run only
//! on positions that carry loss (a chat row's prompt costs nothing there). Chosen when the model
//! is on flex in f32, every trainable parameter is a LoRA factor over a dense base, and LoRA
//! dropout is 0; `crates/train` falls back to burn autodiff otherwise. `tests/host_train.rs` holds
//! loss and gradients to burn autodiff's.

use burn::module::Module;
use cogumi_kernels::{self as k, AttentionDims, KeyMask, MatMut, MatRef, WeightLayout};

use crate::batch::TokenBatch;
use crate::error::{Error, Result};
use crate::host::{HostLinear, HostModel};
use crate::kv_cache::HostKv;
use crate::linear::Linear;
use crate::llama::Llama;
use crate::lora::LoraBase;

/// Loss and LoRA gradients of one micro-batch.
#[derive(Debug, Clone)]
pub struct HostGrads {
    /// Mean cross-entropy over the counted positions.
    pub loss: f64,
    /// `(parameter name, gradient)` for every LoRA factor, flattened in burn layout
    /// (`lora_A: [d_in, r]`, `lora_B: [r, d_out]`), named as `Llama::visit_params_mut` names them.
    pub grads: Vec<(String, Vec<f32>)>,
}

/// Rows of LM-head logits computed at once (bounds the `[rows, vocab]` buffer: 200 MB for
/// SmolLM2; 1024 rows packs the head once per 1024 rows, measured ~10 % faster than 256).
const HEAD_CHUNK: usize = 1024;

impl Llama {
    /// Mean masked cross-entropy of `batch` against `targets` (`[B·T]` ids, `weight` 1.0 where
    /// a position counts) and its gradient with respect to every LoRA factor, computed on the
    /// flex fast path; `Ok(None)` when this model does not qualify (see the module docs), so
    /// the caller uses burn autodiff instead.
    pub fn lora_loss_grads(
        &self,
        batch: &TokenBatch,
        targets: &[u32],
        weight: &[f32],
    ) -> Result<Option<HostGrads>> {
        let (b, t) = (batch.batch(), batch.seq());
        if targets.len() != b * t || weight.len() != b * t {
            return Err(Error::Input(format!("targets must be [{b}·{t}]")));
        }
        if !self.lora_only_trainable() {
            return Ok(None);
        }
        let inner = self.valid();
        let Some(host) = inner.host_model() else {
            return Ok(None);
        };
        if matches!(inner.lm_head, Some(Linear::Lora(_))) {
            return Ok(None);
        }
        let prep = inner.prepare(batch, None)?;
        let count = weight.iter().filter(|w| **w > 0.0).count();
        let valid: Vec<Vec<bool>> = (0..b)
            .map(|r| batch.valid()[r * t..(r + 1) * t].to_vec())
            .collect();
        let run = Run {
            model: &inner,
            host: &host,
            batch,
            positions: &prep.positions,
            valid,
        };
        let saved = run.forward();
        let (loss, dx) = run.loss(&saved, targets, weight, count);
        let grads = run.backward(&saved, dx);
        Ok(Some(HostGrads { loss, grads }))
    }

    /// Whether exactly the LoRA factors require gradients (base, norms, embedding frozen) and
    /// no adapter uses dropout.
    fn lora_only_trainable(&self) -> bool {
        if self.embed_tokens.val().is_require_grad() {
            return false;
        }
        let mut any = false;
        let mut frozen = |lin: &Linear| match lin {
            Linear::Dense(d) => !d.weight.val().is_require_grad(),
            Linear::Lora(l) => {
                any = true;
                matches!(&l.base, LoraBase::Dense(d) if !d.weight.val().is_require_grad())
                    && l.dropout.prob == 0.0
            }
            Linear::Nf4(_) => false,
        };
        for block in &self.layers {
            let a = &block.self_attn;
            let m = &block.mlp;
            let linears = [
                &a.q_proj,
                &a.k_proj,
                &a.v_proj,
                &a.o_proj,
                &m.gate_proj,
                &m.up_proj,
                &m.down_proj,
            ];
            if block.input_layernorm.weight.val().is_require_grad()
                || block
                    .post_attention_layernorm
                    .weight
                    .val()
                    .is_require_grad()
                || !linears.into_iter().all(&mut frozen)
            {
                return false;
            }
        }
        if self.norm.weight.val().is_require_grad()
            || self.lm_head.as_ref().is_some_and(|h| !frozen(h))
        {
            return false;
        }
        any
    }
}

/// One layer's activations kept for the backward (`N = B·T` rows).
struct Saved {
    /// Layer input `[N, d]`.
    x: Vec<f32>,
    /// Queries after RoPE `[N, n_heads·hd]`.
    q: Vec<f32>,
    /// Attention output before `o_proj` `[N, n_heads·hd]`.
    attn: Vec<f32>,
    /// Residual after attention `[N, d]`.
    y: Vec<f32>,
    /// Gate and up projections before SwiGLU `[N, inter]`.
    gate: Vec<f32>,
    up: Vec<f32>,
}

struct Forward {
    layers: Vec<Saved>,
    kv: HostKv,
    /// Last layer's output `[N, d]` (before the final norm).
    out: Vec<f32>,
}

struct Run<'a> {
    model: &'a Llama,
    host: &'a HostModel,
    batch: &'a TokenBatch,
    positions: &'a [i64],
    valid: Vec<Vec<bool>>,
}

impl Run<'_> {
    fn dims(&self, capacity: usize) -> AttentionDims {
        let c = self.model.config();
        AttentionDims {
            n_heads: c.num_attention_heads,
            n_kv: c.num_key_value_heads,
            head_dim: c.head_dim,
            past: 0,
            queries: self.batch.seq(),
            capacity,
        }
    }

    fn mask(&self, row: usize) -> KeyMask<'_> {
        let t = self.batch.seq();
        KeyMask {
            valid: &self.valid[row],
            segments: self.batch.segments().map(|s| &s[row * t..(row + 1) * t]),
        }
    }

    fn forward(&self) -> Forward {
        let c = self.model.config();
        let (b, t, d) = (self.batch.batch(), self.batch.seq(), c.hidden_size);
        let (nh, nkv, hd, inter) = (
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim,
            c.intermediate_size,
        );
        let (n, eps) = (b * t, c.rms_norm_eps as f32);
        let mut kv = HostKv::new(self.host.layers.len(), b, nkv, hd, t);
        let embed = self.host.embed.s();
        let mut x = Vec::with_capacity(n * d);
        for &id in self.batch.ids() {
            x.extend_from_slice(&embed[id as usize * d..(id as usize + 1) * d]);
        }
        let mut layers = Vec::with_capacity(self.host.layers.len());
        let mut a = vec![0f32; n * inter];
        let (mut h, mut kb, mut vb, mut o) = (
            vec![0f32; n * d],
            vec![0f32; n * nkv * hd],
            vec![0f32; n * nkv * hd],
            vec![0f32; n * d],
        );
        for (li, layer) in self.host.layers.iter().enumerate() {
            k::rms_norm(&x, layer.input_norm.s(), eps, &mut h);
            let mut q = vec![0f32; n * nh * hd];
            layer.q.forward(&h, n, &mut q);
            layer.k.forward(&h, n, &mut kb);
            layer.v.forward(&h, n, &mut vb);
            self.host
                .rope_rows(&mut q, nh * hd, hd, |r| self.positions[r]);
            self.host
                .rope_rows(&mut kb, nkv * hd, hd, |r| self.positions[r]);
            kv.append(li, &kb, &vb, 0, t);
            let mut attn = Vec::with_capacity(n * nh * hd);
            for row in 0..b {
                let qr = &q[row * t * nh * hd..(row + 1) * t * nh * hd];
                attn.extend(k::attention(
                    qr,
                    kv.row(&kv.k[li], row),
                    kv.row(&kv.v[li], row),
                    self.dims(t),
                    self.mask(row),
                ));
            }
            layer.o.forward(&attn, n, &mut o);
            let mut y = x.clone();
            k::add_inplace(&mut y, &o);
            k::rms_norm(&y, layer.post_norm.s(), eps, &mut h);
            let (mut gate, mut up) = (vec![0f32; n * inter], vec![0f32; n * inter]);
            layer.gate.forward(&h, n, &mut gate);
            layer.up.forward(&h, n, &mut up);
            a.copy_from_slice(&gate);
            k::silu_mul(&mut a, &up);
            layer.down.forward(&a, n, &mut o);
            let mut z = y.clone();
            k::add_inplace(&mut z, &o);
            layers.push(Saved {
                x: std::mem::replace(&mut x, z),
                q,
                attn,
                y,
                gate,
                up,
            });
        }
        Forward { layers, kv, out: x }
    }

    /// Mean loss and its gradient with respect to the last layer's output.
    fn loss(
        &self,
        fwd: &Forward,
        targets: &[u32],
        weight: &[f32],
        count: usize,
    ) -> (f64, Vec<f32>) {
        let c = self.model.config();
        let (d, eps) = (c.hidden_size, c.rms_norm_eps as f32);
        let n = fwd.out.len() / d;
        let mut hn = vec![0f32; n * d];
        k::rms_norm(&fwd.out, self.host.norm.s(), eps, &mut hn);
        let rows: Vec<usize> = (0..n).filter(|&r| weight[r] > 0.0).collect();
        let scale = 1.0 / count.max(1) as f32;
        let head = &self.host.head;
        let vocab = head.n;
        let mut dh = vec![0f32; n * d];
        let mut loss = 0.0;
        for chunk in rows.chunks(HEAD_CHUNK) {
            let m = chunk.len();
            let mut hc = Vec::with_capacity(m * d);
            for &r in chunk {
                hc.extend_from_slice(&hn[r * d..(r + 1) * d]);
            }
            let mut logits = vec![0f32; m * vocab];
            head.forward(&hc, m, &mut logits);
            let ids: Vec<u32> = chunk.iter().map(|&r| targets[r]).collect();
            let ws: Vec<f32> = chunk.iter().map(|&r| weight[r] * scale).collect();
            loss += k::cross_entropy_grad(&mut logits, vocab, &ids, &ws);
            // dh = dlogits · Wᵀ: the head's `[n, k]` (tied) or `[k, n]` weight read the other way.
            let back = match head.layout {
                WeightLayout::NK => WeightLayout::KN,
                WeightLayout::KN => WeightLayout::NK,
            };
            let mut dhc = vec![0f32; m * d];
            k::matmul(&logits, m, vocab, head.w.s(), back, d, &mut dhc);
            for (i, &r) in chunk.iter().enumerate() {
                dh[r * d..(r + 1) * d].copy_from_slice(&dhc[i * d..(i + 1) * d]);
            }
        }
        let mut dx = vec![0f32; n * d];
        k::rms_norm_backward(&fwd.out, self.host.norm.s(), eps, &dh, &mut dx);
        (loss, dx)
    }

    fn backward(&self, fwd: &Forward, mut dz: Vec<f32>) -> Vec<(String, Vec<f32>)> {
        let c = self.model.config();
        let (b, t, d) = (self.batch.batch(), self.batch.seq(), c.hidden_size);
        let (nh, nkv, hd, inter) = (
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim,
            c.intermediate_size,
        );
        let (n, eps) = (b * t, c.rms_norm_eps as f32);
        let mut grads = Vec::new();
        // Scratch reused by every layer: fresh multi-megabyte vectors per layer cost page
        // faults and zeroing (measured ~5 % of a step).
        let mut h = vec![0f32; n * d];
        let (mut a, mut da, mut du) = (
            vec![0f32; n * inter],
            vec![0f32; n * inter],
            vec![0f32; n * inter],
        );
        let (mut dh1, mut dh2) = (vec![0f32; n * d], vec![0f32; n * d]);
        let (mut dattn, mut dq) = (vec![0f32; n * nh * hd], vec![0f32; n * nh * hd]);
        let (mut dk, mut dv) = (vec![0f32; n * nkv * hd], vec![0f32; n * nkv * hd]);
        for (li, (layer, s)) in self.host.layers.iter().zip(&fwd.layers).enumerate().rev() {
            let name = |p: &str| format!("model.layers.{li}.{p}");
            // MLP: z = y + down(silu(gate(h2)) ⊙ up(h2)), h2 = rms(y).
            k::rms_norm(&s.y, layer.post_norm.s(), eps, &mut h);
            a.copy_from_slice(&s.gate);
            k::silu_mul(&mut a, &s.up);
            da.fill(0.0);
            linear_backward(
                &layer.down,
                &a,
                &dz,
                n,
                Some(&mut da),
                &name("mlp.down_proj"),
                &mut grads,
            );
            k::silu_mul_backward(&s.gate, &s.up, &mut da, &mut du);
            dh2.fill(0.0);
            linear_backward(
                &layer.gate,
                &h,
                &da,
                n,
                Some(&mut dh2),
                &name("mlp.gate_proj"),
                &mut grads,
            );
            linear_backward(
                &layer.up,
                &h,
                &du,
                n,
                Some(&mut dh2),
                &name("mlp.up_proj"),
                &mut grads,
            );
            let mut dy = dz;
            k::rms_norm_backward(&s.y, layer.post_norm.s(), eps, &dh2, &mut dy);
            // Attention: y = x + o(attn(rope(q(h1)), rope(k(h1)), v(h1))), h1 = rms(x).
            dattn.fill(0.0);
            linear_backward(
                &layer.o,
                &s.attn,
                &dy,
                n,
                Some(&mut dattn),
                &name("self_attn.o_proj"),
                &mut grads,
            );
            let w = nh * hd;
            for row in 0..b {
                let rows = row * t * w..(row + 1) * t * w;
                let g = k::attention_backward(
                    &s.q[rows.clone()],
                    fwd.kv.row(&fwd.kv.k[li], row),
                    fwd.kv.row(&fwd.kv.v[li], row),
                    &s.attn[rows.clone()],
                    &dattn[rows.clone()],
                    self.dims(t),
                    self.mask(row),
                );
                dq[rows].copy_from_slice(&g.dq);
                // [n_kv, T, hd] → token-major [T, n_kv·hd].
                for j in 0..t {
                    for kvh in 0..nkv {
                        let src = (kvh * t + j) * hd;
                        let dst = ((row * t + j) * nkv + kvh) * hd;
                        dk[dst..dst + hd].copy_from_slice(&g.dk[src..src + hd]);
                        dv[dst..dst + hd].copy_from_slice(&g.dv[src..src + hd]);
                    }
                }
            }
            self.rope_back(&mut dq, nh * hd);
            self.rope_back(&mut dk, nkv * hd);
            k::rms_norm(&s.x, layer.input_norm.s(), eps, &mut h);
            // The embedding is frozen: below layer 0 no gradient is needed, only the factors'.
            let need_dx = li > 0;
            dh1.fill(0.0);
            for (lin, dout, p) in [
                (&layer.q, &dq, "self_attn.q_proj"),
                (&layer.k, &dk, "self_attn.k_proj"),
                (&layer.v, &dv, "self_attn.v_proj"),
            ] {
                let dx = need_dx.then_some(&mut dh1[..]);
                linear_backward(lin, &h, dout, n, dx, &name(p), &mut grads);
            }
            let mut dx = dy;
            if need_dx {
                k::rms_norm_backward(&s.x, layer.input_norm.s(), eps, &dh1, &mut dx);
            }
            dz = dx;
        }
        grads
    }

    fn rope_back(&self, buf: &mut [f32], width: usize) {
        let hd = self.model.config().head_dim;
        let (cos, sin) = (self.host.cos.s(), self.host.sin.s());
        for (r, row) in buf.chunks_exact_mut(width).enumerate() {
            let p = self.positions[r] as usize;
            k::rope_backward(
                row,
                hd,
                &cos[p * hd..(p + 1) * hd],
                &sin[p * hd..(p + 1) * hd],
            );
        }
    }
}

fn view(data: &[f32], rows: usize, cols: usize) -> MatRef<'_> {
    MatRef {
        data,
        rows,
        cols,
        row_stride: cols,
        col_stride: 1,
    }
}

fn transposed(data: &[f32], rows: usize, cols: usize) -> MatRef<'_> {
    MatRef {
        data,
        rows: cols,
        cols: rows,
        row_stride: 1,
        col_stride: cols,
    }
}

fn rows_of(data: &mut [f32], rows: usize, cols: usize) -> MatMut<'_> {
    MatMut {
        data,
        rows,
        cols,
        row_stride: cols,
        col_stride: 1,
    }
}

/// Backward of `y = x·W (+ s·(x·A)·B)` for `m` rows: `dx += dy·Wᵀ (+ s·(dy·Bᵀ)·Aᵀ)` when `dx`
/// is wanted, and for a LoRA layer pushes `dA = s·xᵀ·(dy·Bᵀ)` and `dB = s·(x·A)ᵀ·dy` under
/// `prefix`.
#[allow(clippy::too_many_arguments)]
fn linear_backward(
    lin: &HostLinear,
    x: &[f32],
    dy: &[f32],
    m: usize,
    mut dx: Option<&mut [f32]>,
    prefix: &str,
    grads: &mut Vec<(String, Vec<f32>)>,
) {
    let (kk, nn) = (lin.k, lin.n);
    debug_assert_eq!(lin.layout, WeightLayout::KN);
    if let Some(dx) = dx.as_deref_mut() {
        k::gemm(
            rows_of(dx, m, kk),
            view(dy, m, nn),
            transposed(lin.w.s(), kk, nn),
            1.0,
            true,
            true,
        );
    }
    if let Some((a, bm, r, scale)) = &lin.lora {
        let (a, bm, r) = (a.s(), bm.s(), *r);
        let mut xa = vec![0f32; m * r];
        k::matmul(x, m, kk, a, WeightLayout::KN, r, &mut xa);
        let mut tb = vec![0f32; m * r];
        k::matmul(dy, m, nn, bm, WeightLayout::NK, r, &mut tb);
        let mut db = vec![0f32; r * nn];
        k::gemm(
            MatMut {
                data: &mut db,
                rows: r,
                cols: nn,
                row_stride: nn,
                col_stride: 1,
            },
            transposed(&xa, m, r),
            view(dy, m, nn),
            *scale,
            false,
            true,
        );
        let mut da = vec![0f32; kk * r];
        k::gemm(
            MatMut {
                data: &mut da,
                rows: kk,
                cols: r,
                row_stride: r,
                col_stride: 1,
            },
            transposed(x, m, kk),
            view(&tb, m, r),
            *scale,
            false,
            true,
        );
        if let Some(dx) = dx {
            k::gemm(
                rows_of(dx, m, kk),
                view(&tb, m, r),
                transposed(a, kk, r),
                *scale,
                true,
                true,
            );
        }
        grads.push((format!("{prefix}.lora_A.weight"), da));
        grads.push((format!("{prefix}.lora_B.weight"), db));
    }
}
