//! Paths that fail (issue 18), each a known answer, each path restored after:
//!
//! - dm-multipath with both paths failed and then reinstated during one run, with
//!   `queue_if_no_path` off (the I/O fails: errors, never miscompares, then the run recovers)
//!   and on (the I/O waits: a stall with no errors, then it recovers). The figures per phase
//!   come from the point's interval series (`repeats[0].intervals`).
//! - One path offline while a host runs on each path of a LIO LUN (`--hosts 2`): the host on
//!   that path counts its errors and ends at once (its device went away: DID_NO_CONNECT, exit
//!   8), the other goes on to its end and keeps its point (exit 10: the first host never said
//!   DONE), and `atsbench merge` of both reports each as it was. The LUN is one of the test's
//!   own (made and removed through configfs), so the shared LIO LUN of the other tests never
//!   meets the UNIT ATTENTIONs a path going offline and back brings.

use crate::common::*;
use crate::multipath::{dm_name, dmsetup, generations, maj_min, open_direct, path_state, Reinstate};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Mpath, "mpath_all_paths_failed_without_queueing_errors_then_recovers", all_paths_fail),
        (Need::Mpath, "mpath_all_paths_failed_with_queue_if_no_path_stalls_then_recovers", all_paths_queue),
        (Need::Lio, "lio_path_offline_under_two_hosts_ends_that_host_the_other_goes_on", lio_path_offline),
    ]
}

/// One phase of a run: intervals, their time, ATS attempts and errors.
#[derive(Debug, Default)]
struct Phase {
    intervals: usize,
    secs: f64,
    ops: u64,
    errors: u64,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} s ({} intervals): {} ATS, {} errors", self.secs, self.intervals, self.ops, self.errors)
    }
}

/// (ATS attempts, errors of every kind) per interval of the point's first repeat.
fn series(p: &Value) -> Vec<(u64, u64, f64)> {
    let s = p["repeats"][0]["intervals"]["series"].as_array().cloned().unwrap_or_default();
    s.iter()
        .map(|iv| {
            let kinds = iv["kinds"].as_object().cloned().unwrap_or_default();
            let ops = kinds.get("ats").and_then(|k| k["ops"].as_u64()).unwrap_or(0);
            let errors = kinds.values().filter_map(|k| k["errors"].as_u64()).sum();
            (ops, errors, iv["dur_ns"].as_f64().unwrap_or(0.0) / 1e9)
        })
        .collect()
}

fn phase(s: &[(u64, u64, f64)]) -> Phase {
    Phase {
        intervals: s.len(),
        secs: s.iter().map(|x| x.2).sum(),
        ops: s.iter().map(|x| x.0).sum(),
        errors: s.iter().map(|x| x.1).sum(),
    }
}

/// Both paths of the multipath device failed (`fail_path`) once ATS has made progress, for
/// about 2 s, then reinstated, in a 10 s run with `queue_if_no_path` on or off. Returns the
/// run's exit code and point; the paths and the queueing are restored whatever happens.
fn fail_both_paths(queue: bool) -> Result<(Option<i32>, Value), String> {
    let (name, mpath) = (dm_name()?, dev(MPATH));
    let paths = [maj_min(LIO_BLOCK_A)?, maj_min(LIO_BLOCK_B)?];
    for p in &paths {
        let (state, _) = path_state(&name, p)?;
        check(state == "A", || format!("path {p} is {state} before the test; both must be active"))?;
    }
    // The table has no features: no queueing, as the test leaves it.
    let _queueing = Queueing::set(&name, queue)?;
    let mut child = Command::new(bin())
        .args(["run", &mpath, "--workload", "ats", "--qd", "4", "--locks", "16", "--region", "2M..3M"])
        .args(["--duration", "10", "--interval", "250ms", "--seed", "5", "--format", "json", "--force"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting atsbench: {e}"))?;
    let watch = open_direct(&dev(LIO_BLOCK_B), false)?;
    let t0 = Instant::now();
    while generations(&watch, 2 << 20, 16, 512)? == 0 {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() || t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            return Err("the run ended (or 60 s passed) before any ATS succeeded".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    let guards: Vec<Reinstate> = paths.iter().map(|p| Reinstate(name.clone(), p.clone())).collect();
    for p in &paths {
        dmsetup(&["message", &name, "0", "fail_path", p])?;
    }
    std::thread::sleep(Duration::from_secs(2));
    let running = child.try_wait().map_err(|e| e.to_string())?.is_none();
    drop(guards); // reinstate_path, both
    for p in &paths {
        let (state, _) = path_state(&name, p)?;
        check(state == "A", || format!("path {p} is {state} after reinstate_path"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("waiting for atsbench: {e}"))?;
    check(running, || "the run ended while both paths were failed".into())?;
    println!("stderr: {}", String::from_utf8_lossy(&out.stderr).trim());
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))?;
    Ok((out.status.code(), point(&doc).clone()))
}

/// `queue_if_no_path` on or off for the test, back off (the table's own setting) on drop.
struct Queueing(String);

impl Queueing {
    fn set(name: &str, on: bool) -> Result<Queueing, String> {
        dmsetup(&["message", name, "0", if on { "queue_if_no_path" } else { "fail_if_no_path" }])?;
        Ok(Queueing(name.into()))
    }
}

impl Drop for Queueing {
    fn drop(&mut self) {
        let _ = dmsetup(&["message", &self.0, "0", "fail_if_no_path"]);
    }
}

/// Without queueing the failed paths' I/O fails at once (EIO): the intervals from the first to
/// the last with errors are the failure. Known answer: errors counted (exit 11), none of them a
/// miscompare, no violation; ATS before it and again after it (recovery).
fn all_paths_fail() -> TestResult {
    let (code, p) = fail_both_paths(false)?;
    let s = series(&p);
    let first = s.iter().position(|x| x.1 > 0).ok_or_else(|| format!("no errors in the series: {}", p["faults"]))?;
    let last = s.iter().rposition(|x| x.1 > 0).unwrap_or(first);
    let (before, during, after) = (phase(&s[..first]), phase(&s[first..=last]), phase(&s[last + 1..]));
    println!("mpath both paths failed, no queueing: exit {code:?}; before {before}; failed {during}; after {after}");
    println!("faults: {}; miscompares {}; verification {}", p["faults"], p["miscompares"], p["verification"]);
    check(code == Some(11), || format!("exit {code:?}, documented 11"))?;
    check(u(&p, "errors") > 0 && during.errors > 0, || format!("{}", p["faults"]))?;
    let kinds = p["faults"]["by_op"].as_object().cloned().unwrap_or_default();
    let eio = kinds.values().all(|o| o["by_kind"].as_object().is_some_and(|k| k.keys().all(|k| k.contains("EIO"))));
    check(eio, || format!("errors other than EIO: {kinds:?}"))?;
    check(u(&p, "miscompares.corrupt") + u(&p, "miscompares.stale") == 0, || format!("{}", p["miscompares"]))?;
    check(u(&p, "verification.violations") == 0, || format!("{}", p["verification"]))?;
    check(before.ops > 0 && after.ops > 0, || format!("no ATS before ({before}) or after ({after}) the failure"))
}

/// With `queue_if_no_path` the I/O waits for a path: the longest run of intervals without an
/// ATS attempt is the stall. Known answer: a stall of at least 1 s (the paths were failed for
/// 2 s), ATS before and after it, no errors (or a few: commands caught in flight), exit 0.
fn all_paths_queue() -> TestResult {
    let (code, p) = fail_both_paths(true)?;
    let s = series(&p);
    let (mut best, mut at) = (0, 0);
    let mut i = 0;
    while i < s.len() {
        let n = s[i..].iter().take_while(|x| x.0 == 0).count();
        if n > best {
            (best, at) = (n, i);
        }
        i += n.max(1);
    }
    let (before, during, after) = (phase(&s[..at]), phase(&s[at..at + best]), phase(&s[at + best..]));
    println!(
        "mpath both paths failed, queue_if_no_path: exit {code:?}; before {before}; stalled {during}; after {after}"
    );
    println!("faults: {}; verification {}", p["faults"], p["verification"]);
    check(during.secs >= 1.0, || format!("no stall of 1 s: the longest without ATS is {during}"))?;
    check(before.ops > 0 && after.ops > 0, || format!("no ATS before ({before}) or after ({after}) the stall"))?;
    check(u(&p, "errors") <= 4, || format!("{} errors while queueing: {}", p["errors"], p["faults"]))?;
    check(u(&p, "verification.violations") == 0, || format!("{}", p["verification"]))?;
    check(code == Some(if u(&p, "errors") == 0 { 0 } else { 11 }), || format!("exit {code:?}"))
}

const TARGET: &str = "/sys/kernel/config/target";
/// The test's own LUN: its fileio backstore and two tcm_loop ports (WWNs unlike the shared
/// LUN's).
const OWN_HBA: &str = "fileio_7";
const OWN_WWNS: [&str; 2] = ["naa.5001405000000071", "naa.5001405000000072"];
const OWN_IMG: &str = "/dev/shm/atsb-lio-own.img";

/// A LIO fileio LUN of 16 MiB exported through two tcm_loop ports, made through configfs and
/// removed on drop: its two sg nodes, paths A and B.
struct OwnLun {
    sgs: [String; 2],
}

fn write(p: &Path, v: &str) -> Result<(), String> {
    std::fs::write(p, v).map_err(|e| format!("writing {v} to {}: {e}", p.display()))
}

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

impl OwnLun {
    fn backstore() -> PathBuf {
        Path::new(TARGET).join("core").join(OWN_HBA).join("atsb_own")
    }

    fn tpg(wwn: &str) -> PathBuf {
        Path::new(TARGET).join("loopback").join(wwn).join("tpgt_1")
    }

    fn make() -> Result<OwnLun, String> {
        let mut lun = OwnLun { sgs: [String::new(), String::new()] };
        std::fs::File::create(OWN_IMG).and_then(|f| f.set_len(16 << 20)).map_err(|e| format!("{OWN_IMG}: {e}"))?;
        let b = Self::backstore();
        mkdir(&b)?;
        write(&b.join("control"), &format!("fd_dev_name={OWN_IMG},fd_dev_size={}", 16 << 20))?;
        write(&b.join("wwn/vpd_unit_serial"), "atsb-lio-own1")?;
        write(&b.join("enable"), "1")?;
        for (i, w) in OWN_WWNS.iter().enumerate() {
            let t = Self::tpg(w);
            mkdir(&t.join("lun/lun_0"))?;
            write(&t.join("nexus"), &format!("naa.50014050000000b{}", i + 1))?;
            let link = t.join("lun/lun_0/atsb_own_port");
            std::os::unix::fs::symlink(&b, &link).map_err(|e| format!("ln -s {}: {e}", link.display()))?;
        }
        let t0 = Instant::now();
        loop {
            let found: Vec<Option<String>> = OWN_WWNS.iter().map(|w| sg_of(&Self::tpg(w))).collect();
            if let [Some(a), Some(b)] = &found[..] {
                if Path::new(a).exists() && Path::new(b).exists() {
                    lun.sgs = [a.clone(), b.clone()];
                    return Ok(lun);
                }
            }
            if t0.elapsed() > Duration::from_secs(30) {
                return Err(format!("the own LUN's sg nodes did not appear within 30 s: {found:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn state(&self, path: usize) -> PathBuf {
        let name = Path::new(&self.sgs[path]).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        PathBuf::from(format!("/sys/class/scsi_generic/{name}/device/state"))
    }
}

/// The sg node of the tpg: its `address` says HOST:0:TPGT, the SCSI device is HOST:0:TPGT:0.
fn sg_of(tpg: &Path) -> Option<String> {
    let addr = std::fs::read_to_string(tpg.join("address")).ok()?;
    let addr = addr.trim();
    for d in std::fs::read_dir("/sys/class/scsi_generic").ok()?.flatten() {
        let dev = std::fs::read_link(d.path().join("device")).ok()?;
        let name = dev.file_name()?.to_string_lossy().into_owned();
        if name.starts_with(&format!("{addr}:")) {
            return Some(format!("/dev/{}", d.file_name().to_string_lossy()));
        }
    }
    None
}

impl Drop for OwnLun {
    fn drop(&mut self) {
        for i in 0..2 {
            if !self.sgs[i].is_empty() {
                let _ = std::fs::write(self.state(i), "running\n");
            }
        }
        let b = Self::backstore();
        for w in OWN_WWNS {
            let t = Self::tpg(w);
            let _ = std::fs::remove_file(t.join("lun/lun_0/atsb_own_port"));
            let _ = std::fs::remove_dir(t.join("lun/lun_0"));
            let _ = std::fs::remove_dir(&t);
            let _ = std::fs::remove_dir(Path::new(TARGET).join("loopback").join(w));
        }
        let _ = std::fs::remove_dir(&b);
        if let Err(e) = std::fs::remove_dir(b.parent().unwrap_or(&b)) {
            eprintln!("could not remove the own LUN's backstore: {e}");
        }
        let _ = std::fs::remove_file(OWN_IMG);
    }
}

/// Start host `index` of 2 on `sg` for 8 s, its results to `out`.
fn start_host(sg: &str, index: u32, out: &Path) -> Result<Child, String> {
    Command::new(bin())
        .args(["run", sg, "--workload", "ats", "--qd", "1", "--locks", "1", "--region", "0..1M", "--duration", "8"])
        .args(["--hosts", "2", "--host-id", &index.to_string(), "--seed", "4711", "--rendezvous-timeout", "15s"])
        .args(["--force", "-f", "json", "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting host {index}: {e}"))
}

/// Host 0 on path B, host 1 on path A of the own LUN; once ATS has made progress, path A goes
/// offline. Host 1's commands then fail with DID_NO_CONNECT: its point ends at once, its errors
/// counted (exit 8). Host 0 goes on to its 8 s, then waits in vain for host 1's DONE and keeps
/// its point without the final blocks (exit 10). `merge` reports both: host 1 with its errors,
/// host 0 with none and more operations, no verification.
fn lio_path_offline() -> TestResult {
    let lun = OwnLun::make()?;
    let [a, b] = lun.sgs.clone();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let files = [dir.path().join("host0.json"), dir.path().join("host1.json")];
    let one = start_host(&a, 1, &files[1])?;
    let zero = start_host(&b, 0, &files[0])?;
    // The lock block follows the two rendezvous blocks: byte 1024, read through path B's disk.
    let disk = sg_disk(&b)?;
    let watch = open_direct(&disk, false)?;
    let t0 = Instant::now();
    while generations(&watch, 1024, 1, 512)? == 0 {
        if t0.elapsed() > Duration::from_secs(90) {
            return Err("no ATS succeeded within 90 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    // The kernel takes a state name only with its newline (EINVAL without).
    write(&lun.state(0), "offline\n")?;
    let offline_at = Instant::now();
    let o1 = one.wait_with_output().map_err(|e| e.to_string())?;
    let gone_after = offline_at.elapsed().as_secs_f64();
    let o0 = zero.wait_with_output().map_err(|e| e.to_string())?;
    write(&lun.state(0), "running\n")?;
    let (e1, e0) = (String::from_utf8_lossy(&o1.stderr), String::from_utf8_lossy(&o0.stderr));
    println!("path A offline: host 1 (A) exit {:?} {gone_after:.1} s later: {}", o1.status.code(), e1.trim());
    println!("host 0 (B) exit {:?}: {}", o0.status.code(), e0.trim());
    let h1: Value = read_json(&files[1])?;
    let h0: Value = read_json(&files[0])?;
    let (p1, p0) = (point(&h1), point(&h0));
    println!("host 1: ops {}, errors {}, faults {}", p1["ops"], p1["errors"], p1["faults"]);
    println!("host 0: ops {}, errors {}, ended_by {}", p0["ops"], p0["errors"], p0["faults"]["ended_by"]);
    let merged = merge(&files)?;
    drop(lun);
    check(o1.status.code() == Some(8) && e1.contains("went away mid-run"), || format!("host 1: {e1}"))?;
    check(gone_after < 8.0, || format!("host 1 ended {gone_after:.1} s after its path went offline"))?;
    check(p1["faults"]["ended_by"] == "device_gone" && u(p1, "errors") > 0, || format!("{}", p1["faults"]))?;
    check(u(p1, "miscompares.corrupt") == 0, || format!("host 1: {}", p1["miscompares"]))?;
    check(o0.status.code() == Some(10) && e0.contains("not seen done"), || format!("host 0: {e0}"))?;
    check(p0["faults"]["ended_by"] == "duration" && u(p0, "errors") == 0, || format!("{}", p0["faults"]))?;
    check(u(p0, "ops") > u(p1, "ops"), || "host 0 did not go on past host 1".into())?;
    let per: Vec<&Value> = merged["points"][0]["per_host"].as_array().map(|v| v.iter().collect()).unwrap_or_default();
    check(per.len() == 2, || format!("merge: {merged}"))?;
    for h in &per {
        println!("merged, host {}: ops {}, errors {}", h["host"], h["ops"], h["errors"]);
    }
    check(u(per[1], "errors") == u(p1, "errors") && u(per[0], "errors") == 0, || format!("per host: {per:?}"))?;
    check(u(per[0], "ops") == u(p0, "ops") && u(per[1], "ops") == u(p1, "ops"), || format!("per host: {per:?}"))?;
    check(merged["points"][0]["verification"].is_null(), || format!("merged: {}", merged["points"][0]))
}

fn read_json(p: &Path) -> Result<Value, String> {
    let text = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// The disk (/dev/sdX) of an sg node.
fn sg_disk(sg: &str) -> Result<String, String> {
    let name = Path::new(sg).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = format!("/sys/class/scsi_generic/{name}/device/block");
    let mut found = std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?.flatten();
    let d = found.next().ok_or_else(|| format!("{dir} is empty"))?;
    Ok(format!("/dev/{}", d.file_name().to_string_lossy()))
}

/// `atsbench merge` of the hosts' files (JSON); its exit code must be 0 (nothing verified,
/// nothing broken).
fn merge(files: &[PathBuf]) -> Result<Value, String> {
    let out = Command::new(bin()).arg("merge").args(files).args(["-f", "json"]).output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(out.status.code() == Some(0), || format!("merge exited {:?}: {err}", out.status.code()))?;
    serde_json::from_slice(&out.stdout).map_err(|e| format!("merge printed no JSON ({e}): {err}"))
}
