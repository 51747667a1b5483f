//! Test helpers shared by every crate: fixture paths with regeneration hints, safetensors fixture
//! readers, tolerance asserts that report where the worst difference is, and the location of
//! the embedded real model (fetched by `cargo xtask fetch-model smollm2`).
//!
//! Follows the golden-file pattern of burn-store's safetensors tests and llm.c's `test_gpt2.c`.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use safetensors::tensor::Dtype;

/// The workspace root (this crate lives in `crates/testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit has a workspace two levels up")
        .to_path_buf()
}

/// `fixtures/<rel>`, panicking with the regeneration hint when it is missing.
pub fn fixture(rel: &str) -> PathBuf {
    let p = workspace_root().join("fixtures").join(rel);
    assert!(
        p.exists(),
        "fixture {} is missing; regenerate with the script named in fixtures/gen/README.md",
        p.display()
    );
    p
}

/// The embedded default GGUF, as `cargo xtask fetch-model smollm2` caches it.
pub fn smollm2_gguf() -> PathBuf {
    let p = workspace_root().join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        p.exists(),
        "{} is missing; run `cargo xtask fetch-model smollm2` first (CI does)",
        p.display()
    );
    p
}

/// The imported SmolLM2 model artifact directory (HF layout). `cargo xtask fetch-model smollm2`
/// writes `artifacts/model/<id>` and records its path in `.cache/models/smollm2.path`.
pub fn smollm2_model_dir() -> PathBuf {
    let pointer = workspace_root().join(".cache/models/smollm2.path");
    let dir = std::fs::read_to_string(&pointer).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run `cargo xtask fetch-model smollm2` first (CI does)",
            pointer.display()
        )
    });
    let dir = PathBuf::from(dir.trim());
    let dir = if dir.is_absolute() {
        dir
    } else {
        workspace_root().join(dir)
    };
    assert!(
        dir.join("config.json").exists(),
        "{} is not a model directory; run `cargo xtask fetch-model smollm2` again",
        dir.display()
    );
    dir
}

/// A tensor read from a fixture file, widened to f64 for comparisons.
#[derive(Debug, Clone)]
pub struct FixtureTensor {
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// Values (f32/f16/bf16 widened; i64/i32 converted exactly while below 2^53).
    pub values: Vec<f64>,
}

impl FixtureTensor {
    /// Values as f32.
    pub fn f32(&self) -> Vec<f32> {
        self.values.iter().map(|&v| v as f32).collect()
    }

    /// Values as u32 token ids.
    pub fn u32(&self) -> Vec<u32> {
        self.values.iter().map(|&v| v as u32).collect()
    }
}

/// Reads tensor `name` from a safetensors fixture.
pub fn read_tensor(path: &Path, name: &str) -> FixtureTensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t = st
        .tensor(name)
        .unwrap_or_else(|e| panic!("{}: tensor `{name}`: {e}", path.display()));
    let d = t.data();
    let values: Vec<f64> = match t.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f64())
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes(c.try_into().unwrap()).to_f64())
            .collect(),
        Dtype::I64 => d
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        Dtype::I32 => d
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        other => panic!(
            "{}: tensor `{name}` has unsupported dtype {other:?}",
            path.display()
        ),
    };
    FixtureTensor {
        shape: t.shape().to_vec(),
        values,
    }
}

/// The largest absolute difference and where it is.
pub fn max_abs_diff(actual: &[f32], expected: &[f32]) -> (f64, usize) {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    let mut worst = (0.0f64, 0usize);
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let d = (*a as f64 - *e as f64).abs();
        if d > worst.0 || d.is_nan() {
            worst = (if d.is_nan() { f64::INFINITY } else { d }, i);
        }
    }
    worst
}

/// Asserts `max |actual - expected| <= atol`, reporting the worst element.
#[track_caller]
pub fn assert_close(actual: &[f32], expected: &[f32], atol: f64, what: &str) {
    let (d, i) = max_abs_diff(actual, expected);
    assert!(
        d <= atol,
        "{what}: max |Δ| = {d:.3e} > {atol:.1e} at index {i} (actual {}, expected {})",
        actual[i],
        expected[i]
    );
}

/// Asserts the normwise relative error `max|actual − expected| / max|expected| <= rtol` (the
/// "max relative error" of a whole tensor; elementwise ratios are meaningless near zero).
#[track_caller]
pub fn assert_rel_close(actual: &[f32], expected: &[f32], rtol: f64, what: &str) {
    let (d, i) = max_abs_diff(actual, expected);
    let scale = expected
        .iter()
        .fold(0.0f64, |m, v| m.max((*v as f64).abs()))
        .max(1e-30);
    assert!(
        d / scale <= rtol,
        "{what}: max |Δ| / max |expected| = {:.3e} > {rtol:.1e} at index {i} (actual {}, expected {})",
        d / scale,
        actual[i],
        expected[i]
    );
}
