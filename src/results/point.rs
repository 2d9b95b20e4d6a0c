//! One point of the document: its identity, merged figures and every repeat.

use super::intervals::Intervals;
use crate::verify::claims::ClaimSet;
use crate::verify::history::FinalBlock;
use crate::verify::history::Verification;
use crate::workload::Workload;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the `ats` workload is carried out on a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AtsMode {
    /// Read, compare in the host, write, serialised per lock block among this process's
    /// workers (as LIO and SPDK emulate COMPARE AND WRITE).
    HostEmulated,
    /// A device-side compare followed by a write, serialised per lock block (NVMe without
    /// fused commands).
    CompareThenWrite,
    /// One device-side atomic compare-and-write command (SCSI COMPARE AND WRITE).
    Device,
}

impl AtsMode {
    /// The mode as results spell it.
    pub fn name(self) -> &'static str {
        match self {
            AtsMode::HostEmulated => "host-emulated",
            AtsMode::CompareThenWrite => "compare-then-write",
            AtsMode::Device => "device",
        }
    }
}

/// Latency percentiles of one kind, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

/// Latency summaries by operation kind (`read`, `write`, `compare`, `ats`, `acquire`).
pub type ByKind = BTreeMap<String, LatencySummary>;

/// Miscompare counts by class. For `compare`, `total` is every miscompare the device
/// reported: `detected` of the `injected` wrong images plus `false` ones on correct images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// Of the `torn` ones: those whose retry, sent with the torn image as the expected one,
    /// found a whole record on the medium: the tear was in the READ (a read racing a write the
    /// target does not serialise it against), not in a write.
    #[serde(default)]
    pub torn_reads: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injected: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undetected: Option<u64>,
}

/// The miscompare classes, in the order reports list them (`total` first).
pub const CLASSES: [&str; 7] = ["total", "contention", "own_write", "corrupt", "stale", "false", "split"];

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
        self.torn_reads += o.torn_reads;
        self.injected = add_opt(self.injected, o.injected);
        self.detected = add_opt(self.detected, o.detected);
        self.undetected = add_opt(self.undetected, o.undetected);
    }

    /// The count of `class` (one of [`CLASSES`]).
    pub fn get(&self, class: &str) -> u64 {
        match class {
            "total" => self.total,
            "contention" => self.contention,
            "own_write" => self.own_write,
            "corrupt" => self.corrupt,
            "stale" => self.stale,
            "false" => self.false_,
            "split" => self.split,
            _ => unreachable!("miscompare class `{class}`"),
        }
    }
}

/// `--on-timeout abort`: COMPARE AND WRITEs the kernel timed out and aborted at the target, and
/// what the retry of the same images found: its own write (the aborted command had been
/// applied: ESXi's false miscompare), success (it had not), or another writer's record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Miscompares as the device reported them, with the byte offset of the first difference
/// where it said (SCSI sense INFORMATION).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FirstCorrupt {
    pub lock: u32,
    pub at_s: f64,
    pub worker: u32,
}

/// What happened on one lock block, over all workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LockReport {
    pub lock: u32,
    pub attempts: u64,
    pub successes: u64,
    pub miscompares: u64,
}

/// How the rings were set up, for the results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RingReport {
    pub flags: Vec<String>,
    pub fixed_buffers: bool,
    pub pinned: bool,
    /// What the backend used (transport, command path), where it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendReport>,
}

/// What a backend used, as it reports it: the keys of its kind (none for files and block
/// devices).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// wide: one object of the published results schema, one field per key
pub struct BackendReport {
    /// `sim`: the simulated device and its command set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// NVMe: the command path, the namespace, and whether buffers are registered (and why not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_buffers: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_buffers_refused: Option<String>,
    /// SCSI: the transport (`sg`, `bsg-uring`, `sg-sync`), blocks per COMPARE AND WRITE, the
    /// DPO/FUA bits, and the transport's own figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caw_blocks: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fua: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsg_uring: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsg_node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sg_fds_per_worker: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots_per_sg_fd: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_rearms: Option<u64>,
    /// SCSI devices (an sg node, or a disk the sd driver made): the device's queue depth as
    /// sysfs gave it when the point started (`device/queue_depth`): commands beyond it wait in
    /// the kernel, unseen by the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_queue_depth: Option<u32>,
}

/// What the simulated device did over all workers of a point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimReport {
    pub protocol: String,
    /// `--sim-latency`, as given.
    pub latency: String,
    /// `--sim-qd`: the device's own queue depth (null: unlimited).
    pub queue_depth: Option<u32>,
    /// The spike a `latency-spike` fault adds, where it is injected.
    pub spike_ns: Option<u64>,
    pub commands: u64,
    /// Commands that waited for a device slot, their mean and longest wait.
    pub queued: u64,
    pub queue_wait_mean_ns: u64,
    pub queue_wait_max_ns: u64,
    /// Per injected fault kind (`--sim-inject`): its rate, the commands it could strike, and
    /// those it struck.
    pub faults: BTreeMap<String, FaultReport>,
    /// Where the first injected foreign write landed (byte offset).
    pub first_foreign_write: Option<ForeignWrite>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FaultReport {
    pub rate: f64,
    pub eligible: u64,
    pub injected: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ForeignWrite {
    pub offset: u64,
}

/// One repeat's figures (`--repeat`; a point measured once has one repeat), with the time
/// series of its intervals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Repeat {
    pub ops: u64,
    pub duration_s: f64,
    pub iops: f64,
    pub latency_ns: ByKind,
    pub miscompares: Miscompares,
    pub miscompare_rate: f64,
    pub errors: u64,
    pub verification: Option<Verification>,
    /// The repeat's intervals (absent only in files upgraded from atsbench/1 and /2).
    #[serde(default, skip_serializing_if = "Intervals::is_empty")]
    pub intervals: Intervals,
}

/// The result of one point: its identity, the figures of all its repeats together, and every
/// repeat's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
// wide: one object of the published results schema, one field per key
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
    /// With several repeats, from the repeats' merged histograms.
    pub latency_ns: ByKind,
    /// Submission latency (fio's `slat`) by command kind: queued to submitted.
    pub slat_ns: ByKind,
    /// Completion latency (fio's `clat`) by command kind: submitted to reaped.
    pub clat_ns: ByKind,
    pub miscompares: Miscompares,
    pub miscompare_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_miscompares: Option<DeviceMiscompares>,
    pub retries: u64,
    pub acquires: u64,
    pub errors: u64,
    /// ATS commands given up after `--timeout` (and retried with the same images), and
    /// completions of given-up commands that came later.
    pub timeouts: u64,
    pub late_completions: u64,
    /// `--on-timeout abort` only: the kernel's aborts and what their retries found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborts: Option<Aborts>,
    /// Where and when the first `corrupt` miscompare was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_corrupt: Option<FirstCorrupt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    pub verification: Option<Verification>,
    /// Per lock block, for up to 64 lock blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_lock: Vec<LockReport>,
    pub ring: RingReport,
    /// What the simulated device did over all workers (sim targets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim: Option<SimReport>,
    /// True when the point ended early (interrupt).
    pub interrupted: bool,
    /// How the point ended (drain, abandoned commands) and its I/O errors by kind.
    #[serde(default)]
    pub faults: super::faults::Faults,
    /// Every repeat's figures, in the order measured: one for a point measured once.
    pub repeats: Vec<Repeat>,
    /// One host of several (`--hosts`): its claims and the final lock blocks, for the merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_share: Option<HostShare>,
    /// Which mechanism caused what the point shows, most important first (`diagnose`); set
    /// when the point is reported.
    #[serde(default)]
    pub diagnosis: Vec<super::Finding>,
}

impl Point {
    /// This point's own figures as one repeat (`intervals` left empty).
    pub fn as_repeat(&self) -> Repeat {
        Repeat {
            ops: self.ops,
            duration_s: self.duration_s,
            iops: self.iops,
            latency_ns: self.latency_ns.clone(),
            miscompares: self.miscompares,
            miscompare_rate: self.miscompare_rate,
            errors: self.errors,
            verification: self.verification.clone(),
            intervals: Intervals::default(),
        }
    }
}

/// One host's share of a point of a multi-host run, in its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostShare {
    /// This host's index (`--host-id`).
    pub host_index: u32,
    /// Host 0's nonce of the run (hex): equal in the results of all hosts of one run, different
    /// in every run, so that results of different runs are not merged.
    pub session: String,
    /// This host's claimed generations, in bounded memory.
    pub claims: ClaimSet,
    /// The final lock blocks as this host read them once every host was done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finals: Vec<FinalBlock>,
}
