//! `cargo xtask bench quant`: (1) Q4_K_M quantisation throughput, MB/s of F32 input, ours
//! (`phase2_compression gguf` requantising an F32 GGUF, 2 rayon threads) against llama.cpp's
//! `llama_model_quantize` (2 threads, `crates/llamacpp/examples/quantize.rs`) on the same file in
//! the same run, with the two outputs compared byte for byte; (2) pack ratio of a BF16 checkpoint
//! (the demo's fine-tuned SmolLM2, rounded to bf16) — ours (`phase2_compression pack`) against
//! plain zstd at the same level and ZipNN itself (`xtask/peers/bench_pack.py`, when installed).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::fetch_model::embedded_default;
use crate::util;

/// Arguments of `bench quant`.
#[derive(Debug, Args)]
pub struct BenchQuantArgs {
    /// Alternating rounds (ours, then llama.cpp); the best time of each is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// zstd level for the pack comparison.
    #[arg(long, default_value_t = 3)]
    pub level: i32,
    /// A model artifact to pack as BF16 (default: the embedded model).
    #[arg(long)]
    pub pack_model: Option<std::path::PathBuf>,
    /// Don't rewrite docs/BENCHMARKS.md.
    #[arg(long)]
    pub no_record: bool,
}

fn timed(cmd: &mut Command) -> Result<f64> {
    let t = Instant::now();
    util::run_capture(cmd)?;
    Ok(t.elapsed().as_secs_f64())
}

/// Writes `src`'s F32 `model.safetensors` as BF16 (round to nearest even) into `dst`.
fn to_bf16(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst)?;
    let bytes = std::fs::read(src.join("model.safetensors"))?;
    let n = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n])?;
    let data = &bytes[8 + n..];
    let mut out_header = serde_json::Map::new();
    let mut out = Vec::new();
    let mut names: Vec<&String> = header.keys().filter(|k| *k != "__metadata__").collect();
    names.sort_by_key(|k| header[*k]["data_offsets"][0].as_u64());
    for name in names {
        let t = &header[name];
        if t["dtype"] != "F32" {
            bail!("{name}: expected F32");
        }
        let (a, b) = (
            t["data_offsets"][0].as_u64().unwrap_or(0) as usize,
            t["data_offsets"][1].as_u64().unwrap_or(0) as usize,
        );
        let start = out.len();
        for c in data[a..b].chunks_exact(4) {
            let bits = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
            out.extend_from_slice(&(rounded as u16).to_le_bytes());
        }
        out_header.insert(name.clone(), serde_json::json!({"dtype": "BF16", "shape": t["shape"], "data_offsets": [start, out.len()]}));
    }
    let mut h = serde_json::to_vec(&out_header)?;
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut file = (h.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&h);
    file.extend_from_slice(&out);
    std::fs::write(dst.join("model.safetensors"), file)?;
    Ok(())
}

/// Runs the benchmark and records it.
pub fn run(args: &BenchQuantArgs) -> Result<()> {
    let root = util::root();
    let model = embedded_default()?;
    util::build_bins()?;
    util::run_capture(Command::new(util::cargo()).args([
        "build",
        "-q",
        "-p",
        "cogumi-llamacpp",
        "--example",
        "quantize",
    ]))?;
    let peer_bin = util::bin("examples/quantize");
    let work = root.join("target/bench-quant");
    std::fs::create_dir_all(&work)?;
    let f32_gguf = work.join("smollm2-f32.gguf");
    if !f32_gguf.exists() {
        util::run_capture(
            Command::new(util::bin("phase2_compression"))
                .args(["-q", "gguf", "--type", "F32", "--model"])
                .arg(model.dir())
                .arg("--out")
                .arg(&f32_gguf),
        )?;
    }
    let mb = std::fs::metadata(&f32_gguf)?.len() as f64 / 1e6;
    let (ours_out, peer_out) = (work.join("ours-q4km.gguf"), work.join("llama-q4km.gguf"));
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        ours.push(timed(
            Command::new(util::bin("phase2_compression"))
                .env("RAYON_NUM_THREADS", "2")
                .args(["-q", "gguf", "--type", "Q4_K_M", "--model"])
                .arg(&f32_gguf)
                .arg("--out")
                .arg(&ours_out),
        )?);
        peer.push(timed(
            Command::new(&peer_bin)
                .arg(&f32_gguf)
                .arg(&peer_out)
                .args(["15", "2"]),
        )?);
    }
    let identical = std::fs::read(&ours_out)? == std::fs::read(&peer_out)?;
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (to, tp) = (best(&ours), best(&peer));

    // Pack: the fine-tuned model as BF16.
    let pack_src = args
        .pack_model
        .clone()
        .unwrap_or_else(|| model.dir().to_path_buf());
    let bf16_dir = work.join("bf16");
    to_bf16(&pack_src, &bf16_dir).context("writing the BF16 checkpoint")?;
    let st = bf16_dir.join("model.safetensors");
    let packed_root = work.join("packed");
    let _ = std::fs::remove_dir_all(&packed_root);
    let t = Instant::now();
    let out = util::run_capture(
        Command::new(util::bin("phase2_compression"))
            .args([
                "-q",
                "--json",
                "pack",
                "--compare-plain",
                "--level",
                &args.level.to_string(),
                "--input",
            ])
            .arg(&bf16_dir)
            .arg("--out")
            .arg(&packed_root),
    )?;
    let pack_s = t.elapsed().as_secs_f64();
    let ours_pack: Value = serde_json::from_str(out.trim()).context("parsing pack output")?;
    let file = ours_pack["metrics"]["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["path"] == "model.safetensors"))
        .cloned()
        .context("no model.safetensors in the pack report")?;
    let zipnn = util::last_json_line(&util::run_capture(
        Command::new(cogumi_fetch::python())
            .arg(root.join("xtask/peers/bench_pack.py"))
            .arg(&st)
            .arg(args.level.to_string()),
    )?)?;
    let bytes = file["bytes"].as_f64().unwrap_or(f64::NAN);

    let mut table = format!(
        "## Quantisation and packing: SmolLM2-135M-Instruct\n\n`cargo xtask bench quant`; {}; measured {}.\n\n### Q4_K_M from an F32 GGUF ({mb:.0} MB), 2 threads each\n\nBest of {} alternating rounds, wall clock of the whole process (read, quantise, write).\n\n| Implementation | seconds | MB/s of F32 input |\n|---|---|---|\n| Cogumi `phase2_compression gguf --model f32.gguf --type Q4_K_M` (`RAYON_NUM_THREADS=2`) | {to:.2} | {:.0} |\n| llama.cpp `llama_model_quantize` (llama-cpp-sys-2 0.1.161, nthread 2) | {tp:.2} | {:.0} |\n\nRatio (ours / llama.cpp): **{:.2}×** (goal ≥ 1.0×). Outputs byte-identical: **{}**. Per round (s): ours {}; llama.cpp {}.\n",
        util::machine(),
        util::today(),
        ours.len(),
        mb / to,
        mb / tp,
        tp / to,
        if identical { "yes" } else { "NO" },
        ours.iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        peer.iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    table.push_str(&format!(
        "\n### Lossless packing of a BF16 checkpoint ({:.0} MB, zstd level {})\n\n| Method | packed MB | ratio |\n|---|---|---|\n| Cogumi `pack` (zstd over byte planes) | {:.1} | **{:.3}×** |\n| plain zstd, same level (same run) | {:.1} | {:.3}× |\n",
        bytes / 1e6,
        args.level,
        file["packed"].as_f64().unwrap_or(f64::NAN) / 1e6,
        file["ratio"].as_f64().unwrap_or(f64::NAN),
        file["plain_zstd"].as_f64().unwrap_or(f64::NAN) / 1e6,
        file["plain_ratio"].as_f64().unwrap_or(f64::NAN),
    ));
    match zipnn["skipped"].as_str() {
        Some(why) => table.push_str(&format!(
            "| ZipNN | skipped: {why} | published 1.51× (zstd 1.27×) |\n"
        )),
        None => table.push_str(&format!(
            "| ZipNN {} (same file, same run) | {:.1} | {:.3}× |\n",
            "0.5.4",
            zipnn["zipnn_bytes"].as_f64().unwrap_or(f64::NAN) / 1e6,
            bytes / zipnn["zipnn_bytes"].as_f64().unwrap_or(f64::NAN)
        )),
    }
    table.push_str(&format!(
        "\nOur pack took {pack_s:.1} s for the whole artifact including the plain-zstd comparison pass. The published ZipNN figures (1.51× vs zstd 1.27×) are for BF16 models trained in BF16; this checkpoint was fine-tuned in f32 from a Q4_1-derived base and rounded to BF16.\n"
    ));
    println!("{table}");
    if !args.no_record {
        util::write_bench_section("quant", &table)?;
    }
    Ok(())
}
