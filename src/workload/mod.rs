//! Workloads and the lock-record format they write.
//!
//! A workload is what its slots do ([`cast::Cast`]): one role on every slot is one line in
//! [`Workload::cast`]; a workload that composes roles has its own file (`heartbeat.rs`).
//! Adding one is that file and its line here; the worker drives roles, not workloads.

pub mod cast;
pub mod heartbeat;
pub mod record;

use cast::{Cast, Mix, Role};

/// What each worker slot does, `--workload`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Random block-aligned reads inside the region.
    Read,
    /// Random block-aligned writes inside the region.
    Write,
    /// Atomic compare-and-write on the lock blocks (device-side where the backend has it).
    #[default]
    Ats,
    /// Read, compare in the host and write, unserialised: what a host without ATS does.
    Rmw,
    /// Device-side compares of the lock blocks with their known image.
    Compare,
    /// VMFS-style heartbeats: slot 0 of each worker ATSes the worker's own heartbeat block at a
    /// fixed interval while the other slots do random reads and writes as background load.
    Heartbeat,
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Workload {
    pub const ALL: [Workload; 6] =
        [Workload::Read, Workload::Write, Workload::Ats, Workload::Rmw, Workload::Compare, Workload::Heartbeat];
    pub const NAMES: [&'static str; 6] = ["read", "write", "ats", "rmw", "compare", "heartbeat"];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Read => "read",
            Workload::Write => "write",
            Workload::Ats => "ats",
            Workload::Rmw => "rmw",
            Workload::Compare => "compare",
            Workload::Heartbeat => "heartbeat",
        }
    }

    /// Whether it writes to the target (`compare` writes the lock blocks' known image first,
    /// and NVMe Compare is a write-direction command).
    pub fn writes(self) -> bool {
        matches!(self, Workload::Write | Workload::Ats | Workload::Rmw | Workload::Compare | Workload::Heartbeat)
    }

    /// Whether it works on lock blocks (and so is verified).
    pub fn uses_locks(self) -> bool {
        matches!(self, Workload::Ats | Workload::Rmw | Workload::Compare | Workload::Heartbeat)
    }

    /// Whether its actors are placed on lock blocks by `--contention`/`--locks` (heartbeats
    /// have one block per worker).
    pub fn has_lock_axis(self) -> bool {
        matches!(self, Workload::Ats | Workload::Rmw | Workload::Compare)
    }

    /// Whether it compares-and-writes (and so has miscompares, retries and claims).
    pub fn is_ats_like(self) -> bool {
        matches!(self, Workload::Ats | Workload::Rmw | Workload::Heartbeat)
    }

    /// What each of a worker's `qd` slots does, on a point with `locks` lock blocks
    /// (`heartbeat_ns`: the heartbeat interval). The one place the workloads are listed for
    /// the engine.
    pub fn cast(self, qd: u32, locks: u32, heartbeat_ns: u64) -> Cast {
        match self {
            Workload::Read => Cast::all(qd, Role::Plain { mix: Mix::Read, first: 0 }),
            Workload::Write => Cast::all(qd, Role::Plain { mix: Mix::Write, first: 0 }),
            Workload::Ats => Cast::all(qd, Role::Attempt { atomic: true }),
            Workload::Rmw => Cast::all(qd, Role::Attempt { atomic: false }),
            Workload::Compare => Cast::all(qd, Role::Check),
            Workload::Heartbeat => heartbeat::cast(qd, locks, heartbeat_ns),
        }
    }
}

impl std::str::FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| format!("`{s}` is not a workload; use one of {}", Workload::NAMES.join(", ")))
    }
}

/// A small, fast, per-worker random number generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0), without modulo bias worth noticing.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_casts_what_its_predicates_say() {
        for w in Workload::ALL {
            let c = w.cast(4, 2, 1000);
            assert_eq!(c.attempts(), w.is_ats_like(), "{w}");
            assert_eq!(c.uses_locks(), w.uses_locks(), "{w}");
            assert_eq!(c.timed.is_some(), w == Workload::Heartbeat, "{w}");
        }
    }

    #[test]
    fn rng_stays_in_range_and_covers_it() {
        let mut r = Rng::new(1);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let v = r.below(10);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|c| (800..1200).contains(c)), "{seen:?}");
        let hits = (0..100_000).filter(|_| r.chance(0.25)).count();
        assert!((24_000..26_000).contains(&hits), "{hits}");
    }
}
