//! The diagnosis of each reported point: its figures taken from the result types, handed to
//! the pure `diagnose` module (a merged point's are taken in `hosts/merge.rs`).

use crate::backend::block::ExpectedFrom;
use crate::diagnose::{self, classes, Figures, Finding, Queue, Scope};
use crate::engine::PointSpec;
use crate::results::Point;
use crate::workload::Workload;

/// The figures of a point of `run`/`sweep` measured by `spec` on one of `hosts` hosts.
pub fn figures(p: &Point, spec: &PointSpec, hosts: u32) -> Figures {
    let scope = if hosts > 1 { Scope::ThisHostOf(hosts) } else { Scope::OneHost };
    let attempts = if p.workload == Workload::Heartbeat { p.acquires + p.miscompares.total } else { p.ops };
    let queue = p
        .sim
        .as_ref()
        .map(|s| Queue {
            depth: s.queue_depth,
            commands: s.commands,
            queued: s.queued,
            mean_wait_ns: s.queue_wait_mean_ns,
            in_flight: None,
        })
        .or_else(|| device_queue(p));
    Figures {
        workload: p.workload,
        ats_mode: p.ats_mode,
        qd: p.qd,
        attempts,
        miscompares: classes(&p.miscompares),
        actors_per_lock: p.actors_per_lock,
        shared_locks: spec.locks_shared(),
        scope,
        cross_host_atomic: None,
        verification: p.verification.as_ref().map(|v| (v.checked, v.violations, v.lost_updates)),
        errors: p.errors,
        error_sample: p.error_samples.first().cloned(),
        timeouts: p.timeouts,
        late_completions: p.late_completions,
        aborts: p.aborts.map(|a| (a.aborted, a.retry_own_write, a.retry_succeeded)),
        expected_from_cache: spec.expected_from == ExpectedFrom::Cache,
        queue,
        first_corrupt_lock: p.first_corrupt.map(|c| c.lock),
    }
}

/// A SCSI device's queue by Little's law: the commands in flight on average (every command's
/// completion latency, summed, over the point's duration) against the queue depth that sysfs
/// gave; the commands beyond it waited in the kernel, `(in flight - depth) / command rate` each.
fn device_queue(p: &Point) -> Option<Queue> {
    let depth = p.ring.backend.as_ref()?.device_queue_depth?;
    let commands: u64 = p.clat_ns.values().map(|l| l.count).sum();
    let busy_ns: f64 = p.clat_ns.values().map(|l| l.count as f64 * l.mean).sum();
    if commands == 0 || p.duration_s <= 0.0 {
        return None;
    }
    let in_flight = busy_ns / (p.duration_s * 1e9);
    let per_s = commands as f64 / p.duration_s;
    let wait_ns = (in_flight - f64::from(depth)).max(0.0) / per_s * 1e9;
    Some(Queue { depth: Some(depth), commands, queued: 0, mean_wait_ns: wait_ns as u64, in_flight: Some(in_flight) })
}

/// The diagnosis of a point of `run`/`sweep` on one of `hosts` hosts.
pub fn of_point(p: &Point, spec: &PointSpec, hosts: u32) -> Vec<Finding> {
    diagnose::diagnose(&figures(p, spec, hosts))
}
