//! Points end at their stop whatever the device does, and device errors are data: the
//! collapse recipe (a device queue far shallower than the host's, with `--timeout`), a device
//! that never answers some commands, medium errors, and SIGINT/SIGTERM in the middle of them,
//! all on the simulated device. The time bounds are generous upper bounds on "it ends", not
//! performance figures.

mod common;
use common::bin;

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The README's "HBA queue depth too low" recipe: 32 slots, a device with one, 100 us each,
/// commands given up after 1 ms.
const COLLAPSE: [&str; 10] =
    ["run", "sim", "--sim-latency", "fixed:100us", "--sim-qd", "1", "--qd", "32", "--timeout", "1"];

/// Slack over duration + grace for a debug build on a busy machine.
const SLACK: f64 = 5.0;

fn timed(args: &[&str]) -> (Output, f64) {
    let t0 = Instant::now();
    let out = Command::new(bin()).args(args).output().expect("run atsbench");
    (out, t0.elapsed().as_secs_f64())
}

fn point(out: &Output) -> Value {
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    doc["points"][0].clone()
}

fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

#[test]
fn the_collapse_recipe_ends_within_its_duration_and_grace() {
    let (out, secs) = timed(&with(&COLLAPSE, &["--duration", "2", "-f", "json"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(secs < 2.0 + 1.0 + SLACK, "took {secs:.1} s");
    let p = point(&out);
    let f = &p["faults"];
    assert_eq!(f["ended_by"], "duration");
    assert_eq!(f["grace_s"], 1.0, "the grace is the larger of 1 s and --timeout");
    assert!(f["drain_s"].as_f64().unwrap() <= 1.0 + 0.2, "{f}");
    assert!(p["timeouts"].as_u64().unwrap() > 0, "the queue collapsed: {p}");
    assert_eq!(p["timeouts"], p["late_completions"], "every command given up came back in the drain");
    assert!(f["by_op"]["ats"]["retried"].as_u64().unwrap() > 0);
}

#[test]
fn the_collapse_recipe_with_ops_ends_at_its_max_duration() {
    let args = with(&COLLAPSE, &["--ops", "1000000", "--max-duration", "2", "-f", "json"]);
    let (out, secs) = timed(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(secs < 2.0 + 1.0 + SLACK, "took {secs:.1} s");
    let p = point(&out);
    assert_eq!(p["faults"]["ended_by"], "max_duration");
    assert_eq!(p["faults"]["max_duration_s"], 2.0);
    assert!(p["ops"].as_u64().unwrap() < 1_000_000);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-duration") && err.lines().count() == 1, "{err}");
}

#[test]
fn ops_points_that_finish_say_so() {
    let (out, _) = timed(&["run", "sim", "--ops", "500", "--qd", "4", "-f", "json"]);
    assert!(out.status.success());
    let p = point(&out);
    assert_eq!((p["ops"].as_u64(), p["faults"]["ended_by"].as_str()), (Some(500), Some("ops")));
    assert_eq!(p["faults"]["max_duration_s"], 300.0, "the documented default");
}

fn spawn(args: &[&str], out: &Path) -> Child {
    Command::new(bin())
        .args(args)
        .args(["-f", "json", "-o", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn atsbench")
}

/// Send `sig` after `after`, and return the exit code and how long the process took to end.
fn signal_after(child: &mut Child, sig: nix::sys::signal::Signal, after: Duration) -> (Option<i32>, f64) {
    std::thread::sleep(after);
    let t0 = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), t0.elapsed().as_secs_f64());
        }
        if t0.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("still running 60 s after the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn results(path: &Path) -> Value {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).expect("results written")).unwrap();
    doc["points"][0].clone()
}

#[test]
fn sigint_in_a_collapse_ends_within_two_seconds_and_keeps_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut child = spawn(&with(&COLLAPSE, &["--duration", "120"]), &out);
    let (code, secs) = signal_after(&mut child, nix::sys::signal::Signal::SIGINT, Duration::from_millis(1500));
    assert_eq!(code, Some(130));
    assert!(secs < 2.0, "SIGINT took {secs:.2} s to end the run");
    let p = results(&out);
    assert_eq!((p["interrupted"].as_bool(), p["faults"]["ended_by"].as_str()), (Some(true), Some("interrupted")));
    assert!(p["timeouts"].as_u64().unwrap() > 0);
}

#[test]
fn sigterm_with_commands_that_never_return_ends_after_the_grace() {
    // Every slot soon holds a command the device ignores: the drain waits its grace (1 s),
    // then leaves them to the kernel.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut child = spawn(&["run", "sim", "--qd", "8", "--inject", "no-answer=0.01", "--duration", "120"], &out);
    let (code, secs) = signal_after(&mut child, nix::sys::signal::Signal::SIGTERM, Duration::from_millis(1500));
    assert_eq!(code, Some(130));
    assert!(secs < 1.0 + 2.0, "SIGTERM took {secs:.2} s to end the run");
    let p = results(&out);
    assert_eq!(p["interrupted"], true);
    assert_eq!(p["faults"]["abandoned"], 8, "{}", p["faults"]);
    assert_eq!(p["verification"], Value::Null, "blocks that may still change are not verified");
}

#[test]
fn commands_never_answered_are_abandoned_and_fail_the_run() {
    let args = ["run", "sim", "--qd", "8", "--inject", "no-answer=0.001", "--duration", "1", "-f", "json"];
    let (out, secs) = timed(&args);
    assert!(secs < 1.0 + 1.0 + SLACK, "took {secs:.1} s");
    assert_eq!(out.status.code(), Some(11), "{}", String::from_utf8_lossy(&out.stderr));
    let p = point(&out);
    let f = &p["faults"];
    let abandoned = f["abandoned"].as_u64().unwrap();
    assert!((1..=8).contains(&abandoned), "{f}");
    assert_eq!(f["by_op"]["ats"]["abandoned"].as_u64(), Some(abandoned));
    assert!(f["drain_s"].as_f64().unwrap() >= 1.0, "the drain waited its grace: {f}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("abandoned") && err.contains("the device returned errors"), "{err}");
}

#[test]
fn medium_errors_are_counted_by_kind_never_as_miscompares() {
    for (protocol, kind, caw) in [("scsi", "MEDIUM ERROR 11/00", "ats"), ("nvme", "NVMe SCT 2h SC 81h", "compare")] {
        let args = [
            "run",
            "sim",
            "--sim-protocol",
            protocol,
            "--qd",
            "8",
            "--seed",
            "3",
            "--inject",
            "medium-error=0.02",
            "--ops",
            "4000",
            "-f",
            "json",
        ];
        let (out, _) = timed(&args);
        assert_eq!(out.status.code(), Some(11), "{protocol}: {}", String::from_utf8_lossy(&out.stderr));
        let p = point(&out);
        let errors = p["errors"].as_u64().unwrap();
        assert!(errors > 0);
        assert_eq!(p["miscompares"]["total"], 0, "{protocol}: an error is never a miscompare");
        let v = &p["verification"];
        assert_eq!((v["violations"].as_u64(), v["lost_updates"].as_u64()), (Some(0), Some(0)), "{protocol}");
        let by_op = &p["faults"]["by_op"][caw];
        let (name, n) = by_op["by_kind"].as_object().unwrap().iter().max_by_key(|(_, n)| n.as_u64()).unwrap();
        assert!(name.contains(kind) && n.as_u64().unwrap() > 0, "{protocol}: {by_op}");
        let sample = &by_op["samples"][0];
        assert!(sample["at_s"].is_f64() && sample["lba"].is_u64() && sample["status"].is_string(), "{sample}");
        // Allowed errors: the run passes.
        let (out, _) = timed(&with(&args, &["--max-error-rate", "0.5"]));
        assert!(out.status.success(), "{protocol}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_table_names_the_commonest_error() {
    let args = ["run", "sim", "--qd", "4", "--seed", "5", "--inject", "medium-error=0.05", "--ops", "1000"];
    let out = Command::new(bin()).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(11));
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table.lines().find(|l| l.starts_with("ats ") && !l.starts_with("ats mode")).expect("a row");
    assert!(row.ends_with("MEDIUM ERROR 11/00"), "{row}");
    assert!(table.contains("errors: ") && table.contains("unrecovered read error"), "{table}");
}

/// The one line a device gone leaves on stderr, and the results file it names.
fn gone_run(args: &[&str], out: &Path) -> (Option<i32>, String) {
    let o = Command::new(bin()).args(args).args(["-f", "json", "-o", out.to_str().unwrap()]).output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_device_gone_ends_the_point_at_once_and_keeps_what_was_measured() {
    // One command in 10,000 takes the device away, for every worker: the point (asked for 120 s)
    // ends at once. Count-based: each slot fails at most once more after the stop, so the
    // errors are at most the actors (2 workers x QD 8), and nothing is read back or verified.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let args = ["run", "sim", "--threads", "2", "--qd", "8", "--seed", "7", "--inject", "device-gone=0.0001"];
    let (code, err) = gone_run(&with(&args, &["--duration", "120"]), &out);
    assert_eq!(code, Some(8), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("sim") && err.contains("went away mid-run (ENODEV)"), "{err}");
    assert!(err.contains(out.to_str().unwrap()), "names the results file: {err}");
    let p = results(&out);
    let f = &p["faults"];
    assert_eq!((f["ended_by"].as_str(), f["device_gone"]["error"].as_str()), (Some("device_gone"), Some("ENODEV")));
    let errors = p["errors"].as_u64().unwrap();
    assert!((1..=16).contains(&errors), "{errors} errors for 16 actors: {f}");
    assert!(p["ops"].as_u64().unwrap() > 0, "what was measured before is kept");
    assert_eq!(p["verification"], Value::Null, "a device gone is not read back");
    assert!(p["duration_s"].as_f64().unwrap() < 120.0);
    assert!(p["sim"]["faults"]["device-gone"]["injected"].as_u64().unwrap() >= 1, "{}", p["sim"]);
    assert!(f["device_gone"]["status"].as_str().unwrap().contains("No such device"), "{f}");
}

#[test]
fn a_device_gone_from_the_first_command_is_not_every_command_failed() {
    // Every command fails with ENODEV: the point ends by the device gone (not exit 8's
    // "every command failed" with no results), with 0 ops and at most QD errors.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let (code, err) = gone_run(&["run", "sim", "--qd", "4", "--inject", "device-gone=1", "--duration", "60"], &out);
    assert_eq!(code, Some(8), "{err}");
    assert!(err.contains("went away mid-run") && err.lines().count() == 1, "{err}");
    let p = results(&out);
    assert_eq!(p["faults"]["ended_by"], "device_gone");
    assert_eq!(p["ops"], 0);
    assert!((1..=4).contains(&p["errors"].as_u64().unwrap()), "{}", p["faults"]);
}

#[test]
fn a_device_gone_ends_a_sweep_after_the_point_it_met() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let (code, err) =
        gone_run(&["sweep", "sim", "--qd", "1..8", "--inject", "device-gone=0.001", "--duration", "30", "-q"], &out);
    assert_eq!(code, Some(8), "{err}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "no point after the device went away");
    assert_eq!(points[0]["faults"]["ended_by"], "device_gone");
}
