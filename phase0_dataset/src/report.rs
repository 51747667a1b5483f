//! Renders a stats [`Report`] as `report.json`, `report.md` (tables, plots in `plots/*.svg`)
//! and a self-contained `report.html` with the same plots inline. The SVG bar charts are
//! written by hand: a few dozen lines, no plotting dependency.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context;
use cogumi_artifact::ArtifactWriter;

use crate::stats::{Bin, Lengths, Report};

/// Escapes text for XML/HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart of labelled counts, largest first.
pub fn bar_chart(title: &str, counts: &BTreeMap<String, u64>) -> String {
    let mut items: Vec<(&String, &u64)> = counts.iter().collect();
    items.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let (label_w, bar_w, row_h, top) = (200.0, 360.0, 22.0, 30.0);
    let max = items.iter().map(|x| *x.1).max().unwrap_or(1).max(1) as f64;
    let total: u64 = items.iter().map(|x| *x.1).sum();
    let height = top + row_h * items.len() as f64 + 10.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"4\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        esc(title),
        w = label_w + bar_w + 110.0
    );
    for (i, &(label, &n)) in items.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = bar_w * n as f64 / max;
        let pct = if total == 0 {
            0.0
        } else {
            100.0 * n as f64 / total as f64
        };
        let _ = writeln!(
            s,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\" fill=\"#4c78a8\"/><text x=\"{vx:.1}\" y=\"{ty}\">{n} ({pct:.1}%)</text>",
            esc(label),
            lx = label_w - 6.0,
            ty = y + 14.0,
            bh = row_h - 6.0,
            vx = label_w + w + 4.0,
        );
    }
    s.push_str("</svg>\n");
    s
}

fn bin_label(b: &Bin) -> String {
    match b.hi {
        Some(h) => format!("{}-{}", b.lo, h - 1),
        None => format!("{}+", b.lo),
    }
}

/// A vertical histogram of a length distribution.
pub fn histogram(title: &str, l: &Lengths) -> String {
    let (left, bar_w, gap, plot_h, top) = (40.0, 44.0, 6.0, 180.0, 30.0);
    let max = l
        .histogram
        .iter()
        .map(|b| b.count)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let width = left + (bar_w + gap) * l.histogram.len() as f64 + 10.0;
    let height = top + plot_h + 50.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n<text x=\"4\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        esc(title)
    );
    let base = top + plot_h;
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\" stroke=\"#333\"/>",
        x2 = width - 6.0
    );
    for (i, b) in l.histogram.iter().enumerate() {
        let x = left + (bar_w + gap) * i as f64;
        let h = plot_h * b.count as f64 / max;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{y:.1}\" width=\"{bar_w}\" height=\"{h:.1}\" fill=\"#f58518\"/><text x=\"{cx}\" y=\"{ty:.1}\" text-anchor=\"middle\">{}</text><text x=\"{cx}\" y=\"{ly}\" text-anchor=\"middle\" transform=\"rotate(30 {cx} {ly})\">{}</text>",
            b.count,
            esc(&bin_label(b)),
            y = base - h,
            cx = x + bar_w / 2.0,
            ty = base - h - 3.0,
            ly = base + 14.0,
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The plots of a report: (file stem, title, svg).
pub fn plots(r: &Report) -> Vec<(&'static str, String, String)> {
    vec![
        (
            "source",
            "Rows by source".to_owned(),
            bar_chart("Rows by source", &r.by_source),
        ),
        (
            "domain",
            "Rows by domain".to_owned(),
            bar_chart("Rows by domain", &r.by_domain),
        ),
        (
            "difficulty",
            "Rows by difficulty".to_owned(),
            bar_chart("Rows by difficulty", &r.by_difficulty),
        ),
        (
            "lang",
            "Rows by language".to_owned(),
            bar_chart("Rows by language", &r.by_lang),
        ),
        (
            "prompt_length",
            format!("Prompt length ({})", r.length_unit),
            histogram(
                &format!("Prompt length ({})", r.length_unit),
                &r.prompt_length,
            ),
        ),
        (
            "response_length",
            format!("Response length ({})", r.length_unit),
            histogram(
                &format!("Response length ({})", r.length_unit),
                &r.response_length,
            ),
        ),
    ]
}

fn pct(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |v| format!("{:.2}%", 100.0 * v))
}

fn opt(x: Option<u64>) -> String {
    x.map_or("-".into(), |v| v.to_string())
}

/// Markdown rendering (plots referenced from `plots/`).
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Phase 0 dataset report\n");
    let _ = writeln!(
        s,
        "Dataset `{}`: **{}** rows ({} chat, {} with a checkable answer).\n",
        r.dataset, r.rows, r.chat_rows, r.verifiable_rows
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| quarantined by ingest | {} |", opt(r.quarantined));
    let _ = writeln!(s, "| English share (lang) | {} |", pct(r.english_share));
    let _ = writeln!(s, "| dedup rate | {} |", pct(r.dedup_rate));
    let _ = writeln!(s, "| length unit | {} |\n", r.length_unit);
    let _ = writeln!(
        s,
        "## Funnel\n\n| step | kind | id | rows | removed |\n|---|---|---|---:|---:|"
    );
    for st in &r.funnel {
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | {} | {} |",
            st.step,
            st.kind,
            st.id,
            opt(st.rows),
            opt(st.removed)
        );
    }
    for (title, map) in [
        ("Sources", &r.by_source),
        ("Domains", &r.by_domain),
        ("Difficulty", &r.by_difficulty),
        ("Languages", &r.by_lang),
        ("Domain rules", &r.by_rule),
    ] {
        let _ = writeln!(s, "\n## {title}\n\n| value | rows |\n|---|---:|");
        for (k, v) in map {
            let _ = writeln!(s, "| {k} | {v} |");
        }
    }
    let _ = writeln!(
        s,
        "\n## Lengths ({})\n\n| | mean | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|",
        r.length_unit
    );
    for (name, l) in [
        ("prompt", &r.prompt_length),
        ("response", &r.response_length),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} |",
            l.mean, l.p50, l.p90, l.p99, l.max
        );
    }
    let _ = writeln!(s, "\n## Plots\n");
    for (stem, title, _) in plots(r) {
        let _ = writeln!(s, "![{title}](plots/{stem}.svg)\n");
    }
    s
}

/// Self-contained HTML rendering with inline SVG plots.
pub fn html(r: &Report) -> String {
    let mut s = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Phase 0 dataset report</title>\n<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.n{text-align:right}</style></head><body>\n",
    );
    let _ = writeln!(
        s,
        "<h1>Phase 0 dataset report</h1>\n<p>Dataset <code>{}</code>: <b>{}</b> rows ({} chat, {} with a checkable answer).</p>",
        esc(&r.dataset),
        r.rows,
        r.chat_rows,
        r.verifiable_rows
    );
    let _ = writeln!(
        s,
        "<table><tr><td>quarantined by ingest</td><td class=n>{}</td></tr><tr><td>English share (lang)</td><td class=n>{}</td></tr><tr><td>dedup rate</td><td class=n>{}</td></tr><tr><td>length unit</td><td>{}</td></tr></table>",
        opt(r.quarantined),
        pct(r.english_share),
        pct(r.dedup_rate),
        esc(&r.length_unit)
    );
    let _ = writeln!(
        s,
        "<h2>Funnel</h2><table><tr><th>step</th><th>kind</th><th>id</th><th>rows</th><th>removed</th></tr>"
    );
    for st in &r.funnel {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&st.step),
            esc(&st.kind),
            esc(&st.id),
            opt(st.rows),
            opt(st.removed)
        );
    }
    s.push_str("</table>\n<h2>Plots</h2>\n");
    for (_, _, svg) in plots(r) {
        s.push_str(&svg);
    }
    let _ = writeln!(
        s,
        "<h2>Domain rules</h2><table><tr><th>rule</th><th>rows</th></tr>"
    );
    for (k, v) in &r.by_rule {
        let _ = writeln!(s, "<tr><td>{}</td><td class=n>{v}</td></tr>", esc(k));
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

/// Writes `report.json`, `report.md`, `report.html` and `plots/*.svg` into the artifact.
pub fn write(writer: &ArtifactWriter, r: &Report) -> anyhow::Result<()> {
    writer
        .write_json("report.json", r)
        .context("writing report.json")?;
    writer
        .write("report.md", markdown(r).as_bytes())
        .context("writing report.md")?;
    writer
        .write("report.html", html(r).as_bytes())
        .context("writing report.html")?;
    for (stem, _, svg) in plots(r) {
        writer
            .write(&format!("plots/{stem}.svg"), svg.as_bytes())
            .with_context(|| format!("writing plots/{stem}.svg"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_chart_has_one_bar_per_label_and_escapes() {
        let mut m = BTreeMap::new();
        m.insert("a<b".to_owned(), 3u64);
        m.insert("c".to_owned(), 1u64);
        let svg = bar_chart("T", &m);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains("3 (75.0%)"));
    }

    #[test]
    fn histogram_labels_bins() {
        let l = Lengths::of(&mut [1, 9, 5000]);
        let svg = histogram("H", &l);
        assert!(svg.contains(">0-7<") && svg.contains(">8-15<") && svg.contains(">8192+<"));
        assert_eq!(svg.matches("<rect").count(), l.histogram.len());
    }
}
