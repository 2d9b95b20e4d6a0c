//! One CSV row per point, latencies in nanoseconds.

use crate::engine::Point;
use crate::stats::Kind;
use std::io::{self, Write};

const FIXED: &str = "workload,ats_mode,qd,threads,locks,bs,ops,duration_s,iops,miscompares,contention,own_write,\
corrupt,stale,false,miscompare_rate,retries,acquires,errors,checked,violations,lost_updates";
const STATS: [&str; 8] = ["count", "mean", "p50", "p90", "p99", "p999", "p9999", "max"];

pub fn header(w: &mut dyn Write) -> io::Result<()> {
    write!(w, "{FIXED}")?;
    for k in Kind::ALL {
        for s in STATS {
            write!(w, ",{}_{s}_ns", k.name())?;
        }
    }
    writeln!(w)
}

pub fn row(w: &mut dyn Write, p: &Point) -> io::Result<()> {
    let m = &p.miscompares;
    let mode = p
        .ats_mode
        .and_then(|m| serde_json::to_value(m).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let (checked, viol, lost) = p.verification.as_ref().map_or((String::new(), String::new(), String::new()), |v| {
        (v.checked.to_string(), v.violations.to_string(), v.lost_updates.to_string())
    });
    write!(
        w,
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        p.workload.name(),
        mode,
        p.qd,
        p.threads,
        p.locks,
        p.bs,
        p.ops,
        p.duration_s,
        p.iops,
        m.total,
        m.contention,
        m.own_write,
        m.corrupt,
        m.stale,
        m.false_,
        p.miscompare_rate,
        p.retries,
        p.acquires,
        p.errors,
        checked,
        viol,
        lost
    )?;
    for k in Kind::ALL {
        match p.latency_ns.get(k.name()) {
            Some(s) => {
                write!(w, ",{},{},{},{},{},{},{},{}", s.count, s.mean, s.p50, s.p90, s.p99, s.p999, s.p9999, s.max)?
            }
            None => write!(w, ",,,,,,,,")?,
        }
    }
    writeln!(w)
}
