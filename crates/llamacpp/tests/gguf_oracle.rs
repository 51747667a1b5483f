//! llama.cpp (0c1e57098, through llama-cpp-sys-2 0.1.161) as the oracle of our GGUF export:
//!
//! - our Q8_0 / Q4_K_M / Q5_K_M / Q6_K files of a tiny random Llama (tied and untied, with and
//!   without Llama-3.1 rope scaling) — exported from the checkpoint, and requantised from our
//!   F32 GGUF — are byte-identical (`cmp`) to `llama_model_quantize` applied to that F32 file;
//! - our block quantisers equal `ggml_quantize_chunk` on fresh random data;
//! - a GGUF LoRA adapter applied at scale 0 gives the base logits, at scale 1 the logits of the
//!   checkpoint with `W + (α/r)·B·A` merged in, and the merged F32 export loads and decodes.

mod tiny;

use std::path::Path;

use cogumi_gguf::{
    ExportOptions, FileType, GgmlType, export_hf, export_lora_adapter, quantize_gguf,
};
use cogumi_llamacpp::{Model, model_quantize, quantize_chunk};

fn export(dir: &Path, out: &Path, ft: FileType) {
    export_hf(dir, out, &ExportOptions::new(ft), |_, _| {}).unwrap();
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

#[test]
fn quantized_exports_equal_llama_quantize_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, layers, tied, llama3) in [
        ("untied", 8, false, false),
        ("tied", 8, true, false),
        ("llama3", 16, false, true),
    ] {
        let dir = tmp.path().join(name);
        tiny::write_checkpoint(&dir, &tiny::weights(layers, tied), layers, tied, llama3);
        let f32_file = tmp.path().join(format!("{name}-f32.gguf"));
        export(&dir, &f32_file, FileType::F32);
        for ft in [
            FileType::Q8_0,
            FileType::Q4KM,
            FileType::Q5KM,
            FileType::Q6K,
        ] {
            let ours = tmp.path().join(format!("{name}-{ft}.gguf"));
            let theirs = tmp.path().join(format!("{name}-{ft}-ref.gguf"));
            export(&dir, &ours, ft);
            model_quantize(&f32_file, &theirs, ft.ftype_id(), 2).unwrap();
            // Our GGUF -> GGUF path on the very file llama-quantize read.
            let requant = tmp.path().join(format!("{name}-{ft}-requant.gguf"));
            quantize_gguf(&f32_file, &requant, ft, |_, _| {}).unwrap();
            let b = std::fs::read(&theirs).unwrap();
            assert_eq!(
                first_difference(&std::fs::read(&requant).unwrap(), &b),
                None,
                "{name} {ft}: quantize_gguf vs llama_model_quantize"
            );
            let a = std::fs::read(&ours).unwrap();
            if let Some(at) = first_difference(&a, &b) {
                let file = cogumi_gguf::GgufFile::open(&theirs).unwrap();
                let data_start = file.bytes().len() as u64
                    - file
                        .tensors
                        .iter()
                        .map(|t| t.n_bytes.next_multiple_of(32))
                        .sum::<u64>();
                let tensor = file
                    .tensors
                    .iter()
                    .find(|t| (at as u64) < data_start + t.offset + t.n_bytes)
                    .map(|t| format!("{} ({})", t.name, t.ty))
                    .unwrap_or_else(|| "the header".into());
                panic!(
                    "{name} {ft}: files differ at byte {at} of {} / {} (in {tensor})",
                    a.len(),
                    b.len()
                );
            }
        }
    }
}

#[test]
fn block_quantisers_equal_ggml_quantize_chunk() {
    let n = 64 * 1024;
    let x: Vec<f32> = (0..n)
        .map(|i| tiny::uniform(99, i as u64) * if i % 4096 < 256 { 1e-3 } else { 3.0 })
        .collect();
    for ty in [
        GgmlType::Q8_0,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ] {
        let ours = cogumi_quant::quantize_to_vec(ty, &x).unwrap();
        let theirs = quantize_chunk(ty, &x, 1024).unwrap();
        assert_eq!(first_difference(&ours, &theirs), None, "{ty}");
    }
}

/// A PEFT adapter on q, k, v and down of every layer, and the same update merged in.
fn adapter_and_merged(
    base: &[(String, Vec<usize>, Vec<f32>)],
    dir: &Path,
    rank: usize,
    alpha: f32,
) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut adapter = Vec::new();
    let mut merged = base.to_vec();
    for (k, (name, shape, w)) in base.iter().enumerate() {
        let module = ["q_proj", "k_proj", "v_proj", "down_proj"]
            .iter()
            .find(|m| name.ends_with(&format!("{m}.weight")));
        if module.is_none() {
            continue;
        }
        let (out_f, in_f) = (shape[0], shape[1]);
        let a: Vec<f32> = (0..rank * in_f)
            .map(|i| tiny::uniform(500 + k as u64, i as u64) * 0.05)
            .collect();
        let b: Vec<f32> = (0..out_f * rank)
            .map(|i| tiny::uniform(900 + k as u64, i as u64) * 0.05)
            .collect();
        let s = alpha / rank as f32;
        let mut m = w.clone();
        for o in 0..out_f {
            for i in 0..in_f {
                let ba: f32 = (0..rank).map(|r| b[o * rank + r] * a[r * in_f + i]).sum();
                m[o * in_f + i] += s * ba;
            }
        }
        merged[k].2 = m;
        let stem = name.strip_suffix(".weight").unwrap();
        adapter.push((
            format!("base_model.model.{stem}.lora_A.weight"),
            vec![rank, in_f],
            a,
        ));
        adapter.push((
            format!("base_model.model.{stem}.lora_B.weight"),
            vec![out_f, rank],
            b,
        ));
    }
    tiny::write_safetensors(&dir.join("adapter_model.safetensors"), &adapter);
    let cfg = serde_json::json!({"peft_type": "LORA", "r": rank, "lora_alpha": alpha,
        "use_rslora": false, "target_modules": ["q_proj", "k_proj", "v_proj", "down_proj"],
        "alpha_pattern": {}, "rank_pattern": {}});
    std::fs::write(dir.join("adapter_config.json"), cfg.to_string()).unwrap();
    merged
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn lora_adapter_at_scale_0_is_the_base_and_at_scale_1_the_merged_model() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = 4;
    let base = tiny::weights(layers, false);
    let base_dir = tmp.path().join("base");
    tiny::write_checkpoint(&base_dir, &base, layers, false, false);
    let adapter_dir = tmp.path().join("adapter");
    let merged = adapter_and_merged(&base, &adapter_dir, 8, 16.0);
    let merged_dir = tmp.path().join("merged");
    tiny::write_checkpoint(&merged_dir, &merged, layers, false, false);

    let (base_gguf, merged_gguf, adapter_gguf) = (
        tmp.path().join("base.gguf"),
        tmp.path().join("merged.gguf"),
        tmp.path().join("adapter.gguf"),
    );
    export(&base_dir, &base_gguf, FileType::F32);
    export(&merged_dir, &merged_gguf, FileType::F32);
    export_lora_adapter(
        &adapter_dir,
        &base_dir.join("config.json"),
        &adapter_gguf,
        GgmlType::F32,
        None,
    )
    .unwrap();

    let tokens: Vec<i32> = (0..24).map(|i| (i * 37 + 5) % tiny::VOCAB as i32).collect();
    let base_model = Model::load(&base_gguf).unwrap();
    let adapter = base_model.load_adapter(&adapter_gguf).unwrap();
    let mut ctx = base_model.context(64, 2).unwrap();
    let plain = ctx.eval(&tokens).unwrap();
    ctx.set_adapters(&[(&adapter, 0.0)]).unwrap();
    let zero = ctx.eval(&tokens).unwrap();
    ctx.set_adapters(&[(&adapter, 1.0)]).unwrap();
    let one = ctx.eval(&tokens).unwrap();
    drop(ctx);

    let merged_model = Model::load(&merged_gguf).unwrap();
    let mut mctx = merged_model.context(64, 2).unwrap();
    let want = mctx.eval(&tokens).unwrap();
    let greedy = mctx.greedy(&tokens[..8], 4).unwrap();
    assert_eq!(greedy.len(), 4);

    assert!(
        max_abs_diff(&zero, &plain) < 1e-4,
        "scale 0 = base: {}",
        max_abs_diff(&zero, &plain)
    );
    let moved = max_abs_diff(&one, &plain);
    let err = max_abs_diff(&one, &want);
    assert!(moved > 1e-2, "the adapter changes the logits ({moved})");
    assert!(
        err < moved / 50.0,
        "scale 1 = merged: error {err} vs change {moved}"
    );
}
