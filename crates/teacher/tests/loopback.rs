//! The client against a loopback server with canned OpenAI-style replies (OpenAI API
//! reference: completions, chat completions, error codes). No external network: every
//! request goes to a `TcpListener` on 127.0.0.1 started by the test itself.

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cogumi_teacher::{
    BlockingClient, ChatMessage, ChatRequest, Client, CompletionRequest, Endpoint, Error,
};
use serde_json::json;
use support::{Reply, Server, in_child_with_env};

/// Runs a future on a fresh current-thread runtime (no `tokio::test` macro needed).
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn endpoint(server: &Server) -> Endpoint {
    Endpoint::new(&server.base_url, "tiny-test").with_retry_base(Duration::from_millis(1))
}

fn completion_body(text: &str) -> serde_json::Value {
    json!({
        "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "tiny-test",
        "system_fingerprint": null,
        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": null}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    })
}

const COMPLETION_VAR: &str = "COGUMI_TEACHER_TEST_KEY_COMPLETION";
const COMPLETION_KEY: &str = "sk-test-completion-5f1e0c";

#[test]
fn completion_ok() {
    if !in_child_with_env("completion_ok", &[(COMPLETION_VAR, COMPLETION_KEY)]) {
        return;
    }
    let server = Server::start(|_, _| {
        let mut body = completion_body(" Paris");
        body["choices"][0]["logprobs"] = json!({
            "tokens": [" Paris"], "token_logprobs": [-0.25],
            "top_logprobs": [{" Paris": -0.25}], "text_offset": [20]});
        Reply::json(200, body)
    });
    let client = BlockingClient::new(endpoint(&server).with_api_key_env(COMPLETION_VAR)).unwrap();
    let mut request = CompletionRequest::new("The capital of France is");
    request.max_tokens = Some(5);
    request.temperature = Some(0.0);
    request.top_p = Some(0.5);
    request.stop = Some(vec!["\n".into()]);
    request.seed = Some(7);
    request.n = Some(1);
    request.logprobs = Some(1);
    request.echo = Some(false);
    request.extra.insert("top_k".into(), json!(40));
    let response = client.complete(request).unwrap();

    let seen = &server.requests()[0];
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/v1/completions")
    );
    let bearer = format!("Bearer {COMPLETION_KEY}");
    assert_eq!(seen.header("authorization"), Some(bearer.as_str()));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        seen.body,
        json!({"model": "tiny-test", "prompt": "The capital of France is", "max_tokens": 5,
               "temperature": 0.0, "top_p": 0.5, "stop": ["\n"], "seed": 7, "n": 1,
               "logprobs": 1, "echo": false, "top_k": 40})
    );
    assert_eq!(response.text(), Some(" Paris"));
    assert_eq!(response.choices[0].finish_reason.as_deref(), Some("stop"));
    let logprobs = response.choices[0].logprobs.as_ref().unwrap();
    assert_eq!(logprobs.token_logprobs, vec![Some(-0.25)]);
    let usage = client.usage();
    assert_eq!(
        (
            usage.succeeded,
            usage.prompt_tokens,
            usage.completion_tokens
        ),
        (1, 4, 2)
    );
}

const CHAT_VAR: &str = "COGUMI_TEACHER_TEST_KEY_CHAT";
const CHAT_KEY: &str = "sk-test-chat-91aa3b";

#[test]
fn chat_ok_with_tool_calls() {
    if !in_child_with_env("chat_ok_with_tool_calls", &[(CHAT_VAR, CHAT_KEY)]) {
        return;
    }
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "big-teacher",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
                    "message": {"role": "assistant", "content": null, "refusal": null,
                        "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "add", "arguments": "{\"a\":2,\"b\":2}"}}]}}],
                "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}
            }),
        )
    });
    let tools = json!([{"type": "function", "function": {"name": "add",
        "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}}}]);
    let mut request = ChatRequest::new(vec![
        ChatMessage::system("Use tools."),
        ChatMessage::user("2 + 2?"),
    ]);
    request.model = "big-teacher".into();
    request.max_tokens = Some(64);
    request.tools = Some(tools.clone());
    request.tool_choice = Some(json!("auto"));

    let client = Client::new(endpoint(&server).with_api_key_env(CHAT_VAR)).unwrap();
    let response = block_on(client.chat(request)).unwrap();

    let seen = &server.requests()[0];
    assert_eq!(seen.path, "/v1/chat/completions");
    let bearer = format!("Bearer {CHAT_KEY}");
    assert_eq!(seen.header("authorization"), Some(bearer.as_str()));
    assert_eq!(seen.body["model"], "big-teacher", "an explicit model wins");
    assert_eq!(seen.body["tools"], tools);
    assert_eq!(seen.body["tool_choice"], "auto");
    assert_eq!(
        seen.body["messages"],
        json!([{"role": "system", "content": "Use tools."}, {"role": "user", "content": "2 + 2?"}])
    );
    assert_eq!(
        response.choices[0].finish_reason.as_deref(),
        Some("tool_calls")
    );
    let message = response.message().unwrap();
    assert_eq!(message.content, None);
    assert_eq!(message.tool_calls.len(), 1);
    assert_eq!(message.tool_calls[0].id, "call_1");
    assert_eq!(message.tool_calls[0].function.name, "add");
    assert_eq!(message.tool_calls[0].function.arguments, r#"{"a":2,"b":2}"#);
    assert_eq!(client.usage().total_tokens(), 39);
}

#[test]
fn rate_limit_is_retried_after_retry_after() {
    let server = Server::start(|index, _| match index {
        0 => {
            Reply::json(429, json!({"error": {"message": "slow down"}})).header("Retry-After", "0")
        }
        _ => Reply::json(200, completion_body("ok")),
    });
    // A 10 s backoff base: only honouring `Retry-After: 0` keeps this test fast.
    let slow = endpoint(&server).with_retry_base(Duration::from_secs(10));
    let client = BlockingClient::new(slow).unwrap();
    let started = Instant::now();
    let response = client.complete(CompletionRequest::new("hi")).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.text(), Some("ok"));
    assert_eq!(server.count(), 2);
    assert_eq!(
        server.requests()[1].header("authorization"),
        None,
        "no key configured"
    );
    let usage = client.usage();
    assert_eq!((usage.succeeded, usage.retries, usage.failed), (1, 1, 0));
}

#[test]
fn server_errors_exhaust_the_retries() {
    let server = Server::start(|_, _| Reply::json(500, json!({"error": {"message": "boom"}})));
    let client = BlockingClient::new(endpoint(&server).with_max_retries(2)).unwrap();
    let error = client.complete(CompletionRequest::new("hi")).unwrap_err();
    match &error {
        Error::Http {
            status: 500,
            message,
            attempts: 3,
            url,
        } => {
            assert_eq!(message, "boom");
            assert_eq!(url, &format!("{}/completions", server.base_url));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.count(), 3, "max_retries + 1 attempts");
    let usage = client.usage();
    assert_eq!((usage.succeeded, usage.retries, usage.failed), (0, 2, 1));
}

const BAD_VAR: &str = "COGUMI_TEACHER_TEST_KEY_BAD_REQUEST";
const BAD_KEY: &str = "sk-test-bad-request-77d2e4";

#[test]
fn bad_request_fails_at_once_without_the_key() {
    if !in_child_with_env(
        "bad_request_fails_at_once_without_the_key",
        &[(BAD_VAR, BAD_KEY)],
    ) {
        return;
    }
    // A careless server that echoes the request headers, then rambles.
    let server = Server::start(|_, seen| {
        let echoed = seen.header("authorization").unwrap_or_default();
        let message = format!("bad max_tokens (auth was {echoed}) {}", "x".repeat(2000));
        Reply::json(
            400,
            json!({"error": {"message": message, "type": "invalid_request_error"}}),
        )
    });
    let client = BlockingClient::new(endpoint(&server).with_api_key_env(BAD_VAR)).unwrap();
    let error = client.complete(CompletionRequest::new("hi")).unwrap_err();
    assert_eq!(server.count(), 1, "a 400 is not retried");
    assert_eq!(error.status(), Some(400));
    let Error::Http {
        message, attempts, ..
    } = &error
    else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(*attempts, 1);
    assert!(
        message.starts_with("bad max_tokens (auth was Bearer [redacted])"),
        "{message}"
    );
    assert!(
        message.len() < 700 && message.contains("bytes total]"),
        "{message}"
    );
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
    ] {
        assert!(!shown.contains(BAD_KEY), "{shown}");
    }
}

#[test]
fn missing_key_fails_before_any_request() {
    let server = Server::start(|_, _| Reply::json(200, completion_body("never")));
    let var = "COGUMI_TEACHER_TEST_KEY_NEVER_SET_4b8e";
    let client = Client::new(endpoint(&server).with_api_key_env(var)).unwrap();
    let error = block_on(client.complete(CompletionRequest::new("hi"))).unwrap_err();
    assert!(
        matches!(&error, Error::MissingKey { var: v } if v == var),
        "{error:?}"
    );
    assert!(error.to_string().contains(var));
    assert_eq!(server.count(), 0);
}

#[test]
fn batch_preserves_order_and_bounds_concurrency() {
    // Later prompts answer sooner, so completion order is the reverse of request order.
    let server = Server::start(|_, seen| {
        let prompt = seen.body["prompt"].as_str().unwrap_or_default().to_owned();
        let i: u64 = prompt.trim_start_matches('p').parse().unwrap_or(0);
        Reply::json(200, completion_body(&format!("echo:{prompt}")))
            .after(Duration::from_millis(10 * (8 - i)))
    });
    let client = BlockingClient::new(endpoint(&server).with_concurrency(2)).unwrap();
    let requests: Vec<_> = (0..8)
        .map(|i| CompletionRequest::new(format!("p{i}")))
        .collect();
    let done = AtomicUsize::new(0);
    let results = client.batch_with_progress(requests, &|n| {
        done.fetch_add(n, Ordering::SeqCst);
    });
    let texts: Vec<String> = results
        .into_iter()
        .map(|r| r.unwrap().text().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..8).map(|i| format!("echo:p{i}")).collect();
    assert_eq!(texts, expected);
    assert_eq!(done.load(Ordering::SeqCst), 8);
    assert_eq!(server.count(), 8);
    assert_eq!(
        server.max_in_flight(),
        2,
        "never more than `concurrency` in flight"
    );
    assert_eq!(client.usage().prompt_tokens, 8 * 4);
}

const DEBUG_VAR: &str = "COGUMI_TEACHER_TEST_KEY_DEBUG";
const DEBUG_KEY: &str = "sk-test-debug-0d9c11";

#[test]
fn debug_output_never_shows_the_key() {
    if !in_child_with_env(
        "debug_output_never_shows_the_key",
        &[(DEBUG_VAR, DEBUG_KEY)],
    ) {
        return;
    }
    let server = Server::start(|_, _| Reply::json(200, completion_body("ok")));
    let endpoint = endpoint(&server).with_api_key_env(DEBUG_VAR);
    let client = BlockingClient::new(endpoint.clone()).unwrap();
    client.complete(CompletionRequest::new("hi")).unwrap();
    let bearer = format!("Bearer {DEBUG_KEY}");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(bearer.as_str())
    );
    for shown in [
        format!("{endpoint:?}"),
        format!("{client:?}"),
        format!("{:?}", client.client()),
        serde_json::to_string(&endpoint).unwrap(),
    ] {
        assert!(!shown.contains(DEBUG_KEY), "{shown}");
        assert!(
            shown.contains(DEBUG_VAR),
            "the variable's name is fine to show: {shown}"
        );
    }
}

#[test]
fn connect_errors_are_retried_then_reported() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}/v1");
    let endpoint = Endpoint::new(&base, "m")
        .with_max_retries(1)
        .with_retry_base(Duration::from_millis(1));
    let client = BlockingClient::new(endpoint).unwrap();
    let error = client.complete(CompletionRequest::new("hi")).unwrap_err();
    let Error::Transport {
        url,
        attempts,
        reason,
    } = &error
    else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(
        (url.as_str(), *attempts),
        (format!("{base}/completions").as_str(), 2)
    );
    assert!(reason.contains("connect"), "{reason}");
    assert_eq!(client.usage().retries, 1);
}

#[test]
fn timeouts_and_bad_bodies_are_reported() {
    let server = Server::start(|index, _| match index {
        0 => Reply::json(200, completion_body("late")).after(Duration::from_millis(800)),
        _ => Reply::raw(200, "<html>proxy login</html>"),
    });
    let endpoint = endpoint(&server)
        .with_max_retries(0)
        .with_timeout(Duration::from_millis(200));
    let client = BlockingClient::new(endpoint).unwrap();
    let error = client.complete(CompletionRequest::new("hi")).unwrap_err();
    assert!(
        matches!(&error, Error::Transport { attempts: 1, .. }),
        "{error:?}"
    );
    let error = client.complete(CompletionRequest::new("hi")).unwrap_err();
    let Error::Decode { reason, .. } = &error else {
        panic!("unexpected {error:?}");
    };
    assert!(reason.contains("<html>proxy login"), "{reason}");
    assert_eq!(server.count(), 2, "a decode error is not retried");
}
