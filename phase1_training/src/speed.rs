//! `phase1_training speed`: training throughput and peak memory of one configuration on this
//! machine — fixed pseudo-random token ids, one optimiser step per micro-batch, timed after
//! warm-up — so a user can size a run before starting it (and `cargo xtask bench train` can set
//! it against PyTorch + PEFT doing the same work, `xtask/peers/bench_train.py`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use cogumi_cli::CommonArgs;
use cogumi_train::distill::Objective;
use cogumi_train::rng::SplitMix64;
use cogumi_train::{BaseFormat, CheckpointPlan, LoopConfig, LoraConfig, Row, attach_lora, train};
use serde_json::json;

use crate::config::Method;
use crate::model_io;

/// `speed` flags.
#[derive(Args, Debug, Clone)]
pub struct SpeedArgs {
    /// Model to train (artifact or HF directory).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// LoRA, QLoRA or full.
    #[arg(long, value_enum, default_value_t = Method::Lora)]
    pub method: Method,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 256)]
    pub seq: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// LoRA rank.
    #[arg(long, default_value_t = 16)]
    pub rank: usize,
    /// LoRA alpha.
    #[arg(long, default_value_t = 32.0)]
    pub alpha: f64,
    /// Timed steps.
    #[arg(long, default_value_t = 3)]
    pub steps: u64,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,
}

/// Runs the measurement and prints one JSON line.
pub fn run(args: &SpeedArgs, common: &CommonArgs) -> Result<()> {
    let (model, _) = model_io::load_for_training(&args.model, &common.device, "f32")?;
    let vocab = model.config().vocab_size;
    let mut model = match args.method {
        Method::Full => model.untie_cache(),
        m => {
            let cfg = LoraConfig {
                rank: args.rank,
                alpha: args.alpha,
                dropout: 0.0,
                ..LoraConfig::default()
            };
            let base = if m == Method::Qlora {
                BaseFormat::Nf4 {
                    blocksize: 64,
                    double_quant: true,
                }
            } else {
                BaseFormat::Dense
            };
            attach_lora(model, &cfg, base, common.seed)?.0
        }
    };
    let mut rng = SplitMix64::new(common.seed);
    let rows: Vec<Row> = (0..args.batch)
        .map(|_| {
            let ids: Vec<u32> = (0..args.seq).map(|_| rng.below(vocab) as u32).collect();
            Row::padded(&ids, &vec![true; args.seq], args.seq, 0)
        })
        .collect::<std::result::Result<_, _>>()?;
    let cfg = LoopConfig {
        lr: 2e-4,
        micro_batch: args.batch,
        shuffle: false,
        warmup_steps: Some(0),
        ..LoopConfig::default()
    };
    let run_steps = |model: &mut cogumi_model::Llama, n: u64| -> Result<f64> {
        let c = LoopConfig {
            max_steps: Some(n),
            ..cfg.clone()
        };
        let t = Instant::now();
        train(
            model,
            &rows,
            &[],
            &c,
            &Objective::CrossEntropy,
            &CheckpointPlan::default(),
            &mut |_| {},
        )?;
        Ok(t.elapsed().as_secs_f64())
    };
    if args.warmup > 0 {
        run_steps(&mut model, args.warmup)?;
    }
    let secs = run_steps(&mut model, args.steps)?;
    let step_s = secs / args.steps as f64;
    let tokens = (args.seq * args.batch) as f64;
    let out = json!({
        "tokens_per_s": tokens / step_s,
        "step_s": step_s,
        "peak_rss_mib": cogumi_cli::peak_rss_bytes().map(|b| b as f64 / 1048576.0),
        "method": args.method,
        "seq": args.seq, "batch": args.batch, "rank": args.rank, "steps": args.steps,
    });
    println!("{out}");
    Ok(())
}
