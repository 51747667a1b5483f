//! `phase2_compression report`: one table for a compression run — per stage its size on disk,
//! held-out perplexity, argmax agreement with the uncompressed model and ECE — as JSON, Markdown
//! and an SVG bar chart of the sizes, read from the stage artifacts' verified manifests.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use serde::Serialize;
use serde_json::{Value, json};

/// `report` flags.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Stage artifacts in pipeline order (prune, recover, gguf, packed, calibration, …).
    #[arg(long = "stage", value_name = "DIR", required = true)]
    pub stages: Vec<PathBuf>,
    /// Report title.
    #[arg(long, default_value = "Compression run")]
    pub title: String,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// Stage name (the producing verb).
    pub stage: String,
    /// Artifact kind and id.
    pub artifact: String,
    /// Bytes on disk of the artifact's files.
    pub bytes: u64,
    /// Held-out perplexity after the stage, where it measures one.
    pub perplexity: Option<f64>,
    /// Argmax agreement with the uncompressed model, where measured.
    pub agreement: Option<f64>,
    /// Sequence-level ECE after calibration, where measured.
    pub ece: Option<f64>,
}

/// The row of one stage artifact.
pub fn row(a: &Artifact) -> Row {
    let m = a.manifest();
    let metric = |k: &str| m.metrics.get(k).and_then(Value::as_f64);
    Row {
        stage: m.producer.subcommand.clone(),
        artifact: format!("{}/{}", m.kind, m.id),
        bytes: m.files.iter().map(|f| f.bytes).sum(),
        perplexity: metric("perplexity_after"),
        agreement: metric("agreement_after").or_else(|| metric("agreement")),
        ece: metric("sequence_ece_after"),
    }
}

/// The Markdown table.
pub fn markdown(title: &str, rows: &[Row]) -> String {
    let opt = |v: Option<f64>, d: usize| v.map_or("—".to_string(), |v| format!("{v:.d$}"));
    let mut md = format!(
        "# {title}\n\n| stage | size on disk | perplexity | agreement | ECE | artifact |\n|---|---|---|---|---|---|\n"
    );
    for r in rows {
        md.push_str(&format!(
            "| {} | {:.1} MB | {} | {} | {} | `{}` |\n",
            r.stage,
            r.bytes as f64 / 1e6,
            opt(r.perplexity, 2),
            r.agreement
                .map_or("—".to_string(), |a| format!("{:.1} %", 100.0 * a)),
            opt(r.ece, 3),
            r.artifact
        ));
    }
    md
}

/// A horizontal bar chart of the sizes.
pub fn sizes_svg(rows: &[Row]) -> String {
    let max = rows.iter().map(|r| r.bytes).max().unwrap_or(1).max(1) as f64;
    let (w, bar, gap, left) = (560.0, 22.0, 8.0, 90.0);
    let h = 30.0 + rows.len() as f64 * (bar + gap);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"10\" y=\"16\">size on disk (MB)</text>\n"
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 26.0 + i as f64 * (bar + gap);
        let len = (w - left - 80.0) * r.bytes as f64 / max;
        svg.push_str(&format!(
            "<text x=\"10\" y=\"{:.1}\">{}</text><rect x=\"{left}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{bar}\" fill=\"#4e79a7\"/><text x=\"{:.1}\" y=\"{:.1}\">{:.1}</text>\n",
            y + 15.0,
            r.stage,
            left + len + 6.0,
            y + 15.0,
            r.bytes as f64 / 1e6
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// Runs `report`.
pub fn run(args: &ReportArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let stages = args
        .stages
        .iter()
        .map(|p| {
            Artifact::open(p).with_context(|| format!("verifying stage artifact {}", p.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let inputs: Vec<InputRef> = stages.iter().map(Artifact::as_input).collect();
    let mut writer = match cogumi_cli::begin(
        common,
        "report",
        cogumi_artifact::producer!("report"),
        inputs,
        &json!({ "title": args.title }),
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let rows: Vec<Row> = stages.iter().map(row).collect();
    writer.write_json(
        "report.json",
        &json!({ "title": args.title, "stages": rows }),
    )?;
    writer.write("report.md", markdown(&args.title, &rows).as_bytes())?;
    writer.write("sizes.svg", sizes_svg(&rows).as_bytes())?;
    writer.set_metric("stages", rows.len());
    Ok(Some(writer.commit()?))
}
