//! The hook at point boundaries: how a point of one host of several (`--hosts N`) meets the
//! others. The engine defines it and calls it; `hosts` implements it (the rendezvous protocol,
//! the host ids, what each host keeps for the merge), so the engine knows nothing of the
//! protocol and the resolved `PointSpec` holds nothing that changes while it runs.
//!
//! Worker 0 calls the barrier before the point and after every worker of this host has
//! stopped, handing it [`BlockIo`]: its own ring and backend, for the synchronous reads and
//! writes of the rendezvous blocks (a passthrough device has no read(2)/write(2)).

use crate::error::Result;
use crate::results::HostShare;
use crate::verify::claims::ClaimSet;
use crate::verify::history::Verification;

/// Synchronous block I/O outside the measurement, through worker 0's ring and backend.
pub trait BlockIo {
    /// The block size of the point, in bytes.
    fn block_size(&self) -> u64;
    /// Read the block at byte `offset`; `what` names it in an error.
    fn read_block(&mut self, offset: u64, what: &str) -> Result<&[u8]>;
    /// Write the block at byte `offset`, filled by `fill`; `what` names it in an error.
    fn write_block(&mut self, offset: u64, what: &str, fill: &mut dyn FnMut(&mut [u8])) -> Result<()>;
    /// Write the initial records of the point's lock blocks (if its workload uses them).
    fn write_genesis(&mut self) -> Result<()>;
    /// Stop waiting: interrupted, or another worker of this host failed.
    fn cancelled(&self) -> bool;
}

/// Where the other hosts are once this one is done measuring a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Every host is done: the final lock blocks are read, then [`PointBarrier::finish`].
    All,
    /// Cancelled while waiting: the final blocks are read without waiting, then
    /// [`PointBarrier::finish`] tells the others this host left.
    Cancelled,
    /// Another host left or was not seen done (this host has left and the barrier keeps why;
    /// the run ends after this point): the point is kept without its final blocks, which
    /// another host may still write.
    Lost,
}

/// One host's part in a multi-host run, as the engine sees it at point boundaries.
pub trait PointBarrier: Sync {
    /// Every participant's host id, by index (this host's among them).
    fn host_ids(&self) -> &[u64];
    /// What this host mixes into its workers' random seeds (the hosts share `--seed`).
    fn rng_salt(&self) -> u64;
    /// Worker 0, before the point: meet every host ready to measure; the host that writes the
    /// initial lock records does so through `io` first. Returns early when cancelled (this
    /// host has then left); the point ends at once.
    fn before_point(&self, io: &mut dyn BlockIo) -> Result<()>;
    /// Worker 0, after the point: say this host is done and wait for the others.
    fn done(&self, io: &mut dyn BlockIo) -> Result<Done>;
    /// Worker 0, once the final lock blocks are read after [`Done::All`] or
    /// [`Done::Cancelled`]: say so, or that this host left.
    fn finish(&self, io: &mut dyn BlockIo, done: Done) -> Result<()>;
    /// Tell the others this host is gone (best effort: it is leaving because of an error).
    fn leave(&self, io: &mut dyn BlockIo);
    /// This host's verification of its own claims against the final blocks (`finals`, one
    /// per lock block): records the other hosts wrote are left to the merge.
    fn verify_local(&self, claims: &ClaimSet, finals: &[Vec<u8>]) -> Verification;
    /// This host's share of the point, in its results, for the merge.
    fn share(&self, claims: ClaimSet, finals: &[Vec<u8>]) -> HostShare;
}
