//! The human-readable table: the target's identity, then one row per point.

use crate::device::TargetInfo;
use crate::results::Point;
use std::io::{self, Write};

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

pub fn header(w: &mut dyn Write, t: &TargetInfo) -> io::Result<()> {
    writeln!(
        w,
        "target   {} ({}{}), {} bytes, {}-byte blocks",
        t.path,
        t.backend,
        if t.temporary { ", temporary" } else { "" },
        t.size_bytes,
        t.logical_block_size
    )?;
    writeln!(
        w,
        "device   model {}, firmware {}, serial {}, driver {}",
        opt(&t.model),
        opt(&t.firmware),
        opt(&t.serial),
        opt(&t.driver)
    )?;
    writeln!(w, "kernel   {}", t.kernel)?;
    if let Some(p) = t.probe.as_ref().and_then(|p| serde_json::to_value(p).ok()) {
        for (k, v) in p.as_object().into_iter().flatten() {
            writeln!(w, "{k:<24} {v}")?;
        }
    }
    Ok(())
}

/// Every column of the wide table (`--format wide`, `-v`): name and width.
const WIDE: [(&str, usize); 20] = [
    ("workload", 8),
    ("ats_mode", 17),
    ("qd", 4),
    ("thr", 3),
    ("locks", 5),
    ("act/lk", 6),
    ("ops", 10),
    ("iops", 10),
    ("iops_95%", 8),
    ("latency", 7),
    ("p50_us", 9),
    ("p99_us", 9),
    ("p99.9_us", 9),
    ("max_us", 9),
    ("acq_p50", 9),
    ("acq_p99", 9),
    ("miscmp%", 7),
    ("cont/own/corr/stale/false/split", 31),
    ("viol/lost", 9),
    ("errors", 6),
];

/// The default table's columns, which fit 100 columns: the ATS mode goes above the table, the
/// miscompare classes other than contention under a row when there are any; the acquire
/// latency only in the wide table.
const NARROW: [(&str, usize); 13] = [
    ("workload", 8),
    ("qd", 4),
    ("thr", 3),
    ("locks", 5),
    ("act/lk", 6),
    ("iops", 9),
    ("iops_95%", 8),
    ("p50_us", 8),
    ("p99_us", 8),
    ("p99.9_us", 8),
    ("miscmp%", 7),
    ("viol/lost", 9),
    ("err", 4),
];

/// The narrow table's columns dropped first, in this order, on a terminal too narrow for it.
const DROPPED_FIRST: [&str; 4] = ["act/lk", "iops_95%", "p99.9_us", "thr"];

/// Which table: every column, or the ones that fit 100 columns (or the terminal, if narrower).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Narrow,
    /// The narrow table on a terminal this many columns wide: the columns of [`DROPPED_FIRST`]
    /// go until the rest fits.
    Fit(usize),
    Wide,
}

fn line_width(columns: &[(&str, usize)]) -> usize {
    columns.iter().map(|c| c.1).sum::<usize>() + columns.len().saturating_sub(1)
}

impl Layout {
    fn columns(self) -> Vec<(&'static str, usize)> {
        match self {
            Layout::Narrow => NARROW.to_vec(),
            Layout::Wide => WIDE.to_vec(),
            Layout::Fit(width) => {
                let mut cols = NARROW.to_vec();
                for drop in DROPPED_FIRST {
                    if line_width(&cols) <= width {
                        break;
                    }
                    cols.retain(|c| c.0 != drop);
                }
                cols
            }
        }
    }

    /// The widest a line under a row may be: 100 columns (or the terminal's, if narrower);
    /// none for the wide table.
    fn width(self) -> Option<usize> {
        match self {
            Layout::Narrow => Some(100),
            Layout::Fit(width) => Some(width.min(100)),
            Layout::Wide => None,
        }
    }

    pub fn is_wide(self) -> bool {
        self == Layout::Wide
    }
}

/// The line above a narrow table: the ATS mode of the first point, which the wide table has
/// in a column.
pub fn mode_line(w: &mut dyn Write, p: &Point) -> io::Result<()> {
    match mode(p) {
        Some(m) => writeln!(w, "ats mode {m}"),
        None => Ok(()),
    }
}

fn mode(p: &Point) -> Option<String> {
    p.ats_mode.map(|m| m.name().to_string())
}

pub fn columns(w: &mut dyn Write, layout: Layout) -> io::Result<()> {
    writeln!(w)?;
    cells(w, layout, |name| name.to_string())
}

/// One line of cells: `value` gives each column's text, by the column's name.
fn cells(w: &mut dyn Write, layout: Layout, value: impl Fn(&str) -> String) -> io::Result<()> {
    let mut line = String::new();
    for (i, (name, width)) in layout.columns().into_iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let v = value(name);
        // Names left, numbers right.
        if matches!(name, "workload" | "ats_mode" | "latency" | "err" | "errors") {
            line.push_str(&format!("{v:<width$}"));
        } else {
            line.push_str(&format!("{v:>width$}"));
        }
    }
    writeln!(w, "{}", line.trim_end())
}

/// The half-width of the point's 95 % IOPS interval from its intervals, in % of its IOPS.
fn iops_interval(p: &Point) -> String {
    match crate::results::intervals::point_iops_interval(p.repeats.iter().map(|r| &r.intervals)) {
        Some((lo, hi)) if p.iops > 0.0 => format!("±{:.1}", (hi - lo) / 2.0 / p.iops * 100.0),
        _ => "-".into(),
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

// long: one table row: a match on the workload picks each column's text
pub fn row(w: &mut dyn Write, p: &Point, layout: Layout) -> io::Result<()> {
    let kind = match p.workload.name() {
        "ats" | "rmw" => "ats",
        other => other,
    };
    let lat = p.latency_ns.get(kind);
    let acq = p.latency_ns.get("acquire");
    let m = &p.miscompares;
    let value = |column: &str| -> String {
        let pick = |l: Option<&crate::stats::Summary>, f: fn(&crate::stats::Summary) -> u64| {
            l.map_or("-".into(), |l| us(f(l)))
        };
        match column {
            "workload" => p.workload.name().to_string(),
            "ats_mode" => mode(p).unwrap_or_else(|| "-".into()),
            "qd" => p.qd.to_string(),
            "thr" => p.threads.to_string(),
            "locks" => p.locks.to_string(),
            "act/lk" => {
                if p.locks > 0 {
                    format!("{}", p.actors_per_lock)
                } else {
                    "-".into()
                }
            }
            "ops" => p.ops.to_string(),
            "iops" => format!("{}", p.iops),
            "iops_95%" => iops_interval(p),
            "latency" => kind.to_string(),
            "p50_us" => pick(lat, |l| l.p50),
            "p99_us" => pick(lat, |l| l.p99),
            "p99.9_us" => pick(lat, |l| l.p999),
            "max_us" => pick(lat, |l| l.max),
            "acq_p50" => pick(acq, |l| l.p50),
            "acq_p99" => pick(acq, |l| l.p99),
            "miscmp%" => format!("{:.2}", p.miscompare_rate * 100.0),
            "cont/own/corr/stale/false/split" => {
                format!("{}/{}/{}/{}/{}/{}", m.contention, m.own_write, m.corrupt, m.stale, m.false_, m.split)
            }
            "viol/lost" => {
                p.verification.as_ref().map_or("-".into(), |v| format!("{}/{}", v.violations, v.lost_updates))
            }
            // The count and the commonest kind (`180 MEDIUM ERROR 11/00`).
            "err" | "errors" => match p.faults.commonest_short() {
                Some(kind) => format!("{} {kind}", p.errors),
                None => p.errors.to_string(),
            },
            _ => String::new(),
        }
    };
    cells(w, layout, value)?;
    let odd = [
        (m.own_write, "own write"),
        (m.corrupt, "corrupt"),
        (m.stale, "stale"),
        (m.false_, "false"),
        (m.split, "split"),
    ];
    if !layout.is_wide() && odd.iter().any(|(n, _)| *n > 0) {
        let odd: Vec<String> = odd.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
        writeln!(w, "  miscompares: {} contention, {}", m.contention, odd.join(", "))?;
    }
    if p.interrupted {
        writeln!(w, "  (interrupted)")?;
    }
    for (i, r) in p.repeats.iter().enumerate().filter(|(_, r)| !r.intervals.steady) {
        let which = if p.repeats.len() > 1 { format!(" (repeat {})", i + 1) } else { String::new() };
        writeln!(w, "  not steady{which}: IOPS trend {:+.1} % from start to end", r.intervals.trend_pct)?;
    }
    if let (Some(i), Some(d), Some(u)) = (m.injected, m.detected, m.undetected) {
        writeln!(w, "  compare: {i} wrong images sent, {d} detected, {u} undetected; {} false miscompares", m.false_)?;
    }
    if p.timeouts + p.late_completions > 0 {
        writeln!(w, "  timeouts: {} commands given up, {} completed late", p.timeouts, p.late_completions)?;
    }
    let f = &p.faults;
    if let Some((kind, n)) = f.commonest() {
        writeln!(w, "  errors: {} (rate {:.4}), commonest {kind}: {n}", p.errors, f.error_rate)?;
    }
    if f.abandoned > 0 {
        writeln!(
            w,
            "  abandoned: {} commands still out after the {} s grace, left to the kernel",
            f.abandoned, f.grace_s
        )?;
    }
    if let Some(a) = &p.aborts {
        writeln!(
            w,
            "  aborts: {} COMPARE AND WRITEs aborted by the kernel, {} escalated; retries: {} found their own write, \
             {} succeeded, {} met another writer",
            a.aborted, a.escalated, a.retry_own_write, a.retry_succeeded, a.retry_other
        )?;
    }
    if let Some(f) = &p.first_corrupt {
        writeln!(w, "  first corrupt: lock {} at {:.3} s (worker {})", f.lock, f.at_s, f.worker)?;
    }
    if let Some(v) = &p.verification {
        if v.scope.is_some() {
            writeln!(w, "  verification: this host only: merge the hosts' results to verify (viol/lost are partial)")?;
        }
        for problem in &v.problems {
            writeln!(w, "  verify: {problem}")?;
        }
    }
    for e in &p.error_samples {
        writeln!(w, "  error: {e}")?;
    }
    for line in crate::diagnose::lines(&p.diagnosis) {
        match layout.width() {
            None => writeln!(w, "  diagnosis: {line}")?,
            Some(width) => {
                for (i, part) in wrap(&format!("diagnosis: {line}"), width.saturating_sub(4).max(40)).iter().enumerate()
                {
                    writeln!(w, "{}{part}", if i == 0 { "  " } else { "    " })?;
                }
            }
        }
    }
    Ok(())
}

/// `text` in lines of at most `width` characters, broken at spaces (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}
