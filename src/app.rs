//! From parsed command line to results: validate, open the target, run every point, report.

use crate::backend::block::BlockBackend;
use crate::cli::{Cli, Command, CommonArgs, DeviceArgs, ProbeArgs};
use crate::engine::{run_point, Point, PointSpec, StopAt};
use crate::error::{Error, Result};
use crate::report::{Config, Reporter};
use crate::spec::{check_qd, Region};
use crate::sys::blk;
use crate::target::{self, BackendKind, Target};
use crate::workload::Workload;
use std::io::IsTerminal;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// One point before it is resolved against the target.
#[derive(Debug, Clone, Copy)]
struct Plan {
    workload: Workload,
    threads: u32,
    locks: u32,
    qd: u32,
}

pub fn main(cli: Cli, stop: &'static AtomicBool) -> Result<()> {
    match cli.command {
        Command::Run(a) => {
            let cpus = match (&a.cpus, a.threads) {
                (Some(list), _) => Some(list.0.clone()),
                _ => None,
            };
            let plan = Plan { workload: a.workload, threads: a.threads.unwrap_or(1), locks: a.locks, qd: a.qd };
            let stop_at = stop_at(&a.common, a.duration.map(|d| d.0), 5.0);
            bench("run", &a.common, vec![plan], cpus, stop_at, stop)
        }
        Command::Sweep(a) => {
            let mut plans = Vec::new();
            for &workload in &a.workload {
                for &threads in &a.threads.0 {
                    for &locks in &a.locks.0 {
                        for &qd in &a.qd.0 {
                            plans.push(Plan { workload, threads, locks, qd });
                        }
                    }
                }
            }
            let stop_at = stop_at(&a.common, a.duration.map(|d| d.0), 2.0);
            bench("sweep", &a.common, plans, None, stop_at, stop)
        }
        Command::Probe(a) => probe(&a),
    }
}

fn stop_at(c: &CommonArgs, duration: Option<f64>, default_s: f64) -> StopAt {
    match (c.ops, duration) {
        (Some(n), _) => StopAt::Ops(n),
        (None, d) => StopAt::Seconds(d.unwrap_or(default_s)),
    }
}

/// Open TARGET (or the default temporary file) with the backend its type implies.
fn open_target(c: &CommonArgs, writes: bool) -> Result<Target> {
    let Some(path) = &c.target else {
        if c.backend.is_some_and(|b| b != BackendKind::File) {
            return Err(Error::usage("--backend needs a TARGET; the default target is a file"));
        }
        target::nvme::check_device_args(&c.device, BackendKind::File)?;
        let t = target::open_default()?;
        eprintln!(
            "atsbench: no TARGET given: using a {} MiB temporary file, {} (removed at exit)",
            target::DEFAULT_TARGET_BYTES >> 20,
            t.path.display()
        );
        return Ok(t);
    };
    open_path(path, c.backend, writes, c.force, &c.device)
}

/// Open `path` with `backend`, or the one its type implies.
fn open_path(
    path: &std::path::Path,
    backend: Option<BackendKind>,
    writes: bool,
    force: bool,
    dev: &DeviceArgs,
) -> Result<Target> {
    let detected = target::detect_kind(path)?;
    target::nvme::check_device_args(dev, backend.unwrap_or(detected))?;
    match (backend.unwrap_or(detected), detected) {
        (BackendKind::File | BackendKind::Block, BackendKind::File) => {
            target::open_block_or_file(path, BackendKind::File, writes, force)
        }
        (BackendKind::Block, BackendKind::Block) => target::open_block_or_file(path, BackendKind::Block, writes, force),
        (BackendKind::Nvme, BackendKind::Nvme) => target::nvme::open(path, writes, force, dev),
        (BackendKind::Scsi, BackendKind::Scsi) => target::scsi::open(path, writes, force, dev),
        (want, got) => Err(Error::usage(format!(
            "{}: --backend {} does not fit a {} target; drop --backend to choose from the target's type",
            path.display(),
            want.name(),
            got.name()
        ))),
    }
}

fn resolve_cpus(threads: u32, cpus: Option<Vec<usize>>) -> Result<Vec<Option<usize>>> {
    let available: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|c| c.id).collect();
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

fn check_memlock(spec_bytes: u64) -> Result<()> {
    if blk::has_cap_ipc_lock() {
        return Ok(());
    }
    if let Some(limit) = blk::memlock_limit() {
        if spec_bytes > limit {
            return Err(Error::Limit(format!(
                "the registered buffers need {} KiB of locked memory but RLIMIT_MEMLOCK is {} KiB; \
                 raise it (ulimit -l {}) or lower --qd or --threads",
                spec_bytes.div_ceil(1024),
                limit / 1024,
                spec_bytes.div_ceil(1024).next_power_of_two()
            )));
        }
    }
    Ok(())
}

fn bench(
    command: &str,
    c: &CommonArgs,
    plans: Vec<Plan>,
    cpus: Option<Vec<usize>>,
    stop_at: StopAt,
    stop: &'static AtomicBool,
) -> Result<()> {
    if !(0.0..=1.0).contains(&c.miscompare_fraction) {
        return Err(Error::usage("--miscompare-fraction must be between 0 and 1"));
    }
    if c.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(Error::usage("--rate must be a positive number of operations per second"));
    }
    if let StopAt::Ops(0) = stop_at {
        return Err(Error::usage("--ops 0: give at least one operation"));
    }
    let writes = plans.iter().any(|p| p.workload.writes());
    let target = open_target(c, writes)?;
    let lbs = target.logical_block_size();
    let bs = match c.bs {
        // A COMPARE AND WRITE of N blocks works on lock records of N blocks.
        None => lbs * c.device.ats_blocks.map_or(1, u32::from).max(1),
        Some(b) if b.0 == 0 || b.0 % lbs as u64 != 0 || b.0 > (1 << 24) => {
            return Err(Error::usage(format!(
                "--bs {}: the block size must be a multiple of the target's {lbs}-byte logical block size, at most 16M",
                b.0
            )))
        }
        Some(b) => b.0 as u32,
    };
    let region = Region::resolve(c.region, target.size(), bs).map_err(|e| Error::Target(format!("--{e}")))?;
    let seed = c.seed.unwrap_or_else(random_u64);
    let host = random_u64() | 1;
    let mut specs = Vec::with_capacity(plans.len());
    for p in &plans {
        check_qd(p.qd).map_err(Error::usage)?;
        if p.workload.uses_locks() {
            if p.locks == 0 {
                return Err(Error::usage("--locks 0: give at least one lock block"));
            }
            if p.locks as u64 > region.blocks(bs) {
                return Err(Error::usage(format!(
                    "--locks {} needs {} blocks but the region holds {}; lower --locks or widen --region",
                    p.locks,
                    p.locks,
                    region.blocks(bs)
                )));
            }
        }
        specs.push(PointSpec {
            workload: p.workload,
            qd: p.qd,
            cpus: resolve_cpus(p.threads, cpus.clone())?,
            locks: p.locks,
            bs,
            region,
            stop: stop_at,
            rate: c.rate,
            verify: !c.no_verify,
            sqpoll: c.sqpoll,
            iopoll: c.iopoll,
            miscompare_fraction: c.miscompare_fraction,
            host,
            seed,
        });
    }
    let most = specs.iter().map(|s| s.slab_bytes() as u64 * s.threads() as u64).max().unwrap_or(0);
    check_memlock(most)?;
    let config = Config::new(command, c, &specs, seed, host);
    let mut reporter = Reporter::new(c.output.format, c.output.output.as_deref(), config, target.info.clone())?;
    let progress = std::io::stderr().is_terminal() && (specs.len() > 1 || c.output.output.is_some());
    let mut failed_atomicity = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if progress {
            crate::report::progress(i, specs.len(), spec);
        }
        let point = measure(&target, spec, stop, &c.device)?;
        if point.workload == Workload::Ats {
            if let Some(v) = point.verification.as_ref().filter(|v| v.violations + v.lost_updates > 0) {
                failed_atomicity.push(format!(
                    "qd {} threads {} locks {}: {} violations, {} lost updates",
                    point.qd, point.threads, point.locks, v.violations, v.lost_updates
                ));
            }
        }
        reporter.point(point)?;
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    if progress {
        crate::report::progress_done();
    }
    reporter.finish()?;
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    if !failed_atomicity.is_empty() {
        return Err(Error::Verification(format!(
            "ATS broke atomicity ({}); the device or driver does not serialise compare-and-write",
            failed_atomicity.join("; ")
        )));
    }
    Ok(())
}

/// Run one point on the target with the backend its kind needs.
fn measure(target: &Target, spec: &PointSpec, stop: &AtomicBool, dev: &DeviceArgs) -> Result<Point> {
    match target.kind {
        BackendKind::File | BackendKind::Block => {
            let fd = target.file.as_raw_fd();
            let (slots, iopoll) = (spec.qd as usize, spec.iopoll);
            run_point(spec, stop, |_| Ok(BlockBackend::new(fd, slots, iopoll)))
        }
        BackendKind::Nvme => crate::backend::nvme::measure(target, spec, stop, dev),
        BackendKind::Scsi => crate::backend::scsi::measure(target, spec, stop, dev),
    }
}

fn probe(a: &ProbeArgs) -> Result<()> {
    let t = open_path(&a.target, a.backend, false, false, &a.device)?;
    crate::report::probe(&t.info, a.output.format, a.output.output.as_deref())
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b)).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return t.as_nanos() as u64 ^ ((std::process::id() as u64) << 32);
    }
    u64::from_le_bytes(b)
}
