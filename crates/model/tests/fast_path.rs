//! The flex fast path (`src/host.rs`) against burn's op-by-op path on the tiny transformers
//! checkpoints: logits of plain, left-padded and packed batches, incremental decoding with
//! rollback, a cache handed from one path to the other mid-sequence, and a LoRA layer.
//! (`conformance.rs` already holds the fast path to transformers' own logits.)

use std::path::PathBuf;

use burn::tensor::{Distribution, Tensor};
use cogumi_model::linear::Linear;
use cogumi_model::lora::LoraLinear;
use cogumi_model::{Llama, LoadOptions, TokenBatch, load};
use cogumi_testkit::{assert_close, fixture};

const CONFIGS: &[&str] = &["gqa", "mqa", "llama3_rope", "head_dim"];
const ATOL: f64 = 1e-4;

fn model(name: &str) -> Llama {
    let dir: PathBuf = fixture(&format!("tiny_llama/{name}"));
    load(&dir, &LoadOptions::default()).unwrap()
}

fn both(name: &str) -> (Llama, Llama) {
    let fast = model(name);
    let slow = model(name).with_fast_path(false);
    assert!(
        fast.uses_fast_path(),
        "{name}: f32 on flex takes the fast path"
    );
    assert!(!slow.uses_fast_path());
    (fast, slow)
}

fn rows() -> Vec<Vec<u32>> {
    vec![(3..17).collect(), (40..49).collect(), (7..12).collect()]
}

#[test]
fn full_logits_of_padded_and_packed_batches_agree() {
    for name in CONFIGS {
        let (fast, slow) = both(name);
        let padded = TokenBatch::left_padded(&rows(), 0).unwrap();
        let (a, b) = (
            fast.forward_host(&padded, None).unwrap(),
            slow.forward_host(&padded, None).unwrap(),
        );
        for (pos, valid) in padded.valid().iter().enumerate() {
            if *valid {
                let (r, t) = (pos / padded.seq(), pos % padded.seq());
                assert_close(
                    a.row(r, t),
                    b.row(r, t),
                    ATOL,
                    &format!("{name}: padded {r},{t}"),
                );
            }
        }
        // Two rows of 10, three documents in the first, padding (segment 0) at the end.
        let seg = [1, 1, 1, 2, 2, 2, 2, 3, 3, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2];
        let ids: Vec<u32> = (0..20).map(|i| 5 + i * 3).collect();
        let packed = TokenBatch::packed(ids, seg.to_vec(), 2, 10).unwrap();
        let (a, b) = (
            fast.forward_host(&packed, None).unwrap(),
            slow.forward_host(&packed, None).unwrap(),
        );
        for (pos, s) in seg.iter().enumerate() {
            if *s != 0 {
                let (r, t) = (pos / 10, pos % 10);
                assert_close(
                    a.row(r, t),
                    b.row(r, t),
                    ATOL,
                    &format!("{name}: packed {r},{t}"),
                );
            }
        }
        // Tail logits and hidden states.
        let single = TokenBatch::single(&rows()[0]).unwrap();
        let (a, b) = (
            fast.forward_tail(&single, None, 3).unwrap(),
            slow.forward_tail(&single, None, 3).unwrap(),
        );
        assert_eq!((a.seq, b.seq), (3, 3));
        assert_close(&a.data, &b.data, ATOL, &format!("{name}: tail"));
        let ha = fast
            .forward_hidden(&single, None)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let hb = slow
            .forward_hidden(&single, None)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_close(&ha, &hb, ATOL, &format!("{name}: hidden"));
    }
}

#[test]
fn decoding_with_rollback_and_a_cache_passed_between_paths_agrees() {
    for name in CONFIGS {
        let (fast, slow) = both(name);
        let padded = TokenBatch::left_padded(&rows(), 0).unwrap();
        let full = slow.forward_host(&padded, None).unwrap();
        let (ids, valid, seq) = (padded.ids(), padded.valid(), padded.seq());
        let cols = |c: std::ops::Range<usize>| {
            let (mut i, mut v) = (Vec::new(), Vec::new());
            for r in 0..3 {
                i.extend_from_slice(&ids[r * seq + c.start..r * seq + c.end]);
                v.extend_from_slice(&valid[r * seq + c.start..r * seq + c.end]);
            }
            TokenBatch::new(i, v, 3, c.len()).unwrap()
        };
        let check = |got: &cogumi_model::HostLogits, col: usize, what: &str| {
            for r in 0..3 {
                if valid[r * seq + col] {
                    assert_close(
                        got.row(r, got.seq - 1),
                        full.row(r, col),
                        ATOL,
                        &format!("{name}: {what} row {r} col {col}"),
                    );
                }
            }
        };
        // Fast prefill, then alternate paths token by token over the same cache.
        let mut cache = fast.new_cache();
        check(
            &fast.forward_last(&cols(0..8), Some(&mut cache)).unwrap(),
            7,
            "prefill",
        );
        for col in 8..seq {
            let m = if col % 2 == 0 { &slow } else { &fast };
            check(
                &m.forward_last(&cols(col..col + 1), Some(&mut cache))
                    .unwrap(),
                col,
                "step",
            );
        }
        // Roll back four positions and redo them in one chunk on the fast path.
        cache.truncate(seq - 4);
        let redo = fast
            .forward_tail(&cols(seq - 4..seq), Some(&mut cache), 4)
            .unwrap();
        for (j, col) in (seq - 4..seq).enumerate() {
            for r in 0..3 {
                if valid[r * seq + col] {
                    assert_close(
                        redo.row(r, j),
                        full.row(r, col),
                        ATOL,
                        &format!("{name}: redo {r},{col}"),
                    );
                }
            }
        }
    }
}

#[test]
fn a_lora_layer_runs_on_the_fast_path_with_the_same_logits() {
    let wrap = |mut m: Llama| {
        let device = m.device();
        let layer = &mut m.layers[0].self_attn.q_proj;
        let (k, n) = layer.dims();
        let a = Tensor::<2>::random([k, 4], Distribution::Normal(0.0, 0.5), &device);
        let b = Tensor::<2>::random([4, n], Distribution::Normal(0.0, 0.5), &device);
        let base = layer.clone();
        *layer = Linear::Lora(LoraLinear::new(base, a, b, 2.0, 0.0).unwrap());
        m
    };
    let fast = wrap(model("gqa"));
    assert!(fast.uses_fast_path());
    let slow = fast.clone().with_fast_path(false);
    let batch = TokenBatch::single(&rows()[0]).unwrap();
    let (a, b) = (
        fast.forward_host(&batch, None).unwrap(),
        slow.forward_host(&batch, None).unwrap(),
    );
    assert_close(&a.data, &b.data, ATOL, "lora logits");
    // And the adapter changed the logits (the test would pass vacuously otherwise).
    let plain = model("gqa").forward_host(&batch, None).unwrap();
    assert!(
        a.data
            .iter()
            .zip(&plain.data)
            .any(|(x, y)| (x - y).abs() > 1e-3)
    );
}

#[test]
fn continuations_packed_after_a_cached_prefix_equal_separate_runs() {
    let prefix: Vec<u32> = (3..13).collect();
    let conts: Vec<Vec<u32>> = vec![(20..25).collect(), (30..33).collect(), (40..47).collect()];
    for name in CONFIGS {
        let (fast, slow) = both(name);
        for m in [&fast, &slow] {
            let mut base = m.new_cache();
            m.forward_last(&TokenBatch::single(&prefix).unwrap(), Some(&mut base))
                .unwrap();
            // Expected: each continuation on its own copy of the prefix cache.
            let mut want = Vec::new();
            for c in &conts {
                let mut cache = base.clone();
                want.push(
                    m.forward_host(&TokenBatch::single(c).unwrap(), Some(&mut cache))
                        .unwrap(),
                );
            }
            let ids: Vec<u32> = conts.concat();
            let seg: Vec<u32> = conts
                .iter()
                .enumerate()
                .flat_map(|(i, c)| vec![i as u32 + 1; c.len()])
                .collect();
            let at: Vec<usize> = (0..ids.len()).collect();
            let packed = TokenBatch::packed(ids.clone(), seg, 1, ids.len()).unwrap();
            let mut cache = base.clone();
            let got = m.forward_rows(&packed, Some(&mut cache), &at).unwrap();
            let mut k = 0;
            for (ci, c) in conts.iter().enumerate() {
                for t in 0..c.len() {
                    assert_close(
                        got.row(0, k),
                        want[ci].row(0, t),
                        ATOL,
                        &format!("{name}: continuation {ci} position {t}"),
                    );
                    k += 1;
                }
            }
        }
    }
}
