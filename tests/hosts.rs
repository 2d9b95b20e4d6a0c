//! Several hosts on one shared target, as two processes on one file (no root, no device):
//! `run --hosts 2 --host-id 0/1` started at once, then `atsbench merge`. A file has no
//! device-side ATS: host-emulated ATS serialises only inside one process, so across the two
//! "hosts" it is not atomic and the known answer is rmw's (lost updates), which the merge says.
//!
//! Every test takes its turn (`take_turn`): how the two hosts' commands interleave on the file
//! decides which class their miscompares fall in, and a third process busy beside them (another
//! test of this binary) made one host see the file go back more often than the other host's
//! newer records (split 47, stale 116, about one run in eight).

mod common;
use common::{bin, mechanisms, n, take_turn};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A shared target file in a fresh folder.
fn shared_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shared.img");
    std::fs::write(&path, vec![0u8; 4 << 20]).expect("write target");
    (dir, path)
}

/// A CPU of its own for host `index` where there are enough, so that the hosts interleave
/// rather than take turns on one CPU.
fn cpu_of(index: u32) -> String {
    let cpus = atsbench::sys::affinity::allowed_cpus();
    cpus.get(index as usize % cpus.len().max(1)).copied().unwrap_or(0).to_string()
}

/// Start host `index` of `hosts` on `target`, writing its JSON results to `out`.
fn start(target: &Path, index: u32, hosts: u32, extra: &[&str], out: &Path) -> Child {
    Command::new(bin())
        .args(["run", target.to_str().unwrap(), "--hosts", &hosts.to_string(), "--host-id", &index.to_string()])
        .args(["--cpus", &cpu_of(index)])
        .args(extra)
        .args(["-f", "json", "-o", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start atsbench")
}

/// Two hosts of one run on one file, at once; returns their result files.
fn two_hosts(dir: &Path, target: &Path, workload: &str) -> [PathBuf; 2] {
    let files = [0, 1].map(|i| dir.join(format!("{workload}-host{i}.json")));
    // One actor per host on one lock block: every miscompare is the other host's doing.
    let extra = ["--workload", workload, "--qd", "1", "--locks", "1", "--ops", "3000", "--seed", "4242"];
    // Host 1 first: it waits at the rendezvous for host 0.
    let children: Vec<Child> = [1, 0].into_iter().map(|i| start(target, i, 2, &extra, &files[i as usize])).collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(out.status.success(), "a host failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    files
}

fn merge(args: &[&Path], extra: &[&str]) -> Output {
    Command::new(bin()).arg("merge").args(args).args(extra).output().expect("run atsbench merge")
}

fn merged_json(files: &[PathBuf]) -> (Value, Output) {
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = merge(&paths, &["-f", "json"]);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("merge printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr));
    });
    (doc, out)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The known answers common to ats and rmw on a shared file: each host ran its share, records
/// of the other host were contention (never corrupt), and the merge reports lost updates.
/// `doc` validates against the committed JSON Schema `schema/NAME` (generated from
/// `src/results/`).
fn assert_valid(name: &str, doc: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema").join(name);
    let schema: Value = serde_json::from_slice(&std::fs::read(path).expect("the committed schema")).unwrap();
    let v = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = v.iter_errors(doc).take(5).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "not valid against {name}: {errors:#?}");
}

fn check_shared_file(workload: &str) -> Value {
    let (dir, target) = shared_file();
    let files = two_hosts(dir.path(), &target, workload);
    for (i, f) in files.iter().enumerate() {
        let doc = read_json(f);
        assert_valid("atsbench-3.schema.json", &doc);
        let c = &doc["config"];
        assert_eq!((n(c, "hosts"), n(c, "host_index"), n(c, "seed")), (2, i as u64, 4242));
        let p = &doc["points"][0];
        assert_eq!(n(p, "ops"), 3000);
        assert_eq!(p["verification"]["scope"], "this host; merge all hosts' results to verify");
        assert_eq!(n(p, "host_share.host_index"), i as u64);
        assert!(p["host_share"]["claims"]["locks"].is_array(), "{}", p["host_share"]);
        let last = &p["host_share"]["finals"][0];
        assert!(last["generation"].as_u64() > Some(0) && last["owner"]["host"].is_u64(), "{last}");
        // Alone, each host sees the other host's records of the generation it expected: `split`
        // (before that class they were `stale`), diagnosed as the known answer.
        let m = &p["miscompares"];
        eprintln!("{workload} host {i}: split {}, stale {}, contention {}", m["split"], m["stale"], m["contention"]);
        assert!(n(m, "split") > n(m, "stale"), "host {i}: {m}");
        assert_eq!(mechanisms(p)[0], "not-atomic-across-hosts", "host {i}: {}", p["diagnosis"]);
    }
    let (doc, out) = merged_json(&files);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(doc["schema"], "atsbench-merge/1");
    assert_valid("atsbench-merge-1.schema.json", &doc);
    assert_eq!(doc["hosts"].as_array().map(Vec::len), Some(2));
    let p = &doc["points"][0];
    let m = &p["total"]["miscompares"];
    eprintln!(
        "{workload} on one file, 2 hosts x 3000 attempts: contention {}, corrupt {}, violations {}, lost updates {}",
        m["contention"], m["corrupt"], p["verification"]["violations"], p["verification"]["lost_updates"]
    );
    for h in p["per_host"].as_array().unwrap() {
        assert_eq!(n(h, "ops"), 3000);
        assert!(n(h, "miscompares.contention") > 0, "host {}: {}", h["host"], h["miscompares"]);
        assert_eq!(n(h, "miscompares.corrupt"), 0, "the other host's records counted as corrupt: {h}");
    }
    assert_eq!(n(p, "total.ops"), 6000);
    assert_eq!(p["cross_host_atomic"], false);
    assert!(n(p, "verification.lost_updates") > 0, "{}", p["verification"]);
    assert_eq!(p["verification"]["scope"], "all hosts");
    assert_eq!(mechanisms(p)[0], "not-atomic-across-hosts", "{}", p["diagnosis"]);
    assert_eq!(p["diagnosis"][0]["strength"], "expected");
    doc
}

#[test]
fn host_emulated_ats_on_a_shared_file_contends_and_is_not_atomic_across_hosts() {
    let _turn = take_turn();
    let doc = check_shared_file("ats");
    let p = &doc["points"][0];
    assert_eq!(p["ats_mode"], "host-emulated");
    let why = p["atomicity"].as_str().unwrap();
    assert!(why.contains("only inside one process") && why.contains("not atomic"), "{why}");
    assert!(n(p, "verification.violations") > 0, "generations claimed by both hosts: {}", p["verification"]);
}

#[test]
fn rmw_on_a_shared_file_loses_updates_across_hosts() {
    let _turn = take_turn();
    let doc = check_shared_file("rmw");
    assert!(doc["points"][0]["atomicity"].as_str().unwrap().contains("lost updates are the known answer"));
}

/// stderr of a failed command: one line, the expected exit code and words of the fix.
fn expect_error(out: &Output, code: i32, words: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().filter(|l| !l.is_empty()).count(), 1, "one line expected: {err}");
    for w in words {
        assert!(err.contains(w), "`{w}` missing from: {err}");
    }
}

#[test]
fn a_host_alone_gives_up_at_the_rendezvous_naming_the_others() {
    let _turn = take_turn();
    let (dir, target) = shared_file();
    let out = dir.path().join("alone.json");
    let child = start(&target, 0, 3, &["--seed", "7", "--ops", "10", "--rendezvous-timeout", "300ms"], &out);
    let out = child.wait_with_output().unwrap();
    expect_error(&out, 10, &["hosts 1, 2 of 3 not seen joining", "--hosts 3 --seed 7", "--host-id"]);
    let plain = Command::new(bin()).args(["run", target.to_str().unwrap(), "--hosts", "2"]).output().unwrap();
    expect_error(&plain, 2, &["same --seed"]);
}

#[test]
fn merge_refuses_files_that_do_not_belong_together() {
    let _turn = take_turn();
    let (dir, target) = shared_file();
    let d = dir.path();
    let files = two_hosts(d, &target, "ats");
    let (a, b) = (files[0].as_path(), files[1].as_path());
    expect_error(&merge(&[a, &d.join("nope.json")], &[]), 3, &["nope.json", "cannot read"]);
    let single = d.join("single.json");
    let o = Command::new(bin())
        .args(["run", target.to_str().unwrap(), "--ops", "50", "-f", "json", "-o"])
        .arg(&single)
        .output();
    assert!(o.unwrap().status.success());
    expect_error(&merge(&[a, &single], &[]), 3, &["single.json", "single host"]);
    let mut doc = read_json(b);
    doc["schema"] = "atsbench/1".into();
    let old = d.join("old.json");
    std::fs::write(&old, doc.to_string()).unwrap();
    expect_error(&merge(&[a, &old], &[]), 3, &["schema atsbench/1"]);
    expect_error(&merge(&[a], &[]), 2, &["host 1 of 2 missing"]);
    expect_error(&merge(&[a, a], &[]), 2, &["both host 0"]);
    let mut doc = read_json(b);
    doc["config"]["seed"] = 1.into();
    let other = d.join("other-seed.json");
    std::fs::write(&other, doc.to_string()).unwrap();
    expect_error(&merge(&[a, &other], &[]), 2, &["seed 1", "one multi-host run"]);
    let mut doc = read_json(b);
    doc["points"][0]["host_share"]["session"] = "0123456789abcdef".into();
    let stale = d.join("other-run.json");
    std::fs::write(&stale, doc.to_string()).unwrap();
    expect_error(&merge(&[a, &stale], &[]), 2, &["another run"]);
    let table = merge(&[a, b], &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success() && text.contains("cross-host atomic: no"), "{text}");
    assert!(text.contains("diagnosis: not-atomic-across-hosts (expected)"), "{text}");
}

/// `atsbench hosts` with two local hosts on one file: it picks the seed and the indices, merges
/// and prints the merged table with the diagnosis; `-f json -o` writes the merged document,
/// `--keep` each host's own.
#[test]
fn hosts_runs_two_local_hosts_and_merges_them() {
    let _turn = take_turn();
    let (dir, target) = shared_file();
    let t = target.to_str().unwrap();
    let out =
        Command::new(bin()).args(["hosts", t, t, "--", "--qd", "1", "--locks", "1", "--ops", "2000"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("merged 2 hosts") && text.contains("diagnosis: not-atomic-across-hosts (expected)"),
        "{text}"
    );
    let (merged, keep) = (dir.path().join("merged.json"), dir.path().join("kept"));
    let out = Command::new(bin())
        .args(["hosts", t, t, "-f", "json", "-o"])
        .arg(&merged)
        .arg("--keep")
        .arg(&keep)
        .args(["--", "--qd", "1", "--locks", "1", "--ops", "1000", "--seed", "77"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = read_json(&merged);
    assert_eq!((doc["schema"].as_str(), n(&doc, "seed")), (Some("atsbench-merge/1"), 77));
    assert_eq!(n(&doc["points"][0], "total.ops"), 2000);
    for i in 0..2 {
        let host = read_json(&keep.join(format!("host{i}.json")));
        assert_eq!(n(&host, "config.host_index"), i);
        let p = &host["points"][0];
        assert_eq!(mechanisms(p)[0], "not-atomic-across-hosts", "{}", p["diagnosis"]);
    }
}

/// `--rsh CMD`: HOST:TARGET is started as `CMD HOST 'atsbench run ...'`. The stand-in runs the
/// command locally with this build's atsbench, as ssh would run it on HOST.
#[test]
fn hosts_starts_remote_hosts_through_rsh() {
    let _turn = take_turn();
    let (dir, target) = shared_file();
    let rsh = dir.path().join("fake-ssh");
    let bindir = std::path::Path::new(bin()).parent().unwrap().to_str().unwrap().to_string();
    std::fs::write(&rsh, format!("#!/bin/sh\n# fake-ssh HOST COMMAND\nshift\nPATH={bindir}:$PATH exec sh -c \"$1\"\n"))
        .unwrap();
    std::fs::set_permissions(&rsh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let t = target.to_str().unwrap();
    let specs = [format!("alpha:{t}"), format!("beta:{t}")];
    let out = Command::new(bin())
        .args(["hosts", "--rsh", rsh.to_str().unwrap(), &specs[0], &specs[1], "-f", "json"])
        .args(["--", "--qd", "1", "--locks", "1", "--ops", "1000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["hosts"].as_array().map(Vec::len), Some(2));
    assert_eq!(mechanisms(&doc["points"][0])[0], "not-atomic-across-hosts");
}

/// One host failing stops the others, and the message names it; `--hosts` on sim and options
/// `hosts` sets itself are usage errors of one line.
#[test]
fn hosts_names_the_host_that_failed() {
    let _turn = take_turn();
    let (dir, target) = shared_file();
    let t = target.to_str().unwrap();
    let missing = dir.path().join("missing").join("x.img");
    let started = std::time::Instant::now();
    let out = Command::new(bin())
        .args(["hosts", t, missing.to_str().unwrap(), "--", "--ops", "100", "--rendezvous-timeout", "60s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("host 1 (") && err.contains("failed (exit 3)") && err.contains("stopped"), "{err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "host 0 was not stopped: it waited for host 1");
    expect_error(&Command::new(bin()).args(["hosts", t, t, "--", "--hosts", "3"]).output().unwrap(), 2, &["--hosts"]);
    let sim = Command::new(bin()).args(["run", "sim", "--hosts", "2", "--seed", "1"]).output().unwrap();
    expect_error(&sim, 2, &["on sim", "one process"]);
}

/// `run --hosts N` without `--host-id` takes the index a job launcher set (srun, a Kubernetes
/// Indexed Job, mpirun). Host 1 writes a table: it says in words that its verification is
/// partial. (Two hosts taking one index would never meet at the rendezvous.)
#[test]
fn run_takes_its_host_index_from_the_job_launcher() {
    let _turn = take_turn();
    let (dir, target) = shared_file();
    let t = target.to_str().unwrap();
    let vars = ["SLURM_PROCID", "JOB_COMPLETION_INDEX"];
    let children: Vec<(PathBuf, Child)> = [1usize, 0]
        .into_iter()
        .map(|i| {
            let out = dir.path().join(format!("env{i}.out"));
            let format = if i == 0 { "json" } else { "table" };
            let child = Command::new(bin())
                .args(["run", t, "--hosts", "2", "--seed", "5", "--qd", "1", "--locks", "1", "--ops", "200"])
                .args(["--cpus", &cpu_of(i as u32), "-f", format, "-o", out.to_str().unwrap()])
                .env_remove("SLURM_PROCID")
                .env_remove("JOB_COMPLETION_INDEX")
                .env_remove("OMPI_COMM_WORLD_RANK")
                .env(vars[i], i.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    for (out, child) in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        if out.ends_with("env0.out") {
            assert_eq!(n(&read_json(&out), "config.host_index"), 0);
        } else {
            let text = std::fs::read_to_string(&out).unwrap();
            assert!(text.contains("verification: this host only: merge the hosts' results to verify"), "{text}");
            assert!(text.contains("  diagnosis: "), "{text}");
        }
    }
}

/// Host 1's rendezvous record in the shared file (the blocks lead the region), if intact.
fn meet_of(target: &Path, index: u32) -> Option<atsbench::hosts::meet::Meet> {
    let head = std::fs::read(target).ok()?;
    head[..8192].chunks(512).filter_map(atsbench::hosts::meet::Meet::decode).find(|m| m.index == index)
}

/// A host that vanishes mid-point without a word (SIGKILL here; a host whose device went away
/// cannot write LEFT either): the other keeps its point, writes it without the final blocks
/// (not verified), and exits 10 naming the host not seen.
#[test]
fn a_host_that_vanishes_mid_point_leaves_the_other_its_results() {
    let _turn = take_turn();
    use atsbench::hosts::meet::Phase;
    let (dir, target) = shared_file();
    let files = [0, 1].map(|i| dir.path().join(format!("vanish-host{i}.json")));
    let extra = ["--workload", "ats", "--qd", "1", "--locks", "1", "--duration", "3", "--seed", "99"];
    let extra = [&extra[..], &["--rendezvous-timeout", "1s"]].concat();
    let mut one = start(&target, 1, 2, &extra, &files[1]);
    let zero = start(&target, 0, 2, &extra, &files[0]);
    // Host 1 is READY only once host 0 is: both measure from then on.
    let t0 = std::time::Instant::now();
    while meet_of(&target, 1).is_none_or(|m| m.phase != Phase::Ready) {
        assert!(t0.elapsed() < std::time::Duration::from_secs(60), "the hosts never met");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    one.kill().unwrap();
    one.wait().unwrap();
    let out = zero.wait_with_output().unwrap();
    expect_error(&out, 10, &["host 1 of 2 not seen done with point 0", "written without its final lock blocks"]);
    let doc = read_json(&files[0]);
    let p = &doc["points"][0];
    assert!(n(p, "ops") > 0, "{p}");
    assert_eq!(p["verification"], Value::Null, "the final blocks were not read: {}", p["verification"]);
    assert!(p["host_share"].is_object(), "the point keeps its share");
}
