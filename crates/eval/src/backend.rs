//! The backend trait: the three request types of lm-evaluation-harness (`loglikelihood`,
//! `loglikelihood_rolling`, `generate_until`, from lm-eval's `api/model.py` `LM`) over text.
//! A backend owns tokenisation, so scores are the model's own; the burn model, an
//! OpenAI-compatible endpoint and (later) the GGUF runtime each implement it once.

use crate::error::Result;

/// Score `continuation` given `context` (lm-eval `loglikelihood`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoglikelihoodRequest {
    /// Text before the continuation (trailing whitespace moves to the continuation, as lm-eval).
    pub context: String,
    /// Text whose log-probability is summed.
    pub continuation: String,
}

/// The answer to a [`LoglikelihoodRequest`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loglikelihood {
    /// Sum of the continuation tokens' log-probabilities (natural log).
    pub logprob: f64,
    /// Whether greedy decoding would have produced exactly the continuation tokens.
    pub is_greedy: bool,
    /// Number of continuation tokens.
    pub tokens: usize,
}

/// The answer to a rolling (whole-document) log-likelihood request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollingLoglikelihood {
    /// Sum of every token's log-probability.
    pub logprob: f64,
    /// Tokens scored.
    pub tokens: usize,
}

/// What to generate from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneratePrompt {
    /// Raw text, fed as is.
    Text(String),
    /// One user turn (and an optional system turn) through the model's chat template with a
    /// generation prompt.
    Chat {
        /// System message.
        system: Option<String>,
        /// User message.
        user: String,
    },
}

/// Generate until a stop string or the token budget (lm-eval `generate_until`); greedy unless
/// `temperature > 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The prompt.
    pub prompt: GeneratePrompt,
    /// Stop strings; the output is cut before the earliest one.
    pub until: Vec<String>,
    /// Maximum new tokens.
    pub max_new_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    pub temperature: f32,
    /// Nucleus threshold when sampling.
    pub top_p: f32,
    /// Seed of this sample (a pure function of document and sample index).
    pub seed: u64,
}

/// Progress callback: called with the number of requests just finished.
pub type Progress<'a> = &'a (dyn Fn(usize) + Sync);

/// A model that can answer lm-eval's requests.
pub trait Backend {
    /// Name recorded in results (`burn-flex f32`, `openai:http://…`).
    fn name(&self) -> String;

    /// Answers loglikelihood requests, in order. Implementations may reorder internally
    /// (shared-prefix reuse) but every answer must equal what the request alone would get.
    fn loglikelihood(
        &mut self,
        requests: &[LoglikelihoodRequest],
        progress: Progress<'_>,
    ) -> Result<Vec<Loglikelihood>>;

    /// Scores whole texts with rolling windows (every token exactly once).
    fn loglikelihood_rolling(
        &mut self,
        texts: &[String],
        progress: Progress<'_>,
    ) -> Result<Vec<RollingLoglikelihood>>;

    /// A one-line account of the work done so far (e.g. tokens saved by prefix reuse), for logs.
    fn work_summary(&self) -> Option<String> {
        None
    }

    /// Generates, in order (greedy when a request's temperature is 0).
    fn generate_until(
        &mut self,
        requests: &[GenerateRequest],
        progress: Progress<'_>,
    ) -> Result<Vec<String>>;
}

/// lm-eval's `_encode_pair` whitespace rule: trailing whitespace of the context moves to the
/// front of the continuation, so `"Answer: "` + `"B"` is scored as `"Answer:"` + `" B"`.
pub fn split_trailing_whitespace<'a>(context: &'a str, continuation: &str) -> (&'a str, String) {
    let trimmed = context.trim_end();
    let moved = &context[trimmed.len()..];
    (trimmed, format!("{moved}{continuation}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_context_whitespace_moves_to_the_continuation() {
        assert_eq!(
            split_trailing_whitespace("Answer: ", "B"),
            ("Answer:", " B".to_string())
        );
        assert_eq!(
            split_trailing_whitespace("Answer:", " B"),
            ("Answer:", " B".to_string())
        );
        assert_eq!(
            split_trailing_whitespace("a\n\n", "b"),
            ("a", "\n\nb".to_string())
        );
    }
}
