//! Set-up and read-back of the lock blocks, and the rendezvous of several hosts, through the
//! worker's own ring and backend (a passthrough device has no read(2)/write(2)): synchronous
//! commands, each batch awaited, before the point is measured or after it.

use super::{Step, Worker};
use crate::backend::{Backend, IoReq, Op, Outcome};
use crate::engine::faults::ErrorKind;
use crate::engine::hosts::Board;
use crate::error::{Error, Result};
use crate::workload::record::Record;
use crate::workload::rendezvous::Meet;
use std::sync::atomic::Ordering;

impl<B: Backend> Worker<'_, B> {
    /// Run `op` on every lock block, `qd` at a time, waiting for each batch.
    fn sync_locks(&mut self, op: Op, mut each: impl FnMut(&mut Self, usize, u32)) -> Result<()> {
        let (qd, locks) = (self.slots.len() as u32, self.spec.locks());
        let genesis_host = self.spec.genesis_host();
        let mut first = 0;
        while first < locks {
            let n = qd.min(locks - first);
            for k in 0..n as usize {
                let lock = first + k as u32;
                let area = self.area(k, if op == Op::Read { 2 } else { 0 });
                if op == Op::Write {
                    Record::genesis(lock, genesis_host).encode(self.io.ring.slab_mut().range_mut(area, self.bs));
                }
                self.issue(k, Step::Sync, op, self.lock_offset(lock), area, self.bs);
            }
            let verb = if op == Op::Read { "reading back" } else { "initialising" };
            self.await_sync(|w, slot, o| match o {
                // A command the target cannot take at all (polled I/O on a device without poll
                // queues) is a missing feature, as during the measurement.
                Outcome::Error(e) if e.code == -i64::from(libc::EOPNOTSUPP) => {
                    Err(Error::Unsupported(format!("{verb} lock block {}: {e}", first + slot as u32)))
                }
                Outcome::Error(e) => {
                    // A device that went away between the stop and the read-back (a deleted
                    // disk reads 0 bytes) is gone, as during the measurement.
                    if let Some(what) = ErrorKind::of(&e).gone() {
                        w.device_gone(e, what);
                    }
                    Err(Error::Device(format!("{verb} lock block {}: {e}", first + slot as u32)))
                }
                _ => {
                    each(w, slot, first + slot as u32);
                    Ok(())
                }
            })?;
            first += n;
        }
        Ok(())
    }

    /// Submit what is queued and wait for all of it, handing each completion to `each`.
    fn await_sync(&mut self, mut each: impl FnMut(&mut Self, usize, Outcome) -> Result<()>) -> Result<()> {
        self.io.stamp_submitted(self.now);
        while self.io.inflight > 0 {
            self.io.ring.submit_and_wait(1).map_err(|e| Error::Device(format!("io_uring_enter failed: {e}")))?;
            let mut r = Ok(());
            while self.io.complete_next() {
                for i in 0..self.io.events.len() {
                    // A slot left on its second lane by `--timeout` keeps that user_data.
                    let (ud, o) = self.io.events[i];
                    let slot = ud as usize % self.slots.len();
                    if r.is_ok() {
                        r = each(self, slot, o);
                    }
                }
            }
            r?;
        }
        Ok(())
    }

    /// One synchronous read or write of the block at byte `offset` through slot 0's read
    /// (R) or expected (E) area, outside the measurement (no slot is busy then). It may lie
    /// before the region: the rendezvous blocks precede the lock blocks.
    fn sync_block(&mut self, op: Op, offset: u64, what: &str) -> Result<usize> {
        let area = self.area(0, if op == Op::Read { 2 } else { 0 });
        let req = IoReq { op, offset, len: self.bs as u32, addr: self.io.ring.slab().addr(area), user_data: 0 };
        self.io.queue(&req, self.now);
        self.slots[0].step = Step::Sync;
        self.slots[0].op = op;
        self.await_sync(|_, _, o| match o {
            Outcome::Error(e) => Err(Error::Device(format!("{what} at byte {offset}: {e}"))),
            _ => Ok(()),
        })?;
        Ok(area)
    }

    pub(super) fn write_genesis(&mut self) -> Result<()> {
        self.sync_locks(Op::Write, |_, _, _| {})
    }

    pub(super) fn read_finals(&mut self) -> Result<Vec<Vec<u8>>> {
        let mut finals = vec![Vec::new(); self.spec.locks() as usize];
        self.sync_locks(Op::Read, |w, slot, lock| {
            let area = w.area(slot, 2);
            finals[lock as usize] = w.io.ring.slab().range(area, w.bs).to_vec();
        })?;
        Ok(finals)
    }

    /// Worker 0, before the point: the initial lock records (one host), or the rendezvous of
    /// several hosts, in which host 0 writes them.
    pub(super) fn before_point(&mut self) -> Result<()> {
        let spec = self.spec;
        match spec.hosts.as_deref() {
            None if self.cast.uses_locks() => self.write_genesis(),
            None => Ok(()),
            Some(m) => m.before_point(self).inspect_err(|_| m.leave(self)),
        }
    }

    /// Worker 0, after the point (every worker of this host has stopped): the final lock
    /// blocks, read once every host is done writing them.
    pub(super) fn after_point(&mut self) -> Result<Vec<Vec<u8>>> {
        let spec = self.spec;
        if self.abandoned > 0 {
            // Its user_data may still complete: this worker sends nothing more.
            return Ok(Vec::new());
        }
        // Commands abandoned by any worker may still land: the blocks are not final. A device
        // gone takes no read-back.
        let aborted = self.sh.abort.load(Ordering::Relaxed)
            || self.sh.abandoned.load(Ordering::Relaxed)
            || self.sh.gone.load(Ordering::Relaxed);
        let read = |w: &mut Self| {
            if !w.cast.attempts() || aborted {
                return Ok(Vec::new());
            }
            // A device gone at the read-back ends the run as one gone mid-run: the point is
            // kept, unverified.
            w.read_finals().or_else(|e| if w.gone.is_some() { Ok(Vec::new()) } else { Err(e) })
        };
        match spec.hosts.as_deref() {
            None => read(self),
            Some(m) if aborted => {
                m.leave(self);
                Ok(Vec::new())
            }
            Some(m) => match m.after_point(self, read) {
                // Another host left or was not seen done: keep this host's point, unverified
                // (the other host may still write the lock blocks); the run ends after it.
                Err(Error::Rendezvous(why)) => {
                    m.leave(self);
                    m.lost(why);
                    self.sh.abandoned.store(true, Ordering::Relaxed);
                    Ok(Vec::new())
                }
                r => r.inspect_err(|_| m.leave(self)),
            },
        }
    }

    /// Worker 0 of one of several hosts that stops because of an error: tell the others.
    pub(super) fn leave(&mut self) {
        let spec = self.spec;
        if self.abandoned > 0 {
            return;
        }
        if let (Some(m), 0) = (spec.hosts.as_deref(), self.id) {
            m.leave(self);
        }
    }
}

impl<B: Backend> Board for Worker<'_, B> {
    fn read_meet(&mut self, host: u32) -> Result<Option<Meet>> {
        let offset = self.meet_offset(host);
        let area = self.sync_block(Op::Read, offset, "reading a rendezvous block")?;
        Ok(Meet::decode(self.io.ring.slab().range(area, self.bs)))
    }

    fn write_meet(&mut self, m: &Meet) -> Result<()> {
        let offset = self.meet_offset(m.index);
        let area = self.area(0, 0);
        m.encode(self.io.ring.slab_mut().range_mut(area, self.bs));
        self.sync_block(Op::Write, offset, "writing this host's rendezvous block").map(|_| ())
    }

    fn genesis(&mut self) -> Result<()> {
        if self.cast.uses_locks() {
            self.write_genesis()?;
        }
        Ok(())
    }

    fn cancelled(&self) -> bool {
        self.sh.stop.load(Ordering::Relaxed) || self.sh.abort.load(Ordering::Relaxed)
    }
}

impl<B: Backend> Worker<'_, B> {
    fn meet_offset(&self, host: u32) -> u64 {
        self.spec.hosts.as_deref().map_or(0, |m| m.offset) + u64::from(host) * self.bs as u64
    }
}
