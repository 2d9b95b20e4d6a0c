//! What differs between the two runs, besides their figures.
//!
//! - info: the target's identity (model, firmware, driver, kernel, backend...) and the tool's
//!   version: comparing them is the point of `compare`;
//! - warning: options that change the figures (block size, region, seed, duration or
//!   operations, rate, verification): the comparison still runs, read it with care;
//! - not comparable: workloads in one run only (their points have no counterpart).

use super::doc::{Results, RunConfig, TargetDesc};
use serde::Serialize;
use std::fmt::Debug;

/// How much a difference matters to the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    #[serde(rename = "info")]
    Info,
    #[serde(rename = "warning")]
    Warning,
    #[serde(rename = "not comparable")]
    NotComparable,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::NotComparable => "not comparable",
        }
    }
}

/// One thing that differs between the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub level: Level,
    pub what: String,
    pub base: String,
    pub candidate: String,
    /// What it means for the comparison.
    pub note: String,
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

fn list<T: ToString>(v: &[T]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

struct Diffs(Vec<Difference>);

impl Diffs {
    fn add(&mut self, level: Level, what: &str, base: String, candidate: String, note: &str) {
        if base != candidate {
            self.0.push(Difference { level, what: what.into(), base, candidate, note: note.into() });
        }
    }
}

fn target(d: &mut Diffs, b: &TargetDesc, c: &TargetDesc) {
    let identity = "the target's identity";
    if !(b.temporary && c.temporary) {
        // Temporary files get a new name every run: that is no difference.
        d.add(Level::Info, "path", b.path.clone(), c.path.clone(), identity);
    }
    d.add(Level::Info, "backend", b.backend.clone(), c.backend.clone(), "another command path to the device");
    d.add(Level::Info, "model", opt(&b.model), opt(&c.model), identity);
    d.add(Level::Info, "firmware", opt(&b.firmware), opt(&c.firmware), identity);
    d.add(Level::Info, "serial", opt(&b.serial), opt(&c.serial), identity);
    d.add(Level::Info, "driver", opt(&b.driver), opt(&c.driver), identity);
    d.add(Level::Info, "kernel", b.kernel.clone(), c.kernel.clone(), identity);
    d.add(
        Level::Info,
        "logical block size",
        b.logical_block_size.to_string(),
        c.logical_block_size.to_string(),
        identity,
    );
    d.add(Level::Info, "size", b.size_bytes.to_string(), c.size_bytes.to_string(), identity);
}

fn config(d: &mut Diffs, b: &RunConfig, c: &RunConfig) {
    let figures = "changes the figures";
    d.add(
        Level::NotComparable,
        "workloads",
        list(&b.workloads),
        list(&c.workloads),
        "points of a workload in one run only have no counterpart",
    );
    d.add(
        Level::Warning,
        "block size",
        b.bs.to_string(),
        c.bs.to_string(),
        "points of different block sizes are not comparable",
    );
    let region = |r: &Option<super::doc::RegionDesc>| r.map_or("-".into(), |r| format!("{}..{}", r.start, r.end));
    d.add(Level::Warning, "region", region(&b.region), region(&c.region), figures);
    d.add(Level::Warning, "seed", b.seed.to_string(), c.seed.to_string(), "other random offsets and lock choices");
    let stop = |s: &Option<super::doc::StopDesc>| match s {
        Some(super::doc::StopDesc::Seconds(x)) => format!("{x} s"),
        Some(super::doc::StopDesc::Ops(n)) => format!("{n} ops"),
        None => "-".into(),
    };
    d.add(Level::Warning, "stop", stop(&b.stop), stop(&c.stop), "points measured for other times or counts");
    d.add(Level::Warning, "rate", opt(&b.rate), opt(&c.rate), "open loop against closed loop, or another rate");
    d.add(
        Level::Warning,
        "verify",
        b.verify.to_string(),
        c.verify.to_string(),
        "violations compared only where both verified",
    );
    d.add(
        Level::Warning,
        "miscompare fraction",
        b.miscompare_fraction.to_string(),
        c.miscompare_fraction.to_string(),
        figures,
    );
    let points = "points in one run only are not comparable";
    d.add(Level::Info, "queue depths", list(&b.qd), list(&c.qd), points);
    d.add(Level::Info, "threads", list(&b.threads), list(&c.threads), points);
    d.add(Level::Info, "contention", list(&b.contention), list(&c.contention), points);
    d.add(Level::Info, "locks", list(&b.locks), list(&c.locks), points);
    d.add(Level::Info, "sqpoll", b.sqpoll.to_string(), c.sqpoll.to_string(), "another submission path");
    d.add(Level::Info, "iopoll", b.iopoll.to_string(), c.iopoll.to_string(), "another completion path");
}

/// Everything that differs between the runs, most serious first (stable within a level).
pub fn differences(b: &Results, c: &Results) -> Vec<Difference> {
    let mut d = Diffs(Vec::new());
    d.add(Level::Info, "atsbench version", b.version.clone(), c.version.clone(), "another build of atsbench");
    target(&mut d, &b.target, &c.target);
    let modes = |r: &Results| {
        let mut m: Vec<String> = r.points.iter().filter_map(|p| p.ats_mode.map(|m| m.name().to_string())).collect();
        m.sort();
        m.dedup();
        list(&m)
    };
    d.add(Level::Info, "ATS mode", modes(b), modes(c), "another implementation of ATS");
    config(&mut d, &b.config, &c.config);
    let mut out = d.0;
    out.sort_by_key(|d| std::cmp::Reverse(d.level));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn results() -> Results {
        Results {
            file: PathBuf::from("a.json"),
            schema: "atsbench/2".into(),
            version: "0.1.0".into(),
            config: RunConfig {
                workloads: vec![crate::workload::Workload::Ats],
                bs: 512,
                seed: 1,
                ..Default::default()
            },
            target: TargetDesc { firmware: Some("A".into()), kernel: "6.12".into(), ..Default::default() },
            conformance: None,
            points: vec![],
        }
    }

    #[test]
    fn identity_is_info_options_are_warnings_workloads_are_not_comparable() {
        let b = results();
        let mut c = results();
        assert!(differences(&b, &c).is_empty());
        c.target.firmware = Some("B".into());
        c.config.bs = 4096;
        c.config.workloads = vec![crate::workload::Workload::Rmw];
        let d = differences(&b, &c);
        let levels: Vec<(Level, &str)> = d.iter().map(|x| (x.level, x.what.as_str())).collect();
        assert_eq!(
            levels,
            [(Level::NotComparable, "workloads"), (Level::Warning, "block size"), (Level::Info, "firmware")]
        );
        assert_eq!((d[2].base.as_str(), d[2].candidate.as_str()), ("A", "B"));
    }
}
