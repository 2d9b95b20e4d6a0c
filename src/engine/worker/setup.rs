//! Set-up and read-back of the lock blocks, and the block I/O of the barrier of several hosts
//! (`BlockIo`), through the worker's own ring and backend (a passthrough device has no
//! read(2)/write(2)): synchronous commands, each batch awaited, before the point is measured
//! or after it.

use super::{Step, Worker};
use crate::backend::{Backend, IoReq, Op, Outcome};
use crate::engine::barrier::{BlockIo, Done};
use crate::engine::faults::ErrorKind;
use crate::error::{Error, Result};
use crate::workload::record::Record;
use std::sync::atomic::Ordering;

impl<B: Backend> Worker<'_, B> {
    /// Run `op` on every lock block, `qd` at a time, waiting for each batch.
    fn sync_locks(&mut self, op: Op, mut each: impl FnMut(&mut Self, usize, u32)) -> Result<()> {
        let (qd, locks) = (self.slots.len() as u32, self.spec.locks());
        let genesis_host = self.sh.genesis_host();
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

    /// The initial records of every lock block.
    fn write_lock_genesis(&mut self) -> Result<()> {
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

    /// Worker 0, before the point: the initial lock records (one host), or the meeting of
    /// several hosts at their barrier, in which host 0 writes them.
    pub(super) fn before_point(&mut self) -> Result<()> {
        match self.sh.barrier {
            None if self.cast.uses_locks() => self.write_lock_genesis(),
            None => Ok(()),
            Some(b) => b.before_point(self).inspect_err(|_| b.leave(self)),
        }
    }

    /// Worker 0, after the point (every worker of this host has stopped): the final lock
    /// blocks, read once every host is done writing them.
    pub(super) fn after_point(&mut self) -> Result<Vec<Vec<u8>>> {
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
        match self.sh.barrier {
            None => read(self),
            Some(b) if aborted => {
                b.leave(self);
                Ok(Vec::new())
            }
            Some(b) => match b.done(self).inspect_err(|_| b.leave(self))? {
                // Another host left or was not seen done: keep this host's point, unverified
                // (the other host may still write the lock blocks); the run ends after it.
                Done::Lost => {
                    self.sh.abandoned.store(true, Ordering::Relaxed);
                    Ok(Vec::new())
                }
                done => {
                    let finals = read(self).inspect_err(|_| b.leave(self))?;
                    b.finish(self, done).inspect_err(|_| b.leave(self))?;
                    Ok(finals)
                }
            },
        }
    }

    /// Worker 0 of one of several hosts that stops because of an error: tell the others.
    pub(super) fn leave(&mut self) {
        if self.abandoned > 0 {
            return;
        }
        if let (Some(b), 0) = (self.sh.barrier, self.id) {
            b.leave(self);
        }
    }
}

impl<B: Backend> BlockIo for Worker<'_, B> {
    fn block_size(&self) -> u64 {
        self.bs as u64
    }

    fn read_block(&mut self, offset: u64, what: &str) -> Result<&[u8]> {
        let area = self.sync_block(Op::Read, offset, what)?;
        Ok(self.io.ring.slab().range(area, self.bs))
    }

    fn write_block(&mut self, offset: u64, what: &str, fill: &mut dyn FnMut(&mut [u8])) -> Result<()> {
        let area = self.area(0, 0);
        fill(self.io.ring.slab_mut().range_mut(area, self.bs));
        self.sync_block(Op::Write, offset, what).map(|_| ())
    }

    fn write_genesis(&mut self) -> Result<()> {
        if self.cast.uses_locks() {
            self.write_lock_genesis()?;
        }
        Ok(())
    }

    fn cancelled(&self) -> bool {
        self.sh.stop.load(Ordering::Relaxed) || self.sh.abort.load(Ordering::Relaxed)
    }
}
