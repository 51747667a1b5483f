//! The evaluation commands end to end on SmolLM2-135M: `run` on a small data directory built from
//! the lm-eval reference fixture (its accuracies are lm-eval's, so the expectation is
//! independent), resume from partial records, `gate` exit codes and `report` outputs.

use std::path::{Path, PathBuf};
use std::process::Command;

use cogumi_testkit::{fixture, smollm2_model_dir};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_phase9_validation"))
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("eval/loglik/reference.json")).unwrap())
        .unwrap()
}

/// `<dir>/arc_easy/validation.jsonl` with the reference's ARC-Easy documents.
fn data_dir(dir: &Path) -> (PathBuf, f64, f64) {
    let r = reference();
    let task = r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == "arc_easy")
        .unwrap();
    let rows: Vec<String> = task["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doc"].to_string())
        .collect();
    std::fs::create_dir_all(dir.join("arc_easy")).unwrap();
    std::fs::write(
        dir.join("arc_easy/validation.jsonl"),
        rows.join("\n") + "\n",
    )
    .unwrap();
    (
        dir.to_path_buf(),
        task["acc"].as_f64().unwrap(),
        task["acc_norm"].as_f64().unwrap(),
    )
}

fn run(out: &Path, data: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("--out")
        .arg(out)
        .args(["run", "--tasks", "arc_easy", "--name", "smol", "-q"])
        .arg("--model")
        .arg(smollm2_model_dir())
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string()
}

#[test]
fn run_gate_report_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, acc, acc_norm) = data_dir(&tmp.path().join("data"));
    let out = tmp.path().join("artifacts");
    let eval_dir = PathBuf::from(ok(&run(&out, &data, &[])));
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(eval_dir.join("results.json")).unwrap())
            .unwrap();
    let t = &results["tasks"][0];
    assert_eq!(t["samples"], 8);
    assert_eq!(
        t["metrics"]["acc"]["value"].as_f64().unwrap(),
        acc,
        "acc equals lm-eval's"
    );
    assert_eq!(
        t["metrics"]["acc_norm"]["value"].as_f64().unwrap(),
        acc_norm
    );
    let samples = std::fs::read_to_string(eval_dir.join("samples/arc_easy.jsonl")).unwrap();
    assert_eq!(samples.lines().count(), 8);
    assert!(eval_dir.join("report.md").exists());

    // Resume: a partial record with a matching prompt hash is reused as is (its planted score
    // shows up), one with a stale hash is recomputed.
    let first: Value = serde_json::from_str(samples.lines().next().unwrap()).unwrap();
    let mut planted = first.clone();
    planted["metrics"]["acc"] = Value::from(1.0 - first["metrics"]["acc"].as_f64().unwrap());
    let mut stale = first.clone();
    stale["doc_index"] = Value::from(1);
    stale["prompt_sha256"] = Value::from("0".repeat(64));
    let out2 = tmp.path().join("artifacts2");
    let plan = bin()
        .arg("--out")
        .arg(&out2)
        .args(["--plan"])
        .args(["run", "--tasks", "arc_easy", "--name", "smol"])
        .arg("--model")
        .arg(smollm2_model_dir())
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let plan: Value = serde_json::from_str(String::from_utf8_lossy(&plan.stdout).trim()).unwrap();
    let id = plan["id"].as_str().unwrap();
    let partial = out2.join("eval").join(format!(".{id}.partial"));
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(
        partial.join("arc_easy.jsonl"),
        format!("{planted}\n{stale}\n"),
    )
    .unwrap();
    let resumed = PathBuf::from(ok(&run(&out2, &data, &[])));
    let r2: Value =
        serde_json::from_str(&std::fs::read_to_string(resumed.join("results.json")).unwrap())
            .unwrap();
    let acc2 = r2["tasks"][0]["metrics"]["acc"]["value"].as_f64().unwrap();
    let delta = (planted["metrics"]["acc"].as_f64().unwrap()
        - first["metrics"]["acc"].as_f64().unwrap())
        / 8.0;
    assert!(
        (acc2 - (acc + delta)).abs() < 1e-12,
        "resumed acc {acc2}, expected {}",
        acc + delta
    );
    assert!(
        !partial.exists(),
        "partial records are removed after commit"
    );

    // Gates: one passes, one fails; exit code 1 names the failure.
    let gates = tmp.path().join("gates.toml");
    std::fs::write(
        &gates,
        format!(
            "[[gate]]\nname = \"arc floor\"\ntask = \"arc_easy\"\nmetric = \"acc_norm\"\nmin = {}\n\
         [[gate]]\nname = \"arc ceiling\"\ntask = \"arc_easy\"\nmin = 0.99\n",
            acc_norm - 0.01
        ),
    )
    .unwrap();
    let g = bin()
        .args(["gate", "--results"])
        .arg(&eval_dir)
        .arg("--gates")
        .arg(&gates)
        .output()
        .unwrap();
    assert_eq!(
        g.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&g.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&g.stdout).trim(),
        "failed gates: arc ceiling"
    );

    // Report: both runs side by side, HTML with the chart and the gates.
    let rep = bin()
        .arg("--out")
        .arg(&out)
        .args(["report", "--results"])
        .arg(&eval_dir)
        .arg("--results")
        .arg(&resumed)
        .arg("--gates")
        .arg(&gates)
        .args(["-q"])
        .output()
        .unwrap();
    let rep_dir = PathBuf::from(ok(&rep));
    let html = std::fs::read_to_string(rep_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("arc ceiling") && html.contains("FAIL"));
    let card = std::fs::read_to_string(rep_dir.join("model_card.md")).unwrap();
    assert!(
        card.contains("Gates: 1 of 2 passed (failed: arc ceiling)"),
        "{card}"
    );
}

/// A one-shot loopback OpenAI-compatible server: answers every `/v1/completions` request with
/// `text` and records the request bodies.
fn serve(text: &'static str) -> (String, std::sync::mpsc::Receiver<Value>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut line, mut len, mut path) = (String::new(), 0usize, String::new());
            reader.read_line(&mut line).unwrap();
            path.push_str(line.split_whitespace().nth(1).unwrap_or(""));
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let mut req: Value = serde_json::from_slice(&body).unwrap();
            req["path"] = Value::from(path);
            tx.send(req).unwrap();
            let resp = serde_json::json!({"id": "x", "object": "text_completion", "model": "m",
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
                resp.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn an_openai_compatible_endpoint_runs_generation_tasks() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data/gsm8k");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("test.jsonl"),
        "{\"question\": \"2+2?\", \"answer\": \"2+2=4\\n#### 4\", \"id\": 0}\n",
    )
    .unwrap();
    let shots: Vec<String> = (0..8)
        .map(|i| format!("{{\"question\": \"q{i}\", \"answer\": \"a{i}. So the answer is {i}.\"}}"))
        .collect();
    std::fs::write(data.join("fewshot.jsonl"), shots.join("\n") + "\n").unwrap();
    let (url, requests) = serve(" 2 and 2 make 4. So the answer is 4.\n\nQuestion: next");
    let o = bin()
        .arg("--out")
        .arg(tmp.path().join("a"))
        .args([
            "run",
            "--tasks",
            "gsm8k",
            "--endpoint",
            &url,
            "--endpoint-model",
            "served",
            "-q",
            "--data",
        ])
        .arg(tmp.path().join("data"))
        .output()
        .unwrap();
    let dir = PathBuf::from(ok(&o));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let m = &r["tasks"][0]["metrics"];
    assert_eq!(m["exact_match,strict-match"]["value"], 1.0);
    assert_eq!(m["exact_match,flexible-extract"]["value"], 1.0);
    let req = requests.recv().unwrap();
    assert_eq!(req["path"], "/v1/completions");
    assert_eq!(req["model"], "served");
    let prompt = req["prompt"].as_str().unwrap();
    assert!(
        prompt.starts_with("Question: q0\nAnswer: a0. So the answer is 0.\n\n")
            && prompt.ends_with("Question: 2+2?\nAnswer:"),
        "{prompt}"
    );
    assert_eq!(
        req["stop"],
        serde_json::json!(["Question:", "</s>", "<|im_end|>", "\n\n"])
    );
}
