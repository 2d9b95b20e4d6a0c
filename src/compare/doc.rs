//! Reading results files: the JSON that `run` and `sweep` write with `--format json`.
//!
//! The reader is typed but lenient where the format is: unknown keys are ignored (newer
//! writers add fields), and the keys that only some points or versions have (`contention`,
//! `slat_ns`, `clat_ns`, `repeats`, a null `verification`) default. What the comparison needs
//! (the point's identity, `ops`, `iops`, `latency_ns`, `miscompares`) must be there: a missing
//! one is an error naming the file, the point and the key, never a silent zero.
//!
//! `atsbench/2` is the current schema; `atsbench/1` is read too (its points have `locks` and no
//! contention axis; its `contention` object of in-flight counts is not the axis and is ignored).
//!
//! Errors: a file that cannot be read exits 3 (4 when permission is denied); a file that is
//! not JSON, not atsbench results or of a schema this version does not read exits 2 (usage:
//! the wrong file was given).

use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The results schemas this reader understands, newest first.
pub const SCHEMAS: [&str; 2] = ["atsbench/2", "atsbench/1"];

/// One results file.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Where it was read from.
    pub file: PathBuf,
    pub schema: String,
    pub version: String,
    pub config: RunConfig,
    pub target: TargetDesc,
    pub points: Vec<ResultPoint>,
}

/// The resolved options the run recorded (`config`). Every key defaults: they describe the run
/// and are compared between runs, but no figure depends on them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunConfig {
    pub command: String,
    pub workloads: Vec<String>,
    pub qd: Vec<u32>,
    pub threads: Vec<u32>,
    pub locks: Vec<u32>,
    pub contention: Vec<u32>,
    pub bs: u32,
    pub region: Option<RegionDesc>,
    pub stop: Option<StopDesc>,
    pub rate: Option<f64>,
    pub verify: Option<bool>,
    pub sqpoll: Option<bool>,
    pub iopoll: Option<bool>,
    pub miscompare_fraction: Option<f64>,
    pub seed: Option<u64>,
    pub host_id: Option<String>,
    // Read for the report's summary; not written back where absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileDesc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<crate::sys::host::Environment>,
}

/// The profile a run came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileDesc {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionDesc {
    pub start: u64,
    pub end: u64,
}

/// When each point stopped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopDesc {
    Seconds(f64),
    Ops(u64),
}

/// The target as the run described it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetDesc {
    pub path: String,
    pub backend: String,
    pub size_bytes: u64,
    pub logical_block_size: u32,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub serial: Option<String>,
    pub driver: Option<String>,
    pub kernel: String,
    pub temporary: bool,
    /// The device's own description (NVMe Identify, SCSI INQUIRY), shown as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<serde_json::Value>,
}

/// Latency percentiles of one kind, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

/// Miscompares by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiscompareCounts {
    pub total: u64,
    pub contention: u64,
    pub own_write: u64,
    pub corrupt: u64,
    pub stale: u64,
    #[serde(rename = "false")]
    pub false_: u64,
    /// Absent in results written before the `split` class.
    #[serde(default)]
    pub split: u64,
}

/// The miscompare classes, in the order reports list them.
pub const CLASSES: [&str; 7] = ["total", "contention", "own_write", "corrupt", "stale", "false", "split"];

impl MiscompareCounts {
    /// The count of `class` (one of [`CLASSES`]).
    pub fn get(&self, class: &str) -> u64 {
        match class {
            "total" => self.total,
            "contention" => self.contention,
            "own_write" => self.own_write,
            "corrupt" => self.corrupt,
            "stale" => self.stale,
            "false" => self.false_,
            "split" => self.split,
            _ => unreachable!("miscompare class `{class}`"),
        }
    }
}

/// The history check of a point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerificationDesc {
    #[serde(default)]
    pub checked: u64,
    pub violations: u64,
    pub lost_updates: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// One repeat of a point, as `--repeat` records it beside the merged figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatDesc {
    pub ops: u64,
    pub duration_s: f64,
    pub iops: f64,
    pub latency_ns: BTreeMap<String, LatencySummary>,
    pub miscompares: MiscompareCounts,
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub verification: Option<RepeatVerification>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatVerification {
    pub violations: u64,
    pub lost_updates: u64,
}

/// One measured point: the merged figures and, when the run repeated it, every repeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultPoint {
    pub workload: String,
    #[serde(default)]
    pub ats_mode: Option<String>,
    pub qd: u32,
    pub threads: u32,
    #[serde(default)]
    pub locks: u32,
    /// Actors per lock block (`--contention`); None when `--locks` placed them, for read and
    /// write, and in `atsbench/1` (whose `contention` was something else).
    #[serde(default, deserialize_with = "axis_value")]
    pub contention: Option<u32>,
    pub bs: u32,
    pub ops: u64,
    pub duration_s: f64,
    pub iops: f64,
    pub latency_ns: BTreeMap<String, LatencySummary>,
    #[serde(default)]
    pub slat_ns: BTreeMap<String, LatencySummary>,
    #[serde(default)]
    pub clat_ns: BTreeMap<String, LatencySummary>,
    pub miscompares: MiscompareCounts,
    #[serde(default)]
    pub miscompare_rate: f64,
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub acquires: u64,
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub verification: Option<VerificationDesc>,
    /// Absent or empty: the point itself is its only repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<RepeatDesc>,
    #[serde(default)]
    pub interrupted: bool,
    /// Absent in results written before the diagnosis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnosis: Vec<crate::diagnose::Finding>,
}

/// `contention` as the lock axis: a number, or nothing (null, or atsbench/1's object).
fn axis_value<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u32>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.as_u64().and_then(|n| u32::try_from(n).ok()))
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
}

impl ResultPoint {
    pub fn key(&self) -> PointKey {
        PointKey { workload: self.workload.clone(), qd: self.qd, threads: self.threads, axis: self.axis(), bs: self.bs }
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
            }];
        }
        self.repeats
            .iter()
            .map(|r| Repeat { ops: r.ops, iops: r.iops, latency_ns: &r.latency_ns, miscompares: r.miscompares })
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

const HOW: &str = "give a results file written by `atsbench run` or `atsbench sweep` with --format json";

/// Read and check one results file.
pub fn load(path: &Path) -> Result<Results> {
    let p = path.display();
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Target(format!("{p}: no such file; {HOW}")),
        std::io::ErrorKind::PermissionDenied => {
            Error::Permission(format!("{p}: permission denied; give this user read access to it"))
        }
        _ if path.is_dir() => Error::Target(format!("{p}: is a directory; {HOW}")),
        _ => Error::Target(format!("{p}: cannot be read ({e}); {HOW}")),
    })?;
    parse(path, &bytes)
}

/// Check and read the bytes of a results file; `path` names it in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Results> {
    let p = path.display();
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::Usage(format!("{p}: not JSON ({e}); {HOW}")))?;
    let Some(obj) = value.as_object() else {
        return Err(Error::Usage(format!("{p}: not atsbench results (not a JSON object); {HOW}")));
    };
    let schema = match obj.get("schema").and_then(|s| s.as_str()) {
        Some(s) => s.to_string(),
        None => return Err(Error::Usage(format!("{p}: not atsbench results (no \"schema\" key); {HOW}"))),
    };
    if !SCHEMAS.contains(&schema.as_str()) {
        let why = if schema.starts_with("atsbench-compare/") {
            format!("is a compare report ({schema}), not results; give the results files it compared")
        } else if schema.starts_with("atsbench/") {
            format!(
                "has schema {schema}, which this atsbench does not read (it reads {}); use the atsbench that wrote it",
                SCHEMAS.join(", ")
            )
        } else {
            format!("has schema `{schema}`, not atsbench results; {HOW}")
        };
        return Err(Error::Usage(format!("{p}: {why}")));
    }
    let field = |key: &str| -> Result<&serde_json::Value> {
        obj.get(key).ok_or_else(|| Error::Usage(format!("{p}: no \"{key}\" key; the file is cut short or damaged")))
    };
    let bad = |what: &str, e: serde_json::Error| Error::Usage(format!("{p}: {what}: {e}; the file is damaged"));
    let config = RunConfig::deserialize(field("config")?).map_err(|e| bad("config", e))?;
    let target = TargetDesc::deserialize(field("target")?).map_err(|e| bad("target", e))?;
    let Some(raw_points) = field("points")?.as_array() else {
        return Err(Error::Usage(format!("{p}: \"points\" is not a list; the file is damaged")));
    };
    let points = raw_points
        .iter()
        .enumerate()
        .map(|(i, v)| ResultPoint::deserialize(v).map_err(|e| bad(&format!("points[{i}]"), e)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Results {
        file: path.to_path_buf(),
        version: obj.get("version").and_then(|v| v.as_str()).unwrap_or("").to_string(),
        schema,
        config,
        target,
        points,
    })
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
