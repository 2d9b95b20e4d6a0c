//! The result of one point, merged from the workers' tallies at the end of the point.

use super::worker::{Counters, LockCounters, WorkerOutput};
use super::{LockPlan, PointSpec};
use crate::backend::AtsMode;
use crate::stats::{Latencies, Summary};
use crate::verify::claims::ClaimSet;
use crate::verify::history::Verification;
use crate::verify::hosts::HostShare;
use crate::workload::Workload;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Miscompare counts by class. For `compare`, `total` is every miscompare the device
/// reported: `detected` of the `injected` wrong images plus `false` ones on correct images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Miscompares {
    pub total: u64,
    pub contention: u64,
    pub own_write: u64,
    pub corrupt: u64,
    pub stale: u64,
    #[serde(rename = "false")]
    pub false_: u64,
    /// Another writer's record of the expected generation (see `verify::classify::Class::Split`).
    #[serde(default)]
    pub split: u64,
    /// Of the `corrupt` ones: blocks torn between two records (the header of one, the tail of
    /// another), as a write that reached only part of the block leaves them.
    #[serde(default)]
    pub torn: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undetected: Option<u64>,
}

impl Miscompares {
    /// Add `o`'s counts (the `compare` counts where either side has them).
    pub fn add(&mut self, o: &Miscompares) {
        self.total += o.total;
        self.contention += o.contention;
        self.own_write += o.own_write;
        self.corrupt += o.corrupt;
        self.stale += o.stale;
        self.false_ += o.false_;
        self.split += o.split;
        self.torn += o.torn;
        self.injected = add_opt(self.injected, o.injected);
        self.detected = add_opt(self.detected, o.detected);
        self.undetected = add_opt(self.undetected, o.undetected);
    }
}

/// `--on-timeout abort`: COMPARE AND WRITEs the kernel timed out and aborted at the target, and
/// what the retry of the same images found: its own write (the aborted command had been
/// applied: ESXi's false miscompare), success (it had not), or another writer's record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Aborts {
    pub aborted: u64,
    /// Beyond ABORT TASK: a reset, or the device went offline (the run stops).
    pub escalated: u64,
    pub retry_own_write: u64,
    pub retry_succeeded: u64,
    pub retry_other: u64,
}

impl Aborts {
    pub fn add(&mut self, o: &Aborts) {
        self.aborted += o.aborted;
        self.escalated += o.escalated;
        self.retry_own_write += o.retry_own_write;
        self.retry_succeeded += o.retry_succeeded;
        self.retry_other += o.retry_other;
    }
}

/// Miscompares as the device reported them, with the byte offset of the first difference
/// where it said (SCSI sense INFORMATION).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeviceMiscompares {
    pub reported: u64,
    pub with_offset: u64,
    pub offset_min: Option<u64>,
    pub offset_max: Option<u64>,
}

impl DeviceMiscompares {
    #[inline]
    pub fn note(&mut self, offset: Option<u64>) {
        self.reported += 1;
        if let Some(o) = offset {
            self.with_offset += 1;
            self.offset_min = Some(self.offset_min.map_or(o, |m| m.min(o)));
            self.offset_max = Some(self.offset_max.map_or(o, |m| m.max(o)));
        }
    }

    pub fn add(&mut self, o: &DeviceMiscompares) {
        self.reported += o.reported;
        self.with_offset += o.with_offset;
        self.offset_min = match (self.offset_min, o.offset_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.offset_max = self.offset_max.max(o.offset_max);
    }
}

/// The first miscompare classified `corrupt` (something other than atsbench changed a lock
/// block, or the device damaged it): which lock, and when, in seconds since measuring began.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FirstCorrupt {
    pub lock: u32,
    pub at_s: f64,
    pub worker: u32,
}

/// What happened on one lock block, over all workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LockReport {
    pub lock: u32,
    pub attempts: u64,
    pub successes: u64,
    pub miscompares: u64,
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

/// The histograms of a point (whole, submission and completion latency), kept until its
/// repeats are merged: percentiles of merged repeats come from merged histograms.
#[derive(Clone)]
pub struct Histograms {
    pub lat: Latencies,
    pub slat: Latencies,
    pub clat: Latencies,
}

impl std::fmt::Debug for Histograms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Histograms")
    }
}

/// One repeat's figures, kept beside the merged ones (`--repeat`).
#[derive(Debug, Clone, Serialize)]
pub struct Repeat {
    pub ops: u64,
    pub duration_s: f64,
    pub iops: f64,
    pub latency_ns: BTreeMap<&'static str, Summary>,
    pub miscompares: Miscompares,
    pub miscompare_rate: f64,
    pub errors: u64,
    pub verification: Option<Verification>,
}

/// The result of one point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub workload: Workload,
    pub ats_mode: Option<AtsMode>,
    pub qd: u32,
    pub threads: u32,
    /// Lock blocks used (0 for read and write).
    pub locks: u32,
    /// Actors per lock block asked for (`--contention`); null when `--locks` placed them.
    pub contention: Option<u32>,
    /// Actors (queue slots of all workers) per lock block: exact with `--contention`, the mean
    /// with `--locks`.
    pub actors_per_lock: f64,
    pub bs: u32,
    pub ops: u64,
    pub duration_s: f64,
    pub iops: f64,
    /// Whole latency (fio's `lat`) by kind: a command from when the worker queued it to when
    /// it reaped its completion; `ats` an attempt, `acquire` first attempt to success.
    pub latency_ns: BTreeMap<&'static str, Summary>,
    /// Submission latency (fio's `slat`) by command kind: queued to submitted.
    pub slat_ns: BTreeMap<&'static str, Summary>,
    /// Completion latency (fio's `clat`) by command kind: submitted to reaped.
    pub clat_ns: BTreeMap<&'static str, Summary>,
    pub miscompares: Miscompares,
    pub miscompare_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_miscompares: Option<DeviceMiscompares>,
    pub retries: u64,
    pub acquires: u64,
    pub errors: u64,
    /// ATS commands given up after `--timeout` (and retried with the same images), and
    /// completions of given-up commands that came later.
    pub timeouts: u64,
    pub late_completions: u64,
    /// `--on-timeout abort` only: the kernel's aborts and what their retries found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aborts: Option<Aborts>,
    /// Where and when the first `corrupt` miscompare was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_corrupt: Option<FirstCorrupt>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    pub verification: Option<Verification>,
    /// Per lock block, for up to 64 lock blocks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_lock: Vec<LockReport>,
    pub ring: RingReport,
    /// What the simulated device did over all workers: its commands, the faults it injected
    /// (per kind: rate, eligible commands, injected) and its queue waits (sim targets only).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub sim: serde_json::Value,
    /// True when the point ended early (interrupt).
    pub interrupted: bool,
    /// Every repeat's figures when the point was measured more than once (`--repeat`); the
    /// figures above are then those of all repeats together.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<Repeat>,
    /// The histograms behind the summaries, until the point is reported.
    #[serde(skip)]
    pub hist: Option<Box<Histograms>>,
    /// One host of several (`--hosts`): its claims and the final lock blocks, for the merge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_share: Option<HostShare>,
    /// Which mechanism caused what the point shows, most important first (`diagnose`); set
    /// when the point is reported.
    pub diagnosis: Vec<crate::diagnose::Finding>,
}

impl Point {
    fn repeat(&self) -> Repeat {
        Repeat {
            ops: self.ops,
            duration_s: self.duration_s,
            iops: self.iops,
            latency_ns: self.latency_ns.clone(),
            miscompares: self.miscompares,
            miscompare_rate: self.miscompare_rate,
            errors: self.errors,
            verification: self.verification.clone(),
        }
    }
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Merge the repeats of one point: counts add up, latency percentiles come from the merged
/// histograms (not from averaged percentiles), rates are recomputed over all operations, and
/// every repeat's own figures are kept in `repeats`.
pub fn merge_repeats(mut runs: Vec<Point>) -> Option<Point> {
    if runs.len() <= 1 {
        return runs.pop();
    }
    let repeats: Vec<Repeat> = runs.iter().map(Point::repeat).collect();
    let mut it = runs.into_iter();
    let mut m = it.next()?;
    for p in it {
        m.ops += p.ops;
        m.duration_s += p.duration_s;
        m.retries += p.retries;
        m.acquires += p.acquires;
        m.errors += p.errors;
        m.timeouts += p.timeouts;
        m.late_completions += p.late_completions;
        if let (Some(a), Some(b)) = (m.aborts.as_mut(), p.aborts.as_ref()) {
            a.add(b);
        }
        m.first_corrupt = m.first_corrupt.or(p.first_corrupt);
        m.interrupted |= p.interrupted;
        m.miscompares.add(&p.miscompares);
        m.device_miscompares = match (m.device_miscompares, p.device_miscompares) {
            (Some(mut x), Some(y)) => {
                x.add(&y);
                Some(x)
            }
            (x, y) => x.or(y),
        };
        if let (Some(v), Some(w)) = (m.verification.as_mut(), p.verification.as_ref()) {
            v.checked += w.checked;
            v.violations += w.violations;
            v.lost_updates += w.lost_updates;
            v.problems.extend(w.problems.iter().cloned());
            v.problems.truncate(8);
        }
        for (a, b) in m.per_lock.iter_mut().zip(&p.per_lock) {
            a.attempts += b.attempts;
            a.successes += b.successes;
            a.miscompares += b.miscompares;
        }
        m.error_samples.extend(p.error_samples);
        m.error_samples.truncate(SAMPLES);
        if let (Some(h), Some(g)) = (m.hist.as_mut(), p.hist.as_ref()) {
            h.lat.merge(&g.lat);
            h.slat.merge(&g.slat);
            h.clat.merge(&g.clat);
        }
    }
    if let Some(h) = &m.hist {
        m.latency_ns = h.lat.summary();
        m.slat_ns = h.slat.summary();
        m.clat_ns = h.clat.summary();
    }
    m.duration_s = (m.duration_s * 1e6).round() / 1e6;
    m.iops = if m.duration_s > 0.0 { (m.ops as f64 / m.duration_s).round() } else { 0.0 };
    let attempts = if m.workload == Workload::Heartbeat { m.acquires + m.miscompares.total } else { m.ops };
    m.miscompare_rate = if attempts > 0 { m.miscompares.total as f64 / attempts as f64 } else { 0.0 };
    m.repeats = repeats;
    Some(m)
}

/// Error samples kept per point.
const SAMPLES: usize = 8;

pub(super) fn merge(spec: &PointSpec, ats_mode: AtsMode, outputs: Vec<WorkerOutput>, stop: &AtomicBool) -> Point {
    let (mut lat, mut slat, mut clat) = (Latencies::new(), Latencies::new(), Latencies::new());
    let mut c = Counters::default();
    let mut claims = ClaimSet::new(spec.locks());
    let mut per_lock = vec![LockCounters::default(); spec.locks() as usize];
    let mut device = DeviceMiscompares::default();
    let (mut ring, mut finals, mut duration_s, mut samples) = (RingReport::default(), Vec::new(), 0f64, Vec::new());
    let first_corrupt = earliest_corrupt(&outputs);
    for (i, o) in outputs.into_iter().enumerate() {
        lat.merge(&o.lat);
        slat.merge(&o.slat);
        clat.merge(&o.clat);
        c.add(&o.counters);
        device.add(&o.device);
        claims.merge(o.claims);
        for (a, b) in per_lock.iter_mut().zip(&o.per_lock) {
            a.add(b);
        }
        if i == 0 {
            ring = o.ring;
            finals = o.finals;
        }
        duration_s = duration_s.max(o.elapsed_s);
        samples.extend(o.error_samples.iter().take(SAMPLES).map(|s| s.to_string()));
    }
    samples.truncate(SAMPLES);
    let verification = (spec.verify && spec.workload.uses_locks()).then(|| match spec.workload {
        Workload::Compare => Verification { checked: c.ops, violations: c.undetected, ..Default::default() },
        _ => super::hosts::verify_local(spec, &claims, &finals),
    });
    let m = c.miscompares;
    let compare = spec.workload == Workload::Compare;
    let total = if compare { device.reported } else { m.iter().sum() };
    Point {
        workload: spec.workload,
        ats_mode: (spec.workload == Workload::Ats).then_some(ats_mode),
        qd: spec.qd,
        threads: spec.threads(),
        locks: spec.locks(),
        contention: match spec.lock_plan {
            LockPlan::Contention(k) if spec.workload.uses_locks() => Some(k),
            _ => None,
        },
        actors_per_lock: if spec.workload.uses_locks() { round2(spec.actors_per_lock()) } else { 0.0 },
        bs: spec.bs,
        ops: c.ops,
        duration_s: (duration_s * 1e6).round() / 1e6,
        iops: if duration_s > 0.0 { (c.ops as f64 / duration_s).round() } else { 0.0 },
        miscompares: Miscompares {
            total,
            contention: m[0],
            own_write: m[1],
            corrupt: m[2],
            stale: m[3],
            false_: m[4],
            split: m[5],
            torn: c.torn,
            injected: compare.then_some(c.injected),
            detected: compare.then_some(c.detected),
            undetected: compare.then_some(c.undetected),
        },
        miscompare_rate: {
            // Heartbeats: over the ATS attempts, not the background I/O.
            let attempts = if spec.workload == Workload::Heartbeat { c.acquires + total } else { c.ops };
            if attempts > 0 {
                total as f64 / attempts as f64
            } else {
                0.0
            }
        },
        device_miscompares: (device.reported > 0).then_some(device),
        retries: c.retries,
        acquires: c.acquires,
        errors: c.errors,
        timeouts: c.timeouts,
        late_completions: c.late_completions,
        aborts: (spec.on_timeout == super::OnTimeout::Abort).then_some(c.aborts),
        first_corrupt,
        error_samples: samples,
        verification,
        per_lock: if per_lock.len() <= 64 && spec.workload.is_ats_like() {
            per_lock.iter().enumerate().map(|(i, l)| l.report(i as u32)).collect()
        } else {
            Vec::new()
        },
        ring,
        sim: serde_json::Value::Null,
        interrupted: stop.load(Ordering::Relaxed),
        repeats: Vec::new(),
        latency_ns: lat.summary(),
        slat_ns: slat.summary(),
        clat_ns: clat.summary(),
        hist: Some(Box::new(Histograms { lat, slat, clat })),
        host_share: super::hosts::share(spec, claims, &finals),
        diagnosis: Vec::new(),
    }
}

/// The first `corrupt` miscompare over all workers (each timed from when it began measuring).
fn earliest_corrupt(outputs: &[WorkerOutput]) -> Option<FirstCorrupt> {
    let seen = outputs.iter().enumerate().filter_map(|(i, o)| o.first_corrupt.map(|(at, lock)| (at, lock, i)));
    seen.min_by_key(|&(at, _, _)| at).map(|(at, lock, i)| FirstCorrupt {
        lock,
        at_s: at as f64 / 1e9,
        worker: i as u32,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
