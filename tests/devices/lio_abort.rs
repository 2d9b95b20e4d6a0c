//! `--on-timeout abort` on LIO: a LUN of its own, an iblock backstore on a dm-delay device over a
//! loop device on /dev/shm, exported through a third tcm_loop port (its own SCSI host, so the error
//! handler's work there leaves the two-path LUN of the other tests alone). dm-delay holds every
//! READ for a fixed time and lets WRITEs through: LIO's COMPARE AND WRITE waits in its read. A
//! timed-out command is aborted by the kernel through tcm_loop (ABORT TASK to LIO's task
//! management) while that read is outstanding: LIO aborts it before its compare and its write,
//! so an aborted command was never applied and its retry succeeds.
//!
//! LIO aborts a COMPARE AND WRITE only in that phase. Once the read and compare are done, the
//! command counts as complete to LIO's task management while its write is still outstanding,
//! and ABORT TASK answers TASK DOES NOT EXIST (`aborts_no_task` in the backstore's statistics).
//! With the WRITEs held instead, on the guest's Linux 6.12.118, the kernel then panics through
//! tcm_loop (list_add corruption in transport_generic_new_cmd, on the next command), and through
//! the kernel's iSCSI initiator the error handler escalates to a LUN reset, which returns the
//! command with DID_ERROR while its write is still pending (docs/diagnosis.md).
//!
//! The LUN is built by the test and torn down after it (in reverse, on drop).

use crate::common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

pub fn tests() -> Vec<DeviceTest> {
    vec![(Need::LioDelay, "lio_dm_delay_abort_in_the_read_retry_succeeds", abort_on_lio)]
}

const TARGET: &str = "/sys/kernel/config/target";
const WWN: &str = "naa.5001405000000003";
const NEXUS: &str = "naa.50014050000000a3";
const HBA: &str = "iblock_9";
const DM: &str = "atsb-delay";
const IMG: &str = "/dev/shm/atsb-delay.img";
/// How long dm-delay holds each READ.
const READ_DELAY_MS: u32 = 1500;

/// Runs a program (found on PATH, not a shell's applet); its trimmed stdout, or what failed.
fn cmd(prog: &str, args: &[&str]) -> Result<String, String> {
    let line = format!("{prog} {}", args.join(" "));
    // No udev in the guest: libdevmapper makes the /dev/mapper node itself.
    let out = Command::new(prog).args(args).env("DM_DISABLE_UDEV", "1").output();
    let out = out.map_err(|e| format!("running `{line}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{line}` exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn write(path: &str, v: &str) -> Result<(), String> {
    std::fs::write(path, v).map_err(|e| format!("writing {v:?} to {path}: {e}"))
}

fn read(path: &str) -> Result<String, String> {
    Ok(std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?.trim().to_string())
}

fn mkdir(path: &str) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("mkdir {path}: {e}"))
}

/// The delayed LUN; what was built is undone on drop.
#[derive(Default)]
struct DelayedLun {
    loopdev: Option<String>,
    dm: bool,
    backstore: bool,
    port: bool,
    sg: String,
}

impl DelayedLun {
    fn build() -> Result<DelayedLun, String> {
        let mut lun = DelayedLun::default();
        let img = std::fs::File::create(IMG).map_err(|e| format!("{IMG}: {e}"))?;
        img.set_len(16 << 20).map_err(|e| format!("{IMG}: {e}"))?;
        let loopdev = cmd("losetup", &["-f", "--show", IMG])?;
        lun.loopdev = Some(loopdev.clone());
        let sectors = read(&format!("/sys/block/{}/size", loopdev.trim_start_matches("/dev/")))?;
        // dm-delay's table: READs go to the device after READ_DELAY_MS, WRITEs at once.
        let table = format!("0 {sectors} delay {loopdev} 0 {READ_DELAY_MS} {loopdev} 0 0");
        cmd("dmsetup", &["create", DM, "--table", &table])?;
        lun.dm = true;
        let b = format!("{TARGET}/core/{HBA}/atsb_delay");
        mkdir(&b)?;
        lun.backstore = true;
        write(&format!("{b}/control"), &format!("udev_path=/dev/mapper/{DM}"))?;
        write(&format!("{b}/enable"), "1")?;
        let w = format!("{TARGET}/loopback/{WWN}/tpgt_1");
        mkdir(&format!("{w}/lun/lun_0"))?;
        lun.port = true;
        write(&format!("{w}/nexus"), NEXUS)?;
        std::os::unix::fs::symlink(&b, format!("{w}/lun/lun_0/atsb_port"))
            .map_err(|e| format!("linking the LUN: {e}"))?;
        lun.sg = find_sg(&format!("{w}/address"))?;
        Ok(lun)
    }
}

/// The sg node behind a tcm_loop tpg: its `address` says HOST:0:TPGT, the SCSI device is
/// HOST:0:TPGT:0. Waits up to 30 s for it to appear.
fn find_sg(address: &str) -> Result<String, String> {
    let addr = read(address)?;
    for _ in 0..300 {
        for e in std::fs::read_dir("/sys/class/scsi_generic").map_err(|e| e.to_string())?.flatten() {
            let dev = std::fs::canonicalize(e.path().join("device")).unwrap_or_default();
            let hctl = dev.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if hctl.starts_with(&format!("{addr}:")) {
                let sg = PathBuf::from("/dev").join(e.file_name());
                if sg.exists() {
                    return Ok(sg.to_string_lossy().to_string());
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("no sg node at SCSI address {addr}:* after 30 s"))
}

impl Drop for DelayedLun {
    fn drop(&mut self) {
        let w = format!("{TARGET}/loopback/{WWN}");
        let mut failed = Vec::new();
        let mut rm = |path: String, link: bool| {
            let r = if link { std::fs::remove_file(&path) } else { std::fs::remove_dir(&path) };
            if let Err(e) = r {
                failed.push(format!("{path}: {e}"));
            }
        };
        if self.port {
            rm(format!("{w}/tpgt_1/lun/lun_0/atsb_port"), true);
            for d in ["tpgt_1/lun/lun_0", "tpgt_1", ""] {
                rm(format!("{w}/{d}").trim_end_matches('/').to_string(), false);
            }
        }
        if self.backstore {
            rm(format!("{TARGET}/core/{HBA}/atsb_delay"), false);
            rm(format!("{TARGET}/core/{HBA}"), false);
        }
        if self.dm {
            failed.extend(cmd("dmsetup", &["remove", DM]).err());
        }
        if let Some(l) = &self.loopdev {
            failed.extend(cmd("losetup", &["-d", l]).err());
        }
        let _ = std::fs::remove_file(IMG);
        for e in failed {
            eprintln!("tearing the delayed LIO LUN down: {e}");
        }
    }
}

fn run(sg: &str, ops: u32, timeout_ms: u32) -> Result<Value, String> {
    let (ops, timeout) = (ops.to_string(), timeout_ms.to_string());
    let args = ["run", sg, "--workload", "ats", "--qd", "1", "--ops", &ops, "--seed", "7", "--force"];
    let opts = ["--timeout", &timeout, "--on-timeout", "abort", "--format", "json"];
    Ok(point(&atsbench_json(&[&args[..], &opts[..]].concat())?).clone())
}

fn counts(p: &Value) -> String {
    let a = &p["aborts"];
    format!(
        "ops {}, acquires {}, aborted {}, escalated {}, retries: own_write {} succeeded {} other {}; completed \
         before the abort {}; errors {}; ats p50 {} ns; violations {}; {} s; diagnosis {:?}",
        p["ops"],
        p["acquires"],
        a["aborted"],
        a["escalated"],
        a["retry_own_write"],
        a["retry_succeeded"],
        a["retry_other"],
        u(p, "acquires").saturating_sub(u(a, "retry_succeeded")),
        p["errors"],
        p["latency_ns"]["ats"]["p50"],
        p["verification"]["violations"],
        p["duration_s"],
        mechanisms(p)
    )
}

/// Known answer. READs held 1.5 s against --timeout 1000 (whose abort fires 1-2 s after the
/// send, the block layer's timer being rounded up to whole seconds): some commands complete
/// first, the others are aborted while their read waits in dm-delay; LIO ends an aborted
/// command before its compare and its write, so every retry of an aborted command succeeds
/// (none finds its own write); nothing escalates; the history verifies. With --timeout 4000
/// nothing is aborted.
fn abort_on_lio() -> TestResult {
    let lun = DelayedLun::build()?;
    let short = run(&lun.sg, 6, 1000);
    let long = run(&lun.sg, 4, 4000);
    let sg = lun.sg.clone();
    drop(lun);
    let (short, long) = (short?, long?);
    for (timeout, p) in [(1000, &short), (4000, &long)] {
        println!(
            "LIO {sg} (tcm_loop, iblock over dm-delay, READ {READ_DELAY_MS} ms), --timeout {timeout} --on-timeout \
             abort: {}",
            counts(p)
        );
    }
    let a = &short["aborts"];
    check(u(a, "aborted") > 0, || format!("nothing aborted: {}", counts(&short)))?;
    check(u(a, "escalated") == 0, || format!("escalated: {}", counts(&short)))?;
    check(u(a, "retry_succeeded") > 0 && u(a, "retry_own_write") == 0 && u(a, "retry_other") == 0, || {
        format!("an aborted command's retry did not succeed (was it applied?): {}", counts(&short))
    })?;
    check(u(&short, "verification.violations") == 0 && u(&short, "errors") == 0, || counts(&short))?;
    check(mechanisms(&short)[0] == "retry-after-timeout", || counts(&short))?;
    check(u(&long, "aborts.aborted") == 0 && u(&long, "acquires") == 4, || {
        format!("--timeout 4000: {}", counts(&long))
    })?;
    check(u(&long, "verification.violations") == 0 && u(&long, "errors") == 0, || counts(&long))
}
