//! Reader and writer against a gguf-py 0.19.0 file (`fixtures/gguf/tiny_llama.gguf`, written by
//! `fixtures/gen/gguf_import.py`), and hostile-input tests in the spirit of candle's
//! `candle-core/tests/gguf_tests.rs`: truncated or corrupted headers must give errors, never a
//! panic or a huge allocation.

use std::path::PathBuf;

use cogumi_gguf::{Array, Error, GgmlType, GgufFile, GgufWriter, Limits, Value};

fn tiny_bytes() -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gguf/tiny_llama.gguf");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `python fixtures/gen/gguf_import.py`",
            path.display()
        )
    })
}

#[test]
fn reads_gguf_py_file() {
    let f = GgufFile::from_bytes(tiny_bytes()).unwrap();
    assert_eq!(f.version, 3);
    assert_eq!(f.alignment, 32);
    let md = &f.metadata;
    // GGUFWriter writes general.architecture first, then the keys in call order.
    assert_eq!(
        md.iter().next().unwrap(),
        ("general.architecture", &Value::from("llama"))
    );
    assert_eq!(md.get("llama.block_count"), Some(&Value::U32(4)));
    assert_eq!(md.get("llama.rope.freq_base"), Some(&Value::F32(50000.0)));
    assert_eq!(
        md.get("llama.attention.layer_norm_rms_epsilon"),
        Some(&Value::F32(1e-5))
    );
    assert_eq!(md.str("tokenizer.ggml.pre").unwrap(), "llama-bpe");
    let tokens = md
        .array("tokenizer.ggml.tokens")
        .unwrap()
        .as_strings()
        .unwrap();
    assert_eq!(
        (tokens.len(), tokens[0].as_str(), tokens[4].as_str()),
        (320, "<|begin_of_text|>", "!")
    );
    assert!(
        matches!(md.array("tokenizer.ggml.token_type").unwrap(), Array::I32(v) if v[0] == 3 && v[4] == 1)
    );
    assert_eq!(f.tensors.len(), 39);
    let q = f.tensor("blk.0.attn_q.weight").unwrap();
    assert_eq!(
        (q.ty, q.ne.clone(), q.shape(), q.n_bytes),
        (GgmlType::Q4_0, vec![64, 64], vec![64, 64], 64 * 2 * 18)
    );
    let down = f.tensor("blk.2.ffn_down.weight").unwrap();
    assert_eq!((down.ty, down.shape()), (GgmlType::Q6_K, vec![64, 256]));
    // Blobs are contiguous and in info order, each padded to 32.
    let mut offset = 0;
    for t in &f.tensors {
        assert_eq!(t.offset, offset, "{}", t.name);
        offset += t.n_bytes.next_multiple_of(32);
    }
    assert_eq!(f.data_offset % 32, 0);
    // F32 norms read back as the values gguf-py wrote (1 + noise).
    let norm = f
        .tensor_f32(f.tensor("output_norm.weight").unwrap())
        .unwrap();
    assert!(norm.iter().all(|v| (0.5..1.5).contains(v)));
}

#[test]
fn writer_reproduces_gguf_py_bytes() {
    // Re-writing every KV and tensor of the gguf-py file must give the same bytes: same
    // encodings, order, alignment and padding as GGUFWriter.
    let bytes = tiny_bytes();
    let f = GgufFile::from_bytes(bytes.clone()).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata.iter() {
        w.add_kv(k, v.clone()).unwrap();
    }
    for t in &f.tensors {
        w.add_tensor(t.name.clone(), t.ty, &t.ne, f.tensor_data(t).to_vec())
            .unwrap();
    }
    let mut out = Vec::new();
    w.write_to(&mut out).unwrap();
    assert_eq!(out.len(), bytes.len());
    let first = out.iter().zip(&bytes).position(|(a, b)| a != b);
    assert_eq!(first, None, "first differing byte");
}

#[test]
fn writer_round_trips_every_value_type_and_nested_arrays() {
    let nested = Array::Array(vec![
        Array::U8(vec![1, 2]),
        Array::String(vec!["x".into()]),
        Array::Array(vec![Array::F64(vec![0.5])]),
    ]);
    let values: Vec<(&str, Value)> = vec![
        ("u8", Value::U8(200)),
        ("i8", Value::I8(-5)),
        ("u16", Value::U16(65000)),
        ("i16", Value::I16(-300)),
        ("u32", Value::U32(4_000_000_000)),
        ("i32", Value::I32(-70000)),
        ("f32", Value::F32(1.5)),
        ("bool", Value::Bool(true)),
        ("string", Value::from("héllo")),
        ("u64", Value::U64(u64::MAX)),
        ("i64", Value::I64(i64::MIN)),
        ("f64", Value::F64(-2.25)),
        ("arr.bool", Value::from(vec![true, false])),
        ("arr.i16", Value::from(vec![-1i16, 2])),
        ("arr.empty", Value::from(Vec::<u32>::new())),
        ("arr.nested", Value::Array(nested)),
    ];
    let mut w = GgufWriter::new();
    for (k, v) in &values {
        w.add_kv(*k, v.clone()).unwrap();
    }
    w.add_tensor(
        "t",
        GgmlType::F32,
        &[3],
        [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    )
    .unwrap();
    w.add_tensor("scalar", GgmlType::F16, &[], vec![0x00, 0x3c])
        .unwrap();
    let mut out = Vec::new();
    w.write_to(&mut out).unwrap();
    let f = GgufFile::from_bytes(out).unwrap();
    let got: Vec<(&str, Value)> = f.metadata.iter().map(|(k, v)| (k, v.clone())).collect();
    assert_eq!(got, values);
    assert_eq!(
        f.tensor_f32(f.tensor("t").unwrap()).unwrap(),
        vec![1.0, 2.0, 3.0]
    );
    assert_eq!(
        f.tensor_f32(f.tensor("scalar").unwrap()).unwrap(),
        vec![1.0]
    );
}

#[test]
fn writer_rejects_bad_input() {
    let mut w = GgufWriter::new();
    w.add_kv("a", 1u32).unwrap();
    assert!(matches!(w.add_kv("a", 2u32), Err(Error::DuplicateKey(_))));
    assert!(matches!(
        w.add_kv("general.alignment", 48u32),
        Err(Error::Alignment(_))
    ));
    assert!(
        w.add_tensor("x", GgmlType::Q8_0, &[32], vec![0; 33])
            .is_err()
    );
    assert!(
        w.add_tensor("x", GgmlType::Q8_0, &[16], vec![0; 17])
            .is_err()
    );
    assert!(
        w.add_tensor("x".repeat(64), GgmlType::F32, &[1], vec![0; 4])
            .is_err()
    );
    assert!(
        w.add_tensor("x", GgmlType::F32, &[1, 1, 1, 1, 1], vec![0; 4])
            .is_err()
    );
    w.add_tensor("x", GgmlType::F32, &[1], vec![0; 4]).unwrap();
    assert!(matches!(
        w.add_tensor("x", GgmlType::F32, &[1], vec![0; 4]),
        Err(Error::DuplicateTensor(_))
    ));
}

#[test]
fn custom_alignment_is_honoured() {
    let mut w = GgufWriter::new();
    w.add_kv("general.alignment", 64u32).unwrap();
    w.add_tensor("a", GgmlType::F32, &[3], vec![0; 12]).unwrap();
    w.add_tensor("b", GgmlType::F32, &[1], vec![0; 4]).unwrap();
    let mut out = Vec::new();
    w.write_to(&mut out).unwrap();
    let f = GgufFile::from_bytes(out).unwrap();
    assert_eq!(
        (
            f.alignment,
            f.data_offset % 64,
            f.tensor("b").unwrap().offset
        ),
        (64, 0, 64)
    );
}

/// The tiny file's metadata (vocab, merges, ...) with only its three smallest tensors, so the
/// byte-by-byte tests below copy a few KB per case.
fn small_bytes() -> Vec<u8> {
    let f = GgufFile::from_bytes(tiny_bytes()).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata.iter() {
        w.add_kv(k, v.clone()).unwrap();
    }
    for name in [
        "output_norm.weight",
        "blk.0.attn_q.weight",
        "blk.2.ffn_down.weight",
    ] {
        let t = f.tensor(name).unwrap();
        w.add_tensor(name, t.ty, &t.ne, f.tensor_data(t).to_vec())
            .unwrap();
    }
    let mut out = Vec::new();
    w.write_to(&mut out).unwrap();
    out
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = small_bytes();
    let f = GgufFile::from_bytes(bytes.clone()).unwrap();
    let header_end = f.data_offset as usize;
    // Every prefix inside the header, then a stride through the data section.
    let cuts = (0..header_end).chain((header_end..bytes.len()).step_by(7));
    for n in cuts {
        let r = GgufFile::from_bytes(bytes[..n].to_vec());
        assert!(r.is_err(), "a {n}-byte prefix parsed");
    }
}

#[test]
fn corrupted_headers_never_panic() {
    let bytes = small_bytes();
    let header_end = GgufFile::from_bytes(bytes.clone()).unwrap().data_offset as usize;
    // Overwrite each header byte with values that turn lengths and counts hostile.
    let mut errors = 0;
    for i in 0..header_end {
        for v in [0xff, 0x7f, 0x00, 0x09] {
            if bytes[i] == v {
                continue;
            }
            let mut b = bytes.clone();
            b[i] = v;
            errors += usize::from(GgufFile::from_bytes(b).is_err());
        }
    }
    assert!(
        errors > header_end,
        "only {errors} corruptions were rejected"
    );
}

/// Hand-assembled little-endian GGUF headers.
struct Raw(Vec<u8>);

impl Raw {
    fn new(version: u32, n_tensors: u64, n_kv: u64) -> Self {
        let mut v = b"GGUF".to_vec();
        v.extend_from_slice(&version.to_le_bytes());
        v.extend_from_slice(&n_tensors.to_le_bytes());
        v.extend_from_slice(&n_kv.to_le_bytes());
        Raw(v)
    }
    fn u32(mut self, x: u32) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn u64(mut self, x: u64) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn str(self, s: &str) -> Self {
        let mut r = self.u64(s.len() as u64);
        r.0.extend_from_slice(s.as_bytes());
        r
    }
    fn pad(mut self, n: usize) -> Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    fn parse(self) -> Result<GgufFile, Error> {
        GgufFile::from_bytes(self.0)
    }
}

fn tensor_info(r: Raw, name: &str, ne: &[i64], ty: u32, offset: u64) -> Raw {
    let mut r = r.str(name).u32(ne.len() as u32);
    for &d in ne {
        r = r.u64(d as u64);
    }
    r.u32(ty).u64(offset)
}

#[test]
fn hostile_headers_are_rejected_with_clear_errors() {
    let msg = |r: Result<GgufFile, Error>| r.map(|_| ()).unwrap_err().to_string();
    assert!(msg(Raw(b"GGML\x03\0\0\0".to_vec()).parse()).contains("not a gguf file"));
    assert!(msg(Raw::new(1, 0, 0).parse()).contains("unsupported gguf version 1"));
    assert!(msg(Raw::new(3u32.swap_bytes(), 0, 0).parse()).contains("big-endian"));
    assert!(msg(Raw::new(3, u64::MAX, 0).parse()).contains("tensor count"));
    assert!(msg(Raw::new(3, 0, u64::MAX).parse()).contains("metadata count"));
    // Counts under the limits but larger than the file can hold.
    assert!(msg(Raw::new(3, 1000, 0).parse()).contains("truncated"));
    assert!(msg(Raw::new(3, 0, 1000).parse()).contains("truncated"));
    // A 2^60-byte key, a 2^60-element array, an unknown value type, too deep nesting.
    assert!(msg(Raw::new(3, 0, 1).u64(1 << 60).pad(16).parse()).contains("above the limit"));
    let big_array = Raw::new(3, 0, 1)
        .str("k")
        .u32(9)
        .u32(4)
        .u64(1 << 29)
        .pad(16);
    assert!(msg(big_array.parse()).contains("truncated"));
    assert!(
        msg(Raw::new(3, 0, 1)
            .str("k")
            .u32(9)
            .u32(4)
            .u64(u64::MAX)
            .pad(16)
            .parse())
        .contains("above the limit")
    );
    assert!(
        msg(Raw::new(3, 0, 1).str("k").u32(13).pad(16).parse()).contains("unknown value type 13")
    );
    let mut deep = Raw::new(3, 0, 1).str("k").u32(9);
    for _ in 0..6 {
        deep = deep.u32(9).u64(1);
    }
    assert!(msg(deep.u32(0).u64(0).parse()).contains("nesting"));
    // Invalid UTF-8 in a key; duplicate keys; a bad alignment.
    let mut bad_utf8 = Raw::new(3, 0, 1).u64(2);
    bad_utf8.0.extend_from_slice(&[0xc3, 0x28]);
    assert!(msg(bad_utf8.u32(4).u32(1).parse()).contains("utf-8"));
    let dup = Raw::new(3, 0, 2)
        .str("a")
        .u32(4)
        .u32(1)
        .str("a")
        .u32(4)
        .u32(2);
    assert!(msg(dup.parse()).contains("duplicate key a"));
    let align = Raw::new(3, 0, 1).str("general.alignment").u32(4).u32(24);
    assert!(msg(align.parse()).contains("power-of-two"));
    let align_type = Raw::new(3, 0, 1).str("general.alignment").u32(10).u64(32);
    assert!(msg(align_type.parse()).contains("power-of-two"));

    // Tensor infos: each case is otherwise a valid one-tensor file with 64 bytes of data.
    let one = |name: &str, ne: &[i64], ty: u32, offset: u64| {
        let r = tensor_info(Raw::new(3, 1, 0), name, ne, ty, offset);
        let pad = r.0.len().next_multiple_of(32) - r.0.len();
        msg(r.pad(pad + 64).parse())
    };
    assert!(one("t", &[1, 1, 1, 1, 1], 0, 0).contains("5 dimensions"));
    assert!(one("t", &[-1], 0, 0).contains("negative dimension"));
    assert!(one("t", &[1 << 40, 1 << 40], 0, 0).contains("overflows"));
    assert!(one("t", &[16], 99, 0).contains("unknown ggml type 99"));
    assert!(one("t", &[16], 8, 0).contains("not a multiple of the Q8_0 block size"));
    assert!(one("t", &[32], 0, 0).contains("outside"));
    assert!(one("t", &[4], 0, 16).contains("not a multiple of the alignment"));
    assert!(one("t", &[4], 0, u64::MAX - 31).contains("outside"));
    assert!(one(&"n".repeat(64), &[4], 0, 0).contains("name is 64 bytes"));
    let two = tensor_info(
        tensor_info(Raw::new(3, 2, 0), "t", &[1], 0, 0),
        "t",
        &[1],
        0,
        32,
    )
    .pad(128);
    assert!(msg(two.parse()).contains("duplicate tensor t"));
    // The same header is fine when it is well-formed: the checks above are not blanket refusals.
    let ok = tensor_info(Raw::new(2, 1, 0), "t", &[16], 0, 0);
    let pad = ok.0.len().next_multiple_of(32) - ok.0.len();
    let f = ok.pad(pad + 64).parse().unwrap();
    assert_eq!((f.version, f.tensors[0].n_bytes), (2, 64));
}

#[test]
fn limits_are_configurable() {
    let strict = Limits {
        max_string: 8,
        ..Limits::default()
    };
    let err = GgufFile::from_bytes_with(tiny_bytes(), &strict).unwrap_err();
    assert!(err.to_string().contains("above the limit of 8"), "{err}");
}
