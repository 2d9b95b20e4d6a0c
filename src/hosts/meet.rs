//! Several hosts on one target: who is who, and the rendezvous record each host writes.
//!
//! With `--hosts N --host-id I --seed S` every host computes every participant's host id
//! ([`host_id`]) and the run tag ([`run_tag`]) from S alone, so records of any participant are
//! recognised everywhere and the hosts need no network to agree on them.
//!
//! The first N blocks of the region are the rendezvous blocks, one per host; the lock blocks
//! follow. A host writes only its own block and reads the others'. The record (one block,
//! integers little-endian):
//!
//! | bytes  | field |
//! |--------|-------|
//! | 0..8   | magic `ATSMEET1` |
//! | 8..10  | format version (1) |
//! | 10..12 | phase: 0 join, 1 ready, 2 done, 3 read, 0xFFFF left |
//! | 12..14 | host index I |
//! | 14..16 | hosts N |
//! | 16..24 | run tag (from the seed) |
//! | 24..32 | this host's nonce: random, new in every run |
//! | 32..40 | session: host 0's nonce once this host has joined it (host 0: its own), else 0 |
//! | 40..48 | point: the measurement the phase belongs to, counted from 0 |
//! | 48..56 | reserved, zero |
//! | 56..64 | checksum of the whole block but these 8 bytes |
//! | 64..   | host 0 only: for each host i, the last nonce it saw in host i's block (8 bytes each); then zeros |
//!
//! The protocol that uses it is in `rendezvous.rs`.

use crate::workload::record::mix;

pub const MAGIC: [u8; 8] = *b"ATSMEET1";
pub const VERSION: u16 = 1;
const HEADER: usize = 64;
/// The most hosts one run can have: host 0's acknowledgements fill a 512-byte block.
pub const MAX_HOSTS: u32 = ((512 - HEADER) / 8) as u32;

/// Where a host is in the protocol. Phases of one point are ordered: join < ready < done < read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Announcing this run's nonce (before the first point).
    Join,
    /// Ready to measure the point (host 0: the lock blocks hold their initial records).
    Ready,
    /// Done measuring the point: this host writes nothing more to the lock blocks.
    Done,
    /// Done reading the final lock blocks of the point.
    Read,
    /// Gone: interrupted or failed; the others stop waiting for it.
    Left,
}

impl Phase {
    fn code(self) -> u16 {
        match self {
            Phase::Join => 0,
            Phase::Ready => 1,
            Phase::Done => 2,
            Phase::Read => 3,
            Phase::Left => 0xFFFF,
        }
    }

    fn from_code(c: u16) -> Option<Phase> {
        [Phase::Join, Phase::Ready, Phase::Done, Phase::Read, Phase::Left].into_iter().find(|p| p.code() == c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Join => "join",
            Phase::Ready => "ready",
            Phase::Done => "done",
            Phase::Read => "read",
            Phase::Left => "left",
        }
    }
}

/// One host's rendezvous record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meet {
    pub phase: Phase,
    pub index: u32,
    pub hosts: u32,
    pub tag: u64,
    pub nonce: u64,
    pub session: u64,
    pub point: u64,
    /// Host 0: the nonce last seen in each host's block, by index (empty for other hosts).
    pub acks: Vec<u64>,
}

impl Meet {
    /// How far the host is: points, then phases within a point (`Left` is not progress).
    pub fn progress(&self) -> u64 {
        self.point.saturating_mul(4).saturating_add(u64::from(self.phase.code().min(3)))
    }

    /// Write the record into `block` (at least 512 bytes, a multiple of 8).
    pub fn encode(&self, block: &mut [u8]) {
        debug_assert!(block.len() >= HEADER + 8 * self.acks.len() && block.len() % 8 == 0);
        block.fill(0);
        block[0..8].copy_from_slice(&MAGIC);
        block[8..10].copy_from_slice(&VERSION.to_le_bytes());
        block[10..12].copy_from_slice(&self.phase.code().to_le_bytes());
        block[12..14].copy_from_slice(&(self.index as u16).to_le_bytes());
        block[14..16].copy_from_slice(&(self.hosts as u16).to_le_bytes());
        block[16..24].copy_from_slice(&self.tag.to_le_bytes());
        block[24..32].copy_from_slice(&self.nonce.to_le_bytes());
        block[32..40].copy_from_slice(&self.session.to_le_bytes());
        block[40..48].copy_from_slice(&self.point.to_le_bytes());
        for (i, a) in self.acks.iter().enumerate() {
            block[HEADER + 8 * i..HEADER + 8 * i + 8].copy_from_slice(&a.to_le_bytes());
        }
        let sum = checksum(block);
        block[56..64].copy_from_slice(&sum.to_le_bytes());
    }

    /// Decode one block: None unless it is an intact rendezvous record (a block never written,
    /// a lock record, or one torn by a concurrent write all read as None).
    pub fn decode(block: &[u8]) -> Option<Meet> {
        if block.len() < 512 || block[0..8] != MAGIC || u16_at(block, 8) != VERSION {
            return None;
        }
        if u64_at(block, 56) != checksum(block) {
            return None;
        }
        let (index, hosts) = (u32::from(u16_at(block, 12)), u32::from(u16_at(block, 14)));
        if index >= hosts || hosts > MAX_HOSTS {
            return None;
        }
        let acks =
            if index == 0 { (0..hosts as usize).map(|i| u64_at(block, HEADER + 8 * i)).collect() } else { vec![] };
        Some(Meet {
            phase: Phase::from_code(u16_at(block, 10))?,
            index,
            hosts,
            tag: u64_at(block, 16),
            nonce: u64_at(block, 24),
            session: u64_at(block, 32),
            point: u64_at(block, 40),
            acks,
        })
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn checksum(block: &[u8]) -> u64 {
    block
        .chunks_exact(8)
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .fold(0x243F_6A88_85A3_08D3, |acc, (_, w)| mix(acc ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))))
}

/// The host id host `index` of a run with seed `seed` writes into its lock records (never 0).
pub fn host_id(seed: u64, index: u32) -> u64 {
    mix(mix(seed ^ 0x686F_7374_6964_0000) ^ u64::from(index)) | 1
}

/// The tag of a run with seed `seed`, in every rendezvous record.
pub fn run_tag(seed: u64) -> u64 {
    mix(seed ^ 0x7275_6E74_6167_0000)
}

/// What host `index` mixes into its workers' random seeds, so that the hosts of one run (which
/// share `--seed`) draw different numbers; 0 for a single host, whose numbers stay as they were.
pub fn rng_salt(hosts: u32, index: u32) -> u64 {
    if hosts < 2 {
        0
    } else {
        mix(u64::from(index) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meet(phase: Phase, index: u32) -> Meet {
        Meet {
            phase,
            index,
            hosts: 3,
            tag: run_tag(42),
            nonce: 0x1234,
            session: 0x5678,
            point: 7,
            acks: if index == 0 { vec![0, 11, 12] } else { vec![] },
        }
    }

    #[test]
    fn records_round_trip_at_every_block_size() {
        for bs in [512usize, 4096] {
            for (phase, index) in [(Phase::Join, 0), (Phase::Ready, 1), (Phase::Left, 2), (Phase::Read, 0)] {
                let mut b = vec![0xEEu8; bs];
                let m = meet(phase, index);
                m.encode(&mut b);
                assert_eq!(Meet::decode(&b), Some(m));
            }
        }
    }

    #[test]
    fn damage_and_other_blocks_read_as_nothing() {
        let mut b = vec![0u8; 512];
        assert_eq!(Meet::decode(&b), None, "never written");
        meet(Phase::Ready, 0).encode(&mut b);
        for at in [9, 20, 70, 500] {
            let mut c = b.clone();
            c[at] ^= 1;
            assert_eq!(Meet::decode(&c), None, "byte {at}");
        }
        let mut lock = vec![0u8; 512];
        crate::workload::record::Record::genesis(0, 1).encode(&mut lock);
        assert_eq!(Meet::decode(&lock), None);
        assert_eq!(Meet::decode(&b[..256]), None);
    }

    #[test]
    fn progress_orders_points_then_phases() {
        let at = |point, phase| Meet { point, ..meet(phase, 1) }.progress();
        assert!(at(0, Phase::Join) < at(0, Phase::Ready));
        assert!(at(0, Phase::Ready) < at(0, Phase::Done) && at(0, Phase::Done) < at(0, Phase::Read));
        assert!(at(0, Phase::Read) < at(1, Phase::Join));
        assert_eq!(at(3, Phase::Left), at(3, Phase::Read), "left is no further than read");
    }

    #[test]
    fn ids_tags_and_salts_differ_by_host_and_seed() {
        let ids: Vec<u64> = (0..4).map(|i| host_id(42, i)).collect();
        assert!(ids.iter().all(|&id| id & 1 == 1));
        for (i, a) in ids.iter().enumerate() {
            assert!(ids[i + 1..].iter().all(|b| a != b));
        }
        assert_eq!(host_id(42, 1), host_id(42, 1), "every host computes the same ids");
        assert_ne!(host_id(42, 0), host_id(43, 0));
        assert_ne!(run_tag(42), run_tag(43));
        assert_eq!(rng_salt(1, 0), 0, "a single host keeps its random numbers");
        assert_ne!(rng_salt(2, 0), rng_salt(2, 1));
        assert_eq!(MAX_HOSTS, 56);
    }
}
