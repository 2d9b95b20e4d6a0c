//! The human-readable table: the target's identity, then one row per point.

use crate::device::TargetInfo;
use crate::engine::Point;
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

const COLUMNS: [(&str, usize); 19] = [
    ("workload", 8),
    ("ats_mode", 17),
    ("qd", 4),
    ("thr", 3),
    ("locks", 5),
    ("act/lk", 6),
    ("ops", 10),
    ("iops", 10),
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
    ("err", 5),
];

pub fn columns(w: &mut dyn Write) -> io::Result<()> {
    writeln!(w)?;
    cells(w, COLUMNS.iter().map(|(name, _)| name.to_string()))
}

fn cells(w: &mut dyn Write, values: impl Iterator<Item = String>) -> io::Result<()> {
    let mut line = String::new();
    for (i, (v, (_, width))) in values.zip(COLUMNS).enumerate() {
        if i > 0 {
            line.push(' ');
        }
        // Names left, numbers right.
        if i <= 1 || i == 8 {
            line.push_str(&format!("{v:<width$}"));
        } else {
            line.push_str(&format!("{v:>width$}"));
        }
    }
    writeln!(w, "{}", line.trim_end())
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

pub fn row(w: &mut dyn Write, p: &Point) -> io::Result<()> {
    let kind = match p.workload.name() {
        "ats" | "rmw" => "ats",
        other => other,
    };
    let lat = p.latency_ns.get(kind);
    let acq = p.latency_ns.get("acquire");
    let m = &p.miscompares;
    let verdict = p.verification.as_ref().map_or("-".into(), |v| format!("{}/{}", v.violations, v.lost_updates));
    let mode = p.ats_mode.and_then(|m| serde_json::to_value(m).ok()).and_then(|v| v.as_str().map(String::from));
    let values = [
        p.workload.name().to_string(),
        mode.unwrap_or_else(|| "-".into()),
        p.qd.to_string(),
        p.threads.to_string(),
        p.locks.to_string(),
        if p.locks > 0 { format!("{}", p.actors_per_lock) } else { "-".into() },
        p.ops.to_string(),
        format!("{}", p.iops),
        kind.to_string(),
        lat.map_or("-".into(), |l| us(l.p50)),
        lat.map_or("-".into(), |l| us(l.p99)),
        lat.map_or("-".into(), |l| us(l.p999)),
        lat.map_or("-".into(), |l| us(l.max)),
        acq.map_or("-".into(), |l| us(l.p50)),
        acq.map_or("-".into(), |l| us(l.p99)),
        format!("{:.2}", p.miscompare_rate * 100.0),
        format!("{}/{}/{}/{}/{}/{}", m.contention, m.own_write, m.corrupt, m.stale, m.false_, m.split),
        verdict,
        p.errors.to_string(),
    ];
    cells(w, values.into_iter())?;
    if p.interrupted {
        writeln!(w, "  (interrupted)")?;
    }
    if let (Some(i), Some(d), Some(u)) = (m.injected, m.detected, m.undetected) {
        writeln!(w, "  compare: {i} wrong images sent, {d} detected, {u} undetected; {} false miscompares", m.false_)?;
    }
    if p.timeouts + p.late_completions > 0 {
        writeln!(w, "  timeouts: {} commands given up, {} completed late", p.timeouts, p.late_completions)?;
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
        writeln!(w, "  diagnosis: {line}")?;
    }
    Ok(())
}
