//! What a worker counts while it measures: latencies, events, per-lock counters, the claimed
//! ATS history and a few error samples. Owned by one worker, merged at the end of the point.

use super::Step;
use crate::backend::IoError;
use crate::engine::faults::ErrorTable;
use crate::results::{DeviceMiscompares, LockReport};
use crate::stats::Recorder;
use crate::verify::claims::ClaimSet;
use crate::verify::history::Claim;
use std::fmt;

/// Event counters of one worker.
#[derive(Debug, Clone, Copy, Default)]
// wide: one counter per event, merged field by field
pub struct Counters {
    /// Completed operations: I/Os for read/write/compare, attempts for ats/rmw.
    pub ops: u64,
    pub acquires: u64,
    pub retries: u64,
    pub errors: u64,
    /// By `Class::index()`.
    pub miscompares: [u64; 6],
    /// Of the `corrupt` ones: blocks torn between two records (header of one, tail of another).
    pub torn: u64,
    /// Of the `torn` ones: those after which the retry found a whole record on the medium, so
    /// the tear was in the read.
    pub torn_reads: u64,
    pub injected: u64,
    /// Injected wrong images the device reported as miscompares.
    pub detected: u64,
    pub undetected: u64,
    /// ATS commands given up after `--timeout`, and their completions that came later.
    pub timeouts: u64,
    pub late_completions: u64,
    /// `--on-timeout abort`: what the kernel's aborts did.
    pub aborts: crate::results::Aborts,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.ops += o.ops;
        self.acquires += o.acquires;
        self.retries += o.retries;
        self.errors += o.errors;
        for (a, b) in self.miscompares.iter_mut().zip(o.miscompares) {
            *a += b;
        }
        self.torn += o.torn;
        self.torn_reads += o.torn_reads;
        self.injected += o.injected;
        self.detected += o.detected;
        self.undetected += o.undetected;
        self.timeouts += o.timeouts;
        self.late_completions += o.late_completions;
        self.aborts.add(&o.aborts);
    }
}

/// What one worker saw of one lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct LockCounters {
    pub attempts: u64,
    pub successes: u64,
    pub miscompares: u64,
}

impl LockCounters {
    pub fn add(&mut self, o: &LockCounters) {
        self.attempts += o.attempts;
        self.successes += o.successes;
        self.miscompares += o.miscompares;
    }

    pub fn report(&self, lock: u32) -> LockReport {
        LockReport { lock, attempts: self.attempts, successes: self.successes, miscompares: self.miscompares }
    }
}

/// A failed command as kept: copied, formatted only for the results.
#[derive(Debug, Clone, Copy)]
pub struct ErrorSample {
    pub step: Step,
    /// The lock block, for lock workloads.
    pub lock: Option<u32>,
    pub error: IoError,
}

impl fmt::Display for ErrorSample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lock {
            Some(l) => write!(f, "{:?} on lock {l}: {}", self.step, self.error),
            None => write!(f, "{:?} on a random block: {}", self.step, self.error),
        }
    }
}

/// Error samples a worker keeps.
pub const SAMPLES: usize = 8;

pub(super) struct Tally {
    pub lat: Recorder,
    pub slat: Recorder,
    pub clat: Recorder,
    pub counters: Counters,
    pub per_lock: Vec<LockCounters>,
    /// The generations this worker claimed, in bounded memory.
    pub claims: ClaimSet,
    pub device: DeviceMiscompares,
    pub samples: [Option<ErrorSample>; SAMPLES],
    pub nsamples: usize,
    /// Errors by command kind and decoded kind, and the fates of commands.
    pub faults: ErrorTable,
    /// The first miscompare classified `corrupt`: when (ns since the worker began measuring)
    /// and on which lock.
    pub first_corrupt: Option<(u64, u32)>,
    /// Attempts whose write failed at the stop and were not sent again: the write may have
    /// landed anyway; the final blocks tell (see `engine::result::combine`). At most one per
    /// slot.
    pub unsettled: Vec<Claim>,
}

impl Tally {
    pub fn new(locks: usize, claims: u32) -> Self {
        Tally {
            lat: Recorder::new(),
            slat: Recorder::new(),
            clat: Recorder::new(),
            counters: Counters::default(),
            per_lock: vec![LockCounters::default(); locks],
            claims: ClaimSet::new(claims),
            device: DeviceMiscompares::default(),
            samples: [None; SAMPLES],
            nsamples: 0,
            faults: ErrorTable::new(),
            first_corrupt: None,
            unsettled: Vec::new(),
        }
    }

    /// Count an error and keep it if fewer than `SAMPLES` are kept.
    #[inline]
    pub fn error(&mut self, sample: ErrorSample) {
        self.counters.errors += 1;
        if self.nsamples < SAMPLES {
            self.samples[self.nsamples] = Some(sample);
            self.nsamples += 1;
        }
    }

    pub fn first_error(&self) -> Option<ErrorSample> {
        self.samples[0]
    }

    pub fn error_samples(&self) -> Vec<ErrorSample> {
        self.samples.iter().flatten().copied().collect()
    }
}
