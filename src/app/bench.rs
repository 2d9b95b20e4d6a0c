//! Run a plan: open the target, resolve every point against it, measure each with the backend
//! the target needs, and write each result as soon as it is measured.

use super::hdr;
use super::plan::{check_fused_kind, workers, Plan, PlanPoint, DEFAULT_TARGET_BYTES};
use super::progress::{expected_time, Progress};
use crate::backend::{self, scsi::Transport, AtsMode, Opened};
use crate::device::{self, PointNeeds, Target};
use crate::engine::faults::{DeviceGone, EndedBy};
use crate::engine::StopAt;
use crate::engine::{self, Measured, PointBarrier, PointSpec};
use crate::error::{Error, Result};
use crate::hosts::MultiHost;
use crate::report::{Point, Reporter};
use crate::spec::Region;
use crate::sys::blk;
use crate::workload::Workload;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

pub fn bench(plan: Plan, stop: &AtomicBool) -> Result<()> {
    let target = open_target(&plan)?;
    let (specs, hosts) = resolve(&plan, &target)?;
    let most = specs.iter().map(|s| s.slab_bytes() as u64 * u64::from(s.threads())).max().unwrap_or(0);
    if plan.sim.is_none() {
        check_memlock(most)?; // the simulated device registers no buffers
    }
    let mut reporter = reporter(&plan, &specs, hosts.as_ref(), &target)?;
    let failed_checks = if plan.checks { conformance(&plan, &mut reporter)? } else { Vec::new() };
    let mut hdr = plan.hdr_log.as_ref().map(|(path, every_ns)| hdr::open(path, *every_ns)).transpose()?;
    let runs = specs.len() * plan.repeat as usize;
    announce_hosts(hosts.as_ref(), &target);
    let barrier = hosts.as_ref().map(|m| m as &dyn PointBarrier);
    let progress = progress(&plan, runs);
    let mut end = Ending::default();
    let mut measured: Vec<Vec<Measured>> = vec![Vec::new(); specs.len()];
    for (i, spec) in run_order(specs.len(), plan.repeat, plan.interleave) {
        if let Some(p) = &progress {
            p.start(&specs[spec]);
        }
        let s = &specs[spec];
        measured[spec].push(match (hdr.as_mut(), &progress) {
            (Some(h), _) => h.log_point(hdr::tag_prefix(plan.command, s), |log| {
                measure(&target, s, barrier, &plan, stop, Some(log))
            })?,
            // `run` shows its operations as they go, from the workers' interval snapshots.
            (None, Some(p)) if plan.command == "run" => {
                p.watch_run(s.workload, plan.stop, |log| measure(&target, s, barrier, &plan, stop, log))?
            }
            (None, _) => measure(&target, s, barrier, &plan, stop, None)?,
        });
        if let Some(p) = &progress {
            p.done_one();
        }
        let interrupted = stop.load(Ordering::Relaxed);
        // A device gone ends the run after this point: nothing more can be measured.
        end.gone = measured[spec].last().and_then(|m| m.point.faults.device_gone.clone());
        // So does a host whose final rendezvous failed (its point is kept, unverified).
        end.lost = hosts.as_ref().and_then(MultiHost::take_lost);
        // And an escalation beyond ABORT TASK (exit 8 after).
        let escalated = measured[spec].last().is_some_and(|m| m.point.faults.ended_by == EndedBy::Escalated);
        let ending = interrupted || end.gone.is_some() || end.lost.is_some() || escalated;
        // A point is written when its last repeat is done (or the run ends early).
        if measured[spec].len() == plan.repeat as usize || ending {
            let mut order: Vec<usize> = if ending { (0..specs.len()).collect() } else { vec![spec] };
            order.retain(|&s| !measured[s].is_empty());
            for s in order {
                let Some(mut point) = engine::combine_repeats(std::mem::take(&mut measured[s])) else { continue };
                point.diagnosis = super::diagnosis::of_point(&point, &specs[s], hosts.as_ref().map_or(1, |m| m.count));
                end.note(&point, &plan, &target.info.path);
                // A device gone says so in one line at the end, and nothing else.
                let warn = |p: &Point| {
                    if end.gone.is_none() {
                        warn_ending(p)
                    }
                };
                match &progress {
                    Some(p) => p.suspend(|| {
                        warn(&point);
                        reporter.point(point)
                    })?,
                    None => {
                        warn(&point);
                        reporter.point(point)?
                    }
                }
            }
        }
        if ending || i + 1 == runs {
            break;
        }
    }
    if let Some(p) = &progress {
        p.finish();
    }
    finish_outputs(reporter, hdr, &plan)?;
    end.result(stop, &plan, &target.info.path, failed_checks)
}

/// The reporter of the run, its results' header (config, profile, environment) written; the
/// plot folder made.
fn reporter(plan: &Plan, specs: &[PointSpec], hosts: Option<&MultiHost>, target: &Target) -> Result<Reporter> {
    let mut config =
        crate::report::config(plan.command, specs, plan.force, plan.repeat, plan.interleave, plan.interval_ns);
    if let Some(m) = hosts {
        m.record(&mut config);
    }
    config.profile = plan.profile.clone().map(|(name, sha256)| crate::report::ProfileRef { name, sha256 });
    config.environment = Some(crate::results::Environment::now());
    let reporter = Reporter::new(plan.format, plan.output.as_deref(), config, target.info.clone())?;
    if let Some(dir) = &plan.plot {
        std::fs::create_dir_all(dir).map_err(|e| crate::plot::write_error(dir, &e))?;
    }
    Ok(reporter)
}

/// Close the results, the HdrHistogram log, and write the plots and the HTML report.
fn finish_outputs(mut reporter: Reporter, hdr: Option<hdr::HdrFile>, plan: &Plan) -> Result<()> {
    reporter.finish()?;
    if let Some(h) = hdr {
        h.finish()?;
    }
    if let Some(dir) = &plan.plot {
        reporter.write_plots(dir)?;
    }
    if let Some(path) = &plan.html {
        reporter.write_html(path)?;
    }
    Ok(())
}

/// Say where the hosts of a multi-host run meet, on a terminal.
fn announce_hosts(hosts: Option<&MultiHost>, target: &Target) {
    if let (Some(m), true) = (hosts, std::io::stderr().is_terminal()) {
        eprintln!(
            "atsbench: host {} of {}: meeting the others on {} (rendezvous blocks at byte {}), waiting up to {} s",
            m.index,
            m.count,
            target.path.display(),
            m.offset,
            m.timeout.as_secs_f64()
        );
    }
}

/// What makes a run end with an error, gathered as its points are measured and written.
#[derive(Default)]
struct Ending {
    /// Points whose history broke atomicity, each in a few words.
    broken: Vec<String>,
    /// Points over --max-error-rate.
    erring: Vec<String>,
    gone: Option<DeviceGone>,
    /// A host whose final rendezvous failed.
    lost: Option<String>,
    /// An escalation beyond ABORT TASK, in one line.
    escalation: Option<String>,
}

impl Ending {
    /// Note what one written point says about the run.
    fn note(&mut self, point: &Point, plan: &Plan, target: &str) {
        if let Some(why) = broke_atomicity(point) {
            self.broken.push(why);
        }
        if point.faults.ended_by == EndedBy::Escalated {
            self.escalation = Some(escalation_line(point, target, plan.output.as_deref()));
        } else if point.faults.error_rate > plan.max_error_rate {
            self.erring.push(error_summary(point));
        }
    }

    /// The run's error, once every point is written: the first of interrupted, escalated,
    /// device gone, host lost, atomicity broken, device errors, failed checks.
    fn result(self, stop: &AtomicBool, plan: &Plan, target: &str, failed_checks: Vec<String>) -> Result<()> {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        if let Some(line) = self.escalation {
            return Err(Error::Device(line));
        }
        if let Some(g) = self.gone {
            let to = plan.output.as_ref().map_or("standard output".into(), |p| p.display().to_string());
            return Err(Error::Device(format!(
                "{} went away mid-run ({}): the point ended after {:.1} s; results written to {to}; check that the \
                 device is attached (dmesg) and run again",
                target, g.error, g.at_s
            )));
        }
        if let Some(why) = self.lost {
            return Err(Error::Rendezvous(format!(
                "{why}; this host's point was written without its final lock blocks (not verified)"
            )));
        }
        if !self.broken.is_empty() {
            return Err(Error::Verification(format!(
                "ATS broke atomicity ({}); the device or driver does not serialise compare-and-write",
                self.broken.join("; ")
            )));
        }
        if !self.erring.is_empty() {
            return Err(Error::DeviceErrors(format!(
                "{}: the device returned errors ({}); the results list them by kind under `faults`; check the device \
                 and its paths, or allow some with --max-error-rate",
                target,
                self.erring.join("; ")
            )));
        }
        if !failed_checks.is_empty() {
            return Err(Error::CheckFailed(format!(
                "every point was written, but {} conformance check(s) failed: {}",
                failed_checks.len(),
                failed_checks.join(", ")
            )));
        }
        Ok(())
    }
}

/// The progress bar, when stderr is a terminal and `-q` was not given; a sweep says first how
/// long it will measure (unless `-q`).
fn progress(plan: &Plan, runs: usize) -> Option<Progress> {
    if plan.quiet {
        return None;
    }
    if plan.command == "sweep" {
        eprintln!("{}", expected_time(plan.points.len(), plan.repeat, plan.stop));
    }
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(match (plan.command, plan.stop) {
        // With --hdr-log the workers' snapshots go to the log: `run` shows time and ETA instead.
        ("run", stop) if plan.hdr_log.is_none() => Progress::run(stop),
        (_, StopAt::Seconds(s)) => Progress::sweep(runs, Some(std::time::Duration::from_secs_f64(s))),
        (_, StopAt::Ops(_)) => Progress::sweep(runs, None),
    })
}

/// One line on stderr for a point that did not end as asked: its `--ops` not done within
/// `--max-duration`, or commands abandoned after the drain's grace.
fn warn_ending(p: &Point) {
    let f = &p.faults;
    if f.ended_by == EndedBy::MaxDuration {
        eprintln!(
            "atsbench: {} qd {}: --ops not done within --max-duration {} s ({} done); the point ends there",
            p.workload.name(),
            p.qd,
            f.max_duration_s.unwrap_or(0.0),
            p.ops
        );
    }
    // An escalated point's abandoned commands are in the run's one closing line.
    if f.abandoned > 0 && f.ended_by != EndedBy::Escalated {
        eprintln!(
            "atsbench: {} qd {}: {} commands still out after the {} s grace were abandoned to the kernel; the lock \
             blocks were not verified",
            p.workload.name(),
            p.qd,
            f.abandoned,
            f.grace_s
        );
    }
}

/// The one line a run ends with when the kernel escalated beyond ABORT TASK
/// (`--on-timeout abort`): what happened, where the run stopped, where the results are.
fn escalation_line(p: &Point, target: &str, output: Option<&std::path::Path>) -> String {
    let f = &p.faults;
    let seen = p.aborts.map_or(0, |a| a.escalated);
    let kind = f.commonest().map_or(String::new(), |(k, _)| format!(", most {k}"));
    let abandoned =
        if f.abandoned > 0 { format!(", {} commands abandoned to the kernel", f.abandoned) } else { String::new() };
    let to = output.map_or(" (stdout)".to_string(), |o| format!(" to {}", o.display()));
    format!(
        "{target}: the kernel went beyond aborting a timed-out COMPARE AND WRITE: a reset reached the commands or the \
         device went offline ({seen} commands{kind}); {} qd {} stopped after {:.1} s{abandoned} and the run ends \
         there, results written{to}; check the device's state and the kernel log (dmesg), or raise --timeout",
        p.workload.name(),
        p.qd,
        p.duration_s
    )
}

/// A point's errors in a few words: how many, the rate, the commonest kind.
fn error_summary(p: &Point) -> String {
    let f = &p.faults;
    let kind = f.commonest().map_or(String::new(), |(k, _)| format!(", most {k}"));
    let abandoned = if f.abandoned > 0 { format!(", {} abandoned unanswered", f.abandoned) } else { String::new() };
    format!("{} qd {}: {} errors{abandoned}, rate {:.4}{kind}", p.workload.name(), p.qd, p.errors, f.error_rate)
}

/// `--checks`: the conformance checks on the target, before the points, inside the region;
/// returns the ids that failed. A target without a device-side compare is noted, not an error.
fn conformance(plan: &Plan, reporter: &mut Reporter) -> Result<Vec<String>> {
    let target = match (&plan.target, plan.sim) {
        (_, Some(bytes)) => std::path::PathBuf::from(format!("sim:{bytes}")),
        (Some(path), None) => path.clone(),
        (None, None) => {
            let why = "the built-in temporary file has no device-side compare".to_string();
            return reporter
                .conformance(crate::check::Conformance { report: None, skipped: Some(why) })
                .map(|_| vec![]);
        }
    };
    let o = crate::check::CheckOptions {
        targets: vec![target],
        region: plan.region,
        force: plan.force,
        ops: 1000,
        actors: 4,
        seed: plan.seed.unwrap_or(1),
        sim_nvme: plan.sim.is_some() && plan.device.sim.protocol == backend::sim::SimProtocol::Nvme,
        inject: if plan.sim.is_some() { plan.device.sim.inject } else { Default::default() },
    };
    let c = match crate::check::run(&o) {
        Ok(r) => crate::check::Conformance { report: Some(r), skipped: None },
        Err(Error::Unsupported(why)) => crate::check::Conformance { report: None, skipped: Some(why) },
        Err(e) => return Err(e),
    };
    let failed = c.report.iter().flat_map(|r| r.failed().map(|x| x.id.clone())).collect();
    reporter.conformance(c)?;
    Ok(failed)
}

/// The order of the measurements: (run number, point index); each point's repeats in a row,
/// or round by round over all points when interleaved.
fn run_order(points: usize, repeat: u32, interleave: bool) -> impl Iterator<Item = (usize, usize)> {
    let r = repeat as usize;
    (0..points * r).map(move |i| (i, if interleave { i % points } else { i / r }))
}

/// Open TARGET, or create the built-in temporary file, or make the simulated device.
fn open_target(plan: &Plan) -> Result<Target> {
    let abort = !plan.on_timeout.is_resend();
    let needs_scsi = |kind: device::BackendKind| {
        if abort && kind != device::BackendKind::Scsi {
            return Err(Error::usage(format!(
                "--on-timeout abort needs a SCSI generic target (/dev/sgN), whose kernel aborts a timed-out \
                 command; this is a {} target: drop it or use --on-timeout resend",
                kind.name()
            )));
        }
        Ok(())
    };
    if let Some(bytes) = plan.sim {
        needs_scsi(device::BackendKind::Sim)?;
        check_fused_kind(plan.device.fused, device::BackendKind::Sim)?;
        check_scsi_options(plan, device::BackendKind::Sim)?;
        return Ok(device::open_sim(bytes));
    }
    let Some(path) = &plan.target else {
        check_scsi_options(plan, device::BackendKind::File)?;
        if plan.points.iter().any(|p| p.workload == Workload::Compare) {
            // Said before a temporary file is made for nothing.
            return Err(Error::Unsupported(
                "--workload compare needs a device-side compare (an NVMe namespace), and the default target is a \
                 file; give an NVMe TARGET (/dev/ngXnY) or sim --sim-protocol nvme"
                    .into(),
            ));
        }
        needs_scsi(device::BackendKind::File)?;
        let t = device::open_default(DEFAULT_TARGET_BYTES)?;
        eprintln!(
            "atsbench: no TARGET given: using a {} MiB temporary file, {} (removed at exit)",
            DEFAULT_TARGET_BYTES >> 20,
            t.path.display()
        );
        return Ok(t);
    };
    if std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Err(Error::Target(format!(
            "{}: no such file or device; check the path, or omit TARGET to use a temporary file",
            path.display()
        )));
    }
    let kind = match plan.backend {
        Some(k) => k,
        None => device::detect_kind(path)?,
    };
    check_fused_kind(plan.device.fused, kind)?;
    check_scsi_options(plan, kind)?;
    needs_scsi(kind)?;
    device::open(path, plan.backend, plan.writes(), plan.force)
}

/// `--transport`, `--ats-blocks`, `--dpo` and `--fua` shape SCSI commands: on any other
/// target they would be silently ignored, so they are usage errors there.
fn check_scsi_options(plan: &Plan, kind: device::BackendKind) -> Result<()> {
    if kind == device::BackendKind::Scsi {
        return Ok(());
    }
    let d = &plan.device;
    let given = [
        (d.transport.is_some(), "--transport"),
        (d.ats_blocks.is_some(), "--ats-blocks"),
        (d.dpo, "--dpo"),
        (d.fua, "--fua"),
    ];
    match given.iter().find(|(on, _)| *on) {
        Some((_, flag)) => Err(Error::usage(format!(
            "{flag} applies to SCSI generic targets (/dev/sgN) only, and this target is {}; drop {flag} or give a \
             /dev/sgN TARGET",
            kind.name()
        ))),
        None => Ok(()),
    }
}

/// Resolve the plan's points against the target: block size, region, lock blocks, seeds; and
/// with several hosts, this host's part, which the points' region leaves room for.
fn resolve(plan: &Plan, target: &Target) -> Result<(Vec<PointSpec>, Option<MultiHost>)> {
    let lbs = target.logical_block_size();
    let bs = match plan.bs {
        // A COMPARE AND WRITE of N blocks works on lock records of N blocks.
        None => lbs * plan.device.ats_blocks.map_or(1, u32::from).max(1),
        Some(b) if b % u64::from(lbs) != 0 => {
            return Err(Error::usage(format!(
                "--bs {b}: the block size must be a multiple of the target's {lbs}-byte logical block size"
            )))
        }
        Some(b) => b as u32,
    };
    let region = Region::resolve(plan.region, target.size(), bs).map_err(|e| Error::Target(format!("--{e}")))?;
    let seed = plan.seed.unwrap_or_else(random_u64);
    let (hosts, region) = match plan.hosts {
        Some(h) => MultiHost::on_region(h, region, bs, random_u64()).map(|(m, rest)| (Some(m), rest))?,
        None => (None, region),
    };
    let host = hosts.as_ref().map_or_else(|| random_u64() | 1, MultiHost::id);
    let specs = plan.points.iter().map(|p| spec_of(plan, p, (bs, region), seed, host)).collect::<Result<_>>()?;
    Ok((specs, hosts))
}

fn spec_of(plan: &Plan, p: &PlanPoint, (bs, region): (u32, Region), seed: u64, host: u64) -> Result<PointSpec> {
    let spec = PointSpec {
        workload: p.workload,
        qd: p.qd,
        cpus: p.cpus.clone(),
        lock_plan: p.lock_plan,
        bs,
        region,
        stop: plan.stop,
        max_duration_s: plan.max_duration_s,
        rate: plan.rate,
        verify: plan.verify,
        sqpoll: plan.sqpoll,
        iopoll: plan.iopoll,
        miscompare_fraction: plan.miscompare_fraction,
        host,
        seed,
        heartbeat_ns: if p.workload == Workload::Heartbeat { plan.heartbeat_ns.max(1) } else { 0 },
        // With abort the kernel times the command out; nothing is given up in user space.
        timeout_ns: plan.timeout_ms.filter(|_| plan.on_timeout.is_resend()).map(|ms| ms * 1_000_000),
        on_timeout: plan.on_timeout,
        expected_from: plan.device.expected,
    };
    let (locks, room) = (u64::from(spec.locks()), region.blocks(bs));
    if p.workload == Workload::Heartbeat && room <= locks {
        return Err(Error::usage(format!(
            "heartbeat needs room for background I/O after its {locks} heartbeat blocks; widen --region"
        )));
    }
    if locks > room {
        let fix = match p.lock_plan {
            crate::engine::LockPlan::Contention(k) => (
                format!(
                    " (--contention {k} with {} actors: {} x --qd {})",
                    spec.actors(),
                    workers(spec.threads()),
                    spec.qd
                ),
                "raise --contention or lower --qd or --threads",
            ),
            crate::engine::LockPlan::Locks(n) => (format!(" (--locks {n})"), "lower --locks"),
        };
        let (fix, advice) = fix;
        return Err(Error::usage(format!(
            "{locks} lock blocks are needed{fix}, and the region holds {room} blocks of {bs} bytes; widen --region \
             or use a larger target, or {advice}"
        )));
    }
    Ok(spec)
}

/// Measure one point with the backend the target needs.
fn measure(
    target: &Target,
    spec: &PointSpec,
    barrier: Option<&dyn PointBarrier>,
    plan: &Plan,
    stop: &AtomicBool,
    log: Option<hdr::LogSink<'_>>,
) -> Result<Measured> {
    let needs = PointNeeds {
        slots: spec.requests(),
        workers: spec.threads(),
        bs: spec.bs,
        first_block: spec.region.start,
        iopoll: spec.iopoll,
        compare: matches!(spec.workload, Workload::Ats | Workload::Compare).then_some(spec.workload.name()),
        compare_write: spec.workload == Workload::Ats,
        seed: spec.seed,
        device: plan.device,
    };
    let every = plan.interval_ns;
    let queue_depth = device::sysfs::queue_depth(&target.path);
    let mut m = match backend::open(target.backend_options(&needs)?)? {
        Opened::Block(f) => engine::run_point(spec, barrier, &f, stop, every, log),
        Opened::Nvme(f) => engine::run_point(spec, barrier, &f, stop, every, log),
        Opened::Scsi(f) => match f.transport() {
            Transport::Sg => engine::run_point(spec, barrier, &f.sg(), stop, every, log),
            Transport::SgSync => engine::run_point(spec, barrier, &f.sg_sync(), stop, every, log),
            Transport::BsgUring => engine::run_point(spec, barrier, &f.bsg_uring(), stop, every, log),
        },
        Opened::Sim(f) => engine::run_point(spec, barrier, &f, stop, every, log),
    }?;
    if queue_depth.is_some() {
        let report = m.point.ring.backend.get_or_insert_with(Default::default);
        report.device_queue_depth = queue_depth;
    }
    Ok(m)
}

/// A device-side or serialised ATS point whose history does not verify. One host of several
/// fails only for device-side ATS: the other modes serialise within one process, so lost
/// updates across hosts are their known answer (`atsbench merge` says so).
fn broke_atomicity(p: &Point) -> Option<String> {
    let v = p.verification.as_ref().filter(|v| v.violations + v.lost_updates > 0)?;
    let atomic_here = p.host_share.is_none() || p.ats_mode == Some(AtsMode::Device);
    (p.workload == Workload::Ats && atomic_here).then(|| {
        format!(
            "qd {} threads {} locks {}: {} violations, {} lost updates",
            p.qd, p.threads, p.locks, v.violations, v.lost_updates
        )
    })
}

fn check_memlock(bytes: u64) -> Result<()> {
    if blk::has_cap_ipc_lock() {
        return Ok(());
    }
    match blk::memlock_limit() {
        Some(limit) if bytes > limit => Err(Error::Limit(format!(
            "the registered buffers need {} KiB of locked memory but RLIMIT_MEMLOCK is {} KiB; \
             raise it (ulimit -l {}) or lower --qd or --threads",
            bytes.div_ceil(1024),
            limit / 1024,
            bytes.div_ceil(1024).next_power_of_two()
        ))),
        _ => Ok(()),
    }
}

fn random_u64() -> u64 {
    // Seeds and host ids need not be secret; the clock and pid are a fallback if the kernel's
    // generator cannot be read.
    getrandom::u64().unwrap_or_else(|_| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32)
    })
}

#[cfg(test)]
mod tests {
    use super::run_order;

    #[test]
    fn repeats_run_in_a_row_or_round_by_round() {
        let order: Vec<usize> = run_order(3, 2, false).map(|(_, p)| p).collect();
        assert_eq!(order, vec![0, 0, 1, 1, 2, 2]);
        let order: Vec<usize> = run_order(3, 2, true).map(|(_, p)| p).collect();
        assert_eq!(order, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(run_order(2, 1, true).count(), 2);
    }
}
