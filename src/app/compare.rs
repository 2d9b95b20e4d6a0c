//! `compare` and `report`: read results files, compare them, write the comparison, plots and
//! the HTML report. The verdict becomes the exit code here: a regression is
//! [`Error::Regression`] (exit 1) once the report is written; nothing comparable is a usage
//! error (exit 2).

use crate::cli::{CompareArgs, ReportArgs};
use crate::compare::{self, CompareOptions, CompareReport, Verdict};
use crate::error::{Error, Result};
use crate::plot::{self, Run};
use std::io::Write;
use std::path::Path;

fn options(max_regression: Option<compare::Thresholds>) -> CompareOptions {
    CompareOptions { thresholds: max_regression.unwrap_or_default(), ..Default::default() }
}

/// The verdict as the command's result.
fn outcome(report: &CompareReport, written_to: &str) -> Result<()> {
    match report.verdict {
        Verdict::Regression => Err(Error::Regression(format!(
            "regression: {}; {written_to} says which figures and why",
            report.regression_summary()
        ))),
        Verdict::NotComparable => Err(Error::Usage(format!(
            "nothing comparable: no point of {} matches one of {} in workload, queue depth, threads, contention or \
             locks, and block size; compare results of the same sweep",
            report.candidate.file, report.base.file
        ))),
        Verdict::Ok | Verdict::Better => Ok(()),
    }
}

/// A warning on stderr when some compared points have too few repeats for the rank test to
/// reach significance: their IOPS and latency cannot be judged, whatever they show.
fn warn_underpowered(r: &CompareReport) {
    let few = r
        .points
        .iter()
        .filter(|p| p.verdict != Verdict::NotComparable)
        .map(|p| (p.repeats.base, p.repeats.candidate))
        .find(|&(b, c)| compare::stats::smallest_p(b, c) >= r.alpha);
    if let Some((b, c)) = few {
        let need = (1..200).find(|&n| compare::stats::smallest_p(n, n) < r.alpha).unwrap_or(200);
        eprintln!(
            "atsbench: warning: {b} (base) and {c} (candidate) repeats cannot reach p < {} in a rank test (smallest \
             p {:.3}), so IOPS and latency are not judged; measure both with --repeat {need} or more",
            r.alpha,
            compare::stats::smallest_p(b, c)
        );
    }
}

pub fn compare(a: &CompareArgs) -> Result<()> {
    let base = compare::load(&a.base)?;
    let cand = compare::load(&a.candidate)?;
    let report = compare::compare_results(&base, &cand, &options(a.max_regression));
    warn_underpowered(&report);
    let mut text = Vec::new();
    compare::render(&report, a.format, &mut text).map_err(|e| Error::Internal(e.to_string()))?;
    let written_to = match &a.output {
        Some(p) => {
            std::fs::write(p, &text).map_err(|e| plot::write_error(p, &e))?;
            p.display().to_string()
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text).and_then(|_| out.flush()).map_err(|e| plot::write_error(Path::new("stdout"), &e))?;
            "the report above".to_string()
        }
    };
    if let Some(dir) = &a.plot {
        let runs = [Run { label: "base", results: &base }, Run { label: "candidate", results: &cand }];
        plot::write_plots(&runs, dir)?;
    }
    outcome(&report, &written_to)
}

/// `report`: the HTML page and/or the plots. Exits 0 whatever the verdict (`compare` is the gate).
pub fn report(a: &ReportArgs) -> Result<()> {
    let results = compare::load(&a.results)?;
    let base = a.base.as_deref().map(compare::load).transpose()?;
    let runs: Vec<Run> = match &base {
        Some(b) => vec![Run { label: "base", results: b }, Run { label: "candidate", results: &results }],
        None => vec![Run { label: "", results: &results }],
    };
    if let Some(dir) = &a.plot {
        plot::write_plots(&runs, dir)?;
    }
    if let Some(path) = &a.html {
        let comparison = base.as_ref().map(|b| compare::compare_results(b, &results, &options(a.max_regression)));
        let page = crate::report::html::page(&results, base.as_ref(), comparison.as_ref())?;
        std::fs::write(path, page).map_err(|e| plot::write_error(path, &e))?;
    }
    Ok(())
}
