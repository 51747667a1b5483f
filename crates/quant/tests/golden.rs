//! Bit-exact checks against gguf-py 0.19.0 `gguf.quants` on the committed block fixtures
//! (`fixtures/quant`, made by `fixtures/gen/quant_blocks.py`), in the spirit of llama.cpp
//! `gguf-py/tests/test_quants.py`: mismatches are reported per block.

use std::path::PathBuf;

use cogumi_quant::{GgmlType, dequantize_to_vec, quantize_to_vec};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/quant")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} unreadable ({e}); run `python fixtures/gen/quant_blocks.py`",
            path.display()
        )
    })
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Same bits, or both NaN (NaN payloads are not part of the contract).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check_dequant(ty: GgmlType) {
    let blocks = fixture(&format!("{ty}.blocks.bin"));
    let expected = f32s(&fixture(&format!("{ty}.f32.bin")));
    assert_eq!(
        blocks.len() / ty.type_size() * ty.block_size(),
        expected.len(),
        "{ty}: fixture sizes disagree"
    );
    let got = dequantize_to_vec(ty, &blocks, expected.len()).unwrap();
    let bad: Vec<String> = got
        .chunks(ty.block_size())
        .zip(expected.chunks(ty.block_size()))
        .enumerate()
        .filter_map(|(i, (g, e))| {
            let j = g.iter().zip(e).position(|(a, b)| !same(*a, *b))?;
            Some(format!("block {i} element {j}: got {} want {}", g[j], e[j]))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{ty}: {} of {} blocks differ:\n{}",
        bad.len(),
        expected.len() / ty.block_size(),
        bad.join("\n")
    );
}

#[test]
fn dequantize_f16_matches_gguf_py() {
    check_dequant(GgmlType::F16);
}

#[test]
fn dequantize_bf16_matches_gguf_py() {
    check_dequant(GgmlType::BF16);
}

#[test]
fn dequantize_q8_0_matches_gguf_py() {
    check_dequant(GgmlType::Q8_0);
}

#[test]
fn dequantize_q4_0_matches_gguf_py() {
    check_dequant(GgmlType::Q4_0);
}

#[test]
fn dequantize_q4_1_matches_gguf_py() {
    check_dequant(GgmlType::Q4_1);
}

#[test]
fn dequantize_q4_k_matches_gguf_py() {
    check_dequant(GgmlType::Q4_K);
}

#[test]
fn dequantize_q5_k_matches_gguf_py() {
    check_dequant(GgmlType::Q5_K);
}

#[test]
fn dequantize_q6_k_matches_gguf_py() {
    check_dequant(GgmlType::Q6_K);
}

fn check_quant(ty: GgmlType) {
    let input = f32s(&fixture("quantize_input.f32.bin"));
    let expected = fixture(&format!("{ty}.quantized.bin"));
    let got = quantize_to_vec(ty, &input).unwrap();
    assert_eq!(got.len(), expected.len(), "{ty}: byte count");
    let bad: Vec<String> = got
        .chunks(ty.type_size())
        .zip(expected.chunks(ty.type_size()))
        .enumerate()
        .filter(|(_, (g, e))| g != e)
        .map(|(i, (g, e))| format!("block {i}: got {g:02x?}\n          want {e:02x?}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{ty}: {} blocks differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn quantize_f16_matches_gguf_py() {
    check_quant(GgmlType::F16);
}

#[test]
fn quantize_bf16_matches_gguf_py() {
    check_quant(GgmlType::BF16);
}

#[test]
fn quantize_q8_0_matches_gguf_py() {
    check_quant(GgmlType::Q8_0);
}

#[test]
fn quantize_q4_0_matches_gguf_py() {
    check_quant(GgmlType::Q4_0);
}

#[test]
fn quantize_q4_1_matches_gguf_py() {
    check_quant(GgmlType::Q4_1);
}

#[test]
fn quantize_then_dequantize_q8_0_is_close() {
    // Invariant independent of the fixtures: Q8_0 error per element is at most d/2 (+ f16 rounding
    // of d), where d = amax / 127.
    let input = f32s(&fixture("quantize_input.f32.bin"));
    let q = quantize_to_vec(GgmlType::Q8_0, &input).unwrap();
    let y = dequantize_to_vec(GgmlType::Q8_0, &q, input.len()).unwrap();
    for (xb, yb) in input.chunks(32).zip(y.chunks(32)) {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if amax / 127.0 > 65504.0 || amax < 1e-4 {
            continue; // d overflows / underflows f16: no error bound
        }
        for (a, b) in xb.iter().zip(yb) {
            assert!(
                (a - b).abs() <= amax / 127.0 * 0.51 + amax * 2e-3,
                "{a} vs {b}"
            );
        }
    }
}
