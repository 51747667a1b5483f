//! Held-out task accuracy: greedy answers to checkable test rows (the synthetic curriculum's
//! `answer` specs), graded by `cogumi_dataset::check`. Measured before and after training so the
//! report shows what fine-tuning changed, not what it was assumed to change.

use anyhow::Result;
use cogumi_dataset::check::Check;
use cogumi_dataset::schema::Example;
use cogumi_dataset::to_messages;
use cogumi_model::{GenerateConfig, Llama, Prompt, SamplingConfig, generate_text};
use cogumi_tokenizer::{Message, Tokenizer};
use serde::Serialize;

/// Accuracy on a task set.
#[derive(Debug, Clone, Serialize)]
pub struct TaskScore {
    /// Rows graded.
    pub rows: usize,
    /// Rows answered correctly.
    pub correct: usize,
    /// `correct / rows`.
    pub accuracy: f64,
}

/// The checkable rows among `test`, at most `n`, in order. Rows graded by unit tests are left
/// to phase 9's sandboxed harness: here only answers checkable from the text itself count.
pub fn checkable(test: &[Example], n: usize) -> Vec<Example> {
    test.iter()
        .filter(|e| {
            e.answer
                .as_ref()
                .is_some_and(|c| !matches!(c, Check::PythonTests { .. }))
        })
        .take(n)
        .cloned()
        .collect()
}

/// Greedy-generates an answer to each row's prompt (all turns but the last assistant turn) and
/// grades it.
pub fn score(
    model: &Llama,
    tok: &Tokenizer,
    rows: &[Example],
    max_new_tokens: usize,
) -> Result<TaskScore> {
    let mut eos = model.config().eos_token_ids.clone();
    for &id in tok.eos_ids() {
        if !eos.contains(&id) {
            eos.push(id);
        }
    }
    let cfg = GenerateConfig {
        max_new_tokens,
        sampling: SamplingConfig {
            greedy: true,
            ..SamplingConfig::default()
        },
        eos_ids: eos,
    };
    let mut correct = 0;
    for ex in rows {
        let Some(check) = &ex.answer else { continue };
        let mut msgs: Vec<Message> = to_messages(ex);
        if msgs.last().is_some_and(|m| m.role == "assistant") {
            msgs.pop();
        }
        let out = generate_text(
            model,
            Some(tok),
            &Prompt::Chat(msgs),
            &cfg,
            &[],
            &mut |_| {},
        )?;
        let text = out.text.unwrap_or_default();
        if check.verify(&text) {
            correct += 1;
        }
    }
    Ok(TaskScore {
        rows: rows.len(),
        correct,
        accuracy: if rows.is_empty() {
            0.0
        } else {
            correct as f64 / rows.len() as f64
        },
    })
}
