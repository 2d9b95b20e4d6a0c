//! A [`MultiHost`] as the engine's barrier hook ([`PointBarrier`]): the rendezvous through
//! worker 0's block I/O, and the per-host scope of what each host keeps of a point, its own
//! verification (records the other hosts wrote are left to the merge), its [`HostShare`] and
//! its part in the configuration of its results.

use super::meet::{rng_salt, Meet};
use super::rendezvous::{Board, MultiHost};
use crate::engine::{BlockIo, Done, PointBarrier};
use crate::error::{Error, Result};
use crate::results::{Config, HostShare, Rendezvous};
use crate::spec::Region;
use crate::verify::claims::ClaimSet;
use crate::verify::history::{FinalBlock, Verification};

/// The scope of one host's own verification in a multi-host run.
pub const LOCAL_SCOPE: &str = "this host; merge all hosts' results to verify";

/// The rendezvous blocks on the target, read and written through the engine's block I/O:
/// host i's block is `i` blocks after `offset`.
struct OnTarget<'a> {
    io: &'a mut dyn BlockIo,
    offset: u64,
}

impl OnTarget<'_> {
    fn block(&self, host: u32) -> u64 {
        self.offset + u64::from(host) * self.io.block_size()
    }
}

impl Board for OnTarget<'_> {
    fn read_meet(&mut self, host: u32) -> Result<Option<Meet>> {
        let offset = self.block(host);
        Ok(Meet::decode(self.io.read_block(offset, "reading a rendezvous block")?))
    }

    fn write_meet(&mut self, m: &Meet) -> Result<()> {
        let offset = self.block(m.index);
        self.io.write_block(offset, "writing this host's rendezvous block", &mut |block| m.encode(block))
    }

    fn genesis(&mut self) -> Result<()> {
        self.io.write_genesis()
    }

    fn cancelled(&self) -> bool {
        self.io.cancelled()
    }
}

impl MultiHost {
    /// Record this host's part in the configuration of its results: the rendezvous blocks
    /// precede the points' region.
    pub fn record(&self, c: &mut Config) {
        c.region = c.region.map(|r| Region { start: self.offset, end: r.end });
        c.hosts = self.count;
        c.host_index = self.index;
        c.rendezvous = Some(Rendezvous {
            tag: format!("{:016x}", self.tag),
            offset: self.offset,
            timeout_s: self.timeout.as_secs_f64(),
        });
    }

    fn on<'a>(&self, io: &'a mut dyn BlockIo) -> OnTarget<'a> {
        OnTarget { io, offset: self.offset }
    }
}

impl PointBarrier for MultiHost {
    fn host_ids(&self) -> &[u64] {
        &self.ids
    }

    fn rng_salt(&self) -> u64 {
        rng_salt(self.count, self.index)
    }

    fn before_point(&self, io: &mut dyn BlockIo) -> Result<()> {
        MultiHost::before_point(self, &mut self.on(io))
    }

    fn done(&self, io: &mut dyn BlockIo) -> Result<Done> {
        let mut b = self.on(io);
        match MultiHost::done(self, &mut b) {
            Ok(true) => Ok(Done::All),
            Ok(false) => Ok(Done::Cancelled),
            // Another host left or was not seen done in time (e.g. its device went away): this
            // host leaves and the run ends with why once the point is written.
            Err(Error::Rendezvous(why)) => {
                MultiHost::leave(self, &mut b);
                self.lost(why);
                Ok(Done::Lost)
            }
            Err(e) => Err(e),
        }
    }

    fn finish(&self, io: &mut dyn BlockIo, done: Done) -> Result<()> {
        MultiHost::finish(self, &mut self.on(io), done == Done::All)
    }

    fn leave(&self, io: &mut dyn BlockIo) {
        MultiHost::leave(self, &mut self.on(io))
    }

    fn verify_local(&self, claims: &ClaimSet, finals: &[Vec<u8>]) -> Verification {
        let decoded: Vec<FinalBlock> =
            finals.iter().enumerate().map(|(l, b)| FinalBlock::from_block(l as u32, b)).collect();
        let others: Vec<u64> = self.ids.iter().copied().filter(|&id| id != self.id()).collect();
        let mut v = claims.verify_finals(&decoded, &others);
        v.scope = Some(LOCAL_SCOPE.into());
        v
    }

    fn share(&self, claims: ClaimSet, finals: &[Vec<u8>]) -> HostShare {
        HostShare {
            host_index: self.index,
            session: format!("{:016x}", self.session()),
            claims,
            finals: finals.iter().enumerate().map(|(l, b)| FinalBlock::from_block(l as u32, b)).collect(),
        }
    }
}
