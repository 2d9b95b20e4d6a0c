//! Backends turn an I/O request into submission entries and a completion into an outcome.
//!
//! The engine owns the ring, the slab and the state machines; a backend only encodes and
//! decodes, and declares what it can do in `Caps` so that the engine never asks which backend
//! it is talking to.

pub mod block;
pub mod nvme;
pub mod scsi;

use io_uring::{cqueue, squeue};
use std::os::fd::RawFd;

/// A command the engine asks for, on one range of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    /// Device-side compare of the buffer with the blocks.
    Compare,
    /// Device-side atomic compare-and-write: the buffer holds the expected image then the new
    /// image, `len` bytes each.
    CompareWrite,
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

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The device reported that the compare failed, with the byte offset of the first
    /// difference where the device says.
    Miscompare {
        offset: Option<u64>,
    },
    /// Anything else, named (errno or device status).
    Error(IoError),
}

/// A failed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError {
    /// A negative errno from the host, or a device status code.
    pub code: i64,
    pub message: String,
}

/// How the `ats` workload is carried out on a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AtsMode {
    /// Read, compare in the host, write, serialised per lock block among this process's
    /// workers (as LIO and SPDK emulate COMPARE AND WRITE).
    HostEmulated,
    /// A device-side compare followed by a write, serialised per lock block (NVMe without
    /// fused commands).
    CompareThenWrite,
    /// One device-side atomic compare-and-write command (SCSI COMPARE AND WRITE).
    Device,
}

/// What a backend can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub ats_mode: AtsMode,
    /// Whether `Op::Compare` exists (the `compare` workload).
    pub compare: bool,
    /// Whether the ring may be created with IOPOLL.
    pub iopoll: bool,
}

/// One worker's backend.
pub trait Backend: Send {
    type Sqe: squeue::EntryMarker;
    type Cqe: cqueue::EntryMarker + Clone;

    fn caps(&self) -> Caps;

    /// The files to register with the ring, in fixed-file order.
    fn fds(&self) -> Vec<RawFd>;

    /// Whether the slab is registered as fixed buffer 0 (else requests use plain addresses).
    fn fixed_buffers(&self) -> bool {
        true
    }

    /// Encode `req`, calling `push` once per submission entry (the ring has room for one
    /// entry per in-flight request).
    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe));

    /// Decode one completion into the requests it finishes; `push` queues further entries a
    /// transport needs (e.g. re-arming a poll), not new requests.
    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), push: &mut dyn FnMut(&Self::Sqe));

    /// What the backend used, for the results (transport, fixed buffers, ...).
    fn report(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// Outcome of a plain read or write completion: `res` is the byte count or a negative errno.
pub fn rw_outcome(res: i32, expected: u32) -> Outcome {
    if res < 0 {
        let e = std::io::Error::from_raw_os_error(-res);
        Outcome::Error(IoError { code: res as i64, message: e.to_string() })
    } else if res as u32 != expected {
        Outcome::Error(IoError { code: res as i64, message: format!("short transfer: {res} of {expected} bytes") })
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
                assert!(e.message.contains("Input/output"), "{}", e.message);
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(rw_outcome(512, 4096), Outcome::Error(e) if e.message.contains("short")));
    }
}
