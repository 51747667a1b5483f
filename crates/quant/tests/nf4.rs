//! Bit-exact checks of NF4 against bitsandbytes 0.50.2 (CPU backend) on the committed fixtures
//! `fixtures/nf4/*.safetensors`, made by `fixtures/gen/nf4.py`: packed codes byte for byte,
//! absmax (plain, or nested codes, scales and offset) and dequantised values bit for bit, both
//! for our own quantisation and for bitsandbytes' stored parts; mismatches are reported per block.

use std::collections::HashMap;

use cogumi_quant::nf4::{Nf4Absmax, Nf4Tensor};
use cogumi_quant::{NF4_CODE, NF4_DQ_BLOCKSIZE, dynamic_map_signed};
use cogumi_testkit::fixture;
use safetensors::SafeTensors;
use safetensors::tensor::Dtype;

/// Every case `nf4.py` writes.
const CASES: [&str; 11] = [
    "normal",
    "ties",
    "zeros",
    "outlier",
    "ragged",
    "odd_small",
    "single",
    "bs32",
    "bs128",
    "nonfinite",
    "multi_dq",
];

struct Case {
    name: String,
    meta: HashMap<String, String>,
    tensors: HashMap<String, (Dtype, Vec<u8>)>,
}

impl Case {
    fn load(name: &str) -> Self {
        let path = fixture(&format!("nf4/{name}.safetensors"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().clone().unwrap_or_default();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(n, t)| (n, (t.dtype(), t.data().to_vec())))
            .collect();
        Self {
            name: name.to_string(),
            meta,
            tensors,
        }
    }

    fn has(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    fn meta(&self, key: &str) -> &str {
        self.meta
            .get(key)
            .unwrap_or_else(|| panic!("{}: metadata `{key}` missing", self.name))
    }

    fn raw(&self, key: &str, dtype: Dtype) -> &[u8] {
        let (d, b) = self
            .tensors
            .get(key)
            .unwrap_or_else(|| panic!("{}: tensor `{key}` missing", self.name));
        assert_eq!(*d, dtype, "{}: `{key}` dtype", self.name);
        b
    }

    fn u8s(&self, key: &str) -> Vec<u8> {
        self.raw(key, Dtype::U8).to_vec()
    }

    fn f32s(&self, key: &str) -> Vec<f32> {
        let b = self.raw(key, Dtype::F32);
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// The input: F32, or BF16 widened exactly.
    fn input(&self) -> Vec<f32> {
        match self.tensors["input"].0 {
            Dtype::BF16 => self
                .raw("input", Dtype::BF16)
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            _ => self.f32s("input"),
        }
    }
}

/// Same bits, or both NaN (NaN payloads are not part of the contract).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Panics with one line per block (of `block` values) that differs.
fn assert_bits(case: &str, what: &str, got: &[f32], want: &[f32], block: usize) {
    assert_eq!(got.len(), want.len(), "{case}: {what} length");
    let bad: Vec<String> = got
        .chunks(block)
        .zip(want.chunks(block))
        .enumerate()
        .filter_map(|(i, (g, w))| {
            let j = g.iter().zip(w).position(|(a, b)| !same(*a, *b))?;
            Some(format!(
                "block {i} element {j}: got {} ({:#010x}) want {} ({:#010x})",
                g[j],
                g[j].to_bits(),
                w[j],
                w[j].to_bits()
            ))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{case}: {what}: {} of {} blocks differ:\n{}",
        bad.len(),
        got.len().div_ceil(block),
        bad.join("\n")
    );
}

/// Panics with one line per block whose packed bytes differ (`block / 2` bytes per block).
fn assert_packed(case: &str, got: &[u8], want: &[u8], block: usize) {
    assert_eq!(got.len(), want.len(), "{case}: packed length");
    let bad: Vec<String> = got
        .chunks(block / 2)
        .zip(want.chunks(block / 2))
        .enumerate()
        .filter_map(|(i, (g, w))| {
            let j = g.iter().zip(w).position(|(a, b)| a != b)?;
            Some(format!(
                "block {i} byte {j} (elements {}, {}): got {:#04x} want {:#04x}",
                i * block + 2 * j,
                i * block + 2 * j + 1,
                g[j],
                w[j]
            ))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{case}: packed codes: {} blocks differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn check_case(name: &str) {
    let c = Case::load(name);
    let x = c.input();
    let bs: usize = c.meta("blocksize").parse().unwrap();
    assert_eq!(c.meta("numel"), x.len().to_string(), "{name}: numel");
    let packed = c.u8s("packed");
    let absmax = c.f32s("absmax");

    // Plain statistics: our quantisation, and bitsandbytes' parts decoded by us.
    let q = Nf4Tensor::quantize(&x, bs, false).unwrap();
    assert_packed(name, &q.packed, &packed, bs);
    let Nf4Absmax::F32(ours) = &q.absmax else {
        panic!("{name}: plain quantisation gave nested absmax")
    };
    assert_bits(name, "absmax", ours, &absmax, 256);
    let theirs =
        Nf4Tensor::from_parts(x.len(), bs, packed.clone(), Nf4Absmax::F32(absmax)).unwrap();
    if c.has("dequant") {
        let want = c.f32s("dequant");
        assert_bits(name, "dequant", &q.dequantize(), &want, bs);
        assert_bits(
            name,
            "dequant of stored parts",
            &theirs.dequantize(),
            &want,
            bs,
        );
    }
    assert_eq!(q.bits_per_param(), theirs.bits_per_param());

    if !c.has("dq.codes") {
        assert_eq!(c.meta("double_quant"), "false");
        return;
    }
    let q = Nf4Tensor::quantize(&x, bs, true).unwrap();
    assert_packed(name, &q.packed, &packed, bs);
    let Nf4Absmax::Double {
        codes,
        scales,
        offset,
        blocksize,
    } = &q.absmax
    else {
        panic!("{name}: double quantisation gave plain absmax")
    };
    assert_eq!(*blocksize, NF4_DQ_BLOCKSIZE);
    let want_codes = c.u8s("dq.codes");
    let bad: Vec<String> = codes
        .iter()
        .zip(&want_codes)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| format!("absmax {i}: code {a} want {b}"))
        .collect();
    assert_eq!(codes.len(), want_codes.len(), "{name}: nested code count");
    assert!(
        bad.is_empty(),
        "{name}: nested codes differ:\n{}",
        bad.join("\n")
    );
    assert_bits(name, "nested scales", scales, &c.f32s("dq.scales"), 256);
    assert_bits(name, "offset", &[*offset], &c.f32s("dq.offset"), 1);
    let want_absmax = c.f32s("dq.absmax");
    assert_bits(
        name,
        "dequantised absmax",
        &q.absmax_f32(),
        &want_absmax,
        256,
    );
    let want = c.f32s("dq.dequant");
    assert_bits(name, "dq dequant", &q.dequantize(), &want, bs);
    let theirs = Nf4Tensor::from_parts(
        x.len(),
        bs,
        packed,
        Nf4Absmax::Double {
            codes: want_codes,
            scales: c.f32s("dq.scales"),
            offset: c.f32s("dq.offset")[0],
            blocksize: NF4_DQ_BLOCKSIZE,
        },
    )
    .unwrap();
    assert_bits(
        name,
        "dq dequant of stored parts",
        &theirs.dequantize(),
        &want,
        bs,
    );
}

#[test]
fn tables_match_bitsandbytes() {
    let c = Case::load("tables");
    assert_bits("tables", "nf4_code", &NF4_CODE, &c.f32s("nf4_code"), 16);
    assert_bits(
        "tables",
        "dynamic_map",
        &dynamic_map_signed(),
        &c.f32s("dynamic_map"),
        256,
    );
}

#[test]
fn every_case_is_listed() {
    let dir = fixture("nf4");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".safetensors")?.to_string())
        })
        .filter(|n| n != "tables")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn normal_weights() {
    check_case("normal");
}

#[test]
fn midpoint_ties_and_partial_block_division() {
    check_case("ties");
}

#[test]
fn zero_blocks() {
    check_case("zeros");
}

#[test]
fn outliers_and_extreme_scales() {
    check_case("outlier");
}

#[test]
fn ragged_odd_numel() {
    check_case("ragged");
}

#[test]
fn single_partial_block() {
    check_case("odd_small");
    check_case("single");
}

#[test]
fn other_blocksizes() {
    check_case("bs32");
    check_case("bs128");
}

#[test]
fn nonfinite_values() {
    check_case("nonfinite");
}

#[test]
fn several_double_quant_blocks() {
    check_case("multi_dq");
}
