//! Running one task: documents → prompts → backend requests → per-sample records → aggregate
//! metrics, in chunks so progress is visible and an interrupted run resumes from its records.
//! The flow is lm-evaluation-harness' `evaluator.evaluate` for one task.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use tracing::info_span;

use crate::backend::{Backend, GeneratePrompt, GenerateRequest, LoglikelihoodRequest};
use crate::docs;
use crate::error::{Error, Result};
use crate::metrics::{self, Extractor};
use crate::prompt::{FewshotPool, PromptBuilder, Target};
use crate::records::{SampleRecord, doc_id, prompt_hash};
use crate::results::{MetricValue, TaskResult};
use crate::task::{Judge, OutputType, TaskDef};

/// How a task is run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Documents per backend call (progress and resume granularity).
    pub chunk: usize,
    /// Concurrent sandboxed programs for code tasks.
    pub code_jobs: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            chunk: 16,
            code_jobs: 2,
        }
    }
}

/// A document ready to run: its index, the document and its prompt.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Index in the split.
    pub index: usize,
    /// The (preprocessed) document.
    pub doc: Value,
    /// The prompt: context text, or the chat turns for chat tasks.
    pub prompt: GeneratePrompt,
}

impl Prepared {
    /// The prompt as one string (chat turns joined by NUL), which records hash.
    pub fn prompt_text(&self) -> String {
        match &self.prompt {
            GeneratePrompt::Text(t) => t.clone(),
            GeneratePrompt::Chat { system, user } => {
                format!("{}\u{0}{user}", system.as_deref().unwrap_or(""))
            }
        }
    }
}

fn group_key(def: &TaskDef, doc: &Value) -> String {
    def.group_by
        .as_ref()
        .and_then(|g| doc.get(g))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .unwrap_or_default()
}

/// Loads, preprocesses and limits a task's documents (at most `limit` per `group_by` group, as
/// lm-eval's `--limit` per subtask) and builds their prompts.
pub fn prepare(def: &TaskDef, data: &Path, limit: Option<usize>) -> Result<Vec<Prepared>> {
    let raw = docs::load_split(data, &def.dataset, &def.test_split)?;
    let all: Vec<Value> = raw
        .into_iter()
        .map(|d| docs::preprocess(def.process_docs.as_deref(), d))
        .collect::<Result<_>>()?;
    let pool_docs = match (&def.fewshot.file, &def.fewshot.split) {
        _ if def.num_fewshot == 0 => Vec::new(),
        (Some(file), _) => docs::load_split(data, &def.dataset, file)?,
        (None, Some(split)) if *split != def.test_split => {
            docs::load_split(data, &def.dataset, split)?
                .into_iter()
                .map(|d| docs::preprocess(def.process_docs.as_deref(), d))
                .collect::<Result<_>>()?
        }
        _ => all.clone(),
    };
    let same_split = def.fewshot.file.is_none()
        && def
            .fewshot
            .split
            .as_ref()
            .is_none_or(|s| *s == def.test_split);
    // One pool (with its own random state) per group, as lm-eval runs one task per subject.
    let mut pools: BTreeMap<String, FewshotPool> = BTreeMap::new();
    let mut by_group: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in pool_docs {
        by_group.entry(group_key(def, &d)).or_default().push(d);
    }
    let builder = PromptBuilder::new(def);
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (index, doc) in all.into_iter().enumerate() {
        let key = group_key(def, &doc);
        let n = taken.entry(key.clone()).or_default();
        if limit.is_some_and(|l| *n >= l) {
            continue;
        }
        *n += 1;
        let examples = if def.num_fewshot == 0 {
            Vec::new()
        } else {
            let pool = match pools.get_mut(&key) {
                Some(p) => p,
                None => {
                    let docs = by_group.get(&key).cloned().unwrap_or_default();
                    pools.entry(key.clone()).or_insert(FewshotPool::new(
                        docs,
                        def.fewshot.sampler,
                        def.fewshot.seed,
                        same_split,
                    ))
                }
            };
            pool.examples(&doc, def.num_fewshot)
                .map_err(|e| Error::Doc {
                    task: def.task.clone(),
                    doc: index,
                    reason: e.to_string(),
                })?
        };
        let chat = def.generation.as_ref().is_some_and(|g| g.chat);
        let prompt = if chat {
            let system = match def.generation.as_ref().and_then(|g| g.system.as_ref()) {
                Some(s) => Some(builder.render(s, &doc)?),
                None => None,
            };
            GeneratePrompt::Chat {
                system,
                user: builder.context(&doc, &examples)?,
            }
        } else {
            GeneratePrompt::Text(builder.context(&doc, &examples)?)
        };
        out.push(Prepared { index, doc, prompt });
    }
    Ok(out)
}

fn text_prompt(p: &Prepared, task: &str) -> Result<String> {
    match &p.prompt {
        GeneratePrompt::Text(t) => Ok(t.clone()),
        GeneratePrompt::Chat { .. } => Err(Error::task(
            task,
            "chat prompts only work with generate_until",
        )),
    }
}

/// A record with the document's identity and target filled in.
pub(crate) fn base_record(p: &Prepared, target: String) -> SampleRecord {
    SampleRecord {
        doc_index: p.index,
        doc_id: doc_id(&p.doc),
        prompt_sha256: prompt_hash(&p.prompt_text()),
        target,
        logprobs: Vec::new(),
        is_greedy: Vec::new(),
        output: None,
        outputs: Vec::new(),
        extracted: BTreeMap::new(),
        detail: None,
        metrics: BTreeMap::new(),
    }
}

/// Scores one chunk of prepared documents.
fn run_chunk(
    def: &TaskDef,
    chunk: &[Prepared],
    backend: &mut dyn Backend,
    opts: &RunOptions,
) -> Result<Vec<SampleRecord>> {
    let builder = PromptBuilder::new(def);
    let noop = |_: usize| {};
    match def.output_type {
        OutputType::MultipleChoice => {
            let mut requests = Vec::new();
            let mut spans = Vec::new();
            for p in chunk {
                let context = text_prompt(p, &def.task)?;
                let conts = builder.continuations(&p.doc)?;
                spans.push(requests.len()..requests.len() + conts.len());
                requests.extend(conts.into_iter().map(|continuation| LoglikelihoodRequest {
                    context: context.clone(),
                    continuation,
                }));
            }
            let answers = backend.loglikelihood(&requests, &noop)?;
            chunk
                .iter()
                .zip(spans)
                .map(|(p, span)| {
                    let Target::Index(gold) = builder.target(&p.doc)? else {
                        return Err(Error::Doc {
                            task: def.task.clone(),
                            doc: p.index,
                            reason: "target is not a choice".into(),
                        });
                    };
                    let choices = builder.choices(&p.doc)?;
                    let lls: Vec<f64> = answers[span.clone()].iter().map(|a| a.logprob).collect();
                    let s = metrics::choice_scores(&lls, &choices, gold);
                    let mut r = base_record(p, gold.to_string());
                    r.is_greedy = answers[span].iter().map(|a| a.is_greedy).collect();
                    r.logprobs = lls;
                    r.metrics = BTreeMap::from([
                        ("acc".to_string(), s.acc),
                        ("acc_norm".to_string(), s.acc_norm),
                        ("acc_bytes".to_string(), s.acc_bytes),
                    ]);
                    Ok(r)
                })
                .collect()
        }
        OutputType::LoglikelihoodRolling => {
            let texts: Vec<String> = chunk
                .iter()
                .map(|p| text_prompt(p, &def.task))
                .collect::<Result<_>>()?;
            let answers = backend.loglikelihood_rolling(&texts, &noop)?;
            Ok(chunk
                .iter()
                .zip(texts.iter().zip(answers))
                .map(|(p, (text, a))| {
                    let mut r = base_record(p, String::new());
                    r.logprobs = vec![a.logprob];
                    r.metrics = BTreeMap::from([
                        ("ll".to_string(), a.logprob),
                        ("tokens".to_string(), a.tokens as f64),
                        ("words".to_string(), metrics::count_words(text) as f64),
                        ("bytes".to_string(), text.len() as f64),
                    ]);
                    r
                })
                .collect())
        }
        OutputType::GenerateUntil => {
            let g = def
                .generation
                .as_ref()
                .ok_or_else(|| Error::task(&def.task, "no [generation]"))?;
            let n = g.samples.max(1);
            let requests: Vec<GenerateRequest> = chunk
                .iter()
                .flat_map(|p| {
                    (0..n).map(move |s| GenerateRequest {
                        prompt: p.prompt.clone(),
                        until: g.until.clone(),
                        max_new_tokens: g.max_gen_toks,
                        temperature: if n > 1 { g.temperature } else { 0.0 },
                        top_p: g.top_p,
                        seed: sample_seed(p.index, s),
                    })
                })
                .collect();
            let flat = backend.generate_until(&requests, &noop)?;
            let outputs: Vec<Vec<String>> = flat.chunks(n).map(<[String]>::to_vec).collect();
            crate::judge::judge(def, &builder, chunk, outputs, opts)
        }
    }
}

/// The seed of sample `s` of document `doc`: SplitMix64 of both, so a resumed or re-chunked run
/// draws the same samples.
pub fn sample_seed(doc: usize, s: usize) -> u64 {
    let mut z = (doc as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (s as u64).wrapping_add(0x2545_F491_4F6C_DD1D);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs `def` on its prepared documents; `done` holds records of an interrupted run (reused
/// when the prompt hash still matches), `on_record` sees every new record as it is made, and
/// `progress` the number of documents finished so far.
pub fn run_task(
    def: &TaskDef,
    prepared: &[Prepared],
    backend: &mut dyn Backend,
    opts: &RunOptions,
    done: &[SampleRecord],
    on_record: &mut dyn FnMut(&SampleRecord) -> Result<()>,
    progress: &dyn Fn(usize),
) -> Result<(TaskResult, Vec<SampleRecord>)> {
    let _span = info_span!("task", task = %def.task, docs = prepared.len()).entered();
    let start = Instant::now();
    let reuse: HashMap<(usize, &str), &SampleRecord> = done
        .iter()
        .map(|r| ((r.doc_index, r.prompt_sha256.as_str()), r))
        .collect();
    let mut records: Vec<SampleRecord> = Vec::with_capacity(prepared.len());
    let mut todo: Vec<Prepared> = Vec::new();
    for p in prepared {
        let hash = prompt_hash(&p.prompt_text());
        match reuse.get(&(p.index, hash.as_str())) {
            Some(r) => records.push((*r).clone()),
            None => todo.push(p.clone()),
        }
    }
    progress(records.len());
    for chunk in todo.chunks(opts.chunk.max(1)) {
        for r in run_chunk(def, chunk, backend, opts)? {
            on_record(&r)?;
            records.push(r);
        }
        progress(records.len());
    }
    records.sort_by_key(|r| r.doc_index);
    let result = aggregate(def, &records, start.elapsed().as_secs_f64());
    Ok((result, records))
}

/// Aggregates per-sample records into the task's metrics.
pub fn aggregate(def: &TaskDef, records: &[SampleRecord], seconds: f64) -> TaskResult {
    let mut metrics: BTreeMap<String, MetricValue> = BTreeMap::new();
    if def.output_type == OutputType::LoglikelihoodRolling {
        let sum = |k: &str| {
            records
                .iter()
                .map(|r| r.metrics.get(k).copied().unwrap_or(0.0))
                .sum::<f64>()
        };
        let (ll, words, bytes, tokens) = (sum("ll"), sum("words"), sum("bytes"), sum("tokens"));
        let v = |value: f64| MetricValue {
            value,
            stderr: None,
        };
        metrics.insert("word_perplexity".into(), v((-ll / words.max(1.0)).exp()));
        metrics.insert("byte_perplexity".into(), v((-ll / bytes.max(1.0)).exp()));
        metrics.insert(
            "bits_per_byte".into(),
            v(-ll / bytes.max(1.0) / std::f64::consts::LN_2),
        );
        metrics.insert("token_perplexity".into(), v((-ll / tokens.max(1.0)).exp()));
    } else {
        let names: std::collections::BTreeSet<&String> =
            records.iter().flat_map(|r| r.metrics.keys()).collect();
        for name in names {
            let values: Vec<f64> = records
                .iter()
                .filter_map(|r| r.metrics.get(name).copied())
                .collect();
            let (value, stderr) = metrics::mean_stderr(&values);
            metrics.insert(name.clone(), MetricValue { value, stderr });
        }
    }
    TaskResult {
        task: def.task.clone(),
        domain: def.domain.clone(),
        primary_metric: def.primary_metric.clone(),
        samples: records.len(),
        num_fewshot: def.num_fewshot,
        metrics,
        seconds,
    }
}

/// The extractors of a task's filters.
pub fn extractors(def: &TaskDef) -> Result<Vec<Extractor>> {
    def.filters.iter().map(Extractor::new).collect()
}

/// Whether `judge` needs Python.
pub fn needs_python(def: &TaskDef) -> bool {
    matches!(def.judge, Judge::Humaneval | Judge::Mbpp)
}
