//! Judging generated answers: lm-eval `exact_match` after the task's extraction filters, and
//! (through `cogumi-checkers`) sandboxed execution for HumanEval/MBPP and BFCL AST matching.

use regex::Regex;

use crate::engine::{Prepared, RunOptions, base_record, extractors};
use crate::error::{Error, Result};
use crate::metrics;
use crate::prompt::PromptBuilder;
use crate::records::SampleRecord;
use crate::task::{Judge, TaskDef};

/// Judges one chunk's outputs (`outputs[d]` holds document `d`'s samples).
pub fn judge(
    def: &TaskDef,
    builder: &PromptBuilder<'_>,
    chunk: &[Prepared],
    outputs: Vec<Vec<String>>,
    opts: &RunOptions,
) -> Result<Vec<SampleRecord>> {
    if def.judge == Judge::Humaneval || def.judge == Judge::Mbpp {
        return crate::code::judge(def, chunk, outputs, opts);
    }
    // Exact match and tool calls score one (the first) generation per document.
    let first: Vec<String> = outputs
        .into_iter()
        .map(|o| o.into_iter().next().unwrap_or_default())
        .collect();
    match def.judge {
        Judge::Bfcl => crate::code::judge_bfcl(def, chunk, first),
        _ => exact(def, builder, chunk, first),
    }
}

fn exact(
    def: &TaskDef,
    builder: &PromptBuilder<'_>,
    chunk: &[Prepared],
    outputs: Vec<String>,
) -> Result<Vec<SampleRecord>> {
    let filters = extractors(def)?;
    let ignore: Vec<Regex> = def
        .ignore_regexes
        .iter()
        .map(|r| {
            Regex::new(r).map_err(|e| Error::task(&def.task, format!("ignore regex {r:?}: {e}")))
        })
        .collect::<Result<_>>()?;
    chunk
        .iter()
        .zip(outputs)
        .map(|(p, out)| {
            let target = builder.target_text(&p.doc)?;
            let mut r = judged(p, target.clone(), out.clone());
            if filters.is_empty() {
                r.metrics.insert(
                    "exact_match".into(),
                    metrics::exact_match(&out, &target, &ignore, true),
                );
            }
            for f in &filters {
                let answer = f.extract(&out);
                let m = metrics::exact_match(&answer, &target, &ignore, true);
                r.metrics.insert(format!("exact_match,{}", f.name), m);
                r.extracted.insert(f.name.clone(), answer);
            }
            Ok(r)
        })
        .collect()
}

/// A record for a judged generation (exact match, code and tool-call judges).
pub(crate) fn judged(p: &Prepared, target: String, output: String) -> SampleRecord {
    let mut r = base_record(p, target);
    r.output = Some(output);
    r
}
