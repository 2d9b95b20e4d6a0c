//! Backends turn an I/O request into submission entries and a completion into an outcome.
//!
//! The engine owns the ring, the slab and the state machines; a backend only encodes and
//! decodes. A backend is opened once per point from typed options (`block::open`,
//! `nvme::open`, `scsi::open`, `sim::open`), which returns a [`Factory`]: the capabilities
//! the engine plans with and a constructor called on each worker's thread. Backends know
//! nothing of the engine, the command line or how the device was found. The simulated device
//! (`sim`) is the one backend that moves data itself: the engine hands it each request's
//! buffer ([`Backend::execute`]) instead of the kernel.

pub mod block;
mod io_error;
pub mod nvme;
pub mod scsi;
pub mod sim;

pub use io_error::{Cause, IoError, ScsiStatus, TimeoutEnd, Unencodable, Via};

use crate::error::Result;
use io_uring::{cqueue, squeue};
use std::os::fd::RawFd;

/// A command the engine asks for, on one range of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    /// A read through the page cache where the backend has one (block devices and files:
    /// `--expected-from cache`); other backends read from the device as for `Read`.
    ReadCached,
    Write,
    /// Device-side compare of the buffer with the blocks.
    Compare,
    /// Device-side atomic compare-and-write: the buffer holds the expected image then the new
    /// image, `len` bytes each.
    CompareWrite,
}

impl Op {
    /// The command's name as the protocol calls it (for messages).
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::ReadCached => "buffered read",
            Op::Write => "write",
            Op::Compare => "compare",
            Op::CompareWrite => "compare-and-write",
        }
    }
}

/// One I/O request: `len` bytes at byte `offset` of the target, buffer at `addr` in the
/// worker's registered slab (buffer index 0, target = fixed file 0).
#[derive(Debug, Clone, Copy)]
pub struct IoReq {
    pub op: Op,
    pub offset: u64,
    pub len: u32,
    pub addr: u64,
    pub user_data: u64,
}

impl IoReq {
    /// Bytes of the buffer at `addr`: E+N for a compare-and-write, `len` otherwise.
    pub fn data_len(&self) -> usize {
        match self.op {
            Op::CompareWrite => 2 * self.len as usize,
            _ => self.len as usize,
        }
    }
}

/// How a command ended. Small and `Copy`: errors carry codes, formatted only when sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The device reported that the compare failed, with the byte offset of the first
    /// difference where the device says.
    Miscompare {
        offset: Option<u64>,
    },
    /// Anything else.
    Error(IoError),
}

pub use crate::results::AtsMode;

/// What a backend can do, known when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub ats_mode: AtsMode,
    /// Whether `Op::Compare` exists (the `compare` workload).
    pub compare: bool,
    /// Whether the ring may be created with IOPOLL.
    pub iopoll: bool,
}

/// An opened backend: its capabilities and a constructor of one backend per worker.
pub trait Factory: Sync {
    type Backend: Backend;

    fn caps(&self) -> Caps;

    /// Build worker `worker`'s backend (called on that worker's thread).
    fn make(&self, worker: u32) -> Result<Self::Backend>;

    /// What the backend counted over all workers of the point, once they are done: the
    /// simulated device's commands, injected faults and queue waits (the point's `sim`).
    fn totals(&self) -> Option<crate::results::SimReport> {
        None
    }
}

/// The options a backend is opened with, by backend.
#[derive(Debug, Clone)]
pub enum Options {
    Block(block::BlockOptions),
    Nvme(nvme::NvmeOptions),
    Scsi(scsi::ScsiOptions),
    Sim(sim::SimOpen),
}

/// An opened backend, by type: the caller drives each with the engine.
pub enum Opened {
    Block(block::BlockFactory),
    Nvme(nvme::NvmeFactory),
    Scsi(scsi::ScsiFactory),
    Sim(sim::SimFactory),
}

/// Open the backend for one point, checking what the point needs of it.
pub fn open(o: Options) -> Result<Opened> {
    Ok(match o {
        Options::Block(o) => Opened::Block(block::open(o)),
        Options::Nvme(o) => Opened::Nvme(nvme::open(o)?),
        Options::Scsi(o) => Opened::Scsi(scsi::open(o)?),
        Options::Sim(o) => Opened::Sim(sim::open(o)?),
    })
}

/// One worker's backend.
pub trait Backend: Send {
    type Sqe: squeue::EntryMarker;
    type Cqe: cqueue::EntryMarker + Clone;

    /// The files to register with the ring, in fixed-file order.
    fn fds(&self) -> Vec<RawFd>;

    /// Whether the slab is registered as fixed buffer 0 (else requests use plain addresses).
    fn fixed_buffers(&self) -> bool {
        true
    }

    /// Whether the backend moves data itself (the simulated device): then the engine calls
    /// `execute` with each request's buffer just before `prepare`.
    const EXECUTES: bool = false;

    /// Run `req` on `data`, the `req.data_len()` bytes of slab it names, which belong to the
    /// request until its completion is reaped. Only called when `EXECUTES`.
    fn execute(&mut self, _req: &IoReq, _data: &mut [u8]) {}

    /// The engine starts (`true`) or ends (`false`) measuring: commands outside are set-up
    /// and read-back of the lock blocks (the simulated device injects no faults into those).
    fn measuring(&mut self, _on: bool) {}

    /// When the earliest completion the backend holds back is due (CLOCK_MONOTONIC ns), if it
    /// knows: the simulated device, whose answers wait for io_uring timeouts. The worker then
    /// wakes a little before and polls for it (`Ring::spin_until`), so that a simulated
    /// service time is not lengthened by a sleeping thread's wake-up.
    #[inline]
    fn next_due(&self) -> Option<u64> {
        None
    }

    /// Encode `req`, calling `push` once per submission entry (the ring has room for one
    /// entry per in-flight request).
    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe));

    /// Decode one completion into the requests it finishes; `push` queues further entries a
    /// transport needs (e.g. re-arming a poll), not new requests.
    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), push: &mut dyn FnMut(&Self::Sqe));

    /// What the backend used, for the results (transport, fixed buffers, ...).
    fn report(&self) -> Option<crate::results::BackendReport> {
        None
    }
}

/// Outcome of a plain read or write completion: `res` is the byte count or a negative errno.
pub fn rw_outcome(res: i32, expected: u32) -> Outcome {
    if res < 0 {
        Outcome::Error(IoError::errno(-res))
    } else if res as u32 != expected {
        Outcome::Error(IoError { code: res as i64, cause: Cause::ShortTransfer { got: res as u32, want: expected } })
    } else {
        Outcome::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rw_outcomes() {
        assert_eq!(rw_outcome(4096, 4096), Outcome::Done);
        match rw_outcome(-libc::EIO, 4096) {
            Outcome::Error(e) => {
                assert_eq!(e.code, -5);
                assert!(e.to_string().contains("Input/output"), "{e}");
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(rw_outcome(512, 4096), Outcome::Error(e) if e.to_string().contains("short")));
    }

    #[test]
    fn outcomes_stay_small() {
        assert!(std::mem::size_of::<Outcome>() <= 64, "{}", std::mem::size_of::<Outcome>());
    }
}
