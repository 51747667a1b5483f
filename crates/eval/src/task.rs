//! Task definitions in TOML, with lm-evaluation-harness' YAML keys where they exist
//! (`doc_to_text`, `doc_to_choice`, `doc_to_target`, `target_delimiter`, `fewshot_delimiter`,
//! `num_fewshot`, `fewshot_split`, `sampler`, `generation_kwargs.until`, filters), so a user who
//! knows lm-eval reads them at a glance. The built-in tasks live in `crates/eval/tasks/*.toml`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The three lm-eval request types, plus the scored-by-execution and tool-call kinds that are
/// `generate_until` with a different judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputType {
    /// One `loglikelihood` request per choice; acc, acc_norm, acc_bytes.
    MultipleChoice,
    /// One `loglikelihood_rolling` request per document; perplexities and bits per byte.
    LoglikelihoodRolling,
    /// One `generate_until` request per document, judged by [`Judge`].
    GenerateUntil,
}

/// How a generated answer is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Judge {
    /// Every filter's extracted answer compared with the target (lm-eval `exact_match`).
    #[default]
    ExactMatch,
    /// The completion appended to the HumanEval prompt and run against the tests.
    Humaneval,
    /// The extracted code run against MBPP's `test_list`.
    Mbpp,
    /// BFCL AST matching of function calls against the acceptable values.
    Bfcl,
}

/// How few-shot examples are drawn (lm-eval `fewshot_config.sampler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    /// `random.Random(seed).sample(docs, n)` — lm-eval's `default` sampler.
    #[default]
    Default,
    /// The first `n` documents in order (lm-eval `first_n`, used by MMLU on its dev split).
    FirstN,
}

/// One answer-extraction filter (lm-eval `filter_list` with `regex` + `take_first`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterDef {
    /// Name the metric is reported under (`exact_match,<name>`).
    pub name: String,
    /// The regex; the first capture group that matched is the answer.
    pub regex: String,
    /// Which match to keep: 0 the first, -1 the last (lm-eval `group_select`).
    #[serde(default)]
    pub group_select: i64,
    /// Answer when nothing matches.
    #[serde(default = "default_fallback")]
    pub fallback: String,
}

fn default_fallback() -> String {
    "[invalid]".into()
}

/// Generation settings (lm-eval `generation_kwargs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationDef {
    /// Stop strings; the output is cut before the first one.
    #[serde(default)]
    pub until: Vec<String>,
    /// Maximum new tokens.
    #[serde(default = "default_max_gen")]
    pub max_gen_toks: usize,
    /// Render the prompt through the model's chat template as one user turn (with a system
    /// turn when `system` is set) instead of feeding raw text.
    #[serde(default)]
    pub chat: bool,
    /// System message for chat prompts (a template).
    #[serde(default)]
    pub system: Option<String>,
    /// Generations per document (pass@k needs n > k samples; 1 = greedy).
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Sampling temperature when `samples > 1` (0 = greedy).
    #[serde(default)]
    pub temperature: f32,
    /// Nucleus threshold when sampling.
    #[serde(default = "default_top_p")]
    pub top_p: f32,
    /// The k of every pass@k reported (each ≤ `samples`).
    #[serde(default = "default_k")]
    pub k: Vec<usize>,
}

fn default_samples() -> usize {
    1
}
fn default_top_p() -> f32 {
    1.0
}
fn default_k() -> Vec<usize> {
    vec![1]
}

fn default_max_gen() -> usize {
    256
}

/// Where few-shot examples come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FewshotDef {
    /// Split of the same dataset to draw from (default: the test split, excluding the doc).
    #[serde(default)]
    pub split: Option<String>,
    /// Or a JSONL file of examples in the dataset directory (e.g. `fewshot.jsonl`).
    #[serde(default)]
    pub file: Option<String>,
    /// How examples are drawn.
    #[serde(default)]
    pub sampler: Sampler,
    /// Seed for the `default` sampler (lm-eval's `fewshot_random_seed`).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1234
}

/// A whole task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    /// Task name.
    pub task: String,
    /// Domain the gates aggregate over (`knowledge`, `reasoning`, `code`, `automation`, …).
    pub domain: String,
    /// Directory of the benchmark-data artifact holding the documents.
    pub dataset: String,
    /// Split that is scored.
    pub test_split: String,
    /// lm-eval request type.
    pub output_type: OutputType,
    /// A named document preprocessor (`hellaswag`).
    #[serde(default)]
    pub process_docs: Option<String>,
    /// Few-shot examples and the description come from documents with the same value of this
    /// field (`subject` for MMLU, which lm-eval runs as one task per subject).
    #[serde(default)]
    pub group_by: Option<String>,
    /// Template rendered before the examples (may use the doc's fields).
    #[serde(default)]
    pub description: String,
    /// Template: the document's question text.
    pub doc_to_text: String,
    /// Expression: the target — an index into the choices, or the answer text.
    #[serde(default)]
    pub doc_to_target: Option<String>,
    /// Expression giving the list of choices (multiple choice).
    #[serde(default)]
    pub doc_to_choice: Option<String>,
    /// Between the question text and the answer.
    #[serde(default = "default_target_delimiter")]
    pub target_delimiter: String,
    /// Between few-shot examples (and after the last one).
    #[serde(default = "default_fewshot_delimiter")]
    pub fewshot_delimiter: String,
    /// Few-shot examples per prompt.
    #[serde(default)]
    pub num_fewshot: usize,
    /// Where examples come from.
    #[serde(default)]
    pub fewshot: FewshotDef,
    /// The metric gates and reports use.
    pub primary_metric: String,
    /// Generation settings (`generate_until`).
    #[serde(default)]
    pub generation: Option<GenerationDef>,
    /// Answer-extraction filters (`generate_until` with `exact_match`).
    #[serde(default)]
    pub filters: Vec<FilterDef>,
    /// How generated answers are judged.
    #[serde(default)]
    pub judge: Judge,
    /// Regexes removed from answer and target before `exact_match` (lm-eval `regexes_to_ignore`).
    #[serde(default)]
    pub ignore_regexes: Vec<String>,
    /// Seconds a code sample may run (`humaneval`, `mbpp`).
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
}

fn default_target_delimiter() -> String {
    " ".into()
}
fn default_fewshot_delimiter() -> String {
    "\n\n".into()
}
fn default_timeout() -> f64 {
    10.0
}

/// The tasks shipped with Cogumi, by name, as TOML text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("mmlu", include_str!("../tasks/mmlu.toml")),
    ("arc_easy", include_str!("../tasks/arc_easy.toml")),
    ("arc_challenge", include_str!("../tasks/arc_challenge.toml")),
    ("hellaswag", include_str!("../tasks/hellaswag.toml")),
    ("gsm8k", include_str!("../tasks/gsm8k.toml")),
    ("humaneval", include_str!("../tasks/humaneval.toml")),
    ("mbpp", include_str!("../tasks/mbpp.toml")),
    ("bfcl_simple", include_str!("../tasks/bfcl_simple.toml")),
    ("bfcl_multiple", include_str!("../tasks/bfcl_multiple.toml")),
    ("bfcl_parallel", include_str!("../tasks/bfcl_parallel.toml")),
    (
        "bfcl_irrelevance",
        include_str!("../tasks/bfcl_irrelevance.toml"),
    ),
];

impl TaskDef {
    /// Parses a task from TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let def: TaskDef = toml::from_str(text).map_err(|e| Error::Parse {
            path: origin.to_path_buf(),
            reason: e.to_string(),
        })?;
        def.validate()?;
        Ok(def)
    }

    /// Reads a task file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    /// A built-in task by name.
    pub fn builtin(name: &str) -> Result<Self> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            Error::task(
                name,
                format!("no such built-in task (have: {})", names.join(", ")),
            )
        })?;
        Self::from_toml(text, Path::new(&format!("<builtin>/{name}.toml")))
    }

    /// Checks the combinations a run would otherwise trip over half-way.
    pub fn validate(&self) -> Result<()> {
        let fail = |r: &str| Err(Error::task(&self.task, r));
        match self.output_type {
            OutputType::MultipleChoice => {
                if self.doc_to_choice.is_none() || self.doc_to_target.is_none() {
                    return fail("multiple_choice needs doc_to_choice and doc_to_target");
                }
            }
            OutputType::GenerateUntil => {
                let Some(g) = &self.generation else {
                    return fail("generate_until needs a [generation] table");
                };
                if g.samples == 0 || g.k.iter().any(|&k| k == 0 || k > g.samples) {
                    return fail("every pass@k needs 1 ≤ k ≤ generation.samples");
                }
                if g.samples > 1 && g.temperature <= 0.0 {
                    return fail(
                        "generation.samples > 1 needs a temperature > 0 (greedy samples are identical)",
                    );
                }
                if self.judge == Judge::ExactMatch && self.doc_to_target.is_none() {
                    return fail("exact_match needs doc_to_target");
                }
            }
            OutputType::LoglikelihoodRolling => {}
        }
        if self.num_fewshot > 0 && self.doc_to_target.is_none() {
            return fail("few-shot examples need doc_to_target");
        }
        if let Some(p) = &self.process_docs
            && !crate::docs::PREPROCESSORS.contains(&p.as_str())
        {
            return fail(&format!(
                "unknown process_docs `{p}` (have: {})",
                crate::docs::PREPROCESSORS.join(", ")
            ));
        }
        for f in &self.filters {
            regex::Regex::new(&f.regex)
                .map_err(|e| Error::task(&self.task, format!("filter `{}`: {e}", f.name)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_task_parses_and_validates() {
        for (name, _) in BUILTIN {
            let def = TaskDef::builtin(name).unwrap();
            assert_eq!(&def.task, name);
        }
    }

    #[test]
    fn unknown_fields_and_bad_combinations_are_errors() {
        let bad = "task='x'\ndomain='d'\ndataset='d'\ntest_split='t'\noutput_type='multiple_choice'\n\
                   doc_to_text='q'\nprimary_metric='acc'\ncolour='red'\n";
        let e = TaskDef::from_toml(bad, Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let no_choices = bad.replace("colour='red'\n", "");
        let e = TaskDef::from_toml(&no_choices, Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("doc_to_choice"), "{e}");
    }
}
