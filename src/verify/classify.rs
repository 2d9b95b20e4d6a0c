//! Miscompare classification, decided from the block as re-read after the miscompare.

use crate::workload::record::Record;

/// Why an ATS attempt miscompared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A valid newer record from another actor: benign, real contention.
    Contention,
    /// The block holds this attempt's own new image: the write landed although the compare was
    /// reported failed (the "false ATS miscompare" of a timed-out, retried heartbeat).
    OwnWrite,
    /// No valid record: bad magic or checksum, torn, wrong lock, unknown owner.
    Corrupt,
    /// Something old: the expected image was older than one the worker had already seen, or the
    /// block holds a record that is not newer than the expected one (a stale cache or a device
    /// serving an old image).
    Stale,
    /// The re-read block equals the expected image: the device reported a miscompare the data
    /// does not show.
    False,
    /// The block holds another writer's record of the generation the expected image has: two
    /// compare-and-writes succeeded from the same state, so ATS was not atomic (across hosts
    /// for host-emulated ATS, where it is the known answer; a device or path fault otherwise).
    /// Seen from one host alone, without a merge.
    Split,
}

impl Class {
    pub const ALL: [Class; 6] =
        [Class::Contention, Class::OwnWrite, Class::Corrupt, Class::Stale, Class::False, Class::Split];

    pub fn name(self) -> &'static str {
        match self {
            Class::Contention => "contention",
            Class::OwnWrite => "own_write",
            Class::Corrupt => "corrupt",
            Class::Stale => "stale",
            Class::False => "false",
            Class::Split => "split",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What the worker knew when it issued the attempt.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub lock: u32,
    /// This host's id.
    pub host: u64,
    /// The host ids of every participant of a multi-host run (`--hosts N`; empty for one
    /// host). A valid record of the lock from one of them is known: another host's record is
    /// contention (or stale), never corrupt. Records of any other host are unknown owners.
    pub hosts: &'a [u64],
    /// Workers of this host: ids at or above are unknown (the genesis worker id is known).
    pub workers: u32,
    /// The highest generation of this lock the worker had seen when it issued the attempt.
    pub max_seen_at_issue: u64,
}

/// Classify a miscompare from the re-read block `read`, the `expected` image the attempt sent
/// and the `new` image it tried to write.
pub fn classify(read: &[u8], expected: &[u8], new: &[u8], ctx: &Context) -> Class {
    if read == expected {
        return Class::False;
    }
    if read == new {
        return Class::OwnWrite;
    }
    let Ok(found) = Record::decode(read) else {
        return Class::Corrupt;
    };
    let known_owner = if found.owner.host == ctx.host {
        found.owner.worker < ctx.workers || found.owner.worker == crate::workload::record::GENESIS_WORKER
    } else {
        // Another participant: its worker count is its own business.
        ctx.hosts.contains(&found.owner.host)
    };
    if found.lock != ctx.lock || !known_owner {
        return Class::Corrupt;
    }
    let expected = Record::decode(expected).ok().filter(|r| r.lock == ctx.lock);
    if expected.is_some_and(|e| e.generation == found.generation && e.owner != found.owner) {
        // Two records of one generation: both writers compared the same image and wrote.
        return Class::Split;
    }
    match expected.map(|r| r.generation) {
        Some(g) if g < ctx.max_seen_at_issue || found.generation <= g => Class::Stale,
        _ => Class::Contention,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::record::{Owner, Record};

    const HOST: u64 = 77;

    fn img(g: u64, worker: u32, seq: u64) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        Record { lock: 0, generation: g, owner: Owner { host: HOST, worker, seq } }.encode(&mut b);
        b
    }

    fn ctx(max_seen: u64) -> Context<'static> {
        Context { lock: 0, host: HOST, hosts: &[], workers: 2, max_seen_at_issue: max_seen }
    }

    #[test]
    fn newer_record_from_another_worker_is_contention() {
        let (e, n, r) = (img(4, 0, 10), img(5, 0, 11), img(5, 1, 3));
        assert_eq!(classify(&r, &e, &n, &ctx(4)), Class::Contention);
    }

    #[test]
    fn own_image_is_own_write() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        assert_eq!(classify(&n, &e, &n, &ctx(4)), Class::OwnWrite);
    }

    #[test]
    fn expected_image_is_false_miscompare() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        assert_eq!(classify(&e, &e, &n, &ctx(4)), Class::False);
    }

    #[test]
    fn garbage_torn_or_foreign_is_corrupt() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        assert_eq!(classify(&vec![0u8; 512], &e, &n, &ctx(4)), Class::Corrupt);
        let mut torn = img(6, 1, 1);
        torn[256..].copy_from_slice(&img(7, 1, 2)[256..]);
        assert_eq!(classify(&torn, &e, &n, &ctx(4)), Class::Corrupt);
        assert_eq!(classify(&img(6, 9, 1), &e, &n, &ctx(4)), Class::Corrupt, "unknown worker");
        let mut other_host = vec![0u8; 512];
        Record { lock: 0, generation: 6, owner: Owner { host: 1, worker: 0, seq: 1 } }.encode(&mut other_host);
        assert_eq!(classify(&other_host, &e, &n, &ctx(4)), Class::Corrupt, "unknown host");
        let mut other_lock = vec![0u8; 512];
        Record { lock: 1, generation: 6, owner: Owner { host: HOST, worker: 0, seq: 1 } }.encode(&mut other_lock);
        assert_eq!(classify(&other_lock, &e, &n, &ctx(4)), Class::Corrupt, "another lock's record");
    }

    #[test]
    fn old_expected_or_old_block_is_stale() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        // The worker had already seen generation 6 but sent generation 4 as expected.
        assert_eq!(classify(&img(7, 1, 1), &e, &n, &ctx(6)), Class::Stale);
        // The block went backwards: generation 3 where 4 was expected.
        assert_eq!(classify(&img(3, 1, 1), &e, &n, &ctx(4)), Class::Stale);
    }

    #[test]
    fn same_generation_of_another_writer_is_split() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        // Worker 1 wrote generation 4 too: both compare-and-writes went from generation 3.
        // (Classified `stale` before the `split` class.)
        assert_eq!(classify(&img(4, 1, 9), &e, &n, &ctx(4)), Class::Split);
        // The same worker's other write of generation 4 (another queue slot) is another writer.
        assert_eq!(classify(&img(4, 0, 12), &e, &n, &ctx(4)), Class::Split);
        // Even when the expected image was old for this worker.
        assert_eq!(classify(&img(4, 1, 9), &e, &n, &ctx(6)), Class::Split);
    }

    #[test]
    fn genesis_owner_is_known() {
        let mut g = vec![0u8; 512];
        Record::genesis(0, HOST).encode(&mut g);
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        assert_eq!(classify(&g, &e, &n, &ctx(4)), Class::Stale);
    }

    /// Another host of the same run (`--hosts 3`): its records are known.
    const PEERS: [u64; 3] = [HOST, 0xB0B, 0xCAFE];

    fn peer_ctx(max_seen: u64) -> Context<'static> {
        Context { hosts: &PEERS, ..ctx(max_seen) }
    }

    fn peer_img(host: u64, g: u64, worker: u32) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        Record { lock: 0, generation: g, owner: Owner { host, worker, seq: 1 } }.encode(&mut b);
        b
    }

    #[test]
    fn another_hosts_newer_record_is_contention() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        assert_eq!(classify(&peer_img(0xB0B, 5, 0), &e, &n, &peer_ctx(4)), Class::Contention);
        assert_eq!(classify(&peer_img(0xCAFE, 9, 7), &e, &n, &peer_ctx(4)), Class::Contention, "any worker of a peer");
        assert_eq!(
            classify(&peer_img(0xB0B, 5, 0), &e, &n, &ctx(4)),
            Class::Corrupt,
            "without --hosts the same record is an unknown host"
        );
    }

    #[test]
    fn another_hosts_old_record_is_stale_or_split_by_the_generation_rules() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        assert_eq!(classify(&peer_img(0xB0B, 4, 1), &e, &n, &peer_ctx(4)), Class::Split, "same generation");
        assert_eq!(classify(&peer_img(0xB0B, 7, 1), &e, &n, &peer_ctx(6)), Class::Stale, "expected was old");
        // Host 0 writes the initial records of all hosts' lock blocks.
        let mut g = vec![0u8; 512];
        Record::genesis(0, 0xCAFE).encode(&mut g);
        assert_eq!(classify(&g, &e, &n, &peer_ctx(4)), Class::Stale);
    }

    #[test]
    fn an_unknown_host_or_our_own_unknown_worker_stays_corrupt() {
        let (e, n) = (img(4, 0, 10), img(5, 0, 11));
        assert_eq!(classify(&peer_img(0xD00D, 5, 0), &e, &n, &peer_ctx(4)), Class::Corrupt, "not a participant");
        assert_eq!(classify(&img(5, 9, 1), &e, &n, &peer_ctx(4)), Class::Corrupt, "this host has 2 workers");
        let mut other_lock = vec![0u8; 512];
        Record { lock: 1, generation: 5, owner: Owner { host: 0xB0B, worker: 0, seq: 1 } }.encode(&mut other_lock);
        assert_eq!(classify(&other_lock, &e, &n, &peer_ctx(4)), Class::Corrupt, "a peer's record of another lock");
    }
}
