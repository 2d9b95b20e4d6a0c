//! Shared helpers of the device tests: requirements, running atsbench, reading its JSON.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

pub type TestResult = Result<(), String>;

/// A device test: what it needs, its name, its body.
pub type DeviceTest = (Need, &'static str, fn() -> TestResult);

/// What a test needs to run.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Root and losetup (loop devices over /dev/shm).
    Loop,
    Nullb,
    /// null_blk with fault injection (CONFIG_BLK_DEV_NULL_BLK_FAULT_INJECTION) and configfs.
    NullbFaults,
    Nvme,
    Nvme4k,
    NvmeBlock,
    Sg,
    /// The scsi_debug sg node with its per-device error injection (debugfs
    /// `scsi_debug/H:C:T:L/error`, Linux 6.7+).
    SgInject,
    /// One LIO LUN through two paths: both sg nodes and both disks.
    Lio,
    /// A dm-multipath device over the two LIO paths, their disks, and dmsetup.
    Mpath,
    /// An nvmet namespace (no Compare): its generic char device and its block device.
    Nvmet,
    /// The LIO LUN through two kernel iSCSI sessions (iscsi_tcp, two initiator names): both sg
    /// nodes and both disks.
    IscsiKernel,
    /// LIO with an iblock backstore over dm-delay: root, losetup, dmsetup and the modules
    /// target_core_iblock, tcm_loop and dm_delay loaded.
    LioDelay,
}

/// The LIO LUN's first path (sg node).
pub const LIO_A: &str = "ATSBENCH_TEST_LIO_A";
/// The LIO LUN's second path (sg node).
pub const LIO_B: &str = "ATSBENCH_TEST_LIO_B";
/// The disk (sdX) of the first path.
pub const LIO_BLOCK_A: &str = "ATSBENCH_TEST_LIO_BLOCK_A";
/// The disk (sdX) of the second path.
pub const LIO_BLOCK_B: &str = "ATSBENCH_TEST_LIO_BLOCK_B";
/// The dm-multipath device over both paths (/dev/mapper/NAME).
pub const MPATH: &str = "ATSBENCH_TEST_MPATH";
/// The nvmet namespace's generic char device (ngXnY).
pub const NVMET: &str = "ATSBENCH_TEST_NVMET";
/// The nvmet namespace's block device (nvmeXnY).
pub const NVMET_BLOCK: &str = "ATSBENCH_TEST_NVMET_BLOCK";
/// The sg node of the LIO LUN through the first kernel iSCSI session.
pub const ISCSI_A: &str = "ATSBENCH_TEST_ISCSI_A";
/// The sg node of the LIO LUN through the second kernel iSCSI session.
pub const ISCSI_B: &str = "ATSBENCH_TEST_ISCSI_B";
/// The disk (sdX) of the first session.
pub const ISCSI_BLOCK_A: &str = "ATSBENCH_TEST_ISCSI_BLOCK_A";
/// The disk (sdX) of the second session.
pub const ISCSI_BLOCK_B: &str = "ATSBENCH_TEST_ISCSI_BLOCK_B";

/// The device a variable names ("" when unset; tests run only when their Need is met).
pub fn dev(var: &str) -> String {
    std::env::var(var).unwrap_or_default()
}

impl Need {
    /// The variables naming the devices this need covers; the first is `path()`.
    fn vars(self) -> &'static [&'static str] {
        match self {
            Need::Loop => &[],
            Need::Nullb | Need::NullbFaults => &["ATSBENCH_TEST_NULLB"],
            Need::Nvme => &["ATSBENCH_TEST_NVME"],
            Need::Nvme4k => &["ATSBENCH_TEST_NVME_4K"],
            Need::NvmeBlock => &["ATSBENCH_TEST_NVME_BLOCK"],
            Need::Sg | Need::SgInject => &["ATSBENCH_TEST_SG"],
            Need::Lio => &[LIO_A, LIO_B, LIO_BLOCK_A, LIO_BLOCK_B],
            Need::Mpath => &[MPATH, LIO_BLOCK_A, LIO_BLOCK_B],
            Need::Nvmet => &[NVMET, NVMET_BLOCK],
            Need::IscsiKernel => &[ISCSI_A, ISCSI_B, ISCSI_BLOCK_A, ISCSI_BLOCK_B],
            Need::LioDelay => &[],
        }
    }

    /// Why this test cannot run here, or None.
    pub fn missing(self) -> Option<String> {
        match self {
            Need::SgInject => return Need::Sg.missing().or_else(|| sg_error_file().err()),
            Need::LioDelay => return lio_delay_missing(),
            _ => {}
        }
        if matches!(self, Need::Mpath) && Command::new("dmsetup").arg("version").output().is_err() {
            return Some("no dm-multipath device: dmsetup is not installed".into());
        }
        if matches!(self, Need::NullbFaults) && std::env::var_os("ATSBENCH_TEST_NULLB").is_some() {
            if !std::path::Path::new("/sys/kernel/config/nullb").is_dir() {
                return Some("no configfs null_blk (/sys/kernel/config/nullb is missing)".into());
            }
            if !std::path::Path::new("/sys/module/null_blk/parameters/timeout").exists() {
                return Some(
                    "this kernel's null_blk has no fault injection (CONFIG_BLK_DEV_NULL_BLK_FAULT_INJECTION is off: \
                     /sys/module/null_blk/parameters/timeout is missing)"
                        .into(),
                );
            }
        }
        match self.vars().first() {
            None => {
                if !nix::unistd::geteuid().is_root() {
                    return Some("no loop device: needs root".into());
                }
                if Command::new("losetup").arg("--version").output().is_err() {
                    return Some("no loop device: losetup is not installed".into());
                }
                if !std::path::Path::new("/dev/shm").is_dir() {
                    return Some("no loop device: /dev/shm is missing".into());
                }
                None
            }
            Some(_) => self.vars().iter().find_map(|var| match std::env::var(var) {
                Ok(p) if p.is_empty() => Some(format!("no {} device ({var} is empty: the set-up failed)", self.what())),
                Ok(p) if std::path::Path::new(&p).exists() => None,
                Ok(p) => Some(format!("{var}={p} does not exist")),
                Err(_) => Some(format!("no {} device (set {var})", self.what())),
            }),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Need::Loop => "loop",
            Need::Nullb | Need::NullbFaults => "null_blk",
            Need::Nvme | Need::Nvme4k => "NVMe",
            Need::NvmeBlock => "NVMe block",
            Need::Sg => "SCSI generic",
            Need::Lio => "LIO two-path",
            Need::Mpath => "dm-multipath",
            Need::Nvmet => "nvmet",
            Need::IscsiKernel => "kernel iSCSI session",
            Need::SgInject => "scsi_debug error injection",
            Need::LioDelay => "LIO over dm-delay",
        }
    }

    /// The device path (only for env-var needs that are present).
    pub fn path(self) -> String {
        self.vars().first().map(|v| dev(v)).unwrap_or_default()
    }
}

/// The two kernel iSCSI sessions' sg nodes, each checked by `atsbench probe` to sit on an
/// iscsi_tcp SCSI host (so a test over them is over iSCSI, not over another path of the LUN).
pub fn iscsi_session_paths() -> Result<[String; 2], String> {
    let paths = [dev(ISCSI_A), dev(ISCSI_B)];
    for p in &paths {
        let doc = atsbench_json(&["probe", p, "--format", "json"])?;
        let lld = &doc["probe"]["lld"];
        check(lld == "iscsi_tcp", || format!("{p}: SCSI host driver {lld}, expected iscsi_tcp"))?;
    }
    Ok(paths)
}

/// The SCSI address (H:C:T:L) of an sg node, from its sysfs device link.
pub fn sg_hctl(sg: &str) -> Result<String, String> {
    let name = std::path::Path::new(sg).file_name().ok_or(format!("{sg}: no sg name"))?.to_string_lossy().to_string();
    let link = format!("/sys/class/scsi_generic/{name}/device");
    let dev = std::fs::canonicalize(&link).map_err(|e| format!("{link}: {e}"))?;
    Ok(dev.file_name().ok_or(format!("{link}: no SCSI address"))?.to_string_lossy().to_string())
}

/// scsi_debug's error-injection file of the test's sg node, or why there is none.
pub fn sg_error_file() -> Result<PathBuf, String> {
    let hctl = sg_hctl(&Need::Sg.path())?;
    let f = PathBuf::from(format!("/sys/kernel/debug/scsi_debug/{hctl}/error"));
    if f.exists() {
        Ok(f)
    } else {
        Err(format!("no {} (scsi_debug error injection needs Linux 6.7+ and debugfs mounted)", f.display()))
    }
}

fn lio_delay_missing() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root".into());
    }
    for tool in ["losetup", "dmsetup"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    ["target_core_iblock", "tcm_loop", "dm_delay"]
        .iter()
        .find(|m| !std::path::Path::new(&format!("/sys/module/{m}")).exists())
        .map(|m| format!("the kernel module {m} is not loaded"))
}

pub fn bin() -> PathBuf {
    std::env::var_os("ATSBENCH_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_atsbench")))
}

/// Run atsbench with `args`; returns its output.
pub fn atsbench(args: &[&str]) -> Result<Output, String> {
    Command::new(bin()).args(args).output().map_err(|e| format!("running {}: {e}", bin().display()))
}

/// Run atsbench, require exit 0 and parse its JSON (stdout).
pub fn atsbench_json(args: &[&str]) -> Result<Value, String> {
    let out = atsbench(args)?;
    if !out.status.success() {
        return Err(format!(
            "atsbench {} exited {:?}: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON from atsbench: {e}"))
}

/// Check a condition, with a message naming what was seen.
pub fn check(ok: bool, what: impl FnOnce() -> String) -> TestResult {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// The unsigned integer at the dotted `path` of a JSON document. A missing or non-numeric key
/// fails the test (the harness reports the panic) with the key's name: a renamed field must
/// never let a check pass.
pub fn u(v: &Value, path: &str) -> u64 {
    let got = path.split('.').fold(v, |v, k| &v[k]);
    got.as_u64().unwrap_or_else(|| panic!("JSON key `{path}` is missing or not an unsigned integer (found {got})"))
}

/// The mechanisms of a point's diagnosis, most important first.
pub fn mechanisms(p: &Value) -> Vec<String> {
    let d = p["diagnosis"].as_array().unwrap_or_else(|| panic!("JSON key `diagnosis` missing in {p}"));
    d.iter().map(|f| f["mechanism"].as_str().unwrap_or("?").to_string()).collect()
}

/// The first point of a result document.
pub fn point(doc: &Value) -> &Value {
    &doc["points"][0]
}

/// The ATS known answers: contention seen, no violation, nothing corrupt, final state verified.
pub fn check_ats_point(p: &Value) -> TestResult {
    check(u(p, "miscompares.contention") > 0, || format!("no contention seen: {}", p["miscompares"]))?;
    check(u(p, "verification.violations") == 0, || format!("violations: {}", p["verification"]))?;
    check(u(p, "verification.lost_updates") == 0, || format!("lost updates: {}", p["verification"]))?;
    check(u(p, "miscompares.corrupt") == 0, || format!("corrupt: {}", p["miscompares"]))?;
    check(u(p, "errors") == 0, || format!("errors: {}", p["error_samples"]))?;
    check(u(p, "acquires") > 0, || "no lock acquired".into())?;
    // A clean device run is diagnosed `contention` and `clean`, nothing else.
    let found = mechanisms(p);
    check(found.iter().all(|m| m == "contention" || m == "clean"), || {
        format!("diagnosis {found:?}: {}", p["diagnosis"])
    })
}

/// The contention run of the known answers: two workers, QD 8 each, on one lock block.
pub fn two_workers_on_one_lock(dev: &str, workload: &str, extra: &[&str]) -> Result<Value, String> {
    let mut args = vec!["run", dev, "--workload", workload, "--threads", "2", "--qd", "8", "--locks", "1"];
    args.extend_from_slice(&["--ops", "6000", "--format", "json"]);
    args.extend_from_slice(extra);
    atsbench_json(&args)
}

/// The rmw known answer: unserialised read-modify-write under contention loses updates.
pub fn check_rmw_lost_updates(p: &Value) -> TestResult {
    let lost = u(p, "verification.violations") + u(p, "verification.lost_updates");
    check(lost > 0, || format!("unserialised rmw lost no update: {}", p["verification"]))
}
