//! `import_hf` on the real SmolLM2-135M-Instruct Q4_1 GGUF against transformers 4.57.1 loading
//! the same file (`fixtures/gguf/smollm2_tensors.json`: per-tensor shape, f64 sum, sum of
//! squares and first 16 values; `smollm2_tokens.json`: token ids of tricky strings), both made
//! by `fixtures/gen/gguf_import.py`. The model is fetched before tests by
//! `cargo xtask fetch-model smollm2`.

use std::path::PathBuf;
use std::time::Instant;

use cogumi_gguf::{ImportOptions, import_hf};
use safetensors::SafeTensors;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model_path() -> PathBuf {
    let path = root().join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "{} is missing; run `cargo xtask fetch-model smollm2`",
        path.display()
    );
    path
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

#[test]
fn smollm2_import_matches_transformers() {
    let gguf = model_path();
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let report = import_hf(&gguf, dir.path(), &ImportOptions::default()).unwrap();
    let elapsed = start.elapsed();
    let fixture = read_json(root().join("fixtures/gguf/smollm2_tensors.json"));

    assert_eq!(report.n_tensors, 272);
    assert_eq!(report.n_params, 134_515_008);
    assert!(report.tie_word_embeddings);
    assert_eq!(report.source_types.get("Q4_1"), Some(&210));
    assert_eq!(report.tokenizer_pre, "smollm");

    let config = read_json(dir.path().join("config.json"));
    for (k, v) in fixture["config"].as_object().unwrap() {
        assert_eq!(config.get(k).unwrap_or(&Value::Null), v, "config field {k}");
    }

    let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let want = fixture["tensors"].as_object().unwrap();
    // transformers' state dict also lists the tied lm_head; the checkpoint stores it once.
    assert_eq!(want["lm_head.weight"], want["model.embed_tokens.weight"]);
    assert_eq!(st.len(), want.len() - 1);
    for (name, d) in want {
        if name == "lm_head.weight" {
            continue;
        }
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shape: Vec<usize> = d["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(t.shape(), shape.as_slice(), "{name}");
        let (mut sum, mut sum_sq) = (0f64, 0f64);
        let mut first = Vec::with_capacity(16);
        for (i, b) in t.data().chunks_exact(4).enumerate() {
            let v = f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            sum += v;
            sum_sq += v * v;
            if i < 16 {
                first.push(v);
            }
        }
        let want_first: Vec<f64> = d["first"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(first, want_first, "{name}: first values");
        let n = shape.iter().product::<usize>() as f64;
        let scale = (d["sum_sq"].as_f64().unwrap() / n).sqrt();
        assert!(
            close(sum, d["sum"].as_f64().unwrap(), 1e-5, 1e-9 * n * scale),
            "{name}: sum {sum} vs {}",
            d["sum"]
        );
        assert!(
            close(sum_sq, d["sum_sq"].as_f64().unwrap(), 1e-5, 0.0),
            "{name}: sum_sq {sum_sq} vs {}",
            d["sum_sq"]
        );
    }
    // Generous bound for a loaded 2-core machine; the import takes ~1.5 s when idle.
    assert!(elapsed.as_secs_f64() < 30.0, "import took {elapsed:?}");

    // Tokenizer. `ids`: transformers' GGUF vocab/merges/added tokens pre-tokenised as llama.cpp
    // runs `tokenizer.ggml.pre = "smollm"` (each digit alone, then the GPT-2 regex). The GGUF
    // says add_bos_token = false, so encoding with special tokens must add nothing.
    let tok = tokenizers::Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
    let cases = read_json(root().join("fixtures/gguf/smollm2_tokens.json"));
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    let bos = config["bos_token_id"].as_u64().unwrap() as u32;
    let ids = |c: &Value, key: &str| -> Option<Vec<u32>> {
        Some(
            c.get(key)?
                .as_array()?
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect(),
        )
    };
    let mut transformers_agree = 0;
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let want = ids(c, "ids").unwrap();
        let got = tok.encode(text, true).unwrap().get_ids().to_vec();
        assert_eq!(got, want, "ids of {text:?}");
        if let Some(llama_cpp) = ids(c, "ids_llamacpp") {
            assert_eq!(got, llama_cpp, "llama.cpp ids of {text:?}");
        }
        // Unmodified transformers differs only by not isolating digits, which shows with
        // non-ASCII digits that have byte-level merges ("Ġ" + the first byte of "٣").
        if ids(c, "ids_transformers").unwrap() == want {
            transformers_agree += 1;
        } else {
            assert!(
                text.chars().any(|ch| ch.is_numeric() && !ch.is_ascii()),
                "transformers disagrees on {text:?}"
            );
        }
        // transformers' default call prepends BOS regardless of add_bos_token.
        assert_eq!(
            ids(c, "ids_transformers_default").unwrap(),
            [vec![bos], ids(c, "ids_transformers").unwrap()].concat()
        );
        assert_eq!(tok.decode(&got, false).unwrap(), text, "decode of {text:?}");
    }
    assert!(
        transformers_agree + 2 >= cases.len(),
        "transformers agrees on only {transformers_agree} cases"
    );
    let tcfg = read_json(dir.path().join("tokenizer_config.json"));
    assert_eq!(
        (
            tcfg["bos_token"].as_str(),
            tcfg["eos_token"].as_str(),
            tcfg["pad_token"].as_str()
        ),
        (Some("<|im_start|>"), Some("<|im_end|>"), Some("<|im_end|>"))
    );
    assert_eq!(tcfg["add_bos_token"], false);
    assert!(
        tcfg["chat_template"]
            .as_str()
            .unwrap()
            .contains("<|im_start|>")
    );
}
