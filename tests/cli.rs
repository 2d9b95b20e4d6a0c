//! The command line end to end on file targets (no root, no device): known answers of ATS and
//! rmw, sweeps, output formats, and one line and the documented exit code for each user error.

mod common;
use common::{bin, n};

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run atsbench")
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(out.status.success(), "atsbench {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

/// The known-answer run on the default target: two workers, QD 8 each, on one lock block.
fn two_workers_on_one_lock(workload: &str) -> Value {
    json(&["run", "--workload", workload, "--threads", "2", "--qd", "8", "--locks", "1", "--ops", "3000", "-f", "json"])
}

/// A file target in a fresh temporary folder.
fn file(bytes: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("target.img");
    std::fs::write(&path, vec![0u8; bytes]).expect("write target");
    (dir, path)
}

/// One line on stderr, the expected exit code, and words of the fix.
fn expect_error(args: &[&str], code: i32, words: &[&str]) {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "atsbench {args:?}: {err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.is_empty() && !l.contains("no TARGET given") && !l.starts_with("For more information"))
        .collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: `{w}` missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn ats_on_the_default_target_contends_without_violations() {
    let doc = two_workers_on_one_lock("ats");
    let p = &doc["points"][0];
    assert_eq!(p["ats_mode"], "host-emulated");
    assert_eq!(n(p, "ops"), 3000, "--ops is exact");
    assert!(n(p, "miscompares.contention") > 0, "{}", p["miscompares"]);
    assert_eq!(n(p, "verification.violations"), 0, "{}", p["verification"]);
    assert_eq!(n(p, "verification.lost_updates"), 0);
    assert_eq!(n(p, "miscompares.corrupt"), 0);
    assert_eq!(n(p, "acquires") + n(p, "miscompares.total"), n(p, "ops"), "every attempt succeeds or miscompares");
    assert_eq!(doc["target"]["temporary"], true);
    for kind in ["read", "write", "ats", "acquire"] {
        let l = &p["latency_ns"][kind];
        assert!(n(l, "count") > 0 && n(l, "p50") <= n(l, "p99") && n(l, "p99") <= n(l, "max"), "{kind}: {l}");
    }
}

#[test]
fn rmw_loses_updates_and_says_so() {
    let doc = two_workers_on_one_lock("rmw");
    let v = &doc["points"][0]["verification"];
    assert!(n(v, "violations") + n(v, "lost_updates") > 0, "{v}");
    assert!(doc["points"][0]["ats_mode"].is_null());
}

#[test]
fn sweep_writes_every_point_as_valid_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep.json");
    let o = run(&["sweep", "--qd", "1..256", "--duration", "0.05", "-f", "json", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["schema"], "atsbench/3");
    let qds: Vec<u64> = doc["points"].as_array().unwrap().iter().map(|p| n(p, "qd")).collect();
    assert_eq!(qds, vec![1, 2, 4, 8, 16, 32, 64, 128, 256]);
    for key in
        ["path", "backend", "size_bytes", "logical_block_size", "model", "firmware", "serial", "driver", "kernel"]
    {
        assert!(doc["target"].get(key).is_some(), "target.{key} missing");
    }
    for key in ["workload", "ats_mode", "qd", "threads", "locks", "ops", "duration_s", "iops", "latency_ns"] {
        assert!(doc["points"][0].get(key).is_some(), "points[].{key} missing");
    }
    assert_eq!(doc["config"]["qd"].as_array().unwrap().len(), 9);
    assert!(!dir.path().join("sweep.json.partial").exists());
    // One actor per lock block by default: nothing contends, whatever the queue depth.
    for p in doc["points"].as_array().unwrap() {
        assert_eq!(n(p, "miscompares.total"), 0, "qd {}: {}", p["qd"], p["miscompares"]);
        assert_eq!((n(p, "contention"), p["actors_per_lock"].as_f64()), (1, Some(1.0)));
        assert_eq!(n(p, "locks"), n(p, "qd"));
    }
}

#[test]
fn contention_is_its_own_axis_with_the_predicted_rate() {
    // 16 actors on one lock block, each always in flight: every success makes the other 15
    // expected images stale, so about 15 of every 16 attempts miscompare (1 - 1/K).
    let doc = json(&["run", "--qd", "16", "--contention", "16", "--ops", "4000", "-f", "json"]);
    let p = &doc["points"][0];
    assert_eq!((n(p, "locks"), n(p, "contention")), (1, 16));
    let rate = p["miscompare_rate"].as_f64().unwrap();
    assert!((0.90..=0.96).contains(&rate), "predicted 0.9375, got {rate}");
    assert_eq!(n(p, "miscompares.total"), n(p, "miscompares.contention"));
    assert_eq!(n(p, "verification.violations"), 0);
    assert_eq!(n(p, "latency_ns.acquire.count"), n(p, "acquires"), "one acquire latency per success");
}

#[test]
fn sweep_crosses_workloads_locks_and_threads() {
    let (_d, f) = file(4 << 20);
    let doc = json(&[
        "sweep",
        f.to_str().unwrap(),
        "--qd",
        "1,4",
        "--workload",
        "ats,read",
        "--locks",
        "1,8",
        "--threads",
        "1,2",
        "--ops",
        "200",
        "-f",
        "json",
    ]);
    // ats crosses qd x locks x threads; read has no lock blocks, so no lock axis.
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 2 * 2 * 2 + 2 * 2);
    let ats: Vec<(u64, u64, u64)> = points
        .iter()
        .filter(|p| p["workload"] == "ats")
        .map(|p| (n(p, "threads"), n(p, "locks"), n(p, "qd")))
        .collect();
    assert_eq!(ats.len(), 8);
    assert!(ats.contains(&(2, 8, 4)) && ats.contains(&(1, 1, 1)));
}

#[test]
fn csv_and_table_formats() {
    let (_d, f) = file(1 << 20);
    let out = run(&["sweep", f.to_str().unwrap(), "--qd", "1,2", "--ops", "100", "-f", "csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // One row per point and operation kind: ats records read, write, ats and acquire.
    assert_eq!(lines.len(), 1 + 2 * 4, "{text}");
    assert!(lines[0].starts_with("workload,ats_mode,qd"));
    let kind = lines[0].split(',').position(|c| c == "kind").expect("a kind column");
    let kinds: Vec<&str> = lines[1..].iter().map(|l| l.split(',').nth(kind).unwrap()).collect();
    assert_eq!(kinds, ["acquire", "ats", "read", "write", "acquire", "ats", "read", "write"]);
    assert!(lines.iter().all(|l| l.split(',').count() == lines[0].split(',').count()));
    let out = run(&["run", f.to_str().unwrap(), "--ops", "100"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("host-emulated") && text.contains("p99_us"), "{text}");
}

#[test]
fn open_loop_never_starts_early() {
    // The schedule, not the machine's speed: 200 reads at 2000/s cannot finish before the
    // 200th is due (99.5 ms); a loaded machine only makes it later. Exact counts are in the
    // unit tests of the pacing (engine/worker/pace.rs); throughput is for benchmarks.
    let (_d, f) = file(1 << 20);
    let doc = json(&["run", f.to_str().unwrap(), "--workload", "read", "--rate", "2000", "--ops", "200", "-f", "json"]);
    let p = &doc["points"][0];
    assert_eq!(n(p, "ops"), 200);
    assert!(p["duration_s"].as_f64().unwrap() >= 0.0995, "{}", p["duration_s"]);
    assert_eq!(doc["config"]["rate"].as_f64(), Some(2000.0));
}

#[test]
fn writes_stay_inside_the_region_of_a_file() {
    let (_d, f) = file(4 << 20);
    std::fs::write(&f, vec![0xEEu8; 4 << 20]).unwrap();
    let fs = f.to_str().unwrap();
    json(&["run", fs, "--workload", "write", "--qd", "16", "--region", "1M..2M", "--ops", "5000", "-f", "json"]);
    json(&[
        "run",
        fs,
        "--workload",
        "ats",
        "--locks",
        "16",
        "--qd",
        "4",
        "--region",
        "2M..3M",
        "--ops",
        "500",
        "-f",
        "json",
    ]);
    let data = std::fs::read(&f).unwrap();
    let (a, b) = (1 << 20, 3 << 20);
    assert!(data[..a].iter().chain(&data[b..]).all(|x| *x == 0xEE), "a byte outside 1M..3M changed");
    assert!(data[a..b].iter().any(|x| *x != 0xEE));
}

#[test]
fn user_errors_get_one_line_and_their_exit_code() {
    let (d, f) = file(1 << 20);
    let fs = f.to_str().unwrap();
    let dir = d.path().to_str().unwrap();
    expect_error(&["run", "/nonexistent/atsbench"], 3, &["no such file", "TARGET"]);
    expect_error(&["run", dir], 3, &["directory"]);
    expect_error(&["run", "/dev/null"], 3, &["character device"]);
    expect_error(&["run", fs, "--qd", "0"], 2, &["at least 1"]);
    expect_error(&["run", fs, "--qd", "40000"], 2, &["limit", "32768"]);
    expect_error(&["run", fs, "--bs", "1000"], 2, &["multiple of"]);
    expect_error(&["run", fs, "--region", "0..2M"], 3, &["beyond"]);
    expect_error(&["run", fs, "--region", "100..4096"], 3, &["aligned"]);
    expect_error(&["run", fs, "--locks", "100000"], 2, &["--locks"]);
    expect_error(&["run", fs, "--qd", "4096"], 2, &["--contention"]);
    expect_error(&["run", fs, "--duration", "-3"], 2, &["not a duration"]);
    expect_error(&["run", fs, "--locks", "0"], 2, &["--locks 0"]);
    expect_error(&["run", fs, "--threads", "4096"], 2, &["CPUs"]);
    expect_error(&["run", fs, "--workload", "compare"], 7, &["compare", "NVMe"]);
    expect_error(&["run", fs, "--backend", "nvme"], 2, &["does not fit"]);
    expect_error(&["run", fs, "--miscompare-fraction", "2"], 2, &["between 0 and 1"]);
    expect_error(&["sweep", "--qd", "3..9"], 2, &["powers of two"]);
    expect_error(
        &["run", fs, "-o", "/nonexistent/dir/out.json", "-f", "json"],
        2,
        &["-o /nonexistent/dir/out.json", "does not exist"],
    );
}

#[test]
fn permission_denied_names_the_fix() {
    if !nix::unistd::geteuid().is_root() {
        let (_d, f) = file(1 << 20);
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        expect_error(&["run", f.to_str().unwrap(), "--workload", "write"], 4, &["permission denied"]);
        return;
    }
    // As root, drop to nobody for the one command.
    let (d, f) = file(1 << 20);
    std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin(), "run", f.to_str().unwrap()])
        .output()
        .expect("setpriv (util-linux) runs atsbench as nobody");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("permission denied") && err.contains("run as root"), "{err}");
}

#[test]
fn memlock_too_low_names_the_fix() {
    // io_uring charges registered buffers to RLIMIT_MEMLOCK unless the process holds
    // CAP_IPC_LOCK, so as root the capability is dropped for this one command.
    let (_d, f) = file(4 << 20);
    let mut cmd = Command::new("prlimit");
    cmd.arg("--memlock=65536");
    if nix::unistd::geteuid().is_root() {
        cmd.args(["setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"]);
    }
    let out = cmd
        .args([bin(), "run", f.to_str().unwrap(), "--qd", "64", "--bs", "4096", "--ops", "10"])
        .output()
        .expect("prlimit and setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("RLIMIT_MEMLOCK") && err.contains("ulimit -l"), "{err}");
}

#[test]
fn the_default_target_is_removed_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin()).env("TMPDIR", dir.path()).args(["run", "--ops", "50"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("temporary file"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the temporary target was left behind");
}

#[test]
fn usage_errors_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in
        [&["run", "--qd", "0"][..], &["run", "--bs", "1000"], &["run", "--locks", "0"], &["run", "--duration", "-3"]]
    {
        let out = Command::new(bin()).env("TMPDIR", dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("temporary file"), "{args:?} announced a temporary target: {err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a usage error created a file");
}

#[test]
fn a_killed_run_does_not_break_the_next_and_runs_do_not_share_files() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(bin())
            .env("TMPDIR", dir.path())
            // An hour: the runs end by the signals below, never on their own during the test.
            .args(["run", "--duration", "1h", "-f", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    let files = || -> Vec<PathBuf> { std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect() };
    while files().len() < 2 {
        for c in [&mut a, &mut b] {
            let ended = c.try_wait().unwrap();
            assert!(ended.is_none(), "a run ended ({ended:?}) before both made their targets: {:?}", files());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    a.kill().unwrap(); // SIGKILL: no chance to clean up
    a.wait().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(b.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(b.wait().unwrap().code(), Some(130), "SIGTERM stops like SIGINT");
    assert_eq!(files().len(), 1, "the SIGTERM'd run removed its file, the killed one could not");
    let out = Command::new(bin()).env("TMPDIR", dir.path()).args(["run", "--ops", "50"]).output().unwrap();
    assert!(out.status.success(), "the leftover broke the next run: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(files().len(), 1);
}

#[test]
fn an_interrupted_sweep_keeps_its_points_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let mut child = Command::new(bin())
        .env("TMPDIR", dir.path())
        // Open loop, 100 operations at 50/s: no point can end before 2 s by the schedule (a
        // slow machine only makes it later), so the 8 points after the first need 16 s or
        // more and the interrupt lands inside the sweep.
        .args(["sweep", "--qd", "1..256", "--ops", "100", "--rate", "50", "-f", "json", "-o", out.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until at least one point is written, then interrupt.
    while !out.exists() || std::fs::metadata(&out).unwrap().len() == 0 {
        let ended = child.try_wait().unwrap();
        assert!(ended.is_none(), "the sweep ended ({ended:?}) before writing a point");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let points = doc["points"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() < 9, "{} points", points.len());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "only the results remain: {leftovers:?}");
}

#[test]
fn repeats_are_kept_beside_their_merge() {
    let doc = json(&["sweep", "--qd", "1,4", "--ops", "300", "--repeat", "3", "--interleave", "-f", "json"]);
    assert_eq!((doc["config"]["repeat"].as_u64(), doc["config"]["interleave"].as_bool()), (Some(3), Some(true)));
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "one merged point per configuration");
    for p in points {
        let reps = p["repeats"].as_array().unwrap();
        assert_eq!(reps.len(), 3);
        assert_eq!(n(p, "ops"), 900);
        assert!(reps.iter().all(|r| n(r, "ops") == 300));
        // The merged latency is the merged histogram: its count is the sum of the repeats'.
        let counts: u64 = reps.iter().map(|r| n(r, "latency_ns.ats.count")).sum();
        assert_eq!(n(p, "latency_ns.ats.count"), counts);
        let duration: f64 = reps.iter().map(|r| r["duration_s"].as_f64().unwrap()).sum();
        assert!((p["duration_s"].as_f64().unwrap() - duration).abs() < 1e-5);
    }
    let one = json(&["run", "--ops", "100", "-f", "json"]);
    assert_eq!(one["points"][0]["repeats"].as_array().unwrap().len(), 1, "a single measurement is one repeat");
}

/// The table shows each point's IOPS interval from its intervals.
#[test]
fn the_table_shows_each_points_iops_interval() {
    let o = run(&["run", "sim", "--seed", "1", "--qd", "4", "--duration", "0.5", "--interval", "20ms"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("iops_95%"), "{text}");
    let row = text.lines().find(|l| l.starts_with("ats ") && !l.starts_with("ats mode")).expect("the point's row");
    assert!(row.contains('±'), "{row}");
}

/// Every repeat records its intervals; together they hold every operation, and the point's
/// merged percentiles are those of all the repeats' histograms added together.
#[test]
fn every_repeat_has_intervals_and_merged_percentiles_come_from_merged_histograms() {
    let doc =
        json(&["run", "sim", "--qd", "4", "--duration", "0.3", "--interval", "50ms", "--repeat", "2", "-f", "json"]);
    assert_eq!(n(&doc["config"], "interval_ns"), 50_000_000);
    let p = &doc["points"][0];
    let mut all: Option<hdrhistogram::Histogram<u64>> = None;
    for r in p["repeats"].as_array().unwrap() {
        let iv = &r["intervals"];
        assert_eq!(n(iv, "width_ns"), 50_000_000);
        let series = iv["series"].as_array().unwrap();
        assert!(series.len() >= 4, "{} intervals in 0.3 s", series.len());
        let ops: u64 = series.iter().map(|i| n(i, "kinds.ats.ops")).sum();
        assert_eq!(ops, n(r, "latency_ns.ats.count"), "the intervals hold every attempt");
        assert!(iv["steady"].is_boolean() && iv["trend_pct"].is_number() && iv["warmup"].is_u64());
        for i in series {
            let h = atsbench::results::intervals::decode(i["kinds"]["ats"]["lat"].as_str().unwrap()).unwrap();
            match all.as_mut() {
                Some(a) => a.add(&h).unwrap(),
                None => all = Some(h),
            }
        }
    }
    let all = all.unwrap();
    assert_eq!(n(p, "latency_ns.ats.count"), all.len());
    for (key, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        assert_eq!(n(p, &format!("latency_ns.ats.{key}")), all.value_at_quantile(q), "{key}");
    }
    assert_eq!(n(p, "latency_ns.ats.max"), all.max());
}

#[test]
fn every_shipped_profile_runs_with_a_short_override() {
    let out = run(&["profiles"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    let names: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"qualification") && names.contains(&"ci-nullblk"), "{list}");
    for name in names {
        // --ops overrides the profile's duration; everything else comes from the profile.
        let doc = json(&["sweep", "--profile", name, "--ops", "16", "-f", "json"]);
        assert_eq!(doc["config"]["profile"]["name"], name);
        assert_eq!(doc["config"]["profile"]["sha256"].as_str().map(str::len), Some(64));
        let shown = String::from_utf8(run(&["profiles", "show", name]).stdout).unwrap();
        let repeat = shown.lines().find_map(|l| l.strip_prefix("repeat = ")).map_or(1, |r| r.parse().unwrap());
        assert_eq!(doc["config"]["repeat"].as_u64(), Some(repeat), "{name}");
        assert!(!doc["points"].as_array().unwrap().is_empty(), "{name}");
    }
    // Flags on the command line win over the profile.
    let doc = json(&["sweep", "-p", "ci-nullblk", "--qd", "2", "--repeat", "1", "--ops", "16", "-f", "json"]);
    assert_eq!(doc["config"]["qd"], serde_json::json!([2]));
    assert_eq!(doc["config"]["contention"], serde_json::json!([1, 8]), "the profile's contention stays");
}

#[test]
fn profile_mistakes_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "description = \"x\"\nqueue_depth = \"1..8\"\n").unwrap();
    expect_error(&["sweep", "--profile", unknown.to_str().unwrap()], 2, &["queue_depth", "unknown.toml"]);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "description = \"x\"\nqd = \"8..1\"\n").unwrap();
    expect_error(&["sweep", "--profile", bad.to_str().unwrap()], 2, &["bad.toml", "`qd`", "above the end"]);
    expect_error(&["sweep", "--profile", "no-such-profile"], 2, &["qualification"]);
    expect_error(&["sweep"], 2, &["--qd"]);
}

#[test]
fn heartbeats_beat_on_schedule_beside_background_load() {
    let doc = json(&[
        "run",
        "--workload",
        "heartbeat",
        "--threads",
        "2",
        "--qd",
        "4",
        "--heartbeat-interval",
        "10ms",
        "--duration",
        "0.3",
        "-f",
        "json",
    ]);
    let p = &doc["points"][0];
    assert_eq!((n(p, "locks"), p["actors_per_lock"].as_f64()), (2, Some(1.0)), "one heartbeat block per worker");
    // Never faster than the schedule: at most 0.3 s / 10 ms + 1 beats per worker.
    let beats = n(p, "acquires");
    assert!((2..=2 * 31).contains(&beats), "{beats} heartbeats");
    assert_eq!(n(p, "latency_ns.acquire.count"), beats);
    assert!(n(p, "latency_ns.read.count") > 0 && n(p, "latency_ns.write.count") > 0, "no background load");
    assert_eq!(n(p, "miscompares.total"), 0, "nobody else beats on a worker's block");
    assert_eq!(n(p, "verification.violations") + n(p, "verification.lost_updates"), 0);
}
