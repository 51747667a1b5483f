//! Evaluation decontamination: drop every training row that shares a word n-gram (13 by
//! default) with an evaluation text, or that equals a short evaluation text outright. Follows
//! GPT-3's contamination filter (Brown et al. 2020, appendix C: 13-grams) and lm-evaluation-
//! harness's `decontamination/janitor.py` (lowercase, punctuation deleted, whitespace words).
//!
//! # Rule
//!
//! * **Words**: the text is lowercased, split on whitespace, and every character that is not
//!   alphanumeric is deleted from each word (`"Don't!"` → `dont`); empty words vanish.
//! * **n-gram overlap**: a row is removed when any `n` consecutive words of its text
//!   ([`crate::example_text`]: every field, system turns included) also occur consecutively in
//!   an evaluation text.
//! * **Short texts**: an evaluation text with fewer than `n` words has no n-gram; a row is
//!   removed when one of its fields (instruction, input, output, a message, the whole prompt or
//!   the whole response) has exactly the same words.
//!
//! The evaluation side is indexed in a hash map of 64-bit xxh3 n-gram hashes; every hit is
//! confirmed word by word before a row is removed, so a hash collision can never drop a row.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::load::example_text;
use crate::schema::Example;

/// The n-gram length GPT-3 and lm-evaluation-harness use.
pub const DEFAULT_NGRAM: usize = 13;

/// A training row removed by [`decontaminate`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// Id of the removed row.
    pub id: String,
    /// Why: `13-gram overlap: "…"` or `exact match (instruction): "…"`.
    pub reason: String,
    /// Index into `eval_texts` of the text it matched.
    pub matched_eval_index: usize,
}

/// The normalised words of `text` (rule in the module docs).
pub fn normalized_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn word_hashes(words: &[String]) -> Vec<u64> {
    words.iter().map(|w| xxh3_64(w.as_bytes())).collect()
}

/// Hash of a run of word hashes (an n-gram, or a whole short text).
fn run_hash(hashes: &[u64]) -> u64 {
    let mut bytes = Vec::with_capacity(hashes.len() * 8);
    for h in hashes {
        bytes.extend_from_slice(&h.to_le_bytes());
    }
    xxh3_64(&bytes)
}

/// The evaluation side: n-gram hashes → (text, start word), short-text hashes → text.
struct EvalIndex {
    n: usize,
    words: Vec<Vec<String>>,
    grams: HashMap<u64, (usize, usize)>,
    short: HashMap<u64, usize>,
}

impl EvalIndex {
    fn new(eval_texts: &[String], n: usize) -> Self {
        let mut index = EvalIndex {
            n,
            words: Vec::with_capacity(eval_texts.len()),
            grams: HashMap::new(),
            short: HashMap::new(),
        };
        for (e, text) in eval_texts.iter().enumerate() {
            let words = normalized_words(text);
            let hashes = word_hashes(&words);
            if words.len() >= n {
                for (start, gram) in hashes.windows(n).enumerate() {
                    index.grams.entry(run_hash(gram)).or_insert((e, start));
                }
            } else if !words.is_empty() {
                index.short.entry(run_hash(&hashes)).or_insert(e);
            }
            index.words.push(words);
        }
        index
    }

    /// The first n-gram of `words` found in an evaluation text: (eval index, start in `words`).
    fn ngram_hit(&self, words: &[String]) -> Option<(usize, usize)> {
        let hashes = word_hashes(words);
        hashes.windows(self.n).enumerate().find_map(|(at, gram)| {
            let &(e, start) = self.grams.get(&run_hash(gram))?;
            let theirs = &self.words[e][start..start + self.n];
            (theirs == &words[at..at + self.n]).then_some((e, at))
        })
    }

    /// Every n-gram of `words` found in an evaluation text: (n-gram hash, eval index, start).
    fn ngram_hits(&self, words: &[String]) -> Vec<(u64, usize, usize)> {
        let hashes = word_hashes(words);
        let mut out = Vec::new();
        for (at, gram) in hashes.windows(self.n).enumerate() {
            let h = run_hash(gram);
            if let Some(&(e, start)) = self.grams.get(&h)
                && self.words[e][start..start + self.n] == words[at..at + self.n]
            {
                out.push((h, e, at));
            }
        }
        out
    }

    /// The evaluation text whose words are exactly `words`, if it is a short one.
    fn short_hit(&self, words: &[String]) -> Option<usize> {
        if words.is_empty() || words.len() >= self.n {
            return None;
        }
        let &e = self.short.get(&run_hash(&word_hashes(words)))?;
        (self.words[e] == words).then_some(e)
    }
}

/// The fields compared with short evaluation texts, with their names.
fn fields(ex: &Example) -> Vec<(String, String)> {
    let mut out = vec![
        ("instruction".to_string(), ex.instruction.clone()),
        ("input".to_string(), ex.input.clone()),
        ("output".to_string(), ex.output.clone()),
        ("prompt".to_string(), ex.prompt_text()),
        ("response".to_string(), ex.response_text()),
    ];
    for (i, m) in ex.messages.iter().flatten().enumerate() {
        out.push((format!("messages[{i}]"), m.content.clone()));
    }
    out
}

/// Splits `train` into the rows kept (in order) and the rows removed, by the rule in the module
/// docs with n-grams of `n` words ([`DEFAULT_NGRAM`] = 13 is the usual choice; `n = 0` is read
/// as 1).
pub fn decontaminate(
    train: Vec<Example>,
    eval_texts: &[String],
    n: usize,
) -> (Vec<Example>, Vec<Removed>) {
    let n = n.max(1);
    let _span = tracing::info_span!(
        "decontaminate",
        rows = train.len(),
        eval = eval_texts.len(),
        n
    )
    .entered();
    decontaminate_ignoring_common(train, eval_texts, n, None)
}

/// [`decontaminate`], except that an n-gram shared by more than `max_train_rows` training rows
/// is treated as boilerplate (a prompt template, a licence line), not as leakage: templated
/// curricula share long instructions between every row of a task, and a copied evaluation item
/// shows up in one or two rows, not in hundreds. `None` = every shared n-gram counts.
pub fn decontaminate_ignoring_common(
    train: Vec<Example>,
    eval_texts: &[String],
    n: usize,
    max_train_rows: Option<usize>,
) -> (Vec<Example>, Vec<Removed>) {
    let n = n.max(1);
    let index = EvalIndex::new(eval_texts, n);
    // How many training rows contain each shared n-gram (only n-grams that hit an eval text).
    let common: std::collections::HashSet<u64> = match max_train_rows {
        None => Default::default(),
        Some(limit) => {
            let mut df: HashMap<u64, usize> = HashMap::new();
            for ex in &train {
                let words = normalized_words(&example_text(ex));
                let mut seen: Vec<u64> =
                    index.ngram_hits(&words).into_iter().map(|h| h.0).collect();
                seen.sort_unstable();
                seen.dedup();
                for h in seen {
                    *df.entry(h).or_default() += 1;
                }
            }
            df.into_iter()
                .filter(|&(_, c)| c > limit)
                .map(|(h, _)| h)
                .collect()
        }
    };
    let mut kept = Vec::with_capacity(train.len());
    let mut removed = Vec::new();
    for ex in train {
        let words = normalized_words(&example_text(&ex));
        let first = if common.is_empty() {
            index.ngram_hit(&words)
        } else {
            index
                .ngram_hits(&words)
                .into_iter()
                .find(|(h, _, _)| !common.contains(h))
                .map(|(_, e, at)| (e, at))
        };
        let hit = match first {
            Some((e, at)) => Some((
                e,
                format!("{n}-gram overlap: {:?}", words[at..at + n].join(" ")),
            )),
            None if index.short.is_empty() => None,
            None => fields(&ex).into_iter().find_map(|(name, text)| {
                let w = normalized_words(&text);
                let e = index.short_hit(&w)?;
                Some((e, format!("exact match ({name}): {:?}", w.join(" "))))
            }),
        };
        match hit {
            Some((matched_eval_index, reason)) => removed.push(Removed {
                id: ex.id,
                reason,
                matched_eval_index,
            }),
            None => kept.push(ex),
        }
    }
    tracing::debug!(kept = kept.len(), removed = removed.len(), "decontaminated");
    (kept, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Message, Role};

    fn row(id: &str, instruction: &str, output: &str) -> Example {
        Example {
            id: id.into(),
            source: "t".into(),
            instruction: instruction.into(),
            output: output.into(),
            ..Default::default()
        }
    }

    const EVAL: &str = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?";

    /// The first `k` words of EVAL starting at word `from`, with the original punctuation.
    fn eval_words(from: usize, k: usize) -> String {
        EVAL.split_whitespace()
            .skip(from)
            .take(k)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn words_are_lowercased_without_punctuation() {
        assert_eq!(
            normalized_words("Don't  STOP, me-now!\n ... Élan 42"),
            ["dont", "stop", "menow", "élan", "42"]
        );
    }

    #[test]
    fn thirteen_gram_is_caught_and_twelve_gram_is_not() {
        let evals = vec![
            EVAL.to_string(),
            "An unrelated second evaluation text.".to_string(),
        ];
        let planted13 = format!(
            "Consider this. {} Then answer briefly.",
            eval_words(3, 13).to_uppercase()
        );
        let planted12 = format!("Consider this. {} Then answer briefly.", eval_words(3, 12));
        // Twelve shared words on each side of a changed word: still no 13-gram.
        let split = format!("{} banana {}", eval_words(0, 12), eval_words(13, 12));
        let train = vec![
            row("a", "Solve it.", &planted13),
            row("b", "Solve it.", &planted12),
            row("c", &split, "42"),
            row("d", "Write a poem about the sea.", "Waves."),
        ];
        let (kept, removed) = decontaminate(train, &evals, DEFAULT_NGRAM);
        let kept: Vec<&str> = kept.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(kept, ["b", "c", "d"]);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].id, "a");
        assert_eq!(removed[0].matched_eval_index, 0);
        assert_eq!(
            removed[0].reason,
            "13-gram overlap: \"to 48 of her friends in april and then she sold half as\""
        );
    }

    #[test]
    fn overlap_across_fields_and_chat_turns_counts() {
        let evals = vec![EVAL.to_string()];
        let chat = Example {
            id: "chat".into(),
            source: "t".into(),
            messages: Some(vec![
                Message::new(Role::System, eval_words(0, 7)),
                Message::new(Role::User, eval_words(7, 6)),
                Message::new(Role::Assistant, "ok"),
            ]),
            ..Default::default()
        };
        let (kept, removed) = decontaminate(vec![chat], &evals, 13);
        assert!(kept.is_empty());
        assert_eq!(removed[0].id, "chat");
    }

    #[test]
    fn short_eval_texts_match_whole_fields_only() {
        let evals = vec![
            "What is the capital of France?".to_string(),
            EVAL.to_string(),
        ];
        let train = vec![
            row("exact", "what is the CAPITAL of france", "Paris"),
            row(
                "inside",
                "Quiz: what is the capital of France? Answer in one word.",
                "Paris",
            ),
            row(
                "output",
                "Repeat the question.",
                "What is the capital of France?",
            ),
        ];
        let (kept, removed) = decontaminate(train, &evals, 13);
        assert_eq!(
            kept.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["inside"]
        );
        assert_eq!(
            removed[0].reason,
            "exact match (instruction): \"what is the capital of france\""
        );
        assert_eq!(
            removed[1].reason,
            "exact match (output): \"what is the capital of france\""
        );
        assert!(removed.iter().all(|r| r.matched_eval_index == 0));
    }

    #[test]
    fn scales_to_many_rows() {
        let evals: Vec<String> = (0..500)
            .map(|i| format!("evaluation item {i} asks about topic {} in detail with several words of context here", i * 7))
            .collect();
        let mut train: Vec<Example> = (0..20_000)
            .map(|i| {
                row(
                    &format!("r{i}"),
                    &format!(
                        "training row {i} talks about subject {} with its own wording and more",
                        i % 97
                    ),
                    "fine",
                )
            })
            .collect();
        train[12_345].output = format!("{} and so on", evals[321]);
        let (kept, removed) = decontaminate(train, &evals, 13);
        assert_eq!(kept.len(), 19_999);
        assert_eq!(
            (removed[0].id.as_str(), removed[0].matched_eval_index),
            ("r12345", 321)
        );
    }

    #[test]
    fn ngrams_shared_by_many_training_rows_are_boilerplate_not_leakage() {
        let template = "write a one sentence summary of no more than twenty five words of the text below please";
        let eval = vec![format!("{template}: the eval passage about volcanoes")];
        let mut train: Vec<Example> = (0..20)
            .map(|i| {
                row(
                    &format!("t{i}"),
                    &format!("{template}: passage number {i}"),
                    "ok",
                )
            })
            .collect();
        train.push(row(
            "leak",
            &format!("{template}: the eval passage about volcanoes"),
            "ok",
        ));
        let (kept, removed) = decontaminate(train.clone(), &eval, 13);
        assert_eq!(
            (kept.len(), removed.len()),
            (0, 21),
            "plain rule removes every templated row"
        );
        let (kept, removed) = decontaminate_ignoring_common(train, &eval, 13, Some(10));
        assert_eq!(kept.len(), 20);
        assert_eq!(removed.len(), 1);
        assert_eq!(
            removed[0].id, "leak",
            "the copied eval item is still caught"
        );
    }
}
