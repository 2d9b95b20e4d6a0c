//! One worker's view of the simulated device: it runs each request on the shared medium when
//! the engine hands over the request's buffer (`execute`), then completes it through the ring
//! at the time the latency model and the device queue make it due (`prepare`: a NOP, or an
//! absolute `IORING_OP_TIMEOUT`).

use super::faults::{Dice, Fault};
use super::protocol::{self, NSID};
use super::{Device, SimProtocol};
use crate::backend::scsi::{self, CmdOptions};
use crate::backend::{nvme, Backend, IoError, IoReq, Outcome, Via};
use crate::sys::clock::monotonic_ns;
use crate::workload::Rng;
use io_uring::{cqueue, opcode, squeue, types};
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The outcome of a request and when it is due.
#[derive(Clone, Copy)]
struct Pending {
    outcome: Option<Outcome>,
    /// Completes through a timeout at `due` (else through a NOP, at once).
    delayed: bool,
}

/// How far ahead a command struck by `no-answer` is due: never, for any point.
const NO_ANSWER_NS: u64 = 24 * 3600 * 1_000_000_000;
/// The step and the ceiling of the timers' lead (see `SimBackend::lead_ns`).
const LEAD_STEP_NS: u64 = 100;
const LEAD_MAX_NS: u64 = 50_000;
/// SCSI sense key MEDIUM ERROR.
const KEY_MEDIUM_ERROR: u8 = 0x3;

pub struct SimBackend {
    dev: Arc<Device>,
    cmd: CmdOptions,
    dice: Dice,
    /// Service times come from their own RNG, so that a latency model does not change which
    /// commands faults strike.
    latency_rng: Rng,
    pending: Vec<Pending>,
    answers: Answers,
    commands: u64,
    queued: u64,
    queue_wait_sum_ns: u64,
    queue_wait_max_ns: u64,
}

/// When the answers held back are due, and the timers that bring them.
struct Answers {
    /// Each user_data's timer (CLOCK_MONOTONIC), read by the kernel from the timeout SQE: kept
    /// here, unmoved, until that completion is reaped.
    timer: Box<[types::Timespec]>,
    /// The due times in ns of the commands held back by a timer (0: none), and how many there
    /// are (`next_due`).
    due_ns: Box<[u64]>,
    held: u32,
    /// How early each timer is armed: the io_uring timeout path posts a completion some
    /// microseconds after its time (about 5 us on a quiet virtual machine), so the timer goes
    /// off that much before the due time. Learnt from the answers themselves: each one seen
    /// after its due time moves it up by `LEAD_STEP_NS`, each one seen before moves it down,
    /// so that the median answer comes at its due time.
    lead_ns: u64,
}

impl Answers {
    fn new(slots: usize) -> Self {
        Answers {
            timer: vec![types::Timespec::new(); slots].into_boxed_slice(),
            due_ns: vec![0; slots].into_boxed_slice(),
            held: 0,
            lead_ns: 0,
        }
    }

    /// The answer to `ud` is due at `due` (0: at once).
    fn hold(&mut self, ud: usize, due: u64) {
        // A time already past makes the timeout expire at once.
        self.timer[ud] = timespec(due.saturating_sub(self.lead_ns).max(1));
        if due > 0 {
            self.held += u32::from(self.due_ns[ud] == 0);
            self.due_ns[ud] = due;
        }
    }

    /// The answer to `ud` came: learn from when.
    fn answered(&mut self, ud: usize) {
        let due = self.due_ns[ud];
        if due == 0 {
            return;
        }
        self.due_ns[ud] = 0;
        self.held -= 1;
        self.lead_ns = if monotonic_ns() > due {
            (self.lead_ns + LEAD_STEP_NS).min(LEAD_MAX_NS)
        } else {
            self.lead_ns.saturating_sub(LEAD_STEP_NS)
        };
    }

    /// When the earliest answer held back can come: its due time less the timer's lead.
    fn next_due(&self) -> Option<u64> {
        if self.held == 0 {
            return None;
        }
        self.due_ns.iter().copied().filter(|&d| d != 0).min().map(|d| d.saturating_sub(self.lead_ns))
    }
}

fn timespec(ns: u64) -> types::Timespec {
    types::Timespec::new().sec(ns / 1_000_000_000).nsec((ns % 1_000_000_000) as u32)
}

impl SimBackend {
    pub(super) fn new(dev: Arc<Device>, worker: u32, seed: u64, slots: usize) -> Self {
        let w = u64::from(worker).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let cmd = CmdOptions { lbs: dev.lbs, dpo: false, fua: false, timeout_ms: 0, caw_timeout_ms: 0 };
        let dice = Dice::new(seed.rotate_left(17) ^ 0x51AD_F00D ^ w, dev.options.inject);
        SimBackend {
            dev,
            cmd,
            dice,
            latency_rng: Rng::new(seed.rotate_left(41) ^ 0x01A7_E1C7 ^ w),
            pending: vec![Pending { outcome: None, delayed: false }; slots],
            answers: Answers::new(slots),
            commands: 0,
            queued: 0,
            queue_wait_sum_ns: 0,
            queue_wait_max_ns: 0,
        }
    }

    /// Run `req` on the medium as its protocol encodes it.
    fn run(&mut self, req: &IoReq, data: &mut [u8]) -> Outcome {
        let (m, lbs) = (&self.dev.media, self.dev.lbs);
        match self.dev.options.protocol {
            SimProtocol::Scsi => {
                let cmd = match scsi::encode(req, &self.cmd) {
                    Ok(c) => c,
                    Err(e) => return Outcome::Error(e),
                };
                let r = protocol::scsi(m, lbs, &cmd, data, &mut self.dice);
                let sense = r.sense.as_ref().map_or(&[][..], |s| &s[..]);
                let driver = if r.sense.is_some() { crate::proto::scsi::DRIVER_SENSE } else { 0 };
                scsi::outcome(req.op, r.status, 0, driver, sense)
            }
            SimProtocol::Nvme => match nvme::encode(req, NSID, lbs) {
                Ok(c) => nvme::outcome(protocol::nvme(m, lbs, &c.to_bytes(), data, &mut self.dice)),
                Err(why) => Outcome::Error(IoError::unencodable(why)),
            },
        }
    }

    /// The answer of a command struck by `medium-error`, as the protocol gives it.
    fn medium_error(&self, req: &IoReq) -> Outcome {
        let writes = req.op == crate::backend::Op::Write;
        match self.dev.options.protocol {
            SimProtocol::Scsi => {
                let (asc, ascq) = if writes { (0x0C, 0x00) } else { (0x11, 0x00) };
                let sense = crate::proto::scsi::fixed_sense(KEY_MEDIUM_ERROR, asc, ascq, None);
                scsi::outcome(
                    req.op,
                    crate::proto::scsi::STATUS_CHECK_CONDITION,
                    0,
                    crate::proto::scsi::DRIVER_SENSE,
                    &sense,
                )
            }
            SimProtocol::Nvme => {
                let sc = if writes { 0x80 } else { 0x81 };
                let raw = crate::proto::nvme::NvmeStatus { sct: 2, sc, crd: 0, more: false, dnr: false }.raw();
                nvme::outcome(i32::from(raw))
            }
        }
    }

    /// The answer of a command struck by `error-after-write` (it ran; its answer was lost on
    /// the way), as the protocol gives it.
    fn answer_lost(&self, req: &IoReq) -> Outcome {
        match self.dev.options.protocol {
            SimProtocol::Scsi => scsi::outcome(req.op, 0, crate::proto::scsi::DID_ERROR, 0, &[]),
            SimProtocol::Nvme => {
                let raw = crate::proto::nvme::NvmeStatus { sct: 3, sc: 0x70, crd: 0, more: false, dnr: false }.raw();
                nvme::outcome(i32::from(raw))
            }
        }
    }

    /// The answer of every command once the device is gone (`device-gone`): ENODEV at once,
    /// as a removed disk's block layer or sg node gives.
    fn gone(&mut self, ud: usize) {
        let e = IoError::host(libc::ENODEV, Via::Io);
        self.pending[ud] = Pending { outcome: Some(Outcome::Error(e)), delayed: false };
    }

    /// When a command that arrived at `arrival` completes: after its wait for a device slot,
    /// its service time and any latency spike. Returns 0 for "at once".
    fn due_at(&mut self, arrival: u64) -> u64 {
        let o = &self.dev.options;
        let service = o.latency.sample(&mut self.latency_rng);
        let spike = if self.dice.hit(Fault::LatencySpike) { o.latency.spike_ns() } else { 0 };
        if service == 0 && spike == 0 && self.dev.queue.is_none() {
            return 0;
        }
        let start = match &self.dev.queue {
            Some(q) => q.lock().unwrap_or_else(|e| e.into_inner()).start(arrival, service),
            None => arrival,
        };
        if start > arrival {
            let wait = start - arrival;
            self.queued += 1;
            self.queue_wait_sum_ns += wait;
            self.queue_wait_max_ns = self.queue_wait_max_ns.max(wait);
        }
        let due = start + service + spike;
        if due > arrival {
            due
        } else {
            0
        }
    }
}

impl Backend for SimBackend {
    type Sqe = squeue::Entry;
    type Cqe = cqueue::Entry;

    fn fds(&self) -> Vec<RawFd> {
        Vec::new()
    }

    fn fixed_buffers(&self) -> bool {
        false
    }

    const EXECUTES: bool = true;

    #[inline]
    fn execute(&mut self, req: &IoReq, data: &mut [u8]) {
        // The command arrives before it runs on the medium: its service time starts now.
        let arrival = monotonic_ns();
        self.commands += 1;
        let ud = req.user_data as usize;
        if self.dev.gone.load(Ordering::Relaxed) {
            return self.gone(ud);
        }
        if self.dice.hit(Fault::NoAnswer) {
            // Never run, and due so far ahead that nothing waits for it.
            let due = monotonic_ns() + NO_ANSWER_NS;
            self.pending[ud] = Pending { outcome: None, delayed: true };
            self.answers.timer[ud] = timespec(due);
            return;
        }
        if self.dice.hit(Fault::DeviceGone) {
            self.dev.gone.store(true, Ordering::Relaxed);
            return self.gone(ud);
        }
        let outcome = if self.dice.hit(Fault::MediumError) {
            self.medium_error(req)
        } else {
            let outcome = self.run(req, data);
            if self.dice.hit(Fault::ErrorAfterWrite) {
                self.answer_lost(req)
            } else {
                outcome
            }
        };
        let due = self.due_at(arrival);
        self.pending[ud] = Pending { outcome: Some(outcome), delayed: due > 0 };
        self.answers.hold(ud, due);
    }

    #[inline]
    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = req.user_data as usize;
        let sqe = if self.pending[ud].delayed {
            opcode::Timeout::new(&self.answers.timer[ud]).flags(types::TimeoutFlags::ABS).build()
        } else {
            opcode::Nop::new().build()
        };
        push(&sqe.user_data(req.user_data));
    }

    #[inline]
    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), _push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = cqe.user_data();
        let Some(p) = self.pending.get_mut(ud as usize) else { return };
        let outcome = p.outcome.take();
        self.answers.answered(ud as usize);
        // A NOP completes with 0, an expired timeout with -ETIME; anything else is the ring's.
        let res = cqe.result();
        if res < 0 && res != -libc::ETIME {
            return done(ud, Outcome::Error(IoError::host(-res, Via::Io)));
        }
        if let Some(o) = outcome {
            done(ud, o);
        }
    }

    fn measuring(&mut self, on: bool) {
        self.dice.on = on;
    }

    /// When the earliest answer held back can come: its due time less the timer's lead (a
    /// command struck by `no-answer` is not held: it is never answered).
    #[inline]
    fn next_due(&self) -> Option<u64> {
        self.answers.next_due()
    }

    fn report(&self) -> Option<crate::results::BackendReport> {
        Some(crate::results::BackendReport {
            device: Some("sim".into()),
            protocol: Some(self.dev.options.protocol.name().into()),
            ..Default::default()
        })
    }
}

impl Drop for SimBackend {
    fn drop(&mut self) {
        let mut t = self.dev.totals.lock().unwrap_or_else(|e| e.into_inner());
        t.commands += self.commands;
        t.queued += self.queued;
        t.queue_wait_sum_ns += self.queue_wait_sum_ns;
        t.queue_wait_max_ns = t.queue_wait_max_ns.max(self.queue_wait_max_ns);
        for (a, b) in t.struck.iter_mut().zip(self.dice.struck) {
            a.eligible += b.eligible;
            a.injected += b.injected;
        }
        if let Some((u, at)) = self.dice.first_foreign {
            if t.first_foreign.is_none_or(|(_, first)| at < first) {
                t.first_foreign = Some((u, at));
            }
        }
    }
}
