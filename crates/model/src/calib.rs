//! Calibration passes for compression: run the decoder one layer at a time on calibration
//! tokens, showing each projection group's input, and read or replace projection weights.
//!
//! Pruning (Wanda, SparseGPT) and AWQ need the inputs of every linear layer on calibration
//! data, layer after layer, with the earlier layers already compressed — the sequential scheme
//! of the SparseGPT and Wanda reference code (`llama_sequential` / `prune_wanda`): embed once,
//! then for each layer observe its inputs, compress it, and run it again to get the next
//! layer's input. [`Calibrator`] runs the flex fast path's own layer ([`crate::host`]), so the
//! activations are exactly the ones inference computes. Weights are exchanged in HF layout
//! (`[d_out, d_in]`, row-major f32), the layout the compression algorithms are written in.

use burn::tensor::TensorData;

use crate::error::{Error, Result};
use crate::host::{Buffers, HostModel, Step};
use crate::kv_cache::HostKv;
use crate::linear::{DenseLinear, Linear};
use crate::llama::Llama;

pub use crate::host::Site;

/// One projection of a decoder layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proj {
    /// `self_attn.q_proj`
    Q,
    /// `self_attn.k_proj`
    K,
    /// `self_attn.v_proj`
    V,
    /// `self_attn.o_proj`
    O,
    /// `mlp.gate_proj`
    Gate,
    /// `mlp.up_proj`
    Up,
    /// `mlp.down_proj`
    Down,
}

impl Proj {
    /// Every projection, in layer order.
    pub const ALL: [Proj; 7] = [
        Proj::Q,
        Proj::K,
        Proj::V,
        Proj::O,
        Proj::Gate,
        Proj::Up,
        Proj::Down,
    ];

    /// The site whose activations are this projection's input.
    pub fn site(self) -> Site {
        match self {
            Proj::Q | Proj::K | Proj::V => Site::Attn,
            Proj::O => Site::O,
            Proj::Gate | Proj::Up => Site::Mlp,
            Proj::Down => Site::Down,
        }
    }

    /// The HF module name inside `model.layers.N.` (`self_attn.q_proj`, …).
    pub fn hf_name(self) -> &'static str {
        match self {
            Proj::Q => "self_attn.q_proj",
            Proj::K => "self_attn.k_proj",
            Proj::V => "self_attn.v_proj",
            Proj::O => "self_attn.o_proj",
            Proj::Gate => "mlp.gate_proj",
            Proj::Up => "mlp.up_proj",
            Proj::Down => "mlp.down_proj",
        }
    }
}

/// Runs decoder layers one at a time on calibration tokens (see the module docs).
pub struct Calibrator<'m> {
    model: &'m Llama,
    host: HostModel,
}

impl std::fmt::Debug for Calibrator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calibrator")
            .field("layers", &self.model.layers.len())
            .finish()
    }
}

impl Llama {
    fn linear_at(&self, layer: usize, p: Proj) -> Result<&Linear> {
        let b = self.layers.get(layer).ok_or_else(|| {
            Error::Input(format!(
                "layer {layer} of a {}-layer model",
                self.layers.len()
            ))
        })?;
        Ok(match p {
            Proj::Q => &b.self_attn.q_proj,
            Proj::K => &b.self_attn.k_proj,
            Proj::V => &b.self_attn.v_proj,
            Proj::O => &b.self_attn.o_proj,
            Proj::Gate => &b.mlp.gate_proj,
            Proj::Up => &b.mlp.up_proj,
            Proj::Down => &b.mlp.down_proj,
        })
    }

    /// The effective weight of projection `p` of `layer` in HF layout `[d_out, d_in]`, f32.
    pub fn proj_weight(&self, layer: usize, p: Proj) -> Result<Vec<f32>> {
        let w = self.linear_at(layer, p)?.hf_weight();
        w.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Input(format!("reading layer {layer} {}: {e:?}", p.hf_name())))
    }

    /// Replaces projection `p` of `layer` by the dense weight `hf` (`[d_out, d_in]`
    /// row-major, f32), keeping its shape; adapters on it are dropped.
    pub fn set_proj_weight(&mut self, layer: usize, p: Proj, hf: &[f32]) -> Result<()> {
        let (d_in, d_out) = self.linear_at(layer, p)?.dims();
        if hf.len() != d_in * d_out {
            return Err(Error::Input(format!(
                "layer {layer} {}: {} values for a [{d_out}, {d_in}] weight",
                p.hf_name(),
                hf.len()
            )));
        }
        // burn keeps `[d_in, d_out]`.
        let mut t = vec![0f32; hf.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = hf[o * d_in + i];
            }
        }
        let device = self.device();
        let dense = DenseLinear::from_data(TensorData::new(t, [d_in, d_out]), &device);
        let b = &mut self.layers[layer];
        let slot = match p {
            Proj::Q => &mut b.self_attn.q_proj,
            Proj::K => &mut b.self_attn.k_proj,
            Proj::V => &mut b.self_attn.v_proj,
            Proj::O => &mut b.self_attn.o_proj,
            Proj::Gate => &mut b.mlp.gate_proj,
            Proj::Up => &mut b.mlp.up_proj,
            Proj::Down => &mut b.mlp.down_proj,
        };
        *slot = Linear::Dense(dense);
        Ok(())
    }

    /// A layer-by-layer runner over the current weights; build a new one after
    /// [`Llama::set_proj_weight`]. Needs the flex fast path (an f32 model on `flex`).
    pub fn calibrator(&self) -> Result<Calibrator<'_>> {
        let host = self.host_model().ok_or_else(|| {
            Error::Input(
                "calibration needs an f32 model on the flex CPU backend (load it with dtype f32 \
                 on cpu)"
                    .into(),
            )
        })?;
        Ok(Calibrator { model: self, host })
    }
}

impl Calibrator<'_> {
    /// Decoder layers.
    pub fn n_layers(&self) -> usize {
        self.host.layers.len()
    }

    /// The embeddings of `ids`, `[ids.len(), hidden]`.
    pub fn embed(&self, ids: &[u32]) -> Vec<f32> {
        let d = self.model.config().hidden_size;
        let e = self.host.embed.s();
        let mut x = Vec::with_capacity(ids.len() * d);
        for &id in ids {
            x.extend_from_slice(&e[id as usize * d..(id as usize + 1) * d]);
        }
        x
    }

    /// Runs layer `layer` in place on `x` = `[batch·seq, hidden]` (each row of `seq` tokens a
    /// causal sequence at positions `0..seq`, no padding), calling `observe(site, input)` with
    /// each projection group's input `[batch·seq, width]`.
    pub fn layer(
        &self,
        layer: usize,
        x: &mut Vec<f32>,
        batch: usize,
        seq: usize,
        observe: &mut dyn FnMut(Site, &[f32]),
    ) {
        let c = self.model.config();
        let (d, nh, nkv, hd, inter) = (
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim,
            c.intermediate_size,
        );
        assert_eq!(x.len(), batch * seq * d, "x must be [batch·seq, hidden]");
        let positions: Vec<i64> = (0..batch).flat_map(|_| 0..seq as i64).collect();
        let ids = vec![0u32; batch * seq];
        let step = Step {
            ids: &ids,
            batch,
            seq,
            positions: &positions,
            valid: vec![vec![true; seq]; batch],
            segments: None,
            past: 0,
        };
        let mut kv = HostKv::new(1, batch, nkv, hd, seq);
        kv.reserve(0, seq);
        let mut bufs = Buffers::new(batch * seq, d, nh * hd, nkv * hd, inter);
        self.host
            .layer(c, layer, 0, &step, &mut kv, &mut bufs, x, seq, observe);
    }
}
