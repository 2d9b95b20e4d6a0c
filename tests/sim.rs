//! Known answers on the simulated device (TARGET `sim`): each injected fault shows in its
//! miscompare class at its rate and in no other; `--timeout` with latency spikes (or a device
//! queue) gives `own_write`; an outside writer gives `corrupt` and the run names the lock; a
//! clean run of 10^6 ATS finds nothing but contention.
//!
//! Rates: each fault is decided by one draw per command it could strike; the simulated device
//! reports per kind the `eligible` commands and the `injected` ones (`points[].sim.faults`).
//! `injected` is Binomial(eligible, rate): it must lie within 5 standard deviations of
//! eligible x rate (a false alarm about once in 1.7 million runs). The class counts are then
//! checked against `injected` by the mechanism, exactly where the mechanism is exact. Runs
//! use `--contention 1` (every actor on its own lock block), so any miscompare is a fault's.
//! No assertion depends on timing: latency spikes are counted, never timed.

mod common;
use common::{bin, mechanisms, n};

use serde_json::Value;
use std::process::Command;

/// Run atsbench with `args` and JSON output; return the document and the exit code (9 is
/// the documented answer when a fault broke ATS atomicity: the results are still written).
fn run(args: &[&str]) -> (Value, i32) {
    let out = Command::new(bin()).args(args).args(["-f", "json"]).output().expect("run atsbench");
    let code = out.status.code().unwrap_or(-1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(code == 0 || code == 9, "atsbench {args:?} exited {code}: {err}");
    (serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}")), code)
}

/// `run` with the arguments of one command line (words separated by spaces).
fn run_line(line: &str) -> (Value, i32) {
    run(&line.split_whitespace().collect::<Vec<_>>())
}

/// The run's only point.
fn point(doc: &Value) -> &Value {
    &doc["points"][0]
}

/// (eligible, injected) of a fault kind, as the simulated device counted them.
fn struck(p: &Value, kind: &str) -> (u64, u64) {
    let f = &p["sim"]["faults"][kind];
    (n(f, "eligible"), n(f, "injected"))
}

/// `k` of `n` trials at `rate` lie within 5 standard deviations of n x rate.
fn assert_binomial(what: &str, k: u64, trials: u64, rate: f64) {
    let (mean, sd) = (trials as f64 * rate, (trials as f64 * rate * (1.0 - rate)).sqrt());
    let tolerance = 5.0 * sd;
    eprintln!(
        "{what}: injected {k} of {trials} = {:.4} at rate {rate} (expected {mean:.0} +- {tolerance:.0}, 5 sigma)",
        k as f64 / trials as f64
    );
    assert!((k as f64 - mean).abs() <= tolerance, "{what}: {k} of {trials} is not within 5 sigma of rate {rate}");
}

/// Miscompare classes other than those named are zero.
fn assert_only(p: &Value, classes: &[&str]) {
    for c in ["contention", "own_write", "corrupt", "stale", "false", "split"] {
        if !classes.contains(&c) {
            assert_eq!(n(p, &format!("miscompares.{c}")), 0, "{c} in {}", p["miscompares"]);
        }
    }
}

const RATE: f64 = 0.05;

/// An ATS run of 20000 attempts, two workers, QD 8, one actor per lock block, with `inject`.
fn ats(protocol: &str, inject: &str, seed: &str) -> (Value, i32) {
    run(&[
        "run",
        "sim",
        "--sim-protocol",
        protocol,
        "--inject",
        inject,
        "--threads",
        "2",
        "--qd",
        "8",
        "--contention",
        "1",
        "--ops",
        "20000",
        "--seed",
        seed,
    ])
}

#[test]
fn false_miscompares_are_false_and_nothing_else() {
    for protocol in ["scsi", "nvme"] {
        let (doc, code) = ats(protocol, "false-miscompare=0.05", "11");
        let p = point(&doc);
        let (eligible, injected) = struck(p, "false-miscompare");
        assert_binomial(&format!("{protocol} false-miscompare"), injected, eligible, RATE);
        assert_eq!(n(p, "miscompares.false"), injected, "every false miscompare is classified `false`");
        assert_only(p, &["false"]);
        assert_eq!(mechanisms(p), ["false-miscompare"]);
        assert_eq!((n(p, "verification.violations"), n(p, "verification.lost_updates"), code), (0, 0, 0));
    }
}

#[test]
fn own_writes_are_own_write_and_the_history_holds() {
    let (doc, code) = ats("scsi", "own-write=0.05", "12");
    let p = point(&doc);
    let (eligible, injected) = struck(p, "own-write");
    assert_binomial("own-write", injected, eligible, RATE);
    assert_eq!(n(p, "miscompares.own_write"), injected);
    assert_only(p, &["own_write"]);
    assert_eq!(mechanisms(p), ["false-miscompare"], "own writes without a timeout are the device's");
    // The re-read shows the attempt's own image: its transition is claimed, so the history
    // accounts for every block.
    assert_eq!((n(p, "verification.violations"), n(p, "verification.lost_updates"), code), (0, 0, 0));
}

#[test]
fn torn_writes_are_corrupt() {
    for protocol in ["scsi", "nvme"] {
        let (doc, _) = ats(protocol, "torn-write=0.05", "13");
        let p = point(&doc);
        let (eligible, injected) = struck(p, "torn-write");
        assert_binomial(&format!("{protocol} torn-write"), injected, eligible, RATE);
        // The next attempt on the block finds it torn: one `corrupt` per torn write, but for
        // a tear that a slot's last attempt left (or found and could not retry): the final
        // read-back then fails, one violation per such block.
        let (corrupt, violations) = (n(p, "miscompares.corrupt"), n(p, "verification.violations"));
        assert!(corrupt <= injected && injected <= corrupt + violations, "{corrupt} corrupt, {violations} violations");
        assert!(violations <= n(p, "locks"), "at most one torn final block per lock");
        assert_only(p, &["corrupt"]);
        assert_eq!(n(p, "verification.lost_updates"), 0);
        assert_eq!(n(p, "miscompares.torn"), corrupt, "every corrupt block is a torn one");
        // The retries, sent with the torn image as the expected one, matched: torn on the medium.
        assert_eq!(n(p, "miscompares.torn_reads"), 0, "a sim tear is a write's");
        assert_eq!(mechanisms(p), ["torn-write"]);
        assert_eq!(p["diagnosis"][0]["strength"], "fault");
    }
}

#[test]
fn lost_writes_are_lost_updates() {
    let (doc, code) = ats("scsi", "lost-write=0.05", "14");
    let p = point(&doc);
    let (eligible, injected) = struck(p, "lost-write");
    assert_binomial("lost-write", injected, eligible, RATE);
    // Each success whose write was lost is a lost update, exactly; the device broke ATS, so
    // the run exits 9 with its results written.
    assert_eq!(n(p, "verification.lost_updates"), injected);
    assert!(n(p, "verification.violations") > 0);
    assert_eq!(code, 9);
    // The slot's next attempt expects its own (lost) image and finds the older one: the
    // classifier calls a block older than expected `stale` (a lost update looks so from the
    // host); at most one per lost write.
    assert!(n(p, "miscompares.stale") <= injected);
    assert_only(p, &["stale"]);
    assert_eq!(mechanisms(p), ["lost-write"]);
}

#[test]
fn stale_reads_are_stale_and_device_side_ats_is_immune() {
    // Device-side COMPARE AND WRITE compares on the medium: a stale read cache cannot fool
    // it, and with nothing to re-read no read is ever served.
    let (doc, code) = ats("scsi", "stale-read=0.05", "15");
    let p = point(&doc);
    assert_eq!((n(p, "miscompares.total"), code, struck(p, "stale-read").0), (0, 0, 0));
    // rmw compares what it reads: a stale read is a `stale` miscompare, and its retry, which
    // expects that old image, is a second; if that retry's read is stale too, the old image
    // matches and the write loses an update. So, per lock chain, stale = 2 x injected -
    // 3 x lost_updates, less one for each chain cut short by the end of the run.
    let (doc, _) = run(&[
        "run",
        "sim",
        "-w",
        "rmw",
        "--inject",
        "stale-read=0.05",
        "--threads",
        "2",
        "--qd",
        "8",
        "--ops",
        "20000",
        "--seed",
        "15",
    ]);
    let p = point(&doc);
    let (eligible, injected) = struck(p, "stale-read");
    assert_binomial("stale-read", injected, eligible, RATE);
    // A lost update leaves two records of one generation (the overwritten one and the
    // retry's); a later stale read of the overwritten one is a `split` (before that class:
    // `stale`), at most one per lost update.
    let (split, lost) = (n(p, "miscompares.split"), n(p, "verification.lost_updates"));
    assert!(split <= lost, "{split} split for {lost} lost updates");
    let stale = n(p, "miscompares.stale") + split;
    let predicted = 2 * injected - 3 * lost;
    assert!(stale <= predicted && predicted - stale <= n(p, "locks"), "stale {stale}, predicted {predicted}");
    assert!(stale > injected, "{stale} stale for {injected} stale reads");
    assert_only(p, &["stale", "split"]);
    assert_eq!(mechanisms(p)[0], "stale-cache", "{:?}", mechanisms(p));
}

#[test]
fn an_outside_writer_is_corrupt_and_named() {
    // One worker: the first foreign write and the first corrupt miscompare are on one clock.
    let (doc, _) =
        run(&["run", "sim", "--inject", "foreign-write=0.01", "--qd", "8", "--ops", "10000", "--seed", "16"]);
    let p = point(&doc);
    let (eligible, injected) = struck(p, "foreign-write");
    assert_binomial("foreign-write", injected, eligible, 0.01);
    assert!(injected > 0);
    // Every outside write (different data each time, like dd or fio) makes the next ATS on
    // that block miscompare on data no actor wrote.
    assert_eq!(n(p, "miscompares.corrupt"), injected);
    assert_only(p, &["corrupt"]);
    assert_eq!((n(p, "miscompares.torn"), mechanisms(p)), (0, vec!["outside-writer"]));
    assert!(n(p, "verification.violations") <= n(p, "locks"), "only a block left overwritten at the end");
    // The run says which lock first, and when.
    let first = &p["first_corrupt"];
    let bs = n(&doc, "config.bs");
    assert_eq!(n(first, "lock"), n(p, "sim.first_foreign_write.offset") / bs, "{first}");
    assert!(first["at_s"].as_f64().is_some_and(|t| t >= 0.0), "{first}");
}

/// ESXi's false miscompare: a COMPARE AND WRITE that completes far beyond `--timeout` has
/// landed; the host gave up, resent the same images, and the resend miscompares against the
/// host's own write.
#[test]
fn timeouts_with_latency_spikes_give_own_write() {
    for protocol in ["scsi", "nvme"] {
        let spikes = |timeout: Option<&str>| {
            let mut a = vec![
                "run",
                "sim",
                "--sim-protocol",
                protocol,
                "--sim-latency",
                "fixed:200us",
                "--inject",
                "latency-spike=0.02",
                "--qd",
                "4",
                "--ops",
                "2000",
                "--seed",
                "17",
            ];
            if let Some(t) = timeout {
                a.extend(["--timeout", t]);
            }
            run(&a)
        };
        // A spike completes 100 x 200us = 20 ms late, well beyond the 5 ms timeout.
        let (doc, code) = spikes(Some("5"));
        let p = point(&doc);
        let (_, injected) = struck(p, "latency-spike");
        let (own, timeouts) = (n(p, "miscompares.own_write"), n(p, "timeouts"));
        eprintln!("{protocol}: {injected} spikes, {timeouts} timeouts, {own} own_write");
        assert!(own > 0, "{protocol}: no own_write");
        // A given-up command whose write landed makes one own_write; one that had not
        // written (an NVMe Compare, a resend that miscompared) makes none.
        assert!(own <= timeouts && timeouts <= injected, "{own} own_write, {timeouts} timeouts, {injected} spikes");
        assert_eq!(n(p, "late_completions"), timeouts, "every given-up command completes late");
        assert_only(p, &["own_write"]);
        assert_eq!((n(p, "verification.violations"), n(p, "verification.lost_updates"), code), (0, 0, 0));
        assert_eq!(mechanisms(p), ["retry-after-timeout"]);
        let text = p["diagnosis"][0]["text"].as_str().unwrap();
        assert!(text.contains(&format!("{timeouts} timeouts, {own} of their retries found their own write")), "{text}");
        // Without --timeout the same spikes only slow the attempts down.
        let (doc, _) = spikes(None);
        let p = point(&doc);
        assert_eq!((n(p, "miscompares.total"), n(p, "timeouts")), (0, 0));
    }
}

/// The "HBA queue depth too low" mechanism: 32 commands queue for one device slot of 100 us,
/// so most wait longer than a 1 ms timeout, and their resends meet their own writes.
#[test]
fn a_small_device_queue_with_a_timeout_gives_own_write() {
    // 16 commands behind a device queue of 1 at 100 us each wait about 1.6 ms, beyond the
    // 1 ms timeout: every command times out and lands late. Half a second: each operation
    // takes many timed-out rounds (a timeout storm, which is the point), and retries stop at
    // the end of the point, so the own writes must show within it.
    let (doc, code) = run(&[
        "run",
        "sim",
        "--sim-latency",
        "fixed:100us",
        "--sim-qd",
        "1",
        "--qd",
        "16",
        "--timeout",
        "1",
        "--duration",
        "0.5",
        "--seed",
        "18",
    ]);
    let p = point(&doc);
    assert!(n(p, "sim.queued") > 0, "{}", p["sim"]);
    assert!(n(p, "timeouts") > 0 && n(p, "miscompares.own_write") > 0, "{}", p["miscompares"]);
    assert_only(p, &["own_write"]);
    // The queue is the cause, the timeouts' retries the effect.
    assert_eq!(mechanisms(p), ["queue-wait", "retry-after-timeout"]);
    assert_eq!((n(p, "verification.violations"), code), (0, 0));
}

/// The device's queue as a known answer: with the host's queue no deeper than `--sim-qd` no
/// command waits for a device slot; beyond it commands queue in the device. The mean waits and
/// ATS latencies printed rise with the host's queue depth (timings: printed, not checked).
#[test]
fn a_host_queue_beyond_the_device_queue_waits_in_the_device() {
    let at = |qd: u32| {
        let qd = qd.to_string();
        let args = ["run", "sim", "--sim-latency", "fixed:100us", "--sim-qd", "4", "--qd", &qd, "--ops", "2000"];
        let (doc, code) = run(&[&args[..], &["--seed", "3"]].concat());
        assert_eq!(code, 0);
        point(&doc).clone()
    };
    let points: Vec<Value> = [1, 4, 8, 16].into_iter().map(at).collect();
    for p in &points {
        eprintln!(
            "qd {}: queued {} of {} commands, mean wait {} ns, ats p50 {} ns",
            p["qd"],
            p["sim"]["queued"],
            p["sim"]["commands"],
            p["sim"]["queue_wait_mean_ns"],
            p["latency_ns"]["ats"]["p50"]
        );
        assert_only(p, &[]);
        assert_eq!(n(p, "verification.violations"), 0);
    }
    assert_eq!((n(&points[0], "sim.queued"), n(&points[1], "sim.queued")), (0, 0), "no wait at QD <= --sim-qd");
    assert_eq!((mechanisms(&points[0]), mechanisms(&points[1])), (vec!["clean"], vec!["clean"]));
    assert_eq!((mechanisms(&points[2]), mechanisms(&points[3])), (vec!["queue-wait"], vec!["queue-wait"]));
    // All slots start at once, so beyond 4 the first commands queue however fast the host is.
    assert!(n(&points[2], "sim.queued") > 0 && n(&points[3], "sim.queued") > 0);
}

#[test]
fn one_worker_with_a_seed_is_deterministic() {
    let once = || {
        let (doc, _) = run(&[
            "run",
            "sim",
            "--inject",
            "false-miscompare=0.02,torn-write=0.02,foreign-write=0.01",
            "--qd",
            "8",
            "--ops",
            "5000",
            "--seed",
            "42",
        ]);
        let p = point(&doc).clone();
        (p["miscompares"].clone(), p["sim"]["faults"].clone(), p["verification"].clone())
    };
    assert_eq!(once(), once());
}

/// The zero-false-positive answer: 10^6 ATS on a device that does its job (two actors per
/// lock block, so there is real contention) give nothing but contention.
#[test]
fn a_million_clean_ats_find_only_contention() {
    let t0 = std::time::Instant::now();
    // No time limit short of an hour: a debug build on a busy machine takes minutes.
    let args =
        ["run", "sim", "--threads", "2", "--qd", "16", "--contention", "2", "--ops", "1000000", "--max-duration", "1h"];
    let (doc, code) = run(&args);
    eprintln!("10^6 ATS on sim: {:.1} s", t0.elapsed().as_secs_f64());
    let p = point(&doc);
    assert_eq!(n(p, "ops"), 1_000_000);
    assert!(n(p, "miscompares.contention") > 0);
    assert_only(p, &["contention"]);
    assert_eq!(mechanisms(p), ["contention", "clean"]);
    assert_eq!(
        (n(p, "verification.violations"), n(p, "verification.lost_updates"), n(p, "errors"), code),
        (0, 0, 0, 0)
    );
}

/// A sound device whose commands take random times completes them out of order: a re-read
/// that went out before another slot's write can come back after that write's success. The
/// worker's view must not go back to the older record, and a retry from such a read is not
/// `stale`. (Found in the guest on QEMU NVMe: one `stale` in 2000 ATS was diagnosed
/// `stale-cache`; on sim with exponential latency 4 % of compare-then-write and 40 % of
/// device ATS miscompares were `stale` before the fix.)
#[test]
fn completions_out_of_order_are_not_stale() {
    for protocol in ["nvme", "scsi"] {
        let line = "--sim-latency exp:50us --threads 2 --qd 8 --locks 1 --ops 40000 --seed 5";
        let (doc, code) = run_line(&format!("run sim --sim-protocol {protocol} {line}"));
        let p = point(&doc);
        assert!(n(p, "miscompares.contention") > 0, "{protocol}: {}", p["miscompares"]);
        assert_only(p, &["contention"]);
        assert_eq!(mechanisms(p), ["contention", "clean"], "{protocol}");
        assert_eq!((n(p, "verification.violations"), n(p, "verification.lost_updates"), code), (0, 0, 0));
    }
}

/// A failed command may have been carried out (a LUN reset, a dropped connection): the
/// device writes, the host sees DID_ERROR / Host Pathing Error. ATS sends the same images
/// again, so a write that landed comes back as the retry's `own_write` (ESXi's false
/// miscompare) and its transition is claimed; one that failed at the stop is claimed when
/// the final block holds it. No violation, no lost update, no `split` or `stale`.
#[test]
fn errors_after_the_write_are_own_writes_not_violations() {
    for protocol in ["scsi", "nvme"] {
        let line = "--inject error-after-write=0.02 --threads 2 --qd 8 --contention 2 --ops 20000 --seed 3";
        let (doc, code) = run_line(&format!("run sim --sim-protocol {protocol} {line} --max-error-rate 1"));
        let p = point(&doc);
        let (_, injected) = struck(p, "error-after-write");
        assert!(injected > 100, "{protocol}: {injected} injected");
        assert_eq!(n(p, "errors"), injected, "{protocol}: every lost answer is an error");
        assert!(n(p, "miscompares.own_write") > 0, "{protocol}: {}", p["miscompares"]);
        assert_only(p, &["contention", "own_write"]);
        assert_eq!(
            (n(p, "verification.violations"), n(p, "verification.lost_updates"), code),
            (0, 0, 0),
            "{protocol}: {}",
            p["verification"]
        );
        let found = mechanisms(p);
        assert!(found.contains(&"io-errors") && found.contains(&"false-miscompare"), "{protocol}: {found:?}");
    }
}

/// rmw's known answer: actors sharing a lock block write from one state (`split`) and lose
/// updates; the diagnosis calls it expected.
#[test]
fn rmw_with_contention_splits_as_expected() {
    let (doc, _) =
        run(&["run", "sim", "-w", "rmw", "--contention", "4", "--qd", "4", "--ops", "20000", "--seed", "19"]);
    let p = point(&doc);
    assert!(n(p, "miscompares.split") > 0 && n(p, "verification.lost_updates") > 0, "{}", p["miscompares"]);
    assert_eq!(mechanisms(p)[0], "split");
    assert_eq!(p["diagnosis"][0]["strength"], "expected");
    assert!(!mechanisms(p).contains(&"stale-cache"), "{:?}", mechanisms(p));
}

#[test]
fn sim_options_need_a_sim_target_and_valid_values() {
    for (args, needle) in [
        (&["run", "--inject", "torn-write=0.1"][..], "TARGET sim"),
        (&["run", "sim", "--inject", "tear=0.1"][..], "not a fault kind"),
        (&["run", "sim", "--inject", "lost-write=2"][..], "between 0 and 1"),
        (&["run", "sim", "--sim-latency", "fixed:soon"][..], "not a duration"),
        (&["run", "sim", "--sim-protocol", "nvme", "--inject", "own-write=0.1"][..], "own-write"),
        (&["run", "sim:10"][..], "4 KiB to 64 GiB"),
        (&["run", "sim", "--timeout", "5", "--on-timeout", "abort"][..], "SCSI generic"),
        (&["run", "sim", "--on-timeout", "abort"][..], "--timeout"),
    ] {
        let out = Command::new(bin()).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = Command::new(bin()).args(["run", "--timeout", "5", "--ops", "10"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "host-emulated ATS cannot give up a command");
}

#[test]
fn probe_describes_the_sim() {
    let out = Command::new(bin()).args(["probe", "sim:1G", "-f", "json"]).output().unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["backend"].as_str(), n(&doc, "size_bytes")), (Some("sim"), 1 << 30));
}
