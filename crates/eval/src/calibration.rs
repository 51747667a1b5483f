//! Confidence calibration: expected calibration error and reliability bins, temperature
//! scaling of logits, Platt scaling of a score, and a reliability-diagram SVG.
//!
//! ECE follows Guo et al. 2017 ("On Calibration of Modern Neural Networks", and the
//! `_ECELoss` of their reference code): `bins` equal-width bins over (0, 1], a confidence `c`
//! falls in bin `(lo, hi]`, ECE = Σ_bins (n_bin / n) · |accuracy − mean confidence|.
//! Temperature scaling (same paper) fits one `T > 0` minimising the NLL of `softmax(z / T)`;
//! the NLL is convex in `β = 1/T`, so Newton's method on β with a backtracking step converges in
//! a few iterations. Platt scaling (Platt 1999) fits `p = σ(a·s + b)` by Newton's method on the
//! log-loss with Platt's smoothed targets `(N₊+1)/(N₊+2)` and `1/(N₋+2)`.

use serde::Serialize;

/// One reliability bin.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bin {
    /// Lower edge (exclusive).
    pub lower: f64,
    /// Upper edge (inclusive).
    pub upper: f64,
    /// Samples in the bin.
    pub count: usize,
    /// Fraction correct (0 when empty).
    pub accuracy: f64,
    /// Mean confidence (0 when empty).
    pub confidence: f64,
}

/// Reliability bins of `(confidence, correct)` pairs.
pub fn reliability(conf: &[f64], correct: &[bool], bins: usize) -> Vec<Bin> {
    assert_eq!(conf.len(), correct.len(), "one label per confidence");
    (0..bins)
        .map(|i| {
            let (lower, upper) = (i as f64 / bins as f64, (i + 1) as f64 / bins as f64);
            let (mut n, mut acc, mut c) = (0usize, 0.0, 0.0);
            for (&p, &ok) in conf.iter().zip(correct) {
                if p > lower && p <= upper {
                    n += 1;
                    acc += f64::from(u8::from(ok));
                    c += p;
                }
            }
            let div = |v: f64| if n > 0 { v / n as f64 } else { 0.0 };
            Bin {
                lower,
                upper,
                count: n,
                accuracy: div(acc),
                confidence: div(c),
            }
        })
        .collect()
}

/// Expected calibration error over `bins` equal-width bins (15 in Guo et al.).
pub fn ece(conf: &[f64], correct: &[bool], bins: usize) -> f64 {
    let n = conf.len().max(1) as f64;
    reliability(conf, correct, bins)
        .iter()
        .map(|b| b.count as f64 / n * (b.accuracy - b.confidence).abs())
        .sum()
}

/// Row-major logits of `n` examples over `vocab` classes, with the correct class of each.
#[derive(Debug, Clone, Copy)]
pub struct Logits<'a> {
    /// `[n, vocab]`.
    pub values: &'a [f32],
    /// Classes per example.
    pub vocab: usize,
    /// Correct class per example.
    pub targets: &'a [u32],
}

impl Logits<'_> {
    fn rows(&self) -> impl Iterator<Item = (&[f32], usize)> {
        self.values
            .chunks_exact(self.vocab)
            .zip(self.targets.iter().map(|&t| t as usize))
    }

    /// Mean NLL of the targets under `softmax(β·z)`, and its first two derivatives in β.
    fn nll(&self, beta: f64) -> (f64, f64, f64) {
        let (mut f, mut g, mut h) = (0.0, 0.0, 0.0);
        for (z, y) in self.rows() {
            let m = z.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)) as f64;
            let (mut s, mut ez, mut ez2) = (0.0, 0.0, 0.0);
            for &v in z {
                let v = v as f64;
                let e = (beta * (v - m)).exp();
                s += e;
                ez += e * v;
                ez2 += e * v * v;
            }
            let (mean, var) = (ez / s, (ez2 / s - (ez / s).powi(2)).max(0.0));
            f += beta * m + s.ln() - beta * z[y] as f64;
            g += mean - z[y] as f64;
            h += var;
        }
        let n = self.targets.len().max(1) as f64;
        (f / n, g / n, h / n)
    }

    /// `(confidence, correct)` per example under temperature `t`: the top class's probability
    /// and whether it is the target.
    pub fn confidences(&self, t: f64) -> (Vec<f64>, Vec<bool>) {
        self.rows()
            .map(|(z, y)| {
                let (mut best, mut m) = (0usize, f32::NEG_INFINITY);
                for (i, &v) in z.iter().enumerate() {
                    if v > m {
                        (best, m) = (i, v);
                    }
                }
                let s: f64 = z.iter().map(|&v| ((v - m) as f64 / t).exp()).sum();
                (1.0 / s, best == y)
            })
            .unzip()
    }

    /// Mean NLL of the targets at temperature `t`.
    pub fn mean_nll(&self, t: f64) -> f64 {
        self.nll(1.0 / t).0
    }
}

/// Fits the temperature minimising the targets' NLL (Guo et al. 2017); returns `T`.
pub fn fit_temperature(logits: &Logits<'_>) -> f64 {
    let mut beta = 1.0f64;
    let (mut f, mut g, mut h) = logits.nll(beta);
    for _ in 0..50 {
        if g.abs() < 1e-9 {
            break;
        }
        let step = if h > 1e-12 { g / h } else { g.signum() * 0.5 };
        let mut t = 1.0;
        let mut moved = false;
        while t > 1e-6 {
            let nb = beta - t * step;
            if nb > 1e-4 {
                let (nf, ng, nh) = logits.nll(nb);
                if nf <= f {
                    (beta, f, g, h) = (nb, nf, ng, nh);
                    moved = true;
                    break;
                }
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    1.0 / beta
}

/// A fitted Platt scaling `p = σ(a·s + b)`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Platt {
    /// Slope.
    pub a: f64,
    /// Intercept.
    pub b: f64,
}

impl Platt {
    /// The calibrated probability of score `s`.
    pub fn apply(&self, s: f64) -> f64 {
        1.0 / (1.0 + (-(self.a * s + self.b)).exp())
    }
}

/// Fits Platt scaling of `scores` to `labels` (Newton on the log-loss, Platt's smoothed targets).
pub fn fit_platt(scores: &[f64], labels: &[bool]) -> Platt {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    let (tp, tn) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let target: Vec<f64> = labels.iter().map(|&l| if l { tp } else { tn }).collect();
    let loss = |a: f64, b: f64| -> f64 {
        scores
            .iter()
            .zip(&target)
            .map(|(&s, &t)| {
                let z = a * s + b;
                // log(1 + e^z) − t·z, computed stably.
                z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((pos + 1.0) / (neg + 1.0)).ln());
    let mut f = loss(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
        for (&s, &t) in scores.iter().zip(&target) {
            let p = 1.0 / (1.0 + (-(a * s + b)).exp());
            let (d, w) = (p - t, p * (1.0 - p));
            ga += d * s;
            gb += d;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        if ga.abs() < 1e-10 && gb.abs() < 1e-10 {
            break;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        let mut t = 1.0;
        let mut moved = false;
        while t > 1e-10 {
            let (na, nb) = (a - t * da, b - t * db);
            let nf = loss(na, nb);
            if nf <= f {
                (a, b, f) = (na, nb, nf);
                moved = true;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    Platt { a, b }
}

/// A reliability diagram (accuracy per confidence bin against the diagonal) as SVG, with one
/// bar series per `(label, bins)` pair.
pub fn reliability_svg(title: &str, series: &[(&str, &[Bin])]) -> String {
    let (w, h, m) = (420.0, 420.0, 50.0);
    let side = w - 2.0 * m;
    let colours = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b"];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"{}\" y=\"20\" text-anchor=\"middle\">{title}</text>\n\
         <rect x=\"{m}\" y=\"{m}\" width=\"{side}\" height=\"{side}\" fill=\"none\" stroke=\"#333\"/>\n\
         <line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{m}\" stroke=\"#999\" stroke-dasharray=\"4\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">confidence</text>\n\
         <text x=\"15\" y=\"{}\" transform=\"rotate(-90 15 {})\" text-anchor=\"middle\">accuracy</text>\n",
        w / 2.0,
        m + side,
        m + side,
        w / 2.0,
        h - 15.0,
        h / 2.0,
        h / 2.0
    );
    let k = series.len().max(1) as f64;
    for (si, (label, bins)) in series.iter().enumerate() {
        let colour = colours[si % colours.len()];
        for b in bins.iter().filter(|b| b.count > 0) {
            let bw = (b.upper - b.lower) * side / k;
            let x = m + b.lower * side + si as f64 * bw;
            let bh = b.accuracy * side;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{colour}\" fill-opacity=\"0.7\"/>\n",
                m + side - bh
            ));
        }
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{label}</text>\n",
            m + 8.0,
            m + 8.0 + 16.0 * si as f64,
            m + 22.0,
            m + 17.0 + 16.0 * si as f64
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_by_hand() {
        // Two bins: (0, .5] holds 0.2 (wrong) and 0.4 (right): acc .5, conf .3, gap .2;
        // (.5, 1] holds 0.9 (right) and 1.0 (right): acc 1, conf .95, gap .05.
        // ECE = 2/4·.2 + 2/4·.05 = .125. A confidence of exactly 0 falls in no bin.
        let conf = [0.2, 0.4, 0.9, 1.0];
        let ok = [false, true, true, true];
        assert!((ece(&conf, &ok, 2) - 0.125).abs() < 1e-12);
        let bins = reliability(&[0.0, 0.5], &[true, true], 2);
        assert_eq!((bins[0].count, bins[1].count), (1, 0));
    }

    #[test]
    fn temperature_recovers_the_generating_temperature() {
        // Labels drawn from softmax(z / 2): the NLL-optimal temperature is close to 2.
        let (n, v) = (4000, 6);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut z = Vec::with_capacity(n * v);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f32> = (0..v).map(|_| (next() * 8.0 - 4.0) as f32).collect();
            let p: Vec<f64> = row.iter().map(|&x| (x as f64 / 2.0).exp()).collect();
            let s: f64 = p.iter().sum();
            let (mut u, mut k) = (next() * s, 0);
            while k + 1 < v && u > p[k] {
                u -= p[k];
                k += 1;
            }
            z.extend(row);
            y.push(k as u32);
        }
        let l = Logits {
            values: &z,
            vocab: v,
            targets: &y,
        };
        let t = fit_temperature(&l);
        assert!((t - 2.0).abs() < 0.15, "fitted T = {t}");
        assert!(l.mean_nll(t) <= l.mean_nll(1.0));
        assert!(l.mean_nll(t) <= l.mean_nll(t * 1.05) && l.mean_nll(t) <= l.mean_nll(t / 1.05));
    }

    #[test]
    fn platt_recovers_a_logistic_relation() {
        // Labels from σ(3s − 1): the fit lands near (3, −1) and lowers ECE.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let s: Vec<f64> = (0..6000).map(|_| next() * 4.0 - 2.0).collect();
        let y: Vec<bool> = s
            .iter()
            .map(|&s| next() < 1.0 / (1.0 + (1.0 - 3.0 * s).exp()))
            .collect();
        let p = fit_platt(&s, &y);
        assert!((p.a - 3.0).abs() < 0.3 && (p.b + 1.0).abs() < 0.2, "{p:?}");
        let raw: Vec<f64> = s.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
        let cal: Vec<f64> = s.iter().map(|&v| p.apply(v)).collect();
        assert!(ece(&cal, &y, 15) < ece(&raw, &y, 15));
        assert!(ece(&cal, &y, 15) < 0.03);
    }
}
