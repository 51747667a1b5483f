//! Packing round trips, corruption detection and the byte-plane property on realistic weights.

use std::collections::BTreeMap;
use std::path::Path;

use cogumi_pack::planes::{Layout, merge, split};
use cogumi_pack::{Error, PackOptions, pack_dir, unpack, verify};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// splitmix64 stream.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Gaussian-like weights (sum of uniforms), std ~0.02.
fn weights(n: usize, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| {
            let s: f64 = (0..4)
                .map(|_| (r() >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
                .sum();
            (s * 0.035) as f32
        })
        .collect()
}

fn bf16(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| half::bf16::from_f32(*x).to_bits().to_le_bytes())
        .collect()
}

fn write_st(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: BTreeMap<String, TensorView<'_>> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        out.insert(rel, std::fs::read(&e).unwrap());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

fn sample_dir(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let big = weights((4 << 20) / 2 + 3, 1); // more than one 4 MiB chunk, odd length
    let f16: Vec<u8> = weights(1001, 2)
        .iter()
        .flat_map(|x| half::f16::from_f32(*x).to_bits().to_le_bytes())
        .collect();
    let f32b: Vec<u8> = weights(777, 3)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let i64b: Vec<u8> = (0..33i64).flat_map(|x| (x * 7919).to_le_bytes()).collect();
    write_st(
        &dir.join("model.safetensors"),
        &[
            ("a.big", Dtype::BF16, vec![big.len()], bf16(&big)),
            ("b.half", Dtype::F16, vec![7, 143], f16),
            ("c.single", Dtype::F32, vec![777], f32b),
            ("d.one", Dtype::BF16, vec![1], bf16(&[0.5])),
            ("e.ids", Dtype::I64, vec![33], i64b),
        ],
    );
    std::fs::write(
        dir.join("config.json"),
        br#"{"hidden_size": 576, "vocab_size": 49152}"#,
    )
    .unwrap();
    std::fs::write(dir.join("sub/empty.txt"), b"").unwrap();
    let notes: String = (0..6000)
        .map(|i| {
            format!(
                "row {i}: {} tokens, loss {:.4}\n",
                i * 37 % 1000,
                1.0 / (1.0 + i as f64)
            )
        })
        .collect();
    std::fs::write(dir.join("sub/notes.md"), notes).unwrap();
}

#[test]
fn round_trip_is_bit_perfect() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_dir(&src);
    for dict in [false, true] {
        let packed = tmp.path().join(format!("packed-{dict}"));
        let opts = PackOptions {
            dict,
            dict_size: 4096,
            compare_plain: true,
            ..PackOptions::default()
        };
        let report = pack_dir(&src, &packed, &opts).unwrap();
        assert_eq!(report.files.len(), 4);
        let st = report
            .files
            .iter()
            .find(|f| f.path == "model.safetensors")
            .unwrap();
        assert!(st.plane_bytes > 4 << 20, "tensors went through the planes");
        assert_eq!(
            report.dict_bytes.is_some(),
            dict,
            "a dictionary is trained when asked"
        );
        verify(&packed).unwrap();
        let out = tmp.path().join(format!("out-{dict}"));
        let r = unpack(&packed, &out).unwrap();
        assert_eq!(r.files, 4);
        assert_eq!(tree(&out), tree(&src), "dict {dict}");
        assert!(
            matches!(unpack(&packed, &out), Err(Error::Corrupt { .. })),
            "existing destination"
        );
    }
}

#[test]
fn corruption_is_detected_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_dir(&src);
    let packed = tmp.path().join("packed");
    pack_dir(&src, &packed, &PackOptions::default()).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(packed.join("pack.json")).unwrap()).unwrap();
    let entry = index["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model.safetensors")
        .unwrap();
    let data = packed.join(entry["data"].as_str().unwrap());
    let good = std::fs::read(&data).unwrap();

    // A flipped byte inside a frame.
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x40;
    std::fs::write(&data, &bad).unwrap();
    let err = verify(&packed).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    let out = tmp.path().join("out");
    assert!(unpack(&packed, &out).is_err());
    assert!(
        !out.exists(),
        "nothing is left at the destination after a failure"
    );

    // A truncated data file.
    std::fs::write(&data, &good[..good.len() - 100]).unwrap();
    let err = verify(&packed).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn planes_are_a_bijection() {
    let mut r = rng(7);
    let bytes: Vec<u8> = (0..4096 * 4).map(|_| r() as u8).collect();
    for l in [Layout::Bf16, Layout::F16, Layout::F32] {
        let p = split(l, &bytes);
        assert!(p.iter().all(|p| p.len() == bytes.len() / l.width()));
        let mut back = Vec::new();
        merge(l, &p, &mut back);
        assert_eq!(back, bytes, "{l:?}");
    }
}

#[test]
fn planes_beat_plain_zstd_on_bf16_weights() {
    // The defining property of byte grouping (ZipNN): on trained-weight-like bf16 values the
    // exponent plane compresses far better than interleaved bytes do.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let w = weights(1 << 20, 11);
    write_st(
        &src.join("w.safetensors"),
        &[("w", Dtype::BF16, vec![1 << 20], bf16(&w))],
    );
    let opts = PackOptions {
        compare_plain: true,
        ..PackOptions::default()
    };
    let r = pack_dir(&src, &tmp.path().join("p"), &opts).unwrap();
    let f = &r.files[0];
    assert!(
        f.ratio > f.plain_ratio.unwrap() * 1.05,
        "planes {:.3} vs plain {:.3}",
        f.ratio,
        f.plain_ratio.unwrap()
    );
}
