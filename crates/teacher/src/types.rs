//! Request and response bodies of `POST /v1/completions` and `POST /v1/chat/completions`,
//! following the OpenAI API reference ("Completions (legacy)" and "Chat Completions").
//!
//! Requests serialise only the fields that are set; `extra` passes server-specific
//! parameters through (vLLM's `top_k`, OpenRouter's `provider`, chat `logprobs`).
//! Responses tolerate unknown fields and `null` where a list or string is expected, since
//! OpenAI-compatible servers differ in what they fill in.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::usage::Usage;

/// Body of `POST /v1/completions`: one prompt, raw text in and out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model name; left empty, the client fills in the endpoint's model.
    #[serde(default)]
    pub model: String,
    /// The prompt text.
    pub prompt: String,
    /// Maximum tokens to generate (`0` with `echo` scores the prompt only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature; `0` is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Stop strings; generation ends before the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Sampling seed, where the server supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Completions per prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Return the log-probabilities of the sampled tokens and this many top alternatives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Echo the prompt (and its logprobs) before the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Any other body fields, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CompletionRequest {
    /// A request for `prompt` with the endpoint's model and server defaults for the rest.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            ..Self::default()
        }
    }
}

/// Body of `POST /v1/chat/completions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model name; left empty, the client fills in the endpoint's model.
    #[serde(default)]
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Maximum tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature; `0` is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Stop strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Sampling seed, where the server supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Choices to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Tool definitions, passed through unchanged (`[{"type":"function","function":…}]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Value>,
    /// Tool choice, passed through unchanged (`"auto"`, `"none"`, or an object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Any other body fields, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// A request for `messages` with the endpoint's model and server defaults for the rest.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }
}

/// One chat message, in a request or in a response choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`; kept as text so a new role
    /// never breaks decoding.
    pub role: String,
    /// Text content; `None` for an assistant turn that only calls tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Reasoning text, where a server returns it separately (DeepSeek, vLLM reasoning
    /// parsers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Tool calls made by the assistant.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tool_calls: Vec<ToolCall>,
    /// For `tool` messages: the call being answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    fn text(role: &str, content: impl Into<String>) -> Self {
        Self {
            role: role.to_owned(),
            content: Some(content.into()),
            ..Self::default()
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::text("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::text("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text("assistant", content)
    }

    /// A `tool` message answering the call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::text("tool", content)
        }
    }
}

/// A tool call in an assistant message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id, echoed back in the `tool` message.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    /// The function and its arguments.
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".to_owned()
}

/// The function named by a [`ToolCall`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    pub name: String,
    /// Arguments as a JSON text, as OpenAI sends them; servers that send a JSON object
    /// instead have it re-encoded as text.
    #[serde(default, deserialize_with = "json_text")]
    pub arguments: String,
}

/// Response of `POST /v1/completions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// Server-assigned id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The model that answered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// One choice per `n`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<CompletionChoice>,
    /// Token counts, when the server reports them.
    #[serde(default)]
    pub usage: Option<Usage>,
}

impl CompletionResponse {
    /// Text of the first choice.
    pub fn text(&self) -> Option<&str> {
        self.choices.first().map(|c| c.text.as_str())
    }
}

/// One completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// Position among the `n` choices.
    #[serde(default)]
    pub index: u32,
    /// Generated text (after the echoed prompt, if `echo`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub text: String,
    /// `stop`, `length`, … as the server reports it.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Token log-probabilities, when `logprobs` was asked for.
    #[serde(default)]
    pub logprobs: Option<CompletionLogprobs>,
}

/// The legacy completions `logprobs` object: parallel per-token arrays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionLogprobs {
    /// Token texts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tokens: Vec<String>,
    /// Natural-log probability of each token; `None` for the first echoed token.
    #[serde(default, deserialize_with = "null_as_default")]
    pub token_logprobs: Vec<Option<f64>>,
    /// The most likely alternatives at each position, token text to log-probability.
    #[serde(default)]
    pub top_logprobs: Option<Vec<Option<BTreeMap<String, f64>>>>,
    /// Character offset of each token in prompt + completion.
    #[serde(default, deserialize_with = "null_as_default")]
    pub text_offset: Vec<usize>,
}

/// Response of `POST /v1/chat/completions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// Server-assigned id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The model that answered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// One choice per `n`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<ChatChoice>,
    /// Token counts, when the server reports them.
    #[serde(default)]
    pub usage: Option<Usage>,
}

impl ChatResponse {
    /// Message of the first choice.
    pub fn message(&self) -> Option<&ChatMessage> {
        self.choices.first().map(|c| &c.message)
    }

    /// Text content of the first choice.
    pub fn content(&self) -> Option<&str> {
        self.message().and_then(|m| m.content.as_deref())
    }
}

/// One chat completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// Position among the `n` choices.
    #[serde(default)]
    pub index: u32,
    /// The assistant message.
    pub message: ChatMessage,
    /// `stop`, `length`, `tool_calls`, … as the server reports it.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// Decodes `null` as the type's default (servers send `"tool_calls": null`).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Decodes a JSON text, or any other JSON value re-encoded as text.
fn json_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unset_request_fields_are_not_sent() {
        let mut req = CompletionRequest::new("Hi");
        req.extra.insert("top_k".into(), json!(5));
        let body = serde_json::to_value(&req).unwrap();
        assert_eq!(body, json!({"model": "", "prompt": "Hi", "top_k": 5}));
    }

    #[test]
    fn lenient_chat_response() {
        let body = json!({
            "id": null, "object": "chat.completion", "system_fingerprint": "x",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}}]
        });
        let resp: ChatResponse = serde_json::from_value(body).unwrap();
        let call = &resp.message().unwrap().tool_calls[0];
        assert_eq!(
            (call.kind.as_str(), call.function.arguments.as_str()),
            ("function", r#"{"a":1}"#)
        );
        assert_eq!(resp.content(), None);
        assert_eq!(resp.usage, None);
        let plain: ChatMessage = serde_json::from_value(
            json!({"role": "assistant", "content": "x", "tool_calls": null}),
        )
        .unwrap();
        assert!(plain.tool_calls.is_empty());
    }

    #[test]
    fn echo_logprobs_with_leading_null() {
        let body = json!({"choices": [{"text": "", "logprobs": {
            "tokens": ["A", " B"], "token_logprobs": [null, -0.5],
            "top_logprobs": [null, {" B": -0.5}], "text_offset": [0, 1]}}]});
        let resp: CompletionResponse = serde_json::from_value(body).unwrap();
        let lp = resp.choices[0].logprobs.as_ref().unwrap();
        assert_eq!(lp.token_logprobs, vec![None, Some(-0.5)]);
        assert_eq!(
            lp.top_logprobs.as_ref().unwrap()[1].as_ref().unwrap()[" B"],
            -0.5
        );
    }
}
