//! The KV cache for incremental decoding, in whichever storage the forward path that fills it
//! uses: burn tensors (any backend, autodiff) or host buffers with spare capacity (the flex
//! fast path, [`crate::host`]), converted on demand when the other path picks it up.
//!
//! Follows transformers' `DynamicCache`: keys after RoPE and values, per layer, plus which
//! positions are real tokens (left padding is not), so positions and masks continue correctly.

use burn::tensor::{Tensor, TensorData};

/// Per-layer key/value cache for incremental decoding.
///
/// Holds keys and values after RoPE, `[B, n_kv_heads, T_past, head_dim]`, and which past
/// positions are real tokens (left padding is not), so positions and masks continue correctly.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub(crate) layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    pub(crate) host: Option<HostKv>,
    pub(crate) valid: Vec<Vec<bool>>,
}

/// Host storage: per layer `[B, n_kv, capacity, head_dim]` keys and values; positions
/// `0..len` are filled (`len` is the cache's, kept in `KvCache::valid`).
#[derive(Debug, Clone)]
pub(crate) struct HostKv {
    pub(crate) k: Vec<Vec<f32>>,
    pub(crate) v: Vec<Vec<f32>>,
    pub(crate) batch: usize,
    pub(crate) n_kv: usize,
    pub(crate) head_dim: usize,
    pub(crate) capacity: usize,
}

impl HostKv {
    /// Empty storage for `layers` layers with room for `capacity` positions.
    pub(crate) fn new(
        layers: usize,
        batch: usize,
        n_kv: usize,
        head_dim: usize,
        capacity: usize,
    ) -> Self {
        let size = batch * n_kv * capacity * head_dim;
        HostKv {
            k: vec![vec![0.0; size]; layers],
            v: vec![vec![0.0; size]; layers],
            batch,
            n_kv,
            head_dim,
            capacity,
        }
    }

    /// Grows every layer to hold at least `needed` positions, keeping the first `len`
    /// (capacity doubles, so appending one token at a time costs amortised O(1) copies).
    pub(crate) fn reserve(&mut self, len: usize, needed: usize) {
        if needed <= self.capacity {
            return;
        }
        let cap = needed.max(self.capacity * 2).max(64);
        let (rows, hd, old) = (self.batch * self.n_kv, self.head_dim, self.capacity);
        for buf in self.k.iter_mut().chain(self.v.iter_mut()) {
            let mut grown = vec![0.0; rows * cap * hd];
            for r in 0..rows {
                grown[r * cap * hd..(r * cap + len) * hd]
                    .copy_from_slice(&buf[r * old * hd..(r * old + len) * hd]);
            }
            *buf = grown;
        }
        self.capacity = cap;
    }

    /// Appends layer `layer`'s keys and values, `[B·T, n_kv·head_dim]` each (token-major, as
    /// the projections produce them), at positions `at..at + T`.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        keys: &[f32],
        values: &[f32],
        at: usize,
        t: usize,
    ) {
        let (nkv, hd, cap) = (self.n_kv, self.head_dim, self.capacity);
        for (rows, buf) in [(keys, &mut self.k[layer]), (values, &mut self.v[layer])] {
            for b in 0..self.batch {
                for j in 0..t {
                    let src = &rows[(b * t + j) * nkv * hd..(b * t + j + 1) * nkv * hd];
                    for g in 0..nkv {
                        let dst = ((b * nkv + g) * cap + at + j) * hd;
                        buf[dst..dst + hd].copy_from_slice(&src[g * hd..(g + 1) * hd]);
                    }
                }
            }
        }
    }

    /// The `[n_kv, capacity, head_dim]` slab of batch row `b`.
    pub(crate) fn row<'a>(&self, buf: &'a [f32], b: usize) -> &'a [f32] {
        let size = self.n_kv * self.capacity * self.head_dim;
        &buf[b * size..(b + 1) * size]
    }
}

impl KvCache {
    /// An empty cache for a model with `num_layers` blocks.
    pub fn new(num_layers: usize) -> Self {
        KvCache {
            layers: vec![None; num_layers],
            host: None,
            valid: Vec::new(),
        }
    }

    /// Number of cached positions (padding included).
    pub fn len(&self) -> usize {
        self.valid.first().map_or(0, Vec::len)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every position from `len` on (rollback for speculative decoding).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        for (k, v) in self.layers.iter_mut().flatten() {
            let [b, h, _, d] = k.dims();
            *k = k.clone().slice([0..b, 0..h, 0..len, 0..d]);
            *v = v.clone().slice([0..b, 0..h, 0..len, 0..d]);
        }
        for row in &mut self.valid {
            row.truncate(len);
        }
    }

    /// The host storage, converting tensors a burn-path forward left (or starting empty).
    pub(crate) fn host_mut(&mut self, batch: usize, n_kv: usize, head_dim: usize) -> &mut HostKv {
        let len = self.len();
        if len == 0
            && self
                .host
                .as_ref()
                .is_some_and(|h| h.batch != batch || h.n_kv != n_kv)
        {
            self.host = None;
        }
        if self.host.is_none() {
            let mut host = HostKv::new(self.layers.len(), batch, n_kv, head_dim, len.max(1));
            for (i, slot) in self.layers.iter_mut().enumerate() {
                if let Some((k, v)) = slot.take() {
                    for (src, dst) in [(k, &mut host.k[i]), (v, &mut host.v[i])] {
                        // [B, n_kv, len, hd] contiguous is exactly the layout at capacity `len`.
                        let data = src.into_data().convert::<f32>();
                        dst[..batch * n_kv * len * head_dim]
                            .copy_from_slice(data.as_slice::<f32>().expect("f32 cache"));
                    }
                }
            }
            self.host = Some(host);
        }
        self.host.as_mut().expect("set above")
    }

    /// The per-layer tensors, converting host storage a fast-path forward left.
    pub(crate) fn layers_mut(
        &mut self,
        device: &burn::tensor::Device,
    ) -> &mut [Option<(Tensor<4>, Tensor<4>)>] {
        if let Some(host) = self.host.take() {
            let len = self.len();
            let (b, g, d, cap) = (host.batch, host.n_kv, host.head_dim, host.capacity);
            for (i, slot) in self.layers.iter_mut().enumerate() {
                let tensor = |buf: &[f32]| {
                    let mut out = Vec::with_capacity(b * g * len * d);
                    for r in 0..b * g {
                        out.extend_from_slice(&buf[r * cap * d..(r * cap + len) * d]);
                    }
                    Tensor::<4>::from_data(TensorData::new(out, [b, g, len, d]), device)
                };
                *slot = (len > 0).then(|| (tensor(&host.k[i]), tensor(&host.v[i])));
            }
        }
        &mut self.layers
    }
}
