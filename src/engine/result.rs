//! The result of one point, merged from the workers' tallies at the end of the point.

use super::faults::Faults;
use super::worker::{Counters, LockCounters, WorkerOutput};
use super::{LockPlan, PointBarrier, PointSpec};
use crate::backend::AtsMode;
use crate::results::{DeviceMiscompares, FirstCorrupt, Miscompares, Point, RingReport};
use crate::stats::Latencies;
use crate::verify::claims::ClaimSet;
use crate::verify::history::Claim;
use crate::verify::history::Verification;
use crate::workload::record::Record;
use crate::workload::Workload;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// A measured repeat: its figures, and the histograms behind them until the repeats of its
/// point are merged (runtime state, not part of the document).
#[derive(Debug, Clone)]
pub struct Measured {
    pub point: Point,
    pub hist: Box<Histograms>,
}

/// Combine the repeats of one point: counts add up, latency percentiles come from the merged
/// histograms (not from averaged percentiles), rates are recomputed over all operations, and
/// every repeat's own figures (with its intervals) are kept in `repeats`.
pub fn combine_repeats(runs: Vec<Measured>) -> Option<Point> {
    let repeats: Vec<_> = runs.iter().flat_map(|r| r.point.repeats.iter().cloned()).collect();
    let mut it = runs.into_iter();
    let Measured { point: mut m, hist: mut h } = it.next()?;
    for Measured { point: p, hist: g } in it {
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
        m.faults.add(&p.faults);
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
        h.lat.merge(&g.lat);
        h.slat.merge(&g.slat);
        h.clat.merge(&g.clat);
    }
    m.latency_ns = h.lat.summary();
    m.slat_ns = h.slat.summary();
    m.clat_ns = h.clat.summary();
    m.duration_s = (m.duration_s * 1e6).round() / 1e6;
    m.iops = if m.duration_s > 0.0 { (m.ops as f64 / m.duration_s).round() } else { 0.0 };
    let attempts = attempts(m.workload, m.ops, m.acquires, m.miscompares.total);
    m.miscompare_rate = if attempts > 0 { m.miscompares.total as f64 / attempts as f64 } else { 0.0 };
    m.faults.error_rate = error_rate(m.errors + m.faults.abandoned, m.ops);
    m.repeats = repeats;
    Some(m)
}

/// What a miscompare rate is over: the compares of `compare`, else the compare-and-write
/// attempts (each succeeds or miscompares), not the plain I/O beside them (a heartbeat's
/// background load).
fn attempts(workload: Workload, ops: u64, acquires: u64, miscompares: u64) -> u64 {
    if workload == Workload::Compare {
        ops
    } else {
        acquires + miscompares
    }
}

/// Error samples kept per point.
const SAMPLES: usize = 8;

/// Failed commands (errors, and commands abandoned unanswered) over completed operations plus
/// failed commands.
fn error_rate(errors: u64, ops: u64) -> f64 {
    if errors == 0 {
        0.0
    } else {
        errors as f64 / (errors + ops) as f64
    }
}

/// A write that failed at the stop and was not sent again landed if the final block of its
/// lock holds its image: its transition happened, and is claimed.
fn settle(claims: &mut ClaimSet, unsettled: &[Claim], finals: &[Vec<u8>]) {
    for c in unsettled {
        let landed = finals.get(c.lock as usize).and_then(|b| Record::decode(b).ok());
        if landed == Some(Record { lock: c.lock, generation: c.generation, owner: c.owner }) {
            claims.insert(c.lock, c.generation, c.owner);
        }
    }
}

// long: combines the workers' outputs into the point field by field; splits with WorkerOutput
pub(super) fn combine(
    spec: &PointSpec,
    barrier: Option<&dyn PointBarrier>,
    ats_mode: AtsMode,
    outputs: Vec<WorkerOutput>,
    stop: &AtomicBool,
    unverifiable: bool,
) -> Measured {
    let (mut lat, mut slat, mut clat) = (Latencies::new(), Latencies::new(), Latencies::new());
    let mut c = Counters::default();
    let mut claims = ClaimSet::new(spec.locks());
    let mut unsettled = Vec::new();
    let mut per_lock = vec![LockCounters::default(); spec.locks() as usize];
    let mut device = DeviceMiscompares::default();
    let (mut ring, mut finals, mut duration_s, mut samples) = (RingReport::default(), Vec::new(), 0f64, Vec::new());
    let first_corrupt = earliest_corrupt(&outputs);
    let mut faults = Faults {
        grace_s: spec.grace_ns() as f64 / 1e9,
        max_duration_s: matches!(spec.stop, super::StopAt::Ops(_)).then_some(spec.max_duration_s),
        ..Default::default()
    };
    for (i, o) in outputs.into_iter().enumerate() {
        o.faults.merge_into(i as u32, &mut faults.by_op);
        faults.abandoned += o.abandoned;
        faults.drain_s = faults.drain_s.max((o.drain_s * 1e6).round() / 1e6);
        if o.ended_by.rank() > faults.ended_by.rank() {
            faults.ended_by = o.ended_by;
        }
        if let Some(g) = o.gone.filter(|g| faults.device_gone.as_ref().is_none_or(|f| g.at_s < f.at_s)) {
            faults.device_gone = Some(g);
        }
        lat.merge(&o.lat);
        slat.merge(&o.slat);
        clat.merge(&o.clat);
        c.add(&o.counters);
        device.add(&o.device);
        claims.merge(o.claims);
        unsettled.extend(o.unsettled);
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
    settle(&mut claims, &unsettled, &finals);
    faults.error_rate = error_rate(c.errors + faults.abandoned, c.ops);
    // Abandoned commands may still land, the device is gone, or a reset may have cut writes
    // short (the final blocks were not read back): the final blocks are unknown, nothing is
    // verified.
    let unverifiable = unverifiable || faults.ended_by == crate::results::faults::EndedBy::Escalated;
    let verification = (spec.verify && spec.workload.uses_locks() && !unverifiable).then(|| match spec.workload {
        Workload::Compare => Verification { checked: c.ops, violations: c.undetected, ..Default::default() },
        _ => match barrier {
            None => claims.verify(&finals),
            Some(b) => b.verify_local(&claims, &finals),
        },
    });
    let m = c.miscompares;
    let compare = spec.workload == Workload::Compare;
    let total = if compare { device.reported } else { m.iter().sum() };
    let mut point = Point {
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
            torn_reads: c.torn_reads,
            injected: compare.then_some(c.injected),
            detected: compare.then_some(c.detected),
            undetected: compare.then_some(c.undetected),
        },
        miscompare_rate: {
            let attempts = attempts(spec.workload, c.ops, c.acquires, total);
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
        sim: None,
        interrupted: stop.load(Ordering::Relaxed),
        faults,
        repeats: Vec::new(),
        latency_ns: lat.summary(),
        slat_ns: slat.summary(),
        clat_ns: clat.summary(),
        host_share: barrier.map(|b| b.share(claims, &finals)),
        diagnosis: Vec::new(),
    };
    point.repeats = vec![point.as_repeat()];
    Measured { point, hist: Box::new(Histograms { lat, slat, clat }) }
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
