//! File types and llama-quantize's per-tensor type rules and output layout.
//!
//! Follows llama.cpp `src/llama-quant.cpp` (`tensor_allows_quantization`,
//! `llama_tensor_get_type_impl`, `tensor_type_fallback`, `llama_model_quantize_impl`'s tensor
//! sort and metadata copy) for the dense-Llama cases of the Q8_0, Q6_K, Q5_K_M and Q4_K_M file
//! types (gguf.md §3), and `conversion/base.py` (`prepare_tensors`) for the F32/F16/BF16 types
//! the converter writes.

use std::cmp::Ordering;

use cogumi_quant::GgmlType;

/// A GGUF file type this exporter writes (`llama_ftype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    /// Everything F32 (`LLAMA_FTYPE_ALL_F32` = 0).
    F32,
    /// 2-D weights F16 (`MOSTLY_F16` = 1).
    F16,
    /// 2-D weights BF16 (`MOSTLY_BF16` = 32).
    BF16,
    /// 2-D weights Q8_0 (`MOSTLY_Q8_0` = 7).
    Q8_0,
    /// Q6_K everywhere (`MOSTLY_Q6_K` = 18).
    Q6K,
    /// Q5_K with Q6_K on attn_v / ffn_down "more bits" layers and the output (`MOSTLY_Q5_K_M` = 17).
    Q5KM,
    /// Q4_K with Q6_K on attn_v / ffn_down "more bits" layers and the output (`MOSTLY_Q4_K_M` = 15).
    Q4KM,
}

impl FileType {
    /// Every type, in the order `--help` lists them.
    pub const ALL: [FileType; 7] = [
        FileType::F32,
        FileType::F16,
        FileType::BF16,
        FileType::Q8_0,
        FileType::Q6K,
        FileType::Q5KM,
        FileType::Q4KM,
    ];

    /// The name llama-quantize uses (`Q4_K_M`, …).
    pub fn name(self) -> &'static str {
        match self {
            FileType::F32 => "F32",
            FileType::F16 => "F16",
            FileType::BF16 => "BF16",
            FileType::Q8_0 => "Q8_0",
            FileType::Q6K => "Q6_K",
            FileType::Q5KM => "Q5_K_M",
            FileType::Q4KM => "Q4_K_M",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The `general.file_type` value.
    pub fn ftype_id(self) -> u32 {
        match self {
            FileType::F32 => 0,
            FileType::F16 => 1,
            FileType::BF16 => 32,
            FileType::Q8_0 => 7,
            FileType::Q6K => 18,
            FileType::Q5KM => 17,
            FileType::Q4KM => 15,
        }
    }

    /// Whether llama-quantize (rather than the converter) defines this file's layout.
    pub fn is_quantized(self) -> bool {
        !matches!(self, FileType::F32 | FileType::F16 | FileType::BF16)
    }

    fn default_type(self) -> GgmlType {
        match self {
            FileType::F32 => GgmlType::F32,
            FileType::F16 => GgmlType::F16,
            FileType::BF16 => GgmlType::BF16,
            FileType::Q8_0 => GgmlType::Q8_0,
            FileType::Q6K => GgmlType::Q6_K,
            FileType::Q5KM => GgmlType::Q5_K,
            FileType::Q4KM => GgmlType::Q4_K,
        }
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What llama-quantize needs to know about the model to pick types.
#[derive(Clone, Copy, Debug)]
pub struct ModelShape {
    /// Decoder blocks.
    pub n_layer: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_head_kv: usize,
    /// Whether `output.weight` is absent (the embedding doubles as the LM head).
    pub tied: bool,
}

/// `use_more_bits(i, n)`: the first and last eighth of the layers and every third in between.
pub(crate) fn use_more_bits(i: usize, n: usize) -> bool {
    let (i, n) = (i as i64, n as i64);
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// The converter's type for tensor `name` with `n_dims` dimensions (`prepare_tensors`).
pub(crate) fn converter_type(ft: FileType, name: &str, n_dims: usize) -> GgmlType {
    if n_dims <= 1 || name.ends_with("_norm.weight") || !name.ends_with(".weight") {
        GgmlType::F32
    } else {
        match ft {
            FileType::F16 => GgmlType::F16,
            FileType::BF16 => GgmlType::BF16,
            _ => GgmlType::F32,
        }
    }
}

/// llama-quantize's type for tensor `name` (`ne[0]` = `row_len`), given the running counts
/// of attn_v and ffn_down tensors seen so far in the sorted order (`i_attn_v`, `i_ffn_down`).
pub(crate) fn quantized_type(
    ft: FileType,
    shape: &ModelShape,
    name: &str,
    n_dims: usize,
    row_len: u64,
    i_attn_v: usize,
    i_ffn_down: usize,
) -> GgmlType {
    // tensor_allows_quantization: 1-D tensors, norms and non-weights keep the input type
    // (F32 in our F32 input file).
    if n_dims < 2 || !name.ends_with("weight") || name.contains("_norm.weight") {
        return GgmlType::F32;
    }
    let default = ft.default_type();
    let mut ty = default;
    let is_output = name == "output.weight";
    let is_embd = name == "token_embd.weight";
    if is_output || (shape.tied && is_embd) {
        let qk = default.block_size() as u64;
        if !row_len.is_multiple_of(qk) {
            ty = GgmlType::Q8_0;
        } else if ty != GgmlType::Q8_0 {
            ty = GgmlType::Q6_K;
        }
    } else if name.contains("attn_v.weight") {
        if matches!(ft, FileType::Q4KM | FileType::Q5KM) && use_more_bits(i_attn_v, shape.n_layer) {
            ty = GgmlType::Q6_K;
        }
        // LLM_TYPE_70B: 80 layers with grouped-query attention.
        let is_70b = shape.n_layer == 80 && shape.n_head != shape.n_head_kv;
        if is_70b && ty == GgmlType::Q4_K {
            ty = GgmlType::Q5_K;
        }
    } else if name.contains("ffn_down")
        && matches!(ft, FileType::Q4KM | FileType::Q5KM)
        && use_more_bits(i_ffn_down, shape.n_layer)
    {
        ty = GgmlType::Q6_K;
    }
    fallback(ty, row_len)
}

/// `tensor_type_fallback`: a 256-block type on rows that are not a multiple of 256.
fn fallback(ty: GgmlType, row_len: u64) -> GgmlType {
    if row_len.is_multiple_of(ty.block_size() as u64) {
        return ty;
    }
    let f = match ty {
        GgmlType::Q4_K => GgmlType::Q5_0,
        GgmlType::Q5_K => GgmlType::Q5_1,
        GgmlType::Q6_K => GgmlType::Q8_0,
        other => other,
    };
    if row_len.is_multiple_of(f.block_size() as u64) {
        f
    } else {
        GgmlType::F16
    }
}

/// `(layer, name)` with non-block tensors at layer -1: llama-quantize's `weight_name_comparer`.
fn sort_key(name: &str) -> (i64, &str) {
    let layer = name
        .strip_prefix("blk.")
        .and_then(|r| r.split('.').next())
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(-1);
    (layer, name)
}

/// Orders tensor names as `llama_model_quantize` writes them.
pub(crate) fn quantize_order(a: &str, b: &str) -> Ordering {
    sort_key(a).cmp(&sort_key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_bits_layers_match_the_published_table() {
        // gguf.md §3 (8 layers verified against llama-quantize; the others from its formula).
        let layers = |n: usize| (0..n).filter(|&i| use_more_bits(i, n)).collect::<Vec<_>>();
        assert_eq!(layers(8), [0, 3, 6, 7]);
        assert_eq!(layers(16), [0, 1, 4, 7, 10, 13, 14, 15]);
        let l32 = layers(32);
        assert_eq!(&l32[..5], &[0, 1, 2, 3, 6]);
        assert_eq!(&l32[l32.len() - 4..], &[28, 29, 30, 31]);
    }

    #[test]
    fn q4_k_m_types_for_a_tied_smollm2_shape() {
        // SmolLM2-135M: 30 layers, rows of 576 (not a multiple of 256) fall back.
        let s = ModelShape {
            n_layer: 30,
            n_head: 9,
            n_head_kv: 3,
            tied: true,
        };
        let t = |name: &str, row: u64, iv: usize, id: usize| {
            quantized_type(FileType::Q4KM, &s, name, 2, row, iv, id)
        };
        assert_eq!(t("token_embd.weight", 576, 0, 0), GgmlType::Q8_0);
        assert_eq!(t("blk.1.attn_q.weight", 576, 0, 0), GgmlType::Q5_0);
        assert_eq!(t("blk.0.attn_v.weight", 576, 0, 0), GgmlType::Q8_0);
        assert_eq!(t("blk.0.ffn_down.weight", 1536, 0, 0), GgmlType::Q6_K);
        assert_eq!(t("blk.4.ffn_down.weight", 1536, 0, 4), GgmlType::Q4_K);
        assert_eq!(t("blk.5.ffn_down.weight", 1536, 0, 5), GgmlType::Q6_K);
        assert_eq!(
            quantized_type(FileType::Q4KM, &s, "blk.0.attn_norm.weight", 1, 576, 0, 0),
            GgmlType::F32
        );
    }

    #[test]
    fn sort_puts_globals_first_then_layers_numerically() {
        let mut v = vec![
            "blk.10.attn_q.weight",
            "token_embd.weight",
            "blk.2.ffn_up.weight",
            "output_norm.weight",
            "blk.2.attn_k.weight",
            "output.weight",
        ];
        v.sort_by(|a, b| quantize_order(a, b));
        assert_eq!(
            v,
            [
                "output.weight",
                "output_norm.weight",
                "token_embd.weight",
                "blk.2.attn_k.weight",
                "blk.2.ffn_up.weight",
                "blk.10.attn_q.weight"
            ]
        );
    }
}
