//! Where a model is served: [`Endpoint`], its URL rules, and reading the API key from the
//! environment at request time. Follows the OpenAI API reference ("Authentication": a
//! bearer key per request) and the OpenAI SDKs' `base_url` convention (it ends in `/v1`).
//!
//! The key itself never lives in a struct that is `Debug` or `Serialize`: an [`Endpoint`]
//! holds only the *name* of the variable, and the value is read into a short-lived
//! [`ApiKey`] for one request.

use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An OpenAI-compatible server and the model to ask: vLLM, llama.cpp's `llama-server`,
/// OpenRouter, Together, or our own server.
///
/// `base_url` is what the OpenAI SDKs call `base_url`: request paths (`completions`,
/// `chat/completions`) are appended to it, so it normally ends in `/v1`
/// (`https://openrouter.ai/api/v1`, `http://127.0.0.1:8000/v1`). A bare origin such as
/// `http://127.0.0.1:8080` gets `/v1` added. It must not carry a query string or user
/// info: keys belong in `api_key_env`.
///
/// Reads from TOML/JSON with `timeout` and `retry_base` in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Base URL, normally ending in `/v1`.
    pub base_url: String,
    /// Model name sent as `model` when a request leaves it empty.
    pub model: String,
    /// Name of the environment variable holding the API key, read at each request.
    /// `None` sends no `Authorization` header (local servers).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Whole-request timeout, response body included.
    #[serde(default = "defaults::timeout", with = "seconds")]
    pub timeout: Duration,
    /// Retries after the first attempt, for connect errors, timeouts, 429 and 5xx.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// Requests in flight at once, across every task sharing the client.
    #[serde(default = "defaults::concurrency")]
    pub concurrency: usize,
    /// First backoff delay; it doubles per retry up to 30 s, with jitter. A `Retry-After`
    /// header replaces it.
    #[serde(default = "defaults::retry_base", with = "seconds")]
    pub retry_base: Duration,
}

mod defaults {
    use std::time::Duration;

    pub fn timeout() -> Duration {
        Duration::from_secs(120)
    }
    pub fn max_retries() -> u32 {
        4
    }
    pub fn concurrency() -> usize {
        4
    }
    pub fn retry_base() -> Duration {
        Duration::from_millis(500)
    }
}

/// `Duration` as (fractional) seconds in config files.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

impl Endpoint {
    /// An endpoint with no API key and the defaults: 120 s timeout, 4 retries from a
    /// 500 ms backoff, 4 requests in flight.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            timeout: defaults::timeout(),
            max_retries: defaults::max_retries(),
            concurrency: defaults::concurrency(),
            retry_base: defaults::retry_base(),
        }
    }

    /// Reads the API key from the environment variable `name` at each request.
    pub fn with_api_key_env(mut self, name: impl Into<String>) -> Self {
        self.api_key_env = Some(name.into());
        self
    }

    /// Sets the whole-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the number of retries after the first attempt.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the number of requests in flight at once.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets the first backoff delay.
    pub fn with_retry_base(mut self, retry_base: Duration) -> Self {
        self.retry_base = retry_base;
        self
    }

    /// Checks what can be checked without the network.
    pub fn validate(&self) -> Result<()> {
        if self.concurrency == 0 {
            return Err(invalid("concurrency must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout must be positive"));
        }
        if self.api_key_env.as_deref() == Some("") {
            return Err(invalid("api_key_env is empty; use no value for no key"));
        }
        self.api_url("").map(drop)
    }

    /// The URL of an API path (`"completions"`, `"chat/completions"`) under `base_url`.
    pub(crate) fn api_url(&self, path: &str) -> Result<Url> {
        // The URL is parsed for validation only; errors quote it sanitised or not at all.
        let base = Url::parse(self.base_url.trim())
            .map_err(|e| invalid(&format!("base_url is not a URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("base_url must be http:// or https://"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid(
                "base_url must not carry a query string or fragment; keys belong in api_key_env",
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid(
                "base_url must not carry user info; keys belong in api_key_env",
            ));
        }
        let mut joined = base.as_str().trim_end_matches('/').to_owned();
        if base.path() == "/" {
            joined.push_str("/v1");
        }
        if !path.is_empty() {
            joined.push('/');
            joined.push_str(path.trim_start_matches('/'));
        }
        Url::parse(&joined).map_err(|e| invalid(&format!("cannot join `{path}` ({e})")))
    }

    /// Whether the host is loopback (`localhost`, `127.0.0.0/8`, `::1`); such endpoints
    /// bypass any HTTP proxy configured in the environment.
    pub fn is_loopback(&self) -> bool {
        let Ok(url) = Url::parse(self.base_url.trim()) else {
            return false;
        };
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Reads the key named by `api_key_env` now. `Ok(None)` when no key is configured.
    pub(crate) fn api_key(&self) -> Result<Option<ApiKey>> {
        let Some(var) = &self.api_key_env else {
            return Ok(None);
        };
        match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Ok(Some(ApiKey(value.trim().to_owned()))),
            _ => Err(Error::MissingKey { var: var.clone() }),
        }
    }
}

fn invalid(reason: &str) -> Error {
    Error::InvalidEndpoint {
        reason: reason.to_owned(),
    }
}

/// A URL fit for logs and errors: no user info, query string or fragment.
pub(crate) fn sanitize_url(url: &Url) -> String {
    let mut clean = url.clone();
    clean.set_query(None);
    clean.set_fragment(None);
    // Both fail only for URLs that cannot have credentials; nothing to strip then.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

/// An API key read for one request. Deliberately neither `Clone`, `Serialize` nor
/// `Display`; its `Debug` prints `ApiKey([redacted])`.
pub(crate) struct ApiKey(String);

impl ApiKey {
    /// The key, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces any occurrence of the key in server-provided `text` (an error body that
    /// echoes the request headers, say).
    pub(crate) fn redact(&self, text: String) -> String {
        if text.contains(&self.0) {
            text.replace(&self.0, "[redacted]")
        } else {
            text
        }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_under_base_url() {
        let e = Endpoint::new("https://openrouter.ai/api/v1/", "m");
        let url = e.api_url("chat/completions").unwrap();
        assert_eq!(
            url.as_str(),
            "https://openrouter.ai/api/v1/chat/completions"
        );
        let bare = Endpoint::new("http://127.0.0.1:8080", "m");
        let url = bare.api_url("completions").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/v1/completions");
        assert!(bare.is_loopback());
        assert!(!e.is_loopback());
    }

    #[test]
    fn secrets_in_base_url_are_refused() {
        for bad in [
            "https://api.example.com/v1?key=sk-123",
            "https://user:sk-123@api.example.com/v1",
            "ftp://api.example.com/v1",
            "not a url",
        ] {
            let err = Endpoint::new(bad, "m").validate().unwrap_err();
            assert!(matches!(err, Error::InvalidEndpoint { .. }), "{bad}");
            assert!(!err.to_string().contains("sk-123"), "{err}");
        }
        assert!(
            Endpoint::new("http://h/v1", "m")
                .with_concurrency(0)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn sanitize_strips_query_and_credentials() {
        let url = Url::parse("https://u:sk-9@h.example/v1/completions?key=sk-9#f").unwrap();
        assert_eq!(sanitize_url(&url), "https://h.example/v1/completions");
    }

    #[test]
    fn reads_from_toml_like_json_with_defaults() {
        let json = r#"{"base_url":"http://h/v1","model":"m","api_key_env":"K","timeout":2.5}"#;
        let e: Endpoint = serde_json::from_str(json).unwrap();
        assert_eq!(e.timeout, Duration::from_millis(2500));
        assert_eq!(e.max_retries, 4);
        assert_eq!(e.api_key_env.as_deref(), Some("K"));
        let back: Endpoint = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(
            serde_json::from_str::<Endpoint>(r#"{"base_url":"x","model":"m","key":"k"}"#).is_err()
        );
    }

    #[test]
    fn api_key_debug_and_redact() {
        let key = ApiKey("sk-secret".into());
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert_eq!(
            key.redact("got Bearer sk-secret".into()),
            "got Bearer [redacted]"
        );
    }
}
