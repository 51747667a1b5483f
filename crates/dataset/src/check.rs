//! Machine-checkable answer specs carried by verifiable rows (the `answer` field), and the
//! checkers that grade a response against them. Python unit tests are stored, not run here:
//! the evaluation harness (phase 9) executes them in a sandbox.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How to check a response.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Check {
    /// The final answer (text after the last `Answer:`, or the whole response) equals `value`;
    /// numbers compare numerically, text case- and punctuation-insensitively.
    Exact {
        /// Expected value (a number, a letter, a span of a passage).
        value: Value,
    },
    /// Python source defining `entry_point`; every assert string must pass.
    PythonTests {
        /// Function the tests call.
        entry_point: String,
        /// `assert ...` statements.
        tests: Vec<String>,
    },
    /// The response is a JSON object `{"name": .., "arguments": {..}}` equal to this call.
    JsonCall {
        /// Tool name.
        name: String,
        /// Expected arguments (compared as JSON values; key order ignored).
        arguments: Value,
    },
    /// Every constraint holds on the response.
    Constraints {
        /// The constraints.
        constraints: Vec<Constraint>,
    },
    /// The response mentions every fact (case-insensitive) within `max_words` words.
    KeyFacts {
        /// Phrases that must appear.
        facts: Vec<String>,
        /// Upper bound on the summary length.
        max_words: usize,
    },
}

/// One verifiable formatting constraint (instruction-following tasks).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Constraint {
    /// At most `n` words.
    MaxWords {
        /// Bound.
        n: usize,
    },
    /// At least `n` words.
    MinWords {
        /// Bound.
        n: usize,
    },
    /// No lowercase letters.
    AllCaps,
    /// No uppercase letters.
    AllLowercase,
    /// Contains the keyword (case-insensitive).
    IncludeKeyword {
        /// Required word.
        keyword: String,
    },
    /// Does not contain the word (case-insensitive, whole word).
    ExcludeWord {
        /// Forbidden word.
        word: String,
    },
    /// Is a JSON object with exactly these keys.
    JsonObject {
        /// Required keys.
        keys: Vec<String>,
    },
    /// Has exactly `n` lines starting with `- `.
    BulletCount {
        /// Number of bullets.
        n: usize,
    },
    /// Ends with the phrase (ignoring trailing whitespace).
    EndsWith {
        /// Required ending.
        phrase: String,
    },
    /// Contains no comma.
    NoCommas,
}

impl Check {
    /// Whether `response` satisfies the check. `PythonTests` only checks that the entry point
    /// is defined; running the tests is the evaluation harness's job.
    pub fn verify(&self, response: &str) -> bool {
        match self {
            Check::Exact { value } => exact_matches(value, final_answer(response)),
            Check::PythonTests { entry_point, .. } => {
                response.contains(&format!("def {entry_point}("))
            }
            Check::JsonCall { name, arguments } => {
                match serde_json::from_str::<Value>(response.trim()) {
                    Ok(v) => {
                        v.get("name").and_then(Value::as_str) == Some(name.as_str())
                            && v.get("arguments") == Some(arguments)
                    }
                    Err(_) => false,
                }
            }
            Check::Constraints { constraints } => constraints.iter().all(|c| c.holds(response)),
            Check::KeyFacts { facts, max_words } => {
                let lower = response.to_lowercase();
                word_count(response) <= *max_words
                    && facts.iter().all(|f| lower.contains(&f.to_lowercase()))
            }
        }
    }
}

impl Constraint {
    /// Whether the constraint holds on `text`.
    pub fn holds(&self, text: &str) -> bool {
        match self {
            Constraint::MaxWords { n } => word_count(text) <= *n,
            Constraint::MinWords { n } => word_count(text) >= *n,
            Constraint::AllCaps => !text.chars().any(char::is_lowercase),
            Constraint::AllLowercase => !text.chars().any(char::is_uppercase),
            Constraint::IncludeKeyword { keyword } => {
                text.to_lowercase().contains(&keyword.to_lowercase())
            }
            Constraint::ExcludeWord { word } => {
                let w = word.to_lowercase();
                !text
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|t| t.to_lowercase() == w)
            }
            Constraint::JsonObject { keys } => match serde_json::from_str::<Value>(text.trim()) {
                Ok(Value::Object(m)) => {
                    m.len() == keys.len() && keys.iter().all(|k| m.contains_key(k))
                }
                _ => false,
            },
            Constraint::BulletCount { n } => {
                text.lines()
                    .filter(|l| l.trim_start().starts_with("- "))
                    .count()
                    == *n
            }
            Constraint::EndsWith { phrase } => text.trim_end().ends_with(phrase.as_str()),
            Constraint::NoCommas => !text.contains(','),
        }
    }
}

/// Whitespace-separated word count.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The text after the last `Answer:` marker (case-insensitive), or the whole response.
pub fn final_answer(response: &str) -> &str {
    let lower = response.to_ascii_lowercase();
    match lower.rfind("answer:") {
        Some(i) => response[i + "answer:".len()..].trim(),
        None => response.trim(),
    }
}

fn exact_matches(expected: &Value, got: &str) -> bool {
    let got = got.trim().trim_end_matches('.').trim();
    match expected {
        Value::Number(n) => {
            let cleaned: String = got.chars().filter(|c| *c != ',' && *c != '$').collect();
            match (n.as_f64(), cleaned.trim().parse::<f64>()) {
                (Some(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                _ => false,
            }
        }
        Value::String(s) => normalise(s) == normalise(got),
        other => serde_json::from_str::<Value>(got).is_ok_and(|v| v == *other),
    }
}

fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_numbers_and_text() {
        let c = Check::Exact { value: json!(42) };
        assert!(c.verify("6 * 7 = 42.\nAnswer: 42"));
        assert!(c.verify("Answer: 42.0"));
        assert!(!c.verify("Answer: 43"));
        let c = Check::Exact { value: json!("B") };
        assert!(c.verify("Answer: b."));
        assert!(!c.verify("Answer: C"));
        let c = Check::Exact {
            value: json!("Marlow Creek"),
        };
        assert!(c.verify("marlow creek"));
    }

    #[test]
    fn json_call_ignores_key_order() {
        let c = Check::JsonCall {
            name: "get_weather".into(),
            arguments: json!({"city": "Lisbon", "unit": "celsius"}),
        };
        assert!(
            c.verify(r#"{"name":"get_weather","arguments":{"unit":"celsius","city":"Lisbon"}}"#)
        );
        assert!(
            !c.verify(r#"{"name":"get_weather","arguments":{"city":"Porto","unit":"celsius"}}"#)
        );
        assert!(!c.verify("get_weather(Lisbon)"));
    }

    #[test]
    fn constraints() {
        let c = Check::Constraints {
            constraints: vec![
                Constraint::AllCaps,
                Constraint::MaxWords { n: 4 },
                Constraint::IncludeKeyword {
                    keyword: "river".into(),
                },
            ],
        };
        assert!(c.verify("THE RIVER FLOWS"));
        assert!(!c.verify("The river flows"));
        assert!(!c.verify("THE RIVER FLOWS VERY FAST"));
        assert!(Constraint::ExcludeWord { word: "the".into() }.holds("then there"));
        assert!(!Constraint::ExcludeWord { word: "the".into() }.holds("The end"));
        assert!(
            Constraint::JsonObject {
                keys: vec!["a".into(), "b".into()]
            }
            .holds(r#"{"b":1,"a":2}"#)
        );
        assert!(Constraint::BulletCount { n: 2 }.holds("intro\n- a\n- b"));
        assert!(!Constraint::NoCommas.holds("a, b"));
    }

    #[test]
    fn key_facts() {
        let c = Check::KeyFacts {
            facts: vec!["1847".into(), "wool".into()],
            max_words: 10,
        };
        assert!(c.verify("Founded in 1847, the town exports wool."));
        assert!(!c.verify("Founded in 1847."));
    }

    #[test]
    fn check_json_shape() {
        let c = Check::Exact { value: json!(5) };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"type":"exact","value":5}"#
        );
        let c = Check::Constraints {
            constraints: vec![Constraint::MaxWords { n: 3 }],
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"type":"constraints","constraints":[{"kind":"max_words","n":3}]}"#
        );
    }
}
