//! Learning-rate schedules with linear warm-up, as transformers' `optimization.py` defines them
//! (`get_constant_schedule_with_warmup`, `get_linear_schedule_with_warmup`,
//! `get_cosine_schedule_with_warmup` with `num_cycles = 0.5`).

use serde::{Deserialize, Serialize};

/// The decay after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Constant after warm-up.
    Constant,
    /// Linear to 0 at the last step.
    Linear,
    /// Half a cosine to 0 at the last step.
    #[default]
    Cosine,
}

/// A schedule over `total` optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Decay shape.
    pub kind: ScheduleKind,
    /// Peak learning rate.
    pub peak_lr: f64,
    /// Warm-up steps (linear from 0).
    pub warmup: u64,
    /// Total optimiser steps.
    pub total: u64,
}

impl Schedule {
    /// The learning rate of optimiser step `step` (0-based: the first update uses `lr(0)`), as
    /// the `LambdaLR` multiplier transformers returns for that step, times the peak.
    pub fn lr(&self, step: u64) -> f64 {
        let s = step as f64;
        if step < self.warmup {
            return self.peak_lr * s / (self.warmup.max(1) as f64);
        }
        let factor = match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Linear => {
                let rest = self.total.saturating_sub(self.warmup).max(1) as f64;
                ((self.total as f64 - s) / rest).max(0.0)
            }
            ScheduleKind::Cosine => {
                let rest = self.total.saturating_sub(self.warmup).max(1) as f64;
                let progress = (s - self.warmup as f64) / rest;
                (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
            }
        };
        self.peak_lr * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_with_warmup_matches_hand_derived_values() {
        // transformers: warm-up 2 of 5 steps -> [0, 0.5, 1, cos(pi/3)/2+1/2, cos(2pi/3)/2+1/2].
        let s = Schedule {
            kind: ScheduleKind::Cosine,
            peak_lr: 1e-3,
            warmup: 2,
            total: 5,
        };
        let got: Vec<f64> = (0..5).map(|i| s.lr(i)).collect();
        let want = [0.0, 0.5e-3, 1e-3, 0.75e-3, 0.25e-3];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{got:?}");
        }
    }

    #[test]
    fn linear_and_constant_shapes() {
        let lin = Schedule {
            kind: ScheduleKind::Linear,
            peak_lr: 1.0,
            warmup: 1,
            total: 5,
        };
        let got: Vec<f64> = (0..6).map(|i| lin.lr(i)).collect();
        assert_eq!(got, vec![0.0, 1.0, 0.75, 0.5, 0.25, 0.0]);
        let c = Schedule {
            kind: ScheduleKind::Constant,
            peak_lr: 2.0,
            warmup: 0,
            total: 3,
        };
        assert_eq!(c.lr(0), 2.0);
        assert_eq!(c.lr(10), 2.0);
    }
}
