//! The diagnosis of each reported point: its figures taken from the result types, handed to
//! the pure `diagnose` module.

use crate::backend::block::ExpectedFrom;
use crate::diagnose::{self, Classes, Figures, Finding, Queue, Scope};
use crate::engine::{Miscompares, Point, PointSpec};
use crate::workload::Workload;

pub fn classes(m: &Miscompares) -> Classes {
    Classes {
        total: m.total,
        contention: m.contention,
        own_write: m.own_write,
        corrupt: m.corrupt,
        torn: m.torn,
        stale: m.stale,
        false_: m.false_,
        split: m.split,
    }
}

/// The figures of a point of `run`/`sweep` measured by `spec`.
pub fn figures(p: &Point, spec: &PointSpec) -> Figures {
    let scope = match spec.hosts.as_deref() {
        Some(m) if m.count > 1 => Scope::ThisHostOf(m.count),
        _ => Scope::OneHost,
    };
    let attempts = if p.workload == Workload::Heartbeat { p.acquires + p.miscompares.total } else { p.ops };
    let sim = |k: &str| p.sim.get(k).and_then(serde_json::Value::as_u64);
    let queue = sim("queued").map(|queued| Queue {
        depth: sim("queue_depth").map(|d| d as u32),
        commands: sim("commands").unwrap_or(0),
        queued,
        mean_wait_ns: sim("queue_wait_mean_ns").unwrap_or(0),
    });
    Figures {
        workload: p.workload,
        ats_mode: p.ats_mode,
        qd: p.qd,
        attempts,
        miscompares: classes(&p.miscompares),
        actors_per_lock: p.actors_per_lock,
        scope,
        cross_host_atomic: None,
        verification: p.verification.as_ref().map(|v| (v.checked, v.violations, v.lost_updates)),
        errors: p.errors,
        error_sample: p.error_samples.first().cloned(),
        timeouts: p.timeouts,
        late_completions: p.late_completions,
        expected_from_cache: spec.expected_from == ExpectedFrom::Cache,
        queue,
        first_corrupt_lock: p.first_corrupt.map(|c| c.lock),
    }
}

/// The diagnosis of a point of `run`/`sweep`.
pub fn of_point(p: &Point, spec: &PointSpec) -> Vec<Finding> {
    diagnose::diagnose(&figures(p, spec))
}
