//! A worker's I/O: its ring and backend, the submission and completion of requests, and the
//! timestamps of each request slot.
//!
//! Where each timestamp is taken (nanoseconds since the point began, from one monotonic clock
//! per worker):
//! - queued: when the worker prepares the command, which is the clock read after the wait that
//!   reaped whatever let the slot go on (commands prepared in one pass over a batch of
//!   completions share it);
//! - submitted: one clock read just before the `io_uring_enter` that submits the command (with
//!   SQPOLL, just before it is placed in the submission ring, which the kernel thread polls);
//! - reaped: the clock read right after the `io_uring_enter` (or the poll of the completion
//!   ring) that returned its completion.
//!
//! slat = submitted - queued, clat = reaped - submitted, lat = reaped - queued (fio's terms).
//!
//! Commands abandoned at the end of a point (`Worker::measure`: still out when the drain's
//! grace ran out) keep their buffers and user_data: an `Io` dropped with commands still in
//! flight leaves its ring, slab and backend to the kernel for the life of the process (they
//! are leaked, never freed or reused), so that a late completion can only ever land in memory
//! that is still its own.

use crate::backend::{Backend, IoReq, Op, Outcome};
use crate::sys::uring::Ring;
use std::mem::ManuallyDrop;

/// When a slot's current command was queued and submitted.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stamp {
    pub queued: u64,
    pub submitted: u64,
}

pub(super) struct Io<B: Backend> {
    /// Dropped only when nothing is in flight (see the module doc).
    pub ring: ManuallyDrop<Ring<B::Sqe, B::Cqe>>,
    pub backend: ManuallyDrop<B>,
    /// Requests the last completion finished: (user_data, outcome).
    pub events: Vec<(u64, Outcome)>,
    /// Slots whose command was queued since the last submission.
    unsubmitted: Vec<u32>,
    pub stamps: Vec<Stamp>,
    /// The command each user_data has out, if any.
    out: Vec<Option<Op>>,
    pub inflight: u32,
    /// The submission queue overflowed (a bug: the ring has room for every slot).
    pub overflowed: bool,
    sqpoll: bool,
}

impl<B: Backend> Io<B> {
    pub fn new(ring: Ring<B::Sqe, B::Cqe>, backend: B, slots: usize, sqpoll: bool) -> Self {
        Io {
            ring: ManuallyDrop::new(ring),
            backend: ManuallyDrop::new(backend),
            events: Vec::with_capacity(slots * 2),
            unsubmitted: Vec::with_capacity(slots),
            stamps: vec![Stamp::default(); slots],
            out: vec![None; slots],
            inflight: 0,
            overflowed: false,
            sqpoll,
        }
    }

    /// Queue `req` (its slot is its user_data) at time `now`.
    #[allow(unsafe_code)] // Ring::push, for the reason below.
    pub fn queue(&mut self, req: &IoReq, now: u64) {
        if B::EXECUTES {
            // The simulated device moves the data itself: hand it the request's buffer, which
            // belongs to the request from now until its completion is reaped.
            let at = (req.addr - self.ring.slab().addr(0)) as usize;
            self.backend.execute(req, self.ring.slab_mut().range_mut(at, req.data_len()));
        }
        let (backend, ring, overflowed) = (&mut self.backend, &mut self.ring, &mut self.overflowed);
        backend.prepare(req, &mut |sqe| {
            // SAFETY: a backend builds entries only from `req`, whose buffer is a range of this
            // ring's slab that belongs to this one request until its completion is reaped (its
            // slot starts nothing else on that range meanwhile: a `--timeout` resend goes to
            // the slot's other lane, whose own earlier command has been reaped, see
            // timeout.rs), or from memory the backend itself keeps until it reaps the
            // completion (sg headers, CDBs, sense buffers, the simulated device's timeouts).
            // The worker reaps every submitted entry before the ring is dropped
            // (`Worker::run` drains).
            if !unsafe { ring.push(sqe) } {
                *overflowed = true;
            }
        });
        let slot = req.user_data as usize;
        self.out[slot] = Some(req.op);
        self.inflight += 1;
        self.stamps[slot].queued = now;
        if self.sqpoll {
            self.stamps[slot].submitted = now;
        } else {
            self.unsubmitted.push(slot as u32);
        }
    }

    /// Whether commands are queued but not yet submitted.
    pub fn has_unsubmitted(&self) -> bool {
        !self.unsubmitted.is_empty()
    }

    /// Stamp the queued commands as submitted at `now` (just before the submitting enter).
    pub fn stamp_submitted(&mut self, now: u64) {
        for s in self.unsubmitted.drain(..) {
            self.stamps[s as usize].submitted = now;
        }
    }

    /// Take the next posted completion, if any, and let the backend turn it into the outcomes
    /// of the requests it finishes, in `events` (emptied first; usually one). No copy of the
    /// completion queue is made: the caller handles `events` before taking the next.
    #[allow(unsafe_code)] // Ring::push of a transport's re-arm entry, for the reason in `queue`.
    #[inline]
    pub fn complete_next(&mut self) -> bool {
        let Some(cqe) = self.ring.next_cqe() else { return false };
        self.events.clear();
        let (backend, events, ring, overflowed) =
            (&mut self.backend, &mut self.events, &mut self.ring, &mut self.overflowed);
        backend.complete(&cqe, &mut |ud, o| events.push((ud, o)), &mut |sqe| {
            // SAFETY: a re-arm entry (a poll on a registered sg fd) names no buffer.
            if !unsafe { ring.push(sqe) } {
                *overflowed = true;
            }
        });
        self.inflight -= self.events.len() as u32;
        for &(ud, _) in &self.events {
            self.out[ud as usize] = None;
        }
        true
    }

    /// The commands still out.
    pub fn still_out(&self) -> impl Iterator<Item = Op> + '_ {
        self.out.iter().flatten().copied()
    }
}

impl<B: Backend> Drop for Io<B> {
    #[allow(unsafe_code)] // ManuallyDrop::drop, once, of fields never used again.
    fn drop(&mut self) {
        if self.inflight > 0 {
            // Abandoned commands may still read or write the slab and the backend's memory
            // (sense buffers, headers): leave them all to the kernel (see the module doc).
            return;
        }
        // SAFETY: this is the one place the two fields are dropped, in `Io`'s own drop, after
        // which they are never touched; nothing is in flight, so no command still uses them.
        unsafe {
            ManuallyDrop::drop(&mut self.ring);
            ManuallyDrop::drop(&mut self.backend);
        }
    }
}
