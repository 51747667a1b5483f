//! One client for teacher and served models over the OpenAI-compatible protocol
//! (`/v1/completions`, `/v1/chat/completions`, as in the OpenAI API reference): vLLM,
//! llama.cpp's server, OpenRouter, Together, or our own server.
//!
//! ```no_run
//! use cogumi_teacher::{BlockingClient, ChatMessage, ChatRequest, Endpoint};
//!
//! let endpoint = Endpoint::new("https://openrouter.ai/api/v1", "deepseek/deepseek-chat")
//!     .with_api_key_env("OPENROUTER_API_KEY")
//!     .with_concurrency(8);
//! let client = BlockingClient::new(endpoint)?;
//! let mut request = ChatRequest::new(vec![ChatMessage::user("2 + 2 = ?")]);
//! request.max_tokens = Some(16);
//! let answer = client.chat(request)?;
//! let text = answer.content().unwrap_or_default();
//! let spent_usd = client.usage().cost(0.27, 1.10);
//! # Ok::<(), cogumi_teacher::Error>(())
//! ```
//!
//! API keys come from the environment only, read at each request; nothing in this crate
//! stores, prints or logs them (see the README).
#![warn(missing_docs)]

mod blocking;
mod client;
mod endpoint;
mod error;
mod types;
mod usage;

pub use blocking::BlockingClient;
pub use client::{ApiRequest, Client};
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use types::{
    ChatChoice, ChatMessage, ChatRequest, ChatResponse, CompletionChoice, CompletionLogprobs,
    CompletionRequest, CompletionResponse, FunctionCall, ToolCall,
};
pub use usage::{Usage, UsageTotals};
