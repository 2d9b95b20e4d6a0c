//! Plots of results files as SVG (plotters, SVG backend only: nothing to install, no fonts):
//!
//! - latency percentiles (p50, p99, p99.9) against queue depth, one chart per operation kind;
//! - IOPS against queue depth;
//! - miscompare rate by class against queue depth, and against the lock count (or the actors
//!   per lock block) when the run has more than one;
//! - a percentile spectrum per point: HdrHistogram's "latency by percentile" on a log axis,
//!   drawn from the six percentiles the results keep (p50, p90, p99, p99.9, p99.99, max), not
//!   from the whole histogram, and labelled so.
//!
//! And for a comparison (`compare --plot`), each figure's change with its interval as error
//! bars by queue depth, against its margin (see `change`).
//!
//! One chart per group of points that differ only in queue depth (workload, threads, lock
//! axis, block size). Given two runs (base, candidate), every chart overlays them: the base in
//! blue with solid lines, the candidate in orange with dashed lines, named in the legend.

mod change;
mod chart;

pub use change::change_charts;
pub use chart::{Chart, Marker, Rule, Series, XAxis, YAxis, MARKERS, PALETTE};

use crate::compare::doc::{LatencySummary, LockAxis, ResultPoint, CLASSES};
use crate::error::{Error, Result};
use crate::results::Point;
use chart::{BASE, CANDIDATE};
use std::path::{Path, PathBuf};

/// One run to draw, and its name in legends (`base`, `candidate`).
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub label: &'a str,
    /// The run's points, as the results document has them.
    pub points: &'a [Point],
}

/// What a plot shows, for grouping them in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Iops,
    Latency,
    Miscompares,
    Spectrum,
    Change,
}

impl Section {
    pub fn heading(self) -> &'static str {
        match self {
            Section::Iops => "IOPS by queue depth",
            Section::Latency => "Latency percentiles by queue depth",
            Section::Miscompares => "Miscompare rates by class",
            Section::Spectrum => "Latency by percentile (per point)",
            Section::Change => "Change with its interval, by figure",
        }
    }
}

/// One drawn plot.
#[derive(Debug, Clone)]
pub struct Plot {
    /// File name without `.svg`.
    pub name: String,
    pub section: Section,
    pub title: String,
    pub svg: String,
}

/// Points that differ only in queue depth.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    workload: String,
    threads: u32,
    axis: LockAxis,
    bs: u32,
}

impl Group {
    fn of(p: &ResultPoint) -> Group {
        Group { workload: p.workload.to_string(), threads: p.threads, axis: p.axis(), bs: p.bs }
    }

    fn slug(&self) -> String {
        let axis = match self.axis {
            LockAxis::Contention(k) => format!("-c{k}"),
            LockAxis::Locks(0) => String::new(),
            LockAxis::Locks(n) => format!("-l{n}"),
        };
        format!("{}-t{}{axis}-bs{}", self.workload, self.threads, self.bs)
    }

    fn describe(&self) -> String {
        let axis = match self.axis {
            LockAxis::Contention(k) => format!(", contention {k}"),
            LockAxis::Locks(0) => String::new(),
            LockAxis::Locks(n) => format!(", {n} lock blocks"),
        };
        let s = if self.threads == 1 { "" } else { "s" };
        format!("{}, {} thread{s}{axis}, {} B blocks", self.workload, self.threads, self.bs)
    }
}

/// Groups in the order the first run has them, then any others.
fn groups(runs: &[Run]) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for r in runs {
        for p in r.points {
            let g = Group::of(p);
            if !out.contains(&g) {
                out.push(g);
            }
        }
    }
    out
}

/// The points of a group in one run, by queue depth.
fn members<'a>(run: &Run<'a>, g: &Group) -> Vec<&'a ResultPoint> {
    let mut v: Vec<&ResultPoint> = run.points.iter().filter(|p| Group::of(p) == *g).collect();
    v.sort_by_key(|p| p.qd);
    v
}

/// Series style: in a comparison the run sets colour and dash and `variant` the marker; in a
/// single run `variant` sets both colour and marker.
fn style(runs: &[Run], run: usize, variant: usize) -> (plotters::style::RGBColor, Marker, bool) {
    let marker = MARKERS[variant % MARKERS.len()];
    if runs.len() > 1 {
        (if run == 0 { BASE } else { CANDIDATE }, marker, run > 0)
    } else {
        (PALETTE[variant % PALETTE.len()], marker, false)
    }
}

fn label(runs: &[Run], run: usize, what: &str) -> String {
    if runs.len() > 1 {
        format!("{} {what}", runs[run].label).trim().to_string()
    } else {
        what.to_string()
    }
}

fn overlay_note(runs: &[Run]) -> String {
    if runs.len() > 1 {
        format!(" · solid: {}, dashed: {}", runs[0].label, runs[1].label)
    } else {
        String::new()
    }
}

/// Picks one percentile out of a summary.
type Pick = fn(&LatencySummary) -> u64;

const PERCENTILES: [(&str, Pick); 3] = [("p50", |s| s.p50), ("p99", |s| s.p99), ("p99.9", |s| s.p999)];

fn kinds(runs: &[Run], g: &Group) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    for r in runs {
        for p in members(r, g) {
            for k in p.latency_ns.keys() {
                if !kinds.contains(k) {
                    kinds.push(k.clone());
                }
            }
        }
    }
    kinds.sort();
    kinds
}

fn latency_charts(runs: &[Run], g: &Group, out: &mut Vec<(String, Section, Chart)>) {
    for kind in kinds(runs, g) {
        let mut series = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let pts = members(run, g);
            for (v, (name, pick)) in PERCENTILES.iter().enumerate() {
                let (colour, marker, dashed) = style(runs, i, v);
                let points: Vec<(f64, f64)> =
                    pts.iter().filter_map(|p| p.latency_ns.get(&kind).map(|s| (p.qd as f64, pick(s) as f64))).collect();
                if !points.is_empty() {
                    series.push(Series {
                        label: label(runs, i, name),
                        colour,
                        marker,
                        dashed,
                        points,
                        bars: Vec::new(),
                    });
                }
            }
        }
        let chart = Chart {
            title: format!("{kind} latency by queue depth"),
            subtitle: Some(format!("{}{}", g.describe(), overlay_note(runs))),
            x: XAxis::Log2("queue depth per worker".into()),
            y: YAxis::Latency,
            series,
            rules: Vec::new(),
        };
        out.push((format!("latency-{}-{kind}", g.slug()), Section::Latency, chart));
    }
}

fn iops_chart(runs: &[Run], g: &Group, out: &mut Vec<(String, Section, Chart)>) {
    let series = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let (colour, marker, dashed) = style(runs, i, 0);
            let points = members(run, g).iter().map(|p| (p.qd as f64, p.iops)).collect();
            Series { label: label(runs, i, "IOPS"), colour, marker, dashed, points, bars: Vec::new() }
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    let chart = Chart {
        title: "IOPS by queue depth".into(),
        subtitle: Some(format!("{}{}", g.describe(), overlay_note(runs))),
        x: XAxis::Log2("queue depth per worker".into()),
        y: YAxis::Iops,
        series,
        rules: Vec::new(),
    };
    out.push((format!("iops-{}", g.slug()), Section::Iops, chart));
}

/// Classes with a miscompare in any of `points`, `total` first.
fn classes<'a>(points: impl Iterator<Item = &'a ResultPoint> + Clone) -> Vec<&'static str> {
    CLASSES.iter().copied().filter(|c| points.clone().any(|p| p.miscompares.get(c) > 0)).collect()
}

/// Miscompare-rate series of `classes` over `points`, x chosen by `x`.
fn class_series(
    runs: &[Run],
    per_run: &[Vec<&ResultPoint>],
    classes: &[&str],
    x: impl Fn(&ResultPoint) -> f64,
) -> Vec<Series> {
    // When one class holds every miscompare, `total` would hide under it: draw that class
    // alone, named as the total too.
    let single =
        classes.len() == 2 && per_run.iter().flatten().all(|p| p.miscompares.total == p.miscompares.get(classes[1]));
    let mut series = Vec::new();
    for (i, pts) in per_run.iter().enumerate() {
        for (v, class) in classes.iter().enumerate().filter(|(_, c)| !(single && **c == "total")) {
            let (colour, marker, dashed) = style(runs, i, v);
            let points: Vec<(f64, f64)> = pts.iter().map(|p| (x(p), p.miscompare_rate(class))).collect();
            let name = if single { format!("{class} (= total)") } else { class.to_string() };
            if !points.is_empty() {
                series.push(Series { label: label(runs, i, &name), colour, marker, dashed, points, bars: Vec::new() });
            }
        }
    }
    series
}

fn miscompare_chart(runs: &[Run], g: &Group, out: &mut Vec<(String, Section, Chart)>) {
    let per_run: Vec<Vec<&ResultPoint>> = runs.iter().map(|r| members(r, g)).collect();
    let classes = classes(per_run.iter().flatten().copied());
    if classes.is_empty() {
        return;
    }
    let chart = Chart {
        title: "Miscompare rate by class and queue depth".into(),
        subtitle: Some(format!("{}{}", g.describe(), overlay_note(runs))),
        x: XAxis::Log2("queue depth per worker".into()),
        y: YAxis::Percent("miscompares".into()),
        series: class_series(runs, &per_run, &classes, |p| p.qd as f64),
        rules: Vec::new(),
    };
    out.push((format!("miscompares-{}", g.slug()), Section::Miscompares, chart));
}

/// Miscompare rates against the lock axis, for each (workload, threads, bs, qd) measured at
/// two or more lock counts (or contention levels) of the same kind.
fn by_locks_charts(runs: &[Run], out: &mut Vec<(String, Section, Chart)>) {
    type Row = (String, u32, u32, u32, bool); // workload, threads, bs, qd, contention axis
    let row = |p: &ResultPoint| -> Row {
        (p.workload.to_string(), p.threads, p.bs, p.qd, matches!(p.axis(), LockAxis::Contention(_)))
    };
    let value = |p: &ResultPoint| match p.axis() {
        LockAxis::Contention(k) => k as f64,
        LockAxis::Locks(n) => n as f64,
    };
    let mut rows: Vec<Row> = Vec::new();
    for r in runs {
        for p in r.points.iter().filter(|p| p.axis() != LockAxis::Locks(0)) {
            if !rows.contains(&row(p)) {
                rows.push(row(p));
            }
        }
    }
    for key in rows {
        let per_run: Vec<Vec<&ResultPoint>> = runs
            .iter()
            .map(|r| {
                let mut v: Vec<&ResultPoint> = r.points.iter().filter(|p| row(p) == key).collect();
                v.sort_by(|a, b| value(a).total_cmp(&value(b)));
                v
            })
            .collect();
        let mut axis_values: Vec<f64> = per_run.iter().flatten().map(|p| value(p)).collect();
        axis_values.sort_by(f64::total_cmp);
        axis_values.dedup();
        let classes = classes(per_run.iter().flatten().copied());
        if axis_values.len() < 2 || classes.is_empty() {
            continue;
        }
        let (workload, threads, bs, qd, contention) = &key;
        let (what, slug) = if *contention {
            ("actors per lock block, --contention", "contention")
        } else {
            ("lock blocks, --locks", "locks")
        };
        let s = if *threads == 1 { "" } else { "s" };
        let chart = Chart {
            title: format!("Miscompare rate by class and {}", if *contention { "contention" } else { "lock count" }),
            subtitle: Some(format!(
                "{workload}, {threads} thread{s}, queue depth {qd}, {bs} B blocks{}",
                overlay_note(runs)
            )),
            x: XAxis::Log2(what.into()),
            y: YAxis::Percent("miscompares".into()),
            series: class_series(runs, &per_run, &classes, value),
            rules: Vec::new(),
        };
        out.push((format!("miscompares-by-{slug}-{workload}-t{threads}-qd{qd}-bs{bs}"), Section::Miscompares, chart));
    }
}

/// The percentiles a summary keeps, as (quantile, ns); the maximum at quantile 1.
fn spectrum(s: &LatencySummary) -> Vec<(f64, f64)> {
    [(0.5, s.p50), (0.9, s.p90), (0.99, s.p99), (0.999, s.p999), (0.9999, s.p9999), (1.0, s.max)]
        .iter()
        .map(|&(q, v)| (q, v as f64))
        .collect()
}

fn spectrum_charts(runs: &[Run], out: &mut Vec<(String, Section, Chart)>) {
    let mut keys = Vec::new();
    for r in runs {
        for p in r.points {
            if !keys.contains(&p.key()) {
                keys.push(p.key());
            }
        }
    }
    for key in keys {
        let pts: Vec<Option<&ResultPoint>> = runs.iter().map(|r| r.points.iter().find(|p| p.key() == key)).collect();
        let mut kinds: Vec<&String> = pts.iter().flatten().flat_map(|p| p.latency_ns.keys()).collect();
        kinds.sort();
        kinds.dedup();
        let mut series = Vec::new();
        for (i, p) in pts.iter().enumerate() {
            let Some(p) = p else { continue };
            for (v, kind) in kinds.iter().enumerate() {
                if let Some(s) = p.latency_ns.get(*kind) {
                    let (colour, marker, dashed) = style(runs, i, v);
                    series.push(Series {
                        label: label(runs, i, kind),
                        colour,
                        marker,
                        dashed,
                        points: spectrum(s),
                        bars: Vec::new(),
                    });
                }
            }
        }
        let slug = format!(
            "{}-qd{}-t{}{}-bs{}",
            key.workload,
            key.qd,
            key.threads,
            match key.axis {
                LockAxis::Contention(k) => format!("-c{k}"),
                LockAxis::Locks(0) => String::new(),
                LockAxis::Locks(n) => format!("-l{n}"),
            },
            key.bs
        );
        let chart = Chart {
            title: format!("Latency by percentile: {key}"),
            subtitle: Some(format!(
                "from the results' six percentiles (p50 … p99.99, max), not the full histogram{}",
                overlay_note(runs)
            )),
            x: XAxis::Percentile,
            y: YAxis::Latency,
            series,
            rules: Vec::new(),
        };
        out.push((format!("spectrum-{slug}"), Section::Spectrum, chart));
    }
}

/// Every plot of `runs` (one run, or base and candidate), drawn.
pub fn plots(runs: &[Run]) -> Result<Vec<Plot>> {
    let mut charts = Vec::new();
    for g in groups(runs) {
        iops_chart(runs, &g, &mut charts);
        latency_charts(runs, &g, &mut charts);
        miscompare_chart(runs, &g, &mut charts);
    }
    by_locks_charts(runs, &mut charts);
    spectrum_charts(runs, &mut charts);
    charts.sort_by_key(|c| c.1);
    let mut out = Vec::new();
    for (name, section, c) in charts {
        let svg = chart::svg(&c).map_err(|e| Error::Internal(format!("drawing {name}.svg: {e}")))?;
        if let Some(svg) = svg {
            out.push(Plot { name, section, title: c.title, svg });
        }
    }
    Ok(out)
}

/// One chart drawn as SVG (None when it has no data).
pub fn draw(name: &str, c: &Chart) -> Result<Option<String>> {
    chart::svg(c).map_err(|e| Error::Internal(format!("drawing {name}.svg: {e}")))
}

/// An error writing an output file, with the fix.
pub fn write_error(path: &Path, e: &std::io::Error) -> Error {
    let p = path.display();
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            Error::Permission(format!("{p}: permission denied while writing; give a path this user may write"))
        }
        std::io::ErrorKind::NotFound => {
            Error::Usage(format!("{p}: its folder does not exist; create it or give another path"))
        }
        _ => Error::Usage(format!("{p}: cannot be written ({e}); give another path")),
    }
}

/// The change plots of a comparison (see `change`).
pub fn change_plots(report: &crate::compare::CompareReport) -> Result<Vec<Plot>> {
    let mut out = Vec::new();
    for (name, c) in change_charts(report, false) {
        if let Some(svg) = draw(&name, &c)? {
            out.push(Plot { name, section: Section::Change, title: c.title, svg });
        }
    }
    Ok(out)
}

/// Draw every plot of `runs` into `dir` (created if missing) as `<name>.svg`.
pub fn write_plots(runs: &[Run], dir: &Path) -> Result<Vec<PathBuf>> {
    write(plots(runs)?, dir)
}

/// Write `plots` into `dir` (created if missing) as `<name>.svg`.
pub fn write(plots: Vec<Plot>, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, &e))?;
    let mut written = Vec::new();
    for p in plots {
        let path = dir.join(format!("{}.svg", p.name));
        std::fs::write(&path, &p.svg).map_err(|e| write_error(&path, &e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::doc::parse;
    use chart::tests::has_text;

    pub(crate) fn fixture(iops_scale: f64) -> crate::compare::Results {
        let lat = |base: u64| {
            serde_json::json!({"count": 1000, "mean": base as f64, "p50": base, "p90": base * 2, "p99": base * 4,
                "p999": base * 8, "p9999": base * 16, "max": base * 20})
        };
        let points: Vec<serde_json::Value> = [(1u32, 1u32), (4, 1), (16, 1), (16, 4)]
            .iter()
            .map(|&(qd, k)| {
                let l = 20_000 * qd as u64;
                serde_json::json!({"workload": "ats", "ats_mode": "device", "qd": qd, "threads": 1, "locks": qd / k,
                    "contention": k, "bs": 512, "ops": 10_000, "duration_s": 1.0,
                    "iops": 50_000.0 * iops_scale * (qd as f64).sqrt(),
                    "latency_ns": {"ats": lat(l), "acquire": lat(l * 2)},
                    "miscompares": {"total": 50 * k as u64, "contention": 50 * k as u64, "own_write": 0,
                        "corrupt": 0, "stale": 0, "false": 0},
                    "verification": {"checked": 10_000, "violations": 0, "lost_updates": 0}})
            })
            .collect();
        let doc = serde_json::json!({"schema": "atsbench/2", "version": "0.1.0",
            "config": {"command": "sweep", "bs": 512}, "target": {"path": "/dev/sg0", "backend": "scsi"},
            "points": points});
        parse(Path::new("fixture.json"), &serde_json::to_vec(&doc).unwrap()).unwrap()
    }

    #[test]
    fn a_sweep_gives_every_kind_of_plot() {
        let r = fixture(1.0);
        let p = plots(&[Run { label: "", points: &r.points }]).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        for want in [
            "iops-ats-t1-c1-bs512",
            "latency-ats-t1-c1-bs512-acquire",
            "latency-ats-t1-c1-bs512-ats",
            "miscompares-ats-t1-c1-bs512",
            "miscompares-by-contention-ats-t1-qd16-bs512",
            "spectrum-ats-qd16-t1-c4-bs512",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let sections: Vec<Section> = p.iter().map(|p| p.section).collect();
        assert!(sections.windows(2).all(|w| w[0] <= w[1]), "grouped by section");
    }

    #[test]
    fn a_comparison_overlays_both_runs_with_a_legend() {
        let (a, b) = (fixture(1.0), fixture(0.8));
        let runs = [Run { label: "base", points: &a.points }, Run { label: "candidate", points: &b.points }];
        let p = plots(&runs).unwrap();
        let iops = p.iter().find(|p| p.name == "iops-ats-t1-c1-bs512").unwrap();
        assert!(has_text(&iops.svg, "base IOPS") && has_text(&iops.svg, "candidate IOPS"));
        assert!(iops.svg.contains("rgb(31,119,180)") || iops.svg.contains("#1F77B4"), "base colour");
        let dir = tempfile::tempdir().unwrap();
        let written = write_plots(&runs, dir.path()).unwrap();
        assert_eq!(written.len(), p.len());
        assert!(written.iter().all(|f| std::fs::metadata(f).unwrap().len() > 1000));
    }
}
