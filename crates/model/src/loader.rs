//! Loading a [`Llama`] from an HF checkpoint directory and saving it back in the same layout
//! (loadable by transformers' `from_pretrained`).
//!
//! The HF name table follows transformers' `LlamaForCausalLM` state dict. Every tensor's shape is
//! checked against `config.json` here, at the load boundary; after this a shape panic is a bug.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{DType, Tensor};
use tracing::info_span;

use crate::config::LlamaConfig;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::linear::{DenseLinear, Linear};
use crate::llama::{Block, Llama, LlamaParts};
use crate::weights::{Checkpoint, OwnedTensor, transpose_2d, write_safetensors};

/// How to load a checkpoint.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where to run.
    pub device: DeviceSpec,
    /// Compute/storage dtype; `None` keeps the checkpoint's dtype, the default is f32.
    pub dtype: Option<DType>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            device: DeviceSpec::Cpu,
            dtype: Some(DType::F32),
        }
    }
}

/// Tensors a Llama checkpoint may carry that the model legitimately ignores.
fn ignorable(name: &str) -> bool {
    name.ends_with("rotary_emb.inv_freq")
}

/// The HF names and shapes of every tensor `config` requires (lm_head only when untied).
pub fn expected_tensors(c: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let (h, i, v) = (c.hidden_size, c.intermediate_size, c.vocab_size);
    let q = c.num_attention_heads * c.head_dim;
    let kv = c.num_key_value_heads * c.head_dim;
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, h])];
    for l in 0..c.num_hidden_layers {
        let p = format!("model.layers.{l}");
        out.push((format!("{p}.input_layernorm.weight"), vec![h]));
        out.push((format!("{p}.self_attn.q_proj.weight"), vec![q, h]));
        out.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
        out.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
        out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
    }
    out.push(("model.norm.weight".to_string(), vec![h]));
    if !c.tie_word_embeddings {
        out.push(("lm_head.weight".to_string(), vec![v, h]));
    }
    out
}

/// Loads `dir/config.json` and the checkpoint next to it.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Llama> {
    let config = LlamaConfig::from_file(&dir.join("config.json"))?;
    let ckpt = Checkpoint::open(dir)?;
    load_with(config, &ckpt, opts)
}

/// Builds a model from a resolved config and an opened checkpoint.
pub fn load_with(config: LlamaConfig, ckpt: &Checkpoint, opts: &LoadOptions) -> Result<Llama> {
    let _span = info_span!("load_llama", layers = config.num_hidden_layers).entered();
    let expected = expected_tensors(&config);
    // Check every shape before allocating anything on the device.
    let mut wanted: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for (name, _) in &expected {
        wanted.insert(name);
        if !ckpt.contains(name) {
            return Err(Error::MissingTensor {
                path: ckpt.path_of(name).to_path_buf(),
                tensor: name.clone(),
            });
        }
    }
    let unused: Vec<String> = ckpt
        .names()
        .into_iter()
        .filter(|n| !wanted.contains(n.as_str()) && !ignorable(n))
        // A tied checkpoint may still carry a copy of the head; transformers ignores it too.
        .filter(|n| !(config.tie_word_embeddings && n == "lm_head.weight"))
        .collect();
    if !unused.is_empty() {
        return Err(Error::UnusedTensors {
            path: ckpt.path_of(&unused[0]).to_path_buf(),
            names: unused.into_iter().take(10).collect(),
        });
    }
    let device = opts.device.device()?;
    let dtype = opts.dtype;
    let read = |name: &str, shape: &[usize]| ckpt.read(name, shape, dtype);
    let tensor1 = |name: &str, shape: &[usize]| -> Result<Tensor<1>> {
        let data = read(name, shape)?;
        let dt = data.dtype();
        Ok(Tensor::from_data(data, (&device, dt)))
    };
    let linear = |name: &str, shape: &[usize]| -> Result<Linear> {
        let data = transpose_2d(read(name, shape)?);
        Ok(Linear::Dense(DenseLinear::from_data(data, &device)))
    };
    let shapes: std::collections::HashMap<&str, &Vec<usize>> =
        expected.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let shape = |n: &str| shapes[n].clone();
    let embed_data = read(
        "model.embed_tokens.weight",
        &shape("model.embed_tokens.weight"),
    )?;
    let embed_dtype = embed_data.dtype();
    let embed_tokens = Tensor::from_data(embed_data, (&device, embed_dtype));
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
    for l in 0..config.num_hidden_layers {
        let p = format!("model.layers.{l}");
        let n = |s: &str| format!("{p}.{s}");
        let lin = |s: &str| linear(&n(s), &shape(&n(s)));
        layers.push(Block::new(
            &config,
            tensor1(
                &n("input_layernorm.weight"),
                &shape(&n("input_layernorm.weight")),
            )?,
            tensor1(
                &n("post_attention_layernorm.weight"),
                &shape(&n("post_attention_layernorm.weight")),
            )?,
            [
                lin("self_attn.q_proj.weight")?,
                lin("self_attn.k_proj.weight")?,
                lin("self_attn.v_proj.weight")?,
                lin("self_attn.o_proj.weight")?,
            ],
            [
                lin("mlp.gate_proj.weight")?,
                lin("mlp.up_proj.weight")?,
                lin("mlp.down_proj.weight")?,
            ],
        ));
    }
    let norm = crate::llama::RmsNorm::new(
        tensor1("model.norm.weight", &shape("model.norm.weight"))?,
        config.rms_norm_eps,
    );
    let lm_head = if config.tie_word_embeddings {
        None
    } else {
        Some(linear("lm_head.weight", &shape("lm_head.weight"))?)
    };
    let expand_kv = !opts.device.native_gqa();
    Ok(Llama::from_parts(
        config,
        LlamaParts {
            embed_tokens,
            layers,
            norm,
            lm_head,
        },
        expand_kv,
    ))
}

/// Saves `model` to `dir` as transformers does: `config.json` + `model.safetensors`, in the
/// model's current dtype (the `torch_dtype` field is updated to match).
pub fn save(model: &Llama, dir: &Path) -> Result<()> {
    let _span = info_span!("save_llama").entered();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut config = model.config().clone();
    let embed = model.embed_tokens.val();
    config.dtype = match embed.dtype() {
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        _ => "float32",
    }
    .to_string();
    let mut tensors = BTreeMap::new();
    let dtype = embed.dtype();
    // LoRA-merged and NF4 projections come back in f32: store everything in the model's dtype.
    let mut put = |name: String, t: Tensor<2>| {
        let t = if t.dtype() == dtype { t } else { t.cast(dtype) };
        tensors.insert(name, OwnedTensor::from_data(&t.into_data()));
    };
    put("model.embed_tokens.weight".into(), embed);
    for (l, b) in model.layers.iter().enumerate() {
        let p = format!("model.layers.{l}");
        put(
            format!("{p}.input_layernorm.weight"),
            b.input_layernorm.weight.val().unsqueeze(),
        );
        put(
            format!("{p}.post_attention_layernorm.weight"),
            b.post_attention_layernorm.weight.val().unsqueeze(),
        );
        let a = &b.self_attn;
        put(format!("{p}.self_attn.q_proj.weight"), a.q_proj.hf_weight());
        put(format!("{p}.self_attn.k_proj.weight"), a.k_proj.hf_weight());
        put(format!("{p}.self_attn.v_proj.weight"), a.v_proj.hf_weight());
        put(format!("{p}.self_attn.o_proj.weight"), a.o_proj.hf_weight());
        put(
            format!("{p}.mlp.gate_proj.weight"),
            b.mlp.gate_proj.hf_weight(),
        );
        put(format!("{p}.mlp.up_proj.weight"), b.mlp.up_proj.hf_weight());
        put(
            format!("{p}.mlp.down_proj.weight"),
            b.mlp.down_proj.hf_weight(),
        );
    }
    put(
        "model.norm.weight".into(),
        model.norm.weight.val().unsqueeze(),
    );
    if let Some(head) = &model.lm_head {
        put("lm_head.weight".into(), head.hf_weight());
    }
    // Norm weights were lifted to 2-D only to share `put`; store them 1-D as HF does.
    for (name, t) in tensors.iter_mut() {
        if name.ends_with("norm.weight") {
            t.shape = vec![t.shape.iter().product()];
        }
    }
    write_safetensors(&dir.join("model.safetensors"), &tensors)?;
    let cfg_path = dir.join("config.json");
    let text =
        serde_json::to_string_pretty(&config.to_hf_json()).map_err(|source| Error::Json {
            path: cfg_path.clone(),
            source,
        })?;
    std::fs::write(&cfg_path, text + "\n").map_err(|e| Error::io(&cfg_path, e))?;
    Ok(())
}
