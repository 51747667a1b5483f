//! `phase2_compression gguf`: an HF checkpoint directory or `model` artifact → one GGUF file,
//! either as a `gguf` artifact (`model.gguf` + manifest) or, with `--out FILE.gguf`, as a plain
//! file, as llama.cpp's `convert_hf_to_gguf.py` + `llama-quantize` would produce it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_gguf::{
    ExportOptions, ExportReport, FileType, GgmlType, export_hf, export_lora_adapter, quantize_gguf,
};
use serde_json::json;

/// Artifact kind written by `gguf`.
pub const GGUF_KIND: &str = "gguf";
/// The file inside a `gguf` artifact.
pub const GGUF_FILE: &str = "model.gguf";

/// `gguf` flags.
#[derive(Args, Debug, Clone)]
pub struct GgufArgs {
    /// The model: a `model` artifact, any HF Llama checkpoint directory (config.json,
    /// model.safetensors or its shards, tokenizer.json), or an F32/F16/BF16 `.gguf` file to
    /// requantise (as `llama-quantize IN OUT TYPE` does).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// File type: F32, F16, BF16 (the converter's layout), Q8_0, Q6_K, Q5_K_M, Q4_K_M
    /// (llama-quantize's type rules and layout).
    #[arg(long = "type", value_name = "TYPE", default_value = "Q4_K_M", value_parser = parse_type)]
    pub file_type: FileType,
    /// `general.name` (default: the model directory's name, as the converter does).
    #[arg(long)]
    pub name: Option<String>,
    /// `tokenizer.ggml.pre` (default: recognised from tokenizer.json's pre-tokenizer).
    #[arg(long, value_name = "PRE")]
    pub tokenizer_pre: Option<String>,
    /// After exporting, load the file in llama.cpp and answer this user message greedily (chat
    /// template from the file); the answer and its speed go into the artifact's metrics.
    #[arg(long, value_name = "TEXT")]
    pub check: Option<String>,
    /// Export this PEFT LoRA adapter (an `adapter` artifact or PEFT directory) trained on
    /// `--model` as a llama.cpp GGUF adapter instead of the model (F32 tensors, or F16/BF16
    /// with `--type`).
    #[arg(long, value_name = "DIR")]
    pub adapter: Option<PathBuf>,
}

fn parse_type(s: &str) -> std::result::Result<FileType, String> {
    FileType::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = FileType::ALL.iter().map(|t| t.name()).collect();
        format!("unknown type {s:?}; one of {}", names.join(", "))
    })
}

/// Whether `--out` names a file (`*.gguf`) rather than the artifacts root.
fn direct_file(common: &CommonArgs) -> Option<&Path> {
    let out = common.out.as_path();
    out.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        .then_some(out)
}

/// Prints a plain-file result: the path, or the report with `--json`.
fn print_file(common: &CommonArgs, file: &Path, report: &impl serde::Serialize) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if common.json {
        writeln!(stdout, "{}", serde_json::to_string(report)?)
    } else {
        writeln!(stdout, "{}", file.display())
    }
    .context("writing to stdout")
}

fn options(args: &GgufArgs, source: Option<&Artifact>) -> ExportOptions {
    let mut opts = ExportOptions::new(args.file_type);
    opts.name.clone_from(&args.name);
    opts.tokenizer_pre.clone_from(&args.tokenizer_pre);
    let mut by = format!(
        "Cogumi {} {}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    );
    if let Some(a) = source {
        by.push_str(&format!(" from model artifact {}", a.id()));
    }
    opts.general.push(("quantized_by".into(), by));
    opts
}

fn is_gguf_file(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

fn export(model: &Path, out: &Path, opts: &ExportOptions) -> Result<ExportReport> {
    let bar = cogumi_cli::progress_bar(0, &format!("gguf {}", opts.file_type));
    let tick = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = if is_gguf_file(model) {
        quantize_gguf(model, out, opts.file_type, tick)
    } else {
        export_hf(model, out, opts, tick)
    }
    .with_context(|| format!("exporting {} to {}", model.display(), out.display()))?;
    bar.finish_and_clear();
    tracing::info!(
        path = %out.display(),
        mib = report.bytes as f64 / (1 << 20) as f64,
        bpw = 8.0 * report.bytes as f64 / report.params.max(1) as f64,
        types = ?report.tensor_types,
        "gguf written"
    );
    Ok(report)
}

/// Runs `gguf`.
pub fn run(args: &GgufArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    if let Some(adapter) = &args.adapter {
        return run_adapter(args, adapter, common);
    }
    let source = if is_gguf_file(&args.model) {
        None
    } else {
        crate::model_io::open_model(&args.model)?
    };
    let opts = options(args, source.as_ref());
    if let Some(file) = direct_file(common) {
        print_file(common, file, &export(&args.model, file, &opts)?)?;
        return Ok(None);
    }
    let inputs: Vec<InputRef> = source.iter().map(Artifact::as_input).collect();
    let mut config = json!({
        "type": args.file_type.name(),
        "name": args.name,
        "tokenizer_pre": args.tokenizer_pre,
    });
    if source.is_none() {
        config["model_dir"] = json!(args.model);
    }
    let mut writer = match cogumi_cli::begin(
        common,
        GGUF_KIND,
        cogumi_artifact::producer!("gguf"),
        inputs,
        &config,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let path = writer.path(GGUF_FILE);
    let report = export(&args.model, &path, &opts)?;
    writer.set_metric("file_type", &report.file_type);
    writer.set_metric("bytes", report.bytes);
    writer.set_metric("params", report.params);
    writer.set_metric(
        "bits_per_weight",
        8.0 * report.bytes as f64 / report.params.max(1) as f64,
    );
    writer.set_metric("tensor_types", &report.tensor_types);
    if let Some(prompt) = &args.check {
        writer.set_metric("llama_cpp_check", llama_cpp_check(&path, prompt)?);
    }
    Ok(Some(writer.commit()?))
}

/// `gguf --adapter`: a PEFT adapter → GGUF LoRA adapter (artifact kind `gguf-adapter`).
fn run_adapter(args: &GgufArgs, adapter: &Path, common: &CommonArgs) -> Result<Option<Artifact>> {
    let ty = match args.file_type {
        FileType::F16 => GgmlType::F16,
        FileType::BF16 => GgmlType::BF16,
        _ => GgmlType::F32,
    };
    let base = crate::model_io::open_model(&args.model)?;
    let source = if adapter.join("manifest.json").exists() {
        let a = Artifact::open(adapter)
            .with_context(|| format!("verifying adapter artifact {}", adapter.display()))?;
        a.expect_kind("adapter")?;
        Some(a)
    } else {
        None
    };
    let base_config = args.model.join("config.json");
    let do_export = |out: &Path| {
        export_lora_adapter(adapter, &base_config, out, ty, args.name.as_deref()).with_context(
            || {
                format!(
                    "exporting adapter {} to {}",
                    adapter.display(),
                    out.display()
                )
            },
        )
    };
    if let Some(file) = direct_file(common) {
        print_file(common, file, &do_export(file)?)?;
        return Ok(None);
    }
    let inputs: Vec<InputRef> = base
        .iter()
        .chain(source.iter())
        .map(Artifact::as_input)
        .collect();
    let mut config = json!({ "type": ty.name(), "name": args.name });
    if source.is_none() {
        config["adapter_dir"] = json!(adapter);
    }
    if base.is_none() {
        config["model_dir"] = json!(args.model);
    }
    let mut writer = match cogumi_cli::begin(
        common,
        "gguf-adapter",
        cogumi_artifact::producer!("gguf"),
        inputs,
        &config,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let report = do_export(&writer.path("adapter.gguf"))?;
    writer.set_metric("rank", report.rank);
    writer.set_metric("alpha", report.alpha);
    writer.set_metric("adapted_tensors", report.n_adapted);
    writer.set_metric("bytes", report.bytes);
    Ok(Some(writer.commit()?))
}

/// Loads `file` in llama.cpp and answers `prompt` greedily (32 tokens), as a ChatML-templated
/// user turn when the vocabulary has `<|im_start|>`, else as plain text.
fn llama_cpp_check(file: &Path, prompt: &str) -> Result<serde_json::Value> {
    let model = cogumi_llamacpp::Model::load(file)
        .with_context(|| format!("llama.cpp could not load {}", file.display()))?;
    let chatml = format!("<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n");
    let text = if model.tokenize("<|im_start|>", false)?.len() == 1 {
        chatml
    } else {
        prompt.to_string()
    };
    let ids = model.tokenize(&text, true)?;
    let mut ctx = model.context(512, 2)?;
    let t = std::time::Instant::now();
    let out = ctx.greedy(&ids, 32)?;
    let secs = t.elapsed().as_secs_f64();
    let answer = model.detokenize(&out);
    let answer = answer
        .split("<|im_end|>")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    tracing::info!(%answer, "llama.cpp answered");
    Ok(json!({ "prompt": prompt, "answer": answer, "tokens_per_s": out.len() as f64 / secs }))
}
