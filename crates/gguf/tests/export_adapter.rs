//! `export_lora_adapter` on the PEFT 0.21.2 fixture adapter (`fixtures/train/lora`, made by
//! `fixtures/gen/lora_peft.py`): the GGUF holds what llama.cpp's loader requires (gguf.md §4) —
//! the adapter keys, complete `.lora_a`/`.lora_b` pairs named after existing base tensors, with
//! `a.ne = [n_in, r]`, `b.ne = [r, n_out]`, A as PEFT stores it and B's rows in the base's Q/K
//! permutation — and `B·A` of every pair, undone with the permutation, equals PEFT's product.

use std::path::PathBuf;

use cogumi_gguf::names::unpermute_rows;
use cogumi_gguf::{GgmlType, GgufFile, Value, export_lora_adapter};
use safetensors::SafeTensors;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn peft_adapter_exports_in_llama_cpp_layout() {
    let fx = root().join("fixtures/train/lora");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.gguf");
    let report = export_lora_adapter(
        &fx.join("adapter"),
        &fx.join("base/config.json"),
        &out,
        GgmlType::F32,
        Some("test"),
    )
    .unwrap();
    let f = GgufFile::open(&out).unwrap();
    let md = &f.metadata;
    assert_eq!(md.str("general.type").unwrap(), "adapter");
    assert_eq!(md.str("adapter.type").unwrap(), "lora");
    assert_eq!(md.str("general.architecture").unwrap(), "llama");
    // alpha 8, r 4, plain LoRA: written as is (llama.cpp scales by alpha / r = 2, as PEFT).
    assert!(matches!(md.get("adapter.lora.alpha"), Some(Value::F32(a)) if *a == 8.0));
    assert_eq!(report.rank, 4);

    let peft_bytes = std::fs::read(fx.join("adapter/adapter_model.safetensors")).unwrap();
    let peft = SafeTensors::deserialize(&peft_bytes).unwrap();
    let f32s = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let mut pairs = 0;
    for t in f.tensors.iter().filter(|t| t.name.ends_with(".lora_a")) {
        let base = t.name.strip_suffix(".lora_a").unwrap();
        let b = f.tensor(&format!("{base}.lora_b")).expect("complete pair");
        let (n_in, r, n_out) = (t.ne[0] as usize, t.ne[1] as usize, b.ne[1] as usize);
        assert_eq!(b.ne[0] as usize, r, "{base}: a.ne[1] == b.ne[0]");
        let layer: usize = base.split('.').nth(1).unwrap().parse().unwrap();
        let module = match base.split('.').nth(2).unwrap() {
            "attn_q" => "self_attn.q_proj",
            "attn_k" => "self_attn.k_proj",
            "attn_v" => "self_attn.v_proj",
            "attn_output" => "self_attn.o_proj",
            "ffn_gate" => "mlp.gate_proj",
            "ffn_up" => "mlp.up_proj",
            "ffn_down" => "mlp.down_proj",
            other => panic!("unexpected {other}"),
        };
        let pname =
            |ab: &str| format!("base_model.model.model.layers.{layer}.{module}.lora_{ab}.weight");
        let pa = f32s(peft.tensor(&pname("A")).unwrap().data());
        let pb = f32s(peft.tensor(&pname("B")).unwrap().data());
        assert_eq!(f32s(f.tensor_data(t)), pa, "{base}: A is PEFT's A");
        let gb = f32s(f.tensor_data(b));
        let heads = match module {
            "self_attn.q_proj" => Some(4),
            "self_attn.k_proj" => Some(2),
            _ => None,
        };
        let gb = match heads {
            Some(h) => unpermute_rows(&gb, n_out, h).unwrap(),
            None => gb,
        };
        assert_eq!(
            gb, pb,
            "{base}: B rows in HF order after undoing the permutation"
        );
        if heads.is_some() {
            assert_ne!(f32s(f.tensor_data(b)), pb, "{base}: B must be permuted");
        }
        assert_eq!(pa.len(), r * n_in);
        pairs += 1;
    }
    assert_eq!(pairs, report.n_adapted);
    assert!(
        pairs >= 4,
        "the fixture adapts q, k, v and more in every layer"
    );
}
