//! The crate's error type: every variant names the file or template it is about (candle's
//! `WithPath` idea, STYLE.md §2.3); template errors carry minijinja's line number.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading a tokenizer, encoding, decoding or rendering a chat
/// template.
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
    /// A JSON config file (`tokenizer_config.json`, `generation_config.json`, ...) is malformed.
    #[error("parsing {}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The JSON error (carries line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A config file parsed as JSON but a field has a shape HF never writes.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// `tokenizer.json` could not be loaded by the `tokenizers` crate.
    #[error("loading {}: {message}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// The `tokenizers` error message.
        message: String,
    },
    /// The `tokenizers` crate failed to encode.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// The `tokenizers` crate failed to decode (e.g. an id outside the vocabulary).
    #[error("decoding failed: {0}")]
    Decode(String),
    /// A streamed decode no longer extends the text already emitted.
    #[error(
        "streaming decode of token {token_id}: {text:?} does not extend the emitted prefix {prefix:?}"
    )]
    StreamPrefix {
        /// The token that was being added.
        token_id: u32,
        /// What had been emitted for the current window.
        prefix: String,
        /// What the window decodes to now.
        text: String,
    },
    /// The tokenizer has no chat template (neither `chat_template.jinja` nor a `chat_template`
    /// entry in `tokenizer_config.json`).
    #[error("{} has no chat template (looked for chat_template.jinja and tokenizer_config.json's chat_template)", dir.display())]
    NoChatTemplate {
        /// The tokenizer directory (or "<memory>").
        dir: PathBuf,
    },
    /// Several named templates and none is "default" (or the requested name does not exist).
    #[error("no chat template named {name:?}; available: {available:?}")]
    UnknownChatTemplate {
        /// The name asked for ("default" when none was given).
        name: String,
        /// The names that exist.
        available: Vec<String>,
    },
    /// The template does not parse.
    #[error("chat template {name} line {}: syntax error: {message}", fmt_line(*line))]
    TemplateSyntax {
        /// Template name: the file it came from.
        name: String,
        /// 1-based line of the error, when minijinja knows it.
        line: Option<usize>,
        /// minijinja's description.
        message: String,
    },
    /// Rendering failed (undefined attribute, type error, ...).
    #[error("chat template {name} line {}: {message}", fmt_line(*line))]
    TemplateRender {
        /// Template name: the file it came from.
        name: String,
        /// 1-based line of the error, when minijinja knows it.
        line: Option<usize>,
        /// minijinja's description.
        message: String,
    },
    /// The template called `raise_exception(message)`: the conversation is not one this template
    /// accepts (e.g. roles not alternating). A server maps this to a client error.
    #[error("chat template {name} line {} rejected the conversation: {message}", fmt_line(*line))]
    TemplateRaised {
        /// Template name: the file it came from.
        name: String,
        /// 1-based line of the `raise_exception` call.
        line: Option<usize>,
        /// The template's message.
        message: String,
    },
    /// The request could not be turned into template values.
    #[error("chat request: {0}")]
    Request(String),
}

fn fmt_line(line: Option<usize>) -> String {
    line.map_or_else(|| "?".to_string(), |l| l.to_string())
}
