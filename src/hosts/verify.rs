//! The histories of several hosts on one target, checked together (`atsbench merge`).
//!
//! Each host of a multi-host run keeps its own claims (a [`ClaimSet`]) and reads the final
//! lock blocks after every host has stopped writing; both go into its results as its
//! [`HostShare`] of each point (`barrier.rs`). The merge unions the hosts' claims (a generation
//! claimed by two hosts is a duplicate, so an atomicity violation, as within one host), then
//! checks the final blocks against the union: every final record must be explained by some
//! host's claim, and claims the final generations do not account for are lost updates. The hosts must have read
//! the same final blocks; a lock whose final block differs between hosts is a violation too
//! (the hosts do not see one device, e.g. a path or cache that is not coherent).

use crate::results::HostShare;
use crate::verify::claims::ClaimSet;
use crate::verify::history::{FinalBlock, Verification};

/// Check the shares of all hosts of one point together. None when no host read the final
/// blocks (verification was off).
pub fn verify_hosts(shares: Vec<HostShare>) -> Option<Verification> {
    let mut union = ClaimSet::new(0);
    let mut finals: Option<(u32, Vec<FinalBlock>)> = None;
    let mut differ: Vec<String> = Vec::new();
    let mut differing = 0u64;
    for s in shares {
        union.merge(s.claims);
        if s.finals.is_empty() {
            continue;
        }
        let Some((first, f)) = &finals else {
            finals = Some((s.host_index, s.finals));
            continue;
        };
        if f.len() != s.finals.len() {
            differing += 1;
            differ.push(format!(
                "host {first} read {} final blocks, host {} read {}",
                f.len(),
                s.host_index,
                s.finals.len()
            ));
        }
        for (a, b) in f.iter().zip(&s.finals).filter(|(a, b)| a != b) {
            differing += 1;
            differ.push(format!(
                "lock {}: host {first} read {} at the end, host {} read {}",
                a.lock,
                describe(a),
                s.host_index,
                describe(b)
            ));
        }
    }
    let (_, finals) = finals?;
    let mut v = union.verify_finals(&finals, &[]);
    v.violations += differing;
    for p in differ {
        v.problem(p);
    }
    v.scope = Some("all hosts".into());
    Some(v)
}

/// A final block in words.
fn describe(f: &FinalBlock) -> String {
    match f.record() {
        Ok(r) => format!(
            "generation {} (host {:016x} worker {} seq {})",
            r.generation, r.owner.host, r.owner.worker, r.owner.seq
        ),
        Err(why) => format!("no valid record ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::record::{Owner, Record};

    const A: u64 = 0xA1;
    const B: u64 = 0xB1;

    fn owner(host: u64, g: u64) -> Owner {
        Owner { host, worker: 0, seq: g }
    }

    /// Host `host`'s claims of `gens` on lock 0.
    fn claims(host: u64, gens: &[u64]) -> ClaimSet {
        let mut s = ClaimSet::new(1);
        for &g in gens {
            s.insert(0, g, owner(host, g));
        }
        s
    }

    fn fin(host: u64, g: u64) -> FinalBlock {
        let mut b = vec![0u8; 512];
        Record { lock: 0, generation: g, owner: owner(host, g) }.encode(&mut b);
        FinalBlock::from_block(0, &b)
    }

    fn share(index: u32, host: u64, gens: &[u64], finals: Vec<FinalBlock>) -> HostShare {
        HostShare { host_index: index, session: "5e55".into(), claims: claims(host, gens), finals }
    }

    #[test]
    fn interleaved_hosts_form_one_chain() {
        let v = verify_hosts(vec![
            share(0, A, &[1, 3, 4, 7], vec![fin(B, 8)]),
            share(1, B, &[2, 5, 6, 8], vec![fin(B, 8)]),
        ])
        .unwrap();
        assert_eq!((v.checked, v.violations, v.lost_updates), (9, 0, 0), "{:?}", v.problems);
        assert_eq!(v.scope.as_deref(), Some("all hosts"));
    }

    #[test]
    fn a_generation_claimed_by_two_hosts_is_a_violation() {
        // Host-emulated ATS across hosts: both read generation 2, both wrote generation 3.
        let v =
            verify_hosts(vec![share(0, A, &[1, 3], vec![fin(B, 3)]), share(1, B, &[2, 3], vec![fin(B, 3)])]).unwrap();
        assert_eq!((v.violations, v.lost_updates), (1, 1), "{:?}", v.problems);
        assert!(v.problems[0].contains("generation 3 claimed twice"), "{:?}", v.problems);
        assert!(v.problems[0].contains("host 0xa1") && v.problems[0].contains("host 0xb1"), "{:?}", v.problems);
    }

    #[test]
    fn claims_above_the_final_generation_are_lost_updates() {
        // rmw: host 0 wrote generation 5, then host 1 overwrote it with its own generation 4.
        let v = verify_hosts(vec![share(0, A, &[1, 2, 3, 5], vec![fin(B, 4)]), share(1, B, &[4], vec![fin(B, 4)])])
            .unwrap();
        assert_eq!((v.violations, v.lost_updates), (0, 1), "{:?}", v.problems);
    }

    #[test]
    fn a_final_block_no_host_claimed_is_a_violation() {
        let v = verify_hosts(vec![share(0, A, &[1], vec![fin(0xC1, 2)]), share(1, B, &[], vec![fin(0xC1, 2)])]);
        let v = v.unwrap();
        assert_eq!(v.violations, 1, "{:?}", v.problems);
        assert!(v.problems[0].contains("matches no successful ATS"), "{:?}", v.problems);
    }

    #[test]
    fn hosts_that_read_different_finals_are_a_violation() {
        let v = verify_hosts(vec![share(0, A, &[1], vec![fin(A, 1)]), share(1, B, &[2], vec![fin(B, 2)])]).unwrap();
        assert_eq!((v.violations, v.lost_updates), (1, 1), "host 1's generation 2 is lost: {:?}", v.problems);
        assert!(v.problems.iter().any(|p| p.starts_with("lock 0: host 0 read generation 1")), "{:?}", v.problems);
        assert!(verify_hosts(vec![share(0, A, &[1], vec![]), share(1, B, &[], vec![])]).is_none(), "no finals");
    }

    #[test]
    fn one_host_alone_leaves_the_others_records_to_the_merge() {
        let host0 = claims(A, &[1, 3]);
        let v = host0.verify_finals(&[fin(B, 4)], &[B]);
        assert_eq!((v.violations, v.lost_updates), (0, 0), "{:?}", v.problems);
        let v = host0.verify_finals(&[fin(B, 4)], &[]);
        assert_eq!(v.violations, 1, "without the other hosts' ids the record is unexplained");
        let v = host0.verify_finals(&[fin(0xC1, 4)], &[B]);
        assert_eq!(v.violations, 1, "a host that is not a participant explains nothing");
        let v = host0.verify_finals(&[fin(B, 3)], &[B]);
        assert_eq!(v.violations, 1, "another host's record of a generation this host claimed: a duplicate");
        let v = host0.verify_finals(&[fin(B, 2)], &[B]);
        assert_eq!((v.violations, v.lost_updates), (0, 1), "this host's generation 3 above the final 2 is lost");
    }

    #[test]
    fn shares_round_trip_through_json() {
        let s = share(1, B, &[2, 5, 6, 9], vec![fin(B, 9), FinalBlock::from_block(1, &[0u8; 512])]);
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains(r#""invalid":"no record magic""#), "{text}");
        let back: HostShare = serde_json::from_str(&text).unwrap();
        assert_eq!((back.host_index, &back.session, &back.finals), (1, &s.session, &s.finals));
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        assert_eq!(back.claims.successes(), 4);
    }
}
