//! GGUF → GGUF quantisation: what `llama-quantize IN OUT TYPE` does to a Llama file, in Rust.
//!
//! Follows `llama_model_quantize_impl` in llama.cpp `src/llama-quant.cpp` (gguf.md §3): the
//! input's metadata in order without `split.*`, then `general.quantization_version` and
//! `general.file_type` moved last; tensors sorted by (layer, name); every tensor dequantised to
//! f32 (exact for F32/F16/BF16 inputs) and encoded with the type [`super::plan`] picks; 32-byte
//! alignment. On an F32/F16/BF16 input the output is byte-identical to llama-quantize's.

use std::path::Path;

use super::plan::{self, FileType, ModelShape};
use super::{ExportReport, encode_into, write_atomically};
use crate::error::{Error, Result};
use crate::reader::GgufFile;
use crate::value::Value;
use crate::writer::GgufWriter;

/// Quantises the Llama GGUF `input` to `out` with file type `ft` (a quantised type);
/// `progress(done, total)` is called per tensor.
pub fn quantize_gguf(
    input: &Path,
    out: &Path,
    ft: FileType,
    mut progress: impl FnMut(usize, usize),
) -> Result<ExportReport> {
    let _span = tracing::info_span!("quantize_gguf", input = %input.display(), ty = %ft).entered();
    if !ft.is_quantized() {
        return Err(Error::Unsupported(format!(
            "requantising to {ft}; convert from the HF checkpoint for F32/F16/BF16"
        )));
    }
    let src = GgufFile::open(input)?;
    let md = &src.metadata;
    let arch = md.str("general.architecture")?;
    if arch != "llama" {
        return Err(Error::Unsupported(format!(
            "architecture {arch:?} (llama only)"
        )));
    }
    let shape = ModelShape {
        n_layer: md.u64("llama.block_count")? as usize,
        n_head: md.u64("llama.attention.head_count")? as usize,
        n_head_kv: md
            .opt_u64("llama.attention.head_count_kv")?
            .unwrap_or(md.u64("llama.attention.head_count")?) as usize,
        tied: src.tensor("output.weight").is_none(),
    };
    let moved = ["general.quantization_version", "general.file_type"];
    let mut w = GgufWriter::new();
    for (k, v) in md.iter() {
        if !k.starts_with("split.") && !moved.contains(&k) {
            w.add_kv(k, v.clone())?;
        }
    }
    w.add_kv(moved[0], Value::U32(2))?;
    w.add_kv(moved[1], Value::U32(ft.ftype_id()))?;

    let mut order: Vec<usize> = (0..src.tensors.len()).collect();
    order.sort_by(|&a, &b| plan::quantize_order(&src.tensors[a].name, &src.tensors[b].name));
    let (mut iv, mut id) = (0, 0);
    let mut types = Vec::with_capacity(order.len());
    let mut tensor_types = std::collections::BTreeMap::new();
    let mut params = 0u64;
    for &i in &order {
        let t = &src.tensors[i];
        // 1-D tensors and norms keep their input type (gguf.md §3).
        let keep = t.ne.len() < 2 || !t.name.ends_with("weight") || t.name.contains("_norm.weight");
        let ty = if keep {
            t.ty
        } else {
            plan::quantized_type(ft, &shape, &t.name, t.ne.len(), t.ne[0], iv, id)
        };
        iv += usize::from(t.name.contains("attn_v.weight"));
        id += usize::from(t.name.contains("ffn_down"));
        w.add_tensor_info(&t.name, ty, &t.ne)?;
        *tensor_types.entry(ty.name().to_string()).or_insert(0) += 1;
        if t.name != "rope_freqs.weight" {
            params += t.n_elements;
        }
        types.push(ty);
    }

    let total = order.len();
    let bytes = write_atomically(
        &w,
        out,
        |k, buf| {
            let t = &src.tensors[order[k]];
            if types[k] == t.ty {
                buf.extend_from_slice(src.tensor_data(t));
            } else {
                // F32 input is quantised straight from the mapped file (GGUF data is 32-byte
                // aligned); other inputs are dequantised first.
                let owned;
                let values: &[f32] = match bytemuck::try_cast_slice(src.tensor_data(t)) {
                    Ok(v) if t.ty == cogumi_quant::GgmlType::F32 => v,
                    _ => {
                        owned = src.tensor_f32(t)?;
                        &owned
                    }
                };
                encode_into(types[k], values, buf, &t.name)?;
            }
            Ok(())
        },
        |k| progress(k + 1, total),
    )?;
    Ok(ExportReport {
        path: out.to_path_buf(),
        file_type: ft.name().to_string(),
        bytes,
        params,
        tensor_types,
    })
}
