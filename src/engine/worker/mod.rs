//! One worker: a pinned thread with its own ring, slab, RNG, histograms and view of the locks.
//!
//! Each of the `qd` slots is an independent actor with its own slab area of up to three blocks:
//! the expected image (E), the new image (N, right after E so that a SCSI COMPARE AND WRITE
//! sends E+N as one Data-Out) and the read image (R). With `--timeout` a slot has two lanes,
//! each with its own E+N and user_data, so that a retry can go out while an abandoned command
//! still owns the other's (`timeout.rs`): the area is then E0 N0 R E1 N1.
//!
//! The worker is split by job: `Io` (ring, backend, timestamps; `io.rs`), `Pacing` (the
//! open-loop schedule and the end of the point; `pace.rs`), `LockQueues` (slots waiting for a
//! host-side lock; `lockq.rs`), `Tally` (what is counted; `tally.rs`), `View` (what the worker
//! knows of each lock). The worker drives roles, never a workload by name: the workload says
//! what each slot does ([`Cast`]: plain reads and writes, compare-and-write attempts, checks,
//! and one slot that may start on its own clock, a heartbeat's). The attempt state machine is
//! in `ats.rs`, checks in `check.rs`, plain I/O in `start_op` below; the set-up and read-back
//! of lock blocks in `setup.rs`. Where the timestamps are taken is documented in `io.rs`; in open loop
//! (`--rate`) ATS attempts and plain I/Os are measured from their intended start, which
//! corrects for coordinated omission.

mod ats;
mod check;
mod interval;
mod io;
mod lockq;
mod pace;
mod setup;
mod tally;
mod timeout;

pub use interval::{IntervalSink, Snapshot};
pub use tally::{Counters, ErrorSample, LockCounters};

use super::{op_kind, LockTable, PointBarrier, PointSpec};
use crate::backend::{AtsMode, Backend, Factory, IoError, IoReq, Op, Outcome};
use crate::engine::faults::{DeviceGone, EndedBy, ErrorKind};
use crate::error::{Error, Result};
use crate::results::DeviceMiscompares;
use crate::results::RingReport;
use crate::stats::Latencies;
use crate::sys::clock::monotonic_ns;
use crate::sys::mem::Slab;
use crate::sys::uring::{Ring, RingConfig, RingError};
use crate::verify::claims::ClaimSet;
use crate::verify::history::Claim;
use crate::workload::cast::{Cast, Mix, Role};
use crate::workload::record::{Owner, Record};
use crate::workload::Rng;
use io::Io;
use lockq::LockQueues;
use pace::Pacing;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use tally::Tally;
use timeout::Timeouts;

/// What all workers of a point share: read-only, but for the flags and the lock words.
pub struct Shared<'a> {
    pub spec: &'a PointSpec,
    pub mode: AtsMode,
    pub locks: &'a LockTable,
    /// Set by a signal: stop measuring, keep what was measured.
    pub stop: &'a AtomicBool,
    /// Set by a worker that failed: the others stop too.
    pub abort: &'a AtomicBool,
    /// Set by a worker that abandoned commands: the lock blocks may still change, so they are
    /// not read back (nor verified).
    pub abandoned: &'a AtomicBool,
    /// Set by a worker whose device went away: the others stop too, nothing is read back.
    pub gone: &'a AtomicBool,
    pub ready: &'a Barrier,
    pub finished: &'a Barrier,
    /// `--hdr-log`: where interval snapshots go (`interval.rs`).
    pub intervals: Option<&'a IntervalSink>,
    /// This host's part in a multi-host run (`barrier.rs`); None for one host.
    pub barrier: Option<&'a dyn PointBarrier>,
}

impl Shared<'_> {
    /// Every participant's host id, by index (empty for a single host).
    pub fn host_ids(&self) -> &[u64] {
        self.barrier.map_or(&[], |b| b.host_ids())
    }

    /// The host id of the initial lock records: host 0's, which writes them for all hosts.
    pub fn genesis_host(&self) -> u64 {
        self.host_ids().first().copied().unwrap_or(self.spec.host)
    }

    /// The random seed of worker `worker`: different for every worker of every host.
    pub fn worker_seed(&self, worker: u32) -> u64 {
        let salt = self.barrier.map_or(0, |b| b.rng_salt());
        self.spec.seed ^ salt ^ u64::from(worker).wrapping_mul(0xA24B_AED4_963E_E407)
    }
}

/// What a worker hands back at the end of a point.
// wide: one field per figure of a worker that the merge reads
pub struct WorkerOutput {
    pub lat: Latencies,
    pub slat: Latencies,
    pub clat: Latencies,
    pub counters: Counters,
    pub claims: ClaimSet,
    /// Transitions of failed writes that were not retried: claimed if a final block holds them.
    pub unsettled: Vec<Claim>,
    pub per_lock: Vec<LockCounters>,
    pub device: DeviceMiscompares,
    pub ring: RingReport,
    /// Worker 0 only: the final image of every lock block.
    pub finals: Vec<Vec<u8>>,
    pub elapsed_s: f64,
    pub error_samples: Vec<ErrorSample>,
    /// The first `corrupt` miscompare: ns since measuring began, and the lock.
    pub first_corrupt: Option<(u64, u32)>,
    /// Errors and command fates by kind; how the worker's point ended, how long its drain
    /// took, and how many commands it abandoned.
    pub faults: crate::engine::faults::ErrorTable,
    pub ended_by: crate::engine::faults::EndedBy,
    pub drain_s: f64,
    pub abandoned: u64,
    /// The first error of this worker that said the device was gone.
    pub gone: Option<DeviceGone>,
}

/// Where a slot's current command is in its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A read or write of a plain slot.
    Plain,
    /// The buffered read of an attempt's expected image (`--expected-from cache`).
    Expect,
    /// The read of host-emulated ATS (under the lock) or of rmw.
    Read,
    /// The device-side compare of compare-then-write ATS.
    Compare,
    /// The write of a successful compare.
    Write,
    /// One device-side compare-and-write.
    CompareWrite,
    /// The re-read after a device-reported miscompare.
    ReRead,
    /// A compare of a check slot (`check.rs`).
    Check,
    /// Setup and read-back of the lock blocks.
    Sync,
}

/// One actor's operation in progress.
#[derive(Debug, Clone, Copy)]
// wide: one operation in flight (command, stamps, retry state), Copy, on the per-I/O path
struct Slot {
    step: Step,
    op: Op,
    lock: u32,
    /// When the operation (or ATS attempt) started, or was due to in open loop.
    attempt_at: u64,
    /// When the lock acquisition (first attempt) started.
    acquire_at: u64,
    /// The next attempt expects the image in R (a retry) rather than the worker's view.
    retry: bool,
    /// Generation of the record in R, when R held a valid record of this lock.
    read_gen: Option<u64>,
    holds_lock: bool,
    /// The highest generation of the lock seen before the attempt's expected image was taken:
    /// an expected generation below it is stale (see `verify::classify`).
    max_seen_at_issue: u64,
    /// The highest generation of the lock seen when the slot's current command was sent:
    /// what its answer can be held against. Completions of commands that were out together
    /// come in any order, so a read may return a record older than one the worker saw while
    /// it was out; that is not a stale device. (For a retry, the read's: no command goes out
    /// between the re-read and the retry's expected image.)
    seen_at_send: u64,
    new: Record,
    injected: bool,
    /// The lane of the slot's current command (0 unless `--timeout` moved it).
    lane: u8,
    /// No earlier than this, the current ATS command is given up (`--timeout`; 0: never).
    deadline: u64,
    /// Given up, and both lanes still held by abandoned commands: the retry waits.
    awaiting_lane: bool,
    /// Sequence number of the last image this slot claimed (a late completion and the retry
    /// of the same attempt may both report the same image written).
    claimed_seq: u64,
    /// The byte offset of the current command (for error samples).
    offset: u64,
    /// The current COMPARE AND WRITE retries one the kernel aborted (`--on-timeout abort`).
    after_abort: bool,
    /// The current attempt retries with a torn image as E: its compare tells whether the tear
    /// was on the medium (a write) or only in the read.
    after_torn: bool,
}

impl Slot {
    /// The transition the attempt's write makes, should it land.
    fn claim(&self) -> Claim {
        Claim { lock: self.lock, generation: self.new.generation, owner: self.new.owner }
    }
}

const IDLE_SLOT: Slot = Slot {
    step: Step::Plain,
    op: Op::Read,
    lock: 0,
    attempt_at: 0,
    acquire_at: 0,
    retry: false,
    read_gen: None,
    holds_lock: false,
    max_seen_at_issue: 0,
    seen_at_send: 0,
    new: Record { lock: 0, generation: 0, owner: Owner { host: 0, worker: 0, seq: 0 } },
    injected: false,
    lane: 0,
    deadline: 0,
    awaiting_lane: false,
    claimed_seq: 0,
    offset: 0,
    after_abort: false,
    after_torn: false,
};

/// What the worker knows of each lock block: the last record it saw and the highest
/// generation, shared by its slots.
struct View {
    last: Vec<Record>,
    max_seen: Vec<u64>,
    next_seq: u64,
}

impl View {
    /// A command sent when the highest generation seen was `seen_at_send` showed `r` on
    /// lock `l`. Completions of commands that were out together arrive in any order: an
    /// older record that arrives after a newer one was seen must not become the next
    /// attempt's expected image (it would be sent knowing better, and miscompare as `stale`
    /// on a sound device). A record is the block's latest state if it is the newest seen or
    /// nothing newer came in while its command was out; then it is taken even if older (a
    /// medium that is not atomic across hosts does go back).
    fn observe(&mut self, l: usize, r: Record, seen_at_send: u64) {
        if r.generation >= self.max_seen[l] || seen_at_send >= self.max_seen[l] {
            self.last[l] = r;
            self.max_seen[l] = self.max_seen[l].max(r.generation);
        }
    }
}

/// The longest a worker sleeps waiting for a lock release before it looks at its flags.
const LOCK_SLEEP_NS: u64 = 1_000_000;
/// Yields in a row, waiting for a lock, before a worker sleeps (see `pause`).
const LOCK_SPINS: u32 = 256;

/// How long before a simulated completion is due the worker stops sleeping and polls for it
/// (see `wait`).
const SPIN_NS: u64 = 20_000;

/// A worker gives up when its first commands all fail.
const FAIL_FAST_ERRORS: u64 = 8;

/// The longest a worker waits for completions before it looks at its stop flags again: a
/// device that stops answering still lets a point end on time and a signal act.
const STOP_POLL_NS: u64 = 100_000_000;

// wide: the driver loop (ring, slots, clock, pacing, tally); to be split by who changes what
pub struct Worker<'a, B: Backend> {
    id: u32,
    sh: &'a Shared<'a>,
    spec: &'a PointSpec,
    /// What each slot does: the worker drives roles, never a workload by name.
    cast: Cast,
    io: Io<B>,
    slots: Vec<Slot>,
    pace: Pacing,
    waits: LockQueues,
    view: View,
    tally: Tally,
    rng: Rng,
    bs: usize,
    slot_bytes: usize,
    /// CLOCK_MONOTONIC when measuring began, in nanoseconds.
    epoch: u64,
    /// Nanoseconds since `epoch` at the last clock read.
    now: u64,
    good_ios: u64,
    /// Slots granted a lock in one pass (kept to avoid allocating).
    granted: Vec<u32>,
    /// Pauses in a row spent waiting for a lock (reset when something is in flight).
    lock_spins: u32,
    fatal: Option<Error>,
    pinned: bool,
    /// `--timeout` on ATS commands, when given.
    to: Option<Timeouts>,
    /// The next `--hdr-log` interval boundary (never, without a log).
    iv: interval::IntervalClock,
    /// Commands still out when the drain's grace ran out.
    abandoned: u64,
    /// The first error that said the device was gone.
    gone: Option<DeviceGone>,
}

fn ring_error(e: RingError) -> Error {
    match e {
        RingError::Setup(e) => match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Error::Limit(
                if crate::sys::blk::io_uring_disabled() > 0 {
                    "io_uring is disabled (sysctl kernel.io_uring_disabled); set it to 0 or run as a member of kernel.io_uring_group"
                } else {
                    "io_uring setup was refused (a seccomp or container policy?); allow io_uring_setup for atsbench"
                }
                .into(),
            ),
            Some(libc::ENOSYS) => {
                Error::Unsupported("this kernel has no io_uring; atsbench needs Linux 5.19 or newer with io_uring".into())
            }
            Some(libc::ENOMEM) => Error::Limit(
                "io_uring could not allocate its rings (locked memory); raise the memlock limit (ulimit -l unlimited)"
                    .into(),
            ),
            Some(libc::EINVAL) => Error::Unsupported(format!(
                "the kernel refused the ring set-up ({e}); --sqpoll and --iopoll need a newer kernel or a target that polls"
            )),
            _ => Error::Device(format!("io_uring setup failed: {e}")),
        },
        RingError::RegisterFiles(e) => Error::Device(format!("registering the target with io_uring failed: {e}")),
        RingError::RegisterBuffers(e) if e.raw_os_error() == Some(libc::ENOMEM) => Error::Limit(
            "registering buffers failed: RLIMIT_MEMLOCK is too low; raise it (ulimit -l unlimited) or lower --qd/--threads"
                .into(),
        ),
        RingError::RegisterBuffers(e) => Error::Device(format!("registering buffers with io_uring failed: {e}")),
    }
}

impl<'a, B: Backend> Worker<'a, B> {
    /// A worker's whole life: set up (worker 0: the lock blocks, or the rendezvous of several
    /// hosts), wait for all, measure, wait for all, read back (worker 0; after the other hosts
    /// are done too).
    pub fn run<F: Factory<Backend = B>>(id: u32, sh: &'a Shared<'a>, factory: &F) -> Result<Option<WorkerOutput>> {
        let cpu = sh.spec.cpus[id as usize];
        let pinned = cpu.is_some_and(crate::sys::affinity::pin_current_thread);
        let mut setup = factory.make(id).and_then(|b| Self::new(id, sh, b, pinned));
        if let (Ok(w), 0) = (&mut setup, id) {
            if let Err(e) = w.before_point() {
                setup = Err(e);
            }
        }
        if setup.is_err() {
            sh.abort.store(true, Ordering::Relaxed);
        }
        sh.ready.wait();
        let mut w = match setup {
            Ok(w) if !sh.abort.load(Ordering::Relaxed) => w,
            mut other => {
                if let Ok(w) = &mut other {
                    w.leave();
                }
                sh.finished.wait();
                return other.map(|_| None);
            }
        };
        w.drive();
        if w.fatal.is_some() {
            sh.abort.store(true, Ordering::Relaxed);
        }
        sh.finished.wait();
        if let Some(e) = w.fatal.take() {
            w.leave();
            return Err(e);
        }
        let finals = if id == 0 { w.after_point()? } else { Vec::new() };
        Ok(Some(w.output(finals)))
    }

    fn new(id: u32, sh: &'a Shared<'a>, backend: B, pinned: bool) -> Result<Self> {
        let spec = sh.spec;
        let requests = spec.requests();
        let cfg =
            RingConfig { entries: (requests as u32).next_power_of_two(), sqpoll: spec.sqpoll, iopoll: spec.iopoll };
        let slab = Slab::new(spec.slab_bytes());
        let ring = Ring::new(cfg, &backend.fds(), slab, backend.fixed_buffers()).map_err(ring_error)?;
        let qd = spec.qd as usize;
        let locks = spec.locks();
        let cast = spec.workload.cast(spec.qd, locks, spec.heartbeat_ns);
        let mut w = Worker {
            id,
            sh,
            spec,
            io: Io::new(ring, backend, requests, spec.sqpoll),
            slots: vec![IDLE_SLOT; qd],
            pace: Pacing::new(spec, id, cast.timed.map_or(0, |(_, ns)| ns)),
            waits: LockQueues::new(if spec.locks_shared() { locks } else { 0 }, qd),
            view: View {
                last: (0..locks).map(|l| Record::genesis(l, sh.genesis_host())).collect(),
                max_seen: vec![0; locks as usize],
                next_seq: 0,
            },
            tally: Tally::new(locks as usize, if cast.attempts() { locks } else { 0 }),
            rng: Rng::new(sh.worker_seed(id)),
            bs: spec.bs as usize,
            slot_bytes: spec.slot_bytes(),
            epoch: monotonic_ns(),
            now: 0,
            good_ios: 0,
            granted: Vec::with_capacity(qd),
            lock_spins: 0,
            fatal: None,
            pinned,
            to: spec.timeout_ns.filter(|_| spec.lanes() == 2).map(|ns| Timeouts::new(ns, requests)),
            iv: interval::IntervalClock::new(sh.intervals),
            abandoned: 0,
            gone: None,
            cast,
        };
        for s in 0..qd {
            if let Role::Plain { mix: Mix::Write, .. } = w.cast.role(s) {
                let area = w.area(s, 0);
                w.io.ring.slab_mut().range_mut(area, w.bs).fill(0xA5u8 ^ (s as u8));
            }
        }
        Ok(w)
    }

    fn output(self, finals: Vec<Vec<u8>>) -> WorkerOutput {
        let error_samples = self.tally.error_samples();
        WorkerOutput {
            elapsed_s: self.now as f64 / 1e9,
            ring: RingReport {
                flags: self.io.ring.flags().iter().map(|f| f.to_string()).collect(),
                fixed_buffers: self.io.ring.fixed_buffers(),
                pinned: self.pinned,
                backend: self.io.backend.report(),
            },
            lat: self.tally.lat.latencies(),
            slat: self.tally.slat.latencies(),
            clat: self.tally.clat.latencies(),
            counters: self.tally.counters,
            claims: self.tally.claims,
            unsettled: self.tally.unsettled,
            per_lock: self.tally.per_lock,
            device: self.tally.device,
            finals,
            error_samples,
            first_corrupt: self.tally.first_corrupt,
            ended_by: self.pace.ended_by,
            drain_s: self.now.saturating_sub(self.pace.stopped_at) as f64 / 1e9,
            abandoned: self.abandoned,
            faults: self.tally.faults,
            gone: self.gone,
        }
    }

    // ----- the measurement loop -----

    /// One clock read: a vDSO clock_gettime and a subtraction (no Instant/Duration
    /// arithmetic, which cost more than the read itself per operation).
    #[inline]
    fn clock(&mut self) -> u64 {
        self.now = monotonic_ns().saturating_sub(self.epoch);
        self.now
    }

    /// The driver loop of one point: start the slots, then wait, reap, expire and check the
    /// stop until every command is done or abandoned.
    fn drive(&mut self) {
        self.io.backend.measuring(true);
        self.epoch = monotonic_ns();
        self.now = 0;
        // The timed slot starts when its first start is due.
        for s in 0..self.slots.len() {
            if !self.cast.is_timed(s) {
                self.begin(s);
            }
        }
        loop {
            self.retry_waiting();
            self.release_paced();
            let idle = self.pace.stopping || self.pace.idle.is_empty() && !self.pace.timed_waits();
            if self.io.inflight == 0 && self.waits.waiting == 0 && idle {
                break;
            }
            if self.pace.stopping && self.now >= self.pace.drain_until() {
                self.abandon();
                break;
            }
            let waited = if self.io.inflight == 0 {
                self.pause();
                Ok(0)
            } else {
                self.lock_spins = 0;
                if self.io.has_unsubmitted() {
                    let t = self.clock();
                    self.io.stamp_submitted(t);
                }
                self.wait()
            };
            if let Err(e) = waited {
                self.fail(Error::Device(format!("io_uring_enter failed: {e}")));
            }
            self.clock();
            self.reap();
            self.expire();
            self.check_stop();
            // Off the per-I/O path: compress the claim bitmaps now and then.
            if self.tally.claims.maintain_due() {
                self.tally.claims.maintain();
            }
            if self.iv.due(self.now) {
                self.send_interval(false);
            }
        }
        self.clock();
        self.send_interval(true);
        self.io.backend.measuring(false);
    }

    /// Commands are in flight: submit what is queued and wait for a completion, at most until
    /// a paced start or a check of the stop flags is due.
    ///
    /// A backend that knows when its next completion is due (the simulated device) is slept
    /// on until `SPIN_NS` before it and then polled: a thread woken by the completion itself
    /// comes back tens of microseconds late, which lengthened every simulated service time
    /// (`fixed:100us` measured a p50 of 138 us before).
    fn wait(&mut self) -> std::io::Result<usize> {
        let cap = self.poll_in();
        let wake = self.wake_in().filter(|&ns| ns < cap);
        let Some(due) = self.io.backend.next_due() else {
            return match wake {
                Some(ns) => self.io.ring.submit_and_wait_for(ns),
                None => self.io.ring.submit_and_wait_one(self.io.inflight, cap),
            };
        };
        let now = monotonic_ns();
        let until = wake.unwrap_or(cap);
        let left = due.saturating_sub(now);
        if left > SPIN_NS {
            self.io.ring.submit_and_wait_for((left - SPIN_NS).min(until))
        } else {
            self.io.ring.spin_until(now + until.min(left + SPIN_NS))
        }
    }

    /// Nothing in flight: slots wait for a lock held elsewhere or for their paced start.
    ///
    /// Waiting for a lock, a worker first yields the CPU (`LOCK_SPINS` times in a row): the
    /// holder's I/O usually ends within a few yields, and a futex sleep and wake-up cost more
    /// than that (at `--locks 1` on two workers on a /dev/shm file, sleeping at once gave 0.6x
    /// the attempts per second of yielding, and 0.9x after 32 yields). After that it sleeps
    /// until a release, so that a slow holder (a device at milliseconds) does not keep a CPU
    /// spinning.
    fn pause(&mut self) {
        let wake_in = self.pace.wake_in(self.now);
        if self.waits.waiting > 0 && self.lock_spins >= LOCK_SPINS {
            // At most 1 ms, or until a paced start is due, so that stop flags are seen.
            let ns = wake_in.unwrap_or(LOCK_SLEEP_NS).clamp(1, LOCK_SLEEP_NS);
            let locks = self.sh.locks;
            locks.sleep_unless(ns, || {
                // A slot granted here is queued now, not at the clock read before the pause.
                self.clock();
                self.retry_waiting();
                self.io.inflight > 0
            });
        } else {
            self.lock_spins += u32::from(self.waits.waiting > 0);
            match wake_in {
                Some(ns) if self.waits.waiting == 0 && ns > 100_000 => {
                    std::thread::sleep(std::time::Duration::from_nanos(ns - 50_000))
                }
                _ => std::thread::yield_now(),
            }
        }
        self.clock();
    }

    /// Handle the completions posted by the time reaping begins (right after the clock read),
    /// in one pass: each is decoded and its requests go on at once (their next commands are
    /// queued for the next enter).
    /// Only those: with SQPOLL the kernel may post more meanwhile, and they belong to the next
    /// clock read.
    fn reap(&mut self) {
        for _ in 0..self.io.ring.posted() {
            if !self.io.complete_next() {
                break;
            }
            for i in 0..self.io.events.len() {
                let (ud, o) = self.io.events[i];
                if !self.late(ud as usize, o) {
                    self.on_done(ud as usize % self.slots.len(), o);
                }
            }
        }
        if self.io.overflowed {
            self.fail(Error::Internal("submission queue overflow".into()));
        }
    }

    /// `--on-timeout abort` and the kernel went beyond ABORT TASK: every worker stops at once
    /// and the lock blocks are not read back (a reset may have cut writes short); the point is
    /// written with `ended_by: escalated` and the run exits 8 (`app::bench`).
    fn escalated(&mut self) {
        self.tally.counters.aborts.escalated += 1;
        self.sh.abort.store(true, Ordering::Relaxed);
        if !self.pace.stopping {
            self.stop(EndedBy::Escalated);
        }
    }

    fn fail(&mut self, e: Error) {
        if self.fatal.is_none() {
            self.fatal = Some(e);
        }
        if !self.pace.stopping {
            self.stop(EndedBy::Failed);
        }
    }

    // ----- slots -----

    fn area(&self, s: usize, block: usize) -> usize {
        s * self.slot_bytes + block * self.bs
    }

    /// Where slot `s`'s current lane keeps E (N follows it); R is at block 2 of every slot.
    fn e_area(&self, s: usize) -> usize {
        self.area(s, 3 * usize::from(self.slots[s].lane))
    }

    /// The user_data of slot `s`'s current command: `lane * qd + slot`.
    fn ud(&self, s: usize) -> usize {
        usize::from(self.slots[s].lane) * self.slots.len() + s
    }

    fn lock_offset(&self, lock: u32) -> u64 {
        self.spec.region.start + u64::from(lock) * self.bs as u64
    }

    fn issue(&mut self, s: usize, step: Step, op: Op, offset: u64, area: usize, len: usize) {
        debug_assert!(offset >= self.spec.region.start && offset + len as u64 <= self.spec.region.end);
        let ud = self.ud(s);
        let req = IoReq { op, offset, len: len as u32, addr: self.io.ring.slab().addr(area), user_data: ud as u64 };
        self.io.queue(&req, self.now);
        let seen = self.view.max_seen.get(self.slots[s].lock as usize).copied().unwrap_or(0);
        let slot = &mut self.slots[s];
        slot.seen_at_send = seen;
        slot.step = step;
        slot.op = op;
        slot.offset = offset;
        if step != Step::Sync {
            self.track(s, ud);
        }
    }

    /// Start the next operation on slot `s`, now or when the open-loop schedule says.
    fn begin(&mut self, s: usize) {
        if !self.pace.may_start() {
            return;
        }
        if self.cast.is_timed(s) {
            self.pace.timed_done();
        } else if self.pace.paced() {
            self.pace.idle.push(s as u32);
        } else {
            self.start_op(s, self.now);
        }
    }

    fn release_paced(&mut self) {
        while let Some((s, due)) = self.pace.next_due(self.now) {
            self.start_op(s as usize, due);
        }
        if let Some(due) = self.pace.timed_due(self.now) {
            let s = self.cast.timed.map_or(0, |(s, _)| s);
            self.start_op(s, due);
        }
    }

    fn start_op(&mut self, s: usize, at: u64) {
        let spec = self.spec;
        self.slots[s].attempt_at = at;
        match self.cast.role(s) {
            Role::Plain { mix, first } => {
                let block = first + self.rng.below(spec.region.blocks(spec.bs) - first);
                let op = match mix {
                    Mix::Read => Op::Read,
                    Mix::Write => Op::Write,
                    Mix::Either if self.rng.chance(0.5) => Op::Read,
                    Mix::Either => Op::Write,
                };
                self.plain(s, op, block);
            }
            Role::Check => self.start_check(s),
            Role::Attempt { .. } => {
                let lock = self.pick_lock(s);
                let slot = &mut self.slots[s];
                slot.lock = lock;
                slot.acquire_at = at;
                slot.retry = false;
                self.start_attempt(s, at);
            }
        }
    }

    /// A plain read or write of `block` of the region.
    fn plain(&mut self, s: usize, op: Op, block: u64) {
        self.pace.started += 1;
        let offset = self.spec.region.start + block * self.bs as u64;
        self.issue(s, Step::Plain, op, offset, self.area(s, 0), self.bs);
    }

    /// The slot's own lock block under `--contention`, a random one under `--locks`.
    fn pick_lock(&mut self, s: usize) -> u32 {
        match self.spec.lock_of(self.id, s as u32) {
            Some(l) => l,
            None => self.rng.below(u64::from(self.spec.locks())) as u32,
        }
    }

    // ----- completions -----

    fn on_done(&mut self, s: usize, outcome: Outcome) {
        let slot = self.slots[s];
        let stamp = self.io.stamps[self.ud(s)];
        let kind = op_kind(slot.op);
        if let Outcome::Error(e) = outcome {
            return self.on_error(s, e);
        }
        self.good_ios += 1;
        if slot.step != Step::Sync {
            self.tally.slat.record(kind, stamp.submitted.saturating_sub(stamp.queued));
            self.tally.clat.record(kind, self.now.saturating_sub(stamp.submitted));
            if slot.step != Step::CompareWrite {
                // A compare-and-write's latency is its attempt's (`ats`), recorded by the outcome.
                let from = if slot.step == Step::Plain { slot.attempt_at } else { stamp.queued };
                self.tally.lat.record(kind, self.now.saturating_sub(from));
            }
        }
        let miscompared = match outcome {
            Outcome::Miscompare { offset } => {
                self.tally.device.note(offset);
                true
            }
            _ => false,
        };
        match (slot.step, miscompared) {
            (Step::Plain, false) => {
                self.tally.counters.ops += 1;
                self.begin(s);
            }
            (Step::Check, _) => self.on_check(s, miscompared),
            (Step::Expect, false) => self.on_expected(s),
            (Step::Read, false) => self.on_read(s),
            (Step::Compare, false) if self.pace.stopping => self.end_attempt(s),
            (Step::Compare, false) => {
                let (offset, area) = (self.lock_offset(slot.lock), self.e_area(s) + self.bs);
                self.issue(s, Step::Write, Op::Write, offset, area, self.bs);
            }
            (Step::Compare, true) | (Step::CompareWrite, true) => {
                self.release(s);
                let (offset, area) = (self.lock_offset(slot.lock), self.area(s, 2));
                self.issue(s, Step::ReRead, Op::Read, offset, area, self.bs);
            }
            (Step::CompareWrite, false) if slot.after_abort => {
                self.tally.counters.aborts.retry_succeeded += 1;
                self.slots[s].after_abort = false;
                self.on_success(s)
            }
            (Step::Write, false) | (Step::CompareWrite, false) => self.on_success(s),
            (Step::ReRead, false) => self.on_miscompare(s),
            (_, _) => {
                let e = IoError { code: 0, cause: crate::backend::Cause::UnexpectedMiscompare { op: slot.op } };
                self.on_error(s, e)
            }
        }
    }

    /// The kernel aborted slot `s`'s COMPARE AND WRITE at the target: retry the same images
    /// (E and N are still in place), as ESXi does once the abort completes.
    fn retry_aborted(&mut self, s: usize) {
        self.tally.counters.aborts.aborted += 1;
        if self.pace.stopping {
            return self.end_attempt(s);
        }
        self.slots[s].after_abort = true;
        let (offset, base) = (self.lock_offset(self.slots[s].lock), self.e_area(s));
        self.issue(s, Step::CompareWrite, Op::CompareWrite, offset, base, self.bs);
    }

    fn on_error(&mut self, s: usize, e: IoError) {
        let slot = self.slots[s];
        if self.spec.on_timeout == crate::engine::OnTimeout::Abort {
            match e.timeout_end() {
                Some(crate::backend::TimeoutEnd::Aborted) if slot.step == Step::CompareWrite => {
                    return self.retry_aborted(s)
                }
                // A reset reaches whichever command comes next, not only the aborted one.
                Some(crate::backend::TimeoutEnd::Escalated) => self.escalated(),
                _ => {}
            }
        }
        // A device gone ends the point at once (after an escalation, which is named first).
        if let Some(what) = ErrorKind::of(&e).gone() {
            self.device_gone(e, what);
        }
        let lock = (slot.step != Step::Plain).then_some(slot.lock);
        self.tally.error(ErrorSample { step: slot.step, lock, error: e });
        self.tally.faults.error(op_kind(slot.op), self.now, slot.offset / self.bs as u64, e);
        if e.code == -i64::from(libc::EOPNOTSUPP) || e.code == -i64::from(libc::EINVAL) && self.good_ios == 0 {
            self.fail(Error::Unsupported(format!("the target refused the command: {e}")));
        } else if self.good_ios == 0 && self.tally.counters.errors >= FAIL_FAST_ERRORS && self.gone.is_none() {
            let first = self.tally.first_error().map(|x| x.to_string()).unwrap_or_default();
            self.fail(Error::Device(format!("every command failed, the first with: {first}")));
        }
        if let Role::Attempt { atomic } = self.cast.role(s) {
            self.end_attempt(s);
            // A failed write may have been carried out: ATS sends the same images again (see
            // `resend_attempt`); rmw, which has no atomicity to keep, starts afresh.
            let wrote = matches!(slot.step, Step::CompareWrite | Step::Write) && atomic;
            if self.pace.may_start() {
                self.tally.faults.retried(op_kind(slot.op));
                if wrote {
                    return self.resend_attempt(s);
                }
            } else if wrote {
                self.tally.unsettled.push(slot.claim());
            }
        }
        self.begin(s);
    }
}
