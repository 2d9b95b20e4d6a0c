//! Verification of the ATS history against the final lock blocks.
//!
//! Every successful ATS claims one transition of its lock, generation g -> g+1, with its unique
//! owner. Atomic compare-and-write makes these claims a chain: one claim per generation, and the
//! final block holds the last claim's image. Two claims of one transition are an atomicity
//! violation; successes that the final generation does not account for are lost updates.

use crate::workload::record::{Owner, Record, GENESIS_WORKER};

/// One successful ATS: lock `lock` went to `generation`, written by `owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub lock: u32,
    pub generation: u64,
    pub owner: Owner,
}

/// The outcome of the check, as reported in results.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Claims and lock blocks checked.
    pub checked: u64,
    /// Transitions claimed twice, final blocks that are invalid or that no claim explains.
    pub violations: u64,
    /// Successful ATS that the final generations do not account for.
    pub lost_updates: u64,
    /// The first problems found, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

const MAX_PROBLEMS: usize = 8;

impl Verification {
    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

/// Check `claims` (all workers', any order) against `finals`: the final block of each lock,
/// indexed by lock number. All locks started at generation 0.
pub fn verify(mut claims: Vec<Claim>, finals: &[Vec<u8>]) -> Verification {
    claims.sort_unstable_by_key(|c| (c.lock, c.generation));
    let mut v = Verification { checked: (claims.len() + finals.len()) as u64, ..Default::default() };
    let mut rest = claims.as_slice();
    for (lock, block) in finals.iter().enumerate() {
        let lock = lock as u32;
        let n = rest.iter().take_while(|c| c.lock == lock).count();
        let (mine, tail) = rest.split_at(n);
        rest = tail;
        check_lock(lock, mine, block, &mut v);
    }
    if !rest.is_empty() {
        v.violations += rest.len() as u64;
        v.problem(format!("{} claims name locks that do not exist", rest.len()));
    }
    v
}

fn check_lock(lock: u32, claims: &[Claim], block: &[u8], v: &mut Verification) {
    for pair in claims.windows(2) {
        if pair[0].generation == pair[1].generation {
            v.violations += 1;
            v.problem(format!(
                "lock {lock}: transition to generation {} claimed twice (workers {} and {})",
                pair[1].generation, pair[0].owner.worker, pair[1].owner.worker
            ));
        }
    }
    let successes = claims.len() as u64;
    let last = match Record::decode(block) {
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
    let explained = if last.generation == 0 {
        last.owner.worker == GENESIS_WORKER
    } else {
        claims.iter().any(|c| c.generation == last.generation && c.owner == last.owner)
    };
    if !explained {
        v.violations += 1;
        v.problem(format!(
            "lock {lock}: final block (generation {}, worker {}, seq {}) matches no successful ATS",
            last.generation, last.owner.worker, last.owner.seq
        ));
    }
    if successes > last.generation {
        v.lost_updates += successes - last.generation;
        v.problem(format!("lock {lock}: {successes} successful ATS but the final generation is {}", last.generation));
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

    #[test]
    fn a_clean_chain_verifies() {
        let claims: Vec<Claim> = (1..=10).map(|g| claim(g, (g % 2) as u32)).collect();
        let v = verify(claims.clone(), &[block(&claims[9])]);
        assert_eq!((v.checked, v.violations, v.lost_updates), (11, 0, 0), "{:?}", v.problems);
    }

    #[test]
    fn untouched_lock_verifies() {
        let mut g = vec![0u8; 512];
        Record::genesis(0, HOST).encode(&mut g);
        let v = verify(vec![], &[g]);
        assert_eq!((v.violations, v.lost_updates), (0, 0));
    }

    #[test]
    fn a_transition_claimed_twice_is_a_violation_and_a_lost_update() {
        let mut claims: Vec<Claim> = (1..=5).map(|g| claim(g, 0)).collect();
        claims.push(claim(3, 1));
        let v = verify(claims.clone(), &[block(&claims[4])]);
        assert_eq!(v.violations, 1);
        assert_eq!(v.lost_updates, 1);
        assert!(v.problems[0].contains("claimed twice"));
    }

    #[test]
    fn final_block_from_nowhere_is_a_violation() {
        let claims: Vec<Claim> = (1..=3).map(|g| claim(g, 0)).collect();
        let stranger = claim(4, 1);
        let v = verify(claims, &[block(&stranger)]);
        assert_eq!(v.violations, 1);
        let v = verify(vec![claim(1, 0)], &[vec![0u8; 512]]);
        assert_eq!(v.violations, 1);
        assert!(v.problems[0].contains("not a valid record"));
    }

    #[test]
    fn claims_beyond_the_final_generation_are_lost_updates() {
        let claims: Vec<Claim> = (1..=4).map(|g| claim(g, 0)).collect();
        let v = verify(claims.clone(), &[block(&claims[1])]);
        assert_eq!(v.lost_updates, 2);
    }

    #[test]
    fn several_locks_are_checked_independently() {
        let a = Claim { lock: 1, ..claim(1, 0) };
        let v = verify(
            vec![a],
            &[
                {
                    let mut g = vec![0u8; 512];
                    Record::genesis(0, HOST).encode(&mut g);
                    g
                },
                block(&a),
            ],
        );
        assert_eq!((v.checked, v.violations, v.lost_updates), (3, 0, 0), "{:?}", v.problems);
        let v = verify(vec![Claim { lock: 9, ..a }], &[block(&a)]);
        assert_eq!(v.violations, 2, "{:?}", v.problems);
    }
}
