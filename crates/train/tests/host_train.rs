//! The flex fast path for LoRA training (`cogumi_model::host_train`) against PEFT 0.21.2's
//! loss and gradients (fixtures/gen/lora_peft.py) and against burn autodiff on packed batches.

use std::path::Path;

use burn::tensor::Tensor;
use cogumi_model::linear::Linear;
use cogumi_model::params::PROJECTIONS;
use cogumi_model::{LoadOptions, TokenBatch};
use cogumi_testkit::{assert_rel_close, fixture, read_tensor};
use cogumi_train::BaseFormat;
use cogumi_train::loss::{Targets, cross_entropy};
use cogumi_train::peft::load_adapter;

fn adapted(case: &str) -> cogumi_model::Llama {
    let base = cogumi_model::load(&fixture("train/lora/base"), &LoadOptions::default()).unwrap();
    let model = cogumi_train::for_training(base);
    load_adapter(
        model,
        &fixture(&format!("train/{case}/adapter")),
        BaseFormat::Dense,
    )
    .unwrap()
    .0
}

fn peft_batch(expected: &Path) -> (TokenBatch, Targets) {
    let ids = read_tensor(expected, "input_ids");
    let mask = read_tensor(expected, "attention_mask");
    let labels = read_tensor(expected, "labels");
    let (b, t) = (ids.shape[0], ids.shape[1]);
    let valid: Vec<bool> = mask.values.iter().map(|&m| m != 0.0).collect();
    let batch = TokenBatch::new(ids.u32(), valid, b, t).unwrap();
    let lab: Vec<bool> = labels.values.iter().map(|&l| l >= 0.0).collect();
    let lab_ids: Vec<u32> = labels.values.iter().map(|&l| l.max(0.0) as u32).collect();
    (batch, Targets::shifted(&lab_ids, &lab, b, t))
}

#[test]
fn loss_and_lora_gradients_match_peft() {
    for case in ["lora", "lora_rslora"] {
        let expected = fixture(&format!("train/{case}/expected.safetensors"));
        let model = adapted(case);
        let (batch, targets) = peft_batch(&expected);
        let got = model
            .lora_loss_grads(&batch, &targets.ids, &targets.weight)
            .unwrap()
            .expect("a dense-base LoRA model on flex takes the fast path");
        let want_loss = read_tensor(&expected, "loss").values[0];
        assert!(
            (got.loss - want_loss).abs() <= 1e-4 * want_loss.abs(),
            "{case}: loss {} vs PEFT {want_loss}",
            got.loss
        );
        let mut checked = 0;
        for i in 0..model.layers.len() {
            for (group, proj) in PROJECTIONS {
                let Some(Linear::Lora(l)) = model.projection(i, proj) else {
                    continue;
                };
                let key = format!("base_model.model.model.layers.{i}.{group}.{proj}");
                for (tag, p) in [("lora_A", &l.lora_a), ("lora_B", &l.lora_b)] {
                    let name = format!("model.layers.{i}.{group}.{proj}.{tag}.weight");
                    let (_, g) = got
                        .grads
                        .iter()
                        .find(|(n, _)| *n == name)
                        .unwrap_or_else(|| panic!("no gradient for {name}"));
                    let [rows, cols] = p.val().dims();
                    // Ours is burn layout; PEFT stores the transpose.
                    let mut gt = vec![0f32; g.len()];
                    for r in 0..rows {
                        for c in 0..cols {
                            gt[c * rows + r] = g[r * cols + c];
                        }
                    }
                    let want = read_tensor(&expected, &format!("grad.{key}.{tag}.weight")).f32();
                    assert_rel_close(&gt, &want, 1e-4, &format!("{case}: grad {key}.{tag}"));
                    checked += 1;
                }
            }
        }
        assert!(checked >= 8, "only {checked} gradients compared");
    }
}

#[test]
fn packed_batch_gradients_match_burn_autodiff() {
    let model = adapted("lora");
    let vocab = model.config().vocab_size as u32;
    // Two rows of 24: three documents and trailing padding in the first, two in the second.
    let seg: Vec<u32> = (0..48)
        .map(|i| match i {
            0..=6 => 1,
            7..=15 => 2,
            16..=20 => 3,
            21..=23 => 0,
            24..=35 => 1,
            _ => 2,
        })
        .collect();
    let ids: Vec<u32> = (0..48u32).map(|i| (i * 37 + 11) % vocab).collect();
    let batch = TokenBatch::packed(ids.clone(), seg.clone(), 2, 24).unwrap();
    // Loss on every next token of the same document (as packed training counts it).
    let lossy: Vec<bool> = (0..48)
        .map(|i| seg[i] != 0 && i % 24 != 0 && seg[i] == seg[i - 1] && i % 3 != 0)
        .collect();
    let targets = Targets::shifted(&ids, &lossy, 2, 24);
    let got = model
        .lora_loss_grads(&batch, &targets.ids, &targets.weight)
        .unwrap()
        .unwrap();
    let loss = cross_entropy(model.forward(&batch, None).unwrap(), &targets);
    let l: f32 = loss.clone().inner().into_scalar();
    assert!(
        (got.loss - l as f64).abs() <= 1e-4 * l.abs() as f64,
        "loss {} vs burn {l}",
        got.loss
    );
    let grads = loss.backward();
    let mut model = model;
    let mut checked = 0;
    model.visit_params_mut(&mut |name, _, p| {
        if let Some(g) = p.grad_flat(&grads) {
            let g: Tensor<1> = g;
            let want = g.into_data().try_into_vec::<f32>().unwrap();
            let (_, ours) = got
                .grads
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no gradient for {name}"));
            assert_rel_close(ours, &want, 1e-4, name);
            checked += 1;
        }
    });
    assert_eq!(
        checked,
        got.grads.len(),
        "every burn gradient has a fast-path twin and back"
    );
}
