//! Prompt building as lm-evaluation-harness 0.4 builds it (`ConfigurableTask.fewshot_context`,
//! `samplers.ContextSampler.get_context`): description, then few-shot examples each rendered as
//! `doc_to_text + target_delimiter + target`, joined and followed by `fewshot_delimiter`, then the
//! document's `doc_to_text`. Multiple-choice continuations are `target_delimiter + choice`.

use minijinja::value::{Value as JValue, ValueKind};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::pyrandom::{FewshotSampler, SamplerKind};
use crate::task::{Sampler, TaskDef};
use crate::template::Templates;

/// A task's templates bound to its definition.
#[derive(Debug)]
pub struct PromptBuilder<'a> {
    def: &'a TaskDef,
    t: Templates,
}

/// Where examples are drawn from, with lm-eval's per-task random state.
#[derive(Debug)]
pub struct FewshotPool {
    sampler: FewshotSampler<Value>,
    /// lm-eval passes the scored document to the sampler (which then excludes it) when
    /// `fewshot_split == test_split`, both unset included.
    same_split: bool,
}

impl FewshotPool {
    /// A pool over `docs`; `same_split` when lm-eval would exclude the scored document.
    pub fn new(docs: Vec<Value>, sampler: Sampler, seed: u64, same_split: bool) -> Self {
        let kind = match sampler {
            Sampler::FirstN => SamplerKind::FirstN,
            Sampler::Default => SamplerKind::Default,
        };
        FewshotPool {
            sampler: FewshotSampler::new(docs, kind, seed),
            same_split,
        }
    }

    /// `n` examples for `doc`, advancing the random state exactly as lm-eval does.
    pub fn examples(&mut self, doc: &Value, n: usize) -> Result<Vec<Value>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let eval_doc = self.same_split.then_some(doc);
        self.sampler
            .sample(n, eval_doc)
            .map_err(|e| Error::task("fewshot", e))
    }
}

/// A multiple-choice or generation target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Index into the choices.
    Index(usize),
    /// Answer text.
    Text(String),
}

impl<'a> PromptBuilder<'a> {
    /// Templates for `def`.
    pub fn new(def: &'a TaskDef) -> Self {
        PromptBuilder {
            def,
            t: Templates::new(&def.task),
        }
    }

    /// The question text of `doc`.
    pub fn text(&self, doc: &Value) -> Result<String> {
        self.t.render(&self.def.doc_to_text, doc)
    }

    /// The choices of `doc` (multiple choice).
    pub fn choices(&self, doc: &Value) -> Result<Vec<String>> {
        match &self.def.doc_to_choice {
            Some(e) => self.t.eval_strings(e, doc),
            None => Ok(Vec::new()),
        }
    }

    /// The target of `doc`: an index when the task has choices and the target is a number
    /// (or a digit string, or one of the choices), else text — lm-eval's rules.
    pub fn target(&self, doc: &Value) -> Result<Target> {
        let Some(expr) = &self.def.doc_to_target else {
            return Err(Error::task(&self.def.task, "no doc_to_target"));
        };
        let v: JValue = self.t.eval(expr, doc)?;
        if self.def.doc_to_choice.is_none() {
            return Ok(Target::Text(cogumi_tokenizer::py_str(&v)));
        }
        let choices = self.choices(doc)?;
        let index = if v.kind() == ValueKind::Number {
            i64::try_from(v.clone()).ok().map(|i| i as usize)
        } else {
            let s = cogumi_tokenizer::py_str(&v);
            s.trim()
                .parse::<usize>()
                .ok()
                .or_else(|| choices.iter().position(|c| *c == s))
        };
        match index {
            Some(i) if i < choices.len() => Ok(Target::Index(i)),
            _ => Err(Error::task(
                &self.def.task,
                format!("target {v} is not a valid choice among {}", choices.len()),
            )),
        }
    }

    /// The answer text a few-shot example shows after the delimiter.
    pub fn target_text(&self, doc: &Value) -> Result<String> {
        Ok(match self.target(doc)? {
            Target::Index(i) => self.choices(doc)?.swap_remove(i),
            Target::Text(s) => s,
        })
    }

    /// The full context for `doc` given its few-shot `examples`.
    pub fn context(&self, doc: &Value, examples: &[Value]) -> Result<String> {
        let mut out = if self.def.description.is_empty() {
            String::new()
        } else {
            self.t.render(&self.def.description, doc)?
        };
        if !examples.is_empty() {
            let shots = examples
                .iter()
                .map(|ex| {
                    Ok(format!(
                        "{}{}{}",
                        self.text(ex)?,
                        self.def.target_delimiter,
                        self.target_text(ex)?
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            out.push_str(&shots.join(&self.def.fewshot_delimiter));
            out.push_str(&self.def.fewshot_delimiter);
        }
        out.push_str(&self.text(doc)?);
        Ok(out)
    }

    /// The continuations scored for a multiple-choice document.
    pub fn continuations(&self, doc: &Value) -> Result<Vec<String>> {
        Ok(self
            .choices(doc)?
            .into_iter()
            .map(|c| format!("{}{c}", self.def.target_delimiter))
            .collect())
    }

    /// Renders a template against `doc` (system prompts and the like).
    pub fn render(&self, template: &str, doc: &Value) -> Result<String> {
        self.t.render(template, doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mmlu() -> TaskDef {
        TaskDef::builtin("mmlu").unwrap()
    }

    #[test]
    fn mmlu_context_matches_lm_eval_layout() {
        let def = mmlu();
        let p = PromptBuilder::new(&def);
        let ex = json!({"question": "1+1?", "subject": "elementary_mathematics",
                        "choices": ["1", "2", "3", "4"], "answer": 1});
        let doc = json!({"question": " 2+2? ", "subject": "elementary_mathematics",
                         "choices": ["4", "5", "6", "7"], "answer": 0});
        let ctx = p.context(&doc, std::slice::from_ref(&ex)).unwrap();
        // Hand-written from lm-eval's mmlu default template.
        let expected = "The following are multiple choice questions (with answers) about \
                        elementary mathematics.\n\n1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n\
                        2+2?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer:";
        assert_eq!(ctx, expected);
        assert_eq!(p.continuations(&doc).unwrap(), [" A", " B", " C", " D"]);
        assert_eq!(p.target(&doc).unwrap(), Target::Index(0));
    }

    #[test]
    fn default_sampler_draws_like_lm_eval() {
        // Random(1234).sample(range(10), 3) == [7, 1, 0] (fixtures/gen/pyrandom.py); with the
        // scored doc 1 in the same split, n + 1 = 3 are drawn and 1 is dropped.
        let docs: Vec<Value> = (0..10).map(|i| json!({"i": i})).collect();
        let mut pool = FewshotPool::new(docs.clone(), Sampler::Default, 1234, true);
        let ex = pool.examples(&docs[1], 2).unwrap();
        assert_eq!(ex, vec![docs[7].clone(), docs[0].clone()]);
    }

    #[test]
    fn first_n_from_the_same_split_skips_the_document_itself() {
        let docs: Vec<Value> = (0..6).map(|i| json!({"i": i})).collect();
        let mut pool = FewshotPool::new(docs.clone(), Sampler::FirstN, 1234, true);
        let ex = pool.examples(&docs[1], 3).unwrap();
        assert_eq!(ex, vec![docs[0].clone(), docs[2].clone(), docs[3].clone()]);
        let ex = pool.examples(&docs[5], 3).unwrap();
        assert_eq!(ex, docs[..3].to_vec());
    }
}
