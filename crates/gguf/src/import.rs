//! GGUF -> HF checkpoint directory: `config.json`, `generation_config.json`,
//! `model.safetensors` and the tokenizer files, for `general.architecture = "llama"`.
//!
//! Reproduces what transformers 4.57 builds with `from_pretrained(dir, gguf_file=...)`
//! (`modeling_gguf_pytorch_utils.py`: dequantise with gguf-py, undo the Q/K permutation, tie
//! embeddings when `output.weight` is absent), with the tokenizer rebuilt as llama.cpp runs it
//! (see `tokenizer.rs`) and Llama-3.1 `rope_freqs` turned back into `rope_scaling` (`rope.rs`).
//! `model.safetensors` is streamed with the `safetensors` crate: one tensor is converted at a
//! time, rows in parallel, so memory stays near one copy of the output plus the mapped input.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::LlamaHparams;
use crate::error::{Error, Result};
use crate::names::{LlamaTensor, gguf_row_for_hf_row};
use crate::reader::{GgufFile, TensorInfo};

/// Storage dtype of the written `model.safetensors`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// IEEE single; exact for every GGUF block format.
    #[default]
    F32,
    /// IEEE half, rounded to nearest even.
    F16,
    /// bfloat16, rounded to nearest even.
    BF16,
}

impl Dtype {
    /// The torch name transformers writes in `config.json`.
    pub fn torch_name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F16 => "float16",
            Dtype::BF16 => "bfloat16",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
        }
    }

    fn safetensors(self) -> safetensors::Dtype {
        match self {
            Dtype::F32 => safetensors::Dtype::F32,
            Dtype::F16 => safetensors::Dtype::F16,
            Dtype::BF16 => safetensors::Dtype::BF16,
        }
    }
}

/// Options of [`import_hf`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// Storage dtype of the weights.
    #[serde(default)]
    pub dtype: Dtype,
}

/// What [`import_hf`] wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Tensors written to `model.safetensors`.
    pub n_tensors: usize,
    /// Parameters written (a tied `lm_head` is not counted twice).
    pub n_params: u64,
    /// GGUF tensor types of the source and how many tensors had each (`"Q4_1": 210`).
    pub source_types: BTreeMap<String, usize>,
    /// Storage dtype written.
    pub dtype: Dtype,
    /// Whether `lm_head` shares `embed_tokens` (no `output.weight` in the file).
    pub tie_word_embeddings: bool,
    /// Decoder blocks.
    pub num_hidden_layers: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// `tokenizer.ggml.pre` of the source.
    pub tokenizer_pre: String,
    /// `rope_scaling` written to `config.json`.
    pub rope_scaling: Option<serde_json::Value>,
    /// `general.name` of the source, if any.
    pub source_name: Option<String>,
    /// Files written into the output directory.
    pub files: Vec<String>,
}

/// A GGUF tensor on its way to the HF checkpoint.
struct Planned<'a> {
    info: &'a TensorInfo,
    hf_name: String,
    hf_shape: Vec<usize>,
    /// Head count for q/k rows that llama.cpp permuted.
    permute_heads: Option<usize>,
}

/// Checks every tensor against the config and decides what each becomes.
fn plan<'a>(
    file: &'a GgufFile,
    hp: &LlamaHparams,
) -> Result<(Vec<Planned<'a>>, bool, Option<&'a TensorInfo>)> {
    let mut seen = BTreeMap::new();
    let mut rope_freqs = None;
    let mut planned = Vec::new();
    for info in &file.tensors {
        let kind = LlamaTensor::from_gguf(&info.name)
            .ok_or_else(|| Error::UnexpectedTensor(info.name.clone()))?;
        if kind
            .layer()
            .is_some_and(|l| l as u64 >= hp.num_hidden_layers)
        {
            return Err(Error::UnexpectedTensor(format!(
                "{} (block_count is {})",
                info.name, hp.num_hidden_layers
            )));
        }
        let expected = hp.expected_shape(kind);
        let shape = info.shape();
        if shape != expected {
            let label = kind
                .hf_name()
                .map_or(info.name.clone(), |hf| format!("{} ({hf})", info.name));
            return Err(Error::Shape {
                tensor: label,
                expected,
                actual: shape,
            });
        }
        if !cogumi_quant::dequantize_supported().contains(&info.ty) {
            return Err(Error::Quant {
                tensor: info.name.clone(),
                source: cogumi_quant::Error::Unsupported {
                    ty: info.ty,
                    op: "dequantize",
                },
            });
        }
        seen.insert(kind.gguf_name(), ());
        let Some(hf_name) = kind.hf_name() else {
            rope_freqs = Some(info);
            continue;
        };
        let permute_heads = match kind {
            LlamaTensor::AttnQ(_) => Some(hp.num_attention_heads as usize),
            LlamaTensor::AttnK(_) => Some(hp.num_key_value_heads as usize),
            _ => None,
        };
        let hf_shape = shape.iter().map(|&d| d as usize).collect();
        planned.push(Planned {
            info,
            hf_name,
            hf_shape,
            permute_heads,
        });
    }
    let tied = !seen.contains_key("output.weight");
    for t in hp.required_tensors(tied) {
        if !seen.contains_key(&t.gguf_name()) {
            return Err(Error::MissingTensor(t.gguf_name()));
        }
    }
    Ok((planned, tied, rope_freqs))
}

/// Converts one tensor: dequantise row by row (in HF row order) and encode as `dtype`.
fn convert(file: &GgufFile, p: &Planned<'_>, dtype: Dtype) -> Result<Vec<u8>> {
    let info = p.info;
    let row_len = info.row_len() as usize;
    let Some(n_rows) = (info.n_elements as usize)
        .checked_div(row_len)
        .filter(|&n| n > 0)
    else {
        return Ok(Vec::new());
    };
    let src_row_bytes = info.ty.row_bytes(row_len).map_err(|source| Error::Quant {
        tensor: info.name.clone(),
        source,
    })?;
    let data = file.tensor_data(info);
    let source_row: Box<dyn Fn(usize) -> usize + Sync> = match p.permute_heads {
        Some(n_head) => Box::new(
            gguf_row_for_hf_row(n_rows, n_head)
                .map_err(|e| Error::tensor(&info.name, e.to_string()))?,
        ),
        None => Box::new(|r| r),
    };
    let out_row_bytes = row_len * dtype.size();
    let mut out = vec![0u8; n_rows * out_row_bytes];
    // Rows per task: enough work to amortise the scratch buffer, many tasks for balance.
    let rows_per_task = (65_536 / row_len.max(1)).max(1);
    out.par_chunks_mut(out_row_bytes * rows_per_task)
        .enumerate()
        .try_for_each(|(task, chunk)| {
            let mut row = vec![0f32; row_len];
            for (i, dst) in chunk.chunks_exact_mut(out_row_bytes).enumerate() {
                let s = source_row(task * rows_per_task + i);
                let src = &data[s * src_row_bytes..(s + 1) * src_row_bytes];
                cogumi_quant::dequantize(info.ty, src, &mut row).map_err(|source| {
                    Error::Quant {
                        tensor: info.name.clone(),
                        source,
                    }
                })?;
                encode(&row, dtype, dst);
            }
            Ok::<_, Error>(())
        })?;
    Ok(out)
}

fn encode(row: &[f32], dtype: Dtype, dst: &mut [u8]) {
    match dtype {
        Dtype::F32 => {
            for (v, d) in row.iter().zip(dst.chunks_exact_mut(4)) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
        Dtype::F16 => {
            for (v, d) in row.iter().zip(dst.chunks_exact_mut(2)) {
                d.copy_from_slice(&cogumi_quant::f16_bits_from_f32(*v).to_le_bytes());
            }
        }
        Dtype::BF16 => {
            for (v, d) in row.iter().zip(dst.chunks_exact_mut(2)) {
                d.copy_from_slice(&cogumi_quant::bf16_bits_from_f32(*v).to_le_bytes());
            }
        }
    }
}

/// A tensor converted only when the safetensors writer asks for its bytes. `View::data` cannot
/// fail, so a conversion error is parked in `error` and reported after the write.
struct LazyTensor<'a> {
    file: &'a GgufFile,
    plan: Planned<'a>,
    dtype: Dtype,
    error: &'a Mutex<Option<Error>>,
}

impl safetensors::View for LazyTensor<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype.safetensors()
    }

    fn shape(&self) -> &[usize] {
        &self.plan.hf_shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        let _span =
            tracing::debug_span!("convert", tensor = %self.plan.hf_name, ty = %self.plan.info.ty)
                .entered();
        match convert(self.file, &self.plan, self.dtype) {
            Ok(bytes) => Cow::Owned(bytes),
            Err(e) => {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(e);
                }
                Cow::Owned(vec![0u8; self.data_len()])
            }
        }
    }

    fn data_len(&self) -> usize {
        self.plan.hf_shape.iter().product::<usize>() * self.dtype.size()
    }
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Imports a Llama GGUF file as an HF checkpoint directory (created if missing).
///
/// Writes `config.json`, `generation_config.json`, `model.safetensors`, `tokenizer.json`,
/// `tokenizer_config.json` and `special_tokens_map.json`. Every tensor shape is checked against
/// the metadata-derived config first; nothing but the tokenizer and configs is written when a
/// check fails.
pub fn import_hf(gguf: &Path, out_dir: &Path, opts: &ImportOptions) -> Result<ImportReport> {
    let _span = tracing::info_span!("import_hf", gguf = %gguf.display()).entered();
    let file = GgufFile::open(gguf)?;
    let md = &file.metadata;
    let hp = LlamaHparams::from_metadata(md)?;
    let (planned, tied, rope_freqs) = plan(&file, &hp)?;
    let tok = crate::tokenizer::build(md, hp.max_position_embeddings)?;
    let n_tokens = md.array("tokenizer.ggml.tokens")?.len() as u64;
    if n_tokens != hp.vocab_size {
        return Err(Error::bad_key(
            "llama.vocab_size",
            format!("{} but the tokenizer has {n_tokens} tokens", hp.vocab_size),
        ));
    }

    let rope_scaling = match (rope_freqs, &hp.rope_scaling) {
        (Some(_), Some(_)) => {
            return Err(Error::Unsupported(
                "both rope_freqs.weight and rope scaling keys".into(),
            ));
        }
        (Some(info), None) => {
            let factors = file.tensor_f32(info)?;
            crate::rope::llama3_from_factors(&factors, hp.rope_theta, hp.head_dim as usize)?
                .map(|s| s.to_json())
        }
        (None, s) => s.clone(),
    };

    let mut source_types = BTreeMap::new();
    for t in &file.tensors {
        *source_types.entry(t.ty.name().to_string()).or_insert(0) += 1;
    }
    let n_params = planned.iter().map(|p| p.info.n_elements).sum();
    let n_tensors = planned.len();

    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut files = Vec::new();
    let mut json_file = |name: &str, v: &serde_json::Value| -> Result<()> {
        write_json(&out_dir.join(name), v)?;
        files.push(name.to_string());
        Ok(())
    };
    json_file(
        "config.json",
        &hp.hf_config(tied, rope_scaling.as_ref(), opts.dtype.torch_name()),
    )?;
    json_file("generation_config.json", &hp.generation_config())?;
    json_file("tokenizer.json", &tok.tokenizer)?;
    json_file("tokenizer_config.json", &tok.tokenizer_config)?;
    json_file("special_tokens_map.json", &tok.special_tokens_map)?;

    let st_path = out_dir.join("model.safetensors");
    let error = Mutex::new(None);
    let views: Vec<(String, LazyTensor<'_>)> = planned
        .into_iter()
        .map(|p| {
            (
                p.hf_name.clone(),
                LazyTensor {
                    file: &file,
                    plan: p,
                    dtype: opts.dtype,
                    error: &error,
                },
            )
        })
        .collect();
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    {
        let _span = tracing::info_span!("write_safetensors", path = %st_path.display(), n_tensors)
            .entered();
        safetensors::serialize_to_file(views, Some(meta), &st_path).map_err(|source| {
            Error::Safetensors {
                path: st_path.clone(),
                source,
            }
        })?;
    }
    if let Some(e) = error.into_inner().ok().flatten() {
        // Do not leave a checkpoint with zero-filled tensors behind.
        let _ = std::fs::remove_file(&st_path);
        return Err(e);
    }
    files.push("model.safetensors".to_string());
    files.sort();

    let report = ImportReport {
        n_tensors,
        n_params,
        source_types,
        dtype: opts.dtype,
        tie_word_embeddings: tied,
        num_hidden_layers: hp.num_hidden_layers,
        vocab_size: hp.vocab_size,
        tokenizer_pre: tok.pre_name,
        rope_scaling,
        source_name: md.opt_str("general.name")?.map(str::to_string),
        files,
    };
    tracing::info!(n_tensors, n_params = report.n_params, tied, "imported gguf");
    Ok(report)
}
