//! A device that goes away, and a device that times commands out (issue 18): each a known
//! answer, each leaving the devices as it found them.
//!
//! - A scsi_debug disk deleted mid-run (`echo 1 > .../device/delete`): the run stops at once
//!   (well before its `--duration`), one line names the device, the results keep what was
//!   measured, exit 8. The disk is one of its own: a second scsi_debug host (`add_host`),
//!   removed after, so the scsi_debug disk of the other tests is never touched.
//! - null_blk's timeout and requeue fault injection (configfs `timeout_inject`,
//!   `requeue_inject`; they need CONFIG_BLK_DEV_NULL_BLK_FAULT_INJECTION, else the test is
//!   skipped and says why).

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Sg, "scsi_debug_disk_deleted_mid_run_under_sg_ends_the_point_at_once_exit_8", deleted_under_sg),
        (Need::Sg, "scsi_debug_disk_deleted_mid_run_under_its_block_device_ends_at_once_exit_8", deleted_under_sd),
        (Need::NullbFaults, "nullb_timeout_injection_counts_timeouts_and_the_run_ends_on_time", nullb_timeouts),
        (Need::NullbFaults, "nullb_requeue_injection_is_invisible_but_for_latency", nullb_requeues),
    ]
}

/// The TCG guest is 14-20x slower than the host and shares its CPU: generous.
const SLACK_S: f64 = 20.0;

const SCSI_DEBUG: &str = "/sys/bus/pseudo/drivers/scsi_debug";

/// The sg nodes whose SCSI model is scsi_debug's.
fn scsi_debug_sgs() -> Vec<String> {
    let mut found = Vec::new();
    for d in std::fs::read_dir("/sys/class/scsi_generic").into_iter().flatten().flatten() {
        let model = std::fs::read_to_string(d.path().join("device/model")).unwrap_or_default();
        if model.contains("scsi_debug") {
            found.push(format!("/dev/{}", d.file_name().to_string_lossy()));
        }
    }
    found.sort();
    found
}

/// A scsi_debug host of the test's own (`add_host`), with its disk's sg node; the host is
/// removed on drop (its disk may already be gone).
struct ExtraHost {
    sg: String,
}

impl ExtraHost {
    fn add() -> Result<ExtraHost, String> {
        let before = scsi_debug_sgs();
        let add = PathBuf::from(SCSI_DEBUG).join("add_host");
        std::fs::write(&add, "1").map_err(|e| format!("writing 1 to {}: {e}", add.display()))?;
        let t0 = Instant::now();
        loop {
            let new: Vec<String> = scsi_debug_sgs().into_iter().filter(|s| !before.contains(s)).collect();
            if let Some(sg) = new.first().filter(|s| Path::new(s.as_str()).exists()) {
                return Ok(ExtraHost { sg: sg.clone() });
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = std::fs::write(&add, "-1");
                return Err(format!("no new scsi_debug sg node within 30 s of add_host (had {before:?})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn sys(&self, file: &str) -> PathBuf {
        let name = Path::new(&self.sg).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        PathBuf::from(format!("/sys/class/scsi_generic/{name}/device/{file}"))
    }

    /// The disk (/dev/sdX) of the host's SCSI device, once it is there: sd attaches the disk
    /// after sg has made its node.
    fn disk(&self) -> Result<String, String> {
        let dir = self.sys("block");
        let t0 = Instant::now();
        loop {
            let name = std::fs::read_dir(&dir).ok().and_then(|mut d| d.next()).and_then(Result::ok);
            if let Some(disk) = name.map(|d| format!("/dev/{}", d.file_name().to_string_lossy())) {
                if Path::new(&disk).exists() {
                    return Ok(disk);
                }
            }
            if t0.elapsed() > Duration::from_secs(30) {
                return Err(format!("no disk under {} within 30 s of add_host", dir.display()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Commands the SCSI device has seen (`iorequest_cnt`, hex).
    fn requests(&self) -> u64 {
        let text = std::fs::read_to_string(self.sys("iorequest_cnt")).unwrap_or_default();
        u64::from_str_radix(text.trim().trim_start_matches("0x"), 16).unwrap_or(0)
    }
}

impl Drop for ExtraHost {
    fn drop(&mut self) {
        let add = PathBuf::from(SCSI_DEBUG).join("add_host");
        if let Err(e) = std::fs::write(&add, "-1") {
            eprintln!("could not remove the extra scsi_debug host: {e}");
        }
    }
}

/// Through the sg node: ATS (COMPARE AND WRITE); sg says ENODEV once the disk is deleted.
fn deleted_under_sg() -> TestResult {
    deleted_mid_run(false)
}

/// Through the disk (/dev/sdX, block backend, host-emulated ATS): the block layer fails the
/// I/O of an offline or deleted SCSI disk with BLK_STS_OFFLINE, ENODEV. Seen once in seven guest
/// runs: the kernel held the I/O of the deleted disk instead (the `delete` write itself took
/// minutes), nothing failed until the point's end, and ENODEV came in the drain; so here the
/// bound is the point's 30 s plus the grace, and the line says which it was.
fn deleted_under_sd() -> TestResult {
    deleted_mid_run(true)
}

/// ATS on a scsi_debug disk of its own (its sg node, or its block device) for up to 120 s;
/// once it has sent a few thousand commands, the disk is deleted. The run must end at once:
/// exit 8, one line naming the device and "went away mid-run", the results written with
/// `ended_by: device_gone`, the error that said so, what was measured before (ops > 0), no
/// verification. The other scsi_debug disk stays as it was.
fn deleted_mid_run(block: bool) -> TestResult {
    let host = ExtraHost::add()?;
    let target = if block { host.disk()? } else { host.sg.clone() };
    let duration: u32 = if block { 30 } else { 120 };
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = dir.path().join("gone.json");
    let t0 = Instant::now();
    let child = Command::new(bin())
        .args(["run", &target, "--workload", "ats", "--qd", "4", "--duration", &duration.to_string()])
        .args(["--seed", "5", "--force"])
        .args(["-f", "json", "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting atsbench: {e}"))?;
    let start = host.requests();
    let mut child = scopeguard(child);
    while host.requests() < start + 2000 {
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(format!("atsbench sent {} commands in 60 s", host.requests() - start));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let delete = host.sys("delete");
    let deleted_at = Instant::now();
    std::fs::write(&delete, "1").map_err(|e| format!("writing 1 to {}: {e}", delete.display()))?;
    let o = child.take().wait_with_output().map_err(|e| e.to_string())?;
    let (after, total) = (deleted_at.elapsed().as_secs_f64(), t0.elapsed().as_secs_f64());
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    let name = target;
    drop(host);
    println!(
        "scsi_debug disk {name} deleted mid-run: exit {:?} {after:.1} s later ({total:.1} s in all): {err}",
        o.status.code()
    );
    check(o.status.code() == Some(8), || format!("exit {:?}, documented 8: {err}", o.status.code()))?;
    let bound = if block { f64::from(duration) + 1.0 + SLACK_S } else { 1.0 + SLACK_S };
    check(after < bound, || format!("ended {after:.1} s after the delete"))?;
    check(err.lines().count() == 1 && err.contains(&format!("{name} went away mid-run")), || format!("stderr: {err}"))?;
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?)
        .map_err(|e| format!("results: {e}"))?;
    let p = point(&doc);
    let f = &p["faults"];
    println!("faults: {f}; ops {}, errors {}, verification {}", p["ops"], p["errors"], p["verification"]);
    // Held I/O (block, see deleted_under_sd) fails only in the drain: the point ended by its
    // duration, and the run still stops with the device gone.
    let ended = f["ended_by"] == "device_gone" || block && f["ended_by"] == "duration";
    check(ended, || format!("ended_by {}", f["ended_by"]))?;
    let said = f["device_gone"]["error"].as_str().unwrap_or_default();
    // A disk deleted just after the point's stop is met by the read-back, which reads 0 bytes
    // of it: "end of device" (the loop test shrunk_to_nothing shows that answer on the host).
    let words = ["ENODEV", "ENXIO", "DID_NO_CONNECT", "DID_BAD_TARGET", "end of device"];
    check(words.contains(&said), || format!("device_gone {f}"))?;
    check(err.contains(said), || format!("the line does not say {said}: {err}"))?;
    check(u(p, "ops") > 0 && p["verification"].is_null(), || format!("ops {}, {}", p["ops"], p["verification"]))?;
    check(u(p, "miscompares.corrupt") == 0, || format!("{}", p["miscompares"]))?;
    let sg = Need::Sg.path();
    check(Path::new(&sg).exists(), || format!("the other scsi_debug disk {sg} is gone"))
}

/// A child process killed on drop unless taken (a failed check must not leave it running).
struct Guard(Option<std::process::Child>);

fn scopeguard(c: std::process::Child) -> Guard {
    Guard(Some(c))
}

impl Guard {
    fn take(&mut self) -> std::process::Child {
        self.0.take().expect("taken once")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const NULLB_CONFIG: &str = "/sys/kernel/config/nullb";

/// A configfs null_blk device with one fault injection group set (`timeout_inject` or
/// `requeue_inject`: every `interval`-th command, without limit), its block layer timeout at
/// `timeout_ms`; powered off and removed on drop.
struct FaultyNullb {
    dir: PathBuf,
    dev: String,
}

impl FaultyNullb {
    fn new(name: &str, group: &str, interval: u32, timeout_ms: u32) -> Result<FaultyNullb, String> {
        let dir = Path::new(NULLB_CONFIG).join(name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let mut n = FaultyNullb { dir, dev: String::new() };
        for (attr, v) in [("size", "16"), ("blocksize", "512"), ("memory_backed", "1"), ("irqmode", "0")] {
            n.write(attr, v)?;
        }
        let g = n.dir.join(group);
        if !g.is_dir() {
            return Err(format!("{} is missing: this null_blk has no configfs fault injection", g.display()));
        }
        for (attr, v) in [("probability", "100"), ("interval", &interval.to_string()), ("times", "-1")] {
            n.write(&format!("{group}/{attr}"), v)?;
        }
        n.write("power", "1")?;
        let index = std::fs::read_to_string(n.dir.join("index")).map_err(|e| format!("index: {e}"))?;
        let names = [format!("/dev/{name}"), format!("/dev/nullb{}", index.trim())];
        let t0 = Instant::now();
        let dev = loop {
            if let Some(d) = names.iter().find(|d| Path::new(d).exists()) {
                break d.clone();
            }
            if t0.elapsed() > Duration::from_secs(20) {
                return Err(format!("neither of {names:?} appeared within 20 s of power=1"));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let t = format!("/sys/block/{}/queue/io_timeout", dev.trim_start_matches("/dev/"));
        n.dev = dev;
        std::fs::write(&t, timeout_ms.to_string()).map_err(|e| format!("writing {timeout_ms} to {t}: {e}"))?;
        Ok(n)
    }

    fn write(&self, attr: &str, v: &str) -> Result<(), String> {
        let p = self.dir.join(attr);
        std::fs::write(&p, v).map_err(|e| format!("writing {v} to {}: {e}", p.display()))
    }
}

impl Drop for FaultyNullb {
    fn drop(&mut self) {
        let _ = self.write("power", "0");
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
    }
}

/// Random 512 B reads of a null_blk device for 3 s; exit code, point and wall time.
fn nullb_reads(dev: &str) -> Result<(Option<i32>, Value, f64), String> {
    let args = ["run", dev, "--workload", "read", "--qd", "4", "--bs", "512", "--region", "0..2M", "--duration", "3"];
    let t0 = Instant::now();
    let out = atsbench(&[&args[..], &["--seed", "5", "--force", "--format", "json"]].concat())?;
    let secs = t0.elapsed().as_secs_f64();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))?;
    println!("stderr: {}", String::from_utf8_lossy(&out.stderr).trim());
    Ok((out.status.code(), point(&doc).clone(), secs))
}

/// `timeout_inject` every 200th command: null_blk never completes it; the block layer's
/// timeout (set to 500 ms) fires and null_blk ends it with BLK_STS_TIMEOUT, which io_uring
/// returns as ETIMEDOUT. Counted under reads as `errno ETIMEDOUT` (and as aborted), the run
/// goes on and ends on time, exit 11; never a miscompare.
fn nullb_timeouts() -> TestResult {
    let n = FaultyNullb::new("atsb-timeouts", "timeout_inject", 200, 500)?;
    let r = nullb_reads(&n.dev);
    drop(n);
    let (code, p, secs) = r?;
    let read = &p["faults"]["by_op"]["read"];
    println!("null_blk timeout_inject interval 200, read 3 s: exit {code:?} in {secs:.1} s: ops {}, {read}", p["ops"]);
    check(code == Some(11), || format!("exit {code:?}, documented 11"))?;
    check(secs < 3.0 + 1.0 + SLACK_S, || format!("took {secs:.1} s"))?;
    let kinds = read["by_kind"].as_object().cloned().unwrap_or_default();
    check(kinds.keys().any(|k| k.starts_with("errno ETIMEDOUT")), || format!("kinds: {kinds:?}"))?;
    check(u(read, "aborted") > 0 && u(&p, "ops") > 0, || format!("{read}"))?;
    check(p["faults"]["ended_by"] == "duration", || format!("{}", p["faults"]))
}

/// `requeue_inject` every 50th command: null_blk hands it back to the block layer, which sends
/// it again. Nothing fails: 0 errors, exit 0; the requeues only add latency.
fn nullb_requeues() -> TestResult {
    let n = FaultyNullb::new("atsb-requeues", "requeue_inject", 50, 30_000)?;
    let r = nullb_reads(&n.dev);
    drop(n);
    let (code, p, secs) = r?;
    println!(
        "null_blk requeue_inject interval 50, read 3 s: exit {code:?} in {secs:.1} s: ops {}, errors {}, read p99 {} ns",
        p["ops"], p["errors"], p["latency_ns"]["read"]["p99"]
    );
    check(code == Some(0), || format!("exit {code:?}: {}", p["faults"]))?;
    check(u(&p, "errors") == 0 && u(&p, "ops") > 0, || format!("{}", p["faults"]))
}
