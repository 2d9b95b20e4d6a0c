//! One worker: a pinned thread with its own ring, slab, RNG, histograms and lock view.
//!
//! Each of the `qd` slots is an independent actor with its own slab area of up to three blocks:
//! the expected image (E), the new image (N, right after E so that a SCSI COMPARE AND WRITE
//! sends E+N as one Data-Out) and the read image (R).
//!
//! Latency is measured from when the worker queued the command (just before the
//! `io_uring_enter` that submits it) to when it reaped the completion; completions reaped in
//! one batch share one timestamp. In open loop (`--rate`) ATS attempts and plain I/Os are
//! measured from their intended start, which corrects for coordinated omission.
//!
//! The ATS state machine is in `ats.rs`, the set-up and read-back of lock blocks in `setup.rs`.

mod ats;
mod setup;

use super::{LockTable, PointSpec, RingReport, StopAt};
use crate::backend::{AtsMode, Backend, IoError, IoReq, Op, Outcome};
use crate::error::{Error, Result};
use crate::stats::{Kind, Latencies};
use crate::sys::mem::Slab;
use crate::sys::uring::{Ring, RingConfig, RingError};
use crate::verify::history::Claim;
use crate::workload::record::Record;
use crate::workload::{Rng, Workload};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::Instant;

/// Event counters of one worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Completed operations: I/Os for read/write/compare, attempts for ats/rmw.
    pub ops: u64,
    pub acquires: u64,
    pub retries: u64,
    pub errors: u64,
    /// By `Class::index()`.
    pub miscompares: [u64; 5],
    pub injected: u64,
    /// Injected wrong images the device reported as miscompares.
    pub detected: u64,
    pub undetected: u64,
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
        self.injected += o.injected;
        self.detected += o.detected;
        self.undetected += o.undetected;
    }
}

/// What one worker saw of one lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct LockCounters {
    pub attempts: u64,
    pub successes: u64,
    pub miscompares: u64,
    pub inflight_sum: u64,
    pub inflight_max: u32,
}

impl LockCounters {
    pub fn add(&mut self, o: &LockCounters) {
        self.attempts += o.attempts;
        self.successes += o.successes;
        self.miscompares += o.miscompares;
        self.inflight_sum += o.inflight_sum;
        self.inflight_max = self.inflight_max.max(o.inflight_max);
    }
}

pub struct WorkerOutput {
    pub lat: Latencies,
    pub counters: Counters,
    pub claims: Vec<Claim>,
    pub per_lock: Vec<LockCounters>,
    pub ring: RingReport,
    /// Worker 0 only: the final image of every lock block.
    pub finals: Vec<Vec<u8>>,
    pub elapsed_s: f64,
    pub error_samples: Vec<String>,
}

/// Where a slot's current command is in its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A read or write of the read/write workloads.
    Plain,
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
    /// A compare of the compare workload.
    Check,
    /// Setup and read-back of the lock blocks.
    Sync,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    step: Step,
    lock: u32,
    io_at: u64,
    attempt_at: u64,
    acquire_at: u64,
    /// The next attempt expects the image in R (a retry) rather than the worker's view.
    retry: bool,
    /// Generation of the record in R, when R held a valid record of this lock.
    read_gen: Option<u64>,
    holds_lock: bool,
    max_seen_at_issue: u64,
    new: Record,
    injected: bool,
}

const NO_SLOT: Slot = Slot {
    step: Step::Plain,
    lock: 0,
    io_at: 0,
    attempt_at: 0,
    acquire_at: 0,
    retry: false,
    read_gen: None,
    holds_lock: false,
    max_seen_at_issue: 0,
    new: Record { lock: 0, generation: 0, owner: crate::workload::record::Owner { host: 0, worker: 0, seq: 0 } },
    injected: false,
};

/// A worker gives up when its first commands all fail.
const FAIL_FAST_ERRORS: u64 = 8;

pub struct Worker<'a, B: Backend> {
    id: u32,
    spec: &'a PointSpec,
    mode: AtsMode,
    locks: &'a LockTable,
    stop: &'a AtomicBool,
    abort: &'a AtomicBool,
    ring: Ring<B::Sqe, B::Cqe>,
    backend: B,
    bs: usize,
    slot_bytes: usize,
    slots: Vec<Slot>,
    /// Per lock, this worker's slots waiting for it, first come first served.
    queues: Vec<VecDeque<u32>>,
    /// Locks whose queue is not empty.
    queued_locks: Vec<u32>,
    waiting: u32,
    idle: Vec<u32>,
    inflight: u32,
    rng: Rng,
    lat: Latencies,
    counters: Counters,
    claims: Vec<Claim>,
    per_lock: Vec<LockCounters>,
    view: Vec<Record>,
    max_seen: Vec<u64>,
    next_seq: u64,
    epoch: Instant,
    now: u64,
    stopping: bool,
    /// Operations started: with `--ops`, no more start once the target is reached, so that a
    /// point completes exactly its operations.
    started: u64,
    ops_target: u64,
    end_ns: u64,
    interval_ns: u64,
    next_due: u64,
    good_ios: u64,
    cqes: Vec<B::Cqe>,
    events: Vec<(u64, Outcome)>,
    error_samples: Vec<String>,
    fatal: Option<Error>,
    pinned: bool,
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
    /// A worker's whole life: set up, wait for all, measure, wait for all, read back.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        id: u32,
        spec: &'a PointSpec,
        mode: AtsMode,
        backend: Option<B>,
        make: &(dyn Fn(u32) -> Result<B> + Sync),
        locks: &'a LockTable,
        stop: &'a AtomicBool,
        abort: &'a AtomicBool,
        ready: &Barrier,
        finished: &Barrier,
    ) -> Result<Option<WorkerOutput>> {
        let pinned = match spec.cpus[id as usize] {
            Some(cpu) => core_affinity::set_for_current(core_affinity::CoreId { id: cpu }),
            None => false,
        };
        let mut setup =
            backend.map_or_else(|| make(id), Ok).and_then(|b| Self::new(id, spec, mode, b, locks, stop, abort, pinned));
        if let (Ok(w), 0) = (&mut setup, id) {
            if spec.workload.uses_locks() {
                if let Err(e) = w.write_genesis() {
                    setup = Err(e);
                }
            }
        }
        if setup.is_err() {
            abort.store(true, Ordering::Relaxed);
        }
        ready.wait();
        let mut w = match setup {
            Ok(w) if !abort.load(Ordering::Relaxed) => w,
            Ok(_) => {
                finished.wait();
                return Ok(None);
            }
            Err(e) => {
                finished.wait();
                return Err(e);
            }
        };
        w.measure();
        if w.fatal.is_some() {
            abort.store(true, Ordering::Relaxed);
        }
        finished.wait();
        if let Some(e) = w.fatal.take() {
            return Err(e);
        }
        let finals = if id == 0 && spec.workload.is_ats_like() && !abort.load(Ordering::Relaxed) {
            w.read_finals()?
        } else {
            Vec::new()
        };
        Ok(Some(w.output(finals)))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u32,
        spec: &'a PointSpec,
        mode: AtsMode,
        backend: B,
        locks: &'a LockTable,
        stop: &'a AtomicBool,
        abort: &'a AtomicBool,
        pinned: bool,
    ) -> Result<Self> {
        let slab = Slab::new(spec.slab_bytes());
        let cfg = RingConfig { entries: spec.qd.next_power_of_two(), sqpoll: spec.sqpoll, iopoll: spec.iopoll };
        let ring = Ring::new(cfg, &backend.fds(), slab, backend.fixed_buffers()).map_err(ring_error)?;
        let qd = spec.qd as usize;
        let threads = spec.threads() as u64;
        let ops_target = match spec.stop {
            StopAt::Ops(n) => n / threads + u64::from((id as u64) < n % threads),
            StopAt::Seconds(_) => u64::MAX,
        };
        let end_ns = match spec.stop {
            StopAt::Seconds(s) => (s * 1e9) as u64,
            StopAt::Ops(_) => u64::MAX,
        };
        let nlocks = spec.locks as usize;
        let mut w = Worker {
            id,
            spec,
            mode,
            locks,
            stop,
            abort,
            ring,
            backend,
            bs: spec.bs as usize,
            slot_bytes: spec.slot_bytes(),
            slots: vec![NO_SLOT; qd],
            queues: vec![VecDeque::new(); if spec.workload.uses_locks() { nlocks } else { 0 }],
            queued_locks: Vec::with_capacity(qd),
            waiting: 0,
            idle: Vec::with_capacity(qd),
            inflight: 0,
            rng: Rng::new(spec.seed ^ (id as u64).wrapping_mul(0xA24B_AED4_963E_E407)),
            lat: Latencies::new(),
            counters: Counters::default(),
            claims: Vec::with_capacity(if spec.workload.is_ats_like() { 1 << 16 } else { 0 }),
            per_lock: vec![LockCounters::default(); nlocks],
            view: (0..spec.locks).map(|l| Record::genesis(l, spec.host)).collect(),
            max_seen: vec![0; nlocks],
            next_seq: 0,
            epoch: Instant::now(),
            now: 0,
            stopping: false,
            started: 0,
            ops_target,
            end_ns,
            interval_ns: spec.rate.map_or(0, |r| (threads as f64 * 1e9 / r).max(1.0) as u64),
            next_due: 0,
            good_ios: 0,
            cqes: Vec::with_capacity(qd * 2),
            events: Vec::with_capacity(qd * 2),
            error_samples: Vec::new(),
            fatal: None,
            pinned,
        };
        if spec.workload == Workload::Write {
            for s in 0..qd {
                let off = s * w.slot_bytes;
                let fill = 0xA5u8 ^ (s as u8);
                w.ring.slab_mut().range_mut(off, w.bs).fill(fill);
            }
        }
        Ok(w)
    }

    fn output(self, finals: Vec<Vec<u8>>) -> WorkerOutput {
        WorkerOutput {
            elapsed_s: self.now as f64 / 1e9,
            ring: RingReport {
                flags: self.ring.flags().to_vec(),
                fixed_buffers: self.ring.fixed_buffers(),
                pinned: self.pinned,
                backend: self.backend.report(),
            },
            lat: self.lat,
            counters: self.counters,
            claims: self.claims,
            per_lock: self.per_lock,
            finals,
            error_samples: self.error_samples,
        }
    }

    // ----- the measurement loop -----

    fn clock(&mut self) -> u64 {
        self.now = self.epoch.elapsed().as_nanos() as u64;
        self.now
    }

    fn measure(&mut self) {
        self.epoch = Instant::now();
        self.now = 0;
        for s in 0..self.slots.len() {
            self.begin(s);
        }
        loop {
            self.retry_waiting();
            self.release_paced();
            if self.inflight == 0 && self.waiting == 0 && (self.stopping || self.idle.is_empty()) {
                break;
            }
            let waited = if self.inflight == 0 {
                self.pause()
            } else if !self.idle.is_empty() && self.next_due > self.now && !self.stopping {
                self.ring.submit_and_wait_for(self.next_due - self.now)
            } else {
                self.ring.submit_then_wait()
            };
            if let Err(e) = waited {
                self.fail(Error::Device(format!("io_uring_enter failed: {e}")));
            }
            self.clock();
            self.reap();
            self.check_stop();
        }
        self.clock();
    }

    /// Nothing in flight: slots wait for a lock held elsewhere or for their paced start.
    fn pause(&mut self) -> std::io::Result<usize> {
        if self.waiting == 0 && self.next_due > self.now {
            let ns = self.next_due - self.now;
            if ns > 100_000 {
                std::thread::sleep(std::time::Duration::from_nanos(ns - 50_000));
            }
        } else {
            std::thread::yield_now();
        }
        Ok(0)
    }

    fn check_stop(&mut self) {
        if self.stopping {
            return;
        }
        if self.now >= self.end_ns
            || self.counters.ops >= self.ops_target
            || self.stop.load(Ordering::Relaxed)
            || self.abort.load(Ordering::Relaxed)
        {
            self.stopping = true;
            // Slots queued for a lock give up their attempt.
            while let Some(lock) = self.queued_locks.pop() {
                while let Some(s) = self.queues[lock as usize].pop_front() {
                    self.end_attempt(s as usize);
                }
            }
            self.waiting = 0;
        }
    }

    fn reap(&mut self) {
        self.complete_all();
        let mut events = std::mem::take(&mut self.events);
        for (ud, o) in events.drain(..) {
            self.on_done(ud as usize, o);
        }
        self.events = events;
    }

    /// Reap every completion and let the backend turn them into request outcomes.
    fn complete_all(&mut self) {
        self.ring.reap(&mut self.cqes);
        let (backend, events, ring) = (&mut self.backend, &mut self.events, &mut self.ring);
        let mut full = false;
        for cqe in &self.cqes {
            backend.complete(cqe, &mut |ud, o| events.push((ud, o)), &mut |sqe| full |= !ring.push(sqe));
        }
        if full {
            self.fail(Error::Internal("submission queue overflow while re-arming".into()));
        }
    }

    fn fail(&mut self, e: Error) {
        if self.fatal.is_none() {
            self.fatal = Some(e);
        }
        self.stopping = true;
    }

    // ----- slots -----

    fn area(&self, s: usize, block: usize) -> usize {
        s * self.slot_bytes + block * self.bs
    }

    fn lock_offset(&self, lock: u32) -> u64 {
        self.spec.region.start + lock as u64 * self.bs as u64
    }

    fn issue(&mut self, s: usize, step: Step, op: Op, offset: u64, area: usize, len: usize) {
        debug_assert!(offset >= self.spec.region.start && offset + len as u64 <= self.spec.region.end);
        let req = IoReq { op, offset, len: len as u32, addr: self.ring.slab().addr(area), user_data: s as u64 };
        let (backend, ring) = (&mut self.backend, &mut self.ring);
        let mut full = false;
        backend.prepare(&req, &mut |sqe| {
            if !ring.push(sqe) {
                full = true;
            }
        });
        if full {
            self.fail(Error::Internal("submission queue overflow".into()));
            return;
        }
        self.inflight += 1;
        let slot = &mut self.slots[s];
        slot.step = step;
        slot.io_at = self.now;
    }

    /// Start the next operation on slot `s`, now or when the open-loop schedule says.
    fn begin(&mut self, s: usize) {
        if self.stopping || self.started >= self.ops_target {
            return;
        }
        if self.interval_ns > 0 {
            self.idle.push(s as u32);
        } else {
            self.start_op(s, self.now);
        }
    }

    fn release_paced(&mut self) {
        while !self.stopping && self.next_due <= self.now && self.started < self.ops_target {
            let Some(s) = self.idle.pop() else { break };
            let due = self.next_due;
            self.next_due += self.interval_ns;
            self.start_op(s as usize, due);
        }
    }

    fn start_op(&mut self, s: usize, at: u64) {
        let spec = self.spec;
        if !spec.workload.is_ats_like() {
            self.started += 1;
        }
        match spec.workload {
            Workload::Read | Workload::Write => {
                let block = self.rng.below(spec.region.blocks(spec.bs));
                let offset = spec.region.start + block * self.bs as u64;
                let op = if spec.workload == Workload::Read { Op::Read } else { Op::Write };
                self.slots[s].attempt_at = at;
                self.issue(s, Step::Plain, op, offset, self.area(s, 0), self.bs);
            }
            Workload::Compare => {
                let lock = self.rng.below(spec.locks as u64) as u32;
                let injected = self.rng.chance(spec.miscompare_fraction);
                let mut image = Record::genesis(lock, spec.host);
                if injected {
                    image.generation = 1;
                }
                let area = self.area(s, 0);
                image.encode(self.ring.slab_mut().range_mut(area, self.bs));
                let slot = &mut self.slots[s];
                slot.lock = lock;
                slot.injected = injected;
                slot.attempt_at = at;
                self.issue(s, Step::Check, Op::Compare, self.lock_offset(lock), area, self.bs);
            }
            Workload::Ats | Workload::Rmw => {
                let slot = &mut self.slots[s];
                slot.lock = self.rng.below(spec.locks as u64) as u32;
                slot.acquire_at = at;
                slot.retry = false;
                self.start_attempt(s, at);
            }
        }
    }

    // ----- completions -----

    fn on_done(&mut self, s: usize, outcome: Outcome) {
        self.inflight -= 1;
        let slot = self.slots[s];
        let took = self.now.saturating_sub(slot.io_at);
        let kind = match slot.step {
            Step::Plain if self.spec.workload == Workload::Write => Kind::Write,
            Step::Plain | Step::Read | Step::ReRead => Kind::Read,
            Step::Write => Kind::Write,
            Step::Compare | Step::Check => Kind::Compare,
            Step::CompareWrite | Step::Sync => Kind::Ats,
        };
        let outcome = match outcome {
            Outcome::Error(e) => return self.on_error(s, e),
            o => o,
        };
        self.good_ios += 1;
        if slot.step != Step::CompareWrite {
            let from = if slot.step == Step::Plain { slot.attempt_at } else { slot.io_at };
            self.lat.record(kind, self.now.saturating_sub(from).max(took));
        }
        let miscompared = matches!(outcome, Outcome::Miscompare { .. });
        match (slot.step, miscompared) {
            (Step::Plain, false) => {
                self.counters.ops += 1;
                self.begin(s);
            }
            (Step::Check, _) => self.on_check(s, miscompared),
            (Step::Read, false) => self.on_read(s),
            (Step::Compare, false) if self.stopping => self.end_attempt(s),
            (Step::Compare, false) => {
                let (offset, area) = (self.lock_offset(slot.lock), self.area(s, 1));
                self.issue(s, Step::Write, Op::Write, offset, area, self.bs);
            }
            (Step::Compare, true) | (Step::CompareWrite, true) => {
                self.release(s);
                let (offset, area) = (self.lock_offset(slot.lock), self.area(s, 2));
                self.issue(s, Step::ReRead, Op::Read, offset, area, self.bs);
            }
            (Step::Write, false) | (Step::CompareWrite, false) => self.on_success(s),
            (Step::ReRead, false) => self.on_miscompare(s),
            (step, _) => self.on_error(
                s,
                IoError { code: 0, message: format!("unexpected miscompare status on a {step:?} command") },
            ),
        }
    }

    fn on_error(&mut self, s: usize, e: IoError) {
        self.counters.errors += 1;
        let slot = self.slots[s];
        if self.error_samples.len() < 8 {
            let offset =
                if slot.step == Step::Plain { "a random block".to_string() } else { format!("lock {}", slot.lock) };
            self.error_samples.push(format!("{:?} on {offset}: {}", slot.step, e.message));
        }
        if e.code == -(libc::EOPNOTSUPP as i64) || e.code == -(libc::EINVAL as i64) && self.good_ios == 0 {
            self.fail(Error::Unsupported(format!("the target refused the command: {}", e.message)));
        } else if self.good_ios == 0 && self.counters.errors >= FAIL_FAST_ERRORS {
            self.fail(Error::Device(format!("every command failed, the first with: {}", self.error_samples[0])));
        }
        if self.spec.workload.is_ats_like() && slot.step != Step::Plain {
            self.end_attempt(s);
        }
        self.begin(s);
    }
}
