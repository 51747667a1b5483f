//! Five AdamW steps against PyTorch 2.9 (fixtures/gen/adamw_steps.py): full fine-tune with a
//! warm-up cosine schedule, 2-way gradient accumulation and global-norm clipping; the same recipe
//! on PEFT LoRA adapters; and the distillation losses and gradients (fixtures/gen/kd_loss.py).

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use cogumi_model::weights::transpose;
use cogumi_model::{Llama, LoadOptions, TokenBatch};
use cogumi_testkit::{assert_rel_close, fixture, read_tensor};
use cogumi_train::loss::{KlDirection, Targets, cross_entropy, kd_loss, top1_agreement};
use cogumi_train::optim::{AdamW, AdamWConfig, GradBuffer};
use cogumi_train::schedule::{Schedule, ScheduleKind};
use cogumi_train::{BaseFormat, LoraConfig, attach_lora, checkpoint};

fn adamw_base() -> Llama {
    cogumi_train::for_training(
        cogumi_model::load(&fixture("train/adamw/base"), &LoadOptions::default()).unwrap(),
    )
}

/// Runs the fixture recipe: 5 steps x 2 micro-batches (labels = ids), cosine warm-up 2/5,
/// clip 1.0, AdamW(1e-3, wd 0.01 on every parameter). Returns (loss, grad_norm, lr) per step.
fn run_recipe(
    model: &mut Llama,
    accum: usize,
    schedule: Option<Schedule>,
    clip: Option<f64>,
) -> Vec<(f64, f64, f64)> {
    let expected = fixture("train/adamw/expected.safetensors");
    let ids = read_tensor(&expected, "input_ids");
    let [steps, acc, b, t] = ids.shape[..] else {
        panic!("input_ids shape")
    };
    assert_eq!((steps, acc), (5, 2));
    let ids = ids.u32();
    let mut optim = AdamW::new(AdamWConfig {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.01,
        decay_norms: true,
        max_grad_norm: clip,
    });
    let mut out = Vec::new();
    for s in 0..steps {
        let mut buf = GradBuffer::default();
        let mut loss_sum = 0.0;
        for m in 0..accum {
            let off = ((s * acc) + m) * b * t;
            let row = ids[off..off + b * t].to_vec();
            let batch = TokenBatch::new(row.clone(), vec![true; b * t], b, t).unwrap();
            let targets = Targets::shifted(&row, &vec![true; b * t], b, t);
            let loss = cross_entropy(model.forward(&batch, None).unwrap(), &targets);
            loss_sum += loss.clone().inner().into_scalar::<f32>() as f64;
            let grads = loss.backward();
            buf.accumulate(model, &grads, 1.0 / accum as f64);
        }
        let lr = schedule.map_or(1e-3, |sc| sc.lr(s as u64));
        let r = optim.step(model, &mut buf, lr).unwrap();
        out.push((loss_sum / accum as f64, r.grad_norm, r.lr));
    }
    out
}

fn hf_params(model: &mut Llama) -> BTreeMap<String, Vec<f32>> {
    // Snapshot names are HF's; projection weights are stored [in, out]: transpose back.
    checkpoint::trainable_snapshot(model)
        .into_iter()
        .map(|(name, (shape, v))| {
            let v = if shape.len() == 2 && (name.contains("_proj") || name.starts_with("lm_head")) {
                transpose(&v, shape[0], shape[1])
            } else {
                v
            };
            (name, v)
        })
        .collect()
}

#[test]
fn five_adamw_steps_with_schedule_accumulation_and_clipping_match_pytorch() {
    let expected = fixture("train/adamw/expected.safetensors");
    let mut model = adamw_base();
    let sched = Schedule {
        kind: ScheduleKind::Cosine,
        peak_lr: 1e-3,
        warmup: 2,
        total: 5,
    };
    let got = run_recipe(&mut model, 2, Some(sched), Some(1.0));
    let loss = read_tensor(&expected, "loss").values;
    let norm = read_tensor(&expected, "grad_norm").values;
    let lr = read_tensor(&expected, "lr").values;
    for (s, (l, n, r)) in got.iter().enumerate() {
        assert!(
            (l - loss[s]).abs() <= 1e-4 * loss[s].abs(),
            "step {s}: loss {l} vs torch {}",
            loss[s]
        );
        assert!(
            (n - norm[s]).abs() <= 1e-4 * norm[s].abs(),
            "step {s}: grad norm {n} vs torch {}",
            norm[s]
        );
        assert!((r - lr[s]).abs() <= 1e-9, "step {s}: lr {r} vs {}", lr[s]);
    }
    for (name, v) in hf_params(&mut model) {
        let want = read_tensor(&expected, &format!("final.{name}")).f32();
        assert_rel_close(&v, &want, 1e-4, &format!("final {name}"));
    }
}

#[test]
fn plain_adamw_steps_match_pytorch() {
    let expected = fixture("train/adamw/expected.safetensors");
    let mut model = adamw_base();
    let got = run_recipe(&mut model, 1, None, None);
    let loss = read_tensor(&expected, "plain_loss").values;
    for (s, (l, _, _)) in got.iter().enumerate() {
        assert!(
            (l - loss[s]).abs() <= 1e-4 * loss[s].abs(),
            "step {s}: loss {l} vs torch {}",
            loss[s]
        );
    }
    let params = hf_params(&mut model);
    for name in [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.norm.weight",
    ] {
        let want = read_tensor(&expected, &format!("plain_final.{name}")).f32();
        assert_rel_close(&params[name], &want, 1e-4, name);
    }
}

#[test]
fn five_adamw_steps_on_lora_adapters_match_pytorch_peft() {
    let expected = fixture("train/adamw_lora/expected.safetensors");
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.0,
        ..LoraConfig::default()
    };
    let (mut model, _) = attach_lora(adamw_base(), &cfg, BaseFormat::Dense, 0).unwrap();
    // Start from PEFT's initial A/B (ours are [in, r] / [r, out]: transpose PEFT's).
    let mut init = BTreeMap::new();
    for (name, (shape, _)) in checkpoint::trainable_snapshot(&mut model) {
        let key = format!("init.base_model.model.{name}");
        let t = read_tensor(&expected, &key);
        let (r, c) = (t.shape[0], t.shape[1]);
        let tr = transpose(&t.f32(), r, c);
        assert_eq!(shape, vec![c, r], "{name}");
        init.insert(name, (shape, tr));
    }
    checkpoint::restore_snapshot(&mut model, &init, "PEFT init").unwrap();
    let sched = Schedule {
        kind: ScheduleKind::Cosine,
        peak_lr: 1e-3,
        warmup: 2,
        total: 5,
    };
    let got = run_recipe(&mut model, 2, Some(sched), Some(1.0));
    let loss = read_tensor(&expected, "loss").values;
    for (s, (l, _, _)) in got.iter().enumerate() {
        assert!(
            (l - loss[s]).abs() <= 1e-4 * loss[s].abs(),
            "step {s}: loss {l} vs peft {}",
            loss[s]
        );
    }
    for (name, v) in hf_params(&mut model) {
        let want = read_tensor(&expected, &format!("final.base_model.model.{name}")).f32();
        assert_rel_close(&v, &want, 1e-4, &format!("final {name}"));
    }
}

#[test]
fn distillation_losses_gradients_and_agreement_match_pytorch() {
    let expected = fixture("train/kd/expected.safetensors");
    let dev = Device::flex().autodiff();
    let t = read_tensor(&expected, "teacher_logits");
    let s = read_tensor(&expected, "student_logits");
    let mask: Vec<f32> = read_tensor(&expected, "mask")
        .values
        .iter()
        .map(|&m| m as f32)
        .collect();
    let [b, n, v] = t.shape[..] else { panic!() };
    let teacher = Tensor::<3>::from_data(TensorData::new(t.f32(), [b, n, v]), &dev.clone().inner());
    for (temp, tag) in [(1.0, "T1"), (2.0, "T2")] {
        for (dir, name) in [
            (KlDirection::Forward, "forward_kl"),
            (KlDirection::Reverse, "reverse_kl"),
        ] {
            let student =
                Tensor::<3>::from_data(TensorData::new(s.f32(), [b, n, v]), &dev).require_grad();
            let loss = kd_loss(student.clone(), teacher.clone(), &mask, temp, dir);
            let got: f32 = loss.clone().inner().into_scalar();
            let want = read_tensor(&expected, &format!("{tag}.{name}")).values[0] as f32;
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{tag} {name}: {got} vs {want}"
            );
            let g = student
                .grad(&loss.backward())
                .unwrap()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            let want_g = read_tensor(&expected, &format!("{tag}.{name}_grad")).f32();
            assert_rel_close(&g, &want_g, 1e-4, &format!("{tag} {name} gradient"));
        }
    }
    let student = Tensor::<3>::from_data(TensorData::new(s.f32(), [b, n, v]), &dev.inner());
    let (agree, total) = top1_agreement(student, teacher, &mask);
    let want = read_tensor(&expected, "top1_agreement").values[0];
    assert!(
        (agree as f64 / total as f64 - want).abs() < 1e-6,
        "{agree}/{total} vs {want}"
    );
}
