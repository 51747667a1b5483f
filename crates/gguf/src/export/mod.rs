//! HF Llama checkpoint → GGUF v3: what llama.cpp's converter writes for F32/F16/BF16, and what
//! `llama_model_quantize` writes from that F32 file for Q8_0/Q6_K/Q5_K_M/Q4_K_M — byte for byte.
//!
//! The converter side follows `convert_hf_to_gguf.py` / `conversion/{base,llama}.py` at
//! llama.cpp 0c1e57098 (metadata keys and their order, tensor order, the Q/K permutation,
//! `rope_freqs` for Llama-3.1 scaling, F32 norms); the quantised side follows
//! `src/llama-quant.cpp` (metadata copied in order with `general.quantization_version` and
//! `general.file_type` moved last, tensors sorted by layer then name, per-tensor types of
//! [`plan`]). Quantised files are made straight from the checkpoint: the f32 values are the
//! ones the F32 file would hold, so the bytes equal llama-quantize's on that file. Tensors are
//! produced one at a time while writing, so memory stays at one f32 tensor plus its encoding.

mod adapter;
mod plan;
mod requant;
mod source;
mod vocab;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cogumi_quant::GgmlType;
use serde_json::Value as Json;

pub use adapter::{AdapterReport, export_lora_adapter};
pub use plan::{FileType, ModelShape};
pub use requant::quantize_gguf;
pub use source::HfCheckpoint;

use crate::error::{Error, Result};
use crate::names::{LlamaTensor, permute_rows};
use crate::value::Value;
use crate::writer::GgufWriter;

/// Options of one export.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The file type to write.
    pub file_type: FileType,
    /// `general.name`; defaults to the checkpoint directory's name, as the converter does.
    pub name: Option<String>,
    /// `tokenizer.ggml.pre` override; by default recognised from `tokenizer.json`.
    pub tokenizer_pre: Option<String>,
    /// Extra `general.*` string keys (provenance), written after `general.name`.
    pub general: Vec<(String, String)>,
}

impl ExportOptions {
    /// Defaults for `file_type`.
    pub fn new(file_type: FileType) -> Self {
        Self {
            file_type,
            name: None,
            tokenizer_pre: None,
            general: Vec::new(),
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportReport {
    /// The file written.
    pub path: PathBuf,
    /// Its file type.
    pub file_type: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Parameters (elements of every tensor written, `rope_freqs` excluded).
    pub params: u64,
    /// Tensors per ggml type.
    pub tensor_types: BTreeMap<String, usize>,
}

/// One tensor to write.
struct Planned {
    gguf: String,
    /// HF tensor name; `None` for `rope_freqs.weight`.
    hf: Option<String>,
    kind: LlamaTensor,
    ne: Vec<u64>,
    ty: GgmlType,
}

/// The hyper-parameters the exporter reads from `config.json`.
#[derive(Clone, Debug)]
struct Hparams {
    vocab: u64,
    hidden: u64,
    ff: u64,
    layers: u64,
    heads: u64,
    heads_kv: Option<u64>,
    head_dim: Option<u64>,
    eps: f64,
    theta: f64,
    ctx: Option<u64>,
    rope: Json,
}

fn hparams(cfg: &Json, path: &Path) -> Result<Hparams> {
    let u = |k: &str| cfg.get(k).and_then(Json::as_u64);
    let need = |k: &str| {
        u(k).ok_or_else(|| Error::checkpoint(path, format!("config.json has no integer {k}")))
    };
    // transformers 5.x keeps theta and scaling in rope_parameters; 4.x at the top level.
    let rope = cfg
        .get("rope_parameters")
        .or_else(|| cfg.get("rope_scaling"))
        .cloned()
        .unwrap_or(Json::Null);
    let theta = rope
        .get("rope_theta")
        .or_else(|| cfg.get("rope_theta"))
        .and_then(Json::as_f64)
        .unwrap_or(10000.0);
    Ok(Hparams {
        vocab: need("vocab_size")?,
        hidden: need("hidden_size")?,
        ff: need("intermediate_size")?,
        layers: need("num_hidden_layers")?,
        heads: need("num_attention_heads")?,
        heads_kv: u("num_key_value_heads"),
        head_dim: u("head_dim"),
        eps: cfg
            .get("rms_norm_eps")
            .and_then(Json::as_f64)
            .ok_or_else(|| Error::checkpoint(path, "config.json has no rms_norm_eps"))?,
        theta,
        ctx: u("max_position_embeddings"),
        rope,
    })
}

impl Hparams {
    fn head_dim(&self) -> u64 {
        self.head_dim.unwrap_or(self.hidden / self.heads.max(1))
    }
    fn kv(&self) -> u64 {
        self.heads_kv.unwrap_or(self.heads)
    }
    fn rope_type(&self) -> Option<&str> {
        self.rope
            .get("rope_type")
            .or_else(|| self.rope.get("type"))
            .and_then(Json::as_str)
    }
    /// The HF shape of a Llama tensor under this config.
    fn hf_shape(&self, t: LlamaTensor) -> Vec<u64> {
        let (h, q, kv) = (
            self.hidden,
            self.heads * self.head_dim(),
            self.kv() * self.head_dim(),
        );
        match t {
            LlamaTensor::TokenEmbd | LlamaTensor::Output => vec![self.vocab, h],
            LlamaTensor::OutputNorm | LlamaTensor::AttnNorm(_) | LlamaTensor::FfnNorm(_) => {
                vec![h]
            }
            LlamaTensor::RopeFreqs => vec![self.head_dim() / 2],
            LlamaTensor::AttnQ(_) => vec![q, h],
            LlamaTensor::AttnK(_) | LlamaTensor::AttnV(_) => vec![kv, h],
            LlamaTensor::AttnOutput(_) => vec![h, q],
            LlamaTensor::FfnGate(_) | LlamaTensor::FfnUp(_) => vec![self.ff, h],
            LlamaTensor::FfnDown(_) => vec![h, self.ff],
        }
    }
}

/// Llama-3.1 `rope_freqs` factors in f32, with the converter's torch-f32 operation order.
fn llama3_factors(h: &Hparams) -> Vec<f32> {
    let get = |k: &str, d: f64| h.rope.get(k).and_then(Json::as_f64).unwrap_or(d);
    let (factor, low, high) = (
        get("factor", 8.0),
        get("low_freq_factor", 1.0),
        get("high_freq_factor", 4.0),
    );
    let old = get("original_max_position_embeddings", 8192.0);
    let dim = h.head_dim() as usize;
    let (low_wl, high_wl) = (old / low, old / high);
    (0..dim)
        .step_by(2)
        .map(|i| {
            let freq = 1.0f32 / (h.theta as f32).powf(i as f32 / dim as f32);
            let wavelen = (2.0 * std::f64::consts::PI) as f32 / freq;
            if f64::from(wavelen) < high_wl {
                1.0
            } else if f64::from(wavelen) > low_wl {
                factor as f32
            } else {
                let smooth = ((old as f32 / wavelen) - low as f32) / (high - low) as f32;
                1.0 / ((1.0 - smooth) / factor as f32 + smooth)
            }
        })
        .collect()
}

/// `general.size_label` as gguf-py writes it for a dense model (`135M`, `8.0B`, …).
fn size_label(params: u64) -> String {
    let p = params as f64;
    let (v, s) = if p >= 1e12 {
        (p / 1e12, "T")
    } else if p >= 1e9 {
        (p / 1e9, "B")
    } else if p >= 1e6 {
        (p / 1e6, "M")
    } else {
        (p / 1e3, "K")
    };
    // At least two significant digits, no more than needed.
    let digits = if v >= 10.0 { 0 } else { 1 };
    format!("{v:.digits$}{s}")
}

/// Exports the checkpoint in `dir` to `out`; `progress(done, total)` is called per tensor.
///
/// The file is written next to `out` under a temporary name and renamed when complete.
pub fn export_hf(
    dir: &Path,
    out: &Path,
    opts: &ExportOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<ExportReport> {
    let _span =
        tracing::info_span!("export_gguf", dir = %dir.display(), ty = %opts.file_type).entered();
    let ck = HfCheckpoint::open(dir)?;
    let cfg_path = dir.join("config.json");
    let h = hparams(ck.config(), &cfg_path)?;
    let ft = opts.file_type;
    if h.layers == 0 || h.heads == 0 || h.head_dim() % 2 != 0 {
        return Err(Error::checkpoint(&cfg_path, "degenerate attention shape"));
    }

    // Tensors in converter order: generated rope_freqs first, then the checkpoint's.
    let mut tensors: Vec<Planned> = Vec::new();
    let llama3 = h
        .rope_type()
        .is_some_and(|t| t.eq_ignore_ascii_case("llama3"));
    if llama3 {
        tensors.push(planned(
            None,
            LlamaTensor::RopeFreqs,
            vec![h.head_dim() / 2],
        ));
    }
    for name in ck.names() {
        if name.ends_with(".rotary_emb.inv_freq") {
            continue;
        }
        let kind =
            LlamaTensor::from_hf(name).ok_or_else(|| Error::UnexpectedTensor(name.clone()))?;
        let shape: Vec<u64> = ck
            .shape(name)
            .unwrap_or_default()
            .iter()
            .map(|&d| d as u64)
            .collect();
        let want = h.hf_shape(kind);
        if shape != want {
            return Err(Error::Shape {
                tensor: name.clone(),
                expected: want,
                actual: shape,
            });
        }
        tensors.push(planned(Some(name.clone()), kind, shape));
    }
    let has_embd = tensors.iter().any(|t| t.kind == LlamaTensor::TokenEmbd);
    if !has_embd {
        return Err(Error::MissingTensor("model.embed_tokens.weight".into()));
    }
    let tied = !tensors.iter().any(|t| t.kind == LlamaTensor::Output);
    let shape = ModelShape {
        n_layer: h.layers as usize,
        n_head: h.heads as usize,
        n_head_kv: h.kv() as usize,
        tied,
    };
    let params: u64 = tensors
        .iter()
        .filter(|t| t.hf.is_some())
        .map(|t| t.ne.iter().product::<u64>())
        .sum();

    // Metadata in the converter's order.
    let name = opts.name.clone().unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    });
    let mut kvs: Vec<(String, Value)> = vec![
        ("general.architecture".into(), "llama".into()),
        ("general.type".into(), "model".into()),
        ("general.name".into(), name.as_str().into()),
    ];
    for (k, v) in &opts.general {
        kvs.push((format!("general.{k}"), v.as_str().into()));
    }
    kvs.push(("general.size_label".into(), size_label(params).into()));
    let u32v = |v: u64| Value::U32(v as u32);
    kvs.push(("llama.block_count".into(), u32v(h.layers)));
    if let Some(c) = h.ctx {
        kvs.push(("llama.context_length".into(), u32v(c)));
    }
    kvs.push(("llama.embedding_length".into(), u32v(h.hidden)));
    kvs.push(("llama.feed_forward_length".into(), u32v(h.ff)));
    kvs.push(("llama.attention.head_count".into(), u32v(h.heads)));
    if let Some(kv) = h.heads_kv {
        kvs.push(("llama.attention.head_count_kv".into(), u32v(kv)));
    }
    let factor = h.rope.get("factor").and_then(Json::as_f64);
    match (h.rope_type(), factor) {
        (Some("linear"), Some(f)) => {
            kvs.push(("llama.rope.scaling.type".into(), "linear".into()));
            kvs.push(("llama.rope.scaling.factor".into(), Value::F32(f as f32)));
        }
        (Some(t), _) if !matches!(t, "default" | "llama3" | "linear") => {
            return Err(Error::Unsupported(format!(
                "rope type {t:?} (exported: default, linear, llama3)"
            )));
        }
        _ => {}
    }
    kvs.push(("llama.rope.freq_base".into(), Value::F32(h.theta as f32)));
    kvs.push((
        "llama.attention.layer_norm_rms_epsilon".into(),
        Value::F32(h.eps as f32),
    ));
    if let Some(d) = h.head_dim {
        kvs.push(("llama.attention.key_length".into(), u32v(d)));
        kvs.push(("llama.attention.value_length".into(), u32v(d)));
    }
    kvs.push(("general.file_type".into(), Value::U32(ft.ftype_id())));
    kvs.push(("llama.vocab_size".into(), u32v(h.vocab)));
    kvs.push(("llama.rope.dimension_count".into(), u32v(h.head_dim())));
    kvs.push(("general.quantization_version".into(), Value::U32(2)));
    kvs.extend(vocab::tokenizer_kvs(
        dir,
        ck.config(),
        h.vocab as usize,
        opts.tokenizer_pre.as_deref(),
    )?);

    // Types, and llama-quantize's layout for quantised file types.
    if ft.is_quantized() {
        let moved = ["general.quantization_version", "general.file_type"];
        kvs.retain(|(k, _)| !moved.contains(&k.as_str()));
        kvs.push((moved[0].into(), Value::U32(2)));
        kvs.push((moved[1].into(), Value::U32(ft.ftype_id())));
        tensors.sort_by(|a, b| plan::quantize_order(&a.gguf, &b.gguf));
        let (mut iv, mut id) = (0, 0);
        for t in &mut tensors {
            t.ty = plan::quantized_type(ft, &shape, &t.gguf, t.ne.len(), t.ne[0], iv, id);
            iv += usize::from(t.gguf.contains("attn_v.weight"));
            id += usize::from(t.gguf.contains("ffn_down"));
        }
    } else {
        for t in &mut tensors {
            t.ty = plan::converter_type(ft, &t.gguf, t.ne.len());
        }
    }

    let mut w = GgufWriter::new();
    for (k, v) in kvs {
        w.add_kv(k, v)?;
    }
    let mut tensor_types = BTreeMap::new();
    for t in &tensors {
        w.add_tensor_info(&t.gguf, t.ty, &t.ne)?;
        *tensor_types.entry(t.ty.name().to_string()).or_insert(0) += 1;
    }

    let total = tensors.len();
    let rope = llama3.then(|| llama3_factors(&h));
    let bytes = write_atomically(
        &w,
        out,
        |i, buf| {
            let t = &tensors[i];
            let values = match &t.hf {
                None => rope.clone().unwrap_or_default(),
                Some(hf) => {
                    let v = ck.tensor_f32(hf)?;
                    match t.kind {
                        LlamaTensor::AttnQ(_) => {
                            permute_rows(&v, t.ne[1] as usize, h.heads as usize)?
                        }
                        LlamaTensor::AttnK(_) => {
                            permute_rows(&v, t.ne[1] as usize, h.kv() as usize)?
                        }
                        _ => v,
                    }
                }
            };
            encode_into(t.ty, &values, buf, &t.gguf)
        },
        |i| progress(i + 1, total),
    )?;
    tracing::info!(path = %out.display(), bytes, "gguf written");
    Ok(ExportReport {
        path: out.to_path_buf(),
        file_type: ft.name().to_string(),
        bytes,
        params,
        tensor_types,
    })
}

fn planned(hf: Option<String>, kind: LlamaTensor, hf_shape: Vec<u64>) -> Planned {
    Planned {
        gguf: kind.gguf_name(),
        hf,
        kind,
        ne: hf_shape.into_iter().rev().collect(),
        ty: GgmlType::F32,
    }
}

/// `out` with `.partial` appended: the name a file has until it is complete.
fn partial_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Encodes `values` as `ty` into `buf` (resized to fit), naming `tensor` in errors.
pub(crate) fn encode_into(
    ty: GgmlType,
    values: &[f32],
    buf: &mut Vec<u8>,
    tensor: &str,
) -> Result<()> {
    let quant = |source| Error::Quant {
        tensor: tensor.to_string(),
        source,
    };
    buf.resize(ty.row_bytes(values.len()).map_err(quant)?, 0);
    cogumi_quant::quantize(ty, values, buf).map_err(quant)
}

/// Writes `w` to `out` through `OUT.partial`, renamed when complete and removed on error.
/// `produce(i, out)` gives streamed tensor `i`'s bytes; it runs on a helper thread one tensor
/// ahead of the writer (encoding tensor `i + 1` while tensor `i` is written), so the file write
/// does not leave the quantisers' cores idle. `progress(i)` is called as tensor `i` is written.
/// Returns the file size.
pub(crate) fn write_atomically(
    w: &GgufWriter,
    out: &Path,
    produce: impl Fn(usize, &mut Vec<u8>) -> Result<()> + Sync,
    mut progress: impl FnMut(usize),
) -> Result<u64> {
    let n = w.streamed_count();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>>>(1);
        let produce = &produce;
        scope.spawn(move || {
            for i in 0..n {
                let mut buf = Vec::new();
                let r = produce(i, &mut buf).map(|()| buf);
                let failed = r.is_err();
                if tx.send(r).is_err() || failed {
                    break;
                }
            }
        });
        write_file(w, out, |i, buf| {
            *buf = rx
                .recv()
                .map_err(|_| Error::Unsupported("the encoder thread stopped".into()))??;
            progress(i);
            Ok(())
        })
    })
}

fn write_file(
    w: &GgufWriter,
    out: &Path,
    produce: impl FnMut(usize, &mut Vec<u8>) -> Result<()>,
) -> Result<u64> {
    let tmp = partial_path(out);
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut bw = std::io::BufWriter::with_capacity(1 << 22, file);
    let finish = w.write_streaming(&mut bw, produce).and_then(|()| {
        let f = bw
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))
    });
    if let Err(e) = finish {
        let _ = std::fs::remove_file(&tmp);
        return Err(match e {
            Error::Write(source) => Error::io(&tmp, source),
            other => other,
        });
    }
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
    Ok(std::fs::metadata(out).map_err(|e| Error::io(out, e))?.len())
}
