//! `run`: benchmark tasks on one model through the task engine, written as an `eval` artifact —
//! `results.json` (the gates' and reports' input), `samples/<task>.jsonl` (per-document records)
//! and `report.md`. Records go to `<out>/eval/.<id>.partial/` as they are made, so a re-run of an
//! interrupted evaluation skips every document already scored.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cogumi_artifact::{Artifact, InputRef, Verify};
use cogumi_cli::CommonArgs;
use cogumi_eval::records::{RecordWriter, read_records};
use cogumi_eval::{Backend, ModelInfo, RunOptions, RunResults, TaskDef};
use serde_json::json;

use crate::cli::{ModelArgs, RunArgs};

/// The task definitions a run uses: built-ins by name, then files.
pub fn resolve_tasks(names: &[String], files: &[PathBuf]) -> Result<Vec<TaskDef>> {
    let mut defs = Vec::new();
    for n in names.iter().filter(|n| !n.is_empty()) {
        defs.push(TaskDef::builtin(n)?);
    }
    for f in files {
        defs.push(TaskDef::from_file(f)?);
    }
    if defs.is_empty() {
        bail!("no tasks given (see `phase9_validation tasks`)");
    }
    Ok(defs)
}

/// Opens `--data`: a verified `benchmarks` artifact, or a plain directory.
fn open_data(dir: &Path) -> Result<Option<Artifact>> {
    if !dir.join("manifest.json").exists() {
        if !dir.is_dir() {
            bail!(
                "{} is not a directory; run `phase9_validation import` first",
                dir.display()
            );
        }
        return Ok(None);
    }
    let a = Artifact::open(dir).with_context(|| format!("verifying {}", dir.display()))?;
    a.expect_kind("benchmarks")
        .with_context(|| format!("{} is not a benchmarks artifact", dir.display()))?;
    Ok(Some(a))
}

fn weights_bytes(dir: &Path) -> Option<u64> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(
        entries
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.ends_with(".safetensors") || n.ends_with(".gguf")
            })
            .filter_map(|e| e.metadata().ok().map(|m| m.len()))
            .sum(),
    )
}

fn partial_dir(common: &CommonArgs, id: &str) -> PathBuf {
    common.out.join("eval").join(format!(".{id}.partial"))
}

/// Runs the subcommand; returns the artifact (`None` after `--plan`).
pub fn run(args: &RunArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let mut defs = resolve_tasks(&args.tasks, &args.task_files)?;
    if let Some(n) = args.samples {
        let temperature = args.temperature.unwrap_or(0.8);
        for d in defs
            .iter_mut()
            .filter(|d| cogumi_eval::engine::needs_python(d))
        {
            if let Some(g) = d.generation.as_mut() {
                g.samples = n;
                g.temperature = temperature;
                g.k = std::iter::successors(Some(1usize), |k| Some(k * 10))
                    .take_while(|k| *k <= n)
                    .collect();
            }
            d.validate()?;
        }
    }
    if let Some(cap) = args.max_gen_toks {
        for g in defs.iter_mut().filter_map(|d| d.generation.as_mut()) {
            g.max_gen_toks = g.max_gen_toks.min(cap);
        }
    }
    let data = open_data(&args.data)?;
    // Sizes only here (the id needs the manifest); `model_dir::open` verifies every sha256 once
    // when it loads the weights, and `--plan` stays cheap.
    let model_art = match &args.model {
        Some(m) if m.join("manifest.json").exists() => Some(
            Artifact::open_with(m, Verify::Sizes)
                .with_context(|| format!("opening model artifact {}", m.display()))?,
        ),
        _ => None,
    };
    let mut inputs: Vec<InputRef> = model_art.iter().map(Artifact::as_input).collect();
    inputs.extend(data.iter().map(Artifact::as_input));
    let name = args.name.clone().unwrap_or_else(|| {
        let p = args
            .model
            .as_deref()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let last = p.file_name().map(|s| s.to_string_lossy().to_string());
        args.endpoint_model
            .clone()
            .or(last)
            .unwrap_or_else(|| "model".into())
    });
    let resolved = json!({
        "tasks": defs,
        "limit": args.limit,
        "name": name,
        "variant": args.variant,
        "dtype": args.dtype,
        "speed": args.speed,
        "model_dir": if model_art.is_none() { json!(args.model) } else { json!(null) },
        "endpoint": args.endpoint.as_ref().map(|e| json!({"url": e, "model": args.endpoint_model})),
        "data_dir": if data.is_none() { json!(args.data) } else { json!(null) },
    });
    let started = cogumi_cli::begin(
        common,
        "eval",
        cogumi_artifact::producer!("run"),
        inputs,
        &resolved,
    )?;
    let mut writer = match started.into_writer() {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let partial = partial_dir(common, writer.id());
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;

    let (mut backend, loaded_for_speed): (Box<dyn Backend>, _) = match (&args.model, &args.endpoint)
    {
        (Some(m), _) => {
            let margs = ModelArgs {
                model: m.clone(),
                dtype: args.dtype.clone(),
            };
            let loaded = crate::model_dir::open(&margs, &common.device)?;
            let Some(tok) = loaded.tokenizer.clone() else {
                bail!(
                    "{} has no tokenizer.json; evaluation needs one",
                    m.display()
                );
            };
            let label = format!("burn {} {}", common.device, args.dtype);
            let b = crate::burn_backend::BurnBackend::new(loaded.model.clone(), tok, label)?;
            (Box::new(b) as Box<dyn Backend>, Some((loaded, margs)))
        }
        (None, Some(url)) => (
            Box::new(crate::openai_backend::OpenAiBackend::new(
                url,
                args.endpoint_model.as_deref().unwrap_or("default"),
                args.api_key_env.as_deref(),
            )?) as Box<dyn Backend>,
            None,
        ),
        (None, None) => unreachable!("clap requires --model or --endpoint"),
    };

    let opts = RunOptions {
        chunk: args.chunk,
        code_jobs: args.code_jobs,
    };
    let mut tasks = Vec::new();
    for def in &defs {
        let prepared = cogumi_eval::prepare(def, &args.data, args.limit)
            .with_context(|| format!("preparing task {}", def.task))?;
        let samples = partial.join(format!("{}.jsonl", def.task));
        let done = read_records(&samples)?;
        let mut out = RecordWriter::append(&samples, &done)?;
        let bar = cogumi_cli::progress_bar(prepared.len() as u64, &def.task);
        let (result, _) = cogumi_eval::run_task(
            def,
            &prepared,
            backend.as_mut(),
            &opts,
            &done,
            &mut |r| out.write(r),
            &|n| bar.set_position(n as u64),
        )
        .with_context(|| format!("running task {}", def.task))?;
        bar.finish_and_clear();
        tracing::info!(task = %def.task, samples = result.samples, metric = %result.primary_metric,
                       value = result.primary().unwrap_or(f64::NAN), seconds = result.seconds, "task done");
        let bytes =
            std::fs::read(&samples).with_context(|| format!("reading {}", samples.display()))?;
        writer.write(&format!("samples/{}.jsonl", def.task), &bytes)?;
        if let Some(v) = result.primary() {
            writer.set_metric(&format!("{}.{}", def.task, def.primary_metric), v);
        }
        tasks.push(result);
        if let Some(w) = backend.work_summary() {
            tracing::info!("{w}");
        }
    }
    let speed = match (&loaded_for_speed, args.speed) {
        (Some((loaded, margs)), true) => {
            Some(crate::speed::measure(loaded, 256, 64, 2, &margs.dtype)?)
        }
        _ => None,
    };
    let results = RunResults {
        schema_version: cogumi_eval::results::RESULTS_SCHEMA_VERSION,
        model: ModelInfo {
            name,
            variant: args.variant.clone(),
            artifact_id: model_art.as_ref().map(|a| a.id().to_string()),
            size_bytes: args.model.as_deref().and_then(weights_bytes),
            parameters: loaded_for_speed
                .as_ref()
                .map(|(l, _)| l.model.config().num_params() as u64),
        },
        backend: backend.name(),
        tasks,
        speed,
    };
    writer.write_json("results.json", &results)?;
    let md = cogumi_eval::report::markdown("Validation run", std::slice::from_ref(&results), None);
    writer.write("report.md", md.as_bytes())?;
    let artifact = writer.commit()?;
    if let Err(e) = std::fs::remove_dir_all(&partial) {
        tracing::warn!(dir = %partial.display(), error = %e, "could not remove partial records");
    }
    Ok(Some(artifact))
}

/// Reads `results.json` from an eval artifact (verified; returned too) or a results file.
pub fn read_results(path: &Path) -> Result<(RunResults, Option<Artifact>)> {
    let (file, artifact) = if path.is_dir() {
        let a = Artifact::open(path).with_context(|| format!("verifying {}", path.display()))?;
        (path.join("results.json"), Some(a))
    } else {
        (path.to_path_buf(), None)
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let results =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    Ok((results, artifact))
}
