//! A dependency-free SVG line chart of training and validation loss per step, written into the
//! training artifact (`loss.svg`) so a run can be judged at a glance in any browser.

use std::fmt::Write;

/// One series: label, colour, `(x, y)` points.
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// CSS colour.
    pub color: &'a str,
    /// Points in data coordinates.
    pub points: Vec<(f64, f64)>,
}

/// Renders `series` on shared axes, 640×360, with min/max tick labels.
pub fn line_chart_svg(title: &str, x_label: &str, series: &[Series<'_>]) -> String {
    let (w, h, ml, mr, mt, mb) = (640.0, 360.0, 60.0, 20.0, 30.0, 40.0);
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-12 {
        y1 = y0 + 1.0;
    }
    let sx = |x: f64| ml + (x - x0) / (x1 - x0) * (w - ml - mr);
    let sy = |y: f64| h - mb - (y - y0) / (y1 - y0) * (h - mt - mb);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    let _ = writeln!(
        s,
        r#"<path d="M{ml},{mt} V{} H{}" stroke="black" fill="none"/>"#,
        h - mb,
        w - mr
    );
    for (v, y) in [
        (y0, sy(y0)),
        (y1, sy(y1)),
        ((y0 + y1) / 2.0, sy((y0 + y1) / 2.0)),
    ] {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{v:.3}</text>"#,
            ml - 4.0,
            y + 4.0
        );
    }
    for (v, x) in [(x0, sx(x0)), (x1, sx(x1))] {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}" text-anchor="middle">{v:.0}</text>"#,
            h - mb + 16.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (ml + w - mr) / 2.0,
        h - 6.0,
        escape(x_label)
    );
    for (i, ser) in series.iter().enumerate() {
        if ser.points.is_empty() {
            continue;
        }
        let mut d = String::new();
        for (j, &(x, y)) in ser.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if j == 0 { "M" } else { "L" },
                sx(x),
                sy(y)
            );
        }
        let _ = writeln!(
            s,
            r#"<path d="{}" stroke="{}" stroke-width="1.5" fill="none"/>"#,
            d.trim_end(),
            ser.color
        );
        if ser.points.len() < 40 {
            for &(x, y) in &ser.points {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                    sx(x),
                    sy(y),
                    ser.color
                );
            }
        }
        let ly = mt + 14.0 * i as f64 + 6.0;
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="3" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            w - mr - 140.0,
            ly,
            ser.color,
            w - mr - 124.0,
            ly + 5.0,
            escape(ser.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_maps_extremes_to_the_plot_corners() {
        let svg = line_chart_svg(
            "loss <run>",
            "step",
            &[Series {
                label: "train",
                color: "#1f77b4",
                points: vec![(1.0, 3.0), (2.0, 1.0)],
            }],
        );
        assert!(svg.starts_with("<svg"));
        // First point (x min, y max) sits at the top-left of the plot area, the last at the
        // bottom-right.
        assert!(svg.contains("M60.0,30.0 L620.0,320.0"), "{svg}");
        assert!(svg.contains("loss &lt;run&gt;"));
    }
}
