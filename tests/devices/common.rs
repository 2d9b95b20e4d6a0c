//! Shared helpers of the device tests: requirements, running atsbench, reading its JSON.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

pub type TestResult = Result<(), String>;

/// A device test: what it needs, its name, its body.
pub type DeviceTest = (Need, &'static str, fn() -> TestResult);

/// What a test needs to run.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // the NVMe and SCSI variants are used as their backends' tests land
pub enum Need {
    /// Root and losetup (loop devices over /dev/shm).
    Loop,
    Nullb,
    Nvme,
    Nvme4k,
    NvmeBlock,
    Sg,
}

impl Need {
    fn var(self) -> Option<&'static str> {
        match self {
            Need::Loop => None,
            Need::Nullb => Some("ATSBENCH_TEST_NULLB"),
            Need::Nvme => Some("ATSBENCH_TEST_NVME"),
            Need::Nvme4k => Some("ATSBENCH_TEST_NVME_4K"),
            Need::NvmeBlock => Some("ATSBENCH_TEST_NVME_BLOCK"),
            Need::Sg => Some("ATSBENCH_TEST_SG"),
        }
    }

    /// Why this test cannot run here, or None.
    pub fn missing(self) -> Option<String> {
        match self.var() {
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
            Some(var) => match std::env::var(var) {
                Ok(p) if std::path::Path::new(&p).exists() => None,
                Ok(p) => Some(format!("{var}={p} does not exist")),
                Err(_) => Some(format!("no {} device (set {var})", self.what())),
            },
        }
    }

    fn what(self) -> &'static str {
        match self {
            Need::Loop => "loop",
            Need::Nullb => "null_blk",
            Need::Nvme | Need::Nvme4k => "NVMe",
            Need::NvmeBlock => "NVMe block",
            Need::Sg => "SCSI generic",
        }
    }

    /// The device path (only for env-var needs that are present).
    pub fn path(self) -> String {
        self.var().and_then(|v| std::env::var(v).ok()).unwrap_or_default()
    }
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
    check(u(p, "acquires") > 0, || "no lock acquired".into())
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
