//! The rules' known answers on figures, and the docs table's rows.

use super::super::{diagnose, Classes, Queue};
use super::*;
use crate::backend::AtsMode;

fn ids(f: &Figures) -> Vec<&'static str> {
    diagnose(f).iter().map(|x| x.mechanism.id()).collect()
}

fn ats() -> Figures {
    Figures::clean(Workload::Ats, Some(AtsMode::Device), 10_000)
}

fn with(m: Classes) -> Figures {
    Figures {
        miscompares: Classes { total: m.contention + m.own_write + m.corrupt + m.stale + m.false_ + m.split, ..m },
        ..ats()
    }
}

#[test]
fn nothing_to_explain_is_clean_and_contention_is_benign() {
    assert_eq!(ids(&ats()), ["clean"]);
    let f = Figures { actors_per_lock: 16.0, ..with(Classes { contention: 9370, ..Default::default() }) };
    assert_eq!(ids(&f), ["contention", "clean"]);
    let text = &diagnose(&f)[0].text;
    assert!(text.contains("93.7 % of ATS miscompared, all `contention`: 16 actors per lock block; benign"), "{text}");
    let hosts = Figures { scope: Scope::AllHosts(2), ..f.clone() };
    assert_eq!(ids(&hosts), ["contention-between-hosts", "clean"]);
}

#[test]
fn every_fault_class_has_its_mechanism() {
    let cases: [(Classes, &str); 5] = [
        (Classes { corrupt: 5, torn: 5, torn_reads: 2, ..Default::default() }, "torn-write"),
        (Classes { corrupt: 5, ..Default::default() }, "outside-writer"),
        (Classes { false_: 5, ..Default::default() }, "false-miscompare"),
        (Classes { own_write: 5, ..Default::default() }, "false-miscompare"),
        (Classes { split: 5, ..Default::default() }, "split"),
    ];
    for (m, id) in cases {
        let d = diagnose(&with(m));
        assert_eq!((d.len(), d[0].mechanism.id(), d[0].strength), (1, id, Strength::Fault), "{m:?}: {d:?}");
    }
}

#[test]
fn a_torn_read_is_named_as_one() {
    let f = with(Classes { corrupt: 2, torn: 2, torn_reads: 2, contention: 50, ..Default::default() });
    let d = diagnose(&f);
    assert_eq!((d[0].mechanism.id(), d[0].strength), ("torn-write", Strength::Warning), "{d:?}");
    assert!(d[0].text.contains("a torn READ") && d[0].text.contains("no write was torn"), "{}", d[0].text);
    let mixed = with(Classes { corrupt: 3, torn: 3, torn_reads: 1, ..Default::default() });
    let d = diagnose(&mixed);
    assert_eq!(d[0].strength, Strength::Fault);
    assert!(d[0].text.contains("1 of them torn READs"), "{}", d[0].text);
}

#[test]
fn stale_records_are_a_lost_write_or_a_stale_cache() {
    let stale = Classes { stale: 7, ..Default::default() };
    let lost = Figures { verification: Some((100, 7, 7)), ..with(stale) };
    assert_eq!(ids(&lost), ["lost-write"]);
    assert_eq!(ids(&with(stale)), ["stale-cache"]);
    // Device-side ATS with actors sharing lock blocks: retries of superseded images.
    let shared =
        Figures { actors_per_lock: 128.0, ..with(Classes { stale: 3, contention: 3911, ..Default::default() }) };
    assert_eq!(ids(&shared), ["contention", "clean"]);
    assert!(diagnose(&shared)[0].text.contains("3 `stale`"), "{}", diagnose(&shared)[0].text);
    let rmw = Figures { workload: Workload::Rmw, ats_mode: None, verification: Some((100, 3, 3)), ..with(stale) };
    assert_eq!(ids(&rmw), ["stale-cache"]);
    let cache = Figures { expected_from_cache: true, ..lost };
    assert_eq!(ids(&cache), ["stale-cache"]);
}

#[test]
fn timeouts_and_queues_are_warnings() {
    let f = Figures { timeouts: 312, late_completions: 312, ..with(Classes { own_write: 94, ..Default::default() }) };
    let d = diagnose(&f);
    assert_eq!(ids(&f), ["retry-after-timeout"]);
    assert!(d[0].text.starts_with("312 timeouts, 94 of their retries found their own write"), "{}", d[0].text);
    let q = Figures {
        qd: 16,
        queue: Some(Queue { depth: Some(4), commands: 100, queued: 60, mean_wait_ns: 300_000, in_flight: None }),
        ..ats()
    };
    assert_eq!(ids(&q), ["queue-wait"]);
    let idle = Queue { depth: Some(4), commands: 100, queued: 0, mean_wait_ns: 0, in_flight: None };
    assert_eq!(ids(&Figures { queue: Some(idle), ..ats() }), ["clean"]);
    // A SCSI device's queue depth from sysfs: in flight by Little's law.
    let scsi = |depth, in_flight| Figures {
        qd: 32,
        queue: Some(Queue { depth: Some(depth), in_flight: Some(in_flight), mean_wait_ns: 30_000, ..idle }),
        ..ats()
    };
    assert_eq!(ids(&scsi(1, 31.0)), ["queue-wait"]);
    assert!(diagnose(&scsi(1, 31.0))[0].text.starts_with("31.0 commands were in flight"));
    assert_eq!(ids(&scsi(32, 31.0)), ["clean"], "within the depth");
    assert_eq!(ids(&scsi(1, 1.2)), ["clean"], "less than a command beyond it");
}

#[test]
fn split_is_expected_where_nothing_promised_atomicity() {
    let split = Classes { split: 40, stale: 3, contention: 10, ..Default::default() };
    let host = Figures { ats_mode: Some(AtsMode::HostEmulated), scope: Scope::ThisHostOf(2), ..with(split) };
    assert_eq!(ids(&host), ["not-atomic-across-hosts", "contention-between-hosts"]);
    assert_eq!(diagnose(&host)[0].strength, Strength::Expected);
    let device = Figures { scope: Scope::ThisHostOf(2), ..with(split) };
    assert_eq!(ids(&device), ["split", "stale-cache", "contention-between-hosts"]);
    let rmw = Figures {
        workload: Workload::Rmw,
        ats_mode: None,
        actors_per_lock: 4.0,
        verification: Some((9, 40, 40)),
        ..with(split)
    };
    assert_eq!(ids(&rmw), ["split", "contention"]);
    assert_eq!(diagnose(&rmw)[0].strength, Strength::Expected);
    assert!(diagnose(&rmw)[1].text.contains("of rmw attempts miscompared"), "{}", diagnose(&rmw)[1].text);
    // `--locks` at random: a mean of 1 actor per block, yet the split shows a shared block,
    // and the stale records are its overwrites (qualification profile, rmw QD 256 x 256 locks).
    let placed = Figures { actors_per_lock: 1.0, shared_locks: true, ..rmw.clone() };
    assert_eq!(ids(&placed), ["split", "contention"]);
    let merged =
        Figures { scope: Scope::AllHosts(2), cross_host_atomic: Some(true), verification: Some((100, 4, 0)), ..ats() };
    assert_eq!(ids(&merged), ["split"]);
    let emulated = Figures { ats_mode: Some(AtsMode::HostEmulated), cross_host_atomic: Some(false), ..merged };
    assert_eq!(ids(&emulated), ["not-atomic-across-hosts"]);
}

#[test]
fn aborted_commands_whose_retries_found_their_own_write() {
    let f = Figures { aborts: Some((50, 30, 20)), ..with(Classes { own_write: 30, ..Default::default() }) };
    let d = diagnose(&f);
    assert_eq!(ids(&f), ["retry-after-timeout"], "{d:?}");
    assert!(d[0].text.starts_with("50 COMPARE AND WRITEs aborted"), "{}", d[0].text);
}

#[test]
fn errors_come_first_and_a_partial_verification_says_so() {
    let f = Figures {
        errors: 3,
        error_sample: Some("MEDIUM ERROR".into()),
        ..with(Classes { contention: 5, ..Default::default() })
    };
    assert_eq!(ids(&f), ["io-errors", "contention"]);
    let host = Figures { scope: Scope::ThisHostOf(2), ..ats() };
    assert!(diagnose(&host)[0].text.contains("this host only: merge the hosts' results to verify"));
}

#[test]
fn every_mechanism_but_clean_has_one_rule_and_a_docs_row() {
    let docs = include_str!("../../docs/diagnosis.md");
    let mut seen: Vec<Mechanism> = RULES.iter().map(|r| r.mechanism).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), RULES.len(), "one rule per mechanism");
    for r in &RULES {
        let row = format!("| `{}` |", r.mechanism.id());
        assert!(docs.contains(&row), "docs/diagnosis.md has no row {row}");
        assert!(!r.reads.is_empty() && !r.known_answer.is_empty());
    }
    assert!(docs.contains("| `clean` |"));
}
