//! Text-level generation: prompts as raw text, chat messages (through the model's chat template)
//! or token ids; stop strings; streaming of stable text.
//!
//! Follows transformers' `generate(stop_strings=...)` semantics: the output is cut before the
//! earliest stop string, and streamed text never shows a prefix of a stop string that later
//! completes (TextStreamer-style hold-back).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::generate::{Control, FinishReason, GenerateConfig, Generation, generate};
use crate::llama::Llama;
use cogumi_tokenizer::{Message as ChatMessage, Tokenizer};

/// What to generate from.
#[derive(Debug, Clone)]
pub enum Prompt {
    /// Raw text, encoded with the tokenizer's default special-token handling (BOS if it adds one).
    Text(String),
    /// A conversation rendered with the chat template and a generation prompt.
    Chat(Vec<ChatMessage>),
    /// Token ids as given.
    Ids(Vec<u32>),
}

/// The result of [`generate_text`].
#[derive(Debug, Clone, Serialize)]
pub struct TextGeneration {
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// Generated token ids (EOS included when it ended generation).
    pub generated_ids: Vec<u32>,
    /// Decoded text (special tokens skipped, cut before a stop string); `None` without a tokenizer.
    pub text: Option<String>,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Prefill tokens/s.
    pub prefill_tok_s: f64,
    /// Decode tokens/s.
    pub decode_tok_s: f64,
}

fn tok_err(e: cogumi_tokenizer::Error) -> Error {
    Error::Input(format!("tokenizer: {e}"))
}

/// Encodes a prompt to ids.
pub fn encode_prompt(tokenizer: Option<&Tokenizer>, prompt: &Prompt) -> Result<Vec<u32>> {
    match (prompt, tokenizer) {
        (Prompt::Ids(ids), _) => Ok(ids.clone()),
        (Prompt::Text(t), Some(tok)) => tok.encode(t, true).map_err(tok_err),
        (Prompt::Chat(m), Some(tok)) => tok.apply_chat_template_ids(m, true).map_err(tok_err),
        (_, None) => Err(Error::Input(
            "this model directory has no tokenizer.json; pass token ids instead".into(),
        )),
    }
}

/// Earliest byte offset at which any stop string starts in `text`.
pub fn find_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
}

/// Generates from `prompt`; `on_text` receives newly stable text as it appears.
pub fn generate_text(
    model: &Llama,
    tokenizer: Option<&Tokenizer>,
    prompt: &Prompt,
    config: &GenerateConfig,
    stops: &[String],
    on_text: &mut dyn FnMut(&str),
) -> Result<TextGeneration> {
    let prompt_ids = encode_prompt(tokenizer, prompt)?;
    let hold = stops
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(1)
        .saturating_sub(1);
    let mut ids: Vec<u32> = Vec::new();
    let mut emitted = 0usize;
    let mut stop_at: Option<usize> = None;
    let mut decode_err: Option<Error> = None;
    let mut callback = |tok: u32| -> Control {
        let Some(tk) = tokenizer else {
            return Control::Continue;
        };
        ids.push(tok);
        let text = match tk.decode(&ids, true) {
            Ok(t) => t,
            Err(e) => {
                decode_err = Some(tok_err(e));
                return Control::Stop;
            }
        };
        if let Some(at) = find_stop(&text, stops) {
            if at > emitted {
                on_text(&text[emitted..at]);
            }
            stop_at = Some(at);
            return Control::Stop;
        }
        // Emit what can no longer become part of a stop string and is not a partial character.
        if !text.ends_with('\u{FFFD}') {
            let mut upto = text.len().saturating_sub(hold);
            while !text.is_char_boundary(upto) {
                upto -= 1;
            }
            if upto > emitted {
                on_text(&text[emitted..upto]);
                emitted = upto;
            }
        }
        Control::Continue
    };
    let generation: Generation = generate(model, &prompt_ids, config, &mut callback)?;
    if let Some(e) = decode_err {
        return Err(e);
    }
    let text = match tokenizer {
        Some(tk) => {
            let mut t = tk.decode(&generation.tokens, true).map_err(tok_err)?;
            if let Some(at) = stop_at.or_else(|| find_stop(&t, stops)) {
                t.truncate(at);
            } else if t.len() > emitted {
                on_text(&t[emitted..]);
            }
            Some(t)
        }
        None => None,
    };
    Ok(TextGeneration {
        prompt_ids,
        prefill_tok_s: generation.prefill_tok_s(),
        decode_tok_s: generation.decode_tok_s(),
        generated_ids: generation.tokens,
        text,
        finish: generation.finish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_stop_wins() {
        let stops = vec!["\n\n".to_string(), "User:".to_string()];
        assert_eq!(find_stop("abc User: x\n\n", &stops), Some(4));
        assert_eq!(find_stop("abc", &stops), None);
    }
}
