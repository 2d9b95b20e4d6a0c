//! Set-up and read-back of the lock blocks, through the worker's own ring and backend (a
//! passthrough device has no read(2)/write(2)): `qd` commands at a time, each batch awaited.

use super::{Step, Worker};
use crate::backend::{Backend, Op, Outcome};
use crate::error::{Error, Result};
use crate::workload::record::Record;

impl<B: Backend> Worker<'_, B> {
    /// Run `op` on every lock block, `qd` at a time, waiting for each batch.
    fn sync_locks(&mut self, op: Op, mut each: impl FnMut(&mut Self, usize, u32)) -> Result<()> {
        let (qd, locks) = (self.slots.len() as u32, self.spec.locks());
        let mut first = 0;
        while first < locks {
            let n = qd.min(locks - first);
            for k in 0..n as usize {
                let lock = first + k as u32;
                let area = self.area(k, if op == Op::Read { 2 } else { 0 });
                if op == Op::Write {
                    Record::genesis(lock, self.spec.host).encode(self.io.ring.slab_mut().range_mut(area, self.bs));
                }
                self.issue(k, Step::Sync, op, self.lock_offset(lock), area, self.bs);
            }
            self.io.stamp_submitted(self.now);
            while self.io.inflight > 0 {
                self.io.ring.submit_and_wait(1).map_err(|e| Error::Device(format!("io_uring_enter failed: {e}")))?;
                self.io.complete_all();
                let mut events = std::mem::take(&mut self.io.events);
                for (ud, o) in events.drain(..) {
                    // A slot left on its second lane by `--timeout` keeps that user_data.
                    let k = ud as usize % self.slots.len();
                    if let Outcome::Error(e) = o {
                        let verb = if op == Op::Read { "reading back" } else { "initialising" };
                        return Err(Error::Device(format!("{verb} lock block {}: {e}", first + k as u32)));
                    }
                    each(self, k, first + k as u32);
                }
                self.io.events = events;
            }
            first += n;
        }
        Ok(())
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
}
