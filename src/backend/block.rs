//! Plain io_uring reads and writes with O_DIRECT on a block device or a regular file, with the
//! target as fixed file 0 and the slab as fixed buffer 0.

use super::{rw_outcome, AtsMode, Backend, Caps, IoError, IoReq, Op, Outcome};
use io_uring::{cqueue, opcode, squeue, types};
use std::os::fd::RawFd;

pub struct BlockBackend {
    fd: RawFd,
    /// Bytes of each request in flight, by user_data slot, to check for short transfers.
    lens: Vec<u32>,
    iopoll: bool,
}

impl BlockBackend {
    /// `slots` is the number of distinct user_data values (the queue depth).
    pub fn new(fd: RawFd, slots: usize, iopoll: bool) -> Self {
        BlockBackend { fd, lens: vec![0; slots], iopoll }
    }
}

impl Backend for BlockBackend {
    type Sqe = squeue::Entry;
    type Cqe = cqueue::Entry;

    fn caps(&self) -> Caps {
        Caps { ats_mode: AtsMode::HostEmulated, compare: false, iopoll: true }
    }

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
                unreachable!("the engine checks Caps before asking a block target for a device-side compare")
            }
        };
        self.lens[req.user_data as usize] = req.len;
        push(&sqe.user_data(req.user_data));
    }

    #[inline]
    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), _push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = cqe.user_data();
        let outcome = match rw_outcome(cqe.result(), self.lens[ud as usize]) {
            Outcome::Error(e) if self.iopoll && e.code == -(libc::EOPNOTSUPP as i64) => Outcome::Error(IoError {
                code: e.code,
                message: "the target does not support polled I/O; drop --iopoll".into(),
            }),
            o => o,
        };
        done(ud, outcome);
    }
}
