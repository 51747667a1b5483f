//! Row-level transforms phase 1 applies before tokenising: bidirectional pairs (the reverse
//! "instruction back-translation" task of Li et al., "Self-Alignment with Instruction
//! Backtranslation", 2023, used here as extra supervision), defined here, plus — re-exported
//! from `mix.rs` and `decontam.rs` — deterministic weighted mixing of sources and removal of
//! rows overlapping evaluation sets.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::chat_encode::user_text;
use crate::schema::{Example, Role};

pub use crate::decontam::{
    DEFAULT_NGRAM, Removed, decontaminate, decontaminate_ignoring_common, normalized_words,
};
pub use crate::mix::{MixResult, SourceCount, mix};

/// The default reverse-task instruction; `{response}` is replaced by the original response.
pub const DEFAULT_REVERSE_TEMPLATE: &str = "Here is a response written by an assistant:\n\n{response}\n\nWrite the instruction (with any input it needs) that this response answers.";

/// Suffix of a reverse row's id: `<original id>~rev`.
pub const REVERSE_ID_SUFFIX: &str = "~rev";

/// Options of [`bidirectional`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BidirOptions {
    /// Instruction of the reverse row. The first `{response}` is replaced by the original
    /// response; a template without it gets the response in the row's `input` instead.
    pub template: String,
}

impl Default for BidirOptions {
    fn default() -> Self {
        Self {
            template: DEFAULT_REVERSE_TEMPLATE.to_string(),
        }
    }
}

/// What [`bidirectional`] produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BidirResult {
    /// Forward rows (in input order), each followed by its reverse row when there is one.
    pub examples: Vec<Example>,
    /// Number of forward rows kept.
    pub forward: usize,
    /// Number of reverse rows added.
    pub reverse: usize,
    /// Rows that got no reverse row, by reason: `no_response` (dropped entirely: the response is
    /// blank), `multi_turn` and `empty_prompt` (kept forward only).
    pub skipped: BTreeMap<String, usize>,
}

/// The (prompt, response) of a single-turn row or a chat whose non-system turns are exactly one
/// user then one assistant turn; `Err(reason)` otherwise.
fn single_pair(ex: &Example) -> std::result::Result<(String, String), &'static str> {
    match &ex.messages {
        None => Ok((user_text(&ex.instruction, &ex.input), ex.output.clone())),
        Some(turns) => {
            let rest: Vec<_> = turns.iter().filter(|t| t.role != Role::System).collect();
            match rest[..] {
                [u, a] if u.role == Role::User && a.role == Role::Assistant => {
                    Ok((u.content.clone(), a.content.clone()))
                }
                _ if ex.response_text().trim().is_empty() => Err("no_response"),
                _ => Err("multi_turn"),
            }
        }
    }
}

fn with_direction(mut ex: Example, direction: &str) -> Example {
    ex.meta
        .insert("direction".into(), Value::from(direction.to_string()));
    ex
}

/// Keeps every usable row as the forward pair (`meta.direction = "forward"`) and, for
/// single-turn rows (or one user + one assistant turn, system turns ignored), adds a reverse
/// row right after it: instruction from `opts.template` around the response, output the
/// original prompt (`instruction` + `"\n\n"` + `input`, or the user turn), id
/// `<id>~rev`, `meta.direction = "reverse"` and `meta.reverse_of = <id>`, no `answer` (the
/// checker grades the forward task). Source, domain, difficulty and language are copied.
pub fn bidirectional(examples: &[Example], opts: &BidirOptions) -> BidirResult {
    let mut out = BidirResult::default();
    let mut skip = |reason: &str| *out.skipped.entry(reason.to_string()).or_default() += 1;
    let mut rows = Vec::with_capacity(examples.len() * 2);
    let mut reverse = 0;
    for ex in examples {
        let (prompt, response) = match single_pair(ex) {
            Ok(pair) => pair,
            Err("no_response") => {
                skip("no_response");
                continue;
            }
            Err(reason) => {
                skip(reason);
                rows.push(with_direction(ex.clone(), "forward"));
                continue;
            }
        };
        if response.trim().is_empty() {
            skip("no_response");
            continue;
        }
        rows.push(with_direction(ex.clone(), "forward"));
        if prompt.trim().is_empty() {
            skip("empty_prompt");
            continue;
        }
        let (instruction, input) = if opts.template.contains("{response}") {
            (
                opts.template.replacen("{response}", &response, 1),
                String::new(),
            )
        } else {
            (opts.template.clone(), response)
        };
        let mut meta = ex.meta.clone();
        meta.insert("reverse_of".into(), Value::from(ex.id.clone()));
        rows.push(with_direction(
            Example {
                id: format!("{}{REVERSE_ID_SUFFIX}", ex.id),
                source: ex.source.clone(),
                instruction,
                input,
                output: prompt,
                domain: ex.domain,
                domain_rule: ex.domain_rule.clone(),
                difficulty: ex.difficulty,
                lang: ex.lang.clone(),
                lang_score: ex.lang_score,
                meta,
                ..Default::default()
            },
            "reverse",
        ));
        reverse += 1;
    }
    out.reverse = reverse;
    out.forward = rows.len() - reverse;
    out.examples = rows;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Domain, Message};

    fn single(id: &str, instruction: &str, input: &str, output: &str) -> Example {
        Example {
            id: id.into(),
            source: "src".into(),
            instruction: instruction.into(),
            input: input.into(),
            output: output.into(),
            domain: Some(Domain::Math),
            ..Default::default()
        }
    }

    fn chat(id: &str, turns: &[(Role, &str)]) -> Example {
        Example {
            id: id.into(),
            source: "src".into(),
            messages: Some(turns.iter().map(|&(r, c)| Message::new(r, c)).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn bidirectional_adds_one_reverse_row_per_single_turn_pair() {
        let rows = [
            single("a", "Add the numbers.", "2 and 3", "5"),
            single("b", "Name a colour.", "", "Blue"),
            chat(
                "c",
                &[
                    (Role::System, "Be terse."),
                    (Role::User, "Hi?"),
                    (Role::Assistant, "Hello."),
                ],
            ),
            chat(
                "d",
                &[
                    (Role::User, "1"),
                    (Role::Assistant, "2"),
                    (Role::User, "3"),
                    (Role::Assistant, "4"),
                ],
            ),
            single("e", "Say nothing.", "", "  "),
            single("f", "", "", "orphan"),
        ];
        let out = bidirectional(&rows, &BidirOptions::default());
        let ids: Vec<&str> = out.examples.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "a~rev", "b", "b~rev", "c", "c~rev", "d", "f"]);
        assert_eq!((out.forward, out.reverse), (5, 3));
        let skipped: Vec<(&str, usize)> =
            out.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            skipped,
            [("empty_prompt", 1), ("multi_turn", 1), ("no_response", 1)]
        );

        let rev = &out.examples[1];
        assert_eq!(
            rev.instruction,
            DEFAULT_REVERSE_TEMPLATE.replace("{response}", "5")
        );
        assert_eq!(
            (rev.input.as_str(), rev.output.as_str()),
            ("", "Add the numbers.\n\n2 and 3")
        );
        assert_eq!(
            (rev.source.as_str(), rev.domain),
            ("src", Some(Domain::Math))
        );
        assert_eq!(rev.meta["direction"], "reverse");
        assert_eq!(rev.meta["reverse_of"], "a");
        assert_eq!(out.examples[0].meta["direction"], "forward");
        assert_eq!(out.examples[0].output, "5");
        assert_eq!(out.examples[5].output, "Hi?");
        assert!(out.examples[5].instruction.contains("Hello."));
        assert!(out.examples[5].messages.is_none());

        let custom = BidirOptions {
            template: "What was asked?".into(),
        };
        let out = bidirectional(&rows[1..2], &custom);
        let rev = &out.examples[1];
        assert_eq!(
            (
                rev.instruction.as_str(),
                rev.input.as_str(),
                rev.output.as_str()
            ),
            ("What was asked?", "Blue", "Name a colour.")
        );
    }
}
