//! The results of one evaluation run (`results.json` in an `eval` artifact): what gates check
//! and reports compare. Metric names follow lm-evaluation-harness (`acc`, `acc_norm`,
//! `exact_match,strict-match`, `pass@1`, `bits_per_byte`, …).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the `results.json` layout; bumped on any incompatible change.
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

/// Everything one `phase9_validation run` measured for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunResults {
    /// [`RESULTS_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The model evaluated.
    pub model: ModelInfo,
    /// Backend that produced the numbers (`burn-flex`, `openai:<url>`, …).
    pub backend: String,
    /// One entry per task, in the order they ran.
    pub tasks: Vec<TaskResult>,
    /// Throughput and memory, when measured.
    pub speed: Option<SpeedResult>,
}

/// Which model a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Display name (e.g. `smollm2-135m`, `smollm2-135m+lora`).
    pub name: String,
    /// Variant label used to group report columns: `base`, `fine-tuned`, `compressed`,
    /// `modifier`, or anything the user passes.
    pub variant: String,
    /// Artifact id when the model came from the artifact store.
    pub artifact_id: Option<String>,
    /// Bytes of weights on disk (sum of the weight files).
    pub size_bytes: Option<u64>,
    /// Number of parameters.
    pub parameters: Option<u64>,
}

/// One metric's value with its standard error (lm-eval's sample stderr where defined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricValue {
    /// The value (a fraction in [0, 1] for accuracies and pass rates).
    pub value: f64,
    /// Standard error of the mean, when the metric is a mean over samples.
    pub stderr: Option<f64>,
}

/// The scores of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskResult {
    /// Task name (`mmlu`, `arc_easy`, `humaneval`, …).
    pub task: String,
    /// Domain the gates aggregate over (`code`, `reasoning`, `knowledge`, `automation`, …).
    pub domain: String,
    /// The metric gates and reports use when none is named.
    pub primary_metric: String,
    /// Number of documents scored.
    pub samples: usize,
    /// Few-shot examples per prompt.
    pub num_fewshot: usize,
    /// Every metric by name.
    pub metrics: BTreeMap<String, MetricValue>,
    /// Wall-clock seconds the task took.
    pub seconds: f64,
}

impl TaskResult {
    /// The primary metric's value.
    pub fn primary(&self) -> Option<f64> {
        self.metrics.get(&self.primary_metric).map(|m| m.value)
    }
}

/// Throughput and memory of one model in one mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedResult {
    /// What was measured (`f32 cpu 2 threads`, `bf16`, …).
    pub mode: String,
    /// Prompt tokens per second (one sequence).
    pub prefill_tok_s: f64,
    /// Generated tokens per second with the KV cache (greedy).
    pub decode_tok_s: f64,
    /// Time to first token for the measured prompt, milliseconds.
    pub ttft_ms: f64,
    /// Peak resident set size of the process, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Prompt length used.
    pub prompt_tokens: usize,
    /// Generated tokens used.
    pub new_tokens: usize,
}

impl RunResults {
    /// The task named `name`.
    pub fn task(&self, name: &str) -> Option<&TaskResult> {
        self.tasks.iter().find(|t| t.task == name)
    }

    /// Mean primary metric over the tasks of `domain` (None when it has none).
    pub fn domain_mean(&self, domain: &str) -> Option<f64> {
        let values: Vec<f64> = self
            .tasks
            .iter()
            .filter(|t| t.domain == domain)
            .filter_map(TaskResult::primary)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}
