//! `cargo xtask bench dedup`: near-duplicate removal on the planted-duplicate corpus of
//! `shared/bench/dedup/build_corpus.py`, ours (`phase0_dataset dedup`, end to end: JSON parse,
//! dedup, output) against datasketch 2.0 and rensa (`xtask/peers/dedup_*.py`) in the same run.
//! Reports wall time, CPU time, peak RSS, docs/s, recall of truth pairs by Jaccard bucket,
//! precision, and the cluster-size distribution; records them in `docs/BENCHMARKS.md`.

mod eval;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::util;
use eval::{BUCKETS, Score, Truth};

/// Arguments of `bench dedup`.
#[derive(Debug, Args, Clone)]
pub struct BenchDedupArgs {
    /// Documents in the corpus.
    #[arg(long, default_value_t = 50_000)]
    pub n: usize,
    /// Corpus seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Peers to run: `datasketch`, `rensa`, or `none`, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "datasketch,rensa")]
    pub peers: Vec<String>,
    /// Threads for every tool (`RAYON_NUM_THREADS`, `OMP_NUM_THREADS`).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// `--max-memory` passed to ours (e.g. `1GiB`), to measure the spill path.
    #[arg(long)]
    pub max_memory: Option<String>,
    /// Use this `phase0_dataset` binary instead of building it.
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// The corpus builder (default: `../shared/bench/dedup/build_corpus.py`).
    #[arg(long)]
    pub corpus_script: Option<PathBuf>,
    /// Don't rewrite docs/BENCHMARKS.md.
    #[arg(long)]
    pub no_record: bool,
}

/// One tool's measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Run {
    tool: String,
    wall_s: f64,
    cpu_s: f64,
    peak_rss_mib: f64,
    docs_per_s: f64,
    score: Score,
    /// Tool-specific details (banding, candidates, ...).
    details: Value,
}

/// Everything one invocation measured (cached per corpus size, rendered together).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Results {
    n: usize,
    seed: u64,
    threads: usize,
    /// `--max-memory` given to ours (spill path), if any.
    #[serde(default)]
    max_memory: Option<String>,
    date: String,
    machine: String,
    /// 1-minute load average when our run started (`/proc/loadavg`).
    #[serde(default)]
    load_avg: String,
    truth_pairs: Vec<u64>,
    runs: Vec<Run>,
}

/// Runs the benchmark and records it.
pub fn run(args: &BenchDedupArgs) -> Result<()> {
    let root = util::root();
    let cache = root.join(".cache/bench/dedup");
    let dir = cache.join(format!("{}-{}", args.n, args.seed));
    ensure_corpus(args, &dir)?;
    let bin = match &args.bin {
        Some(b) => b.clone(),
        None => build_phase0()?,
    };
    let work = dir.join("runs");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    eprintln!("scoring setup: shingling {} documents", args.n);
    let truth = Truth::load(&dir)?;
    let corpus = dir.join("corpus.jsonl");
    let load_avg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    let mut runs = vec![run_ours(args, &bin, &corpus, &work, &truth)?];
    for peer in args.peers.iter().filter(|p| p.as_str() != "none") {
        let script = root.join(format!("xtask/peers/dedup_{peer}.py"));
        if !script.is_file() {
            bail!("unknown peer `{peer}` (no {})", script.display());
        }
        let module = peer.as_str();
        let probe = Command::new(cogumi_fetch::python())
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            eprintln!(
                "skipping {peer}: python module missing (pip install datasketch==2.0.0 rensa==0.5.0)"
            );
            continue;
        }
        runs.push(run_peer(args, peer, &script, &corpus, &work, &truth)?);
    }
    let results = Results {
        n: args.n,
        seed: args.seed,
        threads: args.threads,
        max_memory: args.max_memory.clone(),
        date: util::today(),
        machine: util::machine(),
        load_avg,
        truth_pairs: truth.bucket_counts(),
        runs,
    };
    println!("{}", render_one(&results));
    let json = serde_json::to_string_pretty(&results)?;
    let spill = args
        .max_memory
        .as_deref()
        .map_or(String::new(), |m| format!("-max-memory-{m}"));
    let path = cache.join(format!("results-{}-{}{spill}.json", args.n, args.seed));
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    if !args.no_record {
        util::write_bench_section("dedup", &render_all(&cache)?)?;
        eprintln!("recorded in docs/BENCHMARKS.md");
    }
    Ok(())
}

fn ensure_corpus(args: &BenchDedupArgs, dir: &Path) -> Result<()> {
    if dir.join("corpus.jsonl").is_file() && dir.join("truth.jsonl").is_file() {
        return Ok(());
    }
    let script = args.corpus_script.clone().unwrap_or_else(|| {
        util::root()
            .parent()
            .map_or_else(PathBuf::new, Path::to_path_buf)
            .join("shared/bench/dedup/build_corpus.py")
    });
    if !script.is_file() {
        bail!(
            "corpus builder {} not found; pass --corpus-script PATH",
            script.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    util::run_capture(
        Command::new(cogumi_fetch::python())
            .arg(&script)
            .arg(dir)
            .arg(args.n.to_string())
            .arg(args.seed.to_string()),
    )?;
    Ok(())
}

/// Builds only `phase0_dataset` (dev profile: the dedup crates are at opt-level 3) and
/// returns its path as cargo reports it.
fn build_phase0() -> Result<PathBuf> {
    let out = util::run_capture(
        Command::new(util::cargo())
            .current_dir(util::root())
            .args(["build", "-p", "phase0_dataset", "--bin", "phase0_dataset"])
            .arg("--message-format=json-render-diagnostics"),
    )?;
    out.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"]["name"] == "phase0_dataset")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .context("cargo did not report the phase0_dataset executable")
}

fn run_ours(
    args: &BenchDedupArgs,
    bin: &Path,
    corpus: &Path,
    work: &Path,
    truth: &Truth,
) -> Result<Run> {
    let out = work.join("artifacts");
    let mut cmd = Command::new(bin);
    cmd.arg("dedup")
        .arg("--input")
        .arg(corpus)
        .args([
            "--text-field",
            "text",
            "--id-field",
            "id",
            "--keep",
            "first",
        ])
        .arg("--out")
        .arg(&out)
        .args(["--force", "--json", "--log-format", "json"]);
    if let Some(m) = &args.max_memory {
        cmd.args(["--max-memory", m]);
    }
    let m = measure(&mut cmd, args.threads)?;
    let summary: Value = serde_json::from_str(m.stdout.trim())
        .with_context(|| format!("parsing phase0_dataset output {:?}", m.stdout))?;
    let dir = PathBuf::from(
        summary["path"]
            .as_str()
            .context("no path in --json summary")?,
    );
    let score = truth.score(
        &dir.join("removed.jsonl"),
        Some(&dir.join("clusters.jsonl")),
        0.8,
    )?;
    Ok(Run {
        tool: "cogumi (phase0_dataset dedup)".into(),
        docs_per_s: args.n as f64 / m.wall_s,
        wall_s: m.wall_s,
        cpu_s: m.cpu_s,
        peak_rss_mib: m.peak_rss_mib,
        score,
        details: summary["metrics"].clone(),
    })
}

fn run_peer(
    args: &BenchDedupArgs,
    peer: &str,
    script: &Path,
    corpus: &Path,
    work: &Path,
    truth: &Truth,
) -> Result<Run> {
    let removed = work.join(format!("removed-{peer}.jsonl"));
    let mut cmd = Command::new(cogumi_fetch::python());
    cmd.arg(script).arg(corpus).arg(&removed);
    let m = measure(&mut cmd, args.threads)?;
    let details: Value = m
        .stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    let score = truth.score(&removed, None, 0.8)?;
    Ok(Run {
        tool: format!("{peer} {}", details["version"].as_str().unwrap_or(""))
            .trim()
            .into(),
        docs_per_s: args.n as f64 / m.wall_s,
        wall_s: m.wall_s,
        cpu_s: m.cpu_s,
        peak_rss_mib: m.peak_rss_mib,
        score,
        details,
    })
}

struct Measured {
    wall_s: f64,
    cpu_s: f64,
    peak_rss_mib: f64,
    stdout: String,
}

/// Runs a command to completion measuring wall time, CPU time (this process's `cutime +
/// cstime` delta from `/proc/self/stat`, exact once the child is reaped) and peak RSS
/// (`VmHWM` of the child polled every 20 ms; Linux only, 0 elsewhere).
fn measure(cmd: &mut Command, threads: usize) -> Result<Measured> {
    let t = threads.to_string();
    for var in [
        "RAYON_NUM_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    ] {
        cmd.env(var, &t);
    }
    let line = format!("{cmd:?}").replace('"', "");
    eprintln!("$ {line}");
    let cpu0 = children_cpu_s();
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("spawning {line}"))?;
    let mut stdout = child.stdout.take().context("child stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| vm_hwm_kib(&s))
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().context("waiting for child")? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall_s = start.elapsed().as_secs_f64();
    let cpu_s = children_cpu_s() - cpu0;
    let stdout = reader
        .join()
        .map_err(|_| anyhow::anyhow!("stdout reader panicked"))?
        .context("reading child stdout")?;
    if !status.success() {
        bail!("{line} exited with {status}");
    }
    Ok(Measured {
        wall_s,
        cpu_s,
        peak_rss_mib: peak_kib as f64 / 1024.0,
        stdout,
    })
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `cutime + cstime` of this process in seconds (assumes the usual 100 clock ticks/s).
fn children_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(13) + tick(14)) / 100.0
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

/// Markdown for one corpus size.
fn render_one(r: &Results) -> String {
    let mut s = String::new();
    let spill = r
        .max_memory
        .as_deref()
        .map_or(String::new(), |m| format!(", ours with `--max-memory {m}`"));
    let _ = writeln!(
        s,
        "### {} documents (corpus seed {}, {} threads{spill})\n\n{}; {}; load average {} at start.\n",
        r.n, r.seed, r.threads, r.machine, r.date, r.load_avg
    );
    let base = r.runs.first().map_or(1.0, |o| o.docs_per_s);
    s.push_str("| tool | wall s | CPU s | docs/s | ours vs tool | peak RSS MiB | removed | recall J≥0.8 | recall [0.80,0.85) | J≥0.8 pairs both kept | precision | largest cluster |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for run in &r.runs {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.0} | {:.1}× | {:.0} | {} | {} | {} | {} | {} | {} |",
            run.tool,
            run.wall_s,
            run.cpu_s,
            run.docs_per_s,
            base / run.docs_per_s,
            run.peak_rss_mib,
            run.score.removed,
            pct(run.score.recall_from(1)),
            pct(run.score.recall(1)),
            run.score.both_kept,
            pct(run.score.precision),
            run.score.largest_cluster,
        );
    }
    s.push_str("\nRecall of planted pairs by true Jaccard (word 5-grams of the normalised text):\n\n| bucket | pairs |");
    for run in &r.runs {
        let _ = write!(s, " {} |", run.tool);
    }
    s.push_str("\n|---|---:|");
    s.push_str(&"---:|".repeat(r.runs.len()));
    s.push('\n');
    for (b, (label, _, _)) in BUCKETS.iter().enumerate() {
        let _ = write!(s, "| {label} | {} |", r.truth_pairs[b]);
        for run in &r.runs {
            let _ = write!(s, " {} |", pct(run.score.recall(b)));
        }
        s.push('\n');
    }
    s.push_str("\nPairs below 0.80 need not be found. ");
    for run in &r.runs {
        let _ = write!(
            s,
            "{}: {} reported pairs outside the planted groups ({} of them truly ≥ 0.8); clusters by size {}. ",
            run.tool,
            run.score.outside_truth,
            run.score.outside_truth_above_threshold,
            sizes(&run.score.cluster_sizes),
        );
    }
    if let Some(ours) = r.runs.first() {
        let d = &ours.details;
        let _ = write!(
            s,
            "\n\nOurs: {} bands × {} rows (P(candidate | J=0.8) = {}), {} candidate pairs, {} verified.\n",
            d["bands"],
            d["rows_per_band"],
            d["p_at_threshold"],
            d["candidate_pairs"],
            d["verified_pairs"]
        );
    }
    s
}

fn sizes(m: &BTreeMap<u64, u64>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The whole `## Dedup (phase 0)` section from every cached result.
fn render_all(cache: &Path) -> Result<String> {
    let mut all: Vec<Results> = Vec::new();
    for entry in std::fs::read_dir(cache).with_context(|| format!("listing {}", cache.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("results-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path)?;
            all.push(
                serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", path.display()))?,
            );
        }
    }
    all.sort_by_key(|r| (r.n, r.seed, r.max_memory.clone()));
    let mut s = String::from(
        "## Dedup (phase 0)\n\n`cargo xtask bench dedup [--n N] [--peers datasketch,rensa|none]`: \
         real English prose (Rust docs, CPython docstrings) with planted exact copies, \
         normalisation variants and near-duplicates (`shared/bench/dedup/build_corpus.py`). \
         Times are end to end per process: reading the JSONL, shingling, sketching, LSH, \
         clustering and writing the removed list. Peers shingle with `text.lower().split()` \
         word 5-grams; datasketch uses `MinHash.bulk` + `MinHashLSH` (128 permutations, \
         threshold 0.8, its automatic banding) and unions unverified candidates; rensa uses \
         `RMinHash.from_token_sets` + `RMinHashLSH` (16 bands × 8 rows) and keeps candidates \
         whose estimated Jaccard reaches 0.8. A truth pair counts as found when both rows end \
         up in the same cluster (ours: `clusters.jsonl`, the connected components of verified \
         pairs; peers: their union-find clusters). \"Both kept\" counts truth pairs with \
         J ≥ 0.8 of which neither row was removed: duplicates left in the output. Ours keeps a \
         row whose only ≥ 0.8 neighbour was itself removed as a duplicate of a third row it is \
         < 0.8 to, so a few such pairs are in one cluster with only one of them removed. \
         Precision is the share of reported `(id, duplicate_of)` pairs whose true Jaccard is \
         ≥ 0.8. The 2-core machine is shared with other builds, so wall times move with its \
         load (shown per run); CPU s is the child's user + system time.\n\n",
    );
    for r in &all {
        s.push_str(&render_one(r));
        s.push('\n');
    }
    Ok(s)
}
