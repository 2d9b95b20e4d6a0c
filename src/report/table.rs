//! The human-readable table.

use crate::engine::Point;
use crate::target::TargetInfo;
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
    if let Some(p) = &t.probe {
        for (k, v) in p.as_object().into_iter().flatten() {
            writeln!(w, "{k:<24} {v}")?;
        }
    }
    Ok(())
}

pub fn columns(w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "\n{:<8} {:<17} {:>4} {:>3} {:>5} {:>10} {:>10} {:<7} {:>9} {:>9} {:>9} {:>9} {:>7} {:>22} {:>5} {:>5} {:>5}",
        "workload",
        "ats_mode",
        "qd",
        "thr",
        "locks",
        "ops",
        "iops",
        "latency",
        "p50_us",
        "p99_us",
        "p99.9_us",
        "max_us",
        "miscmp%",
        "cont/own/corr/stale/false",
        "viol",
        "lost",
        "err"
    )
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

pub fn row(w: &mut dyn Write, p: &Point) -> io::Result<()> {
    let kind = match p.workload.name() {
        "ats" | "rmw" => "ats",
        "compare" => "compare",
        other => other,
    };
    let lat = p.latency_ns.get(kind);
    let m = &p.miscompares;
    let (viol, lost) = p
        .verification
        .as_ref()
        .map_or(("-".into(), "-".into()), |v| (v.violations.to_string(), v.lost_updates.to_string()));
    writeln!(
        w,
        "{:<8} {:<17} {:>4} {:>3} {:>5} {:>10} {:>10} {:<7} {:>9} {:>9} {:>9} {:>9} {:>7.2} {:>22} {:>5} {:>5} {:>5}{}",
        p.workload.name(),
        p.ats_mode.map_or("-".to_string(), |m| serde_json::to_value(m)
            .map_or_else(|_| "?".into(), |v| v.as_str().unwrap_or("?").to_string())),
        p.qd,
        p.threads,
        p.locks,
        p.ops,
        p.iops,
        kind,
        lat.map_or("-".into(), |l| us(l.p50)),
        lat.map_or("-".into(), |l| us(l.p99)),
        lat.map_or("-".into(), |l| us(l.p999)),
        lat.map_or("-".into(), |l| us(l.max)),
        p.miscompare_rate * 100.0,
        format!("{}/{}/{}/{}/{}", m.contention, m.own_write, m.corrupt, m.stale, m.false_),
        viol,
        lost,
        p.errors,
        if p.interrupted { "  (interrupted)" } else { "" }
    )?;
    if let Some(v) = &p.verification {
        for problem in &v.problems {
            writeln!(w, "  verify: {problem}")?;
        }
    }
    for e in &p.error_samples {
        writeln!(w, "  error: {e}")?;
    }
    Ok(())
}
