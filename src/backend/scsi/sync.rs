//! The `sg-sync` transport: `ioctl(SG_IO)` in `prepare`, the outcome delivered by a NOP with the
//! request's user_data, so that the engine's loop is unchanged. The ioctl blocks the worker for
//! the whole command: one command in flight per worker whatever the queue depth.

use super::{errno_outcome, outcome, Shared, Transport};
use crate::backend::{Backend, IoReq, Outcome};
use crate::error::Result;
use crate::sys::sg::{sg_io_addr, SenseBufs};
use io_uring::{cqueue, opcode, squeue};
use std::fs::File;
use std::os::fd::{AsFd, RawFd};
use std::sync::Arc;

pub struct SyncBackend {
    shared: Arc<Shared>,
    fd: File,
    sense: SenseBufs,
    pending: Vec<Option<Outcome>>,
}

impl SyncBackend {
    pub fn new(shared: Arc<Shared>) -> Result<Self> {
        let fd = super::open_sg(&shared.path, false)?;
        let slots = shared.slots;
        Ok(SyncBackend { shared, fd, sense: SenseBufs::new(slots), pending: vec![None; slots] })
    }

    fn run(&self, req: &IoReq) -> Outcome {
        let slot = req.user_data as usize;
        let cmd = match super::encode(req, &self.shared.opts) {
            Ok(c) => c,
            Err(e) => return Outcome::Error(e),
        };
        // EINTR included: an interrupted SG_IO may still run its command, so it is not retried.
        match sg_io_addr(self.fd.as_fd(), &cmd, &self.sense, slot) {
            Ok(c) => {
                let sense = self.sense.copy(slot);
                let n = usize::from(c.sb_len_wr).min(sense.len());
                outcome(req.op, c.status, c.host_status, c.driver_status, &sense[..n])
            }
            Err(e) => errno_outcome(req.op, Transport::SgSync, &e),
        }
    }
}

impl Backend for SyncBackend {
    type Sqe = squeue::Entry;
    type Cqe = cqueue::Entry;

    fn fds(&self) -> Vec<RawFd> {
        Vec::new()
    }

    fn fixed_buffers(&self) -> bool {
        false
    }

    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe)) {
        let o = self.run(req);
        self.pending[req.user_data as usize] = Some(o);
        push(&opcode::Nop::new().build().user_data(req.user_data));
    }

    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), _push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = cqe.user_data();
        if let Some(o) = self.pending.get_mut(ud as usize).and_then(Option::take) {
            done(ud, o);
        }
    }

    fn report(&self) -> Option<crate::results::BackendReport> {
        let extra = crate::results::BackendReport { sg_fds_per_worker: Some(1), ..Default::default() };
        Some(self.shared.report(Transport::SgSync, extra))
    }
}
