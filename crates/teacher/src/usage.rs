//! Token accounting: the `usage` object of each response (OpenAI API reference, "The
//! completion object" → `usage`) and the running totals a [`crate::Client`] keeps for cost
//! reports.
//!
//! Totals are atomic counters shared by every clone of a client, so concurrent requests
//! add up without a lock. Prices are the caller's business: [`UsageTotals::cost`] only
//! multiplies.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Token counts of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt (messages, tools, echoed text).
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated, over every choice.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Their sum, as the server reports it.
    #[serde(default)]
    pub total_tokens: u64,
}

/// Totals over every call made through one client (and its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Calls that returned a decoded response.
    pub succeeded: u64,
    /// Calls that ended in an error (after their retries).
    pub failed: u64,
    /// Retries made, over all calls.
    pub retries: u64,
    /// Successful responses that carried no `usage` object (their tokens are unknown).
    pub without_usage: u64,
    /// Sum of `usage.prompt_tokens`.
    pub prompt_tokens: u64,
    /// Sum of `usage.completion_tokens`.
    pub completion_tokens: u64,
}

impl UsageTotals {
    /// Prompt plus completion tokens.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// Cost at the given prices per million tokens (in whatever currency they are in).
    pub fn cost(&self, per_million_prompt: f64, per_million_completion: f64) -> f64 {
        (self.prompt_tokens as f64 * per_million_prompt
            + self.completion_tokens as f64 * per_million_completion)
            / 1e6
    }
}

/// The live counters behind [`UsageTotals`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    succeeded: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    without_usage: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

impl Counters {
    /// Records a decoded response.
    pub(crate) fn success(&self, usage: Option<&Usage>) {
        self.succeeded.fetch_add(1, Ordering::Relaxed);
        match usage {
            Some(u) => {
                self.prompt_tokens
                    .fetch_add(u.prompt_tokens, Ordering::Relaxed);
                self.completion_tokens
                    .fetch_add(u.completion_tokens, Ordering::Relaxed);
            }
            None => {
                self.without_usage.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records a call that gave up.
    pub(crate) fn failure(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one retry.
    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot. Counters are read one by one, so a snapshot taken while requests finish
    /// may mix before and after; each counter is exact on its own.
    pub(crate) fn totals(&self) -> UsageTotals {
        UsageTotals {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            without_usage: self.without_usage.load(Ordering::Relaxed),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            completion_tokens: self.completion_tokens.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_across_threads() {
        let counters = Counters::default();
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 3,
            total_tokens: 13,
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        counters.success(Some(&usage));
                    }
                });
            }
        });
        counters.success(None);
        counters.failure();
        counters.retry();
        let t = counters.totals();
        assert_eq!(
            (t.succeeded, t.failed, t.retries, t.without_usage),
            (401, 1, 1, 1)
        );
        assert_eq!(
            (t.prompt_tokens, t.completion_tokens, t.total_tokens()),
            (4000, 1200, 5200)
        );
        assert!((t.cost(1.0, 2.0) - 0.0064).abs() < 1e-12);
    }
}
