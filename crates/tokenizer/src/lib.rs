//! cogumi-tokenizer: HF tokenizers and chat templates, behaving like transformers 4.57's
//! `PreTrainedTokenizerFast` + `apply_chat_template`.
//!
//! * [`Tokenizer`] loads a HF tokenizer directory (`tokenizer.json` through the `tokenizers`
//!   crate, `tokenizer_config.json`, `generation_config.json`) and encodes, decodes, streams
//!   ([`DecodeStream`]) and renders chat templates.
//! * [`ChatTemplate`] compiles a Jinja `chat_template` with minijinja in an environment set up like
//!   transformers' `_compile_jinja_template` (see `jinja.rs` for the Python-compatibility layer).
//!
//! Golden tests: `fixtures/chat_templates/` (Llama-3, Llama-3.1, SmolLM2's ChatML, plain ChatML,
//! rendered by transformers) and `fixtures/tokenizer/` (a tiny Llama-3-style BPE, encoded and
//! decoded by transformers); `fixtures/gen/{chat_templates,tokenizer}.py` made them.
//!
//! ```no_run
//! use cogumi_tokenizer::{Message, Tokenizer};
//! # fn main() -> cogumi_tokenizer::Result<()> {
//! let tok = Tokenizer::from_dir("models/SmolLM2-135M-Instruct")?;
//! let ids = tok.apply_chat_template_ids(&[Message::user("Hi!")], true)?;
//! let mut stream = tok.decode_stream(true);
//! for id in ids {
//!     if let Some(text) = stream.step(id)? {
//!         eprint!("{text}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod chat;
mod config;
mod error;
mod jinja;
mod stream;
mod strftime;
mod tokenizer;

pub use chat::{ChatRequest, ChatTemplate, Message, SpecialTokens};
pub use config::{GenerationConfig, TokenizerConfig};
pub use error::{Error, Result};
pub use jinja::{py_str, python_formatter, python_method};
pub use stream::DecodeStream;
pub use tokenizer::{Tokenizer, clean_up_tokenization};
