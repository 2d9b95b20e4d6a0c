//! Plain io_uring reads and writes with O_DIRECT on a block device or a regular file, with the
//! target as fixed file 0 and the slab as fixed buffer 0. With `--expected-from cache` the
//! target is opened a second time without O_DIRECT (fixed file 1): `Op::ReadCached` goes
//! through the page cache there, as a host that reads its lock blocks buffered does.

use super::{rw_outcome, AtsMode, Backend, Caps, Factory, IoError, IoReq, Op, Outcome};
use crate::error::{Error, Result};
use io_uring::{cqueue, opcode, squeue, types};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Where an ATS attempt takes its expected image from (`--expected-from`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedFrom {
    /// The worker's own knowledge: the record it last wrote or read from the device (O_DIRECT).
    #[default]
    Device,
    /// A buffered read of the lock block (the page cache) before each attempt.
    Cache,
}

impl ExpectedFrom {
    pub fn is_device(&self) -> bool {
        *self == ExpectedFrom::Device
    }
}

impl std::str::FromStr for ExpectedFrom {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "device" => Ok(ExpectedFrom::Device),
            "cache" => Ok(ExpectedFrom::Cache),
            _ => Err(format!("`{s}`: give device or cache")),
        }
    }
}

/// What a block point needs: the open target and the queue depth.
#[derive(Debug, Clone, Copy)]
pub struct BlockOptions {
    pub fd: RawFd,
    /// Distinct user_data values (the queue depth).
    pub slots: usize,
    pub iopoll: bool,
    pub expected: ExpectedFrom,
}

/// Open the block backend for one point (nothing to check: files and block devices take
/// reads and writes).
pub fn open(o: BlockOptions) -> BlockFactory {
    BlockFactory(o)
}

/// Open the file behind `fd` again, read-only and buffered (through /proc/self/fd, which also
/// reaches a deleted file).
fn open_buffered(fd: RawFd) -> Result<OwnedFd> {
    let link = format!("/proc/self/fd/{fd}");
    let f = std::fs::File::open(&link).map_err(|e| {
        Error::Unsupported(format!(
            "--expected-from cache: cannot open the target a second time, buffered, through {link} ({e}); \
             mount /proc or use --expected-from device"
        ))
    })?;
    Ok(f.into())
}

pub struct BlockFactory(BlockOptions);

impl Factory for BlockFactory {
    type Backend = BlockBackend;

    fn caps(&self) -> Caps {
        Caps { ats_mode: AtsMode::HostEmulated, compare: false, iopoll: self.0.expected.is_device() }
    }

    fn make(&self, _worker: u32) -> Result<BlockBackend> {
        // With `--expected-from cache`, each worker's own buffered descriptor: a new open of
        // the same file, so O_DIRECT stays on the first.
        let o = &self.0;
        let cached = match o.expected {
            ExpectedFrom::Device => None,
            ExpectedFrom::Cache => Some(open_buffered(o.fd)?),
        };
        Ok(BlockBackend { fd: o.fd, cached, lens: vec![0; o.slots], iopoll: o.iopoll })
    }
}

pub struct BlockBackend {
    fd: RawFd,
    /// The buffered descriptor of `--expected-from cache` (fixed file 1).
    cached: Option<OwnedFd>,
    /// Bytes of each request in flight, by user_data slot, to check for short transfers.
    lens: Vec<u32>,
    iopoll: bool,
}

impl Backend for BlockBackend {
    type Sqe = squeue::Entry;
    type Cqe = cqueue::Entry;

    fn fds(&self) -> Vec<RawFd> {
        std::iter::once(self.fd).chain(self.cached.as_ref().map(AsRawFd::as_raw_fd)).collect()
    }

    #[inline]
    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe)) {
        let file = types::Fixed(0);
        let sqe = match req.op {
            Op::Read => opcode::ReadFixed::new(file, req.addr as *mut u8, req.len, 0).offset(req.offset).build(),
            // Without a buffered descriptor (never planned so) the read goes to the device.
            Op::ReadCached => {
                let file = types::Fixed(u32::from(self.cached.is_some()));
                opcode::ReadFixed::new(file, req.addr as *mut u8, req.len, 0).offset(req.offset).build()
            }
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
