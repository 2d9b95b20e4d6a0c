//! One figure of a point side by side (`Metric`: base, candidate, change, interval, margin,
//! verdict), and how a figure is written: its value, change, margin and spread, the same in the
//! table, markdown, CSV and HTML reports and in the verdict's reasons.

use super::decide::{Basis, MetricVerdict};
use super::inference::Figure;
use super::stats::Method;
use super::Pair;
use serde::Serialize;

/// The unit of a figure; changes are in percent, except rates (percentage points) and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    #[serde(rename = "ops/s")]
    OpsPerSec,
    #[serde(rename = "ns")]
    Ns,
    /// A fraction of operations (0.01 = 1 %).
    #[serde(rename = "rate")]
    Rate,
    /// Events (violations, lost updates) out of the operations checked.
    #[serde(rename = "count")]
    Count,
}

/// The rank test over the repeats, shown for information where both sides have 4+ repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    /// `mann-whitney-u`.
    pub name: &'static str,
    pub method: Option<Method>,
    /// U of the base's repeats.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p: f64,
}

pub const MANN_WHITNEY: &str = "mann-whitney-u";

/// One figure of a point, side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
// wide: one object of the compare JSON report, one field per key
pub struct Metric {
    /// `iops`, `<kind> p50|p99|p99.9`, `miscompares <class>`, `violations`, `lost updates`.
    pub name: String,
    pub unit: Unit,
    /// The merged figures (percentiles from the merged histograms).
    pub base: f64,
    pub candidate: f64,
    /// Percent for IOPS and latency, percentage points for rates; None for counts and when the
    /// base is zero.
    pub change: Option<f64>,
    /// The interval of the change, in its unit (candidate against base, not signed by worse).
    pub interval: Option<[f64; 2]>,
    /// The margin: the largest change in the worse direction that is not a regression, in the
    /// unit of `change`; None where any worsening counts (violations, lost updates).
    pub threshold: Option<f64>,
    /// What the interval rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<Basis>,
    /// Gated figures decide the verdict; the others inform.
    pub gated: bool,
    pub verdict: MetricVerdict,
    /// An inconclusive figure: what would likely decide it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_decide: Option<String>,
    /// The smallest and largest per-repeat value on each side (2+ repeats on a side): in the
    /// figure's unit, counts for violations and lost updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<Pair<[f64; 2]>>,
    /// Miscompares of the class, violations, lost updates: the count in each repeat (2+
    /// repeats on a side), in repeat order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_counts: Option<Pair<Vec<u64>>>,
    /// Rates and counts: the one-sided 95 % Clopper-Pearson upper bound of each side's rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_95: Option<Pair<f64>>,
    /// Information only: the rank test over the repeats (4+ per side).
    pub test: Option<TestResult>,
    /// Higher is better (IOPS); lower is better for every other figure.
    #[serde(skip)]
    pub higher_is_better: bool,
    /// The statistic behind the interval.
    #[serde(skip)]
    pub figure: Option<Figure>,
}

/// A p-value for people: three decimals, or `<0.001`.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// Nanoseconds for people: ns, us (or µs), ms, s.
pub fn duration(ns: f64, micro: &str) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} {micro}", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A figure's value in its unit.
pub fn value(v: f64, unit: Unit, micro: &str) -> String {
    match unit {
        Unit::OpsPerSec => format!("{v:.0}"),
        Unit::Ns => duration(v, micro),
        Unit::Rate => format!("{:.3}%", v * 100.0),
        Unit::Count => format!("{v:.0}"),
    }
}

/// The change: percent, or percentage points for rates.
pub fn change(m: &Metric) -> String {
    match (m.change, m.unit) {
        (None, _) => "-".into(),
        (Some(x), Unit::Rate) => format!("{x:+.2}pp"),
        (Some(x), _) => format!("{x:+.1}%"),
    }
}

/// The change and its interval: `-12.3% [-15.1, -9.4]`, `+0.20pp [+0.05, +0.31]`.
pub fn change_with_interval(m: &Metric) -> String {
    let c = change(m);
    match (m.interval, m.unit) {
        (Some([lo, hi]), Unit::Rate | Unit::Count) => format!("{c} [{lo:+.2}, {hi:+.2}]"),
        (Some([lo, hi]), _) => format!("{c} [{lo:+.1}, {hi:+.1}]"),
        (None, _) => c,
    }
}

/// The margin: `5%` (IOPS: a drop of), `0.5pp`, `0` for counts.
pub fn margin(m: &Metric) -> String {
    match (m.threshold, m.unit) {
        (Some(t), Unit::Rate) => format!("{t}pp"),
        (Some(t), _) => format!("{t}%"),
        (None, _) => "0".into(),
    }
}

/// The widest list of counts per repeat a side shows; a longer one shows its smallest and
/// largest, so that the column keeps its width.
const LISTED: usize = 13;

/// Counts per repeat: `0,2,1`, or `0..17` when the list would be longer than [`LISTED`].
fn counts(c: &[u64]) -> String {
    let list = c.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    match (c.iter().min(), c.iter().max()) {
        (Some(lo), Some(hi)) if list.len() > LISTED => format!("{lo}..{hi}"),
        _ => list,
    }
}

/// The per-repeat spread: `9.8k..10.3k / 8.1k..8.4k` (base / candidate); for miscompares,
/// violations and lost updates the count in each repeat, `0,2,1 / 3,5,4`.
pub fn spread(m: &Metric, micro: &str) -> String {
    if let Some(c) = &m.repeat_counts {
        return format!("{} / {}", counts(&c.base), counts(&c.candidate));
    }
    match m.spread {
        Some(s) => {
            let r = |x: [f64; 2]| format!("{}..{}", value(x[0], m.unit, micro), value(x[1], m.unit, micro));
            format!("{} / {}", r(s.base), r(s.candidate))
        }
        None => "-".into(),
    }
}

/// The rank test in a few letters: `MWU exact`, `MWU approx`.
pub fn short_test(t: &Option<TestResult>) -> &'static str {
    match t {
        Some(TestResult { name: MANN_WHITNEY, method: Some(Method::Exact), .. }) => "MWU exact",
        Some(_) => "MWU approx",
        None => "-",
    }
}

/// A verdict in the words of the reports.
pub fn metric_verdict(v: MetricVerdict) -> &'static str {
    match v {
        MetricVerdict::Ok => "ok",
        MetricVerdict::Better => "better",
        MetricVerdict::Regression => "REGRESSION",
        MetricVerdict::Inconclusive => "inconclusive",
    }
}
