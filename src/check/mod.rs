//! `atsbench check TARGET [TARGET...]`: does the device implement compare-and-write correctly?
//!
//! Each check has a stable id, a one-line statement and the clause it tests (the catalogue
//! below), and ends `pass`, `fail`, `skip` (with the reason) or `n/a`, with its evidence. The
//! families live in one file each: `scsi` (COMPARE AND WRITE one command at a time), `nvme`
//! (Compare, MDTS, ONCS, FUSES), `atomic` (concurrent actors on one block: CAW against CAW,
//! READ, WRITE, and across paths). `port` is how commands reach a device, `sim` the simulated
//! device (which answers every check like a correct device unless `--inject` says otherwise);
//! the output types and renderings are `results::conformance` (re-exported here as `report`).
//!
//! Safety: every write lands inside `--region`, handed out block by block by [`Blocks`], and
//! a device holding data is refused unless `--force` (the same test as `run`).

pub mod atomic;
pub mod nvme;
pub mod port;
pub mod reference;
pub mod scsi;
pub mod sim;

// The report types live in the results module, which carries them in run/sweep results.
pub use crate::results::conformance::{
    self as report, CheckReport, CheckResult, CheckedDevice, Conformance, Counts, Verdict,
};

use crate::backend::sim::Injections;
use crate::device::{self, BackendKind, Probe};
use crate::error::{Error, Result};
use crate::spec::{Region, RegionArg};
use port::{NgPort, NvmePort, ScsiPort, SgPort};
use std::path::PathBuf;

/// A check of the catalogue: what it tests and where the specification says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub id: &'static str,
    pub statement: &'static str,
    pub clause: &'static str,
}

/// Why a check stopped before passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Fail(String),
    Skip(String),
    NotApplicable(String),
}

pub type Step<T = ()> = std::result::Result<T, Stop>;

pub fn fail<T>(why: impl Into<String>) -> Step<T> {
    Err(Stop::Fail(why.into()))
}

/// A check being run: its evidence so far.
#[derive(Debug, Default)]
pub struct Evidence(pub Vec<String>);

impl Evidence {
    pub fn note(&mut self, line: impl Into<String>) {
        self.0.push(line.into());
    }
}

impl Check {
    /// Run `body` and turn its end into a result.
    pub fn run(&self, body: impl FnOnce(&mut Evidence) -> Step) -> CheckResult {
        let mut ev = Evidence::default();
        let end = body(&mut ev);
        let (result, reason) = match end {
            Ok(()) => (Verdict::Pass, None),
            Err(Stop::Fail(r)) => (Verdict::Fail, Some(r)),
            Err(Stop::Skip(r)) => (Verdict::Skip, Some(r)),
            Err(Stop::NotApplicable(r)) => (Verdict::NotApplicable, Some(r)),
        };
        CheckResult {
            id: self.id.into(),
            statement: self.statement.into(),
            clause: self.clause.into(),
            result,
            reason,
            evidence: ev.0,
        }
    }

    /// A result without running anything (`skip` or `n/a` decided up front).
    pub fn stopped(&self, stop: Stop) -> CheckResult {
        self.run(|_| Err(stop))
    }
}

/// The SCSI checks, in the order they run.
pub const SCSI_CHECKS: [Check; 12] = [
    scsi::CAW_SIMPLE,
    scsi::CAW_NLB_LIMIT,
    scsi::CAW_NLB_ZERO,
    scsi::CAW_LBA_RANGE,
    scsi::CAW_MISCOMPARE_UNCHANGED,
    scsi::CAW_MISCOMPARE_OFFSET,
    scsi::CAW_UNWRITTEN,
    scsi::CAW_DPO_FUA,
    atomic::CAW_ATOMIC_CAW,
    atomic::CAW_ATOMIC_READ,
    atomic::CAW_ATOMIC_WRITE,
    atomic::CAW_MULTIPATH,
];

/// The NVMe checks, in the order they run.
pub const NVME_CHECKS: [Check; 5] = [
    nvme::NVME_COMPARE,
    nvme::NVME_COMPARE_MULTI,
    nvme::NVME_COMPARE_ONCS,
    nvme::NVME_FUSED,
    atomic::NVME_ATOMIC_WRITE,
];

/// What the command line asks of `check`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub targets: Vec<PathBuf>,
    pub region: Option<RegionArg>,
    pub force: bool,
    /// Operations per atomicity check (over all actors).
    pub ops: u64,
    /// Concurrent actors per atomicity check.
    pub actors: u32,
    pub seed: u64,
    /// `sim` only: the command set and the faults.
    pub sim_nvme: bool,
    pub inject: Injections,
}

/// The blocks of the region, handed out so that no two checks share a block and nothing is
/// written outside `--region`.
#[derive(Debug)]
pub struct Blocks {
    next: u64,
    end: u64,
}

impl Blocks {
    pub fn new(region: Region, lbs: u32) -> Self {
        Blocks { next: region.start / u64::from(lbs), end: region.end / u64::from(lbs) }
    }

    /// `n` fresh consecutive blocks, or a skip saying the region is too small.
    pub fn take(&mut self, n: u64) -> Step<u64> {
        if self.next + n > self.end {
            return Err(Stop::Skip(format!(
                "--region has too few blocks left ({} wanted, {} left); give a larger --region",
                n,
                self.end - self.next
            )));
        }
        self.next += n;
        Ok(self.next - n)
    }

    pub fn end(&self) -> u64 {
        self.end
    }
}

/// Sizes of the atomicity checks.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub ops: u64,
    pub actors: u32,
    pub seed: u64,
}

fn region_of(o: &CheckOptions, bytes: u64, lbs: u32) -> Result<Region> {
    Region::resolve(o.region, bytes, lbs).map_err(Error::Target)
}

fn load(o: &CheckOptions) -> Load {
    Load { ops: o.ops.max(1), actors: o.actors.max(2), seed: o.seed }
}

/// Run every check on the targets (paths of one LUN).
// long: opens each kind of target and runs its family, one arm each
pub fn run(o: &CheckOptions) -> Result<CheckReport> {
    let first = o.targets.first().ok_or_else(|| Error::usage("give at least one TARGET"))?;
    if device::sim_size(first).is_some() {
        return run_sim(o);
    }
    if o.inject.asked().next().is_some() || o.sim_nvme {
        return Err(Error::usage("--inject and --sim-protocol apply to the simulated device only (TARGET sim)"));
    }
    let mut targets = Vec::new();
    for p in &o.targets {
        if device::sim_size(p).is_some() {
            return Err(Error::usage("`sim` cannot be mixed with device paths; check one LUN at a time"));
        }
        targets.push(device::open(p, None, true, o.force)?);
    }
    let kind = targets[0].kind;
    match kind {
        BackendKind::Scsi => {
            let lu = |t: &device::Target| match &t.info.probe {
                Some(Probe::Scsi(s)) => s.lu_name.clone(),
                _ => None,
            };
            let name0 = lu(&targets[0]);
            for t in &targets[1..] {
                if t.kind != BackendKind::Scsi || name0.is_none() || lu(t) != name0 {
                    return Err(Error::usage(format!(
                        "{} and {} are not paths of one LUN (logical-unit designators {:?} and {:?}); give the sg \
                         nodes of one LUN",
                        targets[0].path.display(),
                        t.path.display(),
                        name0,
                        lu(t)
                    )));
                }
            }
            let info = targets[0].info.clone();
            let mut ports: Vec<Box<dyn ScsiPort>> = Vec::new();
            for t in targets {
                let file = t.file.ok_or_else(|| Error::Internal("an sg target without its file".into()))?;
                ports.push(Box::new(SgPort::new(&t.path, file)));
            }
            let mut dev = CheckedDevice {
                paths: o.targets.iter().map(|p| p.display().to_string()).collect(),
                protocol: "scsi".into(),
                model: info.model,
                firmware: info.firmware,
                lu_name: name0,
                ..Default::default()
            };
            let region = region_of(o, info.size_bytes, info.logical_block_size)?;
            let checks = scsi::run_all(ports, region, load(o), &mut dev)?;
            Ok(CheckReport::new(dev, checks))
        }
        BackendKind::Nvme => {
            if targets.len() > 1 {
                return Err(Error::usage(
                    "give one NVMe namespace (/dev/ngXnY); several paths are checked for SCSI only",
                ));
            }
            let t = targets.remove(0);
            let file = t.file.ok_or_else(|| Error::Internal("an NVMe target without its file".into()))?;
            let port: Box<dyn NvmePort> = Box::new(NgPort::new(&t.path, file)?);
            let mut dev = CheckedDevice {
                paths: vec![t.path.display().to_string()],
                protocol: "nvme".into(),
                model: t.info.model.clone(),
                firmware: t.info.firmware.clone(),
                ..Default::default()
            };
            let region = region_of(o, t.info.size_bytes, t.info.logical_block_size)?;
            let checks = nvme::run_all(port, region, load(o), &mut dev)?;
            Ok(CheckReport::new(dev, checks))
        }
        other => Err(Error::Unsupported(format!(
            "{}: a {} target has no device-side compare to check; give a SCSI generic node (/dev/sgN) or an NVMe \
             generic node (/dev/ngXnY), or `sim`",
            first.display(),
            other.name()
        ))),
    }
}

/// The simulated device: `sim` given once or several times (several paths to one device).
fn run_sim(o: &CheckOptions) -> Result<CheckReport> {
    let mut bytes = None;
    for p in &o.targets {
        let b = device::sim_size(p)
            .ok_or_else(|| Error::usage("`sim` cannot be mixed with device paths; check one LUN at a time"))?
            .map_err(Error::usage)?;
        if bytes.is_some_and(|x| x != b) {
            return Err(Error::usage("every `sim` path must give the same size (they are paths of one device)"));
        }
        bytes = Some(b);
    }
    let bytes = bytes.unwrap_or(device::DEFAULT_TARGET_BYTES);
    run_on_sim(&sim::SimDevice::new(bytes, o.inject, o.seed), bytes, o)
}

/// Run the checks on the simulated device `sim` of `bytes`, one path per target.
pub fn run_on_sim(sim: &sim::SimDevice, bytes: u64, o: &CheckOptions) -> Result<CheckReport> {
    let mut dev = CheckedDevice {
        paths: o.targets.iter().map(|p| p.display().to_string()).collect(),
        protocol: "sim".into(),
        model: Some(format!("atsbench simulated device ({})", if o.sim_nvme { "nvme" } else { "scsi" })),
        ..Default::default()
    };
    let region = region_of(o, bytes, sim::LBS)?;
    let checks = if o.sim_nvme {
        if o.targets.len() > 1 {
            return Err(Error::usage("give one NVMe namespace; several paths are checked for SCSI only"));
        }
        nvme::run_all(Box::new(sim.nvme_port()), region, load(o), &mut dev)?
    } else {
        dev.lu_name = Some(sim::LU_NAME.into());
        let ports: Vec<Box<dyn ScsiPort>> = o.targets.iter().map(|_| Box::new(sim.scsi_port()) as _).collect();
        scsi::run_all(ports, region, load(o), &mut dev)?
    };
    Ok(CheckReport::new(dev, checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(targets: &[&str], nvme: bool, inject: &str) -> CheckOptions {
        CheckOptions {
            targets: targets.iter().map(PathBuf::from).collect(),
            ops: 400,
            actors: 4,
            seed: 7,
            sim_nvme: nvme,
            inject: if inject.is_empty() { Injections::default() } else { inject.parse().unwrap() },
            ..Default::default()
        }
    }

    fn verdicts(r: &CheckReport) -> Vec<(String, &'static str)> {
        r.checks.iter().map(|c| (c.id.clone(), c.result.name())).collect()
    }

    #[test]
    fn the_simulated_device_passes_everything() {
        let one = run(&opts(&["sim"], false, "")).unwrap();
        assert_eq!(one.checks.len(), SCSI_CHECKS.len());
        for (c, want) in one.checks.iter().zip(SCSI_CHECKS) {
            assert_eq!(c.id, want.id);
            let expect = if c.id == "caw-multipath" { Verdict::NotApplicable } else { Verdict::Pass };
            assert_eq!(c.result, expect, "{}", one.table());
        }
        let two = run(&opts(&["sim", "sim"], false, "")).unwrap();
        assert_eq!(two.counts, Counts { pass: 12, ..Default::default() }, "{}", two.table());
        assert!(two.get("caw-multipath").evidence.iter().any(|e| e.contains("MISCOMPARE here")));
        let nvme = run(&opts(&["sim"], true, "")).unwrap();
        assert_eq!(nvme.checks.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), NVME_CHECKS.map(|c| c.id));
        assert_eq!(nvme.counts, Counts { pass: 4, not_applicable: 1, ..Default::default() }, "{}", nvme.table());
        assert!(nvme.get("nvme-fused").reason.as_deref().unwrap().contains("EINVAL"));
    }

    /// Known answers: each fault kind fails the check it violates.
    #[test]
    fn each_injected_fault_fails_the_check_it_violates() {
        let cases: [(&str, bool, &[&str]); 11] = [
            ("false-miscompare=1", false, &["caw-simple"]),
            ("own-write=1", false, &["caw-simple"]),
            ("lost-write=1", false, &["caw-simple"]),
            ("foreign-write=1", false, &["caw-simple"]),
            ("torn-write=0.1", false, &["caw-atomic-caw", "caw-atomic-write"]),
            ("stale-read=0.1", false, &["caw-atomic-read"]),
            ("false-miscompare=1", true, &["nvme-compare", "nvme-compare-multi"]),
            ("lost-write=1", true, &["nvme-compare"]),
            ("foreign-write=1", true, &["nvme-compare"]),
            ("torn-write=0.1", true, &["nvme-atomic-write"]),
            ("latency-spike=0.01", false, &[]),
        ];
        for (inject, nvme, fails) in cases {
            let r = run(&opts(&["sim"], nvme, inject)).unwrap();
            for id in fails {
                assert_eq!(r.get(id).result, Verdict::Fail, "{inject}: {id}\n{}", r.table());
            }
            if fails.is_empty() {
                assert_eq!(r.counts.fail, 0, "{inject}: {:?}", verdicts(&r));
            }
        }
    }

    #[test]
    fn docs_name_every_check_and_every_reference_test() {
        let doc = include_str!("../../docs/check.md");
        for c in SCSI_CHECKS.iter().chain(NVME_CHECKS.iter()) {
            assert!(doc.contains(&format!("| `{}` |", c.id)), "docs/check.md lacks a row for {}", c.id);
        }
        for (test, _, _) in reference::MAPPING {
            assert!(doc.contains(&format!("| {test} |")), "docs/check.md lacks the mapping of {test}");
        }
    }

    #[test]
    fn nothing_is_written_outside_the_region() {
        let mut o = opts(&["sim", "sim"], false, "");
        o.region = Some("1M..2M".parse().unwrap());
        let dev = sim::SimDevice::new(64 << 20, Injections::default(), 1);
        let r = run_on_sim(&dev, 64 << 20, &o).unwrap();
        assert_eq!(r.counts.fail, 0, "{}", r.table());
        assert_eq!(r.device.region, [1 << 20, 2 << 20]);
        let written = dev.written_blocks();
        assert!(!written.is_empty());
        assert!(written.iter().all(|b| (2048..4096).contains(b)), "{written:?}");
        o.region = Some("0..4K".parse().unwrap());
        let r = run(&o).unwrap();
        assert_eq!(r.get("caw-atomic-caw").result, Verdict::Skip, "too small a region skips, never strays");
    }
}
