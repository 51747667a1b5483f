//! Our quantisers against llama.cpp's reference quantisers, byte for byte: Q8_0, Q5_0, Q5_1,
//! Q4_K, Q5_K and Q6_K of one edge-case input (zero rows and sub-blocks, constants, outliers,
//! 1e-9 and 1e4 scales, one-signed rows, bf16-rounded values, subnormals), as
//! `quantize_row_*_ref` of llama.cpp 0c1e57098 produced them (`fixtures/gen/kquants_ref.py`).
//! Q5_0 / Q5_1 decoding is held to gguf-py's (bit-identical to ggml's `to_float`).

use cogumi_quant::GgmlType;

fn read(name: &str) -> Vec<u8> {
    let p = cogumi_testkit::fixture(&format!("quant/{name}"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn quantisers_are_byte_identical_to_llama_cpp() {
    let x = f32s(&read("ref_input.f32.bin"));
    assert_eq!(x.len(), 48 * 1024);
    for ty in [
        GgmlType::Q8_0,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ] {
        let want = read(&format!("ref_{}.bin", ty.name()));
        let ours = cogumi_quant::quantize_to_vec(ty, &x).unwrap();
        assert_eq!(ours.len(), want.len(), "{ty}: size");
        let size = ty.type_size();
        if let Some(i) = (0..want.len() / size)
            .find(|&i| ours[i * size..(i + 1) * size] != want[i * size..(i + 1) * size])
        {
            panic!(
                "{ty}: block {i} (row {}, values {}..{}) differs:\n ours {:?}\n ref  {:?}",
                i * ty.block_size() / 1024,
                i * ty.block_size(),
                (i + 1) * ty.block_size(),
                &ours[i * size..(i + 1) * size],
                &want[i * size..(i + 1) * size]
            );
        }
        // The parallel split of a larger input gives the same bytes (rows are independent).
        let big: Vec<f32> = x.iter().chain(&x).copied().collect();
        let par = cogumi_quant::quantize_to_vec(ty, &big).unwrap();
        assert_eq!(&par[..want.len()], &want[..], "{ty}: parallel path");
    }
}

#[test]
fn q5_decoders_match_gguf_py() {
    for ty in [GgmlType::Q5_0, GgmlType::Q5_1] {
        let bytes = read(&format!("ref_{}.bin", ty.name()));
        let want = f32s(&read(&format!("ref_{}.f32.bin", ty.name())));
        let ours = cogumi_quant::dequantize_to_vec(ty, &bytes, want.len()).unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ours), bits(&want), "{ty}");
    }
}
