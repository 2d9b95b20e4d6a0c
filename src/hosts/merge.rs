//! `atsbench merge`: the results of the hosts of one multi-host run, checked to belong
//! together, combined point by point, their ATS histories verified together (`verify.rs`).
//!
//! Files that cannot be read or are not multi-host results of this atsbench are exit 3; files
//! that do not belong together (other seeds, runs or point lists, a host twice or missing)
//! are exit 2; device-side ATS that broke atomicity across hosts is exit 9.

use super::meet::host_id;
use super::verify::verify_hosts;
use crate::backend::AtsMode;
use crate::diagnose;
use crate::error::{Error, Result};
use crate::results::{
    self, Document, Figures, HostFigures, HostRef, HostShare, Merged, MergedPoint, Point, MERGE_SCHEMA, SCHEMA,
};
use crate::workload::Workload;
use std::path::{Path, PathBuf};

struct Input {
    file: PathBuf,
    doc: Document,
}

impl Input {
    fn index(&self) -> u32 {
        self.doc.config.host_index
    }

    fn name(&self) -> std::path::Display<'_> {
        self.file.display()
    }
}

/// Merge the hosts' result `files`, write the merged result, and end with the merge's error.
pub fn merge_files(files: &[PathBuf], format: crate::report::Format, output: Option<&Path>) -> Result<()> {
    let inputs = files.iter().map(|f| read(f)).collect::<Result<Vec<_>>>()?;
    let merged = combine(check_together(inputs)?);
    super::report::write(&merged, format, output)?;
    let broken: Vec<String> = merged
        .points
        .iter()
        .filter(|p| p.cross_host_atomic == Some(true))
        .filter_map(|p| {
            let v = p.verification.as_ref().filter(|v| v.violations + v.lost_updates > 0)?;
            Some(format!(
                "qd {} threads {} locks {}: {} violations, {} lost updates",
                p.qd, p.threads, p.locks, v.violations, v.lost_updates
            ))
        })
        .collect();
    if !broken.is_empty() {
        return Err(Error::Verification(format!(
            "ATS broke atomicity across hosts ({}); the device or its paths do not serialise COMPARE AND WRITE",
            broken.join("; ")
        )));
    }
    Ok(())
}

/// Read one host's results: a multi-host result of this schema with a share in every point.
fn read(file: &Path) -> Result<Input> {
    let p = file.display();
    let fix = "give the JSON results the hosts wrote (-f json -o FILE on each)";
    let bytes = std::fs::read(file).map_err(|e| Error::Target(format!("{p}: cannot read it ({e}); {fix}")))?;
    let loaded = results::parse(file, &bytes).map_err(|e| Error::Target(format!("{e}; {fix}")))?;
    if loaded.schema != SCHEMA {
        return Err(Error::Target(format!(
            "{p}: schema {}, but this atsbench merges {SCHEMA}; merge with the atsbench that wrote it",
            loaded.schema
        )));
    }
    let doc = loaded.doc;
    if doc.config.hosts < 2 || doc.config.rendezvous.is_none() {
        return Err(Error::Target(format!(
            "{p}: the result of a single host; merge takes the results of the hosts of one run with --hosts N"
        )));
    }
    if let Some(k) = doc.points.iter().position(|pt| pt.host_share.is_none()) {
        return Err(Error::Target(format!("{p}: point {k} has no host share; {fix}")));
    }
    Ok(Input { file: file.to_path_buf(), doc })
}

/// The files must be the results of every host of one run, each once: the same seed, tag,
/// host count, points and session. Returns them in host order.
fn check_together(mut inputs: Vec<Input>) -> Result<Vec<Input>> {
    let fix = "give the results of the hosts of one multi-host run";
    let (a, rest) = inputs.split_first().ok_or_else(|| Error::usage("merge needs the results of the hosts"))?;
    let (seed, n, tag) = (a.doc.config.seed, a.doc.config.hosts, a.doc.config.rendezvous.as_ref().map(|r| &r.tag));
    for b in rest {
        let c = &b.doc.config;
        if c.seed != seed || c.hosts != n || c.rendezvous.as_ref().map(|r| &r.tag) != tag {
            return Err(Error::usage(format!(
                "{}: seed {} with --hosts {}, but {}: seed {seed} with --hosts {n}; {fix}",
                b.name(),
                c.seed,
                c.hosts,
                a.name()
            )));
        }
    }
    inputs.sort_by_key(Input::index);
    if let Some(w) = inputs.windows(2).find(|w| w[0].index() == w[1].index()) {
        let (x, y) = (w[0].name(), w[1].name());
        return Err(Error::usage(format!("{x} and {y} are both host {}; give each host's results once", w[0].index())));
    }
    let missing: Vec<String> =
        (0..n).filter(|i| !inputs.iter().any(|x| x.index() == *i)).map(|i| i.to_string()).collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "host{} {} of {n} missing; give the results of every host of the run",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    let a = &inputs[0];
    for b in &inputs[1..] {
        check_points(a, b)?;
    }
    Ok(inputs)
}

/// The same points in the same order, from the same session.
fn check_points(a: &Input, b: &Input) -> Result<()> {
    let (pa, pb) = (&a.doc.points, &b.doc.points);
    if pa.len() != pb.len() {
        return Err(Error::usage(format!(
            "{} has {} points, {} has {}; the hosts must run the same command (an interrupted host has fewer)",
            b.name(),
            pb.len(),
            a.name(),
            pa.len()
        )));
    }
    for (k, (x, y)) in pa.iter().zip(pb).enumerate() {
        if shape(x) != shape(y) {
            return Err(Error::usage(format!(
                "{}: point {k} is {}, but {}'s is {}; the hosts must run the same command",
                b.name(),
                shape(y),
                a.name(),
                shape(x)
            )));
        }
        let session = |p: &Point| p.host_share.as_ref().map(|s| s.session.clone()).unwrap_or_default();
        if session(x) != session(y) {
            return Err(Error::usage(format!(
                "{}: point {k} is from another run (session {}, {}: {}); give the results of one run",
                b.name(),
                session(y),
                a.name(),
                session(x)
            )));
        }
    }
    Ok(())
}

fn shape(p: &Point) -> String {
    let locks = p.contention.map_or(format!("locks {}", p.locks), |k| format!("contention {k}"));
    format!("{} qd {} threads {} {locks} bs {}", p.workload.name(), p.qd, p.threads, p.bs)
}

/// Combine the checked inputs (in host order) point by point.
fn combine(inputs: Vec<Input>) -> Merged {
    let seed = inputs[0].doc.config.seed;
    let tag = inputs[0].doc.config.rendezvous.as_ref().map(|r| r.tag.clone()).unwrap_or_default();
    let session = inputs[0].doc.points.first().and_then(|p| p.host_share.as_ref()).map(|s| s.session.clone());
    let hosts = inputs
        .iter()
        .map(|i| HostRef {
            index: i.index(),
            host_id: format!("{:016x}", host_id(seed, i.index())),
            file: i.file.display().to_string(),
        })
        .collect();
    let target = inputs[0].doc.target.clone();
    let count = inputs[0].doc.points.len();
    let mut columns: Vec<std::vec::IntoIter<Point>> = inputs.into_iter().map(|i| i.doc.points.into_iter()).collect();
    let points = (0..count).map(|_| merge_point(columns.iter_mut().filter_map(Iterator::next).collect())).collect();
    Merged {
        schema: MERGE_SCHEMA.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        seed,
        tag,
        session: session.unwrap_or_default(),
        hosts,
        target,
        points,
    }
}

/// One point of every host (in host order).
fn merge_point(pts: Vec<Point>) -> MergedPoint {
    let p0 = &pts[0];
    let (workload, ats_mode) = (p0.workload, p0.ats_mode);
    let actors_per_lock = p0.actors_per_lock;
    let timeouts = (pts.iter().map(|p| p.timeouts).sum(), pts.iter().map(|p| p.late_completions).sum());
    let (cross_host_atomic, atomicity) = atomicity(workload, ats_mode);
    let per_host: Vec<HostFigures> = pts
        .iter()
        .map(|p| HostFigures {
            host: p.host_share.as_ref().map_or(0, |s| s.host_index),
            figures: figures(p),
            violations: p.verification.as_ref().map_or(0, |v| v.violations),
            lost_updates: p.verification.as_ref().map_or(0, |v| v.lost_updates),
        })
        .collect();
    let mut m = MergedPoint {
        workload,
        ats_mode,
        qd: p0.qd,
        threads: p0.threads,
        locks: p0.locks,
        contention: p0.contention,
        bs: p0.bs,
        cross_host_atomic,
        atomicity: atomicity.map(String::from),
        total: total(per_host.iter().map(|h| &h.figures)),
        per_host,
        verification: None,
        interrupted: pts.iter().any(|p| p.interrupted),
        diagnosis: Vec::new(),
    };
    let verified = pts.iter().all(|p| p.verification.is_some());
    let shares: Vec<HostShare> = pts.into_iter().filter_map(|p| p.host_share).collect();
    if verified && workload.is_ats_like() {
        m.verification = verify_hosts(shares);
    }
    m.diagnosis = diagnose::diagnose(&diagnosis_figures(&m, actors_per_lock, timeouts));
    m
}

/// The figures of a merged point of `merge`: all hosts' counts and their joint verification;
/// `timeouts` is (given up, completed late) over the hosts.
fn diagnosis_figures(m: &MergedPoint, actors_per_lock: f64, timeouts: (u64, u64)) -> diagnose::Figures {
    let t = &m.total;
    let attempts = if m.workload == Workload::Heartbeat { t.acquires + t.miscompares.total } else { t.ops };
    diagnose::Figures {
        workload: m.workload,
        ats_mode: m.ats_mode,
        qd: m.qd,
        attempts,
        miscompares: diagnose::classes(&t.miscompares),
        actors_per_lock,
        shared_locks: actors_per_lock > 1.0,
        scope: diagnose::Scope::AllHosts(m.per_host.len() as u32),
        cross_host_atomic: m.cross_host_atomic,
        verification: m.verification.as_ref().map(|v| (v.checked, v.violations, v.lost_updates)),
        errors: t.errors,
        error_sample: None,
        timeouts: timeouts.0,
        late_completions: timeouts.1,
        aborts: None,
        expected_from_cache: false,
        queue: None,
        first_corrupt_lock: None,
    }
}

/// Whether compare-and-write is atomic across hosts, and why (None: the workload does not
/// compare-and-write).
fn atomicity(workload: Workload, mode: Option<AtsMode>) -> (Option<bool>, Option<&'static str>) {
    let (atomic, why) = match (workload, mode) {
        (Workload::Ats, Some(AtsMode::Device)) => {
            (true, "device-side ATS (COMPARE AND WRITE) is atomic in the device, whichever host sends it")
        }
        (Workload::Ats, Some(AtsMode::HostEmulated)) => (
            false,
            "host-emulated ATS serialises only inside one process: across hosts, read-compare-write on a file or \
             block device is not atomic, so lost updates are the known answer, as with rmw",
        ),
        (Workload::Ats, Some(AtsMode::CompareThenWrite)) => (
            false,
            "compare-then-write serialises only inside one process (Linux cannot send fused Compare+Write): not \
             atomic across hosts, so lost updates are the known answer, as with rmw",
        ),
        (Workload::Rmw, _) => (false, "rmw is read-modify-write without ATS: lost updates are the known answer"),
        _ => return (None, None),
    };
    (Some(atomic), Some(why))
}

fn figures(p: &Point) -> Figures {
    Figures {
        ops: p.ops,
        duration_s: p.duration_s,
        iops: p.iops,
        acquires: p.acquires,
        retries: p.retries,
        errors: p.errors,
        miscompares: p.miscompares,
        miscompare_rate: p.miscompare_rate,
    }
}

/// All hosts together: they measured at the same time, so IOPS add up too.
fn total<'a>(hosts: impl Iterator<Item = &'a Figures>) -> Figures {
    let mut t = Figures::default();
    for f in hosts {
        t.ops += f.ops;
        t.duration_s = t.duration_s.max(f.duration_s);
        t.iops += f.iops;
        t.acquires += f.acquires;
        t.retries += f.retries;
        t.errors += f.errors;
        t.miscompares.add(&f.miscompares);
    }
    t.miscompare_rate = if t.ops > 0 { t.miscompares.total as f64 / t.ops as f64 } else { 0.0 };
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Miscompares;

    #[test]
    fn only_device_side_ats_is_atomic_across_hosts() {
        assert_eq!(atomicity(Workload::Ats, Some(AtsMode::Device)).0, Some(true));
        for mode in [AtsMode::HostEmulated, AtsMode::CompareThenWrite] {
            let (atomic, why) = atomicity(Workload::Ats, Some(mode));
            assert_eq!(atomic, Some(false));
            assert!(why.is_some_and(|w| w.contains("only inside one process")), "{why:?}");
        }
        assert_eq!(atomicity(Workload::Rmw, None).0, Some(false));
        assert_eq!(atomicity(Workload::Read, None), (None, None), "nothing to be atomic");
    }

    #[test]
    fn totals_add_up_and_iops_too() {
        let host = |ops: u64, secs: f64, contention: u64| Figures {
            ops,
            duration_s: secs,
            iops: ops as f64 / secs,
            acquires: ops / 4,
            miscompares: Miscompares { total: contention, contention, ..Miscompares::default() },
            ..Figures::default()
        };
        let t = total([host(1000, 2.0, 750), host(3000, 2.5, 2000)].iter());
        assert_eq!((t.ops, t.acquires, t.miscompares.total, t.miscompares.contention), (4000, 1000, 2750, 2750));
        assert_eq!((t.iops, t.duration_s), (500.0 + 1200.0, 2.5), "the hosts measured at the same time");
        assert!((t.miscompare_rate - 2750.0 / 4000.0).abs() < 1e-12);
        assert_eq!(t.miscompares.injected, None);
    }
}
