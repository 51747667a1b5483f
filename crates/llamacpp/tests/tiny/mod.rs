//! A tiny random Llama checkpoint written by the tests (deterministic weights), for the
//! llama.cpp conformance tests: n_embd 256, n_ff 512, 4 query heads over 2 key/value heads,
//! vocabulary 512 over the tiny byte-level BPE of `fixtures/tokenizer/tiny_bpe` (gguf.md §7).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::json;

pub const HIDDEN: usize = 256;
pub const FF: usize = 512;
pub const HEADS: usize = 4;
pub const KV_HEADS: usize = 2;
pub const HEAD_DIM: usize = 64;
pub const VOCAB: usize = 512;

/// splitmix64 of `(seed, i)` mapped to [-1, 1).
pub fn uniform(seed: u64, i: u64) -> f32 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(i.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// `(name, shape, values)` of every weight; `scale` multiplies the matrices.
pub fn weights(layers: usize, tied: bool) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let mut seed = 1u64;
    let mut mat = |name: String, rows: usize, cols: usize, scale: f32| {
        seed += 1;
        let v: Vec<f32> = (0..rows * cols)
            .map(|i| uniform(seed, i as u64) * scale)
            .collect();
        (name, vec![rows, cols], v)
    };
    out.push(mat("model.embed_tokens.weight".into(), VOCAB, HIDDEN, 0.5));
    if !tied {
        out.push(mat("lm_head.weight".into(), VOCAB, HIDDEN, 0.1));
    }
    let q = HEADS * HEAD_DIM;
    let kv = KV_HEADS * HEAD_DIM;
    for l in 0..layers {
        let p = format!("model.layers.{l}.");
        out.push(mat(format!("{p}self_attn.q_proj.weight"), q, HIDDEN, 0.1));
        out.push(mat(format!("{p}self_attn.k_proj.weight"), kv, HIDDEN, 0.1));
        out.push(mat(format!("{p}self_attn.v_proj.weight"), kv, HIDDEN, 0.1));
        out.push(mat(format!("{p}self_attn.o_proj.weight"), HIDDEN, q, 0.1));
        out.push(mat(format!("{p}mlp.gate_proj.weight"), FF, HIDDEN, 0.1));
        out.push(mat(format!("{p}mlp.up_proj.weight"), FF, HIDDEN, 0.1));
        out.push(mat(format!("{p}mlp.down_proj.weight"), HIDDEN, FF, 0.1));
        for n in ["input_layernorm", "post_attention_layernorm"] {
            let (name, _, v) = mat(format!("{p}{n}.weight"), 1, HIDDEN, 0.2);
            out.push((name, vec![HIDDEN], v.iter().map(|x| 1.0 + x).collect()));
        }
    }
    let (name, _, v) = mat("model.norm.weight".into(), 1, HIDDEN, 0.2);
    out.push((name, vec![HIDDEN], v.iter().map(|x| 1.0 + x).collect()));
    out
}

/// Writes an F32 safetensors file.
pub fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: BTreeMap<String, TensorView<'_>> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// Writes a complete HF checkpoint directory (config, weights, tokenizer files).
pub fn write_checkpoint(
    dir: &Path,
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    layers: usize,
    tied: bool,
    llama3: bool,
) {
    std::fs::create_dir_all(dir).unwrap();
    let mut cfg = json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": HIDDEN, "intermediate_size": FF, "num_hidden_layers": layers,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
        "vocab_size": VOCAB, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "tie_word_embeddings": tied, "bos_token_id": 1,
        "eos_token_id": 2, "torch_dtype": "float32",
    });
    if llama3 {
        cfg["rope_scaling"] = json!({"rope_type": "llama3", "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 256});
    }
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&cfg).unwrap(),
    )
    .unwrap();
    write_safetensors(&dir.join("model.safetensors"), tensors);
    let tok = cogumi_testkit::fixture("tokenizer/tiny_bpe");
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(tok.join(f), dir.join(f)).unwrap();
    }
}
