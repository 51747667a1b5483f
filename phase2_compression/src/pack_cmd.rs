//! `phase2_compression pack` / `unpack`: lossless packing of any artifact (or directory) with
//! `cogumi-pack` — zstd over byte-plane-grouped float tensors, an optional trained dictionary —
//! into a `packed` artifact, and bit-perfect restoration verified file by file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_pack::{PackOptions, pack_dir, unpack, verify};
use serde_json::json;

/// Artifact kind written by `pack`.
pub const PACKED_KIND: &str = "packed";

/// `pack` flags.
#[derive(Args, Debug, Clone)]
pub struct PackArgs {
    /// What to pack: any artifact directory (manifest included) or plain directory.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// zstd level (1-22).
    #[arg(long, default_value_t = 19)]
    pub level: i32,
    /// Train a 128 KiB zstd dictionary on the non-tensor bytes (helps only with many small
    /// files; measured in docs/BENCHMARKS.md).
    #[arg(long)]
    pub dict: bool,
    /// Also compress every file with plain zstd at the same level and report both ratios.
    #[arg(long)]
    pub compare_plain: bool,
}

/// `unpack` flags.
#[derive(Args, Debug, Clone)]
pub struct UnpackArgs {
    /// A `packed` artifact.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// Where to restore the original files (must not exist).
    #[arg(long, value_name = "DIR", required_unless_present = "verify")]
    pub dest: Option<PathBuf>,
    /// Only decompress and check every file's SHA-256; write nothing.
    #[arg(long)]
    pub verify: bool,
}

/// Runs `pack`.
pub fn run_pack(args: &PackArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    if !args.input.is_dir() {
        bail!("{} is not a directory", args.input.display());
    }
    let source = if args.input.join("manifest.json").exists() {
        Some(
            Artifact::open(&args.input)
                .with_context(|| format!("verifying artifact {}", args.input.display()))?,
        )
    } else {
        None
    };
    let inputs: Vec<InputRef> = source.iter().map(Artifact::as_input).collect();
    let opts = PackOptions {
        level: args.level,
        dict: args.dict,
        compare_plain: args.compare_plain,
        ..PackOptions::default()
    };
    let mut config = serde_json::to_value(&opts)?;
    if source.is_none() {
        config["input_dir"] = json!(args.input);
    }
    let mut writer = match cogumi_cli::begin(
        common,
        PACKED_KIND,
        cogumi_artifact::producer!("pack"),
        inputs,
        &config,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let report = pack_dir(&args.input, &writer.path("pack"), &opts)
        .with_context(|| format!("packing {}", args.input.display()))?;
    for f in &report.files {
        tracing::info!(file = %f.path, ratio = format!("{:.3}", f.ratio), plain = ?f.plain_ratio, "packed");
    }
    writer.set_metric("bytes", report.bytes);
    writer.set_metric("packed_bytes", report.packed);
    writer.set_metric("ratio", report.ratio);
    writer.set_metric("plain_zstd_ratio", report.plain_ratio);
    writer.set_metric("dict_bytes", report.dict_bytes);
    writer.set_metric("files", &report.files);
    if let Some(a) = &source {
        writer.set_metric("source_kind", a.kind());
    }
    Ok(Some(writer.commit()?))
}

/// Runs `unpack` (prints the restored directory, or nothing with `--verify`).
pub fn run_unpack(args: &UnpackArgs, common: &CommonArgs) -> Result<()> {
    let a = Artifact::open(&args.input)
        .with_context(|| format!("verifying packed artifact {}", args.input.display()))?;
    a.expect_kind(PACKED_KIND)?;
    let packed = a.path("pack");
    let report = match (&args.dest, args.verify) {
        (Some(dest), _) => unpack(&packed, dest).with_context(|| {
            format!("unpacking {} into {}", args.input.display(), dest.display())
        })?,
        (None, _) => {
            verify(&packed).with_context(|| format!("verifying {}", args.input.display()))?
        }
    };
    tracing::info!(
        files = report.files,
        bytes = report.bytes,
        "every file restored bit for bit (SHA-256 verified)"
    );
    let mut out = std::io::stdout().lock();
    if common.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else if let Some(dest) = &args.dest {
        writeln!(out, "{}", dest.display())?;
    }
    Ok(())
}
