//! Layer-level golden tests against transformers 4.57.1 (`fixtures/tiny_llama/layers.safetensors`,
//! made by `fixtures/gen/tiny_llama.py`): RMSNorm, RoPE tables (default, θ=500k, llama3-scaled),
//! RoPE application, SwiGLU MLP and causal GQA attention.

use burn::tensor::{Device, Int, Tensor, TensorData};
use cogumi_testkit::{FixtureTensor, assert_close, fixture, read_tensor};

use crate::config::{LlamaConfig, RopeScaling};
use crate::linear::{DenseLinear, Linear};
use crate::llama::{Block, MaskPlan, Mlp, RmsNorm};
use crate::rope::{RopeTable, apply, inv_freq};
use crate::weights::transpose_2d;

fn t(name: &str) -> FixtureTensor {
    read_tensor(&fixture("tiny_llama/layers.safetensors"), name)
}

fn tensor<const D: usize>(f: &FixtureTensor, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(f.f32(), f.shape.clone()), device)
}

fn linear(name: &str, device: &Device) -> Linear {
    let f = t(name);
    let data = transpose_2d(TensorData::new(f.f32(), f.shape.clone()));
    Linear::Dense(DenseLinear::from_data(data, device))
}

fn host<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().try_to_vec::<f32>().unwrap()
}

fn config(theta: f64, scaling: RopeScaling) -> LlamaConfig {
    LlamaConfig {
        vocab_size: 16,
        hidden_size: 64,
        intermediate_size: 176,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 16,
        rms_norm_eps: 1e-5,
        rope_theta: theta,
        rope_scaling: scaling,
        max_position_embeddings: 64,
        tie_word_embeddings: false,
        bos_token_id: None,
        eos_token_ids: vec![],
        pad_token_id: None,
        dtype: "float32".into(),
    }
}

fn llama3() -> RopeScaling {
    RopeScaling::Llama3 {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 64.0,
    }
}

#[test]
fn rmsnorm_matches_transformers() {
    let d = Device::flex();
    let norm = RmsNorm::new(tensor(&t("rmsnorm.weight"), &d), 1e-5);
    let out = norm.forward(tensor(&t("rmsnorm.input"), &d));
    assert_close(&host(out), &t("rmsnorm.output").f32(), 1e-6, "rmsnorm");
}

#[test]
fn rope_frequencies_and_tables_match_transformers() {
    let d = Device::flex();
    for (key, cfg) in [
        ("default", config(10000.0, RopeScaling::Default)),
        ("default_500k", config(500000.0, RopeScaling::Default)),
        ("llama3", config(500000.0, llama3())),
    ] {
        let want = t(&format!("rope.{key}.inv_freq")).f32();
        let got = inv_freq(&cfg);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs(),
                "{key}: inv_freq {g} vs {w}"
            );
        }
        let table = RopeTable::new(&cfg, 16, &d);
        let pos = Tensor::<2, Int>::from_data(
            TensorData::new((0..16i64).collect::<Vec<_>>(), [1, 16]),
            &d,
        );
        let (cos, sin) = table.gather(pos);
        assert_close(
            &host(cos),
            &t(&format!("rope.{key}.cos")).f32(),
            1e-5,
            &format!("{key} cos"),
        );
        assert_close(
            &host(sin),
            &t(&format!("rope.{key}.sin")).f32(),
            1e-5,
            &format!("{key} sin"),
        );
    }
}

#[test]
fn rope_application_matches_transformers() {
    let d = Device::flex();
    let cfg = config(10000.0, RopeScaling::Default);
    let table = RopeTable::new(&cfg, 16, &d);
    let pos =
        Tensor::<2, Int>::from_data(TensorData::new((0..16i64).collect::<Vec<_>>(), [1, 16]), &d);
    let (cos, sin) = table.gather(pos);
    let q = apply(tensor(&t("rope.apply.q_in"), &d), &cos, &sin);
    let k = apply(tensor(&t("rope.apply.k_in"), &d), &cos, &sin);
    assert_close(&host(q), &t("rope.apply.q_out").f32(), 1e-5, "rope q");
    assert_close(&host(k), &t("rope.apply.k_out").f32(), 1e-5, "rope k");
}

#[test]
fn swiglu_mlp_matches_transformers() {
    let d = Device::flex();
    let mlp = Mlp {
        gate_proj: linear("mlp.gate_proj.weight", &d),
        up_proj: linear("mlp.up_proj.weight", &d),
        down_proj: linear("mlp.down_proj.weight", &d),
    };
    let out = mlp.forward(tensor(&t("mlp.input"), &d));
    assert_close(&host(out), &t("mlp.output").f32(), 1e-5, "mlp");
}

#[test]
fn causal_gqa_attention_matches_transformers_natively_and_expanded() {
    let d = Device::flex();
    let cfg = config(10000.0, RopeScaling::Default);
    let ones = Tensor::<1>::ones([64], &d);
    let block = Block::new(
        &cfg,
        ones.clone(),
        ones,
        [
            linear("attn.q_proj.weight", &d),
            linear("attn.k_proj.weight", &d),
            linear("attn.v_proj.weight", &d),
            linear("attn.o_proj.weight", &d),
        ],
        [
            linear("mlp.gate_proj.weight", &d),
            linear("mlp.up_proj.weight", &d),
            linear("mlp.down_proj.weight", &d),
        ],
    );
    let table = RopeTable::new(&cfg, 16, &d);
    let pos =
        Tensor::<2, Int>::from_data(TensorData::new((0..7i64).collect::<Vec<_>>(), [1, 7]), &d);
    let (cos, sin) = table.gather(pos);
    let plan = MaskPlan::causal();
    for expand in [false, true] {
        let out = block.self_attn.forward(
            tensor(&t("attn.input"), &d),
            &cos,
            &sin,
            &plan,
            None,
            expand,
        );
        assert_close(
            &host(out),
            &t("attn.output").f32(),
            1e-5,
            &format!("attention (expand_kv={expand})"),
        );
    }
}
