//! Knowledge distillation of a draft/student model (phase 1E): the training objective
//! `w_kd · T²·KL(teacher ‖ student) + w_ce · CE` (Hinton et al. 2015; reverse KL optional, as
//! MiniLLM), teacher logits computed on the fly, and the teacher–student top-1 agreement that
//! bounds speculative decoding's acceptance rate (Leviathan et al. 2023, §3).

use burn::module::Module;
use burn::tensor::Tensor;
use cogumi_model::{Llama, TokenBatch};
use serde::{Deserialize, Serialize};

use crate::data::{Row, collate};
use crate::error::{Error, Result};
use crate::loss::{KlDirection, Targets, cross_entropy, kd_loss, top1_agreement};

/// Distillation settings (the `[distill]` table).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DistillConfig {
    /// Softmax temperature `T`.
    pub temperature: f64,
    /// KL direction.
    pub direction: KlDirection,
    /// Weight of the KL term.
    pub kd_weight: f64,
    /// Weight of the cross-entropy term on the data's own targets (0 = pure KD).
    pub ce_weight: f64,
    /// Distil at every real token (true, what a draft model needs) or only on response tokens.
    pub all_tokens: bool,
}

impl Default for DistillConfig {
    fn default() -> Self {
        DistillConfig {
            temperature: 2.0,
            direction: KlDirection::Forward,
            kd_weight: 1.0,
            ce_weight: 0.0,
            all_tokens: true,
        }
    }
}

/// What the training loop minimises.
pub enum Objective<'a> {
    /// Next-token cross-entropy on the counted targets.
    CrossEntropy,
    /// Distillation from a frozen teacher.
    Distill {
        /// The teacher (evaluated without gradients).
        teacher: &'a Llama,
        /// Loss settings.
        config: DistillConfig,
    },
}

impl Objective<'_> {
    /// The scalar loss of one micro-batch.
    ///
    /// # Shapes
    /// - returns `[1]`
    pub fn loss(&self, model: &Llama, batch: &TokenBatch, targets: &Targets) -> Result<Tensor<1>> {
        let logits = model.forward(batch, None)?;
        match self {
            Objective::CrossEntropy => Ok(cross_entropy(logits, targets)),
            Objective::Distill { teacher, config } => {
                let t = teacher.forward(batch, None)?;
                let weight = kd_weights(batch, targets, config.all_tokens);
                let mut loss = kd_loss(
                    logits.clone(),
                    t,
                    &weight,
                    config.temperature,
                    config.direction,
                )
                .mul_scalar(config.kd_weight);
                if config.ce_weight > 0.0 {
                    loss = loss + cross_entropy(logits, targets).mul_scalar(config.ce_weight);
                }
                Ok(loss)
            }
        }
    }
}

/// Positions distilled: every real token (its next-token distribution), or the counted targets.
fn kd_weights(batch: &TokenBatch, targets: &Targets, all_tokens: bool) -> Vec<f32> {
    if all_tokens {
        batch
            .valid()
            .iter()
            .map(|&v| if v { 1.0 } else { 0.0 })
            .collect()
    } else {
        targets.weight.clone()
    }
}

/// Teacher–student agreement on `rows`: `(top-1 agreement, mean forward KL at T = 1)` over
/// every real token.
pub fn agreement(
    student: &Llama,
    teacher: &Llama,
    rows: &[Row],
    micro_batch: usize,
) -> Result<(f64, f64)> {
    let s = student.valid();
    let mut agree = 0usize;
    let mut total = 0usize;
    let mut kl_sum = 0.0f64;
    for chunk in rows.chunks(micro_batch.max(1)) {
        let refs: Vec<&Row> = chunk.iter().collect();
        let (batch, _) = collate(&refs)?;
        let weight: Vec<f32> = batch
            .valid()
            .iter()
            .map(|&v| if v { 1.0 } else { 0.0 })
            .collect();
        let n = weight.iter().filter(|w| **w > 0.0).count();
        let sl = s.forward(&batch, None)?;
        let tl = teacher.forward(&batch, None)?;
        let kl: f32 =
            kd_loss(sl.clone(), tl.clone(), &weight, 1.0, KlDirection::Forward).into_scalar();
        kl_sum += kl as f64 * n as f64;
        let (a, t) = top1_agreement(sl, tl, &weight);
        agree += a;
        total += t;
    }
    if total == 0 {
        return Err(Error::Config(
            "no tokens to compare teacher and student on".into(),
        ));
    }
    Ok((agree as f64 / total as f64, kl_sum / total as f64))
}
