//! Training losses: masked next-token cross-entropy (transformers' `ForCausalLMLoss`: mean over
//! the positions whose label is not -100) and the distillation losses of Hinton et al. 2015
//! (`T²·KL(teacher ‖ student)` at temperature `T`, forward by default; reverse KL as in MiniLLM,
//! Gu et al. 2024).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Next-token targets of a batch, aligned with the logits: position `t` predicts `targets[t]`.
#[derive(Debug, Clone)]
pub struct Targets {
    /// `[B·T]` row-major token ids (any value where `weight` is 0).
    pub ids: Vec<u32>,
    /// `[B·T]` 1.0 where the position counts, 0.0 elsewhere.
    pub weight: Vec<f32>,
    /// Rows `B`.
    pub batch: usize,
    /// Columns `T`.
    pub seq: usize,
}

impl Targets {
    /// Shifts inputs by one: the target of position `t` is token `t+1` when `loss_mask[t+1]`
    /// (the label rule of HF's shifted loss); the last position never counts.
    pub fn shifted(ids: &[u32], loss_mask: &[bool], batch: usize, seq: usize) -> Self {
        let mut t_ids = vec![0u32; batch * seq];
        let mut weight = vec![0f32; batch * seq];
        for r in 0..batch {
            for t in 0..seq.saturating_sub(1) {
                let src = r * seq + t + 1;
                if loss_mask[src] {
                    t_ids[r * seq + t] = ids[src];
                    weight[r * seq + t] = 1.0;
                }
            }
        }
        Targets {
            ids: t_ids,
            weight,
            batch,
            seq,
        }
    }

    /// Number of positions that count.
    pub fn count(&self) -> usize {
        self.weight.iter().filter(|w| **w > 0.0).count()
    }

    fn tensors(&self, device: &Device) -> (Tensor<3, Int>, Tensor<2>) {
        let ids: Vec<i64> = self.ids.iter().map(|&x| x as i64).collect();
        let ids =
            Tensor::<3, Int>::from_data(TensorData::new(ids, [self.batch, self.seq, 1]), device);
        let w = Tensor::<2>::from_data(
            TensorData::new(self.weight.clone(), [self.batch, self.seq]),
            device,
        );
        (ids, w)
    }
}

/// Mean cross-entropy over the counted positions.
///
/// # Shapes
/// - `logits`: `[B, T, V]` (f32)
/// - returns `[1]`
pub fn cross_entropy(logits: Tensor<3>, targets: &Targets) -> Tensor<1> {
    let device = logits.device();
    let (ids, w) = targets.tensors(&device);
    let logp = log_softmax(logits, 2);
    let picked: Tensor<2> = logp.gather(2, ids).squeeze_dim(2);
    let n = targets.count().max(1) as f64;
    (picked * w).sum().neg().div_scalar(n)
}

/// Direction of the distillation divergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KlDirection {
    /// `KL(teacher ‖ student)`: mean-seeking, the classic KD loss.
    #[default]
    Forward,
    /// `KL(student ‖ teacher)`: mode-seeking.
    Reverse,
}

/// `T² ·` mean over counted positions of the KL divergence between the temperature-softened
/// teacher and student distributions.
///
/// # Shapes
/// - `student`, `teacher`: `[B, T, V]` (the teacher carries no gradient)
/// - `weight`: `[B·T]` host weights (1.0 = counts)
/// - returns `[1]`
pub fn kd_loss(
    student: Tensor<3>,
    teacher: Tensor<3>,
    weight: &[f32],
    temperature: f64,
    direction: KlDirection,
) -> Tensor<1> {
    let [b, t, _] = student.dims();
    let device = student.device();
    let ls = log_softmax(student.div_scalar(temperature), 2);
    let lt = log_softmax(teacher.div_scalar(temperature), 2);
    let kl: Tensor<2> = match direction {
        KlDirection::Forward => (lt.clone().exp() * (lt - ls)).sum_dim(2).squeeze_dim(2),
        KlDirection::Reverse => (ls.clone().exp() * (ls - lt)).sum_dim(2).squeeze_dim(2),
    };
    let w = Tensor::<2>::from_data(TensorData::new(weight.to_vec(), [b, t]), &device);
    let n = weight.iter().filter(|w| **w > 0.0).count().max(1) as f64;
    (kl * w).sum().mul_scalar(temperature * temperature / n)
}

/// Fraction of counted positions where teacher and student agree on the top-1 token — the
/// quantity speculative decoding's acceptance rate follows.
///
/// # Shapes
/// - `student`, `teacher`: `[B, T, V]`; `weight`: `[B·T]`
pub fn top1_agreement(student: Tensor<3>, teacher: Tensor<3>, weight: &[f32]) -> (usize, usize) {
    let s = argmax_host(student);
    let t = argmax_host(teacher);
    let mut agree = 0;
    let mut total = 0;
    for ((a, b), w) in s.iter().zip(&t).zip(weight) {
        if *w > 0.0 {
            total += 1;
            if a == b {
                agree += 1;
            }
        }
    }
    (agree, total)
}

/// Row-wise argmax of `[B, T, V]` logits, `[B·T]` on the host.
pub fn argmax_host(logits: Tensor<3>) -> Vec<i64> {
    let [b, t, _] = logits.dims();
    let idx: Tensor<3, Int> = logits.argmax(2);
    let data = idx.reshape([b * t]).into_data();
    data.convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap_or_default()
}
