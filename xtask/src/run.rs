//! `cargo xtask run [phase…] --config configs/<preset>.toml [--dry-run]`: runs a pipeline preset
//! as a DAG of subprocesses, exactly as a user would type them, and resumes by artifact id
//! (STYLE.md §2.8; matklad's xtask pattern as in rust-analyzer's `xtask/`).
//!
//! Each step is first asked for its plan (`<bin> <args> --out <root> [--input <dir>…] --plan`,
//! which prints `{"kind","id","path","complete"}`); a complete artifact is skipped, anything else
//! is run and its artifact path read from the last line of its stdout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use cogumi_artifact::{Artifact, Plan, Verify};
use serde::Serialize;

use crate::plan::{Preset, shell_line, step_args};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Phases or step names to run, plus whatever they need upstream; all steps when empty.
    pub phases: Vec<String>,
    /// Pipeline preset.
    #[arg(long, default_value = "configs/smollm2-demo.toml")]
    pub config: PathBuf,
    /// Print what would run (step, command line, run/skip/pending upstream) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not run `cargo build --workspace --bins` first.
    #[arg(long)]
    pub no_build: bool,
    /// Directory holding the step binaries (default: next to this xtask binary).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Artifacts root, overriding the preset's `artifacts`.
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
}

/// What happened to one step.
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Status {
    /// Its artifact was already complete.
    Skipped,
    /// It ran and produced its artifact.
    Ran,
    /// Dry run: it would run.
    WouldRun,
    /// Dry run: an input is not built yet, so its id is unknown.
    PendingUpstream,
    /// It exited with 1: a check failed.
    CheckFailed,
    /// It failed.
    Failed,
}

/// One step's entry in the run log.
#[derive(Debug, Serialize)]
struct StepRecord {
    name: String,
    phase: String,
    command: String,
    status: Status,
    kind: Option<String>,
    id: Option<String>,
    path: Option<PathBuf>,
    seconds: f64,
    exit_code: Option<i32>,
}

/// The run log written to `<artifacts>/runs/<preset>-<timestamp>.json`.
#[derive(Debug, Serialize)]
struct RunLog<'a> {
    preset: &'a str,
    config: &'a Path,
    artifacts: &'a Path,
    selectors: &'a [String],
    started_at: String,
    finished_at: String,
    status: &'a str,
    steps: &'a [StepRecord],
}

/// The workspace root (xtask lives one level below it); steps run there.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Runs the pipeline. `Ok(false)` when a step reported a failed check (exit code 1).
pub fn run(args: &RunArgs) -> Result<bool> {
    run_collect(args).map(|(ok, _)| ok)
}

/// Like [`run`], also returning each completed step's artifact directory by step name.
pub fn run_collect(args: &RunArgs) -> Result<(bool, HashMap<String, PathBuf>)> {
    let root = workspace_root();
    let config = std::path::absolute(&args.config).context("resolving --config")?;
    let preset = Preset::load(&config)?;
    let selected = preset.select(&args.phases)?;
    match &preset.pipeline.description {
        Some(d) => eprintln!("pipeline {}: {d}", preset.pipeline.name),
        None => eprintln!("pipeline {}", preset.pipeline.name),
    }
    let artifacts = match &args.artifacts {
        Some(dir) => std::path::absolute(dir).context("resolving --artifacts")?,
        None => root.join(&preset.pipeline.artifacts),
    };
    if !args.no_build {
        build(&root)?;
    }
    let this_exe = current_exe()?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => std::path::absolute(dir).context("resolving --bin-dir")?,
        None => this_exe
            .parent()
            .context("the xtask binary has no parent directory")?
            .to_path_buf(),
    };
    let mut runner = Runner {
        root,
        artifacts,
        bin_dir,
        this_exe,
        git_sha: git_sha(),
        dry_run: args.dry_run,
        dirs: HashMap::new(),
        records: Vec::new(),
    };
    let started_at = now_rfc3339();
    // Stop at the first failed step: `Ok(false)` for a failed check, `Err` for an error.
    let mut result = Ok(true);
    for &i in &selected {
        result = runner.step(&preset, i);
        if !matches!(result, Ok(true)) {
            break;
        }
    }
    let outputs: HashMap<String, PathBuf> = runner
        .dirs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|p| (k.clone(), p)))
        .collect();
    if args.dry_run {
        runner.print_table();
        return result.map(|ok| (ok, outputs));
    }
    let status = match &result {
        Ok(true) => "ok",
        Ok(false) => "check_failed",
        Err(_) => "failed",
    };
    let log = RunLog {
        preset: &preset.pipeline.name,
        config: &config,
        artifacts: &runner.artifacts,
        selectors: &args.phases,
        started_at,
        finished_at: now_rfc3339(),
        status,
        steps: &runner.records,
    };
    let log_path = write_run_log(&runner.artifacts, &preset.pipeline.name, &log)?;
    eprintln!("run log: {}", log_path.display());
    println!("{}", log_path.display());
    result.map(|ok| (ok, outputs))
}

/// Per-run state: where things are and what each step produced.
struct Runner {
    root: PathBuf,
    artifacts: PathBuf,
    bin_dir: PathBuf,
    this_exe: PathBuf,
    git_sha: Option<String>,
    dry_run: bool,
    /// Artifact directory of each step handled so far; `None` when not built (dry run).
    dirs: HashMap<String, Option<PathBuf>>,
    records: Vec<StepRecord>,
}

impl Runner {
    /// Plans and (unless complete or dry run) runs step `i`. Stops the pipeline on failure:
    /// `Ok(false)` for a failed check, `Err` otherwise.
    fn step(&mut self, preset: &Preset, i: usize) -> Result<bool> {
        let step = &preset.steps[i];
        let program = if step.bin == "xtask" {
            self.this_exe.clone()
        } else {
            self.bin_dir
                .join(format!("{}{}", step.bin, std::env::consts::EXE_SUFFIX))
        };
        let mut record = StepRecord {
            name: step.name.clone(),
            phase: step.phase.clone(),
            command: String::new(),
            status: Status::PendingUpstream,
            kind: None,
            id: None,
            path: None,
            seconds: 0.0,
            exit_code: None,
        };
        // Input directories; unknown while an upstream step is only planned (dry run).
        let inputs: Option<Vec<PathBuf>> = step
            .inputs
            .iter()
            .map(|input| self.dirs.get(input.step()).cloned().flatten())
            .collect();
        let Some(inputs) = inputs else {
            let placeholders: Vec<PathBuf> = step
                .inputs
                .iter()
                .map(|input| PathBuf::from(format!("<{}>", input.step())))
                .collect();
            record.command =
                shell_line(&step.bin, &step_args(step, &self.artifacts, &placeholders));
            self.dirs.insert(step.name.clone(), None);
            self.records.push(record);
            return Ok(true);
        };
        let args = step_args(step, &self.artifacts, &inputs);
        record.command = shell_line(&step.bin, &args);
        if !program.exists() {
            bail!(
                "step `{}`: binary {} not found; build it with `cargo build --workspace --bins` (or drop --no-build)",
                step.name,
                program.display()
            );
        }
        let plan = self
            .plan(&program, &args)
            .with_context(|| format!("step `{}`: asking for its plan", step.name))?;
        record.kind = Some(plan.kind.clone());
        record.id = Some(plan.id.clone());
        record.path = Some(plan.path.clone());
        if plan.complete {
            eprintln!("skip {} ({}/{} complete)", step.name, plan.kind, plan.id);
            record.status = Status::Skipped;
            self.dirs.insert(step.name.clone(), Some(plan.path));
            self.records.push(record);
            return Ok(true);
        }
        if self.dry_run {
            record.status = Status::WouldRun;
            self.dirs.insert(step.name.clone(), None);
            self.records.push(record);
            return Ok(true);
        }

        eprintln!("run {}: {}", step.name, record.command);
        let start = Instant::now();
        let output = self
            .command(&program, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("step `{}`: spawning {}", step.name, program.display()));
        record.seconds = start.elapsed().as_secs_f64();
        let output = match output {
            Ok(output) => output,
            Err(e) => {
                record.status = Status::Failed;
                self.records.push(record);
                return Err(e);
            }
        };
        record.exit_code = output.status.code();
        if !output.status.success() {
            let check_failed = output.status.code() == Some(1);
            record.status = if check_failed {
                Status::CheckFailed
            } else {
                Status::Failed
            };
            let name = step.name.clone();
            self.records.push(record);
            if check_failed {
                eprintln!("step `{name}` reported a failed check (exit code 1); stopping");
                return Ok(false);
            }
            bail!("step `{name}` failed ({})", output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let produced = match self.produced_path(&stdout) {
            Ok(path) => path,
            Err(e) => {
                record.status = Status::Failed;
                self.records.push(record);
                return Err(e.context(format!("step `{}`", step.name)));
            }
        };
        if produced != plan.path {
            eprintln!(
                "warning: step `{}` produced {} but planned {}",
                step.name,
                produced.display(),
                plan.path.display()
            );
        }
        eprintln!(
            "done {} -> {} ({:.1} s)",
            step.name,
            produced.display(),
            record.seconds
        );
        record.status = Status::Ran;
        record.path = Some(produced.clone());
        self.dirs.insert(step.name.clone(), Some(produced));
        self.records.push(record);
        Ok(true)
    }

    /// The command for a step, run from the workspace root with a fixed git sha.
    fn command(&self, program: &Path, args: &[String]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(&self.root).stdin(Stdio::null());
        if let Some(sha) = &self.git_sha {
            cmd.env("COGUMI_GIT_SHA", sha);
        }
        cmd
    }

    /// Runs the step with `--plan` and parses the JSON on the last line of its stdout.
    fn plan(&self, program: &Path, args: &[String]) -> Result<Plan> {
        let output = self
            .command(program, args)
            .arg("--plan")
            .output()
            .with_context(|| format!("spawning {}", program.display()))?;
        if !output.status.success() {
            bail!(
                "`--plan` exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = last_line(&stdout).context("`--plan` printed nothing")?;
        serde_json::from_str(line).with_context(|| format!("parsing `--plan` output {line:?}"))
    }

    /// The artifact directory from the last stdout line of a finished step, checked to be a
    /// committed artifact.
    fn produced_path(&self, stdout: &str) -> Result<PathBuf> {
        let line = last_line(stdout).context("printed no artifact path on stdout")?;
        let path = self.root.join(line);
        Artifact::open_with(&path, Verify::Sizes).with_context(|| {
            format!(
                "reported {} but it is not a complete artifact",
                path.display()
            )
        })?;
        Ok(path)
    }

    /// The dry-run table on stdout.
    fn print_table(&self) {
        let status = |r: &StepRecord| match r.status {
            Status::Skipped => format!(
                "skip ({}/{})",
                r.kind.as_deref().unwrap_or("?"),
                r.id.as_deref().unwrap_or("?")
            ),
            Status::WouldRun => "would run".to_owned(),
            Status::PendingUpstream => "pending upstream".to_owned(),
            other => format!("{other:?}"),
        };
        let rows: Vec<[String; 3]> = self
            .records
            .iter()
            .map(|r| [r.name.clone(), status(r), r.command.clone()])
            .collect();
        let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(4);
        let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0).max(6);
        println!("{:w0$}  {:w1$}  COMMAND", "STEP", "STATUS");
        for [name, status, command] in rows {
            println!("{name:w0$}  {status:w1$}  {command}");
        }
    }
}

/// The last non-empty line of a process's stdout.
fn last_line(stdout: &str) -> Option<&str> {
    stdout.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// Builds every workspace binary once. Always `--workspace`, so features unify exactly as for
/// `cargo test --workspace` and burn is compiled once.
fn build(root: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ {cargo} build --workspace --bins");
    let status = Command::new(&cargo)
        .args(["build", "--workspace", "--bins"])
        .current_dir(root)
        .status()
        .with_context(|| format!("running {cargo} build"))?;
    if !status.success() {
        bail!("`cargo build --workspace --bins` failed ({status})");
    }
    Ok(())
}

/// This binary's path. When the build above replaced it, Linux reports the old inode as
/// `<path> (deleted)`; the rebuilt file at `<path>` is the one to run.
fn current_exe() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let text = exe.to_string_lossy();
    Ok(match text.strip_suffix(" (deleted)") {
        Some(live) => PathBuf::from(live),
        None => exe,
    })
}

/// `git rev-parse HEAD` of the workspace, passed to every step as `COGUMI_GIT_SHA`.
fn git_sha() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(workspace_root())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !sha.is_empty()).then_some(sha)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Writes the run log as `<artifacts>/runs/<preset>-<YYYYmmddTHHMMSSZ>[-n].json`.
fn write_run_log(artifacts: &Path, preset: &str, log: &RunLog) -> Result<PathBuf> {
    let dir = artifacts.join("runs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .context("formatting the run timestamp")?;
    let mut path = dir.join(format!("{preset}-{stamp}.json"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{preset}-{stamp}-{n}.json"));
    }
    let mut json = serde_json::to_string_pretty(log).context("serialising the run log")?;
    json.push('\n');
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
