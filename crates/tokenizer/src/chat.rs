//! Chat templates: a Jinja `chat_template` compiled once and rendered over a conversation, as
//! transformers 4.57's `apply_chat_template(tokenize=False)` → `render_jinja_template` does. The
//! template sees `messages`, `tools`, `documents`, `add_generation_prompt`, the special-token
//! strings of `special_tokens_map` (`bos_token`, `eos_token`, ...) and any extra keyword values
//! (e.g. Llama-3.1's `date_string`), which override the special tokens.

use minijinja::Environment;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::jinja::{self, Raised};

/// One chat message. Extra fields (`tool_calls`, `name`, `tool_call_id`, ...) are passed to the
/// template as they are; a missing `content` is absent from the template's message, as in a Python
/// dict without the key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// "system", "user", "assistant", "tool", ...
    pub role: String,
    /// The text of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Any other fields of the message.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// A message with `role` and text `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: Some(content.into()),
            extra: Map::new(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }

    /// Adds (or replaces) an extra field such as `tool_calls`.
    pub fn with_field(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

/// Everything a chat template is rendered over.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<Message>,
    /// Append the header that opens the assistant's turn.
    #[serde(default)]
    pub add_generation_prompt: bool,
    /// Tool JSON schemas (a list), or `None` (the template sees `tools` = none, as in transformers).
    #[serde(default)]
    pub tools: Option<Value>,
    /// RAG documents (a list of `{title, text}`), or `None`.
    #[serde(default)]
    pub documents: Option<Value>,
    /// Extra template variables (transformers' `**kwargs`), e.g. `date_string`, `builtin_tools`,
    /// `enable_thinking`. They override the special-token variables.
    #[serde(default)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// A request over `messages` with no tools or extra variables.
    pub fn new(messages: Vec<Message>, add_generation_prompt: bool) -> Self {
        Self {
            messages,
            add_generation_prompt,
            ..Self::default()
        }
    }
}

/// The special-token strings a template sees, as transformers' `special_tokens_map` (unset or
/// empty tokens are left out, so `bos_token is defined` is false for a tokenizer without one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `bos_token`.
    pub bos: Option<String>,
    /// `eos_token`.
    pub eos: Option<String>,
    /// `unk_token`.
    pub unk: Option<String>,
    /// `sep_token`.
    pub sep: Option<String>,
    /// `pad_token`.
    pub pad: Option<String>,
    /// `cls_token`.
    pub cls: Option<String>,
    /// `mask_token`.
    pub mask: Option<String>,
    /// `additional_special_tokens`.
    pub additional: Vec<String>,
    /// Model-specific named tokens (`extra_special_tokens`, e.g. `image_token`).
    pub extra: Vec<(String, String)>,
}

impl SpecialTokens {
    /// Sets the tokens that are unset here from `other` (how `special_tokens_map.json` fills in
    /// what `tokenizer_config.json` leaves out).
    pub fn fill_from(&mut self, other: &SpecialTokens) {
        for (slot, value) in [
            (&mut self.bos, &other.bos),
            (&mut self.eos, &other.eos),
            (&mut self.unk, &other.unk),
            (&mut self.sep, &other.sep),
            (&mut self.pad, &other.pad),
            (&mut self.cls, &other.cls),
            (&mut self.mask, &other.mask),
        ] {
            if slot.is_none() {
                slot.clone_from(value);
            }
        }
        if self.additional.is_empty() {
            self.additional.clone_from(&other.additional);
        }
    }

    /// The template variables, in transformers' `SPECIAL_TOKENS_ATTRIBUTES` order.
    pub fn variables(&self) -> Vec<(String, minijinja::Value)> {
        let mut vars = Vec::new();
        for (name, value) in [
            ("bos_token", &self.bos),
            ("eos_token", &self.eos),
            ("unk_token", &self.unk),
            ("sep_token", &self.sep),
            ("pad_token", &self.pad),
            ("cls_token", &self.cls),
            ("mask_token", &self.mask),
        ] {
            if let Some(token) = value.as_deref().filter(|t| !t.is_empty()) {
                vars.push((name.to_string(), minijinja::Value::from(token)));
            }
        }
        if !self.additional.is_empty() {
            vars.push((
                "additional_special_tokens".to_string(),
                minijinja::Value::from(self.additional.clone()),
            ));
        }
        for (name, token) in &self.extra {
            if !token.is_empty() {
                vars.push((name.clone(), minijinja::Value::from(token.as_str())));
            }
        }
        vars
    }
}

/// Variables the renderer sets itself; extra variables may not reuse them (Python would raise
/// "got multiple values for keyword argument").
const RESERVED: [&str; 4] = ["messages", "tools", "documents", "add_generation_prompt"];

/// A compiled chat template.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    name: String,
    source: String,
    special: SpecialTokens,
}

impl ChatTemplate {
    /// Compiles `source`; errors report the template as "chat_template".
    pub fn new(source: impl Into<String>) -> Result<Self> {
        Self::named("chat_template", source)
    }

    /// Compiles `source` under `name` (the file it came from), which error messages report.
    pub fn named(name: impl Into<String>, source: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let source = source.into();
        let mut env = jinja::environment(None);
        env.add_template_owned(name.clone(), source.clone())
            .map_err(|e| template_error(&name, e, true))?;
        Ok(Self {
            env,
            name,
            source,
            special: SpecialTokens::default(),
        })
    }

    /// Sets the special-token variables (`bos_token`, `eos_token`, ...).
    pub fn with_special_tokens(mut self, special: SpecialTokens) -> Self {
        self.special = special;
        self
    }

    /// Makes `strftime_now` format `now` instead of the current UTC time, for reproducible renders
    /// of templates that stamp the date (Llama-3.2).
    pub fn with_fixed_now(mut self, now: time::OffsetDateTime) -> Self {
        jinja::set_clock(&mut self.env, Some(now));
        self
    }

    /// The name errors report.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The special-token variables.
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    /// Renders the template over `request`.
    pub fn render(&self, request: &ChatRequest) -> Result<String> {
        let template = self
            .env
            .get_template(&self.name)
            .map_err(|e| template_error(&self.name, e, false))?;
        let mut vars: Vec<(String, minijinja::Value)> = vec![
            (
                "messages".to_string(),
                minijinja::Value::from_serialize(&request.messages),
            ),
            (
                "tools".to_string(),
                minijinja::Value::from_serialize(&request.tools),
            ),
            (
                "documents".to_string(),
                minijinja::Value::from_serialize(&request.documents),
            ),
            (
                "add_generation_prompt".to_string(),
                minijinja::Value::from(request.add_generation_prompt),
            ),
        ];
        vars.extend(self.special.variables());
        for (key, value) in &request.extra {
            if RESERVED.contains(&key.as_str()) {
                return Err(Error::Request(format!(
                    "extra variable {key:?} collides with a variable the renderer sets"
                )));
            }
            let value = minijinja::Value::from_serialize(value);
            match vars.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => vars.push((key.clone(), value)),
            }
        }
        let ctx: minijinja::Value = vars.into_iter().collect();
        template
            .render(ctx)
            .map_err(|e| template_error(&self.name, e, false))
    }
}

fn template_error(name: &str, err: minijinja::Error, syntax: bool) -> Error {
    let line = err.line();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(s) = source {
        if let Some(raised) = s.downcast_ref::<Raised>() {
            return Error::TemplateRaised {
                name: name.to_string(),
                line,
                message: raised.0.clone(),
            };
        }
        source = s.source();
    }
    let message = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    if syntax || err.kind() == minijinja::ErrorKind::SyntaxError {
        Error::TemplateSyntax {
            name: name.to_string(),
            line,
            message,
        }
    } else {
        Error::TemplateRender {
            name: name.to_string(),
            line,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_exception_is_its_own_error_with_line() {
        let t = ChatTemplate::named("t.jinja", "{% if messages[0].role != 'user' %}\n{{ raise_exception('first must be user') }}\n{% endif %}ok").unwrap();
        let err = t
            .render(&ChatRequest::new(vec![Message::assistant("x")], false))
            .unwrap_err();
        match &err {
            Error::TemplateRaised {
                name,
                line,
                message,
            } => {
                assert_eq!(
                    (name.as_str(), *line, message.as_str()),
                    ("t.jinja", Some(2), "first must be user")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            t.render(&ChatRequest::new(vec![Message::user("x")], false))
                .unwrap(),
            "ok"
        );
    }

    #[test]
    fn syntax_and_render_errors_name_template_and_line() {
        let err = ChatTemplate::named("bad.jinja", "line one\n{% if %}").unwrap_err();
        assert!(
            matches!(err, Error::TemplateSyntax { line: Some(2), .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("chat template bad.jinja line 2: syntax error"),
            "{err}"
        );
        let t = ChatTemplate::named("r.jinja", "a\nb\n{{ messages[0].content.missing.deeper }}")
            .unwrap();
        let err = t
            .render(&ChatRequest::new(vec![Message::user("x")], false))
            .unwrap_err();
        assert!(
            matches!(err, Error::TemplateRender { line: Some(3), .. }),
            "{err:?}"
        );
    }

    #[test]
    fn extra_overrides_special_tokens_but_not_reserved_names() {
        let special = SpecialTokens {
            bos: Some("<s>".into()),
            eos: Some(String::new()),
            ..Default::default()
        };
        let t = ChatTemplate::new("{{ bos_token }}|{{ eos_token is defined }}|{{ date_string }}")
            .unwrap()
            .with_special_tokens(special);
        let mut req = ChatRequest::new(vec![], false);
        assert_eq!(t.render(&req).unwrap(), "<s>|False|");
        req.extra.insert("bos_token".into(), Value::from("[B]"));
        req.extra.insert("date_string".into(), Value::from("1 Jan"));
        assert_eq!(t.render(&req).unwrap(), "[B]|False|1 Jan");
        req.extra.insert("messages".into(), Value::from(1));
        assert!(matches!(t.render(&req), Err(Error::Request(_))));
    }

    #[test]
    fn fixed_clock_for_strftime_now() {
        let now = time::macros::datetime!(2024-07-26 10:00:00 UTC);
        let t = ChatTemplate::new("{{ strftime_now('%d %b %Y') }}")
            .unwrap()
            .with_fixed_now(now);
        assert_eq!(t.render(&ChatRequest::default()).unwrap(), "26 Jul 2024");
    }

    #[test]
    fn missing_content_is_absent_not_none() {
        let t = ChatTemplate::new(
            "{{ messages[0].content is defined }} {{ messages[0].tool_calls[0].id }}",
        )
        .unwrap();
        let msg = Message {
            role: "assistant".into(),
            content: None,
            extra: Map::new(),
        }
        .with_field("tool_calls", serde_json::json!([{"id": "c1"}]));
        assert_eq!(
            t.render(&ChatRequest::new(vec![msg], false)).unwrap(),
            "False c1"
        );
    }
}
