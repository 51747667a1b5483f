//! The crate's one error type, and the helpers that keep secrets and long server bodies out
//! of it. Status semantics follow the OpenAI API reference ("Error codes": 429 rate limit,
//! 5xx server errors, other 4xx are the caller's fault).
//!
//! Every URL in an error has gone through [`crate::endpoint::sanitize_url`] (no query, no
//! user info), and every server-provided string has been truncated and had the API key
//! replaced by `[redacted]` before it is stored here.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Longest server message kept in [`Error::Http`], in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 500;

/// Everything that can go wrong talking to an endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a non-success status: a 4xx other than 429 at once, or a
    /// 429/5xx after the retries ran out.
    #[error("HTTP {status} from {url} after {attempts} attempt(s): {message}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// Request URL, without query string or user info.
        url: String,
        /// The server's error message (`error.message` when the body is OpenAI-style JSON),
        /// truncated.
        message: String,
        /// Attempts made, retries included.
        attempts: u32,
    },
    /// No response: connect error, timeout, connection dropped mid-body.
    #[error("request to {url} failed after {attempts} attempt(s): {reason}")]
    Transport {
        /// Request URL, without query string or user info.
        url: String,
        /// What the transport reported.
        reason: String,
        /// Attempts made, retries included.
        attempts: u32,
    },
    /// A success status whose body is not the expected JSON.
    #[error("cannot decode the response from {url}: {reason}")]
    Decode {
        /// Request URL, without query string or user info.
        url: String,
        /// The JSON error and the start of the body.
        reason: String,
    },
    /// The endpoint names an API key variable that is unset or empty.
    #[error(
        "API key environment variable `{var}` is not set; export it, or drop `api_key_env` \
         for servers without authentication"
    )]
    MissingKey {
        /// Name of the environment variable (never its value).
        var: String,
    },
    /// The endpoint description cannot be used (bad URL, zero concurrency, TLS setup).
    #[error("invalid endpoint: {reason}")]
    InvalidEndpoint {
        /// What is wrong.
        reason: String,
    },
    /// The async runtime failed (the blocking client's runtime would not start, or a task
    /// was cancelled by a runtime shutdown).
    #[error("async runtime: {reason}")]
    Runtime {
        /// What happened.
        reason: String,
    },
}

impl Error {
    /// The HTTP status, for [`Error::Http`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Cuts `text` to at most `max` characters (on a char boundary), marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… [{} bytes total]", &text[..cut], text.len()),
    }
}

/// The human part of an error body: `error.message` (OpenAI), `message` (vLLM's
/// `{"object":"error","message":…}`), a bare `error` string, or the raw text. Truncated.
pub(crate) fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| {
            let error = value.get("error");
            error
                .and_then(|e| e.get("message"))
                .or_else(|| value.get("message"))
                .or(error)
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        });
    let message = from_json.unwrap_or_else(|| text.trim().to_owned());
    let message = if message.is_empty() {
        "(empty body)".to_owned()
    } else {
        message
    };
    truncate(&message, MAX_MESSAGE_CHARS)
}

/// The full `source()` chain of an error, joined with `": "`, skipping repeats.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_error_body_gives_its_message() {
        let body = br#"{"error":{"message":"model not found","type":"invalid_request_error"}}"#;
        assert_eq!(server_message(body), "model not found");
    }

    #[test]
    fn vllm_and_plain_bodies() {
        let vllm = br#"{"object":"error","message":"max_tokens too large","code":400}"#;
        assert_eq!(server_message(vllm), "max_tokens too large");
        assert_eq!(server_message(br#"{"error":"bad"}"#), "bad");
        assert_eq!(server_message(b"  Bad Gateway \n"), "Bad Gateway");
        assert_eq!(server_message(b""), "(empty body)");
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let cut = server_message(long.as_bytes());
        assert!(cut.starts_with(&"é".repeat(MAX_MESSAGE_CHARS)));
        assert!(cut.ends_with(&format!("[{} bytes total]", long.len())));
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn display_is_lowercase_and_names_the_variable_only() {
        let e = Error::MissingKey {
            var: "OPENROUTER_API_KEY".into(),
        };
        let text = e.to_string();
        assert!(text.contains("`OPENROUTER_API_KEY`"), "{text}");
        assert!(!text.ends_with('.'));
        assert_eq!(e.status(), None);
    }
}
