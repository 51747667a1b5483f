//! The one HF <-> GGUF tensor-name table for Llama checkpoints, and the Q/K row permutation.
//!
//! Names follow llama.cpp gguf-py `tensor_mapping.py` / `constants.py` (`MODEL_TENSOR` for
//! `LLAMA`) and gguf.md §1.2. The permutation is `LlamaModel.permute` in llama.cpp
//! `convert_hf_to_gguf.py` (`conversion/llama.py`): `W.reshape(n, 2, rows/n/2, cols)
//! .swapaxes(1, 2)`, applied to `q_proj` with `n = n_head` and to `k_proj` with `n = n_head_kv`;
//! it turns HF's half-split RoPE layout into ggml's interleaved pairs. transformers undoes it in
//! `modeling_gguf_pytorch_utils.py` (`LlamaTensorProcessor._reverse_permute_weights`).

use crate::error::{Error, Result};

/// What a tensor is in a Llama checkpoint; the layer index rides along for per-block tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LlamaTensor {
    /// `token_embd.weight` / `model.embed_tokens.weight`, (vocab, hidden).
    TokenEmbd,
    /// `output_norm.weight` / `model.norm.weight`, (hidden).
    OutputNorm,
    /// `output.weight` / `lm_head.weight`, (vocab, hidden); absent when tied.
    Output,
    /// `rope_freqs.weight`: Llama-3.1 RoPE factors, (head_dim / 2); no HF tensor.
    RopeFreqs,
    /// `blk.N.attn_norm.weight` / `input_layernorm`, (hidden).
    AttnNorm(usize),
    /// `blk.N.attn_q.weight` / `self_attn.q_proj`, (n_head * head_dim, hidden); permuted.
    AttnQ(usize),
    /// `blk.N.attn_k.weight` / `self_attn.k_proj`, (n_head_kv * head_dim, hidden); permuted.
    AttnK(usize),
    /// `blk.N.attn_v.weight` / `self_attn.v_proj`, (n_head_kv * head_dim, hidden).
    AttnV(usize),
    /// `blk.N.attn_output.weight` / `self_attn.o_proj`, (hidden, n_head * head_dim).
    AttnOutput(usize),
    /// `blk.N.ffn_norm.weight` / `post_attention_layernorm`, (hidden).
    FfnNorm(usize),
    /// `blk.N.ffn_gate.weight` / `mlp.gate_proj`, (intermediate, hidden).
    FfnGate(usize),
    /// `blk.N.ffn_up.weight` / `mlp.up_proj`, (intermediate, hidden).
    FfnUp(usize),
    /// `blk.N.ffn_down.weight` / `mlp.down_proj`, (hidden, intermediate).
    FfnDown(usize),
}

/// Global tensors: (kind, GGUF name, HF name). An empty HF name means "no HF tensor".
const GLOBAL: &[(LlamaTensor, &str, &str)] = &[
    (
        LlamaTensor::TokenEmbd,
        "token_embd.weight",
        "model.embed_tokens.weight",
    ),
    (
        LlamaTensor::OutputNorm,
        "output_norm.weight",
        "model.norm.weight",
    ),
    (LlamaTensor::Output, "output.weight", "lm_head.weight"),
    (LlamaTensor::RopeFreqs, "rope_freqs.weight", ""),
];

/// A tensor's row in one of the two tables.
enum Row {
    Global(&'static (LlamaTensor, &'static str, &'static str)),
    Block(usize, &'static (Block, &'static str, &'static str)),
}

/// Per-block tensors: (constructor, GGUF suffix after `blk.N.`, HF suffix after `model.layers.N.`).
type Block = fn(usize) -> LlamaTensor;
const BLOCK: &[(Block, &str, &str)] = &[
    (
        LlamaTensor::AttnNorm,
        "attn_norm.weight",
        "input_layernorm.weight",
    ),
    (
        LlamaTensor::AttnQ,
        "attn_q.weight",
        "self_attn.q_proj.weight",
    ),
    (
        LlamaTensor::AttnK,
        "attn_k.weight",
        "self_attn.k_proj.weight",
    ),
    (
        LlamaTensor::AttnV,
        "attn_v.weight",
        "self_attn.v_proj.weight",
    ),
    (
        LlamaTensor::AttnOutput,
        "attn_output.weight",
        "self_attn.o_proj.weight",
    ),
    (
        LlamaTensor::FfnNorm,
        "ffn_norm.weight",
        "post_attention_layernorm.weight",
    ),
    (
        LlamaTensor::FfnGate,
        "ffn_gate.weight",
        "mlp.gate_proj.weight",
    ),
    (LlamaTensor::FfnUp, "ffn_up.weight", "mlp.up_proj.weight"),
    (
        LlamaTensor::FfnDown,
        "ffn_down.weight",
        "mlp.down_proj.weight",
    ),
];

fn split_layer<'a>(name: &'a str, prefix: &str) -> Option<(usize, &'a str)> {
    let rest = name.strip_prefix(prefix)?;
    let (n, suffix) = rest.split_once('.')?;
    // Reject "01" and "+1": only the canonical spelling maps back to the same name.
    if n.is_empty() || (n.len() > 1 && n.starts_with('0')) || !n.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((n.parse().ok()?, suffix))
}

impl LlamaTensor {
    /// Parses a GGUF tensor name.
    pub fn from_gguf(name: &str) -> Option<Self> {
        if let Some(g) = GLOBAL.iter().find(|g| g.1 == name) {
            return Some(g.0);
        }
        let (layer, suffix) = split_layer(name, "blk.")?;
        BLOCK.iter().find(|b| b.1 == suffix).map(|b| (b.0)(layer))
    }

    /// Parses an HF tensor name.
    pub fn from_hf(name: &str) -> Option<Self> {
        if let Some(g) = GLOBAL.iter().find(|g| !g.2.is_empty() && g.2 == name) {
            return Some(g.0);
        }
        let (layer, suffix) = split_layer(name, "model.layers.")?;
        BLOCK.iter().find(|b| b.2 == suffix).map(|b| (b.0)(layer))
    }

    fn row(self) -> Row {
        use LlamaTensor::*;
        let (layer, i) = match self {
            AttnNorm(l) => (l, 0),
            AttnQ(l) => (l, 1),
            AttnK(l) => (l, 2),
            AttnV(l) => (l, 3),
            AttnOutput(l) => (l, 4),
            FfnNorm(l) => (l, 5),
            FfnGate(l) => (l, 6),
            FfnUp(l) => (l, 7),
            FfnDown(l) => (l, 8),
            global => {
                return Row::Global(GLOBAL.iter().find(|g| g.0 == global).unwrap_or(&GLOBAL[0]));
            }
        };
        Row::Block(layer, &BLOCK[i])
    }

    /// The GGUF tensor name.
    pub fn gguf_name(self) -> String {
        match self.row() {
            Row::Block(l, b) => format!("blk.{l}.{}", b.1),
            Row::Global(g) => g.1.to_string(),
        }
    }

    /// The HF tensor name, `None` for tensors HF checkpoints do not store (`rope_freqs`).
    pub fn hf_name(self) -> Option<String> {
        match self.row() {
            Row::Block(l, b) => Some(format!("model.layers.{l}.{}", b.2)),
            Row::Global(g) => (!g.2.is_empty()).then(|| g.2.to_string()),
        }
    }

    /// The layer index of per-block tensors.
    pub fn layer(self) -> Option<usize> {
        match self.row() {
            Row::Block(l, _) => Some(l),
            Row::Global(_) => None,
        }
    }

    /// Whether llama.cpp stores this tensor's rows permuted (q and k projections).
    pub fn is_rope_permuted(self) -> bool {
        matches!(self, LlamaTensor::AttnQ(_) | LlamaTensor::AttnK(_))
    }
}

/// Source row of output row `r` for GGUF -> HF: HF row `k * half + j` of a head is GGUF row
/// `2j + k` of that head.
fn hf_from_gguf_row(r: usize, head_dim: usize) -> usize {
    let (h, i) = (r / head_dim, r % head_dim);
    let half = head_dim / 2;
    let (k, j) = (i / half, i % half);
    h * head_dim + 2 * j + k
}

/// Source row of output row `r` for HF -> GGUF: GGUF row `2j + k` of a head is HF row
/// `k * half + j` of that head.
fn gguf_from_hf_row(r: usize, head_dim: usize) -> usize {
    let (h, i) = (r / head_dim, r % head_dim);
    let (j, k) = (i / 2, i % 2);
    h * head_dim + k * (head_dim / 2) + j
}

fn check_heads(n_rows: usize, n_head: usize) -> Result<usize> {
    if n_head == 0 || !n_rows.is_multiple_of(n_head) || !(n_rows / n_head).is_multiple_of(2) {
        return Err(Error::Unsupported(format!(
            "cannot split {n_rows} rows into {n_head} heads of even size"
        )));
    }
    Ok(n_rows / n_head)
}

/// For row `r` of the HF-order tensor, the row of the GGUF-order tensor that holds it.
///
/// # Errors
/// When `n_rows` does not split into `n_head` heads of even size.
pub fn gguf_row_for_hf_row(n_rows: usize, n_head: usize) -> Result<impl Fn(usize) -> usize> {
    let hd = check_heads(n_rows, n_head)?;
    Ok(move |r| hf_from_gguf_row(r, hd))
}

/// Undoes llama.cpp's permutation: `src` holds `n_rows` rows of `row_len` elements in GGUF
/// order, the result holds them in HF order. Works on any row representation (f32 values or
/// encoded block bytes, since rows are quantised independently).
pub fn unpermute_rows<T: Copy>(src: &[T], n_rows: usize, n_head: usize) -> Result<Vec<T>> {
    gather(src, n_rows, n_head, hf_from_gguf_row)
}

/// Applies llama.cpp's permutation (HF order in, GGUF order out); the inverse of
/// [`unpermute_rows`].
pub fn permute_rows<T: Copy>(src: &[T], n_rows: usize, n_head: usize) -> Result<Vec<T>> {
    gather(src, n_rows, n_head, gguf_from_hf_row)
}

fn gather<T: Copy>(
    src: &[T],
    n_rows: usize,
    n_head: usize,
    from: fn(usize, usize) -> usize,
) -> Result<Vec<T>> {
    let hd = check_heads(n_rows, n_head)?;
    if n_rows == 0 || !src.len().is_multiple_of(n_rows) {
        return Err(Error::Unsupported(format!(
            "{} elements do not form {n_rows} rows",
            src.len()
        )));
    }
    let row_len = src.len() / n_rows;
    let mut out = Vec::with_capacity(src.len());
    for r in 0..n_rows {
        let s = from(r, hd);
        out.extend_from_slice(&src[s * row_len..(s + 1) * row_len]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "token_embd.weight",
            "output.weight",
            "output_norm.weight",
            "blk.0.attn_q.weight",
            "blk.29.ffn_down.weight",
            "blk.7.ffn_norm.weight",
        ] {
            let t = LlamaTensor::from_gguf(name).unwrap();
            assert_eq!(t.gguf_name(), name);
            let hf = t.hf_name().unwrap();
            assert_eq!(LlamaTensor::from_hf(&hf), Some(t));
        }
        assert_eq!(
            LlamaTensor::from_gguf("blk.3.attn_k.weight")
                .unwrap()
                .hf_name()
                .unwrap(),
            "model.layers.3.self_attn.k_proj.weight"
        );
        assert_eq!(
            LlamaTensor::from_gguf("rope_freqs.weight")
                .unwrap()
                .hf_name(),
            None
        );
        for bad in [
            "blk.01.attn_q.weight",
            "blk.x.attn_q.weight",
            "blk..attn_q.weight",
            "blk.0.attn_qq.weight",
            "token_embd",
        ] {
            assert_eq!(LlamaTensor::from_gguf(bad), None, "{bad}");
        }
    }

    /// The numpy formula of gguf.md §1.2, written out with explicit indices.
    fn numpy_permute(w: &[usize], rows: usize, cols: usize, n: usize) -> Vec<usize> {
        // W.reshape(n, 2, rows/n/2, cols).swapaxes(1, 2): out[h, j, k, c] = W[h, k, j, c].
        let half = rows / n / 2;
        let mut out = vec![0; rows * cols];
        for h in 0..n {
            for j in 0..half {
                for k in 0..2 {
                    for c in 0..cols {
                        out[((h * half + j) * 2 + k) * cols + c] =
                            w[((h * 2 + k) * half + j) * cols + c];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn permutation_matches_numpy_formula_and_inverts() {
        let (rows, cols) = (24, 3);
        let w: Vec<usize> = (0..rows * cols).collect();
        for n in [1, 2, 3, 6] {
            let p = permute_rows(&w, rows, n).unwrap();
            assert_eq!(p, numpy_permute(&w, rows, cols, n), "n = {n}");
            assert_eq!(unpermute_rows(&p, rows, n).unwrap(), w);
        }
        // Head dim 8: GGUF row 1 of head 0 is HF row 4 (k = 1, j = 0).
        let f = gguf_row_for_hf_row(16, 2).unwrap();
        assert_eq!((f(0), f(4), f(1), f(12)), (0, 1, 2, 9));
        assert!(permute_rows(&w, rows, 5).is_err());
    }
}
