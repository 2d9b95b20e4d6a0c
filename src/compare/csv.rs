//! The comparison as CSV: flat, one row per point and figure (a point without figures, one
//! not comparable, has one row with the figure columns empty), with a header, written by the
//! csv crate from a serde record. Values are raw numbers in the figure's unit (ops/s, ns, a
//! fraction of operations, a count); `change`, its interval `change_lo`..`change_hi` and
//! `margin` are percent, or percentage points for rates; `counts_base` and `counts_candidate`
//! list the count of miscompares of the class, violations or lost updates in each repeat
//! (`;`-separated).
//! The comparison's verdict and thresholds repeat on every row so that each row stands alone
//! in a spreadsheet; each figure has its own verdict, so the point's reasons (which name those
//! figures) are only written on the row of a point without figures.

use super::judge::PointComparison;
use super::metric::{metric_verdict, short_test, Metric};
use super::CompareReport;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
// wide: one field per column of the compare CSV
struct Row<'a> {
    verdict: &'a str,
    thresholds: &'a str,
    workload: &'a str,
    qd: u32,
    threads: u32,
    contention: Option<u32>,
    locks: Option<u32>,
    bs: u32,
    ats_mode_base: Option<&'a str>,
    ats_mode_candidate: Option<&'a str>,
    repeats_base: usize,
    repeats_candidate: usize,
    point_verdict: &'a str,
    figure: Option<&'a str>,
    unit: Option<&'static str>,
    base: Option<f64>,
    candidate: Option<f64>,
    change: Option<f64>,
    change_lo: Option<f64>,
    change_hi: Option<f64>,
    margin: Option<f64>,
    basis: Option<String>,
    gated: Option<bool>,
    spread_base_min: Option<f64>,
    spread_base_max: Option<f64>,
    spread_candidate_min: Option<f64>,
    spread_candidate_max: Option<f64>,
    /// Miscompares, violations, lost updates: the count in each repeat, `;`-separated.
    counts_base: Option<String>,
    counts_candidate: Option<String>,
    upper_95_base: Option<f64>,
    upper_95_candidate: Option<f64>,
    rank_test: Option<&'static str>,
    rank_p: Option<f64>,
    figure_verdict: Option<&'static str>,
    to_decide: Option<&'a str>,
    /// Why a point without figures was not compared (`; `-separated).
    reason: String,
}

fn unit(m: &Metric) -> &'static str {
    use super::metric::Unit;
    match m.unit {
        Unit::OpsPerSec => "ops/s",
        Unit::Ns => "ns",
        Unit::Rate => "rate",
        Unit::Count => "count",
    }
}

fn joined(c: &[u64]) -> String {
    c.iter().map(u64::to_string).collect::<Vec<_>>().join(";")
}

fn row<'a>(r: &'a CompareReport, thresholds: &'a str, p: &'a PointComparison, m: Option<&'a Metric>) -> Row<'a> {
    let test = m.and_then(|m| m.test);
    let reason = match m {
        None => p.reasons.iter().chain(&p.notes).map(String::as_str).collect::<Vec<_>>().join("; "),
        Some(_) => String::new(),
    };
    Row {
        verdict: r.verdict.name(),
        thresholds,
        workload: &p.workload,
        qd: p.qd,
        threads: p.threads,
        contention: p.contention,
        locks: p.locks,
        bs: p.bs,
        ats_mode_base: p.ats_mode.base.as_deref(),
        ats_mode_candidate: p.ats_mode.candidate.as_deref(),
        repeats_base: p.repeats.base,
        repeats_candidate: p.repeats.candidate,
        point_verdict: p.verdict.name(),
        figure: m.map(|m| m.name.as_str()),
        unit: m.map(unit),
        base: m.map(|m| m.base),
        candidate: m.map(|m| m.candidate),
        change: m.and_then(|m| m.change),
        change_lo: m.and_then(|m| m.interval).map(|i| i[0]),
        change_hi: m.and_then(|m| m.interval).map(|i| i[1]),
        margin: m.and_then(|m| m.threshold.or((m.unit == super::metric::Unit::Count).then_some(0.0))),
        basis: m.and_then(|m| m.basis).map(|b| b.short()),
        gated: m.map(|m| m.gated),
        spread_base_min: m.and_then(|m| m.spread).map(|s| s.base[0]),
        spread_base_max: m.and_then(|m| m.spread).map(|s| s.base[1]),
        spread_candidate_min: m.and_then(|m| m.spread).map(|s| s.candidate[0]),
        spread_candidate_max: m.and_then(|m| m.spread).map(|s| s.candidate[1]),
        counts_base: m.and_then(|m| m.repeat_counts.as_ref()).map(|c| joined(&c.base)),
        counts_candidate: m.and_then(|m| m.repeat_counts.as_ref()).map(|c| joined(&c.candidate)),
        upper_95_base: m.and_then(|m| m.upper_95).map(|u| u.base),
        upper_95_candidate: m.and_then(|m| m.upper_95).map(|u| u.candidate),
        rank_test: m.map(|m| short_test(&m.test)).filter(|t| *t != "-"),
        rank_p: test.map(|t| t.p),
        figure_verdict: m.map(|m| metric_verdict(m.verdict)),
        to_decide: m.and_then(|m| m.to_decide.as_deref()),
        reason,
    }
}

/// Write `r` as CSV.
pub fn render(r: &CompareReport, w: &mut dyn Write) -> io::Result<()> {
    let thresholds = r.thresholds.to_string();
    let mut out = csv::WriterBuilder::new().has_headers(true).from_writer(w);
    for p in &r.points {
        if p.metrics.is_empty() {
            out.serialize(row(r, &thresholds, p, None)).map_err(io::Error::other)?;
        }
        for m in &p.metrics {
            out.serialize(row(r, &thresholds, p, Some(m))).map_err(io::Error::other)?;
        }
    }
    out.flush()
}
