//! `compare --plot`: each figure's change, candidate against base, with the interval the
//! verdict was decided on drawn as error bars, by queue depth.
//!
//! One chart per figure (IOPS, every latency percentile, every miscompare class) and group of
//! points that differ only in queue depth. The base is the zero line (blue), the candidate's
//! change a point with its interval (orange), the margin a dashed red line on the worse side:
//! a bar wholly beyond it is a regression, wholly short of it ok, across it inconclusive.
//! Violations and lost updates, counts without a change, are not drawn.

use super::chart::{Chart, Marker, Rule, Series, XAxis, YAxis, BASE, CANDIDATE};
use crate::compare::{CompareReport, Metric, PointComparison, Unit, Verdict};
use plotters::style::RGBColor;

/// The margin's colour.
const MARGIN: RGBColor = RGBColor(214, 39, 40);

/// Points that differ only in queue depth.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    workload: String,
    threads: u32,
    contention: Option<u32>,
    locks: Option<u32>,
    bs: u32,
}

impl Group {
    fn of(p: &PointComparison) -> Group {
        Group { workload: p.workload.clone(), threads: p.threads, contention: p.contention, locks: p.locks, bs: p.bs }
    }

    fn slug(&self) -> String {
        let axis = match (self.contention, self.locks) {
            (Some(k), _) => format!("-c{k}"),
            (None, Some(n)) => format!("-l{n}"),
            _ => String::new(),
        };
        format!("{}-t{}{axis}-bs{}", self.workload, self.threads, self.bs)
    }

    fn describe(&self) -> String {
        let axis = match (self.contention, self.locks) {
            (Some(k), _) => format!(", contention {k}"),
            (None, Some(n)) => format!(", {n} lock blocks"),
            _ => String::new(),
        };
        let s = if self.threads == 1 { "" } else { "s" };
        format!("{}, {} thread{s}{axis}, {} B blocks", self.workload, self.threads, self.bs)
    }
}

/// `ats p99.9` as `ats-p999`.
fn slug(name: &str) -> String {
    name.replace('.', "").replace(' ', "-")
}

/// A figure drawn: it has a change and an interval (not a count).
fn drawn(m: &Metric) -> bool {
    m.unit != Unit::Count && m.change.is_some() && m.interval.is_some()
}

/// The margin as a change (candidate against base): a drop for IOPS, a rise otherwise.
fn margin_line(m: &Metric) -> Option<f64> {
    match (m.threshold, m.unit) {
        (Some(t), Unit::OpsPerSec) if t < 100.0 => Some(-t),
        (Some(_), Unit::OpsPerSec) => None,
        (Some(t), _) => Some(t),
        (None, _) => None,
    }
}

/// The change charts of a comparison, named `change-<group>-<figure>`: of every figure with
/// an interval, or of the gated ones only.
pub fn change_charts(r: &CompareReport, gated_only: bool) -> Vec<(String, Chart)> {
    let compared: Vec<&PointComparison> = r.points.iter().filter(|p| p.verdict != Verdict::NotComparable).collect();
    let mut groups: Vec<Group> = Vec::new();
    for p in &compared {
        if !groups.contains(&Group::of(p)) {
            groups.push(Group::of(p));
        }
    }
    let level = 100.0 * (1.0 - r.alpha / r.gated.max(1) as f64);
    let mut out = Vec::new();
    for g in groups {
        let mut pts: Vec<&PointComparison> = compared.iter().copied().filter(|p| Group::of(p) == g).collect();
        pts.sort_by_key(|p| p.qd);
        let mut names: Vec<&str> = Vec::new();
        for m in pts.iter().flat_map(|p| &p.metrics).filter(|m| drawn(m) && (m.gated || !gated_only)) {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
        for name in names {
            let at: Vec<(u32, &Metric)> = pts
                .iter()
                .filter_map(|p| p.metrics.iter().find(|m| m.name == name && drawn(m)).map(|m| (p.qd, m)))
                .collect();
            out.push((format!("change-{}-{}", g.slug(), slug(name)), chart(&g, name, &at, level)));
        }
    }
    out
}

fn chart(g: &Group, name: &str, at: &[(u32, &Metric)], level: f64) -> Chart {
    let first = at[0].1;
    let unit = if first.unit == Unit::Rate { "percentage points" } else { "%" };
    let mut points = Vec::new();
    let mut bars = Vec::new();
    for (qd, m) in at {
        if let (Some(c), Some([lo, hi])) = (m.change, m.interval) {
            points.push((*qd as f64, c));
            bars.push((lo, hi));
        }
    }
    let verdicts: Vec<String> = at
        .iter()
        .map(|(qd, m)| format!("qd {qd}: {}", crate::compare::metric_verdict(m.verdict).to_lowercase()))
        .collect();
    let informs = if first.gated { "" } else { " (informs, not gated)" };
    let mut rules = vec![Rule { y: 0.0, label: "base (no change)".into(), colour: BASE, dashed: false }];
    if let Some(y) = margin_line(first) {
        let sign = if y > 0.0 { "+" } else { "" };
        let u = if first.unit == Unit::Rate { "pp" } else { "%" };
        rules.push(Rule { y, label: format!("margin {sign}{y}{u}"), colour: MARGIN, dashed: true });
    }
    Chart {
        title: format!("Change in {}{informs}", if name == "iops" { "IOPS" } else { name }),
        subtitle: Some(format!("{}; {}", g.describe(), verdicts.join(", "))),
        x: XAxis::Log2("queue depth per worker".into()),
        y: YAxis::Change(format!("change, candidate against base ({unit})")),
        series: vec![Series {
            label: format!("candidate, {}% interval", trim_level(level)),
            colour: CANDIDATE,
            marker: Marker::Circle,
            dashed: false,
            points,
            bars,
        }],
        rules,
    }
}

/// `90`, `99.5`, `99.67`.
fn trim_level(level: f64) -> String {
    let s = format!("{level:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{compare_results, CompareOptions};
    use crate::plot::chart::tests::has_text;

    fn report() -> CompareReport {
        let (a, b) = (super::super::tests::fixture(1.0), super::super::tests::fixture(0.5));
        compare_results(&a, &b, &CompareOptions { run_noise_pct: 10.0, ..Default::default() })
    }

    #[test]
    fn each_figure_is_drawn_with_its_interval_as_error_bars() {
        let r = report();
        let charts = change_charts(&r, false);
        let gated = change_charts(&r, true);
        assert!(gated.len() < charts.len() && gated.iter().all(|(n, _)| !n.ends_with("-p50")), "p50 informs");
        let (_, iops) = charts.iter().find(|(n, _)| n == "change-ats-t1-c1-bs512-iops").expect("the IOPS chart");
        let p = r.points.iter().find(|p| p.qd == 4 && p.contention == Some(1)).unwrap();
        let m = p.metrics.iter().find(|m| m.name == "iops").unwrap();
        let [lo, hi] = m.interval.unwrap();
        let s = &iops.series[0];
        let i = s.points.iter().position(|&(x, _)| x == 4.0).unwrap();
        assert_eq!(s.points[i], (4.0, m.change.unwrap()));
        assert_eq!(s.bars[i], (lo, hi), "the bar is the interval the verdict was decided on");
        assert!(lo < -40.0 && hi < -5.0, "halved IOPS: {lo} {hi}");
        assert_eq!(iops.rules[1].y, -5.0, "the margin of a 5 % drop");
        assert!(charts.iter().any(|(n, _)| n == "change-ats-t1-c1-bs512-ats-p999"), "every percentile");
        assert!(charts.iter().all(|(n, _)| !n.contains("violations")), "counts are not drawn");
        // Drawn: a vertical line per bar, from low to high, and the bar in the legend.
        let svg = crate::plot::draw("change", iops).unwrap().unwrap();
        let bars = svg.matches("stroke=\"#E6550D\"").count();
        assert!(bars >= 3 * s.bars.len(), "a line and two caps per bar: {bars}");
        assert!(has_text(&svg, "margin -5%") && has_text(&svg, "base (no change)"));
    }
}
