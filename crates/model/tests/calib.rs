//! The calibration runner (`src/calib.rs`) against the model's own forward on the tiny
//! transformers checkpoints: embedding then every layer through `Calibrator::layer`, then the
//! final norm, reproduces `forward_hidden`; each site shows the input its projections get
//! (checked by re-applying a projection to the observed input); weights round-trip in HF
//! layout, and a replaced weight changes the forward exactly as the same change does when it
//! is loaded from a checkpoint.

use std::path::PathBuf;

use cogumi_model::{Llama, LoadOptions, Proj, Site, TokenBatch, load};
use cogumi_testkit::{assert_close, fixture};

fn model(name: &str) -> Llama {
    let dir: PathBuf = fixture(&format!("tiny_llama/{name}"));
    load(&dir, &LoadOptions::default()).unwrap()
}

/// Final-norm hidden states of `batch` rows of `seq` tokens through the calibrator.
fn layered(m: &Llama, ids: &[u32], batch: usize, seq: usize) -> Vec<f32> {
    let c = m.config();
    let cal = m.calibrator().unwrap();
    let mut x = cal.embed(ids);
    for l in 0..cal.n_layers() {
        cal.layer(l, &mut x, batch, seq, &mut |_, _| {});
    }
    let w = m.norm.weight.val().into_data().try_to_vec::<f32>().unwrap();
    let mut out = vec![0f32; x.len()];
    cogumi_kernels::rms_norm(&x, &w, c.rms_norm_eps as f32, &mut out);
    out
}

fn hidden(m: &Llama, ids: &[u32], batch: usize, seq: usize) -> Vec<f32> {
    let b = TokenBatch::new(ids.to_vec(), vec![true; ids.len()], batch, seq).unwrap();
    m.forward_hidden(&b, None)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn layer_by_layer_equals_the_forward() {
    for name in ["gqa", "mqa", "llama3_rope", "head_dim"] {
        let m = model(name);
        let ids: Vec<u32> = (0..2 * 13).map(|i| (i * 7 + 3) % 250).collect();
        assert_close(
            &layered(&m, &ids, 2, 13),
            &hidden(&m, &ids, 2, 13),
            1e-5,
            &format!("{name}: calibrator vs forward_hidden"),
        );
    }
}

#[test]
fn observed_inputs_are_what_each_projection_multiplies() {
    let m = model("gqa");
    let c = m.config().clone();
    let ids: Vec<u32> = (0..9).map(|i| i * 11 + 1).collect();
    let cal = m.calibrator().unwrap();
    let mut x = cal.embed(&ids);
    let mut seen = Vec::new();
    cal.layer(0, &mut x, 1, 9, &mut |site, input| {
        seen.push((site, input.to_vec()))
    });
    let sites: Vec<Site> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(sites, [Site::Attn, Site::O, Site::Mlp, Site::Down]);
    let widths = [
        c.hidden_size,
        c.num_attention_heads * c.head_dim,
        c.hidden_size,
        c.intermediate_size,
    ];
    for ((site, input), w) in seen.iter().zip(widths) {
        assert_eq!(input.len(), 9 * w, "{site:?} is [tokens, {w}]");
    }
    // Site::Down is silu(gate·h)·(up·h) with h = Site::Mlp: recompute it from the weights.
    let (h, down_in) = (&seen[2].1, &seen[3].1);
    let gate = m.proj_weight(0, Proj::Gate).unwrap();
    let up = m.proj_weight(0, Proj::Up).unwrap();
    let (d, f) = (c.hidden_size, c.intermediate_size);
    let mut want = vec![0f32; 9 * f];
    for t in 0..9 {
        for j in 0..f {
            let dot = |w: &[f32]| {
                (0..d)
                    .map(|i| h[t * d + i] as f64 * w[j * d + i] as f64)
                    .sum::<f64>()
            };
            let (g, u) = (dot(&gate), dot(&up));
            want[t * f + j] = (g / (1.0 + (-g).exp()) * u) as f32;
        }
    }
    assert_close(down_in, &want, 1e-4, "Site::Down from Site::Mlp");
}

#[test]
fn replaced_weights_round_trip_and_change_the_forward() {
    let mut m = model("gqa");
    let ids: Vec<u32> = (0..12).map(|i| i * 5 + 2).collect();
    let before = hidden(&m, &ids, 1, 12);
    let w = m.proj_weight(1, Proj::Down).unwrap();
    m.set_proj_weight(1, Proj::Down, &w).unwrap();
    assert_eq!(
        m.proj_weight(1, Proj::Down).unwrap(),
        w,
        "HF layout round trip"
    );
    assert_close(
        &hidden(&m, &ids, 1, 12),
        &before,
        0.0,
        "same weight, same forward",
    );
    // Zeroing the last layer's down_proj removes its MLP: the calibrator built after the change
    // agrees with the forward, and both differ from before.
    m.set_proj_weight(1, Proj::Down, &vec![0.0; w.len()])
        .unwrap();
    let after = hidden(&m, &ids, 1, 12);
    assert_close(
        &layered(&m, &ids, 1, 12),
        &after,
        1e-5,
        "calibrator after the change",
    );
    assert!(after.iter().zip(&before).any(|(a, b)| (a - b).abs() > 1e-3));
    assert!(
        m.set_proj_weight(0, Proj::Q, &[0.0; 3]).is_err(),
        "wrong size is an error"
    );
}
