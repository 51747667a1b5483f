//! An OpenAI-compatible endpoint as an evaluation [`Backend`] (served models, teachers), through
//! `cogumi-teacher`. Generation uses `/v1/completions` (raw prompts) or `/v1/chat/completions`
//! (chat prompts); log-likelihoods use `/v1/completions` with `echo` + `logprobs` and
//! `max_tokens: 0`, as lm-evaluation-harness' `local-completions` model does — servers that do not
//! support echo (most hosted chat APIs) can only run generation tasks.

use cogumi_eval::backend::Progress;
use cogumi_eval::{
    Backend, Error, GeneratePrompt, GenerateRequest, Loglikelihood, LoglikelihoodRequest,
    RollingLoglikelihood,
};
use cogumi_model::text::find_stop;
use cogumi_teacher::{BlockingClient, ChatMessage, ChatRequest, CompletionRequest, Endpoint};

/// Per echoed token: byte offset in the text, log-probability, whether it was the top token.
type EchoedTokens = Vec<(usize, f64, bool)>;

/// OpenAI's `stop` accepts at most four strings; the rest are applied here.
const MAX_STOPS: usize = 4;

/// A client for one endpoint and model.
pub struct OpenAiBackend {
    client: BlockingClient,
    label: String,
}

fn err(label: &str, reason: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: label.to_string(),
        reason: reason.to_string(),
    }
}

impl OpenAiBackend {
    /// Connects lazily to `url` (e.g. `http://127.0.0.1:8080/v1`); the API key, if any, is read
    /// from the environment variable `api_key_env` at each request.
    pub fn new(url: &str, model: &str, api_key_env: Option<&str>) -> anyhow::Result<Self> {
        let mut endpoint = Endpoint::new(url, model).with_concurrency(4);
        if let Some(var) = api_key_env {
            endpoint = endpoint.with_api_key_env(var);
        }
        endpoint.validate()?;
        Ok(OpenAiBackend {
            client: BlockingClient::new(endpoint)?,
            label: format!("openai {url} {model}"),
        })
    }

    /// Echoes `text` with per-token log-probabilities: `(offset, logprob, greedy)` per token.
    fn echo(&self, texts: Vec<String>, progress: Progress<'_>) -> Result<Vec<EchoedTokens>, Error> {
        let requests: Vec<CompletionRequest> = texts
            .into_iter()
            .map(|t| {
                let mut r = CompletionRequest::new(t);
                r.max_tokens = Some(0);
                r.echo = Some(true);
                r.logprobs = Some(1);
                r.temperature = Some(0.0);
                r
            })
            .collect();
        self.client
            .batch_with_progress(requests, progress)
            .into_iter()
            .map(|res| {
                let res = res.map_err(|e| err(&self.label, e))?;
                let lp = res
                    .choices
                    .first()
                    .and_then(|c| c.logprobs.as_ref())
                    .ok_or_else(|| {
                        err(
                            &self.label,
                            "the endpoint returned no logprobs (echo unsupported?)",
                        )
                    })?;
                Ok(lp
                    .tokens
                    .iter()
                    .enumerate()
                    .map(|(i, tok)| {
                        let logprob = lp
                            .token_logprobs
                            .get(i)
                            .copied()
                            .flatten()
                            .unwrap_or(f64::NAN);
                        let greedy = lp
                            .top_logprobs
                            .as_ref()
                            .and_then(|t| t.get(i).cloned().flatten())
                            .and_then(|top| {
                                top.into_iter()
                                    .max_by(|a, b| a.1.total_cmp(&b.1))
                                    .map(|(best, _)| best == *tok)
                            })
                            .unwrap_or(false);
                        (lp.text_offset.get(i).copied().unwrap_or(0), logprob, greedy)
                    })
                    .collect())
            })
            .collect()
    }
}

impl Backend for OpenAiBackend {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn loglikelihood(
        &mut self,
        requests: &[LoglikelihoodRequest],
        progress: Progress<'_>,
    ) -> Result<Vec<Loglikelihood>, Error> {
        let pairs: Vec<(String, String)> = requests
            .iter()
            .map(|r| {
                let (c, k) =
                    cogumi_eval::backend::split_trailing_whitespace(&r.context, &r.continuation);
                (c.to_string(), k)
            })
            .collect();
        let echoed = self.echo(
            pairs.iter().map(|(c, k)| format!("{c}{k}")).collect(),
            progress,
        )?;
        Ok(pairs
            .iter()
            .zip(echoed)
            .map(|((ctx, _), toks)| {
                let cont: Vec<&(usize, f64, bool)> =
                    toks.iter().filter(|t| t.0 >= ctx.len()).collect();
                Loglikelihood {
                    logprob: cont.iter().map(|t| t.1).sum(),
                    is_greedy: cont.iter().all(|t| t.2),
                    tokens: cont.len(),
                }
            })
            .collect())
    }

    fn loglikelihood_rolling(
        &mut self,
        texts: &[String],
        progress: Progress<'_>,
    ) -> Result<Vec<RollingLoglikelihood>, Error> {
        let echoed = self.echo(texts.to_vec(), progress)?;
        Ok(echoed
            .into_iter()
            .map(|toks| {
                // The first token has no log-probability (nothing precedes it).
                let scored: Vec<f64> = toks.iter().map(|t| t.1).filter(|l| l.is_finite()).collect();
                RollingLoglikelihood {
                    logprob: scored.iter().sum(),
                    tokens: scored.len(),
                }
            })
            .collect())
    }

    fn generate_until(
        &mut self,
        requests: &[GenerateRequest],
        progress: Progress<'_>,
    ) -> Result<Vec<String>, Error> {
        let stops = |r: &GenerateRequest| {
            (!r.until.is_empty())
                .then(|| r.until.iter().take(MAX_STOPS).cloned().collect::<Vec<_>>())
        };
        let mut out = Vec::with_capacity(requests.len());
        // Raw and chat prompts go to different routes; keep the order by sending one at a time
        // per kind in batches of consecutive same-kind requests.
        let mut i = 0;
        while i < requests.len() {
            let chat = matches!(requests[i].prompt, GeneratePrompt::Chat { .. });
            let j = (i..requests.len())
                .find(|&k| matches!(requests[k].prompt, GeneratePrompt::Chat { .. }) != chat)
                .unwrap_or(requests.len());
            let group = &requests[i..j];
            let texts: Vec<Result<String, Error>> = if chat {
                let reqs: Vec<ChatRequest> = group
                    .iter()
                    .map(|r| {
                        let GeneratePrompt::Chat { system, user } = &r.prompt else {
                            unreachable!()
                        };
                        let mut m = Vec::new();
                        if let Some(s) = system {
                            m.push(ChatMessage::system(s.clone()));
                        }
                        m.push(ChatMessage::user(user.clone()));
                        let mut q = ChatRequest::new(m);
                        q.max_tokens = Some(r.max_new_tokens as u32);
                        q.temperature = Some(r.temperature);
                        q.top_p = (r.top_p < 1.0).then_some(r.top_p);
                        q.seed = (r.temperature > 0.0).then_some(r.seed);
                        q.stop = stops(r);
                        q
                    })
                    .collect();
                self.client
                    .batch_with_progress(reqs, progress)
                    .into_iter()
                    .map(|r| {
                        r.map(|r| r.content().unwrap_or_default().to_string())
                            .map_err(|e| err(&self.label, e))
                    })
                    .collect()
            } else {
                let reqs: Vec<CompletionRequest> = group
                    .iter()
                    .map(|r| {
                        let GeneratePrompt::Text(t) = &r.prompt else {
                            unreachable!()
                        };
                        let mut q = CompletionRequest::new(t.clone());
                        q.max_tokens = Some(r.max_new_tokens as u32);
                        q.temperature = Some(r.temperature);
                        q.top_p = (r.top_p < 1.0).then_some(r.top_p);
                        q.seed = (r.temperature > 0.0).then_some(r.seed);
                        q.stop = stops(r);
                        q
                    })
                    .collect();
                self.client
                    .batch_with_progress(reqs, progress)
                    .into_iter()
                    .map(|r| {
                        r.map(|r| r.text().unwrap_or_default().to_string())
                            .map_err(|e| err(&self.label, e))
                    })
                    .collect()
            };
            for (r, text) in group.iter().zip(texts) {
                let mut text = text?;
                if let Some(at) = find_stop(&text, &r.until) {
                    text.truncate(at);
                }
                out.push(text);
            }
            i = j;
        }
        Ok(out)
    }
}
