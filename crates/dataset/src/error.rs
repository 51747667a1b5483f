//! The crate's error type (STYLE.md §2.3): one `thiserror` enum whose variants carry what a user
//! needs to find the problem — the file and line, the example index, the chat turn — and why.
//! Malformed JSONL lines are not errors: [`crate::load::read_jsonl`] quarantines them.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading rows or turning them into training tokens.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The chat template failed to render the conversation (or a prefix of it), or the text
    /// failed to encode.
    #[error("chat template on messages[..{upto}]")]
    Template {
        /// Number of leading messages being rendered.
        upto: usize,
        /// The tokenizer's error (names the template and line).
        #[source]
        source: cogumi_tokenizer::Error,
    },
    /// The tokenizer failed to encode the rendered text.
    #[error("encoding the rendered conversation: {reason}")]
    Encode {
        /// The `tokenizers` error message.
        reason: String,
    },
    /// Rendering a prefix of the conversation does not give a prefix of the whole rendering, so
    /// turn boundaries cannot be located (e.g. a template that rewrites earlier turns).
    #[error("chat template is not prefix-stable at message {turn}: {reason}")]
    NotPrefixStable {
        /// Index of the message whose boundary could not be located.
        turn: usize,
        /// What did not line up.
        reason: String,
    },
    /// The conversation has nothing to learn: no assistant turn (or an empty message list).
    #[error("conversation has no assistant turn to train on")]
    NoTarget,
    /// After truncating to `max_len` tokens no loss-bearing token is left.
    #[error(
        "row is too long: {len} tokens, and the first trained token is at {first_target} >= max_len {max_len}"
    )]
    TooLong {
        /// Tokens before truncation.
        len: usize,
        /// The limit.
        max_len: usize,
        /// Position of the first loss-bearing token.
        first_target: usize,
    },
    /// An example given to `pack` is longer than the row length.
    #[error("example {index} has {len} tokens, more than seq_len {seq_len}; truncate it first")]
    ExampleTooLong {
        /// Index of the example in the input slice.
        index: usize,
        /// Its length.
        len: usize,
        /// The row length.
        seq_len: usize,
    },
    /// An example given to `pack` is malformed (empty, or mask and ids of different lengths).
    #[error("example {index}: {reason}")]
    BadExample {
        /// Index of the example in the input slice.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A parameter is out of range (`seq_len` 0, a negative weight, ...).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The parameter.
        what: String,
        /// Why it is rejected.
        reason: String,
    },
}
