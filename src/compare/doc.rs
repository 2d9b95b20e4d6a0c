//! Reading results files for `compare` (and `report`, `--plot`): the document of the
//! `results` module, with the views a comparison needs (a point's identity, its repeats).
//! `results` reads every schema (`atsbench/1` and `/2` upgraded); this module only adapts.
//!
//! Errors: a file that cannot be read exits 3 (4 when permission is denied); a file that is
//! not JSON, not atsbench results or of a schema this version does not read exits 2 (usage:
//! the wrong file was given).

use crate::error::Result;
pub use crate::results::{
    Config as RunConfig, LatencySummary, Miscompares as MiscompareCounts, Point as ResultPoint, Point,
    Repeat as RepeatDesc, StopAt as StopDesc, TargetInfo as TargetDesc, CLASSES, SCHEMAS,
};
pub use crate::spec::Region as RegionDesc;
pub use crate::verify::history::Verification as VerificationDesc;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One results file, upgraded to the current schema.
#[derive(Debug, Clone)]
pub struct Results {
    /// Where it was read from.
    pub file: PathBuf,
    /// The schema the file had.
    pub schema: String,
    pub version: String,
    pub config: RunConfig,
    pub target: TargetDesc,
    /// The conformance checks of the run (`--checks`), where it ran them.
    pub conformance: Option<crate::results::Conformance>,
    pub points: Vec<ResultPoint>,
}

impl From<crate::results::Loaded> for Results {
    fn from(l: crate::results::Loaded) -> Results {
        let d = l.doc;
        Results {
            file: l.file,
            schema: l.schema,
            version: d.version,
            config: d.config,
            target: d.target,
            conformance: d.conformance,
            points: d.points,
        }
    }
}

/// How the lock blocks of a point were chosen: the second half of a point's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockAxis {
    /// `--contention K`: K actors per lock block.
    Contention(u32),
    /// `--locks N` (0 for read and write, which use none).
    Locks(u32),
}

impl std::fmt::Display for LockAxis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockAxis::Contention(k) => write!(f, "contention={k}"),
            LockAxis::Locks(0) => Ok(()),
            LockAxis::Locks(n) => write!(f, "locks={n}"),
        }
    }
}

/// What a point is, whatever was measured: points of two runs match when their keys are equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PointKey {
    pub workload: String,
    pub qd: u32,
    pub threads: u32,
    pub axis: LockAxis,
    pub bs: u32,
}

impl std::fmt::Display for PointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} qd={} threads={}", self.workload, self.qd, self.threads)?;
        if self.axis != LockAxis::Locks(0) {
            write!(f, " {}", self.axis)?;
        }
        write!(f, " bs={}", self.bs)
    }
}

/// The figures of one repeat, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub struct Repeat<'a> {
    pub ops: u64,
    pub iops: f64,
    pub latency_ns: &'a BTreeMap<String, LatencySummary>,
    pub miscompares: MiscompareCounts,
    /// The repeat's intervals (None for a point without recorded repeats).
    pub intervals: Option<&'a crate::results::Intervals>,
}

impl Point {
    pub fn key(&self) -> PointKey {
        PointKey {
            workload: self.workload.name().to_string(),
            qd: self.qd,
            threads: self.threads,
            axis: self.axis(),
            bs: self.bs,
        }
    }

    pub fn axis(&self) -> LockAxis {
        match self.contention {
            Some(k) => LockAxis::Contention(k),
            None => LockAxis::Locks(self.locks),
        }
    }

    /// The repeats: those recorded, or the point itself when there are none.
    pub fn repeats(&self) -> Vec<Repeat<'_>> {
        if self.repeats.is_empty() {
            return vec![Repeat {
                ops: self.ops,
                iops: self.iops,
                latency_ns: &self.latency_ns,
                miscompares: self.miscompares,
                intervals: None,
            }];
        }
        self.repeats
            .iter()
            .map(|r| Repeat {
                ops: r.ops,
                iops: r.iops,
                latency_ns: &r.latency_ns,
                miscompares: r.miscompares,
                intervals: Some(&r.intervals),
            })
            .collect()
    }

    /// The miscompare rate of `class`: miscompares of that class per operation.
    pub fn miscompare_rate(&self, class: &str) -> f64 {
        if self.ops == 0 {
            return 0.0;
        }
        self.miscompares.get(class) as f64 / self.ops as f64
    }
}

/// Read and check one results file.
pub fn load(path: &Path) -> Result<Results> {
    crate::results::load(path).map(Results::from)
}

/// Check and read the bytes of a results file; `path` names it in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Results> {
    crate::results::parse(path, bytes).map(Results::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn point() -> serde_json::Value {
        let lat = json!({"count": 10, "mean": 1.0, "p50": 1, "p90": 2, "p99": 3, "p999": 4, "p9999": 5, "max": 6});
        json!({"workload": "ats", "ats_mode": "device", "qd": 8, "threads": 1, "locks": 8, "contention": 1,
               "actors_per_lock": 1.0, "bs": 512, "ops": 100, "duration_s": 1.0, "iops": 100.0,
               "latency_ns": {"ats": lat}, "miscompares": {"total": 3, "contention": 2, "own_write": 0,
               "corrupt": 0, "stale": 1, "false": 0}, "miscompare_rate": 0.03, "retries": 3, "acquires": 97,
               "errors": 0, "verification": null, "future_key": [1, 2]})
    }

    fn doc(schema: &str, p: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"schema": schema, "version": "0.1.0",
            "config": {"command": "sweep", "bs": 512, "seed": 1, "stop": {"seconds": 2.0}, "new": true},
            "target": {"path": "/dev/sg0", "backend": "scsi", "kernel": "6.12"}, "points": [p]}))
        .unwrap()
    }

    #[test]
    fn reads_v2_ignoring_unknown_keys() {
        let r = parse(Path::new("a.json"), &doc("atsbench/2", point())).unwrap();
        let pt = &r.points[0];
        assert_eq!(pt.key().to_string(), "ats qd=8 threads=1 contention=1 bs=512");
        assert_eq!(pt.repeats().len(), 1, "no repeats: the point is its own repeat");
        assert_eq!(pt.miscompare_rate("stale"), 0.01);
        assert_eq!(r.config.stop, Some(StopDesc::Seconds(2.0)));
        assert!(pt.verification.is_none());
    }

    #[test]
    fn reads_v1_whose_contention_is_not_the_axis() {
        let mut p = point();
        p["contention"] = json!({"inflight_mean": 1.5, "inflight_max": 2});
        let r = parse(Path::new("a.json"), &doc("atsbench/1", p)).unwrap();
        assert_eq!(r.points[0].axis(), LockAxis::Locks(8));
    }

    #[test]
    fn wrong_files_are_usage_errors_naming_the_file_and_the_fix() {
        let cases: [(&[u8], &str); 5] = [
            (b"not json", "not JSON"),
            (b"[1]", "not a JSON object"),
            (br#"{"a": 1}"#, "no \"schema\" key"),
            (br#"{"schema": "atsbench-compare/1"}"#, "is a compare report"),
            (br#"{"schema": "atsbench/9"}"#, "does not read"),
        ];
        for (bytes, words) in cases {
            let e = parse(Path::new("x.json"), bytes).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            let msg = e.to_string();
            assert!(msg.starts_with("x.json: ") && msg.contains(words) && !msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn a_missing_figure_fails_loudly_with_its_point() {
        let mut p = point();
        p.as_object_mut().unwrap().remove("iops");
        let msg = parse(Path::new("x.json"), &doc("atsbench/2", p)).unwrap_err().to_string();
        assert!(msg.contains("points[0]") && msg.contains("iops"), "{msg}");
    }

    #[test]
    fn a_missing_file_is_exit_3() {
        let e = load(Path::new("/nonexistent/base.json")).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("no such file"), "{e}");
    }

    #[test]
    fn repeats_are_read_when_present() {
        let mut p = point();
        let lat = p["latency_ns"].clone();
        let m = p["miscompares"].clone();
        p["repeats"] = json!([
            {"ops": 50, "duration_s": 1.0, "iops": 50.0, "latency_ns": lat, "miscompares": m, "errors": 0,
             "verification": {"violations": 0, "lost_updates": 0}},
            {"ops": 50, "duration_s": 1.0, "iops": 60.0, "latency_ns": lat, "miscompares": m, "verification": null}
        ]);
        let r = parse(Path::new("a.json"), &doc("atsbench/2", p)).unwrap();
        let iops: Vec<f64> = r.points[0].repeats().iter().map(|r| r.iops).collect();
        assert_eq!(iops, [50.0, 60.0]);
    }
}
