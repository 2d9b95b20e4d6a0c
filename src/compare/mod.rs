//! `atsbench compare BASE CANDIDATE`: two results files, point by point, with a verdict.
//!
//! Points match by their identity (workload, queue depth, threads, contention or lock count,
//! block size); a point whose counterpart differs only in block size is paired and marked not
//! comparable; a point in one run only is not comparable. For each pair: IOPS, p50/p99/p99.9
//! of every operation kind, the miscompare rate of every class, violations and lost updates,
//! side by side, each with its change, test, p-value and verdict (see `judge`). The report
//! also says what differs between the runs (see `runs`).
//!
//! Verdict of the comparison: `regression` when any point regressed (the CLI exits 1), `not
//! comparable` when no point could be compared (the CLI exits 2), else `ok`.
//!
//! Significance: a comparison runs dozens of tests (every percentile of every kind of every
//! point), so at 0.05 each, two runs of the same configuration would often show a "significant"
//! difference somewhere by chance. The p-values of all the tests of one comparison are
//! therefore adjusted together (Benjamini-Hochberg): a figure is significant when its adjusted
//! p-value, q, is below alpha = 0.05. This keeps the expected share of false regressions among
//! those reported at 5% (and the chance of any false regression at 5% when nothing changed),
//! while a change that shows in many figures, as a real slowdown does, still comes out. A
//! regression also needs a change beyond its threshold.
//!
//! A rank test over n1 and n2 repeats cannot give p below 2 / C(n1+n2, n1): with 1, 2 or 3
//! repeats per side never below 0.05, so IOPS and latency are then shown but not judged
//! (`inconclusive` where the change is beyond the threshold); the count-based tests
//! (miscompares, violations) do not depend on repeats.

mod csv;
pub mod doc;
mod judge;
mod render;
mod runs;
#[cfg(test)]
mod snapshots;
pub mod stats;
mod thresholds;

pub use doc::{load, Results};
pub use judge::{p_value, Metric, MetricVerdict, PointComparison, TestResult, Unit};
pub use render::{
    change as render_change, identity, metric_verdict, render, short_test, tally_line, value as render_value, Format,
};
pub use runs::{Difference, Level};
pub use thresholds::Thresholds;

use crate::error::Result;
use serde::Serialize;
use std::path::Path;

/// The schema of the JSON report.
pub const SCHEMA: &str = "atsbench-compare/1";

/// The significance level of every test.
pub const ALPHA: f64 = 0.05;

/// What `compare` is asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    pub thresholds: Thresholds,
    pub alpha: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { thresholds: Thresholds::default(), alpha: ALPHA }
    }
}

/// A verdict, of a point or of the whole comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "ok")]
    Ok,
    #[serde(rename = "better")]
    Better,
    #[serde(rename = "regression")]
    Regression,
    #[serde(rename = "not comparable")]
    NotComparable,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Better => "better",
            Verdict::Regression => "regression",
            Verdict::NotComparable => "not comparable",
        }
    }
}

/// The same thing in the base and in the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pair<T> {
    pub base: T,
    pub candidate: T,
}

/// One of the two runs, as the report describes it.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub file: String,
    pub schema: String,
    pub version: String,
    pub target: doc::TargetDesc,
    pub config: doc::RunConfig,
    pub points: usize,
}

impl Side {
    fn of(r: &Results) -> Side {
        Side {
            file: r.file.display().to_string(),
            schema: r.schema.clone(),
            version: r.version.clone(),
            target: r.target.clone(),
            config: r.config.clone(),
            points: r.points.len(),
        }
    }
}

/// How many points got each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub regression: usize,
    pub better: usize,
    pub ok: usize,
    pub not_comparable: usize,
}

/// The whole comparison: what `render` prints and the JSON report is.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub schema: &'static str,
    pub verdict: Verdict,
    pub alpha: f64,
    pub thresholds: Thresholds,
    pub tally: Tally,
    pub base: Side,
    pub candidate: Side,
    pub differences: Vec<Difference>,
    /// How many tests could be significant and were adjusted together.
    pub tests: usize,
    /// What the reader must know to read the verdicts (too few repeats, points left out).
    pub notes: Vec<String>,
    pub points: Vec<PointComparison>,
}

impl CompareReport {
    /// One line for stderr when the verdict is a regression: which points.
    pub fn regression_summary(&self) -> String {
        let names: Vec<String> =
            self.points.iter().filter(|p| p.verdict == Verdict::Regression).map(|p| p.title()).collect();
        let shown = names.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
        let more = if names.len() > 3 { format!("; and {} more", names.len() - 3) } else { String::new() };
        format!("{} of {} points regressed ({shown}{more})", names.len(), self.points.len())
    }
}

/// Read both files and compare them.
pub fn compare(base: &Path, candidate: &Path, opts: &CompareOptions) -> Result<CompareReport> {
    let b = load(base)?;
    let c = load(candidate)?;
    Ok(compare_results(&b, &c, opts))
}

/// Compare two results already read.
pub fn compare_results(base: &Results, cand: &Results, opts: &CompareOptions) -> CompareReport {
    let mut used = vec![false; cand.points.len()];
    let mut pairs: Vec<(usize, Option<usize>)> = Vec::new();
    for (i, p) in base.points.iter().enumerate() {
        let key = p.key();
        let j = (0..cand.points.len()).find(|&j| !used[j] && cand.points[j].key() == key);
        if let Some(j) = j {
            used[j] = true;
        }
        pairs.push((i, j));
    }
    // A point whose counterpart differs only in block size: paired, not comparable.
    for pair in pairs.iter_mut().filter(|p| p.1.is_none()) {
        let mut key = base.points[pair.0].key();
        let j = (0..cand.points.len()).find(|&j| {
            key.bs = cand.points[j].bs;
            !used[j] && cand.points[j].key() == key
        });
        if let Some(j) = j {
            used[j] = true;
            pair.1 = Some(j);
        }
    }
    let mut points: Vec<PointComparison> = pairs
        .iter()
        .map(|&(i, j)| {
            let b = &base.points[i];
            match j.map(|j| &cand.points[j]) {
                Some(c) if c.bs == b.bs => judge::judge(b, c, &opts.thresholds),
                Some(c) => PointComparison::not_comparable(
                    Some(b),
                    Some(c),
                    format!("block size {} (base) vs {} (candidate)", b.bs, c.bs),
                ),
                None => PointComparison::not_comparable(Some(b), None, "measured in the base only".into()),
            }
        })
        .collect();
    for (_, c) in cand.points.iter().enumerate().filter(|(j, _)| !used[*j]) {
        points.push(PointComparison::not_comparable(None, Some(c), "measured in the candidate only".into()));
    }
    // Adjust the p-values of the comparison together (the tests that could be significant;
    // the others keep q = p, which is at least alpha), then judge.
    let family = |t: &TestResult| t.can_reject(opts.alpha);
    let p: Vec<f64> =
        points.iter().flat_map(|c| c.metrics.iter().filter_map(|m| m.test.filter(family).map(|t| t.p))).collect();
    let tests = p.len();
    let mut q = stats::benjamini_hochberg(&p).into_iter();
    for c in &mut points {
        for t in c.metrics.iter_mut().filter_map(|m| m.test.as_mut()).filter(|t| family(t)) {
            t.q = q.next().unwrap_or(1.0);
        }
        if c.verdict != Verdict::NotComparable {
            judge::finish(c, opts.alpha);
        }
    }
    let mut tally = Tally::default();
    for p in &points {
        match p.verdict {
            Verdict::Regression => tally.regression += 1,
            Verdict::Better => tally.better += 1,
            Verdict::Ok => tally.ok += 1,
            Verdict::NotComparable => tally.not_comparable += 1,
        }
    }
    let verdict = if tally.regression > 0 {
        Verdict::Regression
    } else if tally.not_comparable == points.len() {
        Verdict::NotComparable
    } else {
        Verdict::Ok
    };
    CompareReport {
        schema: SCHEMA,
        verdict,
        alpha: opts.alpha,
        thresholds: opts.thresholds,
        tally,
        base: Side::of(base),
        candidate: Side::of(cand),
        differences: runs::differences(base, cand),
        tests,
        notes: notes(&points, &tally, opts.alpha, tests),
        points,
    }
}

/// What the reader must know: repeats too few for the rank test, points not compared.
fn notes(points: &[PointComparison], tally: &Tally, alpha: f64, tests: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut sizes: Vec<(usize, usize, usize)> = Vec::new(); // (n1, n2, points)
    for p in points.iter().filter(|p| p.verdict != Verdict::NotComparable) {
        let (n1, n2) = (p.repeats.base, p.repeats.candidate);
        match sizes.iter_mut().find(|f| (f.0, f.1) == (n1, n2)) {
            Some(f) => f.2 += 1,
            None => sizes.push((n1, n2, 1)),
        }
    }
    // A change in one figure alone must reach p < alpha / tests after the adjustment.
    let lone = alpha / tests.max(1) as f64;
    let need = |bar: f64| (1..200).find(|&n| stats::smallest_p(n, n) < bar).unwrap_or(200);
    for (n1, n2, count) in sizes {
        let sides = if n1 == n2 {
            format!("{n1} repeat{} per side", if n1 == 1 { "" } else { "s" })
        } else {
            format!("{n1} (base) and {n2} (candidate) repeats")
        };
        let points = format!("{count} point{}", if count == 1 { "" } else { "s" });
        let smallest = stats::smallest_p(n1, n2);
        if smallest >= alpha {
            out.push(format!(
                "{sides} ({points}): a rank test cannot reach p < {alpha} (its smallest p is {smallest:.3}), so IOPS \
                 and latency are shown but not judged; use --repeat {} or more",
                need(alpha)
            ));
        } else if smallest >= lone {
            out.push(format!(
                "{sides} ({points}): the rank test's smallest p is {smallest:.4}; a change in a single figure must \
                 reach p < {lone:.2e} after adjusting for the {tests} tests, so only changes seen in many figures \
                 can show; use --repeat {} or more to see a change in one",
                need(lone)
            ));
        }
    }
    if tally.not_comparable > 0 {
        out.push(format!(
            "{} point{} not comparable (in one run only, or of another block size): not judged",
            tally.not_comparable,
            if tally.not_comparable == 1 { " is" } else { "s are" }
        ));
    }
    out.push("miscompare classes that are zero on both sides are left out".into());
    out
}
