//! Llama-family configuration: the HF `config.json` edge struct (transformers 4.x and 5.x spellings)
//! and the resolved [`LlamaConfig`] the model runs on.
//!
//! Follows transformers `models/llama/configuration_llama.py` and `modeling_rope_utils.py`
//! (`rope_scaling` in 4.x, `rope_parameters` in 5.x; `torch_dtype` in 4.x, `dtype` in 5.x).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// RoPE frequency scaling, as `rope_scaling.rope_type` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "lowercase")]
pub enum RopeScaling {
    /// Plain RoPE: `inv_freq[i] = 1 / theta^(2i/d)`.
    Default,
    /// Position interpolation: every frequency divided by `factor`.
    Linear {
        /// Division factor.
        factor: f64,
    },
    /// Llama-3.1 wavelength-dependent scaling (`_compute_llama3_parameters`).
    Llama3 {
        /// Scale applied to low frequencies.
        factor: f64,
        /// Wavelengths above `original / low_freq_factor` are fully scaled.
        low_freq_factor: f64,
        /// Wavelengths below `original / high_freq_factor` are untouched.
        high_freq_factor: f64,
        /// The pre-training context length.
        original_max_position_embeddings: f64,
    },
}

/// The resolved configuration of a Llama-architecture decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size (rows of `embed_tokens`).
    pub vocab_size: usize,
    /// Residual stream width.
    pub hidden_size: usize,
    /// SwiGLU inner width.
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (GQA when fewer than query heads, MQA when 1).
    pub num_key_value_heads: usize,
    /// Per-head width (may differ from `hidden_size / num_attention_heads`).
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// RoPE frequency scaling.
    pub rope_scaling: RopeScaling,
    /// Longest position the RoPE table covers.
    pub max_position_embeddings: usize,
    /// Whether `lm_head` shares `embed_tokens`' weight.
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token, if any.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence tokens (transformers allows an int or a list).
    pub eos_token_ids: Vec<u32>,
    /// Padding token, if any.
    pub pad_token_id: Option<u32>,
    /// Storage dtype named by the checkpoint (`float32`, `bfloat16`, `float16`).
    pub dtype: String,
}

/// `config.json` exactly as transformers writes it; HF quirks stay here.
#[derive(Debug, Clone, Deserialize)]
struct HfLlamaConfig {
    #[serde(default)]
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default)]
    num_key_value_heads: Option<usize>,
    #[serde(default)]
    head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    rope_scaling: Option<Value>,
    #[serde(default)]
    rope_parameters: Option<Value>,
    #[serde(default = "default_max_pos")]
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: Option<bool>,
    #[serde(default)]
    bos_token_id: Option<Value>,
    #[serde(default)]
    eos_token_id: Option<Value>,
    #[serde(default)]
    pad_token_id: Option<Value>,
    #[serde(default)]
    torch_dtype: Option<String>,
    #[serde(default)]
    dtype: Option<String>,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    attention_bias: Option<bool>,
    #[serde(default)]
    mlp_bias: Option<bool>,
}

fn default_eps() -> f64 {
    1e-6
}

fn default_max_pos() -> usize {
    2048
}

fn token_ids(v: &Option<Value>) -> Vec<u32> {
    match v {
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_u64())
            .map(|x| x as u32)
            .collect(),
        _ => Vec::new(),
    }
}

fn num(obj: &serde_json::Map<String, Value>, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

impl LlamaConfig {
    /// Reads and resolves `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_str(&text, path)
    }

    /// Resolves a `config.json` text; `path` is only used in error messages.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let hf: HfLlamaConfig = serde_json::from_str(text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        Self::resolve(hf, path)
    }

    fn resolve(hf: HfLlamaConfig, path: &Path) -> Result<Self> {
        if let Some(t) = &hf.model_type
            && !matches!(t.as_str(), "llama" | "mistral")
        {
            return Err(Error::config(
                path,
                format!("model_type `{t}` is not a Llama-architecture model"),
            ));
        }
        if let Some(act) = &hf.hidden_act
            && act != "silu"
        {
            return Err(Error::config(
                path,
                format!("hidden_act `{act}` is not supported (Llama uses silu)"),
            ));
        }
        if hf.attention_bias == Some(true) || hf.mlp_bias == Some(true) {
            return Err(Error::config(
                path,
                "attention_bias / mlp_bias = true is not supported",
            ));
        }
        if hf.num_attention_heads == 0 || hf.hidden_size == 0 || hf.num_hidden_layers == 0 {
            return Err(Error::config(
                path,
                "hidden_size, num_attention_heads and num_hidden_layers must be positive",
            ));
        }
        let kv = hf.num_key_value_heads.unwrap_or(hf.num_attention_heads);
        if kv == 0 || !hf.num_attention_heads.is_multiple_of(kv) {
            return Err(Error::config(
                path,
                format!(
                    "num_attention_heads ({}) must be a multiple of num_key_value_heads ({kv})",
                    hf.num_attention_heads
                ),
            ));
        }
        let head_dim = hf
            .head_dim
            .unwrap_or(hf.hidden_size / hf.num_attention_heads);
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(Error::config(
                path,
                format!("head_dim {head_dim} must be even and positive for RoPE"),
            ));
        }
        // 5.x: `rope_parameters` carries rope_theta and the scaling; 4.x: `rope_theta` + `rope_scaling`.
        let params = hf.rope_parameters.as_ref().and_then(Value::as_object);
        let rope_theta = params
            .and_then(|p| num(p, "rope_theta"))
            .or(hf.rope_theta)
            .unwrap_or(10000.0);
        let scaling_obj = hf
            .rope_scaling
            .as_ref()
            .and_then(Value::as_object)
            .or(params);
        let rope_scaling = match scaling_obj {
            None => RopeScaling::Default,
            Some(obj) => parse_scaling(obj, hf.max_position_embeddings, path)?,
        };
        let dtype = hf
            .dtype
            .or(hf.torch_dtype)
            .unwrap_or_else(|| "float32".to_string());
        Ok(LlamaConfig {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            intermediate_size: hf.intermediate_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: hf.num_attention_heads,
            num_key_value_heads: kv,
            head_dim,
            rms_norm_eps: hf.rms_norm_eps,
            rope_theta,
            rope_scaling,
            max_position_embeddings: hf.max_position_embeddings,
            // transformers' LlamaConfig defaults tie_word_embeddings to false.
            tie_word_embeddings: hf.tie_word_embeddings.unwrap_or(false),
            bos_token_id: token_ids(&hf.bos_token_id).first().copied(),
            eos_token_ids: token_ids(&hf.eos_token_id),
            pad_token_id: token_ids(&hf.pad_token_id).first().copied(),
            dtype,
        })
    }

    /// Number of parameters (embeddings counted once when tied).
    pub fn num_params(&self) -> usize {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let per_layer = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v * h + self.num_hidden_layers * per_layer + h + head
    }

    /// The `config.json` transformers would write for this configuration (4.x spelling).
    pub fn to_hf_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert(
            "architectures".into(),
            serde_json::json!(["LlamaForCausalLM"]),
        );
        m.insert("model_type".into(), "llama".into());
        m.insert("vocab_size".into(), self.vocab_size.into());
        m.insert("hidden_size".into(), self.hidden_size.into());
        m.insert("intermediate_size".into(), self.intermediate_size.into());
        m.insert("num_hidden_layers".into(), self.num_hidden_layers.into());
        m.insert(
            "num_attention_heads".into(),
            self.num_attention_heads.into(),
        );
        m.insert(
            "num_key_value_heads".into(),
            self.num_key_value_heads.into(),
        );
        m.insert("head_dim".into(), self.head_dim.into());
        m.insert("hidden_act".into(), "silu".into());
        m.insert("rms_norm_eps".into(), self.rms_norm_eps.into());
        m.insert("rope_theta".into(), self.rope_theta.into());
        let scaling = match &self.rope_scaling {
            RopeScaling::Default => Value::Null,
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        };
        m.insert("rope_scaling".into(), scaling);
        m.insert(
            "max_position_embeddings".into(),
            self.max_position_embeddings.into(),
        );
        m.insert(
            "tie_word_embeddings".into(),
            self.tie_word_embeddings.into(),
        );
        m.insert("attention_bias".into(), false.into());
        m.insert("mlp_bias".into(), false.into());
        if let Some(b) = self.bos_token_id {
            m.insert("bos_token_id".into(), b.into());
        }
        match self.eos_token_ids.as_slice() {
            [] => {}
            [one] => {
                m.insert("eos_token_id".into(), (*one).into());
            }
            many => {
                m.insert("eos_token_id".into(), serde_json::json!(many));
            }
        }
        if let Some(p) = self.pad_token_id {
            m.insert("pad_token_id".into(), p.into());
        }
        m.insert("torch_dtype".into(), self.dtype.clone().into());
        Value::Object(m)
    }
}

fn parse_scaling(
    obj: &serde_json::Map<String, Value>,
    max_pos: usize,
    path: &Path,
) -> Result<RopeScaling> {
    // 4.x configs spell it `type` in older checkpoints, `rope_type` in newer ones.
    let kind = obj
        .get("rope_type")
        .or_else(|| obj.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    let need = |key: &str| {
        num(obj, key).ok_or_else(|| {
            Error::config(path, format!("rope scaling `{kind}` needs field `{key}`"))
        })
    };
    match kind {
        "default" => Ok(RopeScaling::Default),
        "linear" => Ok(RopeScaling::Linear {
            factor: need("factor")?,
        }),
        "llama3" => Ok(RopeScaling::Llama3 {
            factor: need("factor")?,
            low_freq_factor: need("low_freq_factor")?,
            high_freq_factor: need("high_freq_factor")?,
            original_max_position_embeddings: num(obj, "original_max_position_embeddings")
                .unwrap_or(max_pos as f64),
        }),
        other => Err(Error::config(
            path,
            format!("rope scaling type `{other}` is not supported (default, linear, llama3 are)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> LlamaConfig {
        LlamaConfig::from_json_str(s, Path::new("config.json")).unwrap()
    }

    #[test]
    fn v4_and_v5_spellings_resolve_identically() {
        let v4 = parse(
            r#"{"vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
            "num_attention_heads":2,"num_key_value_heads":1,"rope_theta":500000.0,
            "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,
            "high_freq_factor":4.0,"original_max_position_embeddings":8192},
            "torch_dtype":"bfloat16","eos_token_id":[1,2]}"#,
        );
        let v5 = parse(
            r#"{"vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
            "num_attention_heads":2,"num_key_value_heads":1,
            "rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":8.0,
            "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},
            "dtype":"bfloat16","eos_token_id":[1,2]}"#,
        );
        assert_eq!(v4, v5);
        assert_eq!(v4.head_dim, 4);
        assert_eq!(v4.eos_token_ids, vec![1, 2]);
        assert!(matches!(v4.rope_scaling, RopeScaling::Llama3 { .. }));
        assert!(!v4.tie_word_embeddings);
    }

    #[test]
    fn bad_heads_are_a_clear_error() {
        let err = LlamaConfig::from_json_str(
            r#"{"vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
            "num_attention_heads":3,"num_key_value_heads":2}"#,
            Path::new("x/config.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x/config.json"), "{err}");
        assert!(err.contains("multiple of num_key_value_heads"), "{err}");
    }

    #[test]
    fn hf_json_round_trips() {
        let c = parse(
            r#"{"vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
            "num_attention_heads":2,"tie_word_embeddings":true,"head_dim":8,
            "rope_scaling":{"type":"linear","factor":2.0}}"#,
        );
        let again = parse(&c.to_hf_json().to_string());
        assert_eq!(c, again);
    }
}
