//! Device faults with known answers (issue 18): scsi_debug returning medium errors, and
//! scsi_debug ignoring commands (its `opts` timeout). Each run must count what the device did
//! as errors by kind (never as miscompares), end within its duration plus the drain's grace
//! (with slack for the TCG guest), and exit 11 ("the device returned errors"). Each test
//! restores scsi_debug as it found it, and waits for the kernel to finish with commands it left
//! behind, so that the tests after it find an idle device.

use crate::common::*;
use crate::scsi_debug_faults::Knob;
use serde_json::Value;
use std::time::{Duration, Instant};

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Sg, "scsi_debug_medium_errors_are_counted_by_kind_and_the_run_ends_on_time", medium_errors),
        (Need::Sg, "scsi_debug_ignored_commands_are_abandoned_and_the_run_ends_on_time", ignored_commands),
        (Need::Nullb, "nullb_badblocks_are_counted_as_eio_and_the_run_ends_on_time", nullb_badblocks),
    ]
}

/// The TCG guest is 14-20x slower than the host and shares its CPU: generous.
const SLACK_S: f64 = 20.0;

/// Run atsbench for a point of `secs` seconds; its exit code, JSON point and wall time.
fn timed_point(args: &[&str]) -> Result<(Option<i32>, Value, f64), String> {
    let t0 = Instant::now();
    let out = atsbench(args)?;
    let secs = t0.elapsed().as_secs_f64();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("atsbench {}: no JSON ({e}): {}", args.join(" "), String::from_utf8_lossy(&out.stderr)))?;
    println!("stderr: {}", String::from_utf8_lossy(&out.stderr).trim());
    Ok((out.status.code(), point(&doc).clone(), secs))
}

fn faults_line(p: &Value) -> String {
    format!(
        "ops {}, errors {}, timeouts {}, late {}, miscompares {}, faults {}",
        p["ops"], p["errors"], p["timeouts"], p["late_completions"], p["miscompares"]["total"], p["faults"]
    )
}

/// scsi_debug's `opts` bit 2 (medium error): reads of LBAs from `medium_error_start` (0x1234
/// = 4660 by default) for `medium_error_count` (10) blocks fail with MEDIUM ERROR, UNRECOVERED
/// READ ERROR (03/11/00). Random reads of 2M..3M (LBAs 4096-6143) meet them about once in 200.
fn medium_errors() -> TestResult {
    let sg = Need::Sg.path();
    let opts = Knob::param("opts", "2")?;
    let args = ["run", &sg, "--workload", "read", "--qd", "4", "--region", "2M..3M", "--duration", "3"];
    let r = timed_point(&[&args[..], &["--seed", "5", "--force", "--format", "json"]].concat());
    drop(opts);
    let (code, p, secs) = r?;
    println!("scsi_debug opts=2 (medium error), read 3 s: exit {code:?} in {secs:.1} s: {}", faults_line(&p));
    check(code == Some(11), || format!("exit {code:?}, documented 11"))?;
    check(secs < 3.0 + 1.0 + SLACK_S, || format!("took {secs:.1} s"))?;
    check(p["faults"]["ended_by"] == "duration", || faults_line(&p))?;
    check(u(&p, "errors") > 0, || faults_line(&p))?;
    let kinds = p["faults"]["by_op"]["read"]["by_kind"].as_object().cloned().unwrap_or_default();
    check(kinds.keys().any(|k| k.contains("MEDIUM ERROR 11/00")), || format!("kinds: {kinds:?}"))?;
    check(u(&p, "miscompares.total") == 0, || faults_line(&p))?;
    check(u(&p, "ops") > 0, || "no read completed beside the errors".into())
}

/// Wait until the SCSI device behind `sg` has no command outstanding (the kernel's own timeout
/// and error handler deal with ignored ones); returns how long that took.
fn wait_idle(sg: &str, limit: Duration) -> Result<f64, String> {
    let name = std::path::Path::new(sg).file_name().ok_or("no sg name")?.to_string_lossy().to_string();
    let busy = format!("/sys/class/scsi_generic/{name}/device/device_busy");
    let t0 = Instant::now();
    loop {
        let n = std::fs::read_to_string(&busy).map_err(|e| format!("{busy}: {e}"))?;
        if n.trim() == "0" {
            return Ok(t0.elapsed().as_secs_f64());
        }
        if t0.elapsed() > limit {
            return Err(format!("{busy} still {} after {} s", n.trim(), limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// scsi_debug's `opts` bit 4 (timeout) with `every_nth` 100: one command in 100 is never
/// answered. ATS with `--timeout 200` gives those up and resends on the other lane; at the end
/// of the point the unanswered ones are abandoned after the grace (1 s), counted, and left to
/// the kernel, whose 60 s command timeout and error handler abort them later.
fn ignored_commands() -> TestResult {
    let sg = Need::Sg.path();
    let every = Knob::param("every_nth", "100")?;
    let opts = Knob::param("opts", "4")?;
    let args = ["run", &sg, "--workload", "ats", "--qd", "4", "--duration", "3", "--timeout", "200"];
    let r = timed_point(&[&args[..], &["--seed", "5", "--force", "--format", "json"]].concat());
    drop(opts);
    drop(every);
    let idle = wait_idle(&sg, Duration::from_secs(240));
    let (code, p, secs) = r?;
    let idle = idle?;
    println!(
        "scsi_debug every_nth=100 opts=4 (ignore), ats --timeout 200, 3 s: exit {code:?} in {secs:.1} s, device idle \
         {idle:.1} s later: {}",
        faults_line(&p)
    );
    check(secs < 3.0 + 1.0 + SLACK_S, || format!("took {secs:.1} s"))?;
    let abandoned = u(&p, "faults.abandoned");
    check(abandoned > 0 || u(&p, "timeouts") > 0, || format!("no command seen unanswered: {}", faults_line(&p)))?;
    if abandoned > 0 {
        check(code == Some(11), || format!("exit {code:?} with abandoned commands, documented 11"))?;
        check(p["verification"].is_null(), || "blocks that may still change were verified".into())?;
    }
    check(u(&p, "miscompares.contention") + u(&p, "miscompares.corrupt") == 0, || faults_line(&p))
}

const NULLB_CONFIG: &str = "/sys/kernel/config/nullb";

/// A null_blk device made through configfs for one test (memory-backed, 512 B blocks), powered
/// off and removed on drop.
struct ConfigNullb {
    dir: std::path::PathBuf,
    dev: String,
}

impl ConfigNullb {
    fn new(name: &str, size_mb: u32, badblocks: &str) -> Result<ConfigNullb, String> {
        if !std::path::Path::new(NULLB_CONFIG).is_dir() {
            return Err(format!("{NULLB_CONFIG} is missing: configfs is not mounted or null_blk has no configfs"));
        }
        let dir = std::path::Path::new(NULLB_CONFIG).join(name);
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let mut n = ConfigNullb { dir, dev: String::new() };
        for (attr, v) in [("size", size_mb.to_string()), ("blocksize", "512".into()), ("memory_backed", "1".into())] {
            n.write(attr, &v)?;
        }
        n.write("badblocks", badblocks)?;
        n.write("power", "1")?;
        let index = std::fs::read_to_string(n.dir.join("index")).map_err(|e| format!("index: {e}"))?;
        // Newer kernels name the disk after the configfs item, older ones nullb<index>.
        let names = [format!("/dev/{name}"), format!("/dev/nullb{}", index.trim())];
        let t0 = Instant::now();
        loop {
            if let Some(dev) = names.iter().find(|d| std::path::Path::new(d).exists()) {
                n.dev = dev.clone();
                return Ok(n);
            }
            if t0.elapsed() > Duration::from_secs(20) {
                return Err(format!("neither of {names:?} appeared within 20 s of power=1"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn write(&self, attr: &str, v: &str) -> Result<(), String> {
        let p = self.dir.join(attr);
        std::fs::write(&p, v).map_err(|e| format!("writing {v} to {}: {e}", p.display()))
    }
}

impl Drop for ConfigNullb {
    fn drop(&mut self) {
        let _ = self.write("power", "0");
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
    }
}

/// null_blk's configfs `badblocks`: I/O touching sectors 2048-2063 fails with EIO (reads and
/// writes alike, so no lock block may lie there: their set-up would fail, exit 8). Random 512 B
/// reads, then writes, of the first 2 MiB meet them about once in 256: counted as EIO under their
/// command kind, the run goes on and ends on time, exit 11.
fn nullb_badblocks() -> TestResult {
    let n = ConfigNullb::new("atsb-badblocks", 16, "+2048-2063")?;
    let mut seen = Vec::new();
    for workload in ["read", "write"] {
        seen.push(timed_point(&[
            "run",
            &n.dev,
            "--workload",
            workload,
            "--qd",
            "4",
            "--bs",
            "512",
            "--region",
            "0..2M",
            "--duration",
            "3",
            "--seed",
            "5",
            "--force",
            "--format",
            "json",
        ]));
    }
    drop(n);
    for (workload, r) in ["read", "write"].into_iter().zip(seen) {
        let (code, p, secs) = r?;
        println!("null_blk badblocks 2048-2063, {workload} 3 s: exit {code:?} in {secs:.1} s: {}", faults_line(&p));
        check(code == Some(11), || format!("{workload}: exit {code:?}, documented 11"))?;
        check(secs < 3.0 + 1.0 + SLACK_S, || format!("{workload}: took {secs:.1} s"))?;
        check(u(&p, "errors") > 0 && u(&p, "ops") > 0, || faults_line(&p))?;
        let kinds = p["faults"]["by_op"][workload]["by_kind"].as_object().cloned().unwrap_or_default();
        check(kinds.keys().any(|k| k.starts_with("errno EIO")), || format!("{workload}: kinds {kinds:?}"))?;
    }
    Ok(())
}
