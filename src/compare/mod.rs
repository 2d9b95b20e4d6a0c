//! `atsbench compare BASE CANDIDATE`: two results files, point by point, with a verdict.
//!
//! Points match by their identity (workload, queue depth, threads, contention or lock count,
//! block size); a point whose counterpart differs only in block size is paired and marked not
//! comparable; a point in one run only is not comparable. For each pair: IOPS, p50/p99/p99.9
//! of every operation kind, the miscompare rate of every class, violations and lost updates,
//! side by side, each with its change, the change's interval, its margin and its verdict (see
//! `judge`, `decide` and `inference`). The report also says what differs between the runs
//! (see `runs`).
//!
//! Verdict of the comparison: `regression` when any point regressed (the CLI exits 1), else
//! `inconclusive` when any point is (exit 3, or 0 with `--inconclusive ok`), else `ok` (exit
//! 0); `not comparable` when no point could be compared (exit 2).
//!
//! Every gated figure's interval is two-sided at 1 - 0.10/m for the m gated figures of the
//! whole comparison (Bonferroni): when nothing changed, the chance that any figure is called
//! a regression is at most 5 %.

mod csv;
mod decide;
pub mod doc;
pub mod inference;
mod judge;
mod metric;
pub mod noise;
mod render;
mod runs;
#[cfg(test)]
mod snapshots;
pub mod stats;
mod thresholds;

pub use decide::{Basis, MetricVerdict};
pub use doc::{load, Results};
pub use judge::PointComparison;
pub use metric::{
    change as render_change, change_with_interval, margin as render_margin, metric_verdict, p_value, short_test,
    spread as render_spread, value as render_value, Metric, TestResult, Unit,
};
pub use render::{identity, render, tally_line, Format};
pub use runs::{Difference, Level};
pub use thresholds::Thresholds;

use crate::error::Result;
use serde::Serialize;
use std::path::Path;

/// The schema of the JSON report.
pub const SCHEMA: &str = "atsbench-compare/2";

/// The run-to-run noise (percent) assumed for one repeat per side when neither `--run-noise`
/// nor the runs' profile states one: deliberately large (identical single runs may differ
/// two-fold on a loaded machine: 3.5x in IOPS on the 2-CPU machine of the calibration), so
/// that only changes far beyond any run-to-run noise are called. Latency percentiles, which
/// vary more still, are then not gated (docs/compare-verdicts.md).
pub const DEFAULT_RUN_NOISE_PCT: f64 = 100.0;

/// The bootstrap's seed: fixed, so that the same files always give the same verdict.
pub const SEED: u64 = 0x00A7_5BE7_C4E0_0017;

/// What `compare` is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    pub thresholds: Thresholds,
    /// The run-to-run noise in percent for one repeat per side, and where it came from.
    pub run_noise_pct: f64,
    pub run_noise_source: String,
    /// Whether the noise was stated (`--run-noise`, a profile) rather than the default.
    pub run_noise_stated: bool,
    /// The run-to-run noise of whole sessions in percent (`--session-noise`): a floor under the
    /// between-run variance of sides with repeats, which their own spread cannot show.
    pub session_noise_pct: Option<f64>,
    pub seed: u64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            thresholds: Thresholds::default(),
            run_noise_pct: DEFAULT_RUN_NOISE_PCT,
            run_noise_source: "the default".into(),
            run_noise_stated: false,
            session_noise_pct: None,
            seed: SEED,
        }
    }
}

/// What an inconclusive comparison exits with (`--inconclusive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InconclusiveAs {
    /// Exit 0: only a regression fails.
    Ok,
    /// Exit 3.
    #[default]
    Fail,
}

impl std::str::FromStr for InconclusiveAs {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "ok" => Ok(InconclusiveAs::Ok),
            "fail" => Ok(InconclusiveAs::Fail),
            _ => Err(format!("`{s}` is not ok or fail")),
        }
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
    #[serde(rename = "inconclusive")]
    Inconclusive,
    #[serde(rename = "not comparable")]
    NotComparable,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Better => "better",
            Verdict::Regression => "regression",
            Verdict::Inconclusive => "inconclusive",
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
    pub inconclusive: usize,
    pub ok: usize,
    pub not_comparable: usize,
}

/// The whole comparison: what `render` prints and the JSON report is.
#[derive(Debug, Clone, Serialize)]
// wide: the compare JSON report itself, one field per top-level key
pub struct CompareReport {
    pub schema: &'static str,
    pub verdict: Verdict,
    /// The family's two-sided level is 1 - alpha (0.10); each interval's is 1 - alpha / gated.
    pub alpha: f64,
    /// Gated figures in the comparison.
    pub gated: usize,
    pub thresholds: Thresholds,
    /// The run-to-run noise one-repeat intervals rest on (percent), and its source.
    pub run_noise_pct: f64,
    pub run_noise_source: String,
    pub tally: Tally,
    pub base: Side,
    pub candidate: Side,
    pub differences: Vec<Difference>,
    /// What the reader must know to read the verdicts (the intervals' level, single runs,
    /// points left out).
    pub notes: Vec<String>,
    pub points: Vec<PointComparison>,
}

impl CompareReport {
    /// One line for stderr when the verdict is `v` (regression, inconclusive): which points.
    pub fn summary(&self, v: Verdict) -> String {
        let names: Vec<String> = self.points.iter().filter(|p| p.verdict == v).map(|p| p.title()).collect();
        let shown = names.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
        let more = if names.len() > 3 { format!("; and {} more", names.len() - 3) } else { String::new() };
        let what = if v == Verdict::Regression { "regressed" } else { "inconclusive" };
        format!("{} of {} points {what} ({shown}{more})", names.len(), self.points.len())
    }
}

/// Read both files and compare them.
pub fn compare(base: &Path, candidate: &Path, opts: &CompareOptions) -> Result<CompareReport> {
    let b = load(base)?;
    let c = load(candidate)?;
    Ok(compare_results(&b, &c, opts))
}

/// Compare two results already read.
// long: pairs, lays out, estimates and concludes in the order the report reads
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
                Some(c) if c.bs == b.bs => {
                    let mut p = judge::lay_out(b, c, &opts.thresholds);
                    if !opts.run_noise_stated && p.repeats.base.max(p.repeats.candidate) == 1 {
                        judge::inform_latency(&mut p);
                    }
                    p
                }
                Some(c) => PointComparison::not_comparable(
                    Some(b),
                    Some(c),
                    format!("block size {} (base) vs {} (candidate)", b.bs, c.bs),
                ),
                None => PointComparison::not_comparable(Some(b), None, "measured in the base only".into()),
            }
        })
        .collect();
    // Every interval is widened for the gated figures of the whole comparison.
    let gated: usize = points.iter().filter(|p| p.verdict != Verdict::NotComparable).map(|p| p.gated()).sum();
    let estimation = judge::Estimation {
        a: judge::level_for(gated),
        seed: opts.seed,
        run_noise_pct: opts.run_noise_pct,
        session_noise_pct: opts.session_noise_pct,
    };
    for (p, &(i, j)) in points.iter_mut().zip(&pairs) {
        if let (Some(j), true) = (j, p.verdict != Verdict::NotComparable) {
            judge::finish(p, &base.points[i], &cand.points[j], &estimation);
        }
    }
    for (_, c) in cand.points.iter().enumerate().filter(|(j, _)| !used[*j]) {
        points.push(PointComparison::not_comparable(None, Some(c), "measured in the candidate only".into()));
    }
    let mut tally = Tally::default();
    for p in &points {
        match p.verdict {
            Verdict::Regression => tally.regression += 1,
            Verdict::Better => tally.better += 1,
            Verdict::Inconclusive => tally.inconclusive += 1,
            Verdict::Ok => tally.ok += 1,
            Verdict::NotComparable => tally.not_comparable += 1,
        }
    }
    let verdict = if tally.regression > 0 {
        Verdict::Regression
    } else if tally.not_comparable == points.len() {
        Verdict::NotComparable
    } else if tally.inconclusive > 0 {
        Verdict::Inconclusive
    } else if tally.better > 0 && tally.ok == 0 {
        Verdict::Better
    } else {
        Verdict::Ok
    };
    CompareReport {
        schema: SCHEMA,
        verdict,
        alpha: decide::FAMILY_ALPHA,
        gated,
        thresholds: opts.thresholds,
        run_noise_pct: opts.run_noise_pct,
        run_noise_source: opts.run_noise_source.clone(),
        tally,
        base: Side::of(base),
        candidate: Side::of(cand),
        differences: runs::differences(base, cand),
        notes: notes(&points, &tally, gated, opts.session_noise_pct),
        points,
    }
}

/// What the reader must know: the level of the intervals, single runs, points not compared.
fn notes(points: &[PointComparison], tally: &Tally, gated: usize, session_noise: Option<f64>) -> Vec<String> {
    let mut out = vec![format!(
        "{gated} gated figure{}: each interval is two-sided {:.2}% (90% for the family, Bonferroni), so a false \
         regression anywhere has at most a 5% chance when nothing changed",
        if gated == 1 { "" } else { "s" },
        100.0 * (1.0 - judge::level_for(gated))
    )];
    if let Some(pct) = session_noise {
        out.push(format!(
            "--session-noise {pct}%: the spread of repeats is taken as at least {pct}% between runs (sessions \
             measured at different times), wider intervals than the repeats alone give"
        ));
    }
    let single = points
        .iter()
        .filter(|p| p.verdict != Verdict::NotComparable && p.repeats.base.max(p.repeats.candidate) == 1)
        .count();
    if single > 0 {
        out.push(format!(
            "{single} point{} measured once per side: {} verdict{} rest{} on the stated run-to-run noise, not a \
             measured one",
            if single == 1 { "" } else { "s" },
            if single == 1 { "its" } else { "their" },
            if single == 1 { "" } else { "s" },
            if single == 1 { "s" } else { "" },
        ));
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
