//! Reading `atsbench/1` and `atsbench/2` files: their own lenient shapes, upgraded to the
//! current document. Unknown keys are ignored; keys that only some points or versions have
//! default; what a comparison needs (a point's identity, `ops`, `iops`, `latency_ns`,
//! `miscompares`) must be there. What the old schemas lacked is left at its zero (no
//! intervals, `interval_ns` 0); a point without `repeats` becomes its own single repeat.
//!
//! `atsbench/1` points have `locks` and no contention axis: their `contention` was an object of
//! in-flight counts, not the axis, and is dropped.

use super::AtsMode;
use super::{ByKind, Config, Document, Miscompares, Point, Region, Repeat, StopAt, TargetInfo};
use crate::verify::history::Verification;
use crate::workload::Workload;
use serde::de::{IgnoredAny, IntoDeserializer};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

#[derive(Deserialize, Default)]
#[serde(default)]
// wide: the old results schema as it was, for the upgrade reader
struct OldConfig {
    command: String,
    workloads: Vec<String>,
    qd: Vec<u32>,
    threads: Vec<u32>,
    locks: Vec<u32>,
    contention: Vec<u32>,
    bs: u32,
    region: Option<Region>,
    stop: Option<StopAt>,
    rate: Option<f64>,
    repeat: Option<u32>,
    interleave: bool,
    verify: Option<bool>,
    sqpoll: Option<bool>,
    iopoll: Option<bool>,
    force: bool,
    miscompare_fraction: Option<f64>,
    seed: Option<u64>,
    host_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
// wide: the old results schema as it was, for the upgrade reader
struct OldTarget<'a> {
    path: String,
    backend: String,
    size_bytes: u64,
    logical_block_size: u32,
    physical_block_size: Option<u32>,
    model: Option<String>,
    firmware: Option<String>,
    serial: Option<String>,
    driver: Option<String>,
    kernel: String,
    filesystem: Option<String>,
    backing_file: Option<String>,
    temporary: bool,
    #[serde(borrow)]
    probe: Option<&'a RawValue>,
}

impl From<OldTarget<'_>> for TargetInfo {
    fn from(t: OldTarget<'_>) -> TargetInfo {
        TargetInfo {
            path: t.path,
            backend: t.backend,
            size_bytes: t.size_bytes,
            logical_block_size: t.logical_block_size,
            physical_block_size: t.physical_block_size,
            model: t.model,
            firmware: t.firmware,
            serial: t.serial,
            driver: t.driver,
            kernel: t.kernel,
            filesystem: t.filesystem,
            backing_file: t.backing_file,
            temporary: t.temporary,
            // A probe of a shape this atsbench does not know is left out (it is descriptive).
            probe: t.probe.and_then(|p| serde_json::from_str(p.get()).ok()),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OldVerification {
    checked: u64,
    violations: u64,
    lost_updates: u64,
    problems: Vec<String>,
}

#[derive(Deserialize)]
struct OldRepeat {
    ops: u64,
    duration_s: f64,
    iops: f64,
    latency_ns: ByKind,
    miscompares: Miscompares,
    #[serde(default)]
    errors: u64,
    #[serde(default)]
    verification: Option<OldVerification>,
}

#[derive(Deserialize)]
// wide: the old results schema as it was, for the upgrade reader
struct OldPoint {
    workload: Workload,
    #[serde(default)]
    ats_mode: Option<AtsMode>,
    qd: u32,
    threads: u32,
    #[serde(default)]
    locks: u32,
    #[serde(default, deserialize_with = "axis_value")]
    contention: Option<u32>,
    #[serde(default)]
    actors_per_lock: f64,
    bs: u32,
    ops: u64,
    duration_s: f64,
    iops: f64,
    latency_ns: ByKind,
    #[serde(default)]
    slat_ns: ByKind,
    #[serde(default)]
    clat_ns: ByKind,
    miscompares: Miscompares,
    #[serde(default)]
    miscompare_rate: f64,
    #[serde(default)]
    retries: u64,
    #[serde(default)]
    acquires: u64,
    #[serde(default)]
    errors: u64,
    #[serde(default)]
    timeouts: u64,
    #[serde(default)]
    late_completions: u64,
    #[serde(default)]
    error_samples: Vec<String>,
    #[serde(default)]
    verification: Option<OldVerification>,
    #[serde(default)]
    repeats: Vec<OldRepeat>,
    #[serde(default)]
    interrupted: bool,
}

/// `contention` as the lock axis: a number, or nothing (null, or atsbench/1's object).
fn axis_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Axis {
        Number(u32),
        Other(IgnoredAny),
    }
    Ok(match Option::<Axis>::deserialize(d)? {
        Some(Axis::Number(k)) => Some(k),
        _ => None,
    })
}

impl From<OldVerification> for Verification {
    fn from(v: OldVerification) -> Verification {
        Verification {
            checked: v.checked,
            violations: v.violations,
            lost_updates: v.lost_updates,
            scope: None,
            problems: v.problems,
        }
    }
}

fn rate(m: &Miscompares, ops: u64) -> f64 {
    if ops == 0 {
        0.0
    } else {
        m.total as f64 / ops as f64
    }
}

impl From<OldPoint> for Point {
    fn from(o: OldPoint) -> Point {
        let mut p = Point {
            workload: o.workload,
            ats_mode: o.ats_mode,
            qd: o.qd,
            threads: o.threads,
            locks: o.locks,
            contention: o.contention,
            actors_per_lock: o.actors_per_lock,
            bs: o.bs,
            ops: o.ops,
            duration_s: o.duration_s,
            iops: o.iops,
            latency_ns: o.latency_ns,
            slat_ns: o.slat_ns,
            clat_ns: o.clat_ns,
            miscompares: o.miscompares,
            miscompare_rate: o.miscompare_rate,
            retries: o.retries,
            acquires: o.acquires,
            errors: o.errors,
            timeouts: o.timeouts,
            late_completions: o.late_completions,
            error_samples: o.error_samples,
            verification: o.verification.map(Verification::from),
            interrupted: o.interrupted,
            ..Point::default()
        };
        p.repeats = if o.repeats.is_empty() {
            vec![p.as_repeat()]
        } else {
            o.repeats
                .into_iter()
                .map(|r| Repeat {
                    ops: r.ops,
                    duration_s: r.duration_s,
                    iops: r.iops,
                    miscompare_rate: rate(&r.miscompares, r.ops),
                    latency_ns: r.latency_ns,
                    miscompares: r.miscompares,
                    errors: r.errors,
                    verification: r.verification.map(Verification::from),
                    intervals: Default::default(),
                })
                .collect()
        };
        p
    }
}

impl From<OldConfig> for Config {
    fn from(c: OldConfig) -> Config {
        Config {
            command: c.command,
            // A workload this atsbench does not know is left out of the list (it is descriptive).
            workloads: c
                .workloads
                .iter()
                .filter_map(|w| {
                    Workload::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(w.as_str()))
                        .ok()
                })
                .collect(),
            qd: c.qd,
            threads: c.threads,
            contention: c.contention,
            locks: c.locks,
            bs: c.bs,
            region: c.region,
            stop: c.stop,
            rate: c.rate,
            repeat: c.repeat.unwrap_or(1),
            interleave: c.interleave,
            verify: c.verify.unwrap_or(false),
            sqpoll: c.sqpoll.unwrap_or(false),
            iopoll: c.iopoll.unwrap_or(false),
            force: c.force,
            miscompare_fraction: c.miscompare_fraction.unwrap_or(0.0),
            seed: c.seed.unwrap_or(0),
            host_id: c.host_id.unwrap_or_default(),
            hosts: 1,
            ..Config::default()
        }
    }
}

/// Upgrade the parts of an `atsbench/1` or `/2` file; an error names the part.
pub(super) fn upgrade(
    version: String,
    config: &RawValue,
    target: &RawValue,
    points: &[&RawValue],
) -> Result<Document, (String, serde_json::Error)> {
    let config: OldConfig = serde_json::from_str(config.get()).map_err(|e| ("config".to_string(), e))?;
    let target: OldTarget = serde_json::from_str(target.get()).map_err(|e| ("target".to_string(), e))?;
    let points = points
        .iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_str::<OldPoint>(v.get()).map(Point::from).map_err(|e| (format!("points[{i}]"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Document {
        schema: super::SCHEMA.into(),
        version,
        config: config.into(),
        target: target.into(),
        conformance: None,
        points,
    })
}
