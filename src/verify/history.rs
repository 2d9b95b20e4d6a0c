//! Verification of the ATS history against the final lock blocks.
//!
//! Every successful ATS claims one transition of its lock, generation g -> g+1, with its unique
//! owner. Atomic compare-and-write makes these claims a chain: one claim per generation, and the
//! final block holds the last claim's image. Two claims of one transition are an atomicity
//! violation; successes that the final generation does not account for are lost updates.
//!
//! The claims are kept in a [`ClaimSet`], which holds every claimed generation but the owner of
//! only the highest claim of each lock. So:
//!
//! - checked in full: a generation claimed twice (found on insert or merge, both claimants
//!   named as far as the set knows them); a final block that is not a valid record or holds
//!   another lock's record; a final block whose generation nobody claimed; a final block at
//!   the highest claimed generation whose owner is not that claim's owner;
//! - not checked: the owner of a final block whose generation is claimed but below the
//!   highest claim. The set cannot tell who claimed it. Every claim above the final generation
//!   is a lost update anyway, and is counted so: lost updates are the larger of the successes
//!   beyond the final generation and the generations claimed above it.
//!
//! One host of several (`--hosts N`) holds only its own claims, so a final block another host
//! wrote is left to the merge of all hosts' results ([`ClaimSet::verify_finals`] with the other
//! hosts' ids; `hosts/verify.rs` for the merge). What it still finds is real: its own
//! generations claimed twice, and its own claims above the final generation (lost updates).

use super::claims::{ClaimSet, Holder, LockClaims};
use crate::workload::record::{Owner, Record, GENESIS_WORKER};

/// One successful ATS: lock `lock` went to `generation`, written by `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub lock: u32,
    pub generation: u64,
    pub owner: Owner,
}

/// The outcome of the check, as reported in results.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Verification {
    /// Claims and lock blocks checked.
    pub checked: u64,
    /// Transitions claimed twice, final blocks that are invalid or that no claim explains.
    pub violations: u64,
    /// Successful ATS that the final generations do not account for.
    pub lost_updates: u64,
    /// What the check covered when it is not the whole history: one host of several checks
    /// only its own claims (`atsbench merge` checks them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The first problems found, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

const MAX_PROBLEMS: usize = 8;

impl Verification {
    /// Note one problem in words (the first few are kept).
    pub fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

/// A final lock block as read back, decoded: kept in results so that the histories of several
/// hosts can be checked later (`atsbench merge`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct FinalBlock {
    /// The lock block.
    pub lock: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// The block holds a valid record of this other lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_of: Option<u32>,
    /// Why the block holds no valid record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
}

impl FinalBlock {
    /// Decode the final block of `lock`.
    pub fn from_block(lock: u32, block: &[u8]) -> FinalBlock {
        match Record::decode(block) {
            Ok(r) => FinalBlock {
                lock,
                generation: Some(r.generation),
                owner: Some(r.owner),
                record_of: (r.lock != lock).then_some(r.lock),
                invalid: None,
            },
            Err(e) => FinalBlock { lock, generation: None, owner: None, record_of: None, invalid: Some(e.to_string()) },
        }
    }

    /// The record the block holds, or why it holds none.
    pub fn record(&self) -> Result<Record, String> {
        match (&self.invalid, self.generation, self.owner) {
            (None, Some(generation), Some(owner)) => {
                Ok(Record { lock: self.record_of.unwrap_or(self.lock), generation, owner })
            }
            (Some(why), _, _) => Err(why.clone()),
            _ => Err("neither a record nor the reason it is none".into()),
        }
    }
}

/// Check `claims` (all workers', any order) against `finals` through a [`ClaimSet`] (tests).
#[cfg(test)]
pub fn verify(claims: Vec<Claim>, finals: &[Vec<u8>]) -> Verification {
    let mut set = ClaimSet::new(finals.len() as u32);
    for c in claims {
        set.insert(c.lock, c.generation, c.owner);
    }
    set.verify(finals)
}

impl ClaimSet {
    /// Check these claims against `finals`: the final block of each lock, indexed by lock
    /// number. All locks started at generation 0.
    pub fn verify(&self, finals: &[Vec<u8>]) -> Verification {
        let finals: Vec<FinalBlock> =
            finals.iter().enumerate().map(|(l, b)| FinalBlock::from_block(l as u32, b)).collect();
        self.verify_finals(&finals, &[])
    }

    /// Check these claims against decoded final blocks (indexed by lock number). A final
    /// record written by one of `others` (the other hosts of a multi-host run, whose claims
    /// this set does not hold) is taken as explained by them, unless this set claimed the same
    /// generation itself.
    pub fn verify_finals(&self, finals: &[FinalBlock], others: &[u64]) -> Verification {
        let mut v = Verification { checked: self.successes() + finals.len() as u64, ..Default::default() };
        v.violations += self.duplicates();
        for p in self.duplicate_samples() {
            v.problem(p.clone());
        }
        for (lock, block) in finals.iter().enumerate() {
            let lock = lock as u32;
            check_lock(lock, self.lock(lock), block.record(), others, &mut v);
        }
        let stray = self.claims_from(finals.len());
        if stray > 0 {
            v.violations += stray;
            v.problem(format!("{stray} claims name locks that do not exist"));
        }
        v
    }
}

fn check_lock(
    lock: u32,
    claims: Option<&LockClaims>,
    found: Result<Record, String>,
    others: &[u64],
    v: &mut Verification,
) {
    let successes = claims.map_or(0, LockClaims::successes);
    let last = match found {
        Ok(r) if r.lock == lock => r,
        Ok(r) => {
            v.violations += 1;
            v.problem(format!("lock {lock}: final block holds the record of lock {}", r.lock));
            return;
        }
        Err(e) => {
            v.violations += 1;
            v.problem(format!("lock {lock}: final block is not a valid record ({e})"));
            return;
        }
    };
    let holder = claims.map_or(Holder::Nobody, |c| c.holder(last.generation));
    let explained = match holder {
        _ if last.generation == 0 => last.owner.worker == GENESIS_WORKER,
        Holder::Known(owner, tie) => last.owner == owner || Some(last.owner) == tie,
        // Claimed, but below the highest claim: the owner is not kept (see the module doc).
        Holder::Unknown => true,
        // Another host's claim, which only the merge of all hosts' results can check.
        Holder::Nobody => others.contains(&last.owner.host),
    };
    if !explained {
        v.violations += 1;
        v.problem(format!(
            "lock {lock}: final block (generation {}, worker {}, seq {}) matches no successful ATS",
            last.generation, last.owner.worker, last.owner.seq
        ));
    }
    let beyond = successes.saturating_sub(last.generation);
    let above = claims.map_or(0, |c| c.claimed_above(last.generation));
    if beyond >= above && beyond > 0 {
        v.lost_updates += beyond;
        v.problem(format!("lock {lock}: {successes} successful ATS but the final generation is {}", last.generation));
    } else if above > beyond {
        v.lost_updates += above;
        let highest = claims.and_then(LockClaims::highest).unwrap_or(0);
        v.problem(format!(
            "lock {lock}: the final generation is {} but {above} successful ATS claimed higher ones (up to {highest})",
            last.generation
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: u64 = 5;

    fn claim(g: u64, worker: u32) -> Claim {
        Claim { lock: 0, generation: g, owner: Owner { host: HOST, worker, seq: g * 10 + worker as u64 } }
    }

    fn block(c: &Claim) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        Record { lock: c.lock, generation: c.generation, owner: c.owner }.encode(&mut b);
        b
    }

    fn genesis(lock: u32) -> Vec<u8> {
        let mut g = vec![0u8; 512];
        Record::genesis(lock, HOST).encode(&mut g);
        g
    }

    /// The claims as one set, as if one worker had made them all.
    fn set_of(claims: &[Claim]) -> ClaimSet {
        let mut set = ClaimSet::new(1);
        for c in claims {
            set.insert(c.lock, c.generation, c.owner);
        }
        set
    }

    /// The claims split by worker into one set each, merged: as the engine will do it.
    fn merged(claims: &[Claim]) -> ClaimSet {
        let workers = claims.iter().map(|c| c.owner.worker).max().map_or(0, |w| w + 1);
        let mut all = ClaimSet::new(1);
        for w in 0..workers {
            let mine: Vec<Claim> = claims.iter().filter(|c| c.owner.worker == w).copied().collect();
            all.merge(set_of(&mine));
        }
        all
    }

    #[test]
    fn a_clean_chain_verifies() {
        let claims: Vec<Claim> = (1..=10).map(|g| claim(g, (g % 2) as u32)).collect();
        for set in [set_of(&claims), merged(&claims)] {
            let v = set.verify(&[block(&claims[9])]);
            assert_eq!((v.checked, v.violations, v.lost_updates), (11, 0, 0), "{:?}", v.problems);
        }
    }

    #[test]
    fn untouched_lock_verifies() {
        let v = ClaimSet::new(1).verify(&[genesis(0)]);
        assert_eq!((v.checked, v.violations, v.lost_updates), (1, 0, 0));
    }

    #[test]
    fn a_transition_claimed_twice_is_a_violation_and_a_lost_update() {
        let mut claims: Vec<Claim> = (1..=5).map(|g| claim(g, 0)).collect();
        claims.push(claim(3, 1));
        for set in [set_of(&claims), merged(&claims)] {
            let v = set.verify(&[block(&claims[4])]);
            assert_eq!(v.violations, 1, "{:?}", v.problems);
            assert_eq!(v.lost_updates, 1);
            assert_eq!(v.problems[0], "lock 0: transition to generation 3 claimed twice (workers 0 and 1)");
        }
    }

    #[test]
    fn final_block_from_nowhere_is_a_violation() {
        let claims: Vec<Claim> = (1..=3).map(|g| claim(g, 0)).collect();
        let stranger = claim(4, 1);
        let v = set_of(&claims).verify(&[block(&stranger)]);
        assert_eq!(v.violations, 1);
        assert!(v.problems[0].contains("matches no successful ATS"), "{:?}", v.problems);
        let v = set_of(&[claim(1, 0)]).verify(&[vec![0u8; 512]]);
        assert_eq!(v.violations, 1);
        assert!(v.problems[0].contains("not a valid record"));
    }

    #[test]
    fn final_block_at_the_highest_claim_must_be_its_owners() {
        let claims: Vec<Claim> = (1..=3).map(|g| claim(g, 0)).collect();
        let impostor = Claim { owner: Owner { seq: 999, ..claims[2].owner }, ..claims[2] };
        let v = set_of(&claims).verify(&[block(&impostor)]);
        assert_eq!((v.violations, v.lost_updates), (1, 0), "{:?}", v.problems);
        assert_eq!(v.problems[0], "lock 0: final block (generation 3, worker 0, seq 999) matches no successful ATS");
    }

    #[test]
    fn a_final_generation_nobody_claimed_is_a_violation() {
        // Generations 1, 2 and 4 claimed; the block says 3.
        let claims = [claim(1, 0), claim(2, 0), claim(4, 1)];
        let v = merged(&claims).verify(&[block(&claim(3, 1))]);
        assert_eq!(v.violations, 1, "{:?}", v.problems);
        assert_eq!(v.lost_updates, 1, "generation 4 was claimed above the final one");
    }

    #[test]
    fn claims_beyond_the_final_generation_are_lost_updates() {
        let claims: Vec<Claim> = (1..=4).map(|g| claim(g, 0)).collect();
        let v = set_of(&claims).verify(&[block(&claims[1])]);
        assert_eq!((v.violations, v.lost_updates), (0, 2), "{:?}", v.problems);
        assert_eq!(v.problems[0], "lock 0: 4 successful ATS but the final generation is 2");
    }

    #[test]
    fn a_final_block_below_the_highest_claim_is_not_matched_but_counted() {
        // Generations 3 and 9 claimed; the block went back to 3. Its owner cannot be checked
        // (a stranger's record of generation 3 passes), but the claim of 9 is a lost update.
        let claims = [claim(3, 0), claim(9, 0)];
        let v = set_of(&claims).verify(&[block(&claim(3, 1))]);
        assert_eq!((v.violations, v.lost_updates), (0, 1), "{:?}", v.problems);
        assert_eq!(
            v.problems[0],
            "lock 0: the final generation is 3 but 1 successful ATS claimed higher ones (up to 9)"
        );
    }

    #[test]
    fn several_locks_are_checked_independently() {
        let a = Claim { lock: 1, ..claim(1, 0) };
        let v = set_of(&[a]).verify(&[genesis(0), block(&a)]);
        assert_eq!((v.checked, v.violations, v.lost_updates), (3, 0, 0), "{:?}", v.problems);
        let v = set_of(&[Claim { lock: 9, ..a }]).verify(&[block(&a)]);
        assert_eq!(v.violations, 2, "{:?}", v.problems);
        assert_eq!(v.problems[1], "1 claims name locks that do not exist");
    }

    #[test]
    fn the_vec_of_claims_still_verifies() {
        let mut claims: Vec<Claim> = (1..=5).map(|g| claim(g, (g % 3) as u32)).collect();
        let v = verify(claims.clone(), &[block(&claims[4])]);
        assert_eq!((v.checked, v.violations, v.lost_updates), (6, 0, 0), "{:?}", v.problems);
        claims.push(claim(2, 0));
        let v = verify(claims.clone(), &[block(&claims[4])]);
        assert_eq!((v.violations, v.lost_updates), (1, 1), "{:?}", v.problems);
    }
}
