//! The engine: one pinned worker per CPU, each with its own ring, slab, RNG and histograms.
//! Workers share only the stop flag and, for serialised ATS, the lock table.

mod locks;
mod worker;

pub use locks::LockTable;

use crate::backend::{AtsMode, Backend};
use crate::error::{Error, Result};
use crate::spec::Region;
use crate::stats::{Latencies, Summary};
use crate::verify::history::{verify, Claim, Verification};
use crate::workload::Workload;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Barrier};
use worker::{Worker, WorkerOutput};

/// When a point ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopAt {
    /// After this many seconds.
    Seconds(f64),
    /// After this many operations in all (I/Os, or ATS attempts for ats and rmw).
    Ops(u64),
}

/// One measurement point, fully resolved.
#[derive(Debug, Clone, Serialize)]
pub struct PointSpec {
    pub workload: Workload,
    pub qd: u32,
    /// One entry per worker: the CPU it is pinned to, or None for unpinned.
    pub cpus: Vec<Option<usize>>,
    pub locks: u32,
    pub bs: u32,
    pub region: Region,
    pub stop: StopAt,
    /// Open-loop rate in operations per second over all workers.
    pub rate: Option<f64>,
    pub verify: bool,
    pub sqpoll: bool,
    pub iopoll: bool,
    /// Fraction of compare commands sent with a deliberately wrong image (`compare`).
    pub miscompare_fraction: f64,
    /// This run's host id, written into every lock record.
    pub host: u64,
    pub seed: u64,
}

impl PointSpec {
    pub fn threads(&self) -> u32 {
        self.cpus.len() as u32
    }

    /// Bytes of slab per slot: expected, new and read images for lock workloads.
    pub fn slot_bytes(&self) -> usize {
        let blocks = if self.workload.uses_locks() { 3 } else { 1 };
        blocks * self.bs as usize
    }

    /// Bytes of registered memory each worker needs.
    pub fn slab_bytes(&self) -> usize {
        self.slot_bytes() * self.qd as usize
    }
}

/// Miscompare counts by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Miscompares {
    pub total: u64,
    pub contention: u64,
    pub own_write: u64,
    pub corrupt: u64,
    pub stale: u64,
    #[serde(rename = "false")]
    pub false_: u64,
}

/// In-flight ATS attempts seen on one lock block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LockReport {
    pub lock: u32,
    pub attempts: u64,
    pub successes: u64,
    pub miscompares: u64,
    /// Mean and maximum of the attempts in flight on this lock when one started (itself
    /// included), over all workers.
    pub inflight_mean: f64,
    pub inflight_max: u32,
}

/// How the rings were set up, for the results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RingReport {
    pub flags: Vec<&'static str>,
    pub fixed_buffers: bool,
    pub pinned: bool,
    /// What the backend used (transport, command path), where it says.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub backend: serde_json::Value,
}

/// The result of one point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub workload: Workload,
    pub ats_mode: Option<AtsMode>,
    pub qd: u32,
    pub threads: u32,
    pub locks: u32,
    pub bs: u32,
    pub ops: u64,
    pub duration_s: f64,
    pub iops: f64,
    pub latency_ns: BTreeMap<&'static str, Summary>,
    pub miscompares: Miscompares,
    pub miscompare_rate: f64,
    pub retries: u64,
    pub acquires: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected_miscompares: Option<u64>,
    pub verification: Option<Verification>,
    pub contention: Option<Contention>,
    pub ring: RingReport,
    /// True when the point ended early (interrupt).
    pub interrupted: bool,
}

/// In-flight attempts per lock, summed over locks; `per_lock` lists up to 64 locks.
#[derive(Debug, Clone, Serialize)]
pub struct Contention {
    pub inflight_mean: f64,
    pub inflight_max: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_lock: Vec<LockReport>,
}

/// Run one point with one backend per worker, built by `make` (called on the worker's thread).
pub fn run_point<B, F>(spec: &PointSpec, stop: &AtomicBool, make: F) -> Result<Point>
where
    B: Backend,
    F: Fn(u32) -> Result<B> + Sync,
{
    // Worker 0's backend is made here, to learn the capabilities, and handed to that worker.
    let first = make(0)?;
    let caps = first.caps();
    let mut first = Some(first);
    if spec.workload == Workload::Compare && !caps.compare {
        return Err(Error::Unsupported(
            "--workload compare needs a device-side compare (an NVMe namespace); block devices and files have none"
                .into(),
        ));
    }
    if spec.iopoll && !caps.iopoll {
        return Err(Error::Unsupported("this backend cannot poll for completions; drop --iopoll".into()));
    }
    let threads = spec.threads() as usize;
    let locks = Arc::new(LockTable::new(spec.locks));
    let abort = AtomicBool::new(false);
    let ready = Barrier::new(threads);
    let finished = Barrier::new(threads);
    let outputs: Vec<Result<Option<WorkerOutput>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let (make, locks, ready, finished, abort) = (&make, &locks, &ready, &finished, &abort);
                let backend = first.take();
                std::thread::Builder::new()
                    .name(format!("atsbench-w{w}"))
                    .spawn_scoped(s, move || {
                        Worker::run(w as u32, spec, caps.ats_mode, backend, make, locks, stop, abort, ready, finished)
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("a worker panicked".into()))))
            .collect()
    });
    // A worker that stopped because another failed returns None: report the real failure.
    let outputs = outputs.into_iter().collect::<Result<Vec<_>>>()?;
    let outputs = outputs
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Internal("a worker stopped without a result".into()))?;
    Ok(merge(spec, caps.ats_mode, outputs, stop))
}

fn merge(spec: &PointSpec, ats_mode: AtsMode, outputs: Vec<WorkerOutput>, stop: &AtomicBool) -> Point {
    let mut lat = Latencies::new();
    let mut c = worker::Counters::default();
    let mut claims: Vec<Claim> = Vec::new();
    let mut per_lock = vec![worker::LockCounters::default(); spec.locks as usize];
    let mut ring = RingReport::default();
    let mut finals = Vec::new();
    let mut duration_s: f64 = 0.0;
    let mut samples = Vec::new();
    for (i, o) in outputs.into_iter().enumerate() {
        lat.merge(&o.lat);
        c.add(&o.counters);
        claims.extend(o.claims);
        for (a, b) in per_lock.iter_mut().zip(&o.per_lock) {
            a.add(b);
        }
        if i == 0 {
            ring = o.ring;
            finals = o.finals;
        }
        duration_s = duration_s.max(o.elapsed_s);
        samples.extend(o.error_samples);
    }
    samples.truncate(8);
    let ats_like = spec.workload.is_ats_like();
    let verification = (spec.verify && spec.workload.uses_locks()).then(|| {
        if spec.workload == Workload::Compare {
            Verification { checked: c.ops, violations: c.undetected, ..Default::default() }
        } else {
            verify(claims, &finals)
        }
    });
    let contention = ats_like.then(|| contention(&per_lock));
    let m = c.miscompares;
    Point {
        workload: spec.workload,
        ats_mode: match spec.workload {
            Workload::Ats => Some(ats_mode),
            _ => None,
        },
        qd: spec.qd,
        threads: spec.threads(),
        locks: if spec.workload.uses_locks() { spec.locks } else { 0 },
        bs: spec.bs,
        ops: c.ops,
        duration_s: (duration_s * 1e6).round() / 1e6,
        iops: if duration_s > 0.0 { (c.ops as f64 / duration_s).round() } else { 0.0 },
        latency_ns: lat.summary(),
        miscompares: Miscompares {
            total: m.iter().sum(),
            contention: m[0],
            own_write: m[1],
            corrupt: m[2],
            stale: m[3],
            false_: m[4],
        },
        miscompare_rate: if c.ops > 0 { m.iter().sum::<u64>() as f64 / c.ops as f64 } else { 0.0 },
        retries: c.retries,
        acquires: c.acquires,
        errors: c.errors,
        error_samples: samples,
        injected_miscompares: (spec.workload == Workload::Compare).then_some(c.injected),
        verification,
        contention,
        ring,
        interrupted: stop.load(std::sync::atomic::Ordering::Relaxed),
    }
}

fn contention(per_lock: &[worker::LockCounters]) -> Contention {
    let attempts: u64 = per_lock.iter().map(|l| l.attempts).sum();
    let sum: u64 = per_lock.iter().map(|l| l.inflight_sum).sum();
    let reports: Vec<LockReport> = per_lock
        .iter()
        .enumerate()
        .map(|(i, l)| LockReport {
            lock: i as u32,
            attempts: l.attempts,
            successes: l.successes,
            miscompares: l.miscompares,
            inflight_mean: if l.attempts > 0 { round2(l.inflight_sum as f64 / l.attempts as f64) } else { 0.0 },
            inflight_max: l.inflight_max,
        })
        .collect();
    Contention {
        inflight_mean: if attempts > 0 { round2(sum as f64 / attempts as f64) } else { 0.0 },
        inflight_max: reports.iter().map(|r| r.inflight_max).max().unwrap_or(0),
        per_lock: if reports.len() <= 64 { reports } else { Vec::new() },
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
