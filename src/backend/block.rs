//! Plain io_uring reads and writes with O_DIRECT on a block device or a regular file, with the
//! target as fixed file 0 and the slab as fixed buffer 0.

use super::{rw_outcome, AtsMode, Backend, Caps, Factory, IoError, IoReq, Op, Outcome};
use crate::error::Result;
use io_uring::{cqueue, opcode, squeue, types};
use std::os::fd::RawFd;

/// What a block point needs: the open target and the queue depth.
#[derive(Debug, Clone, Copy)]
pub struct BlockOptions {
    pub fd: RawFd,
    /// Distinct user_data values (the queue depth).
    pub slots: usize,
    pub iopoll: bool,
}

/// Open the block backend for one point (nothing to check: files and block devices take
/// reads and writes).
pub fn open(o: BlockOptions) -> BlockFactory {
    BlockFactory(o)
}

pub struct BlockFactory(BlockOptions);

impl Factory for BlockFactory {
    type Backend = BlockBackend;

    fn caps(&self) -> Caps {
        Caps { ats_mode: AtsMode::HostEmulated, compare: false, iopoll: true }
    }

    fn make(&self, _worker: u32) -> Result<BlockBackend> {
        Ok(BlockBackend { fd: self.0.fd, lens: vec![0; self.0.slots], iopoll: self.0.iopoll })
    }
}

pub struct BlockBackend {
    fd: RawFd,
    /// Bytes of each request in flight, by user_data slot, to check for short transfers.
    lens: Vec<u32>,
    iopoll: bool,
}

impl Backend for BlockBackend {
    type Sqe = squeue::Entry;
    type Cqe = cqueue::Entry;

    fn fds(&self) -> Vec<RawFd> {
        vec![self.fd]
    }

    #[inline]
    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe)) {
        let file = types::Fixed(0);
        let sqe = match req.op {
            Op::Read => opcode::ReadFixed::new(file, req.addr as *mut u8, req.len, 0).offset(req.offset).build(),
            Op::Write => opcode::WriteFixed::new(file, req.addr as *const u8, req.len, 0).offset(req.offset).build(),
            Op::Compare | Op::CompareWrite => {
                // The engine plans from `Caps` and never asks; answer with an error, not a panic.
                self.lens[req.user_data as usize] = u32::MAX;
                opcode::Nop::new().build()
            }
        };
        if !matches!(req.op, Op::Compare | Op::CompareWrite) {
            self.lens[req.user_data as usize] = req.len;
        }
        push(&sqe.user_data(req.user_data));
    }

    #[inline]
    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), _push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = cqe.user_data();
        let want = self.lens[ud as usize];
        if want == u32::MAX {
            let why = super::Unencodable::NoSuchCommand { op: Op::Compare, backend: "a block target" };
            return done(ud, Outcome::Error(IoError::unencodable(why)));
        }
        let outcome = match rw_outcome(cqe.result(), want) {
            Outcome::Error(e) if self.iopoll && e.code == -i64::from(libc::EOPNOTSUPP) => {
                Outcome::Error(IoError::host(libc::EOPNOTSUPP, super::Via::Iopoll))
            }
            o => o,
        };
        done(ud, outcome);
    }
}
