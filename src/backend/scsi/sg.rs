//! The `sg` transport: sg v3 asynchronous commands, completions watched through the ring.
//!
//! `prepare` submits with `write(2)` at once (the CDB and data-out are copied in then) and, the
//! first time an fd is used, pushes a multishot POLL_ADD on it. Each poll completion means
//! "some command on this fd finished": `complete` reads every finished header with a
//! non-blocking `read(2)` (which copies the data-in and sense out), matches it by `pack_id` to
//! its slot and re-arms the poll when the kernel ended it. A `write(2)` that fails hands its
//! error back through a NOP carrying the request's user_data.

use super::{errno_outcome, outcome, Shared, Transport};
use crate::backend::{Backend, IoError, IoReq, Op, Outcome, Via};
use crate::error::Result;
use crate::sys::sg::{sg_reap, submit_addr, SenseBufs};
use io_uring::{cqueue, opcode, squeue, types};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;

/// user_data bit of poll entries; the rest is the fd index. Requests use their slot number.
const POLL_TAG: u64 = 1 << 63;

pub struct SgBackend {
    shared: Arc<Shared>,
    fds: Vec<File>,
    sense: SenseBufs,
    ops: Vec<Op>,
    inflight: Vec<bool>,
    /// Outcomes decided in `prepare` (a failed submission), delivered by a NOP.
    pending: Vec<Option<Outcome>>,
    armed: Vec<bool>,
    /// An fd whose `read(2)` or poll failed: its commands were failed and it takes no more.
    broken: Vec<Option<IoError>>,
    multishot: bool,
    rearms: u64,
    /// Request slots per fd (at most SG_MAX_QUEUE): slot `s` uses fd `s / per`.
    per: usize,
    /// Commands submitted and not yet reaped, per fd.
    outstanding: Vec<usize>,
}

impl SgBackend {
    pub fn new(shared: Arc<Shared>) -> Result<Self> {
        let slots = shared.slots;
        let per = shared.slots_per_fd;
        let nfds = slots.div_ceil(per);
        let fds = (0..nfds).map(|_| super::open_sg(&shared.path, true)).collect::<Result<Vec<_>>>()?;
        Ok(SgBackend {
            shared,
            fds,
            sense: SenseBufs::new(slots),
            ops: vec![Op::Read; slots],
            inflight: vec![false; slots],
            pending: vec![None; slots],
            armed: vec![false; nfds],
            broken: vec![None; nfds],
            multishot: true,
            rearms: 0,
            per,
            outstanding: vec![0; nfds],
        })
    }

    fn poll_entry(&self, f: usize) -> squeue::Entry {
        opcode::PollAdd::new(types::Fixed(f as u32), libc::POLLIN as u32)
            .multi(self.multishot)
            .build()
            .user_data(POLL_TAG | f as u64)
    }

    fn submit(&mut self, req: &IoReq) -> Result<(), Outcome> {
        let slot = req.user_data as usize;
        let f = slot / self.per;
        if let Some(why) = self.broken[f] {
            return Err(Outcome::Error(why));
        }
        let cmd = super::encode(req, &self.shared.opts).map_err(Outcome::Error)?;
        submit_addr(self.fds[f].as_fd(), &cmd, &self.sense, slot, req.user_data)
            .map_err(|e| errno_outcome(req.op, Transport::Sg, &e))
    }

    /// Reap every finished command of fd `f` (stopping early when none is outstanding there,
    /// which saves the `read(2)` that would say EAGAIN).
    fn drain(&mut self, f: usize, done: &mut dyn FnMut(u64, Outcome)) {
        while self.outstanding[f] > 0 {
            match sg_reap(self.fds[f].as_fd(), -1) {
                Ok(c) => {
                    let slot = c.pack_id as usize;
                    if c.pack_id < 0 || slot >= self.inflight.len() || !self.inflight[slot] {
                        continue; // not ours (cannot happen: every command carries its slot)
                    }
                    self.inflight[slot] = false;
                    self.outstanding[f] -= 1;
                    let sense = self.sense.copy(slot);
                    let n = usize::from(c.sb_len_wr).min(sense.len());
                    let o = outcome(self.ops[slot], c.status, c.host_status, c.driver_status, &sense[..n]);
                    done(slot as u64, o);
                }
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => {
                    let why = IoError::host(e.raw_os_error().unwrap_or(libc::EIO), Via::SgReap);
                    return self.fail_fd(f, why, done);
                }
            }
        }
    }

    /// Give up on fd `f`: fail its commands in flight so that the engine does not wait forever.
    fn fail_fd(&mut self, f: usize, why: IoError, done: &mut dyn FnMut(u64, Outcome)) {
        let range = f * self.per..((f + 1) * self.per).min(self.inflight.len());
        for slot in range {
            if std::mem::take(&mut self.inflight[slot]) {
                self.outstanding[f] -= 1;
                done(slot as u64, Outcome::Error(why));
            }
        }
        self.broken[f] = Some(why);
    }
}

impl Backend for SgBackend {
    type Sqe = squeue::Entry;
    type Cqe = cqueue::Entry;

    fn fds(&self) -> Vec<RawFd> {
        self.fds.iter().map(|f| f.as_raw_fd()).collect()
    }

    fn fixed_buffers(&self) -> bool {
        false
    }

    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe)) {
        let slot = req.user_data as usize;
        self.ops[slot] = req.op;
        match self.submit(req) {
            Ok(()) => {
                self.inflight[slot] = true;
                let f = slot / self.per;
                self.outstanding[f] += 1;
                if !self.armed[f] {
                    self.armed[f] = true;
                    push(&self.poll_entry(f));
                }
            }
            Err(o) => {
                self.pending[slot] = Some(o);
                push(&opcode::Nop::new().build().user_data(req.user_data));
            }
        }
    }

    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = cqe.user_data();
        if ud & POLL_TAG == 0 {
            if let Some(o) = self.pending.get_mut(ud as usize).and_then(Option::take) {
                done(ud, o);
            }
            return;
        }
        let f = (ud & !POLL_TAG) as usize;
        let res = cqe.result();
        if res == -libc::EINVAL && self.multishot {
            self.multishot = false; // a kernel without multishot poll: re-arm after every event
        } else if res < 0 && res != -libc::ECANCELED {
            self.fail_fd(f, IoError::host(-res, Via::SgPoll), done);
            return;
        }
        self.drain(f, done);
        if !cqueue::more(cqe.flags()) && self.broken[f].is_none() {
            self.rearms += 1;
            push(&self.poll_entry(f));
        }
    }

    fn report(&self) -> Option<crate::results::BackendReport> {
        let extra = crate::results::BackendReport {
            sg_fds_per_worker: Some(self.fds.len() as u64),
            slots_per_sg_fd: Some(self.per as u64),
            poll: Some(if self.multishot { "multishot" } else { "oneshot" }.into()),
            poll_rearms: Some(self.rearms),
            ..Default::default()
        };
        Some(self.shared.report(Transport::Sg, extra))
    }
}
