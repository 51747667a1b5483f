//! Reports comparing evaluation runs (base, fine-tuned, compressed, modifier variants): Markdown
//! and self-contained HTML with an SVG chart, plus the model-card section the deploy bundle
//! embeds. Numbers are printed as lm-eval prints them (value ± stderr).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::gate::{Status, Verdict};
use crate::results::RunResults;

fn pct(v: f64) -> String {
    format!("{:.1}", v * 100.0)
}

fn fmt_metric(name: &str, v: f64) -> String {
    if name.contains("perplexity") || name.contains("bits_per_byte") {
        format!("{v:.3}")
    } else {
        pct(v)
    }
}

fn bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64),
        b => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
    }
}

fn column(r: &RunResults) -> String {
    format!("{} ({})", r.model.name, r.model.variant)
}

/// Task names in first-seen order over all runs.
fn task_names(runs: &[RunResults]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in runs {
        for t in &r.tasks {
            if seen.insert(t.task.clone()) {
                out.push(t.task.clone());
            }
        }
    }
    out
}

/// The comparison table: one row per task (primary metric), one column per run.
pub fn task_table(runs: &[RunResults]) -> String {
    let mut s = String::from("| task | metric | n |");
    for r in runs {
        let _ = write!(s, " {} |", column(r));
    }
    s.push_str("\n|---|---|---:|");
    s.push_str(&"---:|".repeat(runs.len()));
    s.push('\n');
    for name in task_names(runs) {
        let first = runs
            .iter()
            .find_map(|r| r.task(&name))
            .expect("name comes from a run");
        let _ = write!(
            s,
            "| {name} | {} | {} |",
            first.primary_metric, first.samples
        );
        for r in runs {
            match r.task(&name).and_then(|t| t.metrics.get(&t.primary_metric)) {
                Some(m) => {
                    let se = m
                        .stderr
                        .map(|e| format!(" ± {}", fmt_metric(&first.primary_metric, e)))
                        .unwrap_or_default();
                    let _ = write!(s, " {}{se} |", fmt_metric(&first.primary_metric, m.value));
                }
                None => s.push_str(" – |"),
            }
        }
        s.push('\n');
    }
    s
}

fn gates_table(verdicts: &[Verdict]) -> String {
    let mut s = String::from("| gate | value | status | why |\n|---|---:|---|---|\n");
    for v in verdicts {
        let status = match v.status {
            Status::Pass => "pass",
            Status::Fail => "**FAIL**",
            Status::Skipped => "skipped",
        };
        let value = v
            .value
            .map(|x| format!("{x:.4}"))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(s, "| {} | {value} | {status} | {} |", v.name, v.reason);
    }
    s
}

fn models_table(runs: &[RunResults]) -> String {
    let mut s = String::from(
        "| model | variant | backend | parameters | weights on disk |\n|---|---|---|---:|---:|\n",
    );
    for r in runs {
        let params = r
            .model
            .parameters
            .map(|p| format!("{:.1} M", p as f64 / 1e6))
            .unwrap_or_else(|| "–".into());
        let size = r.model.size_bytes.map(bytes).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {params} | {size} |",
            r.model.name, r.model.variant, r.backend
        );
    }
    s
}

fn speed_table(runs: &[RunResults]) -> Option<String> {
    if runs.iter().all(|r| r.speed.is_none()) {
        return None;
    }
    let mut s = String::from(
        "| model | mode | prefill tok/s | decode tok/s | TTFT ms | peak RSS |\n|---|---|---:|---:|---:|---:|\n",
    );
    for r in runs {
        if let Some(sp) = &r.speed {
            let rss = sp.peak_rss_bytes.map(bytes).unwrap_or_else(|| "–".into());
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {:.1} | {:.0} | {rss} |",
                column(r),
                sp.mode,
                sp.prefill_tok_s,
                sp.decode_tok_s,
                sp.ttft_ms
            );
        }
    }
    Some(s)
}

/// The full Markdown report.
pub fn markdown(title: &str, runs: &[RunResults], verdicts: Option<&[Verdict]>) -> String {
    let mut s = format!(
        "# {title}\n\n## Models\n\n{}\n## Tasks\n\nPrimary metric per task, in percent (± standard error).\n\n{}",
        models_table(runs),
        task_table(runs)
    );
    if let Some(sp) = speed_table(runs) {
        let _ = write!(s, "\n## Speed\n\n{sp}");
    }
    if let Some(v) = verdicts {
        let _ = write!(s, "\n## Gates\n\n{}", gates_table(v));
    }
    let _ = write!(s, "\n## All metrics\n\n");
    for r in runs {
        let _ = writeln!(s, "### {}\n", column(r));
        for t in &r.tasks {
            let all: Vec<String> = t
                .metrics
                .iter()
                .map(|(k, m)| format!("{k} {}", fmt_metric(k, m.value)))
                .collect();
            let _ = writeln!(
                s,
                "- **{}** ({} docs, {}-shot, {:.1} s): {}",
                t.task,
                t.samples,
                t.num_fewshot,
                t.seconds,
                all.join(", ")
            );
        }
        s.push('\n');
    }
    s
}

/// The model-card section (Markdown) for one run, embedded by the deploy bundle.
pub fn model_card(run: &RunResults, verdicts: Option<&[Verdict]>) -> String {
    let mut s = format!(
        "## Evaluation\n\nMeasured by `phase9_validation run` ({}).\n\n",
        run.backend
    );
    s.push_str(&task_table(std::slice::from_ref(run)));
    if let Some(sp) = &run.speed {
        let _ = write!(
            s,
            "\nSpeed ({}): prefill {:.1} tok/s, decode {:.1} tok/s, time to first token {:.0} ms.\n",
            sp.mode, sp.prefill_tok_s, sp.decode_tok_s, sp.ttft_ms
        );
    }
    if let Some(v) = verdicts {
        let failed: Vec<&str> = v
            .iter()
            .filter(|v| v.status == Status::Fail)
            .map(|v| v.name.as_str())
            .collect();
        let _ = write!(
            s,
            "\nGates: {} of {} passed{}.\n",
            v.iter().filter(|v| v.status == Status::Pass).count(),
            v.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!(" (failed: {})", failed.join(", "))
            }
        );
    }
    s
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

/// Grouped bar chart of each task's primary metric (0–100 %) per run.
pub fn bar_chart_svg(runs: &[RunResults]) -> String {
    let tasks = task_names(runs);
    let (w, h, ml, mb, mt) = (
        80.0 + 70.0 * tasks.len().max(1) as f64,
        320.0,
        50.0,
        60.0,
        30.0,
    );
    let plot_h = h - mb - mt;
    let group = 70.0;
    let bar = (group - 14.0) / runs.len().max(1) as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    );
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = mt + plot_h * (1.0 - tick);
        let _ = writeln!(
            s,
            "<line x1=\"{ml}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}%</text>",
            w - 10.0,
            ml - 4.0,
            y + 4.0,
            tick * 100.0
        );
    }
    for (ti, task) in tasks.iter().enumerate() {
        let x0 = ml + 7.0 + group * ti as f64;
        for (ri, r) in runs.iter().enumerate() {
            let Some(v) = r.task(task).and_then(|t| t.primary()) else {
                continue;
            };
            let v = v.clamp(0.0, 1.0);
            let (x, bh) = (x0 + bar * ri as f64, plot_h * v);
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {task}: {:.1}%</title></rect>",
                mt + plot_h - bh,
                bar - 1.0,
                COLORS[ri % COLORS.len()],
                column(r),
                v * 100.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{task}</text>",
            x0 + (group - 14.0) / 2.0,
            h - mb + 14.0
        );
    }
    for (ri, r) in runs.iter().enumerate() {
        let y = h - 24.0 + 0.0 * ri as f64;
        let x = ml + 160.0 * ri as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            y - 9.0,
            COLORS[ri % COLORS.len()],
            x + 14.0,
            y,
            column(r)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn md_table_to_html(md: &str) -> String {
    let mut s = String::from("<table>\n");
    for (i, line) in md.lines().filter(|l| l.starts_with('|')).enumerate() {
        if i == 1 {
            continue;
        }
        let tag = if i == 0 { "th" } else { "td" };
        s.push_str("<tr>");
        for cell in line.trim_matches('|').split('|') {
            let cell = cell.trim().replace("**", "");
            let _ = write!(s, "<{tag}>{}</{tag}>", html_escape(&cell));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained HTML page: the chart and the same tables as the Markdown report.
pub fn html(title: &str, runs: &[RunResults], verdicts: Option<&[Verdict]>) -> String {
    let mut s = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head><body>\n<h1>{0}</h1>\n",
        html_escape(title)
    );
    let _ = write!(
        s,
        "<h2>Models</h2>\n{}",
        md_table_to_html(&models_table(runs))
    );
    let _ = write!(
        s,
        "<h2>Tasks</h2>\n{}\n{}",
        bar_chart_svg(runs),
        md_table_to_html(&task_table(runs))
    );
    if let Some(sp) = speed_table(runs) {
        let _ = write!(s, "<h2>Speed</h2>\n{}", md_table_to_html(&sp));
    }
    if let Some(v) = verdicts {
        let _ = write!(s, "<h2>Gates</h2>\n{}", md_table_to_html(&gates_table(v)));
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{MetricValue, ModelInfo, TaskResult};
    use std::collections::BTreeMap;

    fn run(variant: &str, acc: f64) -> RunResults {
        RunResults {
            schema_version: 1,
            model: ModelInfo {
                name: "m".into(),
                variant: variant.into(),
                artifact_id: None,
                size_bytes: Some(3 << 20),
                parameters: Some(135_000_000),
            },
            backend: "b".into(),
            tasks: vec![TaskResult {
                task: "arc_easy".into(),
                domain: "reasoning".into(),
                primary_metric: "acc".into(),
                samples: 4,
                num_fewshot: 0,
                metrics: BTreeMap::from([(
                    "acc".into(),
                    MetricValue {
                        value: acc,
                        stderr: Some(0.25),
                    },
                )]),
                seconds: 1.0,
            }],
            speed: None,
        }
    }

    #[test]
    fn reports_show_every_run_and_task() {
        let runs = [run("base", 0.5), run("fine-tuned", 0.75)];
        let md = markdown("T", &runs, None);
        assert!(
            md.contains("| arc_easy | acc | 4 | 50.0 ± 25.0 | 75.0 ± 25.0 |"),
            "{md}"
        );
        assert!(md.contains("| m | base | b | 135.0 M | 3.0 MiB |"), "{md}");
        let html = html("T", &runs, None);
        assert_eq!(
            html.matches("<rect").count(),
            2 + 2,
            "two bars and two legend swatches"
        );
        assert!(html.contains("<td>75.0 ± 25.0</td>"));
        let card = model_card(&runs[1], None);
        assert!(card.starts_with("## Evaluation") && card.contains("75.0"));
    }
}
