//! The dataset layer every phase shares: the normalised example schema (written by phase 0, read
//! by training, evaluation and routing), the checkers that grade a response against a row's
//! machine-checkable answer, and the pure-Rust data transforms the training engine needs
//! (no burn here; see README.md):
//!
//! * [`load`]: JSONL rows in, malformed lines quarantined with file and line.
//! * [`chat_encode`]: rows → chat-template tokens with a loss mask on the assistant's turns.
//! * [`pack`]: encoded rows → fixed-length rows with document segments and positions.
//! * [`transforms`]: bidirectional pairs, weighted mixing, evaluation decontamination.
#![warn(missing_docs)]

pub mod chat_encode;
pub mod check;
mod decontam;
mod error;
pub mod load;
mod mix;
pub mod pack;
pub mod schema;
pub mod transforms;

pub use chat_encode::{
    EncodeOptions, Encoded, Rendered, assistant_spans, encode_chat, encode_example, role_name,
    to_messages,
};
pub use error::{Error, Result};
pub use load::{Quarantined, example_text, read_jsonl};
pub use pack::{PackStats, PackStrategy, Packed, pack, stats};
pub use transforms::{
    BidirOptions, BidirResult, DEFAULT_NGRAM, DEFAULT_REVERSE_TEMPLATE, MixResult, Removed,
    SourceCount, bidirectional, decontaminate, decontaminate_ignoring_common, mix,
    normalized_words,
};
