//! The claimed generations of every lock, in memory that a dense history does not grow.
//!
//! Every successful ATS claims one generation of its lock. A [`ClaimSet`] keeps, per lock:
//!
//! - the top run: the highest claimed generations when they are contiguous, `start..=end`, as
//!   two numbers. A lock that one actor advances (1, 2, 3, ...) never costs more than that;
//! - every other claimed generation, all below the top run, in a compressed bitmap
//!   ([`RoaringTreemap`]);
//! - the owner of the highest claim (and of a second claim of that same generation, if one
//!   came), so that the final block can be matched to the claim that wrote it;
//! - the number of claims, duplicates included.
//!
//! A generation claimed twice is found when it is inserted ([`ClaimSet::insert`] returns
//! false) or when two sets are merged ([`ClaimSet::merge`]); either is an atomicity violation
//! and is recorded with the claimants it can name. The set does not keep an owner per claim:
//! see `history` for what that leaves unchecked.
//!
//! Memory. Inserting one generation above the top run either extends it (no allocation) or
//! moves the old run into the bitmap. A bitmap's chunk of 65536 generations is an array of 2
//! bytes per claim up to 4096 claims, then an 8 KiB bitmap; [`ClaimSet::maintain`] turns
//! chunks that hold runs into run-length containers. So, per lock:
//!
//! - one actor per lock (dense history): two numbers, whatever the run length;
//! - actors taking turns in bursts: 4 bytes per run (a chunk whose first claim was a single
//!   generation is an array until `maintain` makes it runs);
//! - k actors interleaving at random on one lock: each actor's set holds about 1/k of the
//!   generations, the smaller of 2 bytes per own claim and 1 bit per generation of the lock
//!   (8 KiB per 65536). Two actors alternating strictly cost 1 bit per generation each: a
//!   bitmap cannot do better. Merged, the sets are dense again and shrink to the top run.
//!
//! The tests below measure these cases.
//!
//! Sets serialise (serde) with each lock's bitmap in the portable Roaring format (the one the
//! C, Java and Go implementations read), base64-encoded, so results from several hosts can
//! be merged later.

use crate::workload::record::Owner;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use roaring::RoaringTreemap;
use std::fmt;

/// How many duplicate claims a set describes in words; all are counted.
const MAX_SAMPLES: usize = 8;

/// Call [`ClaimSet::maintain`] after about this many generations went into the bitmaps: often
/// enough that an array chunk rarely grows large before it becomes runs, rarely enough that
/// the pass costs nothing per I/O.
pub const MAINTAIN_EVERY: u64 = 1 << 16;

/// Who made claims: one worker of one host.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Claimant {
    pub host: u64,
    pub worker: u32,
}

impl From<Owner> for Claimant {
    fn from(o: Owner) -> Claimant {
        Claimant { host: o.host, worker: o.worker }
    }
}

/// The highest claimed generations of a lock, `start..=end`, and who claimed `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub(super) struct Top {
    pub start: u64,
    pub end: u64,
    pub owner: Owner,
    /// A second claimant of `end` (a duplicate at the top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie: Option<Owner>,
}

/// Who claimed a generation, as far as the set knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    /// Nobody.
    Nobody,
    /// The highest claim: its owner, and a second owner if it was claimed twice.
    Known(Owner, Option<Owner>),
    /// Claimed, below the highest claim: the owner is not kept.
    Unknown,
}

/// The claims of one lock.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct LockClaims {
    successes: u64,
    top: Option<Top>,
    /// Claimed generations below `top.start`.
    below: RoaringTreemap,
    /// Listed in the set's `dirty`: the bitmap changed since the last `maintain`.
    dirty: bool,
}

impl LockClaims {
    /// Claims (successful ATS) of this lock, duplicates included.
    pub fn successes(&self) -> u64 {
        self.successes
    }

    /// The highest claimed generation.
    pub fn highest(&self) -> Option<u64> {
        self.top.map(|t| t.end)
    }

    /// Who claimed `generation`.
    pub fn holder(&self, generation: u64) -> Holder {
        match self.top {
            Some(t) if generation == t.end => Holder::Known(t.owner, t.tie),
            Some(t) if generation >= t.start && generation < t.end => Holder::Unknown,
            _ if self.below.contains(generation) => Holder::Unknown,
            _ => Holder::Nobody,
        }
    }

    /// Distinct generations claimed above `generation`.
    pub fn claimed_above(&self, generation: u64) -> u64 {
        let Some(t) = self.top else { return 0 };
        let in_top =
            if generation < t.start { (t.end - t.start).saturating_add(1) } else { t.end.saturating_sub(generation) };
        let below = match generation.checked_add(1) {
            Some(next) => self.below.range_cardinality(next..),
            None => 0,
        };
        in_top + below
    }

    /// Record one claim: `Ok(n)` with the number of generations that went into the bitmap (0
    /// when only the top run changed), `Err(first)` for a duplicate, with the first claimant
    /// when the set knows it.
    fn insert(&mut self, generation: u64, owner: Owner) -> Result<u64, Option<Owner>> {
        self.successes += 1;
        let Some(top) = &mut self.top else {
            self.top = Some(Top { start: generation, end: generation, owner, tie: None });
            return Ok(0);
        };
        if generation > top.end {
            let mut moved = 0;
            if generation != top.end + 1 {
                flush(&mut self.below, top.start, top.end);
                moved = top.end - top.start + 1;
                top.start = generation;
            }
            top.end = generation;
            top.owner = owner;
            top.tie = None;
            return Ok(moved);
        }
        if generation == top.end {
            top.tie.get_or_insert(owner);
            return Err(Some(top.owner));
        }
        if generation >= top.start || !self.below.insert(generation) {
            return Err(None);
        }
        Ok(1)
    }

    /// Every claimed generation, in one bitmap (emptying this lock's).
    fn take_all(&mut self) -> RoaringTreemap {
        let mut all = std::mem::take(&mut self.below);
        if let Some(t) = self.top {
            flush(&mut all, t.start, t.end);
        }
        all
    }

    /// Rebuild from all claimed generations: the top run cut off the bitmap again.
    fn settle(&mut self, mut all: RoaringTreemap, owner: Owner, tie: Option<Owner>) {
        let Some(end) = all.max() else {
            self.top = None;
            self.below = all;
            return;
        };
        // At most end - s + 1 generations lie in s..=end: more than end - s means all of them.
        let full_from = |s: u64| all.range_cardinality(s..=end) > end - s;
        let (mut lo, mut hi) = (all.min().unwrap_or(end), end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if full_from(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        all.remove_range(lo..=end);
        all.optimize();
        self.top = Some(Top { start: lo, end, owner, tie });
        self.below = all;
    }
}

fn flush(below: &mut RoaringTreemap, start: u64, end: u64) {
    if start == end {
        below.insert(start);
    } else {
        below.insert_range(start..=end);
    }
}

/// The claims of every lock, as one worker (or a merge of workers or hosts) made them.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(try_from = "ClaimSetRepr")]
pub struct ClaimSet {
    locks: Vec<LockClaims>,
    claimants: Vec<Claimant>,
    /// Generations claimed more than once (one per extra claim).
    duplicates: u64,
    /// The first duplicates, in words.
    samples: Vec<String>,
    /// Locks whose bitmap changed since the last `maintain`.
    dirty: Vec<u32>,
    /// Generations that went into a bitmap since the last `maintain`.
    since_maintain: u64,
}

impl ClaimSet {
    /// An empty set for locks `0..locks` (other locks grow it).
    pub fn new(locks: u32) -> ClaimSet {
        ClaimSet {
            locks: vec![LockClaims::default(); locks as usize],
            dirty: Vec::with_capacity(locks as usize),
            ..ClaimSet::default()
        }
    }

    /// Record that `owner` moved `lock` to `generation`. Returns false when the set already
    /// holds that generation of that lock: a duplicate claim, recorded as a violation.
    ///
    /// No allocation while the lock's claims are contiguous; otherwise the bitmap's own growth.
    pub fn insert(&mut self, lock: u32, generation: u64, owner: Owner) -> bool {
        let l = lock as usize;
        if l >= self.locks.len() {
            self.locks.resize_with(l + 1, LockClaims::default);
        }
        let claims = &mut self.locks[l];
        let fresh = match claims.insert(generation, owner) {
            Ok(0) => true,
            Ok(moved) => {
                self.since_maintain += moved;
                if !claims.dirty {
                    claims.dirty = true;
                    self.dirty.push(lock);
                }
                true
            }
            Err(first) => {
                self.duplicates += 1;
                if self.samples.len() < MAX_SAMPLES {
                    let second = [Claimant::from(owner)];
                    let text = match first {
                        Some(o) => describe(lock, generation, &[o.into()], &second),
                        // Claimed before by this set, whose claimants these are.
                        None => describe(lock, generation, &self.claimants, &second),
                    };
                    self.samples.push(text);
                }
                false
            }
        };
        let who = Claimant::from(owner);
        if self.claimants.last() != Some(&who) && !self.claimants.contains(&who) {
            self.claimants.push(who);
            self.claimants.sort_unstable();
        }
        fresh
    }

    /// Whether enough generations went into bitmaps that [`ClaimSet::maintain`] is worth
    /// calling.
    pub fn maintain_due(&self) -> bool {
        self.since_maintain >= MAINTAIN_EVERY
    }

    /// Compress the bitmaps that changed since the last call (runs become run-length
    /// containers). Costs a pass over those locks' bitmaps: call it between I/Os, not per I/O.
    pub fn maintain(&mut self) {
        for lock in self.dirty.drain(..) {
            let claims = &mut self.locks[lock as usize];
            claims.below.optimize();
            claims.dirty = false;
        }
        self.since_maintain = 0;
    }

    /// Add `other`'s claims. A generation of a lock that both hold is a duplicate claim,
    /// recorded with the claimants of each side.
    pub fn merge(&mut self, other: ClaimSet) {
        if other.locks.len() > self.locks.len() {
            self.locks.resize_with(other.locks.len(), LockClaims::default);
        }
        for (l, mut theirs) in other.locks.into_iter().enumerate() {
            let Some(their_top) = theirs.top else { continue };
            let mine = &mut self.locks[l];
            let Some(my_top) = mine.top else {
                mine.successes += theirs.successes;
                mine.top = theirs.top;
                mine.below = std::mem::take(&mut theirs.below);
                mine.below.optimize();
                continue;
            };
            let (a, b) = (mine.take_all(), theirs.take_all());
            mine.successes += theirs.successes;
            let both = &a & &b;
            let union = a | b;
            let (owner, tie) = match my_top.end.cmp(&their_top.end) {
                std::cmp::Ordering::Greater => (my_top.owner, my_top.tie),
                std::cmp::Ordering::Less => (their_top.owner, their_top.tie),
                std::cmp::Ordering::Equal => (my_top.owner, my_top.tie.or(Some(their_top.owner))),
            };
            mine.settle(union, owner, tie);
            self.duplicates += both.len();
            for generation in both.iter().take(MAX_SAMPLES.saturating_sub(self.samples.len())) {
                let text = describe(l as u32, generation, &self.claimants, &other.claimants);
                self.samples.push(text);
            }
        }
        self.duplicates += other.duplicates;
        let room = MAX_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
        self.claimants.extend(other.claimants);
        self.claimants.sort_unstable();
        self.claimants.dedup();
    }

    /// The claims of `lock`, if any were made.
    pub(super) fn lock(&self, lock: u32) -> Option<&LockClaims> {
        self.locks.get(lock as usize).filter(|c| c.successes > 0)
    }

    /// Claims of locks `from..`.
    pub(super) fn claims_from(&self, from: usize) -> u64 {
        self.locks.iter().skip(from).map(|c| c.successes).sum()
    }

    /// All claims, duplicates included.
    pub fn successes(&self) -> u64 {
        self.claims_from(0)
    }

    /// Extra claims of generations already claimed.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The first duplicates in words.
    pub fn duplicate_samples(&self) -> &[String] {
        &self.samples
    }

    /// Who made the claims.
    pub fn claimants(&self) -> &[Claimant] {
        &self.claimants
    }
}

/// "lock 0: transition to generation 3 claimed twice (workers 0 and 1)", naming hosts only
/// when they differ.
fn describe(lock: u32, generation: u64, first: &[Claimant], second: &[Claimant]) -> String {
    let who = match (first, second) {
        ([a], [b]) if a.host == b.host => format!("workers {} and {}", a.worker, b.worker),
        _ => {
            let host = first.iter().chain(second).map(|c| c.host).next();
            let one_host = first.iter().chain(second).all(|c| Some(c.host) == host);
            format!("{} and {}", Side(first, one_host), Side(second, one_host))
        }
    };
    format!("lock {lock}: transition to generation {generation} claimed twice ({who})")
}

/// One side of a duplicate: one claimant, or "one of" several.
struct Side<'a>(&'a [Claimant], bool);

impl fmt::Display for Side<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Side(claimants, one_host) = *self;
        match claimants {
            [] => return f.write_str("an unknown claimant"),
            [_] => {}
            _ => f.write_str("one of ")?,
        }
        for (i, c) in claimants.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if one_host {
                write!(f, "worker {}", c.worker)?;
            } else {
                write!(f, "host {:#x} worker {}", c.host, c.worker)?;
            }
        }
        Ok(())
    }
}

/// The serialised form: per lock with claims, its counts, top run and bitmap.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ClaimSet")]
struct ClaimSetRepr {
    claimants: Vec<Claimant>,
    duplicates: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    samples: Vec<String>,
    locks: Vec<LockRepr>,
}

#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct LockRepr {
    lock: u32,
    successes: u64,
    top: Top,
    /// Generations below the top run: a portable Roaring 64-bit bitmap, base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    below: String,
}

/// The schema of the serialised form.
impl schemars::JsonSchema for ClaimSet {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        ClaimSetRepr::schema_name()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ClaimSetRepr::json_schema(g)
    }
}

impl serde::Serialize for ClaimSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let locks = self
            .locks
            .iter()
            .enumerate()
            .filter_map(|(l, c)| {
                let top = c.top?;
                let below = if c.below.is_empty() {
                    String::new()
                } else {
                    let mut bytes = Vec::with_capacity(c.below.serialized_size());
                    c.below.serialize_into(&mut bytes).expect("writing to a Vec cannot fail");
                    BASE64.encode(bytes)
                };
                Some(LockRepr { lock: l as u32, successes: c.successes, top, below })
            })
            .collect();
        let repr = ClaimSetRepr {
            claimants: self.claimants.clone(),
            duplicates: self.duplicates,
            samples: self.samples.clone(),
            locks,
        };
        serde::Serialize::serialize(&repr, s)
    }
}

impl TryFrom<ClaimSetRepr> for ClaimSet {
    type Error = String;

    fn try_from(r: ClaimSetRepr) -> Result<ClaimSet, String> {
        let count = r.locks.iter().map(|l| l.lock as usize + 1).max().unwrap_or(0);
        let mut set = ClaimSet::new(count as u32);
        for l in r.locks {
            let bad = |why: &str| format!("claims of lock {}: {why}", l.lock);
            let below = if l.below.is_empty() {
                RoaringTreemap::new()
            } else {
                let bytes = BASE64.decode(&l.below).map_err(|e| bad(&format!("bitmap is not base64: {e}")))?;
                RoaringTreemap::deserialize_from(&bytes[..])
                    .map_err(|e| bad(&format!("bitmap is not a portable Roaring bitmap: {e}")))?
            };
            let t = l.top;
            if t.start > t.end {
                return Err(bad("top run starts above its end"));
            }
            if below.max().is_some_and(|m| m >= t.start) {
                return Err(bad("bitmap holds generations at or above the top run"));
            }
            let distinct = (t.end - t.start).checked_add(1).and_then(|n| n.checked_add(below.len()));
            if distinct.is_none_or(|d| l.successes < d) {
                return Err(bad("fewer claims than claimed generations"));
            }
            let slot = &mut set.locks[l.lock as usize];
            if slot.top.is_some() {
                return Err(bad("listed twice"));
            }
            *slot = LockClaims { successes: l.successes, top: Some(t), below, dirty: false };
        }
        set.claimants = r.claimants;
        set.claimants.sort_unstable();
        set.claimants.dedup();
        set.duplicates = r.duplicates;
        set.samples = r.samples;
        set.samples.truncate(MAX_SAMPLES);
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: u64 = 0xA;

    fn owner(worker: u32, g: u64) -> Owner {
        Owner { host: HOST, worker, seq: g }
    }

    /// A set of `worker`'s claims of `gens` on lock 0.
    fn set(worker: u32, gens: impl IntoIterator<Item = u64>) -> ClaimSet {
        let mut s = ClaimSet::new(1);
        for g in gens {
            assert!(s.insert(0, g, owner(worker, g)), "generation {g} inserted twice");
        }
        s
    }

    fn json(s: &ClaimSet) -> String {
        serde_json::to_string(s).unwrap()
    }

    /// Bytes of lock 0's bitmap in the portable format.
    fn bitmap_bytes(s: &ClaimSet) -> usize {
        s.locks[0].below.serialized_size()
    }

    #[test]
    fn a_duplicate_is_found_on_insert() {
        let mut s = set(0, [1, 2, 3, 7, 8]);
        assert!(!s.insert(0, 2, owner(0, 99)), "inside the bitmap");
        assert!(!s.insert(0, 7, owner(1, 99)), "inside the top run");
        assert!(!s.insert(0, 8, owner(1, 98)), "the highest claim");
        assert!(s.insert(0, 9, owner(0, 9)));
        assert_eq!(s.duplicates(), 3);
        assert_eq!(s.successes(), 9);
        assert_eq!(
            s.duplicate_samples(),
            [
                "lock 0: transition to generation 2 claimed twice (workers 0 and 0)",
                "lock 0: transition to generation 7 claimed twice (workers 0 and 1)",
                "lock 0: transition to generation 8 claimed twice (workers 0 and 1)",
            ]
        );
        assert_eq!(s.claimants(), [Claimant { host: HOST, worker: 0 }, Claimant { host: HOST, worker: 1 }]);
    }

    #[test]
    fn holders_and_claims_above() {
        let mut s = set(0, [1, 2, 5, 6, 7]);
        s.insert(0, 7, owner(1, 70));
        let l = s.lock(0).unwrap();
        assert_eq!(l.holder(7), Holder::Known(owner(0, 7), Some(owner(1, 70))));
        assert_eq!(
            (l.holder(6), l.holder(2), l.holder(3), l.holder(8)),
            (Holder::Unknown, Holder::Unknown, Holder::Nobody, Holder::Nobody)
        );
        assert_eq!((l.claimed_above(0), l.claimed_above(2), l.claimed_above(5), l.claimed_above(7)), (5, 3, 2, 0));
        assert_eq!(l.claimed_above(u64::MAX), 0);
        assert!(s.lock(1).is_none());
    }

    #[test]
    fn merge_finds_generations_claimed_by_both() {
        let mut a = set(0, 1..=10);
        let mut b = set(1, [5, 10, 11, 12]);
        b.insert(3, 1, owner(1, 1));
        a.merge(b);
        assert_eq!(a.duplicates(), 2);
        assert_eq!(
            a.duplicate_samples(),
            [
                "lock 0: transition to generation 5 claimed twice (workers 0 and 1)",
                "lock 0: transition to generation 10 claimed twice (workers 0 and 1)",
            ]
        );
        assert_eq!(a.successes(), 15);
        let l = a.lock(0).unwrap();
        assert_eq!(l.top.map(|t| (t.start, t.end)), Some((1, 12)), "the union is one run");
        assert!(l.below.is_empty());
        assert_eq!(l.holder(12), Holder::Known(owner(1, 12), None));
        assert_eq!(a.lock(3).map(LockClaims::successes), Some(1), "a lock only the other had");
    }

    #[test]
    fn merge_names_several_claimants_and_hosts() {
        let mut host_a = set(0, [1, 3]);
        host_a.merge(set(1, [2, 4]));
        let mut host_b = ClaimSet::new(1);
        host_b.insert(0, 3, Owner { host: 0xB, worker: 0, seq: 1 });
        host_a.merge(host_b);
        assert_eq!(
            host_a.duplicate_samples(),
            ["lock 0: transition to generation 3 claimed twice (one of host 0xa worker 0, host 0xa worker 1 and host 0xb worker 0)"]
        );
        let mut one_host = set(0, [1, 3]);
        one_host.merge(set(1, [2]));
        one_host.merge(set(2, [3]));
        assert_eq!(
            one_host.duplicate_samples(),
            ["lock 0: transition to generation 3 claimed twice (one of worker 0, worker 1 and worker 2)"]
        );
    }

    #[test]
    fn a_tie_at_the_top_keeps_both_owners() {
        let mut a = set(0, 1..=4);
        a.merge(set(1, [4]));
        assert_eq!(a.lock(0).unwrap().holder(4), Holder::Known(owner(0, 4), Some(owner(1, 4))));
        assert_eq!(a.duplicates(), 1);
    }

    #[test]
    fn serialised_sets_round_trip() {
        let mut s = set(0, [1, 2, 3, 10, 20, 21, 40]);
        s.insert(0, 3, owner(0, 33));
        s.insert(5, 1, Owner { host: 0xB, worker: 2, seq: 1 });
        s.insert(5, 1 << 40, Owner { host: 0xB, worker: 2, seq: 2 });
        s.maintain();
        let text = json(&s);
        assert!(text.contains(r#""below":""#), "{text}");
        let back: ClaimSet = serde_json::from_str(&text).unwrap();
        assert_eq!(back.locks.len(), 6);
        assert_eq!(back, s);
        assert_eq!(json(&back), text);
        let empty: ClaimSet = serde_json::from_str(&json(&ClaimSet::new(4))).unwrap();
        assert_eq!(empty.successes(), 0);
    }

    #[test]
    fn damaged_serialisations_are_refused() {
        let text = json(&set(0, [1, 5, 6]));
        for (from, to, why) in [
            (r#""below":""#, r#""below":"!!"#, "not base64"),
            (r#""below":""#, r#""below":"AAAA"#, "not a portable Roaring"),
            (r#""start":5"#, r#""start":9"#, "starts above its end"),
            (r#""start":5"#, r#""start":1"#, "at or above the top run"),
            (r#""successes":3"#, r#""successes":2"#, "fewer claims"),
        ] {
            let bad = text.replacen(from, to, 1);
            assert_ne!(bad, text, "{from}");
            let e = serde_json::from_str::<ClaimSet>(&bad).unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    /// One actor per lock: 10 million claims are two numbers.
    #[test]
    fn a_dense_history_stays_small() {
        const N: u64 = 10_000_000;
        let mut s = ClaimSet::new(1);
        for g in 1..=N {
            s.insert(0, g, owner(0, g));
        }
        let size = json(&s).len();
        eprintln!("dense, {N} generations of one lock: {size} bytes serialised, bitmap empty");
        assert!(size < 1024, "{size} bytes");
        assert!(s.locks[0].below.is_empty());
        assert!(!s.maintain_due());
        let mut last = vec![0u8; 512];
        crate::workload::record::Record { lock: 0, generation: N, owner: owner(0, N) }.encode(&mut last);
        let v = s.verify(&[last]);
        assert_eq!((v.checked, v.violations, v.lost_updates), (N + 1, 0, 0), "{:?}", v.problems);
    }

    /// Two actors alternating on one lock: each set holds every other generation, 1 bit per
    /// generation of the lock; merged, they are one run again.
    #[test]
    fn an_interleaved_history_costs_a_bit_per_generation_until_merged() {
        const N: u64 = 1 << 20;
        let mut even = set(0, (2..=N).step_by(2));
        let odd = set(1, (1..=N).step_by(2));
        even.maintain();
        let (bits, text) = (bitmap_bytes(&even), json(&even).len());
        eprintln!("interleaved, {N} generations, each of two sets: {bits} bytes of bitmap, {text} serialised");
        assert!(bits as u64 >= N / 8 && (bits as u64) < N / 8 + 1024, "{bits} bytes");
        assert!(!even.maintain_due(), "maintain resets the count");
        even.merge(odd);
        let merged = json(&even).len();
        eprintln!("interleaved, merged: {merged} bytes serialised");
        assert!(merged < 1024, "{merged} bytes");
        assert_eq!((even.duplicates(), even.successes()), (0, N));
    }

    /// Two actors taking turns in bursts of 64: runs. A chunk whose first claim was a single
    /// generation starts as an array and grows into a bitmap; `maintain` makes it runs.
    #[test]
    fn bursts_compress_when_maintained() {
        const N: u64 = 1 << 16;
        let mut s = set(0, std::iter::once(1).chain((64..N).filter(|g| (g / 64) % 2 == 1)));
        let before = bitmap_bytes(&s);
        assert!(!s.maintain_due(), "{} generations in the bitmap", s.since_maintain);
        s.maintain();
        let after = bitmap_bytes(&s);
        eprintln!("bursts of 64, {N} generations, one of two sets: bitmap {before} bytes, {after} after maintain");
        assert!(after * 3 < before, "{before} -> {after}");
        assert!(s.dirty.is_empty() && !s.locks[0].dirty);
        // Bursts into a chunk that started with a run stay runs without help.
        let runs = set(0, (0..N).filter(|g| (g / 64) % 2 == 1));
        assert!(bitmap_bytes(&runs) <= after, "{}", bitmap_bytes(&runs));
        let mut busy = set(0, (1..=2 * MAINTAIN_EVERY + 2).step_by(2));
        assert!(busy.maintain_due());
        busy.maintain();
        assert!(!busy.maintain_due());
    }
}
