//! `compare` and `report`: read results files, compare them, write the comparison, plots and
//! the HTML report. The verdict becomes the exit code here: a regression is
//! [`Error::Regression`] (exit 1) once the report is written, an inconclusive comparison
//! [`Error::Inconclusive`] (exit 3, or 0 with `--inconclusive ok`); nothing comparable, and a
//! results file that cannot be read, are usage errors (exit 2), so that 3 means inconclusive.

use crate::cli::{CompareArgs, ReportArgs};
use crate::compare::{self, CompareOptions, CompareReport, InconclusiveAs, Results, Verdict};
use crate::error::{Error, Result};
use crate::plot::{self, Run};
use std::io::Write;
use std::path::Path;

/// The options of the comparison: margins, and the run noise of single runs with its source
/// (`--run-noise`, else the runs' profile's `run-noise`, else the default).
fn options(
    max_regression: Option<compare::Thresholds>,
    run_noise: Option<f64>,
    session_noise: Option<f64>,
    runs: [&Results; 2],
) -> CompareOptions {
    let mut o = CompareOptions {
        thresholds: max_regression.unwrap_or_default(),
        session_noise_pct: session_noise,
        ..Default::default()
    };
    if let Some(pct) = run_noise {
        o.run_noise_pct = pct;
        o.run_noise_source = "--run-noise".into();
        o.run_noise_stated = true;
    } else if let Some((name, pct)) = runs.iter().find_map(|r| compare::noise::of_profile(r)) {
        o.run_noise_pct = pct;
        o.run_noise_source = format!("profile {name}");
        o.run_noise_stated = true;
    }
    o
}

/// The verdict as the command's result.
fn outcome(report: &CompareReport, written_to: &str, inconclusive: InconclusiveAs) -> Result<()> {
    match report.verdict {
        Verdict::Regression => Err(Error::Regression(format!(
            "regression: {}; {written_to} says which figures and why",
            report.summary(Verdict::Regression)
        ))),
        Verdict::Inconclusive if inconclusive == InconclusiveAs::Fail => Err(Error::Inconclusive(format!(
            "inconclusive: {}; {written_to} says which figures and what would decide them (--inconclusive ok to \
             pass)",
            report.summary(Verdict::Inconclusive)
        ))),
        Verdict::NotComparable => Err(Error::Usage(format!(
            "nothing comparable: no point of {} matches one of {} in workload, queue depth, threads, contention or \
             locks, and block size; compare results of the same sweep",
            report.candidate.file, report.base.file
        ))),
        Verdict::Inconclusive | Verdict::Ok | Verdict::Better => Ok(()),
    }
}

/// Read a results file for `compare`: a file it cannot read is a usage error (exit 2), so
/// that exit 3 means inconclusive.
fn load(path: &Path) -> Result<Results> {
    compare::load(path).map_err(|e| match e {
        Error::Target(m) | Error::Permission(m) => Error::Usage(m),
        other => other,
    })
}

pub fn compare(a: &CompareArgs) -> Result<()> {
    let base = load(&a.base)?;
    let cand = load(&a.candidate)?;
    let report = compare::compare_results(
        &base,
        &cand,
        &options(a.max_regression, a.run_noise, a.session_noise, [&base, &cand]),
    );
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
        let runs = [Run { label: "base", points: &base.points }, Run { label: "candidate", points: &cand.points }];
        let mut plots = plot::plots(&runs)?;
        plots.extend(plot::change_plots(&report)?);
        plot::write(plots, dir)?;
    }
    outcome(&report, &written_to, a.inconclusive)
}

/// `report`: the HTML page and/or the plots. Exits 0 whatever the verdict (`compare` is the gate).
pub fn report(a: &ReportArgs) -> Result<()> {
    let results = compare::load(&a.results)?;
    let base = a.base.as_deref().map(compare::load).transpose()?;
    let runs: Vec<Run> = match &base {
        Some(b) => vec![Run { label: "base", points: &b.points }, Run { label: "candidate", points: &results.points }],
        None => vec![Run { label: "", points: &results.points }],
    };
    if let Some(dir) = &a.plot {
        plot::write_plots(&runs, dir)?;
    }
    if let Some(path) = &a.html {
        let comparison = base
            .as_ref()
            .map(|b| compare::compare_results(b, &results, &options(a.max_regression, None, None, [b, &results])));
        let page = crate::report::html::page(&results, base.as_ref(), comparison.as_ref())?;
        std::fs::write(path, page).map_err(|e| plot::write_error(path, &e))?;
    }
    Ok(())
}
