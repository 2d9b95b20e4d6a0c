//! Several hosts on one device: two atsbench processes as hosts 0 and 1 of one run
//! (`--hosts 2`), one actor each on one lock block, so every miscompare is the other host's
//! doing; then `atsbench merge`. On scsi_debug COMPARE AND WRITE is atomic in the device: the
//! merged history has contention and no violation. On null_blk ATS is host-emulated, atomic
//! only inside one process: across hosts it loses updates, as rmw does, and the merge says so.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Sg, "multihost_sg_device_ats_contends_across_hosts_without_violation", sg_device_ats),
        (Need::Lio, "multihost_lio_one_host_per_path_contends_without_violation", lio_paths_ats),
        (Need::Nullb, "multihost_nullb_rmw_loses_updates_across_hosts", nullb_rmw),
        (Need::Nullb, "multihost_nullb_host_emulated_ats_is_not_atomic_across_hosts", nullb_ats),
        (Need::Loop, "multihost_loop_one_device_each_host_sees_split", loop_split),
        (Need::Lio, "multihost_lio_paths_through_atsbench_hosts", lio_hosts_command),
        (Need::IscsiKernel, "multihost_iscsi_one_host_per_session_contends_without_violation", iscsi_sessions_ats),
    ]
}

/// Run hosts 0 and 1 at once on `dev`, then merge their results (JSON).
fn two_hosts(dev: &str, workload: &str, extra: &[&str]) -> Result<Value, String> {
    Ok(hosts_on([dev, dev], workload, 3000, [extra, extra])?.1)
}

/// Run hosts 0 and 1 at once, `ops` each, host i on `devs[i]` with `extra[i]`: each host's
/// result and their merge (JSON).
pub fn hosts_on(devs: [&str; 2], workload: &str, ops: u64, extra: [&[&str]; 2]) -> Result<(Vec<Value>, Value), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let files: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("host{i}.json"))).collect();
    let mut children = Vec::new();
    for (i, out) in files.iter().enumerate().rev() {
        // Each host on a CPU of its own where there are two, so that they interleave.
        let cpus = atsbench::sys::affinity::allowed_cpus();
        let cpu = cpus.get(i % cpus.len().max(1)).copied().unwrap_or(0).to_string();
        let mut cmd = Command::new(bin());
        cmd.args(["run", devs[i], "--workload", workload, "--qd", "1", "--locks", "1", "--ops", &ops.to_string()])
            .args(["--cpus", &cpu, "--hosts", "2", "--host-id", &i.to_string(), "--seed", "31337", "-f", "json", "-o"])
            .arg(out)
            .args(extra[i])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        children.push(cmd.spawn().map_err(|e| format!("starting {}: {e}", bin().display()))?);
    }
    for c in children {
        let out = c.wait_with_output().map_err(|e| e.to_string())?;
        check(out.status.success(), || {
            format!("a host exited {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr))
        })?;
    }
    let mut each = Vec::new();
    for f in &files {
        let text = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        each.push(serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    Ok((each, merge(&files)?))
}

fn merge(files: &[PathBuf]) -> Result<Value, String> {
    let out = Command::new(bin())
        .arg("merge")
        .args(files.iter().map(PathBuf::as_path).map(Path::as_os_str))
        .args(["-f", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("merge printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))?;
    println!(
        "merged: exit {:?}, contention {}, corrupt {}, verification {}",
        out.status.code(),
        doc["points"][0]["total"]["miscompares"]["contention"],
        doc["points"][0]["total"]["miscompares"]["corrupt"],
        doc["points"][0]["verification"]
    );
    Ok(doc)
}

/// Each host met contention (the other host's records, with one actor per host) and counted
/// none of the other's records as corrupt.
fn check_cross_host_contention(p: &Value) -> TestResult {
    for h in p["per_host"].as_array().into_iter().flatten() {
        check(u(h, "miscompares.contention") > 0, || format!("host {} saw no contention: {h}", h["host"]))?;
        check(u(h, "miscompares.corrupt") == 0, || format!("host {} counted records as corrupt: {h}", h["host"]))?;
        check(u(h, "errors") == 0, || format!("host {} had errors: {h}", h["host"]))?;
    }
    check(u(p, "total.ops") == 6000, || format!("total ops {}", p["total"]["ops"]))
}

fn sg_device_ats() -> TestResult {
    let doc = two_hosts(&Need::Sg.path(), "ats", &[])?;
    let p = &doc["points"][0];
    check(p["ats_mode"] == "device", || format!("ats_mode {}", p["ats_mode"]))?;
    check(p["cross_host_atomic"] == true, || format!("cross_host_atomic {}", p["cross_host_atomic"]))?;
    check_cross_host_contention(p)?;
    let v = &p["verification"];
    check(u(v, "violations") == 0 && u(v, "lost_updates") == 0, || format!("device ATS broke atomicity: {v}"))
}

/// One host per path of the LIO LUN (its two sg nodes), device-side COMPARE AND WRITE: LIO
/// serialises CAW per device whatever the path, so the merged history has contention and no
/// violation. LIO's fileio does not serialise a READ against a CAW, so now and then a re-read
/// after a miscompare is torn (`corrupt`, about 1 in 10^4 attempts, see lio.rs); another
/// host's records counted as corrupt would be every cross-host miscompare instead.
fn lio_paths_ats() -> TestResult {
    // LIO under TCG does a few hundred CAW/s: 1000 per host keep the test short.
    one_host_per_lio_path(&dev(LIO_A), &dev(LIO_B), 1000)
}

/// Two hosts as an ESXi cluster has them: each its own iSCSI session (initiator name, I_T
/// nexus, SCSI host) to the one LIO LUN, device-side ATS through the session's sg node. The
/// same known answers as on the tcm_loop paths: contention between hosts, no split, no
/// violation, no lost update; the diagnosis is printed.
fn iscsi_sessions_ats() -> TestResult {
    let [a, b] = iscsi_session_paths()?;
    one_host_per_lio_path(&a, &b, 500)
}

/// Hosts 0 and 1 with `ops` ATS operations each, host i on path i of the LIO LUN: the merged
/// history must show device-side ATS that is atomic across the hosts.
fn one_host_per_lio_path(a: &str, b: &str, ops: u64) -> TestResult {
    let (_, doc) = hosts_on([a, b], "ats", ops, [&["--force"], &["--force"]])?;
    let p = &doc["points"][0];
    check(p["ats_mode"] == "device", || format!("ats_mode {}", p["ats_mode"]))?;
    check(p["cross_host_atomic"] == true, || format!("cross_host_atomic {}", p["cross_host_atomic"]))?;
    for h in p["per_host"].as_array().into_iter().flatten() {
        let (contention, corrupt) = (u(h, "miscompares.contention"), u(h, "miscompares.corrupt"));
        check(contention > 0, || format!("host {} saw no contention: {h}", h["host"]))?;
        check(corrupt * 100 <= contention, || format!("host {} counted records as corrupt: {h}", h["host"]))?;
        check(u(h, "errors") == 0, || format!("host {} had errors: {h}", h["host"]))?;
    }
    check(u(p, "total.ops") == 2 * ops, || format!("total ops {}", p["total"]["ops"]))?;
    let v = &p["verification"];
    check(u(v, "violations") == 0 && u(v, "lost_updates") == 0, || format!("device ATS broke atomicity: {v}"))?;
    // Device-side ATS: no host ever finds the other's record of its expected generation.
    check(u(p, "total.miscompares.split") == 0, || format!("split on {a} and {b}: {}", p["total"]))?;
    let found = mechanisms(p);
    println!("hosts on {a} and {b}: {}; diagnosis {found:?}", p["total"]["miscompares"]);
    let atomic = !found.iter().any(|m| m == "split" || m == "not-atomic-across-hosts");
    check(atomic && found.iter().any(|m| m == "contention-between-hosts"), || format!("diagnosis {found:?}"))
}

/// Two hosts (processes) on one loop device: host-emulated ATS, atomic only inside one
/// process. Each host alone sees the other's records of the generation it expected (`split`,
/// before that class `stale`) and diagnoses `not-atomic-across-hosts`; so does the merge.
fn loop_split() -> TestResult {
    let paths = crate::stale_cache::Paths::new(1)?;
    let d = paths.devs[0].as_str();
    let (each, doc) = hosts_on([d, d], "ats", 3000, [&["--force"], &["--force"]])?;
    let mut split = 0;
    for (i, h) in each.iter().enumerate() {
        let p = point(h);
        println!("loop host {i}: {}; diagnosis {:?}", p["miscompares"], mechanisms(p));
        check(p["ats_mode"] == "host-emulated", || format!("ats_mode {}", p["ats_mode"]))?;
        split += u(p, "miscompares.split");
        // How much the hosts overlap is up to the scheduler: a host that met the other's
        // writes (split or stale) says why.
        let found = mechanisms(p);
        let met = u(p, "miscompares.split") + u(p, "miscompares.stale") > 0;
        check(!met || found[0] == "not-atomic-across-hosts", || format!("host {i}'s diagnosis: {found:?}"))?;
    }
    check(split > 0, || "no host saw a split".into())?;
    let found = mechanisms(&doc["points"][0]);
    check(found[0] == "not-atomic-across-hosts", || format!("the merge's diagnosis: {found:?}"))
}

fn nullb_rmw() -> TestResult {
    let doc = two_hosts(&Need::Nullb.path(), "rmw", &["--force"])?;
    let p = &doc["points"][0];
    check(p["cross_host_atomic"] == false, || format!("cross_host_atomic {}", p["cross_host_atomic"]))?;
    check_cross_host_contention(p)?;
    check(u(p, "verification.lost_updates") > 0, || format!("no lost update: {}", p["verification"]))?;
    let found = mechanisms(p);
    check(found[0] == "not-atomic-across-hosts", || format!("the merge's diagnosis: {found:?}"))
}

fn nullb_ats() -> TestResult {
    let doc = two_hosts(&Need::Nullb.path(), "ats", &["--force"])?;
    let p = &doc["points"][0];
    check(p["ats_mode"] == "host-emulated", || format!("ats_mode {}", p["ats_mode"]))?;
    check(p["cross_host_atomic"] == false, || format!("cross_host_atomic {}", p["cross_host_atomic"]))?;
    let why = p["atomicity"].as_str().unwrap_or_default();
    check(why.contains("not atomic"), || format!("atomicity: {why}"))?;
    check_cross_host_contention(p)?;
    check(u(p, "verification.lost_updates") > 0, || format!("no lost update: {}", p["verification"]))?;
    let found = mechanisms(p);
    check(found[0] == "not-atomic-across-hosts", || format!("the merge's diagnosis: {found:?}"))
}

/// `atsbench hosts` on the two sg paths of the LIO LUN: one command starts both hosts, merges
/// and exits 0; device-side ATS, so contention between hosts and no split.
fn lio_hosts_command() -> TestResult {
    let (a, b) = (dev(LIO_A), dev(LIO_B));
    let out = Command::new(bin())
        .args(["hosts", &a, &b, "-f", "json", "--", "--force", "--qd", "1", "--locks", "1", "--ops", "500"])
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    check(out.status.code() == Some(0), || format!("atsbench hosts exited {:?}: {err}", out.status.code()))?;
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("no JSON ({e}): {err}"))?;
    let p = &doc["points"][0];
    let found = mechanisms(p);
    println!("hosts on the LIO paths: {}; diagnosis {found:?}", p["total"]["miscompares"]);
    check(p["cross_host_atomic"] == true, || format!("cross_host_atomic {}", p["cross_host_atomic"]))?;
    check(u(p, "total.ops") == 1000 && u(p, "total.miscompares.split") == 0, || format!("{}", p["total"]))?;
    check(found.iter().any(|m| m == "contention-between-hosts"), || format!("diagnosis {found:?}"))
}
