//! The faults of a point as the results keep them: how it ended (its stop, the bounded drain,
//! the commands abandoned to the kernel) and the I/O errors the device returned, by
//! operation kind and decoded kind, with a few samples. The engine fills them
//! (`engine::faults`); an error is never a miscompare.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Error samples kept per operation kind.
pub const SAMPLES: usize = 4;

/// How a point ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// Its `--duration` ran out.
    #[default]
    Duration,
    /// Its `--ops` were done.
    Ops,
    /// `--ops` were not done within `--max-duration`.
    MaxDuration,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// A worker failed (the run ends with that error).
    Failed,
    /// The device went away (ENODEV, ENXIO, DID_NO_CONNECT, DID_BAD_TARGET): the point
    /// ended at once, the run ends after writing it (exit 8).
    DeviceGone,
    /// `--on-timeout abort`: the kernel went beyond ABORT TASK (a LUN, target or host reset, or
    /// the device offline); the run stops there with exit 8, its results written.
    Escalated,
}

impl EndedBy {
    /// How much an ending says, to pick one for several workers or repeats: an interruption,
    /// then an escalation, a device gone, a failure, `--max-duration`, and last the asked-for stops.
    pub fn rank(self) -> u8 {
        match self {
            EndedBy::Duration => 0,
            EndedBy::Ops => 1,
            EndedBy::MaxDuration => 2,
            EndedBy::Failed => 3,
            EndedBy::DeviceGone => 4,
            EndedBy::Escalated => 5,
            EndedBy::Interrupted => 6,
        }
    }
}

/// What one point's faults amounted to: the `faults` object of a point in the results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Faults {
    pub ended_by: EndedBy,
    /// With `--ops`: the time limit of the point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_s: Option<f64>,
    /// How long the drain could last: commands still out at the stop were waited for this
    /// long at most (the larger of 1 s and `--timeout`).
    pub grace_s: f64,
    /// How long the drain lasted (the longest over the workers).
    pub drain_s: f64,
    /// Commands still out when the grace ran out, left to the kernel (over all kinds).
    pub abandoned: u64,
    /// Failed commands (errors and abandoned commands) over completed operations plus failed
    /// commands: what `--max-error-rate` is held to.
    pub error_rate: f64,
    /// Per command kind (read, write, compare, ats): the errors and what became of commands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_op: BTreeMap<String, OpFaults>,
    /// The device went away during the point: the first error that said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_gone: Option<DeviceGone>,
}

/// The error that said the device was gone (`ended_by: device_gone`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceGone {
    /// What said so, in a few words: `ENODEV`, `ENXIO` (errno), `DID_NO_CONNECT`,
    /// `DID_BAD_TARGET` (SCSI host status).
    pub error: String,
    /// Seconds since the worker began measuring.
    pub at_s: f64,
    pub worker: u32,
    /// The failed command's decoded status.
    pub status: String,
}

/// The faults of one command kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpFaults {
    pub errors: u64,
    /// Errors by decoded kind: SCSI status and sense key/ASC/ASCQ, NVMe SCT/SC, or errno.
    pub by_kind: BTreeMap<String, u64>,
    /// The first few errors.
    pub samples: Vec<ErrorSample>,
    /// Commands sent again: after a `--timeout` (the same images), or an ATS attempt started
    /// again after its command failed.
    pub retried: u64,
    /// Still out when the drain's grace ran out.
    pub abandoned: u64,
    /// Errors that say the command was aborted or timed out by the host or device (SCSI
    /// TASK ABORTED, DID_ABORT/DID_TIME_OUT/DID_RESET, NVMe Command Abort Requested,
    /// ECANCELED, ETIMEDOUT).
    pub aborted: u64,
}

/// One error as kept for the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorSample {
    /// Seconds since the worker began measuring.
    pub at_s: f64,
    pub worker: u32,
    /// The command's first logical block (of the point's block size).
    pub lba: u64,
    pub status: String,
}

impl Faults {
    /// The commonest error kind over all command kinds, with its count.
    pub fn commonest(&self) -> Option<(&str, u64)> {
        let mut all: BTreeMap<&str, u64> = BTreeMap::new();
        for o in self.by_op.values() {
            for (k, n) in &o.by_kind {
                *all.entry(k.as_str()).or_default() += n;
            }
        }
        all.into_iter().max_by_key(|&(k, n)| (n, std::cmp::Reverse(k)))
    }

    /// Add another repeat's faults: counts add up, the ending is the most telling one.
    pub fn add(&mut self, o: &Faults) {
        if o.ended_by.rank() > self.ended_by.rank() {
            self.ended_by = o.ended_by;
        }
        if self.device_gone.is_none() {
            self.device_gone.clone_from(&o.device_gone);
        }
        self.drain_s = self.drain_s.max(o.drain_s);
        self.abandoned += o.abandoned;
        for (k, b) in &o.by_op {
            let a = self.by_op.entry(k.clone()).or_default();
            a.errors += b.errors;
            for (kind, n) in &b.by_kind {
                *a.by_kind.entry(kind.clone()).or_default() += n;
            }
            a.samples.extend(b.samples.iter().cloned());
            a.samples.truncate(SAMPLES);
            a.retried += b.retried;
            a.abandoned += b.abandoned;
            a.aborted += b.aborted;
        }
    }

    /// The commonest error kind in a few words, for a table cell: `MEDIUM ERROR 11/00`,
    /// `NVMe 2h/81h`, `EIO`.
    pub fn commonest_short(&self) -> Option<String> {
        let (name, _) = self.commonest()?;
        Some(short_kind(name))
    }

    /// Errors over all command kinds.
    pub fn errors(&self) -> u64 {
        self.by_op.values().map(|o| o.errors).sum()
    }
}

/// The commonest kind's name in a few words.
pub(crate) fn short_kind(name: &str) -> String {
    let head = name.split(" (").next().unwrap_or(name);
    if let Some(rest) = head.strip_prefix("errno ") {
        return rest.to_string();
    }
    if let Some(rest) = head.strip_prefix("NVMe SCT ") {
        // "2h SC 81h"
        return format!("NVMe {}", rest.replace(" SC ", "/"));
    }
    match head.rsplit_once(", ") {
        Some((_, last)) => last.to_string(),
        None => head.trim_start_matches("SCSI ").to_string(),
    }
}
