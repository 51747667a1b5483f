//! xtask: the project's automation entry point, run as `cargo xtask <command>` through the alias
//! in `.cargo/config.toml` (matklad's xtask pattern; rust-analyzer's `xtask/src/main.rs`).

mod bench_dedup;
mod bench_eval;
mod bench_model;
mod bench_quant;
mod bench_train;
mod demo;
mod fetch_model;
mod plan;
mod run;
mod test_cmd;
mod tidy;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation: fetch models, run pipelines and the demo, benchmark, test, check style.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch a model (`smollm2`, `hf:org/repo`, a .gguf or HF dir) and import it as a `model` artifact.
    FetchModel(fetch_model::FetchModelArgs),
    /// The main job on the embedded default: fetch + import SmolLM2, phase 0, chat, perplexity, report.
    Demo(demo::DemoArgs),
    /// Benchmarks against their peers, recorded in docs/BENCHMARKS.md.
    Bench {
        #[command(subcommand)]
        area: BenchArea,
    },
    /// The README's test command: fetch the embedded model if needed, then `cargo test --workspace`.
    Test(test_cmd::TestArgs),
    /// Run a pipeline preset (or some of its phases), resuming from complete artifacts.
    Run(run::RunArgs),
    /// Check house-style rules: `//!` headers, file sizes, no printing in libraries.
    Tidy,
}

/// Benchmark areas.
#[derive(Debug, Subcommand)]
enum BenchArea {
    /// SmolLM2-135M f32 prefill/decode tokens/s against PyTorch.
    Model(bench_model::BenchModelArgs),
    /// Phase 0 dedup recall/precision/speed against datasketch and rensa.
    Dedup(bench_dedup::BenchDedupArgs),
    /// LoRA training tokens/s and peak RSS on SmolLM2-135M against PyTorch + PEFT.
    Train(bench_train::BenchTrainArgs),
    /// MMLU questions/s against lm-evaluation-harness (transformers backend).
    Eval(bench_eval::BenchEvalArgs),
    /// Q4_K_M quantisation throughput vs llama.cpp, and pack ratio vs zstd and ZipNN.
    Quant(bench_quant::BenchQuantArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => run::run(args),
        Command::FetchModel(args) => fetch_model::fetch_model(args).map(|a| {
            println!("{}", a.dir().display());
            true
        }),
        Command::Demo(args) => demo::run(args).map(|()| true),
        Command::Bench {
            area: BenchArea::Model(args),
        } => bench_model::run(args).map(|()| true),
        Command::Bench {
            area: BenchArea::Dedup(args),
        } => bench_dedup::run(args).map(|()| true),
        Command::Bench {
            area: BenchArea::Eval(args),
        } => bench_eval::run(args).map(|()| true),
        Command::Bench {
            area: BenchArea::Train(args),
        } => bench_train::run(args).map(|()| true),
        Command::Bench {
            area: BenchArea::Quant(args),
        } => bench_quant::run(args).map(|()| true),
        Command::Test(args) => test_cmd::run(args).map(|()| true),
        Command::Tidy => tidy::tidy(&run::workspace_root()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
