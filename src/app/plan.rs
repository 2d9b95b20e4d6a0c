//! The plan of a `run` or `sweep`: every option checked and typed before any file is created
//! or device opened, each mistake one line naming the fix.

use crate::backend::block::ExpectedFrom;
use crate::backend::sim::SimOptions;
use crate::cli::{CommonArgs, DeviceArgs, RunArgs, SimArgs, SweepArgs};
use crate::device::{self, BackendKind, DeviceOptions};
use crate::engine::{LockPlan, StopAt};
use crate::error::{Error, Result};
use crate::hosts::{HostsPlan, MAX_HOSTS};
use crate::report::Format;
use crate::spec::{check_qd, RegionArg};
use crate::workload::Workload;
use std::path::PathBuf;

/// Default size of the built-in target.
pub const DEFAULT_TARGET_BYTES: u64 = 64 << 20;

/// One point before it is resolved against the target.
#[derive(Debug, Clone)]
pub struct PlanPoint {
    pub workload: Workload,
    pub cpus: Vec<Option<usize>>,
    pub qd: u32,
    pub lock_plan: LockPlan,
}

/// What a `run` or `sweep` will do.
#[derive(Debug, Clone)]
// wide: every resolved option of `run` and `sweep`, read in one place (bench); to be grouped by phase
pub struct Plan {
    pub command: &'static str,
    /// None: the built-in temporary file (or the simulated device, see `sim`).
    pub target: Option<PathBuf>,
    /// The simulated device's size, when TARGET is `sim` or `sim:SIZE`.
    pub sim: Option<u64>,
    pub backend: Option<BackendKind>,
    pub points: Vec<PlanPoint>,
    pub bs: Option<u64>,
    pub region: Option<RegionArg>,
    pub stop: StopAt,
    pub rate: Option<f64>,
    /// Measurements of each point (`--repeat`), round by round when `interleave`.
    pub repeat: u32,
    pub interleave: bool,
    pub heartbeat_ns: u64,
    pub verify: bool,
    /// Run the conformance checks first (`--checks`, the qualification profile).
    pub checks: bool,
    pub sqpoll: bool,
    pub iopoll: bool,
    pub force: bool,
    pub miscompare_fraction: f64,
    pub seed: Option<u64>,
    /// `--timeout`: give up on a device-side ATS command after this many milliseconds.
    pub timeout_ms: Option<u64>,
    /// `--max-duration` of an `--ops` point, in seconds.
    pub max_duration_s: f64,
    /// `--max-error-rate`.
    pub max_error_rate: f64,
    /// `--on-timeout`: resend (default) or let the kernel abort (sg targets only).
    pub on_timeout: crate::engine::OnTimeout,
    /// Several hosts on one target; None for one host.
    pub hosts: Option<HostsPlan>,
    pub device: DeviceOptions,
    pub format: Format,
    pub output: Option<PathBuf>,
    /// `-q`: no progress on stderr.
    pub quiet: bool,
    /// The profile the plan came from: (name, SHA-256 of its text).
    pub profile: Option<(String, String)>,
    /// `--plot DIR`: SVG plots of the results, written at the end.
    pub plot: Option<PathBuf>,
    /// `sweep --html FILE`: the HTML report, written when the sweep ends.
    pub html: Option<PathBuf>,
    /// `--hdr-log FILE` and its interval (`--hdr-interval`) in nanoseconds.
    pub hdr_log: Option<(PathBuf, u64)>,
    /// `--interval`: the width of the intervals inside every repeat, in ns.
    pub interval_ns: u64,
}

impl Plan {
    pub fn run(a: RunArgs) -> Result<Plan> {
        let cpus = resolve_cpus(a.threads.unwrap_or(1), a.cpus.map(|l| l.0))?;
        let lock_plan = lock_plan(a.contention, a.locks)?;
        check_qd(a.qd).map_err(Error::usage)?;
        let actors = u64::from(a.qd) * cpus.len() as u64;
        if let (LockPlan::Contention(k), true) = (lock_plan, a.workload.has_lock_axis()) {
            if u64::from(k) > actors {
                return Err(Error::usage(format!(
                    "--contention {k} is more than the {actors} actors ({} x --qd {}), which would all share one \
                     block; give --contention {actors} or less, or raise --qd or --threads",
                    workers(cpus.len() as u32),
                    a.qd
                )));
            }
        }
        let point = PlanPoint { workload: a.workload, cpus, qd: a.qd, lock_plan };
        Plan::new("run", a.common, vec![point], a.duration.map(|d| d.secs()), 5.0)
    }

    /// A sweep; `given` says whether a flag was on the command line (profile values fill the
    /// others).
    pub fn sweep(mut a: SweepArgs, given: &dyn Fn(&str) -> bool) -> Result<Plan> {
        let profile = match a.profile.clone() {
            Some(p) => Some(apply_profile(crate::profile::load(&p)?, &mut a, given)?),
            None => None,
        };
        let Some(qds) = a.qd.clone() else {
            return Err(Error::usage("sweep needs --qd (e.g. --qd 1..256) or a --profile that sets qd"));
        };
        let plans: Vec<LockPlan> = match (&a.contention, &a.locks) {
            (_, Some(l)) => l.0.iter().map(|&n| lock_plan(None, Some(n))).collect::<Result<_>>()?,
            (Some(c), None) => c.0.iter().map(|&k| lock_plan(Some(k), None)).collect::<Result<_>>()?,
            (None, None) => vec![LockPlan::Contention(1)],
        };
        for &qd in &qds.0 {
            check_qd(qd).map_err(Error::usage)?;
        }
        let mut points = Vec::new();
        for &workload in &a.workload {
            for &threads in &a.threads.0 {
                let cpus = resolve_cpus(threads, None)?;
                // The lock axis only matters to workloads on lock blocks.
                let axis = if workload.has_lock_axis() { plans.as_slice() } else { &plans[..1] };
                for &lock_plan in axis {
                    for &qd in &qds.0 {
                        points.push(PlanPoint { workload, cpus: cpus.clone(), qd, lock_plan });
                    }
                }
            }
        }
        let mut plan = Plan::new("sweep", a.common, points, a.duration.map(|d| d.secs()), 2.0)?;
        plan.profile = profile;
        plan.html = a.html;
        Ok(plan)
    }

    // long: resolves the flags of `run` and `sweep` into the plan one after another; splits with Plan
    fn new(
        command: &'static str,
        c: CommonArgs,
        points: Vec<PlanPoint>,
        duration: Option<f64>,
        default_s: f64,
    ) -> Result<Plan> {
        if !(0.0..=1.0).contains(&c.miscompare_fraction) {
            return Err(Error::usage("--miscompare-fraction must be between 0 and 1, e.g. 0.25"));
        }
        if c.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return Err(Error::usage("--rate must be a positive number of operations per second, e.g. 2000"));
        }
        let stop = match (c.ops, duration) {
            (Some(0), _) => return Err(Error::usage("--ops 0: give at least one operation")),
            (Some(n), _) => StopAt::Ops(n),
            (None, d) => StopAt::Seconds(d.unwrap_or(default_s)),
        };
        if let Some(b) = c.bs.map(|b| b.0) {
            if b == 0 || b % 512 != 0 || b > 1 << 24 {
                return Err(Error::usage(format!(
                    "--bs {b}: the block size must be a multiple of 512 bytes (and of the target's logical block \
                     size), at most 16M, e.g. 4k"
                )));
            }
        }
        if !(0.0..=1.0).contains(&c.max_error_rate) {
            return Err(Error::usage(format!(
                "--max-error-rate {}: give a fraction between 0 and 1 of operations that may fail, e.g. 0.01",
                c.max_error_rate
            )));
        }
        if c.max_duration.is_some() && c.ops.is_none() {
            return Err(Error::usage(
                "--max-duration bounds an --ops point; with a time limit give --duration instead (or add --ops N)",
            ));
        }
        if c.repeat == 0 {
            return Err(Error::usage("--repeat 0: measure each point at least once"));
        }
        let hdr_interval_ns = c.hdr_interval.0.as_nanos().min(u128::from(u64::MAX)) as u64;
        if c.hdr_log.is_some() && hdr_interval_ns < 1_000_000 {
            return Err(Error::usage("--hdr-interval must be at least 1ms, e.g. 1s or 100ms"));
        }
        let interval_ns = c.interval.0.as_nanos().min(u128::from(u64::MAX)) as u64;
        if interval_ns < 1_000_000 {
            return Err(Error::usage("--interval must be at least 1ms, e.g. 100ms or 1s"));
        }
        check_device(&c.device, c.target.is_none(), c.backend, &points)?;
        let sim = c.target.as_deref().and_then(device::sim_size).transpose().map_err(Error::usage)?;
        let sim_options = sim_options(&c.sim, sim.is_some(), c.backend)?;
        check_timeout(c.timeout, &points)?;
        check_expected_from(c.device.expected_from, sim.is_some(), c.iopoll, &points)?;
        let hosts = hosts_plan(&c, &points, sim.is_some())?;
        Ok(Plan {
            command,
            target: if sim.is_some() { None } else { c.target },
            sim,
            backend: c.backend,
            points,
            bs: c.bs.map(|b| b.0),
            region: c.region,
            stop,
            rate: c.rate,
            repeat: c.repeat,
            interleave: c.interleave,
            heartbeat_ns: c.heartbeat_interval.0.as_nanos().min(u128::from(u64::MAX)) as u64,
            verify: !c.no_verify,
            checks: c.checks,
            sqpoll: c.sqpoll,
            iopoll: c.iopoll,
            force: c.force,
            miscompare_fraction: c.miscompare_fraction,
            seed: c.seed,
            timeout_ms: c.timeout,
            max_duration_s: c.max_duration.map_or(crate::engine::DEFAULT_MAX_DURATION_S, |d| d.secs()),
            max_error_rate: c.max_error_rate,
            on_timeout: c.on_timeout.unwrap_or_default(),
            hosts,
            device: DeviceOptions {
                fused: c.device.fused,
                transport: c.device.transport,
                ats_blocks: c.device.ats_blocks,
                dpo: c.device.dpo,
                fua: c.device.fua,
                sim: sim_options,
                expected: c.device.expected_from.unwrap_or_default(),
                caw_timeout_ms: match c.on_timeout {
                    Some(crate::engine::OnTimeout::Abort) => c.timeout.map(|ms| ms.min(u64::from(u32::MAX)) as u32),
                    _ => None,
                },
            },
            format: c.output.format(),
            output: c.output.output,
            quiet: c.quiet,
            profile: None,
            plot: c.plot,
            html: None,
            hdr_log: c.hdr_log.map(|p| (p, hdr_interval_ns)),
            interval_ns,
        })
    }

    /// Whether any point writes to the target.
    pub fn writes(&self) -> bool {
        self.points.iter().any(|p| p.workload.writes())
    }
}

/// Fill the flags not given on the command line from the profile, parsing each value as its
/// flag would; errors name the profile and the key.
fn apply_profile(
    p: crate::profile::Profile,
    a: &mut SweepArgs,
    given: &dyn Fn(&str) -> bool,
) -> Result<(String, String)> {
    fn val<T: std::str::FromStr<Err = String>>(p: &crate::profile::Profile, key: &str, v: &str) -> Result<T> {
        v.parse::<T>().map_err(|e| Error::usage(format!("profile {}: key `{key}`: {e}", p.source)))
    }
    let s = p.settings.clone();
    if let (Some(w), false) = (&s.workload, given("workload")) {
        a.workload = w.iter().map(|x| val(&p, "workload", x)).collect::<Result<_>>()?;
    }
    if let (Some(v), false) = (&s.qd, given("qd")) {
        a.qd = Some(val(&p, "qd", v)?);
    }
    if let (Some(v), false) = (&s.threads, given("threads")) {
        a.threads = val(&p, "threads", v)?;
    }
    if !given("contention") && !given("locks") {
        a.contention = s.contention.as_deref().map(|v| val(&p, "contention", v)).transpose()?;
        a.locks = s.locks.as_deref().map(|v| val(&p, "locks", v)).transpose()?;
    }
    if !given("duration") && !given("ops") {
        a.duration = s.duration.as_deref().map(|v| val(&p, "duration", v)).transpose()?;
        a.common.ops = s.ops.or(a.common.ops);
    }
    let c = &mut a.common;
    if let (Some(v), false) = (&s.bs, given("bs")) {
        c.bs = Some(val(&p, "bs", v)?);
    }
    if let (Some(v), false) = (&s.region, given("region")) {
        c.region = Some(val(&p, "region", v)?);
    }
    if let (Some(v), false) = (s.rate, given("rate")) {
        c.rate = Some(v);
    }
    if let (Some(v), false) = (s.repeat, given("repeat")) {
        c.repeat = v;
    }
    if let (Some(v), false) = (s.interleave, given("interleave")) {
        c.interleave = v;
    }
    if let (Some(v), false) = (&s.heartbeat_interval, given("heartbeat_interval")) {
        c.heartbeat_interval = val(&p, "heartbeat-interval", v)?;
    }
    if let (Some(v), false) = (s.verify, given("no_verify")) {
        c.no_verify = !v;
    }
    if let (Some(v), false) = (s.checks, given("checks")) {
        c.checks = v;
    }
    Ok((p.name, p.sha256))
}

/// `--hosts N --host-id I`: checked before anything is opened; None for one host.
fn hosts_plan(c: &CommonArgs, points: &[PlanPoint], is_sim: bool) -> Result<Option<HostsPlan>> {
    let count = c.hosts;
    if count == 0 {
        return Err(Error::usage("--hosts 0: give the number of hosts that share the target (1: this host alone)"));
    }
    if count > 1 && is_sim {
        return Err(Error::usage(format!(
            "--hosts {count} on sim: the simulated device lives in one process and no other host can reach it; \
             give a file or device that all hosts share"
        )));
    }
    let index = match c.host_id {
        Some(i) => i,
        None if count > 1 => index_from_env(&|k| std::env::var(k).ok())?,
        None => 0,
    };
    if index >= count {
        return Err(Error::usage(format!(
            "--host-id {index}: with --hosts {count} the host ids run from 0 to {}; give each host its own",
            count - 1
        )));
    }
    if count == 1 {
        return Ok(None);
    }
    if count > MAX_HOSTS {
        return Err(Error::usage(format!(
            "--hosts {count}: at most {MAX_HOSTS} hosts (host 0's rendezvous record acknowledges each in one \
             512-byte block); run fewer"
        )));
    }
    let Some(seed) = c.seed else {
        return Err(Error::usage(format!(
            "--hosts {count}: give every host the same --seed (any number, e.g. --seed 42): the host ids and the \
             rendezvous derive from it"
        )));
    };
    if c.target.is_none() {
        return Err(Error::usage(
            "--hosts needs a TARGET that all hosts share (a file or device they all reach); the default target is a \
             temporary file of this host's own",
        ));
    }
    if points.iter().any(|p| p.workload == Workload::Heartbeat) {
        return Err(Error::usage(
            "--hosts with heartbeat: each worker's heartbeat block would be shared by every host; use ats or rmw",
        ));
    }
    if c.repeat > 1 {
        return Err(Error::usage(format!(
            "--repeat {} with --hosts: every repeat restarts the lock blocks, which the merge cannot tell apart; give \
             --repeat 1 and run the repeats as separate multi-host runs",
            c.repeat
        )));
    }
    Ok(Some(HostsPlan { index, count, seed, timeout: c.rendezvous_timeout.0 }))
}

/// The variables a job launcher sets to a process's index, in the order they are read.
pub const INDEX_VARS: [&str; 3] = ["SLURM_PROCID", "JOB_COMPLETION_INDEX", "OMPI_COMM_WORLD_RANK"];

/// This host's index from the first of [`INDEX_VARS`] that is set (0 when none is).
fn index_from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<u32> {
    for k in INDEX_VARS {
        if let Some(v) = var(k) {
            return v
                .trim()
                .parse::<u32>()
                .map_err(|_| Error::usage(format!("{k}={v} is not a host index (0, 1, ...); give --host-id instead")));
        }
    }
    Ok(0)
}

fn lock_plan(contention: Option<u32>, locks: Option<u32>) -> Result<LockPlan> {
    match (contention, locks) {
        (_, Some(0)) => Err(Error::usage("--locks 0: give at least one lock block")),
        (_, Some(n)) => Ok(LockPlan::Locks(n)),
        (Some(0), None) => Err(Error::usage("--contention 0: give at least one actor per lock block (1: none shared)")),
        (Some(k), None) => Ok(LockPlan::Contention(k)),
        (None, None) => Ok(LockPlan::Contention(1)),
    }
}

/// Device flags that cannot apply, found before the target is opened where the command line
/// says enough (the default target is a file).
fn check_device(
    d: &DeviceArgs,
    default_target: bool,
    backend: Option<BackendKind>,
    points: &[PlanPoint],
) -> Result<()> {
    if default_target && backend.is_some_and(|b| b != BackendKind::File) {
        return Err(Error::usage("--backend needs a TARGET; the default target is a file"));
    }
    if d.fused {
        if default_target || backend.is_some_and(|b| b != BackendKind::Nvme) {
            return Err(Error::usage(
                "--fused applies to NVMe generic devices (/dev/ngXnY) only; drop --fused or give an NVMe TARGET",
            ));
        }
        if let Some(p) = points.iter().find(|p| p.workload != Workload::Ats) {
            return Err(Error::usage(format!(
                "--fused tries a fused Compare+Write for --workload ats; drop --fused for {}",
                p.workload.name()
            )));
        }
    }
    Ok(())
}

/// `--expected-from cache` reads lock blocks through the page cache of a block device or file:
/// only for workloads with lock blocks, and not on a polled ring (buffered reads cannot poll).
fn check_expected_from(e: Option<ExpectedFrom>, is_sim: bool, iopoll: bool, points: &[PlanPoint]) -> Result<()> {
    if e != Some(ExpectedFrom::Cache) {
        return Ok(());
    }
    if is_sim {
        return Err(Error::usage(
            "--expected-from cache reads through a page cache, and the simulated device has no page cache; \
             give a block device or file TARGET (its stale reads: --inject stale-read)",
        ));
    }
    if iopoll {
        return Err(Error::usage("--expected-from cache reads buffered, which a polled ring cannot; drop --iopoll"));
    }
    match points.iter().find(|p| !matches!(p.workload, Workload::Ats | Workload::Rmw | Workload::Heartbeat)) {
        Some(p) => Err(Error::usage(format!(
            "--expected-from applies to lock workloads (ats, rmw, heartbeat); drop it for {}",
            p.workload.name()
        ))),
        None => Ok(()),
    }
}

/// The simulated device's options: only with TARGET `sim`, each value checked.
fn sim_options(a: &SimArgs, is_sim: bool, backend: Option<BackendKind>) -> Result<SimOptions> {
    if !is_sim {
        return match a.first_given() {
            Some(flag) => Err(Error::usage(format!(
                "{flag} applies to the simulated device; give TARGET sim (or sim:SIZE, e.g. sim:64MiB)"
            ))),
            None => Ok(SimOptions::default()),
        };
    }
    if let Some(b) = backend {
        return Err(Error::usage(format!(
            "--backend {}: TARGET sim is the simulated device; drop --backend (--sim-protocol picks scsi or nvme)",
            b.name()
        )));
    }
    if a.sim_qd == Some(0) {
        return Err(Error::usage("--sim-qd 0: give the device at least one command slot, e.g. --sim-qd 32"));
    }
    let o = SimOptions {
        protocol: a.sim_protocol.unwrap_or_default(),
        latency: a.sim_latency.unwrap_or_default(),
        queue_depth: a.sim_qd,
        inject: a.inject.unwrap_or_default(),
    };
    o.check().map_err(Error::usage)?;
    Ok(o)
}

/// `--timeout` gives up on ATS commands: it needs an `ats` point and a sane number.
fn check_timeout(ms: Option<u64>, points: &[PlanPoint]) -> Result<()> {
    match ms {
        None => Ok(()),
        Some(0) => Err(Error::usage("--timeout 0: give the milliseconds an ATS command may take, e.g. --timeout 8000")),
        Some(ms) if ms > 3_600_000 => Err(Error::usage(format!("--timeout {ms}: at most an hour (3600000 ms)"))),
        Some(_) if !points.iter().any(|p| p.workload == Workload::Ats) => {
            Err(Error::usage("--timeout applies to ATS commands; add --workload ats"))
        }
        Some(_) => Ok(()),
    }
}

/// `--fused` on a target whose type turned out not to be NVMe.
pub fn check_fused_kind(fused: bool, kind: BackendKind) -> Result<()> {
    if fused && kind != BackendKind::Nvme {
        return Err(Error::usage(format!(
            "--fused applies to NVMe generic devices (/dev/ngXnY) only, not to a {} target; drop --fused",
            kind.name()
        )));
    }
    Ok(())
}

fn resolve_cpus(threads: u32, cpus: Option<Vec<usize>>) -> Result<Vec<Option<usize>>> {
    let available = crate::sys::affinity::allowed_cpus();
    if let Some(list) = cpus {
        if let Some(bad) = list.iter().find(|c| !available.contains(c)) {
            return Err(Error::usage(format!(
                "--cpus names CPU {bad}, which this process may not use (allowed: {available:?}); pick from those"
            )));
        }
        return Ok(list.into_iter().map(Some).collect());
    }
    if threads == 0 {
        return Err(Error::usage("--threads 0: give at least one worker"));
    }
    if available.is_empty() {
        return Ok(vec![None; threads as usize]);
    }
    if threads as usize > available.len() {
        return Err(Error::usage(format!(
            "--threads {threads} is more than the {} CPUs this process may use; atsbench pins one worker per CPU, \
             so use --threads {} or fewer",
            available.len(),
            available.len()
        )));
    }
    Ok(available.into_iter().take(threads as usize).map(Some).collect())
}

/// "1 worker", "2 workers".
pub(super) fn workers(n: u32) -> String {
    if n == 1 {
        "1 worker".into()
    } else {
        format!("{n} workers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn plan(args: &[&str]) -> Result<Plan> {
        let mut all = vec!["atsbench"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).expect("parses").command {
            Some(Command::Run(a)) => Plan::run(a),
            Some(Command::Sweep(a)) => Plan::sweep(a, &|_| false),
            _ => unreachable!(),
        }
    }

    #[test]
    fn usage_errors_come_before_the_target() {
        for (args, needle) in [
            (&["run", "--qd", "0"][..], "--qd 0"),
            (&["run", "--bs", "1000"][..], "--bs 1000"),
            (&["run", "--locks", "0"][..], "--locks 0"),
            (&["run", "--contention", "0"][..], "--contention 0"),
            (&["run", "--threads", "0"][..], "--threads 0"),
            (&["run", "--ops", "0"][..], "--ops 0"),
            (&["run", "--rate", "-5"][..], "--rate"),
            (&["run", "--miscompare-fraction", "2"][..], "--miscompare-fraction"),
            (&["run", "--fused"][..], "--fused"),
            (&["run", "--backend", "nvme"][..], "--backend needs a TARGET"),
            (&["sweep", "--qd", "1,0"][..], "--qd 0"),
            (&["run", "--repeat", "0"][..], "--repeat 0"),
            (&["run", "--inject", "torn-write=0.1"][..], "TARGET sim"),
            (&["run", "/tmp", "--sim-latency", "fixed:1us"][..], "TARGET sim"),
            (&["run", "sim:1k"][..], "4 KiB to 64 GiB"),
            (&["run", "sim:lots"][..], "not a size"),
            (&["run", "sim", "--backend", "file"][..], "drop --backend"),
            (&["run", "sim", "--sim-qd", "0"][..], "--sim-qd 0"),
            (&["run", "sim", "--sim-protocol", "nvme", "--inject", "own-write=0.1"][..], "own-write"),
            (&["run", "sim", "--timeout", "0"][..], "--timeout 0"),
            (&["run", "sim", "-w", "read", "--timeout", "10"][..], "--workload ats"),
            (&["run", "sim", "--expected-from", "cache"][..], "no page cache"),
            (&["run", "f", "-w", "read", "--expected-from", "cache"][..], "lock workloads"),
            (&["run", "f", "--iopoll", "--expected-from", "cache"][..], "drop --iopoll"),
            (&["run", "f", "--hosts", "2"][..], "the same --seed"),
            (&["run", "f", "--hosts", "2", "--host-id", "2", "--seed", "1"][..], "from 0 to 1"),
            (&["run", "--host-id", "1"][..], "--host-id 1"),
            (&["run", "--hosts", "2", "--seed", "1"][..], "TARGET that all hosts share"),
            (&["run", "f", "--hosts", "0"][..], "--hosts 0"),
            (&["run", "f", "--hosts", "57", "--seed", "1"][..], "at most 56"),
            (&["run", "f", "--hosts", "2", "--seed", "1", "-w", "heartbeat"][..], "heartbeat"),
            (&["run", "sim", "--hosts", "2", "--seed", "1"][..], "on sim"),
            (&["sweep", "f", "--qd", "1", "--hosts", "2", "--seed", "1", "--repeat", "3"][..], "--repeat 3"),
        ] {
            let e = plan(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
            assert!(e.to_string().contains(needle), "{args:?}: {e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn sim_targets_take_their_options() {
        let p =
            plan(&["run", "sim:1G", "--sim-protocol", "nvme", "--sim-qd", "4", "--inject", "lost-write=0.5"]).unwrap();
        assert_eq!((p.sim, p.target.as_ref()), (Some(1 << 30), None));
        let o = p.device.sim;
        assert_eq!((o.protocol, o.queue_depth), (crate::backend::sim::SimProtocol::Nvme, Some(4)));
        assert_eq!(o.inject.rate(crate::backend::sim::Fault::LostWrite), 0.5);
        assert_eq!(plan(&["run", "sim"]).unwrap().sim, Some(64 << 20));
        assert_eq!(plan(&["run", "./sim"]).unwrap().sim, None, "a file named sim is ./sim");
    }

    #[test]
    fn the_host_index_comes_from_a_job_launcher_without_host_id() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(index_from_env(&env(&[])).unwrap(), 0);
        assert_eq!(index_from_env(&env(&[("SLURM_PROCID", "3")])).unwrap(), 3);
        assert_eq!(index_from_env(&env(&[("JOB_COMPLETION_INDEX", "2"), ("OMPI_COMM_WORLD_RANK", "1")])).unwrap(), 2);
        assert_eq!(index_from_env(&env(&[("OMPI_COMM_WORLD_RANK", "1")])).unwrap(), 1);
        let e = index_from_env(&env(&[("SLURM_PROCID", "x")])).unwrap_err().to_string();
        assert!(e.contains("SLURM_PROCID=x") && e.contains("--host-id"), "{e}");
    }

    #[test]
    fn several_hosts_take_the_same_seed_and_their_own_index() {
        assert_eq!(plan(&["run", "f"]).unwrap().hosts, None);
        assert_eq!(plan(&["run", "f", "--hosts", "1", "--seed", "3"]).unwrap().hosts, None);
        let h = plan(&["sweep", "f", "--qd", "1,2", "--hosts", "3", "--host-id", "2", "--seed", "9"]).unwrap().hosts;
        let timeout = std::time::Duration::from_secs(60);
        assert_eq!(h, Some(HostsPlan { index: 2, count: 3, seed: 9, timeout }));
        let p = plan(&["run", "f", "--hosts", "2", "--seed", "9", "--rendezvous-timeout", "500ms"]).unwrap();
        assert_eq!(p.hosts.map(|h| h.timeout), Some(std::time::Duration::from_millis(500)));
    }

    #[test]
    fn the_lock_axis_defaults_to_one_actor_per_block() {
        let p = plan(&["run"]).unwrap();
        assert_eq!(p.points[0].lock_plan, LockPlan::Contention(1));
        let p = plan(&["sweep", "--qd", "1,4", "--contention", "1,16", "-w", "ats,read"]).unwrap();
        let axis: Vec<(Workload, u32, LockPlan)> = p.points.iter().map(|x| (x.workload, x.qd, x.lock_plan)).collect();
        assert_eq!(
            axis,
            vec![
                (Workload::Ats, 1, LockPlan::Contention(1)),
                (Workload::Ats, 4, LockPlan::Contention(1)),
                (Workload::Ats, 1, LockPlan::Contention(16)),
                (Workload::Ats, 4, LockPlan::Contention(16)),
                (Workload::Read, 1, LockPlan::Contention(1)),
                (Workload::Read, 4, LockPlan::Contention(1)),
            ],
            "read has no lock axis"
        );
        let p = plan(&["sweep", "--qd", "8", "--locks", "1,64"]).unwrap();
        assert_eq!(
            p.points.iter().map(|x| x.lock_plan).collect::<Vec<_>>(),
            vec![LockPlan::Locks(1), LockPlan::Locks(64)]
        );
    }
}
