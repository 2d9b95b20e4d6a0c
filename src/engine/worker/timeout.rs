//! `--timeout MS`, as ESXi does it: a worker gives up on a device-side ATS command (COMPARE
//! AND WRITE; NVMe Compare or Write) that has not completed within MS, and retries the attempt
//! with the same expected and new images. The given-up command may still land: when its
//! write did, the retry miscompares against the host's own write (`own_write`).
//!
//! Buffer ownership: a given-up command still owns its slab area (E+N) and its user_data
//! until its completion is reaped; the kernel (or device) may read the data-out until then.
//! So a slot has two lanes, each with its own E+N area and user_data (`lane * qd + slot`).
//! The retry goes out on the other lane, E+N copied there from the given-up lane (a read of
//! data-out that the device only reads, see `Slab::copy`); if the other lane is itself still
//! held by an earlier given-up command, the slot waits for that late completion and then
//! retries on the lane it frees. A user_data is reused only once its completion was reaped,
//! so a late completion can never be taken for the retry's. The re-read area R is shared by
//! the lanes: re-reads and set-up commands are never given up.
//!
//! A late completion frees its lane and is counted (`late_completions`); an error is counted
//! and sampled; a success means the write landed, so the transition is claimed for the
//! history (once: the retry may claim the same image), and verification can account for the
//! block. The attempt's `ats` latency runs from its start to its outcome, waits included.
//! Deadlines are checked after each reap, by a scan of the slots only when the earliest
//! deadline may have passed; nothing here allocates or touches shared memory.
//!
//! Retries stop at the stop: once the point is over, a command given up is not sent again
//! (its attempt ends there), so that a collapsed device queue cannot keep the drain going.

use super::{ErrorSample, Step, Worker};
use crate::backend::{AtsMode, Backend, Op, Outcome};
use crate::verify::history::Claim;

/// What a worker knows of its given-up commands.
pub(super) struct Timeouts {
    ns: u64,
    /// No deadline expires before this (u64::MAX: none pending).
    next_check: u64,
    /// Per user_data.
    lanes: Vec<Lane>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Lane {
    busy: bool,
    given_up: bool,
    /// The command's step and op, for its error sample and latency kind.
    what: Option<(Step, Op)>,
    /// The transition a write on this lane makes, should it land.
    claim: Option<Claim>,
}

impl Timeouts {
    pub fn new(ns: u64, requests: usize) -> Self {
        Timeouts { ns, next_check: u64::MAX, lanes: vec![Lane::default(); requests] }
    }
}

impl<B: Backend> Worker<'_, B> {
    /// `ud`, slot `s`'s command, is queued: an ATS command gets a deadline, at least `ns`
    /// after now (the scan in `expire` moves it to `ns` after the command's submission).
    #[inline]
    pub(super) fn track(&mut self, s: usize, ud: usize) {
        let Some(t) = &mut self.to else { return };
        let slot = &mut self.slots[s];
        let timed = matches!(slot.step, Step::CompareWrite | Step::Compare | Step::Write);
        let claim = slot.claim();
        let writes = matches!(slot.step, Step::CompareWrite | Step::Write);
        let what = Some((slot.step, slot.op));
        t.lanes[ud] = Lane { busy: true, given_up: false, what, claim: writes.then_some(claim) };
        slot.deadline = if timed { self.now + t.ns } else { 0 };
        if timed {
            t.next_check = t.next_check.min(slot.deadline);
        }
    }

    /// A completion of `ud`: true when it belongs to a given-up command (handled here).
    #[inline]
    pub(super) fn late(&mut self, ud: usize, outcome: Outcome) -> bool {
        let Some(t) = &mut self.to else { return false };
        let qd = self.slots.len();
        let (s, lane) = (ud % qd, t.lanes[ud]);
        t.lanes[ud].busy = false;
        if !lane.given_up {
            self.slots[s].deadline = 0;
            return false;
        }
        t.lanes[ud] = Lane::default();
        self.tally.counters.late_completions += 1;
        let (step, op) = lane.what.unwrap_or((Step::CompareWrite, Op::CompareWrite));
        let submitted = self.io.stamps[ud].submitted;
        self.tally.clat.record(super::op_kind(op), self.now.saturating_sub(submitted));
        match outcome {
            Outcome::Done => {
                if let Some(c) = lane.claim {
                    self.claim_once(s, c);
                }
            }
            Outcome::Error(error) => {
                self.tally.error(ErrorSample { step, lock: Some(self.slots[s].lock), error });
                let lba = self.lock_offset(self.slots[s].lock) / self.bs as u64;
                self.tally.faults.error(super::op_kind(op), self.now, lba, error);
            }
            Outcome::Miscompare { .. } => {}
        }
        if std::mem::take(&mut self.slots[s].awaiting_lane) {
            if self.pace.stopping {
                self.end_attempt(s);
            } else {
                self.resend(s, (ud / qd) as u8);
            }
        }
        true
    }

    /// Slot `s` claimed image `seq`: a given-up command that wrote it must not claim it again
    /// when it completes.
    #[inline]
    pub(super) fn forget_claim(&mut self, s: usize, seq: u64) {
        let Some(t) = &mut self.to else { return };
        let qd = self.slots.len();
        for ud in [s, qd + s] {
            if t.lanes[ud].claim.is_some_and(|c| c.owner.seq == seq) {
                t.lanes[ud].claim = None;
            }
        }
    }

    /// Give up on the ATS commands whose deadline has passed, once the kernel has posted
    /// every completion that happened (a wait that timed out may return before, see
    /// `Ring::flush`): a command is given up only if it really has not completed.
    pub(super) fn expire(&mut self) {
        match &mut self.to {
            // Commands sent from here on lower it again to their own deadlines.
            Some(t) if self.now >= t.next_check => t.next_check = u64::MAX,
            _ => return,
        }
        if let Err(e) = self.io.ring.flush() {
            self.fail(crate::error::Error::Device(format!("io_uring_enter failed: {e}")));
        }
        self.reap();
        let (mut next, ns) = (u64::MAX, self.to.as_ref().map_or(0, |t| t.ns));
        for s in 0..self.slots.len() {
            // The clock runs from the command's submission (stamped just before the enter
            // that submitted it), not from the worker's clock when it was queued, which may
            // be older by however long the worker was kept from running.
            let deadline = match self.slots[s].deadline {
                0 => continue,
                d => d.max(self.io.stamps[self.ud(s)].submitted + ns),
            };
            if deadline <= self.now {
                self.give_up(s);
            } else {
                next = next.min(deadline);
            }
        }
        if let Some(t) = &mut self.to {
            t.next_check = t.next_check.min(next);
        }
    }

    fn give_up(&mut self, s: usize) {
        let (ud, qd) = (self.ud(s), self.slots.len());
        let lane = self.slots[s].lane;
        self.slots[s].deadline = 0;
        self.tally.counters.timeouts += 1;
        let Some(t) = &mut self.to else { return };
        t.lanes[ud].given_up = true;
        let other = 1 - lane;
        if self.pace.stopping {
            // No retry after the stop: the attempt ends with its command given up.
            self.end_attempt(s);
        } else if t.lanes[usize::from(other) * qd + s].busy {
            self.slots[s].awaiting_lane = true;
        } else {
            self.resend(s, other);
        }
    }

    /// The attempt again on `lane`, from its first device command, with the same E and N.
    fn resend(&mut self, s: usize, lane: u8) {
        self.tally.faults.retried(super::op_kind(self.slots[s].op));
        let from = self.e_area(s);
        self.slots[s].lane = lane;
        let to = self.e_area(s);
        self.io.ring.slab_mut().copy(from, to, 2 * self.bs);
        let offset = self.lock_offset(self.slots[s].lock);
        match self.sh.mode {
            AtsMode::Device => self.issue(s, Step::CompareWrite, Op::CompareWrite, offset, to, self.bs),
            _ => self.issue(s, Step::Compare, Op::Compare, offset, to, self.bs),
        }
    }

    /// How long the worker may wait for completions: until a paced start or a deadline.
    #[inline]
    pub(super) fn wake_in(&self) -> Option<u64> {
        let paced = self.pace.wake_in(self.now);
        let deadline =
            self.to.as_ref().filter(|t| t.next_check != u64::MAX).map(|t| t.next_check.saturating_sub(self.now).max(1));
        match (paced, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
