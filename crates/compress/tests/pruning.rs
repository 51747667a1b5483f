//! The pruning algorithms' defining properties on a layer whose calibration inputs have a few
//! high-magnitude feature channels (the "emergent outliers" Wanda and SparseGPT are built for):
//! at 50 % sparsity, unstructured and 2:4, Wanda and SparseGPT reconstruct the layer's outputs
//! better than magnitude pruning; masks hit their targets exactly; SparseGPT at 0 % changes
//! nothing; structured channel slicing is exact when the dropped channels are inactive.

use cogumi_compress::prune::{channel_scores, keep_channels, take_cols, take_rows};
use cogumi_compress::{
    FeatureNorms, Hessian, Pattern, SparseGptConfig, apply_mask, magnitude_mask, sparsegpt,
    sparsity, wanda_mask,
};

fn rng(seed: u64) -> impl FnMut() -> f32 {
    let mut s = seed;
    move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // Sum of four uniforms: roughly Gaussian, unit variance.
        let u = |k: u64| ((z >> (16 * k)) & 0xffff) as f32 / 65536.0 - 0.5;
        (u(0) + u(1) + u(2) + u(3)) * 1.73
    }
}

const ROWS: usize = 64;
const COLS: usize = 256;
const TOKENS: usize = 1024;

/// Weights ~N(0, 1); inputs ~N(0, 1) with 8 channels 20x larger.
fn layer() -> (Vec<f32>, Vec<f32>) {
    let mut r = rng(3);
    let w: Vec<f32> = (0..ROWS * COLS).map(|_| r()).collect();
    let x: Vec<f32> = (0..TOKENS * COLS)
        .map(|i| r() * if (i % COLS) % 32 == 5 { 20.0 } else { 1.0 })
        .collect();
    (w, x)
}

/// ‖X Wᵀ − X W'ᵀ‖² over the calibration tokens.
fn output_error(x: &[f32], w: &[f32], w2: &[f32]) -> f64 {
    let mut e = 0.0;
    for t in x.chunks_exact(COLS) {
        for r in 0..ROWS {
            let d: f64 = (0..COLS)
                .map(|j| f64::from(t[j]) * f64::from(w[r * COLS + j] - w2[r * COLS + j]))
                .sum();
            e += d * d;
        }
    }
    e
}

fn stats(x: &[f32]) -> (FeatureNorms, Hessian) {
    let mut n = FeatureNorms::new(COLS);
    let mut h = Hessian::new(COLS);
    for chunk in x.chunks(COLS * 100) {
        n.add(chunk);
        h.add(chunk);
    }
    (n, h)
}

#[test]
fn wanda_and_sparsegpt_beat_magnitude_at_half_sparsity() {
    let (w, x) = layer();
    let (norms, hess) = stats(&x);
    for pattern in [Pattern::Unstructured(0.5), Pattern::NM { n: 2, m: 4 }] {
        let mut mag = w.clone();
        apply_mask(&mut mag, &magnitude_mask(&w, ROWS, COLS, pattern).unwrap());
        let mut wanda = w.clone();
        apply_mask(
            &mut wanda,
            &wanda_mask(&w, ROWS, COLS, &norms.norms(), pattern).unwrap(),
        );
        let mut sgpt = w.clone();
        let cfg = SparseGptConfig {
            pattern,
            blocksize: 128,
            percdamp: 0.01,
        };
        sparsegpt(&mut sgpt, ROWS, COLS, &hess, &cfg).unwrap();
        for (name, p) in [("magnitude", &mag), ("wanda", &wanda), ("sparsegpt", &sgpt)] {
            assert!(
                (sparsity(p) - 0.5).abs() < 1e-9,
                "{pattern:?} {name}: sparsity {}",
                sparsity(p)
            );
        }
        let (em, ew, es) = (
            output_error(&x, &w, &mag),
            output_error(&x, &w, &wanda),
            output_error(&x, &w, &sgpt),
        );
        assert!(
            ew < 0.8 * em,
            "{pattern:?}: wanda {ew:.3e} vs magnitude {em:.3e}"
        );
        assert!(
            es < ew,
            "{pattern:?}: sparsegpt {es:.3e} vs wanda {ew:.3e} (it also updates the kept weights)"
        );
    }
}

#[test]
fn masks_hit_their_targets() {
    let (w, x) = layer();
    let (norms, _) = stats(&x);
    let m = wanda_mask(&w, ROWS, COLS, &norms.norms(), Pattern::NM { n: 2, m: 4 }).unwrap();
    for g in m.chunks_exact(4) {
        assert_eq!(g.iter().filter(|&&b| b).count(), 2, "exactly 2 of every 4");
    }
    let m = wanda_mask(&w, ROWS, COLS, &norms.norms(), Pattern::Unstructured(0.3)).unwrap();
    for row in m.chunks_exact(COLS) {
        assert_eq!(
            row.iter().filter(|&&b| b).count(),
            (COLS as f64 * 0.3) as usize,
            "per row"
        );
    }
    // Wanda never keeps a weight while pruning a larger one in the same row and input column
    // scale: within a row, the pruned scores are all below the kept ones.
    let row = 7;
    let score = |j: usize| w[row * COLS + j].abs() as f64 * norms.norms()[j];
    let (kept, pruned): (Vec<usize>, Vec<usize>) = (0..COLS).partition(|&j| !m[row * COLS + j]);
    let lo = kept.iter().map(|&j| score(j)).fold(f64::INFINITY, f64::min);
    let hi = pruned.iter().map(|&j| score(j)).fold(0.0, f64::max);
    assert!(hi <= lo);
    assert!(
        wanda_mask(
            &w,
            ROWS,
            COLS,
            &norms.norms()[..10],
            Pattern::Unstructured(0.5)
        )
        .is_err()
    );
}

#[test]
fn sparsegpt_at_zero_sparsity_is_the_identity() {
    let (w, x) = layer();
    let (_, hess) = stats(&x);
    let mut same = w.clone();
    let cfg = SparseGptConfig {
        pattern: Pattern::Unstructured(0.0),
        blocksize: 32,
        percdamp: 0.01,
    };
    sparsegpt(&mut same, ROWS, COLS, &hess, &cfg).unwrap();
    assert_eq!(same, w);
}

#[test]
fn dropping_inactive_channels_is_exact() {
    // An MLP down projection [hidden, inter] whose channels 3 and 9 never fire: removing them
    // (and the matching gate/up rows) leaves every output unchanged.
    let (hidden, inter) = (8, 16);
    let mut r = rng(5);
    let down: Vec<f32> = (0..hidden * inter).map(|_| r()).collect();
    let gate: Vec<f32> = (0..inter * hidden).map(|_| r()).collect();
    let mut acts = FeatureNorms::new(inter);
    let a: Vec<f32> = (0..50 * inter)
        .map(|i| {
            if [3, 9].contains(&(i % inter)) {
                0.0
            } else {
                r()
            }
        })
        .collect();
    acts.add(&a);
    let scores = channel_scores(&down, hidden, inter, &acts.norms()).unwrap();
    let keep = keep_channels(&scores, inter - 2);
    assert!(!keep.contains(&3) && !keep.contains(&9));
    let down2 = take_cols(&down, inter, &keep);
    assert_eq!(take_rows(&gate, hidden, &keep).len(), keep.len() * hidden);
    for t in a.chunks_exact(inter) {
        let t2: Vec<f32> = keep.iter().map(|&c| t[c]).collect();
        for h in 0..hidden {
            let full: f32 = (0..inter).map(|c| t[c] * down[h * inter + c]).sum();
            let cut: f32 = (0..keep.len())
                .map(|c| t2[c] * down2[h * keep.len() + c])
                .sum();
            assert!((full - cut).abs() < 1e-5);
        }
    }
}
