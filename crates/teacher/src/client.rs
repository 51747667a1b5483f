//! The async [`Client`]: bounded concurrency, retries with backoff, ordered batches and
//! token accounting over `reqwest` on `tokio`. Retry rules follow the OpenAI API reference
//! ("Error codes", "Rate limits": back off exponentially with jitter, honour
//! `Retry-After`) and the official Python SDK (`retry-after-ms` before `Retry-After`).
//!
//! One attempt holds one permit of the concurrency semaphore; backoff sleeps hold none, so
//! a waiting retry never blocks other requests.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::{Instrument, debug, info_span, warn};

use crate::endpoint::{ApiKey, Endpoint, sanitize_url};
use crate::error::{Error, Result, chain, server_message, truncate};
use crate::types::{ChatRequest, ChatResponse, CompletionRequest, CompletionResponse};
use crate::usage::{Counters, Usage, UsageTotals};

/// Longest backoff between two attempts when the server gives no `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A request body with a known path and response type.
pub trait ApiRequest: Serialize + Send + Sync + 'static {
    /// The decoded response.
    type Response: DeserializeOwned + Send + 'static;
    /// Path under the endpoint's `base_url`.
    const PATH: &'static str;
    /// The model field, filled from the endpoint when empty.
    fn model_mut(&mut self) -> &mut String;
    /// The response's token counts.
    fn usage(response: &Self::Response) -> Option<&Usage>;
}

impl ApiRequest for CompletionRequest {
    type Response = CompletionResponse;
    const PATH: &'static str = "completions";
    fn model_mut(&mut self) -> &mut String {
        &mut self.model
    }
    fn usage(response: &CompletionResponse) -> Option<&Usage> {
        response.usage.as_ref()
    }
}

impl ApiRequest for ChatRequest {
    type Response = ChatResponse;
    const PATH: &'static str = "chat/completions";
    fn model_mut(&mut self) -> &mut String {
        &mut self.model
    }
    fn usage(response: &ChatResponse) -> Option<&Usage> {
        response.usage.as_ref()
    }
}

/// An async client for one [`Endpoint`]. Cheap to clone; clones share the connection pool,
/// the concurrency limit and the usage totals. Must be used inside a tokio runtime.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    http: reqwest::Client,
    permits: Semaphore,
    counters: Counters,
}

impl std::fmt::Debug for Client {
    // Written by hand so nothing but the endpoint (which holds only the key's variable
    // name) and the totals can ever be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("usage", &self.inner.counters.totals())
            .finish_non_exhaustive()
    }
}

/// How one attempt failed.
enum Failure {
    /// Worth another attempt, after `retry_after` if the server said so.
    Retry {
        error: Error,
        retry_after: Option<Duration>,
    },
    /// Final.
    Fatal(Error),
}

impl Client {
    /// A client for `endpoint`, after [`Endpoint::validate`]. Makes no request.
    pub fn new(endpoint: Endpoint) -> Result<Self> {
        endpoint.validate()?;
        let mut builder = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout.min(Duration::from_secs(10)))
            // POSTs are not redirected by OpenAI-compatible APIs; a 3xx is reported as is.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cogumi-teacher/", env!("CARGO_PKG_VERSION")));
        if endpoint.is_loopback() {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| Error::InvalidEndpoint {
            reason: chain(&e.without_url()),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                permits: Semaphore::new(endpoint.concurrency),
                endpoint,
                http,
                counters: Counters::default(),
            }),
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// Token and call totals so far, over every clone of this client.
    pub fn usage(&self) -> UsageTotals {
        self.inner.counters.totals()
    }

    /// `POST completions`.
    pub async fn complete(&self, request: CompletionRequest) -> Result<CompletionResponse> {
        self.send(request).await
    }

    /// `POST chat/completions`.
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.send(request).await
    }

    /// Sends one request, retrying connect errors, timeouts, 429 and 5xx up to
    /// `max_retries` times. The API key is read from the environment here, before any
    /// network traffic.
    pub async fn send<R: ApiRequest>(&self, mut request: R) -> Result<R::Response> {
        let endpoint = &self.inner.endpoint;
        if request.model_mut().is_empty() {
            request.model_mut().clone_from(&endpoint.model);
        }
        let url = endpoint.api_url(R::PATH)?;
        let shown = sanitize_url(&url);
        let key = endpoint.api_key()?;
        let model = request.model_mut().clone();
        let span = info_span!("teacher_request", url = %shown, model = %model);
        self.send_with_retries(&request, &url, &shown, key.as_ref())
            .instrument(span)
            .await
    }

    /// Sends `requests` concurrently (at most `concurrency` in flight) and returns their
    /// results in the same order.
    pub async fn batch<R: ApiRequest>(&self, requests: Vec<R>) -> Vec<Result<R::Response>> {
        self.batch_with_progress(requests, &|_| {}).await
    }

    /// [`Client::batch`], calling `progress(1)` as each request finishes (in completion
    /// order). Dropping the returned future aborts the requests not yet done.
    pub async fn batch_with_progress<R: ApiRequest>(
        &self,
        requests: Vec<R>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<Result<R::Response>> {
        let n = requests.len();
        let span = info_span!("teacher_batch", path = R::PATH, requests = n);
        let mut tasks = tokio::task::JoinSet::new();
        for (index, request) in requests.into_iter().enumerate() {
            let client = self.clone();
            tasks
                .spawn(async move { (index, client.send(request).await) }.instrument(span.clone()));
        }
        let mut slots: Vec<Option<Result<R::Response>>> = (0..n).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, result)) => {
                    slots[index] = Some(result);
                    progress(1);
                }
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Only a runtime shutdown cancels our tasks; their slots stay empty.
                Err(_) => {}
            }
        }
        slots
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    Err(Error::Runtime {
                        reason: "request task cancelled by runtime shutdown".to_owned(),
                    })
                })
            })
            .collect()
    }

    async fn send_with_retries<R: ApiRequest>(
        &self,
        request: &R,
        url: &Url,
        shown: &str,
        key: Option<&ApiKey>,
    ) -> Result<R::Response> {
        let inner = &self.inner;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = {
                let _permit = inner.permits.acquire().await.map_err(|_| Error::Runtime {
                    reason: "concurrency semaphore closed".to_owned(),
                })?;
                self.attempt(request, url, shown, key, attempt).await
            };
            let error = match outcome {
                Ok(body) => {
                    let decoded = serde_json::from_slice::<R::Response>(&body).map_err(|e| {
                        let start = truncate(&String::from_utf8_lossy(&body), 200);
                        Error::Decode {
                            url: shown.to_owned(),
                            reason: redact(key, format!("{e}; body starts {start:?}")),
                        }
                    });
                    match &decoded {
                        Ok(response) => inner.counters.success(R::usage(response)),
                        Err(_) => inner.counters.failure(),
                    }
                    return decoded;
                }
                Err(Failure::Retry { error, retry_after })
                    if attempt <= inner.endpoint.max_retries =>
                {
                    let delay = backoff(inner.endpoint.retry_base, attempt, retry_after);
                    warn!(attempt, delay_ms = delay.as_millis() as u64, %error, "retrying");
                    inner.counters.retry();
                    tokio::time::sleep(delay).await;
                    continue;
                }
                Err(Failure::Retry { error, .. } | Failure::Fatal(error)) => error,
            };
            inner.counters.failure();
            return Err(error);
        }
    }

    /// One HTTP exchange: the success body, or how it failed.
    async fn attempt<R: ApiRequest>(
        &self,
        request: &R,
        url: &Url,
        shown: &str,
        key: Option<&ApiKey>,
        attempts: u32,
    ) -> Result<Vec<u8>, Failure> {
        let transport = |e: reqwest::Error| {
            let retryable = e.is_connect() || e.is_timeout() || e.is_request() || e.is_body();
            let error = Error::Transport {
                url: shown.to_owned(),
                reason: redact(key, chain(&e.without_url())),
                attempts,
            };
            if retryable {
                Failure::Retry {
                    error,
                    retry_after: None,
                }
            } else {
                Failure::Fatal(error)
            }
        };
        let mut builder = self.inner.http.post(url.clone()).json(request);
        if let Some(key) = key {
            builder = builder.bearer_auth(key.expose());
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(transport)?;
        debug!(
            status = status.as_u16(),
            bytes = body.len(),
            attempts,
            "response"
        );
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let error = Error::Http {
            status: status.as_u16(),
            url: shown.to_owned(),
            message: redact(key, server_message(&body)),
            attempts,
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(Failure::Retry { error, retry_after })
        } else {
            Err(Failure::Fatal(error))
        }
    }
}

fn redact(key: Option<&ApiKey>, text: String) -> String {
    match key {
        Some(key) => key.redact(text),
        None => text,
    }
}

/// The server's requested wait: `retry-after-ms` (OpenAI), else `Retry-After` in seconds.
/// The HTTP-date form of `Retry-After` is ignored (plain backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    let wait = number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))?;
    Some(Duration::from_secs_f64(
        wait.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// Delay before attempt `attempt + 1`: the server's `Retry-After` if given, else
/// `base · 2^(attempt-1)` capped at 30 s, with "equal jitter" (half fixed, half random).
fn backoff(base: Duration, attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let exp = base
        .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16))
        .min(MAX_BACKOFF);
    exp / 2 + exp.mul_f64(unit_random() / 2.0)
}

/// A number in `[0, 1)` from std's randomly keyed hasher; enough for jitter.
fn unit_random() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let base = Duration::from_millis(100);
        for attempt in 1..=4u32 {
            let full = base * (1 << (attempt - 1));
            let d = backoff(base, attempt, None);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(base, 40, None) <= MAX_BACKOFF);
        assert_eq!(backoff(base, 3, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        h.remove("retry-after-ms");
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("99999"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn jitter_is_in_unit_interval() {
        for _ in 0..100 {
            let r = unit_random();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
