//! The training loop's promises, checked on a tiny Llama: a resumed run computes exactly the
//! losses of an uninterrupted one; QLoRA trains with the base frozen at ~4 bits per weight;
//! early stopping hands back the best weights.

use cogumi_model::{Llama, LoadOptions};
use cogumi_testkit::fixture;
use cogumi_train::distill::Objective;
use cogumi_train::rng::SplitMix64;
use cogumi_train::{
    BaseFormat, CheckpointPlan, LoopConfig, LoraConfig, Row, attach_lora, evaluate, train,
};

/// burn's random generator (dropout) is process-global and `train` seeds it per micro-batch, so
/// tests that train run one at a time (a real run has one loop per process).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn base() -> Llama {
    cogumi_train::for_training(
        cogumi_model::load(&fixture("train/adamw/base"), &LoadOptions::default()).unwrap(),
    )
}

/// Rows of a learnable pattern (an arithmetic sequence mod the vocabulary) with the loss on
/// the second half, some padded.
fn rows(n: usize, seq: usize, seed: u64) -> Vec<Row> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let len = seq - rng.below(3);
            let start = rng.below(100) as u32;
            let ids: Vec<u32> = (0..len as u32).map(|i| (start + 3 * i) % 128).collect();
            let mask: Vec<bool> = (0..len).map(|i| i >= len / 2).collect();
            Row::padded(&ids, &mask, seq, 0).unwrap()
        })
        .collect()
}

fn lora(model: Llama, dropout: f64, base: BaseFormat) -> Llama {
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout,
        ..LoraConfig::default()
    };
    attach_lora(model, &cfg, base, 7).unwrap().0
}

#[test]
fn resuming_from_a_checkpoint_reproduces_the_uninterrupted_losses() {
    let _serial = serial();
    let data = rows(12, 16, 1);
    let cfg = LoopConfig {
        lr: 5e-3,
        max_steps: Some(4),
        micro_batch: 2,
        grad_accum: 2,
        checkpoint_every: 2,
        warmup_steps: Some(1),
        ..LoopConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let plan = CheckpointPlan {
        dir: Some(dir.path().to_path_buf()),
        resume: true,
    };
    // Dropout on, so the dropout masks must be reproduced too.
    let mut a = lora(base(), 0.1, BaseFormat::Dense);
    let full = train(
        &mut a,
        &data,
        &[],
        &cfg,
        &Objective::CrossEntropy,
        &plan,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(full.completed_steps, 4);
    assert!(
        dir.path().join("step-2").is_dir(),
        "the step-2 checkpoint is kept"
    );
    // A fresh process: new model, same adapters, resume from step 2.
    let mut b = lora(base(), 0.1, BaseFormat::Dense);
    let resumed = train(
        &mut b,
        &data,
        &[],
        &cfg,
        &Objective::CrossEntropy,
        &plan,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(resumed.resumed_from, 2);
    let la: Vec<f64> = full.steps.iter().map(|s| s.loss).collect();
    let lb: Vec<f64> = resumed.steps.iter().map(|s| s.loss).collect();
    assert_eq!(
        la, lb,
        "resumed losses must equal the uninterrupted run's bit for bit"
    );
    let fa = cogumi_train::checkpoint::trainable_snapshot(&mut a);
    let fb = cogumi_train::checkpoint::trainable_snapshot(&mut b);
    assert_eq!(fa, fb, "final adapters identical");
    // And a run without resume starts over.
    let mut c = lora(base(), 0.1, BaseFormat::Dense);
    let fresh = train(
        &mut c,
        &data,
        &[],
        &cfg,
        &Objective::CrossEntropy,
        &CheckpointPlan {
            dir: Some(dir.path().to_path_buf()),
            resume: false,
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(fresh.resumed_from, 0);
}

#[test]
fn qlora_trains_adapters_over_a_frozen_nf4_base() {
    let _serial = serial();
    let data = rows(8, 16, 2);
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.0,
        ..LoraConfig::default()
    };
    let (mut model, summary) = attach_lora(
        base(),
        &cfg,
        BaseFormat::Nf4 {
            blocksize: 64,
            double_quant: true,
        },
        3,
    )
    .unwrap();
    // 4-bit codes + one 8-bit absmax per 64 values + one f32 per 256 absmax values (+ offset).
    let bits = summary.base_bytes as f64 * 8.0 / summary.base_params as f64;
    assert!(bits > 4.12 && bits < 4.2, "NF4 base at {bits} bits/param");
    let embed_before = model.embed_tokens.val().into_data();
    let before = evaluate(&model, &data, 4).unwrap();
    let loop_cfg = LoopConfig {
        lr: 2e-2,
        max_steps: Some(12),
        micro_batch: 4,
        warmup_steps: Some(0),
        ..LoopConfig::default()
    };
    train(
        &mut model,
        &data,
        &[],
        &loop_cfg,
        &Objective::CrossEntropy,
        &CheckpointPlan::default(),
        &mut |_| {},
    )
    .unwrap();
    let after = evaluate(&model, &data, 4).unwrap();
    assert!(
        after < before - 0.1,
        "QLoRA training loss {before} -> {after}"
    );
    assert_eq!(
        model.embed_tokens.val().into_data(),
        embed_before,
        "frozen embedding unchanged"
    );
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let _serial = serial();
    let data = rows(8, 16, 3);
    let val = rows(4, 16, 4);
    let mut model = lora(base(), 0.0, BaseFormat::Dense);
    // A learning rate this large makes validation worse at once.
    let cfg = LoopConfig {
        lr: 5.0,
        max_steps: Some(10),
        micro_batch: 4,
        eval_every: 1,
        patience: Some(2),
        warmup_steps: Some(0),
        ..LoopConfig::default()
    };
    let report = train(
        &mut model,
        &data,
        &val,
        &cfg,
        &Objective::CrossEntropy,
        &CheckpointPlan::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(
        report.early_stopped,
        "{:?}",
        report.steps.iter().map(|s| s.val_loss).collect::<Vec<_>>()
    );
    assert!(report.completed_steps < 10);
    let (best, _) = report.best_val.unwrap();
    let now = evaluate(&model, &val, 4).unwrap();
    assert!(
        (now - best).abs() < 1e-6,
        "restored weights give {now}, best was {best}"
    );
}
