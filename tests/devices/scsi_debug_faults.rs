//! Timeouts on a real device: scsi_debug executes a command when it is queued and delays only
//! its response (`schedule_resp()` runs the resp_*() function, then arms the delay timer). A
//! response delayed beyond atsbench's `--timeout` belongs to a COMPARE AND WRITE that has
//! already landed, so the resend finds the host's own new image: `own_write`. The same through
//! the device's queue depth: with a fixed response delay and `queue_depth` 1, commands beyond
//! the first wait in the kernel, and once they wait longer than the timeout the same happens.
//!
//! The module parameters are writable at run time under /sys/bus/pseudo/drivers/scsi_debug/
//! (only while no command is queued); each test restores what it changed when it ends, so the
//! other tests (run one at a time in the guest) see scsi_debug as loaded.

use crate::common::*;
use serde_json::Value;
use std::path::PathBuf;

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Sg, "scsi_debug_response_delay_beyond_the_timeout_gives_own_write", response_delay),
        (Need::Sg, "scsi_debug_abort_after_the_timeout_then_retry_finds_own_write", abort_and_retry),
        (Need::Sg, "scsi_debug_queue_depth_sweep_waits_then_times_out_into_own_write", queue_depth_sweep),
        (Need::SgInject, "scsi_debug_abort_escalated_to_offline_stops_the_run_exit_8", abort_escalates),
    ]
}

const PARAMS: &str = "/sys/bus/pseudo/drivers/scsi_debug";

/// A sysfs value set for the test's duration; the old value is written back on drop (in
/// reverse order of setting when several are held).
pub struct Knob {
    path: PathBuf,
    old: String,
}

impl Knob {
    pub fn set(path: PathBuf, v: &str) -> Result<Knob, String> {
        let old = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        std::fs::write(&path, v).map_err(|e| format!("writing {v} to {}: {e}", path.display()))?;
        Ok(Knob { path, old: old.trim().to_string() })
    }

    pub fn param(name: &str, v: &str) -> Result<Knob, String> {
        Knob::set(PathBuf::from(PARAMS).join(name), v)
    }
}

impl Drop for Knob {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(&self.path, &self.old) {
            eprintln!("could not restore {} to {}: {e}", self.path.display(), self.old);
        }
    }
}

/// The scsi_debug response delay: `ndelay` (ns), uniform in [0, ns) with `random`. Writing
/// `ndelay` 0 back sets the jiffies delay to the driver's default (1), so `delay` is restored
/// after it: the knobs drop in reverse order.
fn response_delay_of(ns: u64, random: bool) -> Result<Vec<Knob>, String> {
    let delay = Knob::param("delay", "0")?;
    let random = Knob::param("random", if random { "1" } else { "0" })?;
    let ndelay = Knob::param("ndelay", &ns.to_string())?;
    Ok(vec![delay, random, ndelay])
}

fn restore(mut knobs: Vec<Knob>) {
    while let Some(k) = knobs.pop() {
        drop(k);
    }
}

fn ats(qd: u32, ops: u32, timeout_ms: Option<u32>) -> Result<Value, String> {
    let (qd, ops, timeout) = (qd.to_string(), ops.to_string(), timeout_ms.map(|t| t.to_string()));
    let sg = Need::Sg.path();
    // Every actor on a lock block of its own (the default --contention 1): no miscompare is
    // contention, so each one is the delay's doing.
    let mut args = vec!["run", &sg, "--workload", "ats", "--qd", &qd];
    args.extend_from_slice(&["--ops", &ops, "--seed", "5", "--force", "--format", "json"]);
    if let Some(t) = &timeout {
        args.extend_from_slice(&["--timeout", t]);
    }
    Ok(point(&atsbench_json(&args)?).clone())
}

fn summary(p: &Value) -> String {
    format!(
        "qd {}: ats p50 {} ns, ops {}, timeouts {}, late_completions {}, own_write {}, contention {}, violations {}",
        p["qd"],
        p["latency_ns"]["ats"]["p50"],
        p["ops"],
        p["timeouts"],
        p["late_completions"],
        p["miscompares"]["own_write"],
        p["miscompares"]["contention"],
        p["verification"]["violations"]
    )
}

/// What a run with given-up commands must show: own writes and nothing else; the history
/// verifies (late successes are claimed). The diagnosis: `retry-after-timeout`, after the
/// `queue-wait` that `queued` says the device's queue shows.
fn check_own_writes(p: &Value, queued: bool) -> TestResult {
    check(u(p, "timeouts") > 0, || format!("no timeout: {}", summary(p)))?;
    check(u(p, "late_completions") > 0, || format!("no late completion: {}", summary(p)))?;
    check(u(p, "miscompares.own_write") > 0, || format!("no own_write: {}", summary(p)))?;
    for class in ["contention", "corrupt", "stale", "false", "split"] {
        check(u(p, &format!("miscompares.{class}")) == 0, || format!("{class}: {}", p["miscompares"]))?;
    }
    check(u(p, "verification.violations") == 0, || format!("violations: {}", p["verification"]))?;
    check(u(p, "errors") == 0, || format!("errors: {}", p["error_samples"]))?;
    let found = mechanisms(p);
    let want: &[&str] = if queued { &["queue-wait", "retry-after-timeout"] } else { &["retry-after-timeout"] };
    check(found == want, || format!("diagnosis {found:?}: {}", p["diagnosis"]))
}

/// Responses delayed uniformly up to 40 ms against a 10 ms timeout: three in four commands are
/// given up; their writes have landed, so the resends miscompare against their own images.
fn response_delay() -> TestResult {
    let knobs = response_delay_of(40_000_000, true)?;
    let p = ats(2, 150, Some(10));
    restore(knobs);
    let p = p?;
    println!("scsi_debug ndelay 40 ms random, --timeout 10: {}", summary(&p));
    check_own_writes(&p, false)?;
    // Without the timeout the same delays only slow the attempts down.
    let knobs = response_delay_of(40_000_000, true)?;
    let q = ats(2, 40, None);
    restore(knobs);
    let q = q?;
    println!("scsi_debug ndelay 40 ms random, no timeout: {}", summary(&q));
    check(u(&q, "miscompares.total") == 0 && u(&q, "timeouts") == 0, || format!("without --timeout: {}", summary(&q)))
}

/// The device's queue depth: scsi_debug's SCSI device (the sg node's `device/queue_depth`) set
/// to 1, each response 2 ms. At QD 1 nothing waits and nothing times out against 10 ms; at QD 16
/// fifteen commands wait behind the one slot, about 30 ms, so commands are given up and their
/// resends meet their own writes. The ATS latency the sweep prints rises with QD; the test
/// checks counts only. The device's queue depth is in the results (`device_queue_depth` 1), and
/// beyond QD 1 the commands in flight (Little's law) exceed it: `queue-wait`, not at QD 1.
fn queue_depth_sweep() -> TestResult {
    let sg = Need::Sg.path();
    let name = std::path::Path::new(&sg).file_name().ok_or("no sg name")?.to_string_lossy().to_string();
    let depth = PathBuf::from(format!("/sys/class/scsi_generic/{name}/device/queue_depth"));
    let qd_knob = Knob::set(depth, "1")?;
    let knobs = response_delay_of(2_000_000, false)?;
    // The latency curve without a timeout, then QD 1 and QD 16 with one.
    let runs = [(1, None), (4, None), (16, None), (1, Some(10)), (16, Some(10))];
    let points: Vec<_> = runs.iter().map(|&(qd, timeout)| ats(qd, 100, timeout)).collect();
    restore(knobs);
    drop(qd_knob);
    let points = points.into_iter().collect::<Result<Vec<_>, _>>()?;
    for ((_, timeout), p) in runs.iter().zip(&points) {
        let t = timeout.map_or("no timeout".into(), |t| format!("--timeout {t}"));
        println!("scsi_debug queue_depth 1, ndelay 2 ms, {t}: {}", summary(p));
        check(u(p, "verification.violations") == 0 && u(p, "errors") == 0, || summary(p))?;
    }
    for p in &points[..3] {
        check(u(p, "timeouts") == 0, || format!("timeouts without --timeout: {}", summary(p)))?;
        check(u(p, "ring.backend.device_queue_depth") == 1, || format!("backend {}", p["ring"]["backend"]))?;
        let found = mechanisms(p);
        println!("qd {}: diagnosis {found:?}: {}", p["qd"], p["diagnosis"][0]["text"]);
        let queued = found.iter().any(|m| m == "queue-wait");
        check(queued == (u(p, "qd") > 1), || format!("qd {}: diagnosis {found:?}", p["qd"]))?;
    }
    let (low, high) = (&points[3], &points[4]);
    // At QD 1 a command waits for nobody: a timeout there is a stall of the (TCG) guest, rare
    // against the storm that the queue makes at QD 16.
    check(u(low, "miscompares.own_write") * 10 <= u(high, "miscompares.own_write"), || {
        format!("own_write at QD 1 is not rare against QD 16: {} / {}", summary(low), summary(high))
    })?;
    check(u(low, "timeouts") * 10 <= u(high, "timeouts"), || format!("{} / {}", summary(low), summary(high)))?;
    check_own_writes(high, true)
}

/// ESXi's abort-and-retry (`--on-timeout abort`): COMPARE AND WRITE goes out with the
/// --timeout as its sg timeout; the kernel's SCSI error handler aborts it at scsi_debug (ABORT
/// TASK), then atsbench retries the same images. The block layer checks request deadlines on a
/// timer rounded up to whole seconds, so a command times out 1-2 s after it was sent whatever
/// the --timeout below that: responses delayed uniformly up to 3 s against --timeout 1000 are
/// aborted about half the time. scsi_debug applies a command when it arrives and delays only
/// its response, so every aborted command had been applied: the retries find their own write.
/// The delay is restored after.
fn abort_and_retry() -> TestResult {
    // `ndelay` stops below a second: the delay goes in jiffies (750: 3 s at Debian's HZ 250).
    // Knobs drop in reverse: delay back to 1 (ndelay's default), ndelay, random, delay to 0.
    let knobs = vec![
        Knob::param("delay", "0")?,
        Knob::param("random", "1")?,
        Knob::param("ndelay", "0")?,
        Knob::param("delay", "750")?,
    ];
    let sg = Need::Sg.path();
    let args = ["run", &sg, "--workload", "ats", "--qd", "1", "--ops", "6", "--seed", "5", "--force"];
    let out = atsbench_json(&[&args[..], &["--timeout", "1000", "--on-timeout", "abort", "--format", "json"]].concat());
    restore(knobs);
    let p = point(&out?).clone();
    let a = &p["aborts"];
    println!("scsi_debug delay 3 s random, --timeout 1000 --on-timeout abort: aborts {a}, {}", summary(&p));
    check(u(a, "aborted") > 0, || format!("no abort: {a}"))?;
    check(u(a, "escalated") == 0, || format!("escalated: {a}"))?;
    check(u(a, "retry_own_write") > 0, || format!("no retry found its own write: {a}"))?;
    check(u(&p, "timeouts") == 0, || "nothing is given up in user space with abort".into())?;
    check(u(&p, "verification.violations") == 0, || format!("violations: {}", p["verification"]))?;
    let found = mechanisms(&p);
    check(found[0] == "retry-after-timeout", || format!("diagnosis {found:?}: {}", p["diagnosis"]))
}

/// Rules written to scsi_debug's per-device error-injection file; removed on drop (`- TYPE
/// OPCODE`), and the SCSI device put back to `running` (the error handler may have offlined it).
struct Injected {
    file: PathBuf,
    rules: Vec<(u8, u8)>,
    state: PathBuf,
}

impl Injected {
    fn add(&mut self, rule: &str) -> TestResult {
        let mut words = rule.split_whitespace();
        let kind = words.next().and_then(|w| w.parse().ok()).ok_or(format!("rule `{rule}`"))?;
        let op = words.nth(1).and_then(|w| u8::from_str_radix(w.trim_start_matches("0x"), 16).ok());
        std::fs::write(&self.file, rule).map_err(|e| format!("writing `{rule}` to {}: {e}", self.file.display()))?;
        self.rules.push((kind, op.ok_or(format!("rule `{rule}`: no opcode"))?));
        Ok(())
    }
}

impl Drop for Injected {
    fn drop(&mut self) {
        for (kind, op) in self.rules.drain(..).rev() {
            if let Err(e) = std::fs::write(&self.file, format!("- {kind} {op:#x}")) {
                eprintln!("could not remove rule {kind} {op:#x} from {}: {e}", self.file.display());
            }
        }
        // sysfs takes a state name only with its newline.
        if let Err(e) = std::fs::write(&self.state, "running\n") {
            eprintln!("could not set {} to running: {e}", self.state.display());
        }
    }
}

/// `--on-timeout abort` where the kernel goes beyond ABORT TASK. Responses delayed up to 3 s
/// (as in `abort_and_retry`) make COMPARE AND WRITEs time out; scsi_debug's error injection
/// (debugfs `scsi_debug/H:C:T:L/error`) fails the first abort (rule type 3) and answers TEST
/// UNIT READY with host byte DID_ERROR (type 2). The error handler then resets the LUN, the
/// target, the bus and the host, each "successfully", but after each its TEST UNIT READY
/// fails, so it offlines the device. The timed-out command itself comes back as an abort would
/// (DID_TIME_OUT); its retry meets the offline device (DID_NO_CONNECT). Known answer: the run
/// stops at once with one line, exit 8, `ended_by: escalated`, the results file written. The
/// device is put back after (rules removed, state `running`, delay restored) and must take
/// commands again.
fn abort_escalates() -> TestResult {
    let sg = Need::Sg.path();
    let hctl = sg_hctl(&sg)?;
    let mut inj = Injected {
        file: sg_error_file()?,
        rules: Vec::new(),
        state: PathBuf::from(format!("/sys/class/scsi_device/{hctl}/device/state")),
    };
    let knobs = vec![
        Knob::param("delay", "0")?,
        Knob::param("random", "1")?,
        Knob::param("ndelay", "0")?,
        Knob::param("delay", "750")?,
    ];
    for rule in ["3 -1 0x89", "2 -40 0x00 0x07 0x00 0x00 0x00 0x00 0x00"] {
        inj.add(rule)?;
    }
    let out_file = std::env::temp_dir().join("atsbench-escalation.json");
    let o = out_file.to_string_lossy().to_string();
    let args = ["run", &sg, "--workload", "ats", "--qd", "1", "--ops", "40", "--seed", "5", "--force"];
    let opts = ["--timeout", "1000", "--on-timeout", "abort", "--format", "json", "-o", &o];
    let out = atsbench(&[&args[..], &opts[..]].concat());
    let state = std::fs::read_to_string(&inj.state).unwrap_or_default();
    drop(inj);
    restore(knobs);
    let out = out?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    println!(
        "scsi_debug abort failed, TUR failing (state after: {}): exit {:?}: {stderr}",
        state.trim(),
        out.status.code()
    );
    check(state.trim() == "offline", || format!("the error handler did not offline the device: state {state}"))?;
    check(out.status.code() == Some(8), || format!("exit {:?}, want 8: {stderr}", out.status.code()))?;
    check(stderr.trim().lines().count() == 1 && stderr.contains("beyond aborting"), || format!("stderr: {stderr}"))?;
    let doc: Value = serde_json::from_slice(&std::fs::read(&out_file).map_err(|e| format!("{o}: {e}"))?)
        .map_err(|e| format!("{o}: {e}"))?;
    let p = point(&doc);
    let a = &p["aborts"];
    println!("aborts {a}, ended_by {}, {}", p["faults"]["ended_by"], summary(p));
    check(p["faults"]["ended_by"] == "escalated", || format!("ended_by {}", p["faults"]["ended_by"]))?;
    check(u(a, "escalated") >= 1, || format!("aborts {a}"))?;
    check(u(p, "ops") < 40, || format!("the run did not stop early: {} ops", u(p, "ops")))?;
    check(p["verification"].is_null(), || format!("verified after a reset: {}", p["verification"]))?;
    // The device takes commands again.
    let q = ats(1, 20, None)?;
    check(u(&q, "errors") == 0 && u(&q, "ops") == 20, || format!("after restoring: {}", summary(&q)))
}
