//! `gate`, `report` and `tasks`: judging an `eval` artifact against a gates file (exit 1 naming
//! every failed gate), comparing several runs in a `report` artifact (Markdown, HTML with an SVG
//! chart, the model-card section), and listing the built-in tasks.

use std::io::Write;

use anyhow::{Context, Result};
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_eval::gate::{Gates, Status};
use cogumi_eval::{TaskDef, report};
use serde_json::json;

use crate::cli::{GateArgs, ReportArgs};
use crate::run_cmd::read_results;

/// Runs `gate`: prints every verdict (stderr, or JSON on stdout with `--json`); `Ok(false)`
/// when any gate failed.
pub fn gate(args: &GateArgs, common: &CommonArgs) -> Result<bool> {
    let (results, _) = read_results(&args.results)?;
    let gates = Gates::from_file(&args.gates)?;
    let verdicts = gates.check(&results);
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.status == Status::Fail)
        .map(|v| v.name.as_str())
        .collect();
    let mut out = std::io::stdout().lock();
    if common.json {
        writeln!(
            out,
            "{}",
            json!({"passed": failed.is_empty(), "verdicts": verdicts})
        )?;
    } else {
        for v in &verdicts {
            eprintln!(
                "{:>7}  {}: {}",
                format!("{:?}", v.status).to_lowercase(),
                v.name,
                v.reason
            );
        }
        if failed.is_empty() {
            writeln!(out, "all {} gates passed", verdicts.len())?;
        } else {
            writeln!(out, "failed gates: {}", failed.join(", "))?;
        }
    }
    Ok(failed.is_empty())
}

/// Runs `report`: writes a `report` artifact with report.md, report.html, chart.svg and
/// model_card.md (of the last run).
pub fn report(args: &ReportArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let mut runs = Vec::new();
    let mut inputs: Vec<InputRef> = Vec::new();
    for dir in &args.results {
        let (results, artifact) = read_results(dir)?;
        runs.push(results);
        inputs.extend(artifact.as_ref().map(Artifact::as_input));
    }
    let gates = match &args.gates {
        Some(g) => Some(Gates::from_file(g)?),
        None => None,
    };
    let resolved = json!({"title": args.title, "gates": gates, "results": args.results});
    let started = cogumi_cli::begin(
        common,
        "report",
        cogumi_artifact::producer!("report"),
        inputs,
        &resolved,
    )?;
    let mut writer = match started.into_writer() {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let last = runs.last().context("no results given")?;
    let verdicts = gates.as_ref().map(|g| g.check(last));
    writer.write(
        "report.md",
        report::markdown(&args.title, &runs, verdicts.as_deref()).as_bytes(),
    )?;
    writer.write(
        "report.html",
        report::html(&args.title, &runs, verdicts.as_deref()).as_bytes(),
    )?;
    writer.write("chart.svg", report::bar_chart_svg(&runs).as_bytes())?;
    writer.write(
        "model_card.md",
        report::model_card(last, verdicts.as_deref()).as_bytes(),
    )?;
    if let Some(v) = &verdicts {
        writer.set_metric(
            "gates_failed",
            v.iter().filter(|v| v.status == Status::Fail).count(),
        );
    }
    Ok(Some(writer.commit()?))
}

/// Runs `tasks`: one line per built-in task on stdout.
pub fn tasks() -> Result<bool> {
    let mut out = std::io::stdout().lock();
    for (name, _) in cogumi_eval::task::BUILTIN {
        let d = TaskDef::builtin(name)?;
        writeln!(
            out,
            "{name:<18} {:<10} {:<22} {}-shot  {}/{}  primary: {}",
            d.domain,
            serde_json::to_value(d.output_type)?
                .as_str()
                .unwrap_or_default(),
            d.num_fewshot,
            d.dataset,
            d.test_split,
            d.primary_metric
        )?;
    }
    Ok(true)
}
