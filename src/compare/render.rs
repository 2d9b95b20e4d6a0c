//! The comparison as a table (terminal), Markdown (a CI summary, a pull request), JSON
//! (`atsbench-compare/2`) or CSV (one row per point and figure, see `csv.rs`). Each shows per
//! figure: base, candidate, the change with its interval (`-12.3% [-15.1, -9.4]`), the margin,
//! what the interval rests on, the per-repeat spread, and the verdict.

use super::decide::MetricVerdict;
use super::doc::TargetDesc;
use super::judge::PointComparison;
use super::metric::{change_with_interval, margin, metric_verdict, p_value, spread, value, Metric};
use super::{CompareReport, Side, Verdict};
use serde::Serialize;
use std::io::{self, Write};

/// How the comparison is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Table,
    Markdown,
    Json,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "markdown" | "md" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(format!("`{s}` is not a compare format; use table, markdown, json or csv")),
        }
    }
}

/// Write `report` in `format`.
pub fn render(report: &CompareReport, format: Format, w: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table(report, w),
        Format::Markdown => markdown(report, w),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, report)?;
            writeln!(w)
        }
        Format::Csv => super::csv::render(report, w),
    }
}

const RULE: &str = "change [interval]: the interval is the wider of a hierarchical bootstrap (repeats, then \
                    blocks of intervals) and a random-effects t interval (between-repeat variance; with one \
                    repeat per side, the stated run noise); regression when it lies wholly beyond the margin, \
                    ok when wholly short of it, better when wholly beyond it on the good side, else \
                    inconclusive; * = gated; MWU p: rank test over 4+ repeats, for information only";

/// `*ok` for a gated figure, `(ok)` for one that only informs.
fn verdict_cell(m: &Metric, regression: &str) -> String {
    let v = match m.verdict {
        MetricVerdict::Regression => regression,
        other => metric_verdict(other),
    };
    if m.gated {
        format!("*{v}")
    } else if m.interval.is_some() {
        "(info)".into()
    } else {
        "-".into()
    }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

/// `/dev/sg0 (scsi): Linux scsi_debug, firmware 0191, driver sg, kernel 6.12`.
pub fn identity(t: &TargetDesc) -> String {
    format!(
        "{} ({}{}): model {}, firmware {}, driver {}, kernel {}",
        t.path,
        t.backend,
        if t.temporary { ", temporary" } else { "" },
        opt(&t.model),
        opt(&t.firmware),
        opt(&t.driver),
        t.kernel
    )
}

fn side_line(s: &Side) -> String {
    format!("{}: {}; atsbench {} ({})", s.file, identity(&s.target), s.version, s.schema)
}

/// `[device]`, or `[host-emulated vs device]` when they differ.
fn mode(p: &PointComparison) -> String {
    match (&p.ats_mode.base, &p.ats_mode.candidate) {
        (None, None) => String::new(),
        (b, c) if b == c => format!(" [{}]", opt(b)),
        (b, c) => format!(" [{} vs {}]", opt(b), opt(c)),
    }
}

pub fn tally_line(r: &CompareReport) -> String {
    let t = &r.tally;
    format!(
        "{} regression, {} inconclusive, {} better, {} ok, {} not comparable, of {} points",
        t.regression,
        t.inconclusive,
        t.better,
        t.ok,
        t.not_comparable,
        r.points.len()
    )
}

// long: writes the compare table top to bottom, one section after another
fn table(r: &CompareReport, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "atsbench compare: {} ({})", r.verdict.name().to_uppercase(), tally_line(r))?;
    writeln!(w, "base        {}", side_line(&r.base))?;
    writeln!(w, "candidate   {}", side_line(&r.candidate))?;
    writeln!(
        w,
        "margins     {}; {} gated figures; run noise {}% ({})",
        r.thresholds, r.gated, r.run_noise_pct, r.run_noise_source
    )?;
    writeln!(w, "rule        {RULE}")?;
    if !r.differences.is_empty() {
        writeln!(w, "\ndiffers")?;
        for d in &r.differences {
            writeln!(w, "  {:<15} {:<20} {} -> {}   ({})", d.level.name(), d.what, d.base, d.candidate, d.note)?;
        }
    }
    writeln!(w, "\nnotes")?;
    for n in &r.notes {
        writeln!(w, "  - {n}")?;
    }
    for p in &r.points {
        writeln!(
            w,
            "\n{}{}: {} (repeats {}/{})",
            p.title(),
            mode(p),
            p.verdict.name().to_uppercase(),
            p.repeats.base,
            p.repeats.candidate
        )?;
        if !p.metrics.is_empty() {
            writeln!(
                w,
                "  {:<24} {:>11} {:>11} {:>28} {:>7} {:<12} {:<14} {:<27} {:>6}",
                "figure",
                "base",
                "candidate",
                "change [interval]",
                "margin",
                "basis",
                "verdict",
                "repeats base / cand",
                "MWU p"
            )?;
        }
        for m in &p.metrics {
            writeln!(
                w,
                "  {:<24} {:>11} {:>11} {:>28} {:>7} {:<12} {:<14} {:<27} {:>6}",
                m.name,
                value(m.base, m.unit, "us"),
                value(m.candidate, m.unit, "us"),
                change_with_interval(m),
                margin(m),
                m.basis.map_or("-".into(), |b| b.short()),
                verdict_cell(m, "REGRESSION"),
                spread(m, "us"),
                m.test.map_or("-".into(), |t| p_value(t.p)),
            )?;
            if let Some(u) = m.upper_95 {
                if m.gated && (m.base > 0.0 || m.candidate > 0.0) {
                    writeln!(
                        w,
                        "  {:<24} 95% upper bound of the rate: {:.4}% (base), {:.4}% (candidate)",
                        "",
                        u.base * 100.0,
                        u.candidate * 100.0
                    )?;
                }
            }
        }
        let label = if p.verdict == Verdict::Better { "better" } else { "reason" };
        for x in &p.reasons {
            writeln!(w, "  {label}: {x}")?;
        }
        for x in &p.notes {
            writeln!(w, "  note: {x}")?;
        }
    }
    Ok(())
}

/// Escape what Markdown table cells cannot hold.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(r: &CompareReport, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "# atsbench compare: **{}**\n", r.verdict.name())?;
    writeln!(w, "{}.\n", tally_line(r))?;
    writeln!(w, "| | base | candidate |\n|---|---|---|")?;
    let (b, c) = (&r.base, &r.candidate);
    let rows: [(&str, String, String); 9] = [
        ("file", b.file.clone(), c.file.clone()),
        ("target", b.target.path.clone(), c.target.path.clone()),
        ("backend", b.target.backend.clone(), c.target.backend.clone()),
        ("model", opt(&b.target.model).into(), opt(&c.target.model).into()),
        ("firmware", opt(&b.target.firmware).into(), opt(&c.target.firmware).into()),
        ("driver", opt(&b.target.driver).into(), opt(&c.target.driver).into()),
        ("kernel", b.target.kernel.clone(), c.target.kernel.clone()),
        ("atsbench", b.version.clone(), c.version.clone()),
        ("points", b.points.to_string(), c.points.to_string()),
    ];
    for (k, x, y) in rows {
        writeln!(w, "| {k} | {} | {} |", md(&x), md(&y))?;
    }
    writeln!(
        w,
        "\nMargins `{}`; {} gated figures; run noise {}% ({}). Rule: {RULE}.",
        r.thresholds, r.gated, r.run_noise_pct, r.run_noise_source
    )?;
    if !r.differences.is_empty() {
        writeln!(w, "\n## What differs\n\n| level | what | base | candidate | meaning |\n|---|---|---|---|---|")?;
        for d in &r.differences {
            writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                d.level.name(),
                md(&d.what),
                md(&d.base),
                md(&d.candidate),
                md(&d.note)
            )?;
        }
    }
    writeln!(w, "\n## Notes\n")?;
    for n in &r.notes {
        writeln!(w, "- {}", md(n))?;
    }
    writeln!(w, "\n## Points")?;
    for p in &r.points {
        writeln!(w, "\n### {}{}: {}\n", p.title(), mode(p), p.verdict.name())?;
        writeln!(w, "Repeats: {} (base), {} (candidate).", p.repeats.base, p.repeats.candidate)?;
        if !p.metrics.is_empty() {
            writeln!(w, "\n| figure | base | candidate | change [interval] | margin | basis | verdict | repeats base / candidate | MWU p |")?;
            writeln!(w, "|---|--:|--:|--:|--:|---|---|---|--:|")?;
        }
        for m in &p.metrics {
            writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                m.name,
                value(m.base, m.unit, "µs"),
                value(m.candidate, m.unit, "µs"),
                change_with_interval(m),
                margin(m),
                m.basis.map_or("-".into(), |b| b.short()),
                verdict_cell(m, "**regression**"),
                spread(m, "µs"),
                m.test.map_or("-".into(), |t| p_value(t.p)),
            )?;
        }
        if !(p.reasons.is_empty() && p.notes.is_empty()) {
            writeln!(w)?;
        }
        for x in &p.reasons {
            writeln!(w, "- {}: {}", p.verdict.name(), md(x))?;
        }
        for x in &p.notes {
            writeln!(w, "- note: {}", md(x))?;
        }
    }
    Ok(())
}
