//! The engine: one pinned worker per CPU, each with its own ring, slab, RNG and histograms.
//! Workers share only the stop flags and, for host-serialised ATS on lock blocks that several
//! actors share, one lock word per lock block.
//!
//! The actors are the queue slots of every worker (`threads x qd` of them). Each actor runs
//! one operation at a time. For the lock workloads the actors are placed on lock blocks by
//! [`LockPlan`]: `Contention(K)` gives every K actors a lock block of their own (K = 1, the
//! default: nobody shares, so a queue-depth sweep measures the device), `Locks(N)` lets every
//! attempt pick one of N lock blocks at random.
//!
//! One host of several meets the others at point boundaries through a [`PointBarrier`] given
//! beside the spec (`barrier.rs`); the protocol itself is in `hosts`.

pub mod barrier;
pub mod faults;
mod locks;
mod result;
pub mod series;
mod worker;

pub use crate::results::StopAt;
pub use barrier::{BlockIo, Done, PointBarrier};
pub use locks::LockTable;
pub use result::{combine_repeats, Histograms, Measured};

use crate::backend::block::ExpectedFrom;
use crate::backend::{Factory, Op};
use crate::error::{Error, Result};
use crate::spec::Region;
use crate::workload::Workload;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
pub use worker::{IntervalSink, Snapshot};
use worker::{Shared, Worker, WorkerOutput};

/// The shortest drain at the end of a point (see [`PointSpec::grace_ns`]).
pub const GRACE_MIN_NS: u64 = 1_000_000_000;
/// The default `--max-duration` of a point measured by `--ops`, in seconds.
pub const DEFAULT_MAX_DURATION_S: f64 = 300.0;

/// How actors are placed on lock blocks: the contention axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockPlan {
    /// K actors per lock block, each always on its own block (actor a on block a / K).
    Contention(u32),
    /// N lock blocks; every attempt picks one at random.
    Locks(u32),
}

/// One measurement point, fully resolved.
#[derive(Debug, Clone, Serialize)]
// wide: the resolved point, recorded as is in the results; to be grouped by phase
pub struct PointSpec {
    pub workload: Workload,
    pub qd: u32,
    /// One entry per worker: the CPU it is pinned to, or None for unpinned.
    pub cpus: Vec<Option<usize>>,
    pub lock_plan: LockPlan,
    pub bs: u32,
    pub region: Region,
    pub stop: StopAt,
    /// With `StopAt::Ops`: the point ends after this many seconds even if its operations are
    /// not done (`--max-duration`).
    #[serde(skip)]
    pub max_duration_s: f64,
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
    /// `heartbeat`: nanoseconds between one worker's heartbeats.
    pub heartbeat_ns: u64,
    /// `--timeout`: a device-side ATS command not completed within this many nanoseconds is
    /// given up and the attempt retried with the same images (see `worker/timeout.rs`).
    pub timeout_ns: Option<u64>,
    /// `--on-timeout abort`: the kernel aborts timed-out COMPARE AND WRITEs (their sg timeout
    /// is the --timeout) and the worker retries the same images; `timeout_ns` is then None.
    #[serde(skip_serializing_if = "OnTimeout::is_resend")]
    pub on_timeout: OnTimeout,
    /// `--expected-from cache`: each attempt first reads its expected image buffered
    /// (`Op::ReadCached`) instead of taking the worker's last known record.
    #[serde(skip_serializing_if = "ExpectedFrom::is_device")]
    pub expected_from: ExpectedFrom,
}

impl PointSpec {
    /// A small point for tests and benchmarks, to change with struct update syntax: `workload`
    /// on one unpinned worker at QD 4, 512 B blocks in the first MiB, one operation, verified.
    pub fn example(workload: Workload) -> PointSpec {
        PointSpec {
            workload,
            qd: 4,
            cpus: vec![None],
            lock_plan: LockPlan::Contention(1),
            bs: 512,
            region: Region { start: 0, end: 1 << 20 },
            stop: StopAt::Ops(1),
            max_duration_s: DEFAULT_MAX_DURATION_S,
            rate: None,
            verify: true,
            sqpoll: false,
            iopoll: false,
            miscompare_fraction: 0.0,
            host: 1,
            seed: 1,
            heartbeat_ns: 0,
            timeout_ns: None,
            on_timeout: Default::default(),
            expected_from: ExpectedFrom::Device,
        }
    }
}

impl PointSpec {
    pub fn threads(&self) -> u32 {
        self.cpus.len() as u32
    }

    /// Actors: every queue slot of every worker.
    pub fn actors(&self) -> u64 {
        u64::from(self.threads()) * u64::from(self.qd)
    }

    /// Lock blocks the point uses (0 for workloads without them).
    pub fn locks(&self) -> u32 {
        if !self.workload.uses_locks() {
            return 0;
        }
        if self.workload == Workload::Heartbeat {
            return crate::workload::heartbeat::locks(self.threads());
        }
        match self.lock_plan {
            LockPlan::Contention(k) => self.actors().div_ceil(u64::from(k.max(1))).min(u64::from(u32::MAX)) as u32,
            LockPlan::Locks(n) => n,
        }
    }

    /// Actors per lock block: exact for `Contention` (the last block may have fewer), the
    /// mean for `Locks`.
    pub fn actors_per_lock(&self) -> f64 {
        if self.workload == Workload::Heartbeat {
            return 1.0;
        }
        match self.lock_plan {
            LockPlan::Contention(k) => self.actors().min(u64::from(k)) as f64,
            LockPlan::Locks(n) => self.actors() as f64 / f64::from(n.max(1)),
        }
    }

    /// The lock block of an actor, where the plan fixes one.
    pub fn lock_of(&self, worker: u32, slot: u32) -> Option<u32> {
        if self.workload == Workload::Heartbeat {
            return crate::workload::heartbeat::lock_of(worker, slot);
        }
        match self.lock_plan {
            LockPlan::Contention(k) => {
                Some(((u64::from(worker) * u64::from(self.qd) + u64::from(slot)) / u64::from(k.max(1))) as u32)
            }
            LockPlan::Locks(_) => None,
        }
    }

    /// Whether more than one actor can be on a lock block at once (and so host-side ATS must
    /// serialise them).
    pub fn locks_shared(&self) -> bool {
        if self.workload == Workload::Heartbeat {
            return false;
        }
        match self.lock_plan {
            LockPlan::Contention(k) => k > 1 && self.actors() > 1,
            LockPlan::Locks(_) => self.actors() > 1,
        }
    }

    /// How long commands still out at the end of the point are waited for before they are
    /// abandoned to the kernel: the larger of 1 s and `--timeout`.
    pub fn grace_ns(&self) -> u64 {
        self.timeout_ns.unwrap_or(0).max(GRACE_MIN_NS)
    }

    /// Request lanes per slot: 2 when ATS commands may be given up (the retry goes out on
    /// the other lane while the abandoned command still owns its buffers and user_data).
    pub fn lanes(&self) -> u32 {
        if self.timeout_ns.is_some() && self.workload == Workload::Ats {
            2
        } else {
            1
        }
    }

    /// Distinct user_data values per worker: every slot's lanes.
    pub fn requests(&self) -> usize {
        self.qd as usize * self.lanes() as usize
    }

    /// Bytes of slab per slot: for lock workloads the expected (E), new (N) and read (R)
    /// images, and E and N again for a second lane.
    pub fn slot_bytes(&self) -> usize {
        let blocks = if self.workload.uses_locks() { 3 + 2 * (self.lanes() as usize - 1) } else { 1 };
        blocks * self.bs as usize
    }

    /// Bytes of registered memory each worker needs.
    pub fn slab_bytes(&self) -> usize {
        self.slot_bytes() * self.qd as usize
    }
}

/// Run one point with one backend per worker, made by `factory` on the worker's thread, while
/// a collector thread assembles its intervals of `interval_ns` (`series`) into the results and,
/// where given, hands intervals to `log` (`--hdr-log`; the workers then take their snapshots
/// at the finer of the two widths). With several hosts, `barrier` is this host's part: worker 0
/// meets the others there before and after the point (`barrier.rs`); None for one host.
pub fn run_point<F: Factory>(
    spec: &PointSpec,
    barrier: Option<&dyn PointBarrier>,
    factory: &F,
    stop: &AtomicBool,
    interval_ns: u64,
    log: Option<series::LogSink<'_>>,
) -> Result<Measured> {
    let every_ns = log.as_ref().map_or(interval_ns, |l| l.every_ns.min(interval_ns)).max(1);
    let log = log.map(|l| l.log);
    let (tx, rx) = std::sync::mpsc::channel();
    let workers = spec.threads() as usize;
    let primary = match spec.workload {
        Workload::Read => crate::stats::Kind::Read,
        Workload::Write => crate::stats::Kind::Write,
        Workload::Compare => crate::stats::Kind::Compare,
        _ => crate::stats::Kind::Ats,
    };
    let (measured, (intervals, logged)) = std::thread::scope(|s| {
        let collector = s.spawn(move || series::collect(rx, (every_ns, interval_ns), workers, primary, log));
        let sink = IntervalSink { every_ns, tx };
        let measured = run_workers(spec, barrier, factory, stop, Some(&sink));
        drop(sink); // the workers' senders are gone too: the collector's loop ends
        let series = collector.join().unwrap_or_else(|_| {
            (crate::results::Intervals::default(), Err(std::io::Error::other("the interval collector panicked")))
        });
        (measured, series)
    });
    let mut measured = measured?;
    logged.map_err(|e| Error::Internal(format!("writing the interval log: {e}")))?;
    if let Some(r) = measured.point.repeats.first_mut() {
        r.intervals = intervals;
    }
    Ok(measured)
}

fn run_workers<F: Factory>(
    spec: &PointSpec,
    barrier: Option<&dyn PointBarrier>,
    factory: &F,
    stop: &AtomicBool,
    intervals: Option<&IntervalSink>,
) -> Result<Measured> {
    let caps = factory.caps();
    if spec.workload == Workload::Compare && !caps.compare {
        return Err(Error::Unsupported(
            "--workload compare needs a device-side compare (an NVMe namespace); block devices, files and SCSI \
             targets have none"
                .into(),
        ));
    }
    if spec.iopoll && !caps.iopoll {
        return Err(Error::Unsupported("this backend cannot poll for completions; drop --iopoll".into()));
    }
    if spec.timeout_ns.is_some()
        && spec.workload == Workload::Ats
        && caps.ats_mode == crate::backend::AtsMode::HostEmulated
    {
        return Err(Error::Unsupported(
            "--timeout gives up on device-side ATS commands, and this target's ATS is host-emulated (read, compare, \
             write); use a SCSI, NVMe or sim target, or drop --timeout"
                .into(),
        ));
    }
    let threads = spec.threads() as usize;
    let locks = LockTable::new(if spec.locks_shared() { spec.locks() } else { 0 });
    let (abort, abandoned, gone) = (AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false));
    let (ready, finished) = (Barrier::new(threads), Barrier::new(threads));
    let shared = Shared {
        spec,
        mode: caps.ats_mode,
        locks: &locks,
        stop,
        abort: &abort,
        abandoned: &abandoned,
        gone: &gone,
        ready: &ready,
        finished: &finished,
        intervals,
        barrier,
    };
    let outputs: Vec<Result<Option<WorkerOutput>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads as u32)
            .map(|w| {
                let shared = &shared;
                std::thread::Builder::new()
                    .name(format!("atsbench-w{w}"))
                    .spawn_scoped(s, move || Worker::run(w, shared, factory))
                    .map_err(|e| Error::Limit(format!("cannot start a worker thread ({e}); lower --threads")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h?.join().unwrap_or_else(|_| Err(Error::Internal("a worker panicked".into()))))
            .collect()
    });
    // A worker that stopped because another failed returns None: report the real failure.
    let outputs = outputs.into_iter().collect::<Result<Vec<_>>>()?;
    let outputs = outputs
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Internal("a worker stopped without a result".into()))?;
    // Abandoned commands may still land, a device gone was not read back: nothing is verified.
    let unverifiable = abandoned.load(Ordering::Relaxed) || gone.load(Ordering::Relaxed);
    let mut measured = result::combine(spec, barrier, caps.ats_mode, outputs, stop, unverifiable);
    measured.point.sim = factory.totals();
    Ok(measured)
}

/// The command an operation step sends, for latency kinds.
pub(crate) fn op_kind(op: Op) -> crate::stats::Kind {
    use crate::stats::Kind;
    match op {
        Op::Read | Op::ReadCached => Kind::Read,
        Op::Write => Kind::Write,
        Op::Compare => Kind::Compare,
        Op::CompareWrite => Kind::Ats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(threads: usize, qd: u32, plan: LockPlan) -> PointSpec {
        PointSpec { qd, cpus: vec![None; threads], lock_plan: plan, ..PointSpec::example(Workload::Ats) }
    }

    #[test]
    fn lanes_double_the_slot_areas_only_for_ats_with_a_timeout() {
        let mut s = spec(2, 8, LockPlan::Contention(1));
        assert_eq!((s.lanes(), s.requests(), s.slot_bytes()), (1, 8, 3 * 512));
        s.timeout_ns = Some(1_000_000);
        assert_eq!((s.lanes(), s.requests(), s.slot_bytes()), (2, 16, 5 * 512));
        s.workload = Workload::Read;
        assert_eq!((s.lanes(), s.slot_bytes()), (1, 512));
    }

    #[test]
    fn contention_places_k_actors_per_block() {
        let s = spec(2, 8, LockPlan::Contention(1));
        assert_eq!((s.locks(), s.actors_per_lock(), s.locks_shared()), (16, 1.0, false));
        assert_eq!((s.lock_of(0, 7), s.lock_of(1, 0), s.lock_of(1, 7)), (Some(7), Some(8), Some(15)));
        let s = spec(2, 8, LockPlan::Contention(4));
        assert_eq!((s.locks(), s.actors_per_lock(), s.locks_shared()), (4, 4.0, true));
        assert_eq!((s.lock_of(0, 3), s.lock_of(0, 4), s.lock_of(1, 7)), (Some(0), Some(1), Some(3)));
        let s = spec(1, 16, LockPlan::Contention(64));
        assert_eq!((s.locks(), s.actors_per_lock()), (1, 16.0), "more actors per lock than actors: one block");
        let s = spec(1, 6, LockPlan::Contention(4));
        assert_eq!(s.locks(), 2, "the last block takes the remainder");
    }

    #[test]
    fn explicit_locks_are_shared_at_random() {
        let s = spec(1, 32, LockPlan::Locks(4096));
        assert_eq!((s.locks(), s.lock_of(0, 3), s.locks_shared()), (4096, None, true));
        assert!((s.actors_per_lock() - 32.0 / 4096.0).abs() < 1e-12);
        assert!(!spec(1, 1, LockPlan::Locks(1)).locks_shared(), "one actor shares with nobody");
    }

    #[test]
    fn heartbeats_have_one_block_per_worker() {
        let s = PointSpec { workload: Workload::Heartbeat, ..spec(2, 8, LockPlan::Locks(64)) };
        assert_eq!((s.locks(), s.actors_per_lock(), s.locks_shared()), (2, 1.0, false));
        assert_eq!((s.lock_of(1, 0), s.lock_of(1, 3)), (Some(1), None), "slot 0 beats, the others load");
    }
}

/// What `--timeout` does with an ATS command that has not completed in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// Give up in user space and resend the same images while the first command still runs.
    #[default]
    Resend,
    /// Let the kernel abort it at the target (sg timeout), then retry the same images.
    Abort,
}

impl OnTimeout {
    pub fn is_resend(&self) -> bool {
        *self == OnTimeout::Resend
    }
}

impl std::str::FromStr for OnTimeout {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "resend" => Ok(OnTimeout::Resend),
            "abort" => Ok(OnTimeout::Abort),
            _ => Err(format!("`{s}`: use resend or abort")),
        }
    }
}
