//! One chart as SVG text, drawn with plotters' SVG backend: lines with markers, axes with
//! units and explicit ticks, a legend beside the plot (never over the data).
//!
//! Text is written as SVG `<text>` elements with a generic font family: nothing is measured or
//! rasterised here, so no font file is needed (plotters is built without its font features).

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

/// Chart size in pixels, and the width of the legend column.
pub const WIDTH: u32 = 920;
pub const HEIGHT: u32 = 480;
const LEGEND: u32 = 220;
const FONT: &str = "sans-serif";

/// Colours of the two runs of a comparison, and of the series of a single run.
pub const BASE: RGBColor = RGBColor(31, 119, 180);
pub const CANDIDATE: RGBColor = RGBColor(230, 85, 13);
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 85, 13),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(214, 39, 40),
];

/// The shape drawn at every point of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

pub const MARKERS: [Marker; 4] = [Marker::Circle, Marker::Triangle, Marker::Square, Marker::Cross];

/// The horizontal axis.
#[derive(Debug, Clone, PartialEq)]
pub enum XAxis {
    /// Powers of two (queue depth, lock count), on a log2 scale; the label names the unit.
    Log2(String),
    /// HdrHistogram's "latency by percentile": x is the quantile (0.5 .. 1, 1 = max), placed at
    /// log10(1 / (1 - q)).
    Percentile,
}

/// The vertical axis.
#[derive(Debug, Clone, PartialEq)]
pub enum YAxis {
    /// Latency in nanoseconds, drawn in microseconds on a log10 scale.
    Latency,
    /// Operations per second, from zero.
    Iops,
    /// A fraction of operations, drawn in percent from zero; the label names what.
    Percent(String),
    /// A change (percent or percentage points, as given), either side of zero; the label
    /// names what and its unit.
    Change(String),
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub colour: RGBColor,
    pub marker: Marker,
    pub dashed: bool,
    /// (x, y) in data units: queue depth or lock count or quantile; ns, ops/s or a fraction.
    pub points: Vec<(f64, f64)>,
    /// Error bars: (low, high) in the unit of y, one per point (or none at all), drawn as a
    /// vertical line with caps through the point.
    pub bars: Vec<(f64, f64)>,
}

/// A horizontal line across the whole plot (zero, a margin), named in the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// In the unit of y.
    pub y: f64,
    pub label: String,
    pub colour: RGBColor,
    pub dashed: bool,
}

/// A chart before it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    /// A second line under the title (what the data is, where it is partial).
    pub subtitle: Option<String>,
    pub x: XAxis,
    pub y: YAxis,
    pub series: Vec<Series>,
    /// Drawn under the series.
    pub rules: Vec<Rule>,
}

/// Where the spectrum puts the maximum (one decade past 99.99 %).
const MAX_POS: f64 = 5.0;

fn x_pos(axis: &XAxis, x: f64) -> f64 {
    match axis {
        XAxis::Log2(_) => x.max(1e-9).log2(),
        XAxis::Percentile if x >= 1.0 => MAX_POS,
        XAxis::Percentile => -(1.0 - x).log10(),
    }
}

fn y_pos(axis: &YAxis, y: f64) -> f64 {
    match axis {
        YAxis::Latency => (y.max(1.0) / 1e3).log10(),
        YAxis::Iops => y,
        YAxis::Percent(_) => y * 100.0,
        YAxis::Change(_) => y,
    }
}

/// A tick label for people: `0.5`, `20`, `500`, `1.5k`, `12k`, `1.5M`.
fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A latency tick (the axis is in µs): `100 µs`, `1 ms`, `20 ms`, `1 s`.
fn latency_tick(us: f64) -> String {
    if us < 1000.0 {
        format!("{} µs", trim(us))
    } else if us < 1e6 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} s", trim(us / 1e6))
    }
}

/// Ticks and range of the x axis over the data's positions.
fn x_ticks(axis: &XAxis, lo: f64, hi: f64) -> (std::ops::Range<f64>, Vec<f64>) {
    match axis {
        XAxis::Log2(_) => {
            let (a, b) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
            let ticks: Vec<f64> = (a as i64..=b as i64).map(|i| i as f64).collect();
            (a - 0.3..b + 0.3, ticks)
        }
        XAxis::Percentile => (0.0..MAX_POS + 0.3, vec![2f64.log10(), 1.0, 2.0, 3.0, 4.0, MAX_POS]),
    }
}

/// Ticks and range of the y axis over the data's positions.
fn y_ticks(axis: &YAxis, lo: f64, hi: f64) -> (std::ops::Range<f64>, Vec<f64>, Vec<f64>) {
    match axis {
        YAxis::Latency => {
            let (a, b) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
            let ticks: Vec<f64> = (a as i64..=b as i64).map(|i| i as f64).collect();
            let light: Vec<f64> =
                ticks.iter().flat_map(|t| [2.0f64, 5.0].map(|m| t + m.log10())).filter(|v| *v < b).collect();
            (a..b, ticks, light)
        }
        YAxis::Iops | YAxis::Percent(_) => {
            let top = if hi > 0.0 { hi * 1.12 } else { 1.0 };
            let step = nice_step(top / 5.0);
            let ticks: Vec<f64> = (0..).map(|i| i as f64 * step).take_while(|v| *v <= top + step * 1e-9).collect();
            (0.0..top, ticks, Vec::new())
        }
        YAxis::Change(_) => {
            let (lo, hi) = (lo.min(0.0), hi.max(0.0));
            let pad = if hi > lo { (hi - lo) * 0.08 } else { 1.0 };
            let (lo, hi) = (lo - pad, hi + pad);
            let step = nice_step((hi - lo) / 6.0);
            let first = (lo / step).ceil() as i64;
            let ticks: Vec<f64> = (first..).map(|i| i as f64 * step).take_while(|v| *v <= hi + step * 1e-9).collect();
            (lo..hi, ticks, Vec::new())
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|s| *s >= raw).unwrap_or(10.0 * p)
}

fn x_label(axis: &XAxis, pos: f64) -> String {
    match axis {
        XAxis::Log2(_) => format!("{:.0}", 2f64.powf(pos).round()),
        XAxis::Percentile if pos >= MAX_POS - 1e-9 => "max".into(),
        XAxis::Percentile => {
            let q = (1.0 - 10f64.powf(-pos)) * 100.0;
            format!("{}%", trim((q * 100.0).round() / 100.0))
        }
    }
}

fn y_label(axis: &YAxis, pos: f64) -> String {
    match axis {
        YAxis::Latency => latency_tick(10f64.powf(pos)),
        YAxis::Iops => number(pos),
        YAxis::Percent(_) => trim(pos),
        YAxis::Change(_) if pos.abs() < 1e-9 => "0".into(),
        YAxis::Change(_) if pos > 0.0 => format!("+{}", number(pos)),
        YAxis::Change(_) => number(pos),
    }
}

fn x_desc(axis: &XAxis) -> String {
    match axis {
        XAxis::Log2(label) => format!("{label} (log scale)"),
        XAxis::Percentile => "percentile (log scale of 1 / (1 - p))".into(),
    }
}

fn y_desc(axis: &YAxis) -> String {
    match axis {
        YAxis::Latency => "latency (log scale)".into(),
        YAxis::Iops => "IOPS (operations/s)".into(),
        YAxis::Percent(what) => format!("{what} (% of operations)"),
        YAxis::Change(what) => what.clone(),
    }
}

/// A linear axis over f64 with the ticks given (bold: labelled grid lines, light: minor grid
/// lines); the labels come from the chart's formatters.
#[derive(Debug, Clone)]
struct Axis {
    range: std::ops::Range<f64>,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Axis {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let f = (v - self.range.start) / span;
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }
}

type Err = String;

fn e<T: std::fmt::Display>(x: T) -> Err {
    x.to_string()
}

/// Draw the chart; None when it has no points.
// long: draws axes, grid, series and legend in SVG order
pub fn svg(chart: &Chart) -> Result<Option<String>, Err> {
    let pts: Vec<(f64, f64)> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|&(x, y)| (x_pos(&chart.x, x), y_pos(&chart.y, y))))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pts.is_empty() {
        return Ok(None);
    }
    // The y range also holds every bar's ends and every rule.
    let ys: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.bars.iter().flat_map(|&(lo, hi)| [lo, hi]))
        .chain(chart.rules.iter().map(|r| r.y))
        .map(|y| y_pos(&chart.y, y))
        .filter(|y| y.is_finite())
        .chain(pts.iter().map(|p| p.1))
        .collect();
    let fold = |f: fn(f64, f64) -> f64, init: f64, v: &mut dyn Iterator<Item = f64>| v.fold(init, f);
    let (xlo, xhi) = (
        fold(f64::min, f64::INFINITY, &mut pts.iter().map(|p| p.0)),
        fold(f64::max, f64::NEG_INFINITY, &mut pts.iter().map(|p| p.0)),
    );
    let (ylo, yhi) = (
        fold(f64::min, f64::INFINITY, &mut ys.iter().copied()),
        fold(f64::max, f64::NEG_INFINITY, &mut ys.iter().copied()),
    );
    let (xr, xk) = x_ticks(&chart.x, xlo, xhi);
    let x_span = (xr.start, xr.end);
    let (yr, yk, yl) = y_ticks(&chart.y, ylo, yhi);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let (plot, legend) = root.split_horizontally(WIDTH - LEGEND);
        let mut builder = ChartBuilder::on(&plot);
        builder
            .margin_left(10)
            .margin_right(20)
            .margin_top(if chart.subtitle.is_some() { 52 } else { 36 })
            .margin_bottom(8)
            .x_label_area_size(48)
            .y_label_area_size(72);
        let mut c = builder
            .build_cartesian_2d(
                Axis { range: xr, bold: xk, light: Vec::new() },
                Axis { range: yr, bold: yk, light: yl },
            )
            .map_err(e)?;
        let (xa, ya) = (chart.x.clone(), chart.y.clone());
        c.configure_mesh()
            .x_desc(x_desc(&chart.x))
            .y_desc(y_desc(&chart.y))
            .x_label_formatter(&|v| x_label(&xa, *v))
            .y_label_formatter(&|v| y_label(&ya, *v))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 17))
            .bold_line_style(RGBColor(200, 200, 200).stroke_width(1))
            .light_line_style(RGBColor(235, 235, 235).stroke_width(1))
            .draw()
            .map_err(e)?;
        for r in &chart.rules {
            let y = y_pos(&chart.y, r.y);
            let line = vec![(x_span.0, y), (x_span.1, y)];
            let style = r.colour.stroke_width(2);
            if r.dashed {
                c.draw_series(DashedLineSeries::new(line, 8, 5, style)).map_err(e)?;
            } else {
                c.draw_series(LineSeries::new(line, style)).map_err(e)?;
            }
        }
        for s in &chart.series {
            let data: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|&(x, y)| (x_pos(&chart.x, x), y_pos(&chart.y, y)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            let style = s.colour.stroke_width(2);
            if s.dashed {
                c.draw_series(DashedLineSeries::new(data.clone(), 8, 5, style)).map_err(e)?;
            } else {
                c.draw_series(LineSeries::new(data.clone(), style)).map_err(e)?;
            }
            draw_bars(&mut c, chart, s)?;
            draw_markers(&mut c, &data, s.colour, s.marker)?;
        }
        // Title and subtitle above the plot, the legend in its own column.
        let title = (FONT, 24).into_font().style(FontStyle::Bold).color(&BLACK);
        plot.draw_text(&chart.title, &title, (16, 8)).map_err(e)?;
        if let Some(sub) = &chart.subtitle {
            plot.draw_text(sub, &(FONT, 16).into_font().color(&RGBColor(90, 90, 90)), (16, 32)).map_err(e)?;
        }
        draw_legend(&legend, &chart.series, &chart.rules)?;
        root.present().map_err(e)?;
    }
    Ok(Some(out))
}

type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

fn draw_markers(c: &mut Ctx, data: &[(f64, f64)], colour: RGBColor, marker: Marker) -> Result<(), Err> {
    let fill = colour.filled();
    let r = match marker {
        Marker::Circle => c.draw_series(data.iter().map(|&p| Circle::new(p, 4, fill))).map(|_| ()),
        Marker::Triangle => c.draw_series(data.iter().map(|&p| TriangleMarker::new(p, 6, fill))).map(|_| ()),
        Marker::Square => c
            .draw_series(data.iter().map(|&p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], fill)))
            .map(|_| ()),
        Marker::Cross => c.draw_series(data.iter().map(|&p| Cross::new(p, 5, colour.stroke_width(2)))).map(|_| ()),
    };
    r.map_err(e)
}

/// A series' error bars: a vertical line from low to high through each point, with caps.
fn draw_bars(c: &mut Ctx, chart: &Chart, s: &Series) -> Result<(), Err> {
    let style = s.colour.stroke_width(2);
    for (&(x, _), &(lo, hi)) in s.points.iter().zip(&s.bars) {
        let (x, lo, hi) = (x_pos(&chart.x, x), y_pos(&chart.y, lo), y_pos(&chart.y, hi));
        if !(x.is_finite() && lo.is_finite() && hi.is_finite()) {
            continue;
        }
        c.draw_series(LineSeries::new(vec![(x, lo), (x, hi)], style)).map_err(e)?;
        for y in [lo, hi] {
            c.draw_series(std::iter::once(EmptyElement::at((x, y)) + PathElement::new(vec![(-7, 0), (7, 0)], style)))
                .map_err(e)?;
        }
    }
    Ok(())
}

/// Characters of legend text per line: the column is LEGEND px wide, text starts at 38 px, and
/// a character of the legend's font is about 7 px wide.
const LEGEND_CHARS: usize = ((LEGEND - 44) / 7) as usize;

/// `label` in lines of at most LEGEND_CHARS characters, broken at spaces where it can be.
fn wrap(label: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in label.split(' ') {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= LEGEND_CHARS => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

fn draw_legend(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    series: &[Series],
    rules: &[Rule],
) -> Result<(), Err> {
    let text = (FONT, 16).into_font().color(&BLACK);
    let mut y = 60;
    for s in series {
        let style = s.colour.stroke_width(2);
        if s.dashed {
            for x in [4, 17] {
                area.draw(&PathElement::new(vec![(x, y), (x + 8, y)], style)).map_err(e)?;
            }
        } else {
            area.draw(&PathElement::new(vec![(4, y), (30, y)], style)).map_err(e)?;
        }
        let fill = s.colour.filled();
        match s.marker {
            Marker::Circle => area.draw(&Circle::new((17, y), 4, fill)),
            Marker::Triangle => area.draw(&TriangleMarker::new((17, y), 6, fill)),
            Marker::Square => area.draw(&Rectangle::new([(13, y - 4), (21, y + 4)], fill)),
            Marker::Cross => area.draw(&Cross::new((17, y), 5, s.colour.stroke_width(2))),
        }
        .map_err(e)?;
        if !s.bars.is_empty() {
            let style = s.colour.stroke_width(2);
            area.draw(&PathElement::new(vec![(17, y - 9), (17, y + 9)], style)).map_err(e)?;
            for cap in [y - 9, y + 9] {
                area.draw(&PathElement::new(vec![(12, cap), (22, cap)], style)).map_err(e)?;
            }
        }
        y = legend_text(area, &s.label, y, &text)?;
    }
    for r in rules {
        let style = r.colour.stroke_width(2);
        if r.dashed {
            for x in [4, 17] {
                area.draw(&PathElement::new(vec![(x, y), (x + 8, y)], style)).map_err(e)?;
            }
        } else {
            area.draw(&PathElement::new(vec![(4, y), (30, y)], style)).map_err(e)?;
        }
        y = legend_text(area, &r.label, y, &text)?;
    }
    Ok(())
}

/// A legend entry's label beside its sample at `y`; the next entry's `y`.
fn legend_text(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    label: &str,
    mut y: i32,
    text: &plotters::style::TextStyle,
) -> Result<i32, Err> {
    for (i, line) in wrap(label).iter().enumerate() {
        area.draw_text(line, text, (38, y - 8 + i as i32 * 17)).map_err(e)?;
        y += if i > 0 { 17 } else { 0 };
    }
    Ok(y + 24)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn chart(x: XAxis, y: YAxis, points: Vec<(f64, f64)>) -> Chart {
        Chart {
            title: "t".into(),
            subtitle: Some("s".into()),
            x,
            y,
            series: vec![Series {
                label: "base p99".into(),
                colour: BASE,
                marker: Marker::Circle,
                dashed: false,
                points,
                bars: Vec::new(),
            }],
            rules: Vec::new(),
        }
    }

    /// plotters writes each text on a line of its own.
    pub(crate) fn has_text(svg: &str, text: &str) -> bool {
        svg.contains(&format!("\n{text}\n</text>"))
    }

    #[test]
    fn ticks_are_at_powers_and_labels_carry_units() {
        let c = chart(XAxis::Log2("queue depth".into()), YAxis::Latency, vec![(1.0, 20_000.0), (8.0, 3_000_000.0)]);
        let svg = svg(&c).unwrap().unwrap();
        for label in ["1", "2", "4", "8", "10 µs", "100 µs", "1 ms", "10 ms", "latency (log scale)"] {
            assert!(has_text(&svg, label), "{label} missing");
        }
        assert!(has_text(&svg, "queue depth (log scale)") && has_text(&svg, "base p99"));
        assert!(svg.contains("font-family=\"sans-serif\""));
    }

    #[test]
    fn the_spectrum_axis_names_percentiles_and_max() {
        let c = chart(XAxis::Percentile, YAxis::Latency, vec![(0.5, 1e4), (0.999, 1e5), (1.0, 1e6)]);
        let svg = svg(&c).unwrap().unwrap();
        for label in ["50%", "90%", "99%", "99.9%", "99.99%", "max"] {
            assert!(has_text(&svg, label), "{label} missing");
        }
    }

    #[test]
    fn empty_charts_are_not_drawn() {
        assert_eq!(svg(&chart(XAxis::Log2("qd".into()), YAxis::Iops, vec![])).unwrap(), None);
    }

    #[test]
    fn long_legend_labels_wrap_at_spaces() {
        assert_eq!(wrap("base p99"), ["base p99"]);
        let lines = wrap("candidate contention (= total) of something");
        assert!(lines.len() > 1 && lines.iter().all(|l| l.chars().count() <= LEGEND_CHARS), "{lines:?}");
        assert_eq!(lines.join(" "), "candidate contention (= total) of something");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(500.0), "500");
        assert_eq!(number(1500.0), "1.5k");
        assert_eq!(number(12_000.0), "12k");
        assert_eq!(number(2_500_000.0), "2.5M");
        assert_eq!(nice_step(0.23), 0.5);
        assert_eq!(nice_step(1700.0), 2000.0);
    }
}
