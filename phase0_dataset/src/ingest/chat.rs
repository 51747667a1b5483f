//! Conversation parsers: Anthropic-HH `"\n\nHuman: … \n\nAssistant: …"` transcripts
//! (Anthropic/hh-rlhf on the HF hub), ShareGPT `conversations` with `from`/`value` turns, and
//! ChatML/OpenAI `messages` with `role`/`content` (content may be a list of text parts).

use serde_json::Value;

use super::RowError;
use crate::schema::{Message, Role};

const HUMAN: &str = "\n\nHuman:";
const ASSISTANT: &str = "\n\nAssistant:";

/// Parses an Anthropic-HH transcript into alternating user/assistant turns.
///
/// The transcript must start with a `Human:` turn, alternate, and end with a non-empty
/// `Assistant:` turn; anything else is a row error naming the offending turn.
pub fn parse_hh(transcript: &str) -> Result<Vec<Message>, RowError> {
    // Transcripts start with "\n\nHuman:"; tolerate a missing leading blank line.
    let text = if transcript.starts_with("Human:") {
        format!("\n\n{transcript}")
    } else {
        transcript.to_owned()
    };
    let mut marks: Vec<(usize, Role, usize)> = Vec::new();
    for (pos, _) in text.match_indices(HUMAN) {
        marks.push((pos, Role::User, HUMAN.len()));
    }
    for (pos, _) in text.match_indices(ASSISTANT) {
        marks.push((pos, Role::Assistant, ASSISTANT.len()));
    }
    marks.sort_by_key(|m| m.0);
    let Some(first) = marks.first() else {
        return Err(RowError::Transcript(
            "no `Human:`/`Assistant:` turn markers".into(),
        ));
    };
    if !text[..first.0].trim().is_empty() {
        return Err(RowError::Transcript(
            "text before the first `Human:` turn".into(),
        ));
    }
    let mut out: Vec<Message> = Vec::with_capacity(marks.len());
    for (i, &(pos, role, len)) in marks.iter().enumerate() {
        let end = marks.get(i + 1).map_or(text.len(), |m| m.0);
        let content = text[pos + len..end].trim();
        let turn = i + 1;
        match (out.last().map(|m| m.role), role) {
            (None, Role::Assistant) => {
                return Err(RowError::Transcript(
                    "transcript starts with an `Assistant:` turn".into(),
                ));
            }
            (Some(prev), r) if prev == r => {
                return Err(RowError::Transcript(format!(
                    "turn {turn} repeats the {} role",
                    role_name(r)
                )));
            }
            _ => {}
        }
        if content.is_empty() {
            return Err(RowError::Transcript(format!(
                "turn {turn} ({}) is empty",
                role_name(role)
            )));
        }
        out.push(Message::new(role, content));
    }
    if out.last().map(|m| m.role) != Some(Role::Assistant) {
        return Err(RowError::Transcript(
            "transcript does not end with an `Assistant:` turn".into(),
        ));
    }
    Ok(out)
}

/// Parses a ShareGPT (`from`/`value`) or ChatML (`role`/`content`) turn list.
///
/// Trailing user turns (a conversation cut off before the reply) are dropped and counted in the
/// second return value; a conversation without a user turn and an assistant reply is an error.
pub fn parse_turns(turns: &Value, field: &str) -> Result<(Vec<Message>, usize), RowError> {
    let Value::Array(items) = turns else {
        return Err(RowError::WrongType {
            field: field.to_owned(),
            expected: "an array of turns",
        });
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let turn = i + 1;
        let Value::Object(obj) = item else {
            return Err(RowError::Conversation(format!(
                "turn {turn} is not an object"
            )));
        };
        let role_raw = obj
            .get("from")
            .or_else(|| obj.get("role"))
            .and_then(Value::as_str)
            .ok_or_else(|| RowError::Conversation(format!("turn {turn} has no `from`/`role`")))?;
        let role = map_role(role_raw).ok_or_else(|| {
            RowError::Conversation(format!("turn {turn} has unknown role `{role_raw}`"))
        })?;
        let content = match obj.get("value").or_else(|| obj.get("content")) {
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Array(parts)) => text_parts(parts).ok_or_else(|| {
                RowError::Conversation(format!("turn {turn} has non-text content parts"))
            })?,
            Some(Value::Null) | None => {
                return Err(RowError::Conversation(format!(
                    "turn {turn} has no `value`/`content`"
                )));
            }
            Some(_) => {
                return Err(RowError::Conversation(format!(
                    "turn {turn} content is not a string"
                )));
            }
        };
        if content.is_empty() {
            return Err(RowError::Conversation(format!("turn {turn} is empty")));
        }
        out.push(Message::new(role, content));
    }
    let mut dropped = 0;
    while out.last().is_some_and(|m| m.role != Role::Assistant) {
        out.pop();
        dropped += 1;
    }
    if !out.iter().any(|m| m.role == Role::User) || out.is_empty() {
        return Err(RowError::Conversation(
            "no user turn followed by an assistant reply".into(),
        ));
    }
    Ok((out, dropped))
}

/// ShareGPT and ChatML role names → our roles.
fn map_role(name: &str) -> Option<Role> {
    let r = match name.to_ascii_lowercase().as_str() {
        "human" | "user" | "prompter" => Role::User,
        "gpt" | "assistant" | "chatgpt" | "bing" | "bard" | "model" | "bot" => Role::Assistant,
        "system" => Role::System,
        "tool" | "function" | "observation" | "ipython" => Role::Tool,
        _ => return None,
    };
    Some(r)
}

/// Joins OpenAI-style `[{"type": "text", "text": ..}]` parts; `None` if any part is not text.
fn text_parts(parts: &[Value]) -> Option<String> {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Value::String(s) => out.push(s.as_str()),
            Value::Object(o) => out.push(o.get("text")?.as_str()?),
            _ => return None,
        }
    }
    Some(out.join("\n").trim().to_owned())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "human",
        Role::Assistant => "assistant",
        Role::System => "system",
        Role::Tool => "tool",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hh_transcript_alternates() {
        let t = "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?\n\nAssistant: 6.";
        let m = parse_hh(t).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], Message::new(Role::User, "What is 2+2?"));
        assert_eq!(m[3], Message::new(Role::Assistant, "6."));
    }

    #[test]
    fn hh_inline_marker_words_are_content() {
        let t = "\n\nHuman: Say 'Human: hi'\n\nAssistant: Human: hi";
        let m = parse_hh(t).unwrap();
        assert_eq!(m[0].content, "Say 'Human: hi'");
        assert_eq!(m[1].content, "Human: hi");
    }

    #[test]
    fn hh_errors_name_the_problem() {
        let e = parse_hh("\n\nHuman: a\n\nHuman: b\n\nAssistant: c").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad transcript: turn 2 repeats the human role"
        );
        let e = parse_hh("\n\nHuman: a\n\nAssistant: ").unwrap_err();
        assert_eq!(e.to_string(), "bad transcript: turn 2 (assistant) is empty");
        let e = parse_hh("\n\nHuman: a").unwrap_err();
        assert!(e.to_string().contains("does not end"));
        let e = parse_hh("plain text").unwrap_err();
        assert!(e.to_string().contains("no `Human:`"));
    }

    #[test]
    fn sharegpt_and_chatml_turns() {
        let v = json!([
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
            {"from": "human", "value": "Still there?"}
        ]);
        let (m, dropped) = parse_turns(&v, "conversations").unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].role, Role::System);
        let v = json!([
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": "Hello"}
        ]);
        let (m, _) = parse_turns(&v, "messages").unwrap();
        assert_eq!(m[0].content, "Hi");
        let v = json!([{"from": "alien", "value": "x"}]);
        assert_eq!(
            parse_turns(&v, "conversations").unwrap_err().to_string(),
            "bad conversation: turn 1 has unknown role `alien`"
        );
        let v = json!([{"role": "user", "content": "only a question"}]);
        assert!(parse_turns(&v, "messages").is_err());
    }
}
