//! CSV: flat, one row per point and operation kind, written by the csv crate from a serde
//! record. Latencies in nanoseconds; `slat`/`clat` are empty for kinds that are not commands
//! (`acquire`, and `ats` where it is a host-side sequence of commands).

use crate::results::Point;
use crate::stats::Summary;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
// wide: one field per column of the results CSV
struct Row<'a> {
    workload: &'a str,
    ats_mode: Option<&'a str>,
    qd: u32,
    threads: u32,
    locks: u32,
    contention: Option<u32>,
    actors_per_lock: f64,
    bs: u32,
    ops: u64,
    duration_s: f64,
    iops: f64,
    miscompares: u64,
    miscompare_rate: f64,
    mc_contention: u64,
    mc_own_write: u64,
    mc_corrupt: u64,
    mc_stale: u64,
    mc_false: u64,
    mc_split: u64,
    retries: u64,
    acquires: u64,
    errors: u64,
    violations: Option<u64>,
    lost_updates: Option<u64>,
    kind: &'a str,
    count: u64,
    mean_ns: f64,
    p50_ns: u64,
    p90_ns: u64,
    p99_ns: u64,
    p999_ns: u64,
    p9999_ns: u64,
    max_ns: u64,
    slat_p50_ns: Option<u64>,
    slat_p99_ns: Option<u64>,
    clat_p50_ns: Option<u64>,
    clat_p99_ns: Option<u64>,
    /// `--timeout`: commands given up, and their completions that came late.
    timeouts: u64,
    late_completions: u64,
    /// The first `corrupt` miscompare: its lock block and seconds into the measurement.
    first_corrupt_lock: Option<u32>,
    first_corrupt_at_s: Option<f64>,
}

/// A CSV writer that writes the header once, before the first row.
pub struct CsvWriter {
    w: csv::Writer<Box<dyn Write>>,
}

impl CsvWriter {
    pub fn new(out: Box<dyn Write>) -> Self {
        CsvWriter { w: csv::WriterBuilder::new().has_headers(true).from_writer(out) }
    }

    /// Write the rows of one point and flush them.
    pub fn point(&mut self, p: &Point) -> io::Result<()> {
        let mode = p.ats_mode.and_then(|m| serde_json::to_value(m).ok());
        let mode = mode.as_ref().and_then(|v| v.as_str());
        let m = &p.miscompares;
        for (kind, s) in &p.latency_ns {
            let slat = p.slat_ns.get(kind);
            let clat = p.clat_ns.get(kind);
            let row = Row {
                workload: p.workload.name(),
                ats_mode: mode,
                qd: p.qd,
                threads: p.threads,
                locks: p.locks,
                contention: p.contention,
                actors_per_lock: p.actors_per_lock,
                bs: p.bs,
                ops: p.ops,
                duration_s: p.duration_s,
                iops: p.iops,
                miscompares: m.total,
                miscompare_rate: p.miscompare_rate,
                mc_contention: m.contention,
                mc_own_write: m.own_write,
                mc_corrupt: m.corrupt,
                mc_stale: m.stale,
                mc_false: m.false_,
                mc_split: m.split,
                retries: p.retries,
                acquires: p.acquires,
                errors: p.errors,
                violations: p.verification.as_ref().map(|v| v.violations),
                lost_updates: p.verification.as_ref().map(|v| v.lost_updates),
                kind,
                count: s.count,
                mean_ns: s.mean,
                p50_ns: s.p50,
                p90_ns: s.p90,
                p99_ns: s.p99,
                p999_ns: s.p999,
                p9999_ns: s.p9999,
                max_ns: s.max,
                slat_p50_ns: slat.map(|x: &Summary| x.p50),
                slat_p99_ns: slat.map(|x| x.p99),
                clat_p50_ns: clat.map(|x| x.p50),
                clat_p99_ns: clat.map(|x| x.p99),
                timeouts: p.timeouts,
                late_completions: p.late_completions,
                first_corrupt_lock: p.first_corrupt.map(|f| f.lock),
                first_corrupt_at_s: p.first_corrupt.map(|f| f.at_s),
            };
            self.w.serialize(row).map_err(io::Error::other)?;
        }
        self.w.flush()
    }
}
