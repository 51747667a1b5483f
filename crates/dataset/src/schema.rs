//! The normalised example schema every phase 0 verb reads and writes: one JSON object per line
//! of a dataset artifact's `data.jsonl` (field list and rationale in the crate README).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Artifact kind of a normalised dataset (`data.jsonl` inside).
pub const DATASET_KIND: &str = "dataset";
/// File name of the rows inside a dataset artifact.
pub const DATA_FILE: &str = "data.jsonl";
/// File name of the rows a verb removed, each with its reason.
pub const REJECTED_FILE: &str = "rejected.jsonl";

/// Who speaks a chat turn.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// System prompt (instructions, tool schemas).
    System,
    /// The human side.
    User,
    /// The model side.
    Assistant,
    /// A tool result fed back to the model.
    Tool,
}

/// One chat turn.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Message {
    /// Speaker.
    pub role: Role,
    /// Text of the turn.
    pub content: String,
}

impl Message {
    /// A turn with `role` and `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// Domain tags (phase 0 issue, item 4), plus `general` for rows no rule claims.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Programming: writing, explaining or fixing code.
    Code,
    /// Arithmetic, algebra, word problems, proofs.
    Math,
    /// Logic puzzles, ordering, deduction.
    Reasoning,
    /// Natural-science questions.
    Science,
    /// Multi-turn chat and chit-chat.
    Conversation,
    /// Stories, poems, slogans.
    Creative,
    /// Calling a tool described by a schema.
    ToolUse,
    /// Answering from a given passage.
    Reading,
    /// Condensing a given text.
    Summarisation,
    /// Everyday knowledge, usually multiple choice.
    CommonSense,
    /// Following machine-checkable format constraints.
    InstructionFollowing,
    /// No rule fired.
    General,
}

impl Domain {
    /// Every domain, in report order.
    pub const ALL: [Domain; 12] = [
        Domain::Code,
        Domain::Math,
        Domain::Reasoning,
        Domain::Science,
        Domain::Conversation,
        Domain::Creative,
        Domain::ToolUse,
        Domain::Reading,
        Domain::Summarisation,
        Domain::CommonSense,
        Domain::InstructionFollowing,
        Domain::General,
    ];

    /// The snake_case name used in JSON and TOML.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Code => "code",
            Domain::Math => "math",
            Domain::Reasoning => "reasoning",
            Domain::Science => "science",
            Domain::Conversation => "conversation",
            Domain::Creative => "creative",
            Domain::ToolUse => "tool_use",
            Domain::Reading => "reading",
            Domain::Summarisation => "summarisation",
            Domain::CommonSense => "common_sense",
            Domain::InstructionFollowing => "instruction_following",
            Domain::General => "general",
        }
    }

    /// Parses a name, accepting common spellings (`coding`, `summarization`, `tool-use`).
    pub fn parse(name: &str) -> Option<Domain> {
        let n = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let d = match n.as_str() {
            "code" | "coding" => Domain::Code,
            "math" | "maths" => Domain::Math,
            "reasoning" => Domain::Reasoning,
            "science" => Domain::Science,
            "conversation" | "chat" => Domain::Conversation,
            "creative" => Domain::Creative,
            "tool_use" | "tools" => Domain::ToolUse,
            "reading" => Domain::Reading,
            "summarisation" | "summarization" => Domain::Summarisation,
            "common_sense" | "commonsense" => Domain::CommonSense,
            "instruction_following" => Domain::InstructionFollowing,
            "general" => Domain::General,
            _ => return None,
        };
        Some(d)
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Task difficulty (seed plan: easy and hard).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    /// One step, few entities.
    Easy,
    /// Several steps, distractors.
    Hard,
}

impl Difficulty {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Hard => "hard",
        }
    }
}

/// One normalised training example.
///
/// Either `messages` (chat data) or `instruction`/`input`/`output` (single-turn data) carries
/// the text; empty strings and `None`s are left out of the JSON.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Example {
    /// Stable id: `<source>-<16 hex digits of xxh3(file name, line, raw line)>`.
    pub id: String,
    /// Dataset the row came from (`alpaca_gpt4`, `dolly`, `synth`, …).
    pub source: String,
    /// Chat turns, for conversational sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// Task statement (single-turn sources).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instruction: String,
    /// Optional context for the instruction (single-turn sources).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub input: String,
    /// Reference response (single-turn sources).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// Domain tag, set by `domains` (or given by the source, e.g. synth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    /// Name of the rule that chose `domain` (e.g. `code:fence`, `synth:given`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_rule: Option<String>,
    /// Difficulty, when the source knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<Difficulty>,
    /// ISO 639-3 code from `lang` (`eng`), or `und` when the text is too short to judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Language-identification confidence in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang_score: Option<f64>,
    /// Everything else the source carried (original id, category, rejected reply, …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub meta: Map<String, Value>,
    /// Machine-checkable answer, for verifiable (synthetic) tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<crate::check::Check>,
}

impl Example {
    /// Text of the system turns (empty for single-turn rows).
    pub fn system_text(&self) -> String {
        self.join_roles(&[Role::System])
    }

    /// What the model is asked: `instruction` + `input`, or the user and tool turns.
    pub fn prompt_text(&self) -> String {
        match &self.messages {
            Some(_) => self.join_roles(&[Role::User, Role::Tool]),
            None => join_nonempty(&[&self.instruction, &self.input]),
        }
    }

    /// What the model answers: `output`, or the assistant turns.
    pub fn response_text(&self) -> String {
        match &self.messages {
            Some(_) => self.join_roles(&[Role::Assistant]),
            None => self.output.clone(),
        }
    }

    /// The text deduplication compares: prompt then response. System turns are left out on
    /// purpose: sources such as OpenOrca repeat a handful of system prompts over millions of
    /// rows, which would make unrelated short rows look alike.
    pub fn dedup_text(&self) -> String {
        match &self.messages {
            Some(m) => {
                let parts: Vec<&str> = m
                    .iter()
                    .filter(|t| t.role != Role::System)
                    .map(|t| t.content.as_str())
                    .collect();
                join_nonempty(&parts)
            }
            None => join_nonempty(&[&self.instruction, &self.input, &self.output]),
        }
    }

    /// Length of the response in characters (dedup keeps the longest member of a cluster).
    pub fn response_len(&self) -> usize {
        match &self.messages {
            Some(m) => m
                .iter()
                .filter(|t| t.role == Role::Assistant)
                .map(|t| t.content.chars().count())
                .sum(),
            None => self.output.chars().count(),
        }
    }

    /// Number of user turns (1 for single-turn rows).
    pub fn user_turns(&self) -> usize {
        match &self.messages {
            Some(m) => m.iter().filter(|t| t.role == Role::User).count(),
            None => 1,
        }
    }

    fn join_roles(&self, roles: &[Role]) -> String {
        let Some(m) = &self.messages else {
            return String::new();
        };
        let parts: Vec<&str> = m
            .iter()
            .filter(|t| roles.contains(&t.role))
            .map(|t| t.content.as_str())
            .collect();
        join_nonempty(&parts)
    }
}

/// Joins the non-empty parts with a newline.
fn join_nonempty(parts: &[&str]) -> String {
    let mut out = String::new();
    for p in parts.iter().filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(p);
    }
    out
}

/// A row removed by a verb, with the reason (written to `rejected.jsonl`).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Rejected {
    /// Why it was removed, e.g. `non-english: fra (0.93)`.
    pub reason: String,
    /// The row as it was.
    pub example: Example,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Example {
        Example {
            id: "x".into(),
            source: "s".into(),
            messages: Some(vec![
                Message::new(Role::System, "You are helpful."),
                Message::new(Role::User, "Hi"),
                Message::new(Role::Assistant, "Hello there"),
                Message::new(Role::User, "Bye"),
                Message::new(Role::Assistant, "Bye!"),
            ]),
            ..Default::default()
        }
    }

    #[test]
    fn dedup_text_skips_system_turns() {
        assert_eq!(chat().dedup_text(), "Hi\nHello there\nBye\nBye!");
        assert_eq!(chat().response_len(), "Hello there".len() + "Bye!".len());
        assert_eq!(chat().user_turns(), 2);
        assert_eq!(chat().system_text(), "You are helpful.");
    }

    #[test]
    fn single_turn_texts() {
        let e = Example {
            instruction: "Add".into(),
            input: "2 and 3".into(),
            output: "5".into(),
            ..Default::default()
        };
        assert_eq!(e.prompt_text(), "Add\n2 and 3");
        assert_eq!(e.dedup_text(), "Add\n2 and 3\n5");
        assert_eq!(e.response_len(), 1);
    }

    #[test]
    fn empty_fields_are_left_out_of_json() {
        let e = Example {
            id: "a".into(),
            source: "b".into(),
            instruction: "i".into(),
            output: "o".into(),
            ..Default::default()
        };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(
            s,
            r#"{"id":"a","source":"b","instruction":"i","output":"o"}"#
        );
        let back: Example = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn domain_names_round_trip() {
        for d in Domain::ALL {
            assert_eq!(Domain::parse(d.as_str()), Some(d));
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.as_str()));
        }
        assert_eq!(Domain::parse("Summarization"), Some(Domain::Summarisation));
        assert_eq!(Domain::parse("coding"), Some(Domain::Code));
        assert_eq!(Domain::parse("poetry"), None);
    }
}
