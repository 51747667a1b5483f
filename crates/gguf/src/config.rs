//! Llama hyper-parameters from GGUF metadata, and the HF `config.json` /
//! `generation_config.json` they become.
//!
//! Keys follow llama.cpp `src/llama-model.cpp` (`load_hparams`) and gguf.md §1.1; the HF side
//! follows transformers 4.57 `integrations/ggml.py` (`GGUF_CONFIG_MAPPING["llama"]`,
//! `"tokenizer"`) and what `LlamaConfig.save_pretrained` writes (keys sorted, f32 metadata values
//! widened to f64 exactly as transformers reads them).

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::names::LlamaTensor;

/// transformers version whose `config.json` layout is reproduced.
pub const TRANSFORMERS_VERSION: &str = "4.57.1";

/// Architecture-level numbers of a Llama checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaHparams {
    /// Tokens in the vocabulary.
    pub vocab_size: u64,
    /// Residual width (`embedding_length`).
    pub hidden_size: u64,
    /// SwiGLU width (`feed_forward_length`).
    pub intermediate_size: u64,
    /// Decoder blocks (`block_count`).
    pub num_hidden_layers: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads.
    pub num_key_value_heads: u64,
    /// Per-head width.
    pub head_dim: u64,
    /// RMSNorm epsilon as stored (f32 widened).
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Context length.
    pub max_position_embeddings: u64,
    /// `rope_scaling` from metadata keys (rope_freqs factors are handled by the importer).
    pub rope_scaling: Option<Value>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_token_id: Option<u64>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_token_id: Option<u64>,
    /// `tokenizer.ggml.eot_token_id` / `eom_token_id` (Llama-3 chat ends), besides eos.
    pub extra_eos_ids: Vec<u64>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad_token_id: Option<u64>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk_token_id: Option<u64>,
}

impl LlamaHparams {
    /// Reads the hyper-parameters of a `general.architecture = "llama"` file.
    pub fn from_metadata(md: &Metadata) -> Result<Self> {
        let arch = md.str("general.architecture")?;
        if arch != "llama" {
            return Err(Error::Unsupported(format!(
                "architecture {arch:?} (only llama is imported)"
            )));
        }
        let k = |s: &str| format!("llama.{s}");
        let hidden = md.u64(&k("embedding_length"))?;
        let n_head = md.u64(&k("attention.head_count"))?;
        let n_kv = md.opt_u64(&k("attention.head_count_kv"))?.unwrap_or(n_head);
        if n_head == 0 || n_kv == 0 || n_head % n_kv != 0 {
            return Err(Error::bad_key(
                &k("attention.head_count_kv"),
                format!("{n_kv} kv heads cannot serve {n_head} query heads"),
            ));
        }
        let key_len = md.opt_u64(&k("attention.key_length"))?;
        let rope_dim = md.opt_u64(&k("rope.dimension_count"))?;
        let head_dim = match (key_len, rope_dim) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::Unsupported(format!(
                    "partial rotary embedding (key_length {a}, rope.dimension_count {b})"
                )));
            }
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) if hidden % n_head == 0 => hidden / n_head,
            (None, None) => {
                return Err(Error::bad_key(
                    &k("embedding_length"),
                    format!("{hidden} is not divisible by {n_head} heads"),
                ));
            }
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(Error::bad_key(
                &k("rope.dimension_count"),
                format!("head_dim {head_dim} must be even and non-zero"),
            ));
        }
        let vocab_size = match md.opt_u64(&k("vocab_size"))? {
            Some(v) => v,
            None => md.array("tokenizer.ggml.tokens")?.len() as u64,
        };
        let tok = |s: &str| md.opt_u64(&format!("tokenizer.ggml.{s}"));
        let eos = tok("eos_token_id")?;
        let mut extra_eos_ids = Vec::new();
        for id in [tok("eot_token_id")?, tok("eom_token_id")?]
            .into_iter()
            .flatten()
        {
            if Some(id) != eos && !extra_eos_ids.contains(&id) {
                extra_eos_ids.push(id);
            }
        }
        Ok(LlamaHparams {
            vocab_size,
            hidden_size: hidden,
            intermediate_size: md.u64(&k("feed_forward_length"))?,
            num_hidden_layers: md.u64(&k("block_count"))?,
            num_attention_heads: n_head,
            num_key_value_heads: n_kv,
            head_dim,
            rms_norm_eps: md.f64(&k("attention.layer_norm_rms_epsilon"))?,
            rope_theta: md.opt_f64(&k("rope.freq_base"))?.unwrap_or(10_000.0),
            max_position_embeddings: md.u64(&k("context_length"))?,
            rope_scaling: crate::rope::scaling_from_keys(md, arch)?,
            bos_token_id: tok("bos_token_id")?,
            eos_token_id: eos,
            extra_eos_ids,
            pad_token_id: tok("padding_token_id")?,
            unk_token_id: tok("unknown_token_id")?,
        })
    }

    /// The HF (torch-order) shape the config implies for a tensor.
    pub fn expected_shape(&self, t: LlamaTensor) -> Vec<u64> {
        let (h, f, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let (q, kv) = (
            self.num_attention_heads * self.head_dim,
            self.num_key_value_heads * self.head_dim,
        );
        match t {
            LlamaTensor::TokenEmbd | LlamaTensor::Output => vec![v, h],
            LlamaTensor::OutputNorm | LlamaTensor::AttnNorm(_) | LlamaTensor::FfnNorm(_) => vec![h],
            LlamaTensor::RopeFreqs => vec![self.head_dim / 2],
            LlamaTensor::AttnQ(_) => vec![q, h],
            LlamaTensor::AttnK(_) | LlamaTensor::AttnV(_) => vec![kv, h],
            LlamaTensor::AttnOutput(_) => vec![h, q],
            LlamaTensor::FfnGate(_) | LlamaTensor::FfnUp(_) => vec![f, h],
            LlamaTensor::FfnDown(_) => vec![h, f],
        }
    }

    /// Every tensor a checkpoint of this config must have (`output.weight` only when untied).
    pub fn required_tensors(&self, tied: bool) -> Vec<LlamaTensor> {
        let mut v = vec![LlamaTensor::TokenEmbd, LlamaTensor::OutputNorm];
        if !tied {
            v.push(LlamaTensor::Output);
        }
        for l in 0..self.num_hidden_layers as usize {
            v.extend([
                LlamaTensor::AttnNorm(l),
                LlamaTensor::AttnQ(l),
                LlamaTensor::AttnK(l),
                LlamaTensor::AttnV(l),
                LlamaTensor::AttnOutput(l),
                LlamaTensor::FfnNorm(l),
                LlamaTensor::FfnGate(l),
                LlamaTensor::FfnUp(l),
                LlamaTensor::FfnDown(l),
            ]);
        }
        v
    }

    /// `config.json` for `LlamaForCausalLM`, keys in the sorted order transformers writes.
    ///
    /// `dtype` is the torch name of the stored weights (`float32`, ...); it is written both as
    /// `dtype` (transformers >= 4.56) and `torch_dtype` (older 4.x readers).
    pub fn hf_config(
        &self,
        tie_word_embeddings: bool,
        rope_scaling: Option<&Value>,
        dtype: &str,
    ) -> Value {
        let opt = |v: Option<u64>| v.map_or(Value::Null, Value::from);
        let mut m = Map::new();
        m.insert("architectures".into(), json!(["LlamaForCausalLM"]));
        m.insert("attention_bias".into(), json!(false));
        m.insert("attention_dropout".into(), json!(0.0));
        m.insert("bos_token_id".into(), opt(self.bos_token_id));
        m.insert("dtype".into(), json!(dtype));
        m.insert("eos_token_id".into(), opt(self.eos_token_id));
        m.insert("head_dim".into(), json!(self.head_dim));
        m.insert("hidden_act".into(), json!("silu"));
        m.insert("hidden_size".into(), json!(self.hidden_size));
        m.insert("initializer_range".into(), json!(0.02));
        m.insert("intermediate_size".into(), json!(self.intermediate_size));
        m.insert(
            "max_position_embeddings".into(),
            json!(self.max_position_embeddings),
        );
        m.insert("mlp_bias".into(), json!(false));
        m.insert("model_type".into(), json!("llama"));
        m.insert(
            "num_attention_heads".into(),
            json!(self.num_attention_heads),
        );
        m.insert("num_hidden_layers".into(), json!(self.num_hidden_layers));
        m.insert(
            "num_key_value_heads".into(),
            json!(self.num_key_value_heads),
        );
        if let Some(p) = self.pad_token_id {
            m.insert("pad_token_id".into(), json!(p));
        }
        m.insert("pretraining_tp".into(), json!(1));
        m.insert("rms_norm_eps".into(), json!(self.rms_norm_eps));
        m.insert(
            "rope_scaling".into(),
            rope_scaling.cloned().unwrap_or(Value::Null),
        );
        m.insert("rope_theta".into(), json!(self.rope_theta));
        m.insert("tie_word_embeddings".into(), json!(tie_word_embeddings));
        m.insert("torch_dtype".into(), json!(dtype));
        m.insert("transformers_version".into(), json!(TRANSFORMERS_VERSION));
        if let Some(u) = self.unk_token_id {
            m.insert("unk_token_id".into(), json!(u));
        }
        m.insert("use_cache".into(), json!(true));
        m.insert("vocab_size".into(), json!(self.vocab_size));
        Value::Object(m)
    }

    /// `generation_config.json`: bos, eos (a list when Llama-3 eot/eom ids add to it), pad.
    pub fn generation_config(&self) -> Value {
        let mut m = Map::new();
        m.insert("_from_model_config".into(), json!(true));
        if let Some(b) = self.bos_token_id {
            m.insert("bos_token_id".into(), json!(b));
        }
        let eos: Vec<u64> = self
            .eos_token_id
            .into_iter()
            .chain(self.extra_eos_ids.iter().copied())
            .collect();
        match eos.as_slice() {
            [] => {}
            [one] => {
                m.insert("eos_token_id".into(), json!(one));
            }
            many => {
                m.insert("eos_token_id".into(), json!(many));
            }
        }
        if let Some(p) = self.pad_token_id {
            m.insert("pad_token_id".into(), json!(p));
        }
        m.insert("transformers_version".into(), json!(TRANSFORMERS_VERSION));
        Value::Object(m)
    }
}
