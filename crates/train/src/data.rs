//! Training rows and the deterministic batch order: which rows form micro-batch `k` is a pure
//! function of `(seed, k)` (one Fisher–Yates shuffle per epoch), so a resumed run sees exactly
//! the batches the uninterrupted run would have.

use cogumi_model::TokenBatch;

use crate::error::{Error, Result};
use crate::loss::Targets;
use crate::rng::SplitMix64;

/// One fixed-length training row (packed or padded).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Token ids, `seq_len` long (padding included).
    pub ids: Vec<u32>,
    /// True on tokens the loss counts (response tokens).
    pub loss_mask: Vec<bool>,
    /// 1-based document index per token, 0 = padding (see `TokenBatch::packed`).
    pub segment: Vec<u32>,
}

impl Row {
    /// A single unpacked document, right-padded to `seq_len` with `pad`.
    pub fn padded(ids: &[u32], loss_mask: &[bool], seq_len: usize, pad: u32) -> Result<Self> {
        if ids.len() != loss_mask.len() || ids.len() > seq_len || ids.is_empty() {
            return Err(Error::Config(format!(
                "row of {} ids / {} mask entries does not fit seq_len {seq_len}",
                ids.len(),
                loss_mask.len()
            )));
        }
        let mut r = Row {
            ids: ids.to_vec(),
            loss_mask: loss_mask.to_vec(),
            segment: vec![1; ids.len()],
        };
        r.ids.resize(seq_len, pad);
        r.loss_mask.resize(seq_len, false);
        r.segment.resize(seq_len, 0);
        Ok(r)
    }

    /// Non-padding tokens.
    pub fn tokens(&self) -> usize {
        self.segment.iter().filter(|s| **s != 0).count()
    }
}

/// Stacks rows of equal length into the model's input and the shifted loss targets.
pub fn collate(rows: &[&Row]) -> Result<(TokenBatch, Targets)> {
    let seq = rows.first().map(|r| r.ids.len()).unwrap_or(0);
    if rows
        .iter()
        .any(|r| r.ids.len() != seq || r.loss_mask.len() != seq || r.segment.len() != seq)
    {
        return Err(Error::Config(
            "rows in one batch must all have the same length".into(),
        ));
    }
    let b = rows.len();
    let mut ids = Vec::with_capacity(b * seq);
    let mut seg = Vec::with_capacity(b * seq);
    let mut mask = Vec::with_capacity(b * seq);
    for r in rows {
        ids.extend_from_slice(&r.ids);
        seg.extend_from_slice(&r.segment);
        // A target only counts inside the same document as its predecessor.
        for t in 0..seq {
            let same_doc = t > 0 && r.segment[t] != 0 && r.segment[t] == r.segment[t - 1];
            mask.push(r.loss_mask[t] && same_doc);
        }
    }
    let targets = Targets::shifted(&ids, &mask, b, seq);
    let batch = TokenBatch::packed(ids, seg, b, seq)?;
    Ok((batch, targets))
}

/// The order micro-batches are drawn in.
#[derive(Debug, Clone)]
pub struct BatchOrder {
    rows: usize,
    micro_batch: usize,
    seed: u64,
    shuffle: bool,
}

impl BatchOrder {
    /// `rows` rows in micro-batches of `micro_batch`, reshuffled every epoch from `seed`.
    pub fn new(rows: usize, micro_batch: usize, seed: u64, shuffle: bool) -> Result<Self> {
        if rows == 0 || micro_batch == 0 {
            return Err(Error::Config(format!(
                "no batches: {rows} rows, micro-batch {micro_batch}"
            )));
        }
        Ok(BatchOrder {
            rows,
            micro_batch,
            seed,
            shuffle,
        })
    }

    /// Micro-batches per epoch (the last one may be short).
    pub fn per_epoch(&self) -> usize {
        self.rows.div_ceil(self.micro_batch)
    }

    /// Row indices of micro-batch `k` (counting across epochs).
    pub fn batch(&self, k: u64) -> Vec<usize> {
        let per = self.per_epoch() as u64;
        let epoch = k / per;
        let within = (k % per) as usize;
        let mut perm: Vec<usize> = (0..self.rows).collect();
        if self.shuffle {
            SplitMix64::stream(self.seed, epoch + 1).shuffle(&mut perm);
        }
        let start = within * self.micro_batch;
        perm[start..(start + self.micro_batch).min(self.rows)].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_seen_once_per_epoch_and_order_is_reproducible() {
        let o = BatchOrder::new(10, 3, 42, true).unwrap();
        assert_eq!(o.per_epoch(), 4);
        for epoch in 0..2u64 {
            let mut seen: Vec<usize> = (0..4).flat_map(|k| o.batch(epoch * 4 + k)).collect();
            seen.sort();
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
        }
        assert_eq!(
            o.batch(5),
            BatchOrder::new(10, 3, 42, true).unwrap().batch(5)
        );
        assert_ne!(o.batch(0), o.batch(4), "each epoch reshuffles");
    }

    #[test]
    fn collate_masks_targets_across_documents_and_padding() {
        // Two documents packed in one row: [1 2 3 | 4 5] + pad.
        let r = Row {
            ids: vec![1, 2, 3, 4, 5, 0],
            loss_mask: vec![false, true, true, true, true, false],
            segment: vec![1, 1, 1, 2, 2, 0],
        };
        let (batch, t) = collate(&[&r]).unwrap();
        assert_eq!(batch.positions(), vec![0, 1, 2, 0, 1, 0]);
        // Position 0 predicts 2, 1 predicts 3; 2 must not predict 4 (new document); 3 predicts 5.
        assert_eq!(t.weight, vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(&t.ids[..4], &[2, 3, 0, 5]);
    }
}
