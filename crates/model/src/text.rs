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
    // The tokenizer's incremental decoder does the UTF-8 hold-back; we hold back stop-string
    // prefixes on top of it. Each token is decoded once, not the whole output every step.
    let mut stream = tokenizer.map(|tk| tk.decode_stream(true));
    let mut streamed = String::new();
    let mut emitted = 0usize;
    let mut stopped = false;
    let mut decode_err: Option<Error> = None;
    let mut callback = |tok: u32| -> Control {
        let Some(stream) = stream.as_mut() else {
            return Control::Continue;
        };
        match stream.step(tok) {
            Ok(Some(piece)) => streamed.push_str(&piece),
            Ok(None) => return Control::Continue,
            Err(e) => {
                decode_err = Some(tok_err(e));
                return Control::Stop;
            }
        }
        if let Some(at) = find_stop(&streamed, stops) {
            if at > emitted {
                on_text(&streamed[emitted..at]);
            }
            stopped = true;
            return Control::Stop;
        }
        // Emit what can no longer become part of a stop string.
        let mut upto = streamed.len().saturating_sub(hold);
        while !streamed.is_char_boundary(upto) {
            upto -= 1;
        }
        if upto > emitted {
            on_text(&streamed[emitted..upto]);
            emitted = upto;
        }
        Control::Continue
    };
    let generation: Generation = generate(model, &prompt_ids, config, &mut callback)?;
    if let Some(e) = decode_err {
        return Err(e);
    }
    if !stopped && let Some(stream) = stream.as_mut() {
        if let Some(rest) = stream.finish().map_err(tok_err)? {
            streamed.push_str(&rest);
        }
        let end = find_stop(&streamed, stops).unwrap_or(streamed.len());
        if end > emitted {
            on_text(&streamed[emitted..end]);
        }
    }
    // The returned text is the full decode (with the tokenizer's clean-up), cut before a stop.
    let text = match tokenizer {
        Some(tk) => {
            let mut t = tk.decode(&generation.tokens, true).map_err(tok_err)?;
            if let Some(at) = find_stop(&t, stops) {
                t.truncate(at);
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
