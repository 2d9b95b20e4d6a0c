//! What the rules read: the figures of one point. `app` takes them from a point of
//! `run`/`sweep`, `hosts` from a merged point of `merge` (this module does not know the result
//! types).

use crate::backend::AtsMode;
use crate::workload::Workload;

/// Whose attempts the figures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One host alone.
    OneHost,
    /// One host of a multi-host run: its own attempts and a partial verification.
    ThisHostOf(u32),
    /// All hosts of a multi-host run, merged.
    AllHosts(u32),
}

impl Scope {
    pub fn hosts(self) -> u32 {
        match self {
            Scope::OneHost => 1,
            Scope::ThisHostOf(n) | Scope::AllHosts(n) => n,
        }
    }
}

/// The device queue's figures: counted where the device reports them (the simulated device
/// does), or estimated from the queue depth sysfs gives a SCSI device (`in_flight` set).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Queue {
    /// The device's command slots.
    pub depth: Option<u32>,
    pub commands: u64,
    /// Commands that waited for a device slot (counted; 0 when estimated), and their mean wait.
    pub queued: u64,
    pub mean_wait_ns: u64,
    /// Estimated: the mean number of commands in flight by Little's law (the command rate
    /// times their mean completion latency); `mean_wait_ns` is then what the commands beyond
    /// the depth add to each command's latency.
    pub in_flight: Option<f64>,
}

/// Miscompares by class (as `engine::Miscompares` counts them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Classes {
    pub total: u64,
    pub contention: u64,
    pub own_write: u64,
    pub corrupt: u64,
    /// Of `corrupt`: torn between two records.
    pub torn: u64,
    /// Of `torn`: the retry found a whole record, so the tear was in the read.
    pub torn_reads: u64,
    pub stale: u64,
    pub false_: u64,
    pub split: u64,
}

/// The figures of one point that the rules read.
#[derive(Debug, Clone, PartialEq)]
// wide: flat, so that each rule names the figures it reads
pub struct Figures {
    pub workload: Workload,
    pub ats_mode: Option<AtsMode>,
    pub qd: u32,
    /// ATS (or rmw) attempts.
    pub attempts: u64,
    pub miscompares: Classes,
    pub actors_per_lock: f64,
    /// Actors share lock blocks: more than one per block, or placed at random by `--locks`
    /// (where a mean of one per block still shares some).
    pub shared_locks: bool,
    pub scope: Scope,
    /// Whether the compare-and-write serialises across hosts (merged points only).
    pub cross_host_atomic: Option<bool>,
    /// The history check: (checked, violations, lost updates); None when not verified.
    pub verification: Option<(u64, u64, u64)>,
    pub errors: u64,
    pub error_sample: Option<String>,
    pub timeouts: u64,
    pub late_completions: u64,
    /// `--on-timeout abort`: (aborted by the kernel, retries that found their own write,
    /// retries that succeeded).
    pub aborts: Option<(u64, u64, u64)>,
    /// `--expected-from cache`: each attempt's expected image was read through the page cache.
    pub expected_from_cache: bool,
    pub queue: Option<Queue>,
    pub first_corrupt_lock: Option<u32>,
}

impl Figures {
    /// A clean point of `workload` with `attempts` attempts: the base of the rules' tests.
    pub fn clean(workload: Workload, ats_mode: Option<AtsMode>, attempts: u64) -> Figures {
        Figures {
            workload,
            ats_mode,
            qd: 1,
            attempts,
            miscompares: Classes::default(),
            actors_per_lock: 1.0,
            shared_locks: false,
            scope: Scope::OneHost,
            cross_host_atomic: None,
            verification: Some((attempts, 0, 0)),
            errors: 0,
            error_sample: None,
            timeouts: 0,
            late_completions: 0,
            aborts: None,
            expected_from_cache: false,
            queue: None,
            first_corrupt_lock: None,
        }
    }

    /// Whether the compare-and-write is the device's (one command), not the host's.
    pub fn device_ats(&self) -> bool {
        self.workload != Workload::Rmw && matches!(self.ats_mode, Some(AtsMode::Device) | None)
    }

    pub fn violations(&self) -> u64 {
        self.verification.map_or(0, |v| v.1)
    }

    pub fn lost_updates(&self) -> u64 {
        self.verification.map_or(0, |v| v.2)
    }
}
