//! Examples → training tokens through the model's chat template, with a loss mask on what the
//! model must learn to generate. Follows the "assistant-only loss" of TRL's `SFTTrainer`
//! (`assistant_only_loss`, `completion_only_loss`) and axolotl's `chat_template` strategy
//! (`roles_to_train`, `train_on_eos: turn`), but locates turns by rendering prefixes instead of
//! needing `{% generation %}` markers in the template.
//!
//! # The mask rule
//!
//! `loss_mask[k]` is true exactly on the tokens of each assistant turn's content as the template
//! renders it, plus the template's end-of-turn marker after it (`<|im_end|>` for ChatML,
//! `<|eot_id|>` for Llama-3). Everything else — system and user turns, the assistant header
//! (`<|im_start|>assistant\n`), BOS, and the separator after the marker (ChatML's `\n`) — is
//! false. This is what the model generates after the generation prompt, up to and including the
//! token that stops generation.
//!
//! # Method
//!
//! 1. Render the whole conversation once (`add_generation_prompt = false`) and tokenise it once,
//!    with byte offsets.
//! 2. For assistant message `i`, its turn starts where `messages[..i]` rendered *with* the
//!    generation prompt ends, and ends where `messages[..=i]` rendered without it ends. Both
//!    renders must be prefixes of the whole rendering, otherwise the template is not
//!    prefix-stable and [`Error::NotPrefixStable`] is returned (never a silently wrong mask).
//! 3. Tokens whose byte range overlaps the turn's span belong to the turn (a token straddling
//!    the header/content boundary counts as content). The turn is cut after its last
//!    end-of-generation token ([`Tokenizer::is_eos`]); if it has none, after its last special
//!    token; if it has none either, trailing whitespace-only tokens are dropped.

use std::ops::Range;

use cogumi_tokenizer::{Message, Tokenizer};

use crate::error::{Error, Result};
use crate::schema::{Example, Role};

/// How [`encode_chat`] masks and truncates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Keep at most this many tokens, cutting from the right. A row whose first trained token
    /// would be cut is reported as [`Error::TooLong`].
    pub max_len: Option<usize>,
    /// Train on every token, prompt and scaffolding included (`mask_all_but_last_turn` is then
    /// ignored).
    pub train_on_prompt: bool,
    /// Train only on the last assistant turn; earlier assistant turns are context.
    pub mask_all_but_last_turn: bool,
}

/// A tokenised training row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids of the rendered conversation.
    pub ids: Vec<u32>,
    /// Whether each token contributes to the loss (same length as `ids`).
    pub loss_mask: Vec<bool>,
}

impl Encoded {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of loss-bearing tokens.
    pub fn n_targets(&self) -> usize {
        self.loss_mask.iter().filter(|&&m| m).count()
    }
}

/// The chat role name templates expect.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// The conversation of a row. Chat rows are taken as given (system turns kept); single-turn
/// rows become one user turn (`instruction`, then `"\n\n"` and `input` when `input` is not
/// empty) and one assistant turn (`output`).
pub fn to_messages(ex: &Example) -> Vec<Message> {
    if let Some(turns) = &ex.messages {
        return turns
            .iter()
            .map(|t| Message::new(role_name(t.role), t.content.clone()))
            .collect();
    }
    vec![
        Message::user(user_text(&ex.instruction, &ex.input)),
        Message::assistant(ex.output.clone()),
    ]
}

/// The user turn of a single-turn row: `instruction`, plus `"\n\n"` + `input` when present.
pub(crate) fn user_text(instruction: &str, input: &str) -> String {
    match (instruction.is_empty(), input.is_empty()) {
        (_, true) => instruction.to_string(),
        (true, false) => input.to_string(),
        (false, false) => format!("{instruction}\n\n{input}"),
    }
}

/// [`to_messages`] then [`encode_chat`].
pub fn encode_example(tok: &Tokenizer, ex: &Example, opts: &EncodeOptions) -> Result<Encoded> {
    encode_chat(tok, &to_messages(ex), opts)
}

/// A conversation rendered by the chat template, with where its assistant turns are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The whole conversation, without the generation prompt.
    pub text: String,
    /// For each assistant message: its index in the conversation and the byte span of its turn
    /// in `text` (content, end marker and whatever separator the template writes before the
    /// next turn; [`encode_chat`] trims the separator).
    pub assistant_turns: Vec<(usize, Range<usize>)>,
}

/// Renders `messages` and locates every assistant turn (step 2 of the method in the module
/// docs).
pub fn assistant_spans(tok: &Tokenizer, messages: &[Message]) -> Result<Rendered> {
    let render = |upto: usize, gen_prompt: bool| {
        tok.apply_chat_template(&messages[..upto], gen_prompt)
            .map_err(|source| Error::Template { upto, source })
    };
    let full = render(messages.len(), false)?;
    let mut spans = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if m.role != "assistant" {
            continue;
        }
        let before = render(i, true)?;
        let through = render(i + 1, false)?;
        let unstable = |what: &str, text: &str| Error::NotPrefixStable {
            turn: i,
            reason: format!(
                "{what} ({} bytes) is not a prefix of the whole conversation ({} bytes); it ends with {:?}",
                text.len(),
                full.len(),
                tail(text, 40)
            ),
        };
        if !full.starts_with(&before) {
            return Err(unstable(
                "messages before it with the generation prompt",
                &before,
            ));
        }
        if !full.starts_with(&through) {
            return Err(unstable("messages up to it", &through));
        }
        if through.len() < before.len() {
            return Err(Error::NotPrefixStable {
                turn: i,
                reason: "the turn ends before its generation prompt does".into(),
            });
        }
        spans.push((i, before.len()..through.len()));
    }
    Ok(Rendered {
        text: full,
        assistant_turns: spans,
    })
}

/// Tokenises `messages` through the tokenizer's default chat template with the loss mask of
/// the module docs, then applies `opts`.
///
/// Errors: [`Error::NoTarget`] when no token is trained on, [`Error::TooLong`] when truncation
/// would leave none, template and encoding errors with the prefix they occurred on.
pub fn encode_chat(tok: &Tokenizer, messages: &[Message], opts: &EncodeOptions) -> Result<Encoded> {
    if messages.is_empty() {
        return Err(Error::NoTarget);
    }
    let Rendered {
        text: full,
        assistant_turns: spans,
    } = assistant_spans(tok, messages)?;
    let encoding = tok
        .inner()
        .encode(full.as_str(), false)
        .map_err(|e| Error::Encode {
            reason: e.to_string(),
        })?;
    let ids = encoding.get_ids().to_vec();
    let offsets = encoding.get_offsets();
    let mut loss_mask = vec![opts.train_on_prompt; ids.len()];
    if !opts.train_on_prompt {
        let trained = if opts.mask_all_but_last_turn {
            &spans[spans.len().saturating_sub(1)..]
        } else {
            &spans[..]
        };
        for (_, span) in trained {
            for k in turn_tokens(tok, &full, &ids, offsets, span) {
                loss_mask[k] = true;
            }
        }
    }
    let Some(first_target) = loss_mask.iter().position(|&m| m) else {
        return Err(Error::NoTarget);
    };
    let mut out = Encoded { ids, loss_mask };
    if let Some(max_len) = opts.max_len
        && out.len() > max_len
    {
        if first_target >= max_len {
            return Err(Error::TooLong {
                len: out.len(),
                max_len,
                first_target,
            });
        }
        out.ids.truncate(max_len);
        out.loss_mask.truncate(max_len);
    }
    Ok(out)
}

/// Indices of the tokens trained on for the turn at byte `span` of `text` (step 3 of the
/// method): the overlapping tokens, cut after the last EOS token, else the last special token,
/// else before trailing whitespace.
fn turn_tokens(
    tok: &Tokenizer,
    text: &str,
    ids: &[u32],
    offsets: &[(usize, usize)],
    span: &Range<usize>,
) -> Range<usize> {
    let inside = |&(s, e): &(usize, usize)| {
        if s == e {
            span.start <= s && s < span.end
        } else {
            s < span.end && e > span.start
        }
    };
    let Some(first) = offsets.iter().position(inside) else {
        return 0..0;
    };
    let len = offsets[first..].iter().take_while(|o| inside(o)).count();
    let turn = first..first + len;
    let last_where = |pred: &dyn Fn(u32) -> bool| turn.clone().rev().find(|&k| pred(ids[k]));
    let end =
        match last_where(&|id| tok.is_eos(id)).or_else(|| last_where(&|id| tok.is_special(id))) {
            Some(k) => k + 1,
            None => {
                let blank = |k: usize| {
                    let (s, e) = offsets[k];
                    text.get(s..e).is_some_and(|t| t.trim().is_empty())
                };
                let mut end = turn.end;
                while end > turn.start && blank(end - 1) {
                    end -= 1;
                }
                end
            }
        };
    turn.start..end
}

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> &str {
    let start = s
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &s[start..]
}
