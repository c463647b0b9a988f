//! The HTML page: sections of headline numbers, tables and charts drawn as inline SVG on the
//! server, so the page needs no script, no font and no network to be read, printed or opened on
//! a phone. Every number the page shows is also embedded as JSON
//! (`<script type="application/json" id="clv-report-data">`) for checking and reuse. The chart
//! primitives are public so a dashboard can draw the same charts.

use std::fmt::Write;

/// A report: a title, a line saying what data and window it covers, and sections.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub title: String,
    pub subtitle: String,
    pub sections: Vec<Section>,
    /// Every number shown, machine-readable.
    pub data: serde_json::Value,
}

/// A section with a plain-language explanation beside its content.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub explanation: String,
    pub blocks: Vec<Block>,
}

/// A piece of a section.
#[derive(Debug, Clone)]
pub enum Block {
    /// Headline numbers: label, value (already formatted, with its unit), note (e.g. the window).
    Metrics(Vec<(String, String, String)>),
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Bars(Bars),
    Lines(Lines),
    Heatmap(Heatmap),
    /// What is missing for this section, and how to get it.
    Missing(String),
    Note(String),
}

/// A bar chart.
#[derive(Debug, Clone, Default)]
pub struct Bars {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub bars: Vec<(String, f64)>,
}

/// A line chart of series over a shared x.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x: Vec<f64>,
    pub series: Vec<(String, Vec<f64>)>,
}

/// A heatmap: rows × columns of values (absent cells blank), each cell labelled.
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_labels: Vec<String>,
    pub y_labels: Vec<String>,
    pub values: Vec<Vec<Option<f64>>>,
    /// Show values as percentages.
    pub percent: bool,
}

const PALETTE: [&str; 6] = [
    "#2f6db5", "#d9822b", "#3a9a5b", "#b53a3a", "#7d5ba6", "#6b6b6b",
];

/// Escapes text for HTML (and SVG).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for display: thousands separated, `digits` decimals.
pub fn number(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let text = format!("{:.*}", digits, x.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

/// A short axis label for a value.
fn tick(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{}M", number(x / 1e6, 1))
    } else if a >= 1e4 {
        format!("{}k", number(x / 1e3, 0))
    } else if a >= 100.0 || x == x.round() {
        number(x, 0)
    } else if a >= 1.0 {
        number(x, 1)
    } else {
        format!("{x:.2}")
    }
}

/// A "nice" upper bound for an axis: 1, 2 or 5 × a power of ten at or above `max`.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * power)
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 56.0;

fn svg_open(out: &mut String, title: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(
        out,
        r#"<text x="{}" y="18" class="chart-title" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
}

/// Axes with y ticks at 0, ¼, …, 1 of `y_max`, and the axis labels.
fn axes(out: &mut String, y_max: f64, x_label: &str, y_label: &str, height: f64) {
    let plot_h = height - TOP - BOTTOM;
    for k in 0..=4 {
        let v = y_max * k as f64 / 4.0;
        let y = TOP + plot_h * (1.0 - k as f64 / 4.0);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            tick(v)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text><text x="14" y="{}" class="axis" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        height - 8.0,
        escape(x_label),
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
}

fn bars_svg(b: &Bars) -> String {
    let mut out = String::new();
    svg_open(&mut out, &b.title, HEIGHT);
    let y_max = nice_max(b.bars.iter().map(|(_, v)| *v).fold(0.0, f64::max));
    axes(&mut out, y_max, &b.x_label, &b.y_label, HEIGHT);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = b.bars.len().max(1) as f64;
    let slot = plot_w / n;
    let every = label_every(b.bars.iter().map(|(label, _)| label.as_str()), slot);
    for (i, (label, v)) in b.bars.iter().enumerate() {
        let h = (v / y_max).clamp(0.0, 1.0) * plot_h;
        let x = LEFT + slot * i as f64 + slot * 0.1;
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {}</title></rect>"#,
            TOP + plot_h - h,
            slot * 0.8,
            PALETTE[0],
            escape(label),
            number(*v, if v.abs() < 10.0 { 3 } else { 1 })
        );
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
                x + slot * 0.4,
                TOP + plot_h + 16.0,
                escape(label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Width of a tick label in 11 px sans-serif, from its characters (an upper bound for digits
/// and lower-case letters, which is what the labels are).
fn label_width(label: &str) -> f64 {
    6.5 * label.chars().count() as f64
}

/// Label every k-th of bars `slot` pixels apart so that no two labels overlap (at least 8 px
/// between them) and there are at most 12.
fn label_every<'l>(labels: impl ExactSizeIterator<Item = &'l str>, slot: f64) -> usize {
    let n = labels.len();
    let widest = labels.map(label_width).fold(0.0, f64::max);
    let apart = ((widest + 8.0) / slot.max(1e-9)).ceil() as usize;
    apart.max(n.div_ceil(12)).max(1)
}

fn lines_svg(l: &Lines) -> String {
    let mut out = String::new();
    svg_open(&mut out, &l.title, HEIGHT);
    let y_max = nice_max(
        l.series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0, f64::max),
    );
    axes(&mut out, y_max, &l.x_label, &l.y_label, HEIGHT);
    let (x_min, x_max) = (
        l.x.iter().copied().fold(f64::INFINITY, f64::min),
        l.x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let span = if x_max > x_min { x_max - x_min } else { 1.0 };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let px = |x: f64| LEFT + (x - x_min) / span * plot_w;
    let py = |y: f64| TOP + plot_h * (1.0 - (y / y_max).clamp(0.0, 1.0));
    // Whole-number x with few points (e.g. purchase counts) gets a tick at each point.
    let ticks: Vec<f64> = if l.x.len() <= 13 && l.x.iter().all(|x| x.fract() == 0.0) {
        l.x.clone()
    } else {
        (0..=4).map(|k| x_min + span * k as f64 / 4.0).collect()
    };
    for x in ticks {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
            px(x),
            TOP + plot_h + 16.0,
            tick(x)
        );
    }
    for (s, (name, ys)) in l.series.iter().enumerate() {
        let points: Vec<String> =
            l.x.iter()
                .zip(ys)
                .filter(|(_, y)| y.is_finite())
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
        let color = PALETTE[s % PALETTE.len()];
        let dash = if s == 0 {
            ""
        } else {
            r#" stroke-dasharray="6 3""#
        };
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            escape(name)
        );
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="4" fill="{color}"/><text x="{:.1}" y="{:.1}" class="legend">{}</text>"#,
            LEFT + 8.0,
            TOP + 6.0 + 16.0 * s as f64,
            LEFT + 24.0,
            TOP + 11.0 + 16.0 * s as f64,
            escape(name)
        );
    }
    out.push_str("</svg>");
    out
}

fn heatmap_svg(h: &Heatmap) -> String {
    let mut out = String::new();
    let rows = h.y_labels.len().max(1) as f64;
    let cell_h = (22.0f64).min(360.0 / rows);
    let height = TOP + BOTTOM + cell_h * rows;
    svg_open(&mut out, &h.title, height);
    let left = 112.0;
    let plot_w = WIDTH - left - RIGHT;
    let cols = h.x_labels.len().max(1) as f64;
    let cell_w = plot_w / cols;
    let max = h
        .values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-12);
    let label_every = ((cols / 16.0).ceil() as usize).max(1);
    for (r, row) in h.values.iter().enumerate() {
        let y = TOP + cell_h * r as f64;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + cell_h / 2.0 + 4.0,
            escape(&h.y_labels[r])
        );
        for (c, v) in row.iter().enumerate() {
            let Some(v) = v else { continue };
            let share = (v / max).clamp(0.0, 1.0);
            // White to the primary blue.
            let mix = |from: f64, to: f64| (from + (to - from) * share).round() as u8;
            let fill = format!(
                "#{:02x}{:02x}{:02x}",
                mix(255.0, 47.0),
                mix(255.0, 109.0),
                mix(255.0, 181.0)
            );
            let text = if h.percent {
                format!("{}%", number(100.0 * v, 0))
            } else {
                tick(*v)
            };
            let x = left + cell_w * c as f64;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{} × {}: {}</title></rect>"#,
                cell_w - 1.0,
                cell_h - 1.0,
                escape(&h.y_labels[r]),
                escape(&h.x_labels[c]),
                text
            );
            if cell_w >= 26.0 && cell_h >= 14.0 {
                let ink = if share > 0.55 { "#fff" } else { "#222" };
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" class="cell" fill="{ink}" text-anchor="middle">{text}</text>"#,
                    x + cell_w / 2.0,
                    y + cell_h / 2.0 + 3.5
                );
            }
        }
    }
    for (c, label) in h.x_labels.iter().enumerate() {
        if c % label_every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
                left + cell_w * (c as f64 + 0.5),
                TOP + cell_h * rows + 14.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" class="axis" text-anchor="middle">{}</text><text x="12" y="{:.1}" class="axis" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text>"#,
        left + plot_w / 2.0,
        height - 8.0,
        escape(&h.x_label),
        TOP + cell_h * rows / 2.0,
        TOP + cell_h * rows / 2.0,
        escape(&h.y_label)
    );
    out.push_str("</svg>");
    out
}

fn block_html(out: &mut String, block: &Block, chart: &mut usize) {
    let mut figure = |out: &mut String, svg: String| {
        *chart += 1;
        let _ = write!(
            out,
            r#"<figure class="chart" id="chart-{chart}">{svg}</figure>"#
        );
    };
    match block {
        Block::Metrics(items) => {
            out.push_str(r#"<div class="metrics">"#);
            for (label, value, note) in items {
                let _ = write!(
                    out,
                    r#"<div class="metric"><div class="value">{}</div><div class="label">{}</div><div class="note">{}</div></div>"#,
                    escape(value),
                    escape(label),
                    escape(note)
                );
            }
            out.push_str("</div>");
        }
        Block::Table { columns, rows } => {
            out.push_str(r#"<div class="table-wrap"><table><thead><tr>"#);
            for c in columns {
                let _ = write!(out, "<th>{}</th>", escape(c));
            }
            out.push_str("</tr></thead><tbody>");
            for row in rows {
                out.push_str("<tr>");
                for cell in row {
                    let _ = write!(out, "<td>{}</td>", escape(cell));
                }
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table></div>");
        }
        Block::Bars(b) => figure(out, bars_svg(b)),
        Block::Lines(l) => figure(out, lines_svg(l)),
        Block::Heatmap(h) => figure(out, heatmap_svg(h)),
        Block::Missing(text) => {
            let _ = write!(out, r#"<p class="missing">{}</p>"#, escape(text));
        }
        Block::Note(text) => {
            let _ = write!(out, r#"<p class="note">{}</p>"#, escape(text));
        }
    }
}

/// The report's style sheet: other pages (the dashboard) draw metrics, tables and charts with it.
pub const STYLE: &str = r#"
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa;line-height:1.45}
header{background:#1f3b63;color:#fff;padding:20px 24px}header h1{margin:0 0 4px;font-size:1.5em}header p{margin:0;opacity:.9}
nav{padding:8px 24px;background:#e9eef5;font-size:.9em}nav a{margin-right:14px;color:#1f3b63}
main{max-width:1100px;margin:0 auto;padding:8px 16px 40px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:18px 0;padding:12px 18px;page-break-inside:avoid}
section h2{margin:6px 0 4px;font-size:1.2em;color:#1f3b63}.explain{color:#555;margin:0 0 10px;max-width:75ch}
.metrics{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.metric{border:1px solid #e3e3e3;border-radius:4px;padding:8px 10px}.metric .value{font-size:1.35em;font-weight:600}
.metric .label{font-size:.9em}.metric .note{font-size:.75em;color:#777}
figure.chart{margin:10px 0;max-width:760px}figure.chart svg{width:100%;height:auto;display:block}
svg text{font-size:11px}svg text:not([fill]){fill:#333}svg .chart-title{font-size:13px;font-weight:600}svg .axis{font-size:11px;fill:#555}
svg .cell{font-size:9px}svg .legend{font-size:11px}
.table-wrap{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;margin:8px 0}
th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:right;white-space:nowrap}th{background:#f3f5f8}
td:first-child,th:first-child{text-align:left}.missing{color:#8a5a00;background:#fff7e6;padding:8px;border-radius:4px}
.note{color:#555;font-size:.9em}footer{color:#777;font-size:.8em;text-align:center;padding:12px}
@media (max-width:600px){header{padding:14px}main{padding:4px 6px}section{padding:8px 10px}}
@media print{nav{display:none}body{background:#fff}section{border:none;margin:8px 0}}
"#;

/// One block as HTML (charts as inline SVG, in a figure with id `chart-{index}`), for pages
/// other than the report.
pub fn block(block: &Block, index: usize) -> String {
    let mut out = String::new();
    let mut chart = index.saturating_sub(1);
    block_html(&mut out, block, &mut chart);
    out
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body><header><h1>{}</h1><p>{}</p></header><nav>"#,
        escape(&report.title),
        escape(&report.title),
        escape(&report.subtitle)
    );
    for s in &report.sections {
        let _ = write!(
            out,
            r##"<a href="#{}">{}</a>"##,
            escape(&s.id),
            escape(&s.title)
        );
    }
    out.push_str("</nav><main>");
    let mut chart = 0;
    for s in &report.sections {
        let _ = write!(
            out,
            r#"<section id="{}"><h2>{}</h2><p class="explain">{}</p>"#,
            escape(&s.id),
            escape(&s.title),
            escape(&s.explanation)
        );
        for b in &s.blocks {
            block_html(&mut out, b, &mut chart);
        }
        out.push_str("</section>");
    }
    // JSON inside <script>: "</" must not close the element early.
    let data = serde_json::to_string(&report.data)
        .unwrap_or_else(|_| "null".into())
        .replace("</", "<\\/");
    let _ = write!(
        out,
        r#"</main><footer>Made by clv. Every number above is also in the JSON block below.</footer><script type="application/json" id="clv-report-data">{data}</script></body></html>"#
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_escaping() {
        assert_eq!(number(1234567.891, 2), "1,234,567.89");
        assert_eq!(number(-1234.6, 0), "-1,235");
        assert_eq!(number(-0.0001, 2), "0.00");
        assert_eq!(number(999.0, 0), "999");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(nice_max(0.37), 0.5);
        assert_eq!(nice_max(1234.0), 2000.0);
    }

    /// The x positions and texts of a chart's centred tick labels.
    fn tick_labels(svg: &str) -> Vec<(f64, String)> {
        svg.split(r#"<text x=""#)
            .skip(1)
            .filter(|t| t.contains(r#"class="tick" text-anchor="middle">"#))
            .map(|t| {
                let x = t[..t.find('"').unwrap()].parse().unwrap();
                let text = &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()];
                (x, text.to_string())
            })
            .collect()
    }

    /// Bars labelled `labels`: the labels shown are at least their own width (+ a gap) apart.
    fn check_bar_labels(labels: &[String], shown_at_least: usize) {
        let bars = Bars {
            bars: labels.iter().map(|l| (l.clone(), 1.0)).collect(),
            ..Default::default()
        };
        let shown = tick_labels(&bars_svg(&bars));
        assert!(
            shown.len() >= shown_at_least && shown.len() <= 12,
            "{shown:?}"
        );
        for pair in shown.windows(2) {
            let half_widths = (label_width(&pair[0].1) + label_width(&pair[1].1)) / 2.0;
            assert!(pair[1].0 - pair[0].0 >= half_widths + 8.0, "{pair:?}");
        }
    }

    #[test]
    fn bar_labels_never_overlap() {
        let short: Vec<String> = (0..8).map(|k| k.to_string()).collect();
        check_bar_labels(&short, 8);
        let ranges: Vec<String> = (0..20)
            .map(|k| format!("{},000–{},000", k, k + 1))
            .collect();
        check_bar_labels(&ranges, 4);
        let segments: Vec<String> = [
            "champions",
            "loyal",
            "potential_loyalists",
            "cant_lose_them",
        ]
        .iter()
        .cycle()
        .take(11)
        .map(|s| s.to_string())
        .collect();
        check_bar_labels(&segments, 3);
    }

    #[test]
    fn a_report_renders_every_chart_and_embeds_its_data() {
        let report = Report {
            title: "T <1>".into(),
            subtitle: "s".into(),
            data: serde_json::json!({"x": "</script>"}),
            sections: vec![Section {
                id: "a".into(),
                title: "A".into(),
                explanation: "why".into(),
                blocks: vec![
                    Block::Bars(Bars {
                        bars: vec![("a".into(), 1.0), ("b".into(), 3.0)],
                        ..Default::default()
                    }),
                    Block::Lines(Lines {
                        x: vec![0.0, 1.0],
                        series: vec![("s".into(), vec![1.0, 2.0])],
                        ..Default::default()
                    }),
                    Block::Heatmap(Heatmap {
                        x_labels: vec!["0".into()],
                        y_labels: vec!["r".into()],
                        values: vec![vec![Some(0.5)]],
                        percent: true,
                        ..Default::default()
                    }),
                    Block::Missing("no SKUs".into()),
                ],
            }],
        };
        let html = render(&report);
        assert_eq!(html.matches("<figure class=\"chart\"").count(), 3);
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("<rect") && html.contains("<polyline") && html.contains("50%"));
        assert!(html.contains("T &lt;1&gt;") && html.contains("no SKUs"));
        assert!(html.contains(r#"{"x":"<\/script>"}"#));
        assert!(
            !html.contains("http://") || html.matches("http://").count() == 3,
            "only the SVG namespace"
        );
    }
}
