//! Incremental detokenisation for streaming generation: feed ids one at a time, get back the text
//! they complete. Follows the prefix/read-offset scheme of HF text-generation-inference's
//! `decode_token` (also `tokenizers::DecodeStream`): the window from `prefix_offset` is decoded
//! with and without the new ids and only the growth is emitted, and nothing is emitted while the
//! window ends in U+FFFD, i.e. while a byte-level or byte-fallback token has left a UTF-8
//! character incomplete. Keeping one already-emitted token in the window preserves the context
//! decoders need (SentencePiece's leading-space handling).
//!
//! This stream owns a handle to its tokenizer (an `Arc`), so it can live in a server task.
//! It emits raw decoder text: transformers' `clean_up_tokenization_spaces` is a whole-string
//! rewrite and is not applied to chunks.

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// Streaming detokeniser; create with [`Tokenizer::decode_stream`].
#[derive(Clone, Debug)]
pub struct DecodeStream {
    tokenizer: Tokenizer,
    skip_special_tokens: bool,
    ids: Vec<u32>,
    /// Start of the decode window (ids in front of it are dropped once emitted).
    prefix_offset: usize,
    /// Ids before this index have had their text emitted.
    read_offset: usize,
}

impl DecodeStream {
    pub(crate) fn new(tokenizer: Tokenizer, skip_special_tokens: bool) -> Self {
        Self {
            tokenizer,
            skip_special_tokens,
            ids: Vec::new(),
            prefix_offset: 0,
            read_offset: 0,
        }
    }

    /// Adds one id; returns the text it completes, or `None` while a character is still
    /// incomplete (or the id decodes to nothing, like a skipped special token).
    pub fn step(&mut self, id: u32) -> Result<Option<String>> {
        self.ids.push(id);
        let emitted = self.tokenizer.decode_raw(
            &self.ids[self.prefix_offset..self.read_offset],
            self.skip_special_tokens,
        )?;
        let text = self
            .tokenizer
            .decode_raw(&self.ids[self.prefix_offset..], self.skip_special_tokens)?;
        if text.len() <= emitted.len() || text.ends_with('\u{FFFD}') {
            return Ok(None);
        }
        let Some(new) = text.strip_prefix(emitted.as_str()) else {
            return Err(Error::StreamPrefix {
                token_id: id,
                prefix: emitted,
                text,
            });
        };
        let new = new.to_string();
        self.prefix_offset = self.read_offset;
        self.read_offset = self.ids.len();
        // Ids in front of the window are never decoded again.
        self.ids.drain(..self.prefix_offset);
        self.read_offset -= self.prefix_offset;
        self.prefix_offset = 0;
        Ok(Some(new))
    }

    /// Flushes what the remaining ids decode to, even if it ends in an incomplete character
    /// (shown as U+FFFD, exactly as a full decode shows it). Call once generation has stopped.
    pub fn finish(&mut self) -> Result<Option<String>> {
        if self.read_offset == self.ids.len() {
            return Ok(None);
        }
        let emitted = self.tokenizer.decode_raw(
            &self.ids[self.prefix_offset..self.read_offset],
            self.skip_special_tokens,
        )?;
        let text = self
            .tokenizer
            .decode_raw(&self.ids[self.prefix_offset..], self.skip_special_tokens)?;
        self.prefix_offset = self.read_offset;
        self.read_offset = self.ids.len();
        match text.strip_prefix(emitted.as_str()) {
            Some("") => Ok(None),
            Some(rest) => Ok(Some(rest.to_string())),
            None => Err(Error::StreamPrefix {
                token_id: self.ids.last().copied().unwrap_or_default(),
                prefix: emitted,
                text,
            }),
        }
    }

    /// Number of ids fed so far that are still held in the window.
    pub fn pending(&self) -> usize {
        self.ids.len() - self.read_offset
    }
}
