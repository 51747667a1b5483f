//! Imports a GGUF file as an HF checkpoint directory: `cargo run -p cogumi-gguf --example import -- IN.gguf OUT_DIR [f32|f16|bf16]`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out, rest @ ..] = args.as_slice() else {
        return Err("usage: import IN.gguf OUT_DIR [f32|f16|bf16]".into());
    };
    let dtype = match rest.first().map(String::as_str) {
        None | Some("f32") => cogumi_gguf::Dtype::F32,
        Some("f16") => cogumi_gguf::Dtype::F16,
        Some("bf16") => cogumi_gguf::Dtype::BF16,
        Some(other) => return Err(format!("unknown dtype {other}").into()),
    };
    let t = std::time::Instant::now();
    let report = cogumi_gguf::import_hf(
        &PathBuf::from(input),
        &PathBuf::from(out),
        &cogumi_gguf::ImportOptions { dtype },
    )?;
    eprintln!("imported in {:.2?}", t.elapsed());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
