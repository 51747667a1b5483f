//! [`BlockingClient`]: the async [`Client`] behind a private current-thread tokio runtime,
//! for synchronous callers (the evaluation harness's `Backend` trait, phase binaries).
//! Same requests, retries and accounting as the async client; it follows the OpenAI API
//! reference through it.
//!
//! One thread is enough: the work is waiting on sockets, and concurrency comes from the
//! tasks the runtime interleaves, not from threads.

use tokio::runtime::Runtime;

use crate::client::{ApiRequest, Client};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::types::{ChatRequest, ChatResponse, CompletionRequest, CompletionResponse};
use crate::usage::UsageTotals;

/// A synchronous client. Its methods block the calling thread and must not be called from
/// inside an async runtime (tokio panics if they are); async code uses [`Client`].
pub struct BlockingClient {
    runtime: Runtime,
    client: Client,
}

impl std::fmt::Debug for BlockingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingClient")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl BlockingClient {
    /// A client for `endpoint` with its own runtime. Makes no request.
    pub fn new(endpoint: Endpoint) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("cogumi-teacher")
            .build()
            .map_err(|e| Error::Runtime {
                reason: format!("cannot build a tokio runtime: {e}"),
            })?;
        let client = Client::new(endpoint)?;
        Ok(Self { runtime, client })
    }

    /// The async client inside, e.g. to hand to code that has its own runtime.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        self.client.endpoint()
    }

    /// Token and call totals so far.
    pub fn usage(&self) -> UsageTotals {
        self.client.usage()
    }

    /// `POST completions`; see [`Client::complete`].
    pub fn complete(&self, request: CompletionRequest) -> Result<CompletionResponse> {
        self.runtime.block_on(self.client.complete(request))
    }

    /// `POST chat/completions`; see [`Client::chat`].
    pub fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.runtime.block_on(self.client.chat(request))
    }

    /// Any [`ApiRequest`]; see [`Client::send`].
    pub fn send<R: ApiRequest>(&self, request: R) -> Result<R::Response> {
        self.runtime.block_on(self.client.send(request))
    }

    /// Many requests concurrently, results in order; see [`Client::batch`].
    pub fn batch<R: ApiRequest>(&self, requests: Vec<R>) -> Vec<Result<R::Response>> {
        self.runtime.block_on(self.client.batch(requests))
    }

    /// [`BlockingClient::batch`] with a progress callback; see
    /// [`Client::batch_with_progress`].
    pub fn batch_with_progress<R: ApiRequest>(
        &self,
        requests: Vec<R>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<Result<R::Response>> {
        self.runtime
            .block_on(self.client.batch_with_progress(requests, progress))
    }
}
