//! A batch of token ids with a validity mask: the one input type of the model's forward pass.
//!
//! Mirrors transformers' `(input_ids, attention_mask)` pair, kept on the host because positions
//! and masks are derived from it before anything reaches the device.

use crate::error::{Error, Result};

/// `B` rows of `T` token ids, row-major, with `valid[i] == false` marking padding.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    ids: Vec<u32>,
    valid: Vec<bool>,
    batch: usize,
    seq: usize,
    /// Packed rows: 1-based document index per token (0 = padding). Documents attend only
    /// within themselves and their positions restart at 0.
    segments: Option<Vec<u32>>,
}

impl TokenBatch {
    /// One unpadded sequence.
    pub fn single(ids: &[u32]) -> Result<Self> {
        Self::new(ids.to_vec(), vec![true; ids.len()], 1, ids.len())
    }

    /// Row-major ids and mask. Errors on empty batches or length mismatches.
    pub fn new(ids: Vec<u32>, valid: Vec<bool>, batch: usize, seq: usize) -> Result<Self> {
        if batch == 0 || seq == 0 {
            return Err(Error::Input("empty batch".into()));
        }
        if ids.len() != batch * seq || valid.len() != batch * seq {
            return Err(Error::Input(format!(
                "batch of {batch}x{seq} needs {} ids and mask entries, got {} and {}",
                batch * seq,
                ids.len(),
                valid.len()
            )));
        }
        Ok(TokenBatch {
            ids,
            valid,
            batch,
            seq,
            segments: None,
        })
    }

    /// Packed rows: several documents per row, `segments[i]` the 1-based document index of
    /// token `i` within its row (0 = padding). Each document is attended causally by itself only
    /// and its positions restart at 0, as if it were alone in the row (no cross-contamination).
    pub fn packed(ids: Vec<u32>, segments: Vec<u32>, batch: usize, seq: usize) -> Result<Self> {
        let valid = segments.iter().map(|&s| s != 0).collect();
        let mut b = Self::new(ids, valid, batch, seq)?;
        if segments.len() != batch * seq {
            return Err(Error::Input(format!(
                "packed batch of {batch}x{seq} needs {} segment ids, got {}",
                batch * seq,
                segments.len()
            )));
        }
        b.segments = Some(segments);
        Ok(b)
    }

    /// Left-pads sequences of different lengths to the longest with `pad_id` (the layout
    /// batched generation needs: every row's next token is in the last column).
    pub fn left_padded(rows: &[Vec<u32>], pad_id: u32) -> Result<Self> {
        let seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len() * seq);
        let mut valid = Vec::with_capacity(rows.len() * seq);
        for row in rows {
            let pad = seq - row.len();
            ids.extend(std::iter::repeat_n(pad_id, pad));
            valid.extend(std::iter::repeat_n(false, pad));
            ids.extend_from_slice(row);
            valid.extend(std::iter::repeat_n(true, row.len()));
        }
        Self::new(ids, valid, rows.len(), seq)
    }

    /// Number of rows `B`.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Row length `T`.
    pub fn seq(&self) -> usize {
        self.seq
    }

    /// Row-major ids `[B·T]`.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Row-major validity `[B·T]`.
    pub fn valid(&self) -> &[bool] {
        &self.valid
    }

    /// Row-major document indices `[B·T]` of a packed batch.
    pub fn segments(&self) -> Option<&[u32]> {
        self.segments.as_deref()
    }

    /// Position ids `[B·T]` for a fresh (uncached) forward: the count of earlier real tokens in
    /// the row (left padding gets 0), restarting at each document of a packed row.
    pub fn positions(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.ids.len());
        for row in 0..self.batch {
            let mut seen = 0i64;
            let mut current = None;
            for j in 0..self.seq {
                let i = row * self.seq + j;
                if let Some(seg) = &self.segments
                    && current != Some(seg[i])
                {
                    current = Some(seg[i]);
                    seen = 0;
                }
                if self.valid[i] {
                    seen += 1;
                }
                out.push((seen - 1).max(0));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_padding_puts_tokens_last() {
        let b = TokenBatch::left_padded(&[vec![5, 6, 7], vec![9]], 0).unwrap();
        assert_eq!(b.ids(), &[5, 6, 7, 0, 0, 9]);
        assert_eq!(b.valid(), &[true, true, true, false, false, true]);
    }

    #[test]
    fn packed_positions_restart_per_document() {
        let b = TokenBatch::packed(vec![1, 2, 3, 4, 5, 0], vec![1, 1, 1, 2, 2, 0], 1, 6).unwrap();
        assert_eq!(b.positions(), vec![0, 1, 2, 0, 1, 0]);
        assert_eq!(b.valid(), &[true, true, true, true, true, false]);
        let l = TokenBatch::left_padded(&[vec![5, 6], vec![9]], 0).unwrap();
        assert_eq!(l.positions(), vec![0, 1, 0, 0]);
    }

    #[test]
    fn mismatched_lengths_are_rejected() {
        assert!(TokenBatch::new(vec![1, 2], vec![true], 1, 2).is_err());
        assert!(TokenBatch::single(&[]).is_err());
    }
}
