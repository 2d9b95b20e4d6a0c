//! The results document: the one definition of what `run` and `sweep` write (JSON, and the
//! CSV and table renderings of it) and what `compare`, `merge`, `report` and `--plot` read.
//!
//! Schema `atsbench/3` ([`SCHEMA`]); its JSON Schema, generated from these types
//! ([`json_schema`]), is committed as `schema/atsbench-3.schema.json` and a test checks that the
//! file is what the types generate and that every output validates against it. Files of
//! `atsbench/1` and `/2` are read and upgraded ([`legacy`]). The engine's runtime state (live
//! histograms) is not part of it: the engine keeps it beside a [`Point`] until the repeats are
//! merged. `docs/results-schema.md` describes the document.

pub mod conformance;
pub mod diagnosis;
mod environment;
pub mod faults;
pub mod intervals;
mod legacy;
pub mod merged;
mod point;
mod target;

pub use conformance::Conformance;
pub use diagnosis::{Evidence, Finding, Mechanism, Strength};
pub use environment::Environment;
pub use intervals::{Interval, IntervalKind, Intervals};
pub use merged::{Figures, HostFigures, HostRef, Merged, MergedPoint, MERGE_SCHEMA};
pub use point::{
    Aborts, AtsMode, BackendReport, ByKind, DeviceMiscompares, FaultReport, FirstCorrupt, ForeignWrite, HostShare,
    LatencySummary, LockReport, Miscompares, Point, Repeat, RingReport, SimReport, CLASSES,
};
pub use target::{DesignatorInfo, NvmeProbe, Probe, ScsiProbe, TargetInfo};

use crate::error::{Error, Result};
use crate::spec::Region;
use crate::workload::Workload;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::path::{Path, PathBuf};

/// The schema written.
pub const SCHEMA: &str = "atsbench/3";
/// The schemas read, newest first (older ones are upgraded).
pub const SCHEMAS: [&str; 3] = [SCHEMA, "atsbench/2", "atsbench/1"];

/// When each point stopped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopAt {
    /// After this many seconds.
    Seconds(f64),
    /// After this many operations in all (I/Os, or ATS attempts for ats and rmw).
    Ops(u64),
}

/// The resolved options of a run, recorded in every result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
// wide: one object of the published results schema, one field per key
pub struct Config {
    pub command: String,
    pub workloads: Vec<Workload>,
    pub qd: Vec<u32>,
    pub threads: Vec<u32>,
    pub cpus: Vec<Vec<Option<usize>>>,
    /// The contention axis (`--contention`, actors per lock block) or the explicit lock counts
    /// (`--locks`): one of the two is empty.
    pub contention: Vec<u32>,
    pub locks: Vec<u32>,
    pub bs: u32,
    pub region: Option<Region>,
    pub stop: Option<StopAt>,
    pub rate: Option<f64>,
    pub repeat: u32,
    pub interleave: bool,
    pub verify: bool,
    pub sqpoll: bool,
    pub iopoll: bool,
    pub force: bool,
    pub miscompare_fraction: f64,
    pub seed: u64,
    /// The host id in this host's lock records (hex): random for one host, derived from the
    /// seed and `host_index` with `--hosts`.
    pub host_id: String,
    /// `--timeout` in milliseconds, where given.
    pub timeout_ms: Option<u64>,
    /// Hosts sharing the target (`--hosts`; 1: this host alone).
    pub hosts: u32,
    /// This host's index among them (`--host-id`).
    pub host_index: u32,
    /// `--interval` in nanoseconds: the width of the intervals inside every repeat (0 in files
    /// upgraded from atsbench/1 and /2).
    #[serde(default)]
    pub interval_ns: u64,
    /// With `--hosts` N >= 2: where the hosts meet and how long each waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendezvous: Option<Rendezvous>,
    /// The profile the run came from, with the SHA-256 of its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRef>,
    /// When, where and by which command line the run was made (`run`/`sweep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
}

/// The rendezvous of a multi-host run, in its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rendezvous {
    /// The run tag (hex), from the seed: the same on every host.
    pub tag: String,
    /// Byte offset of the rendezvous blocks (one per host; the lock blocks follow them).
    pub offset: u64,
    pub timeout_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileRef {
    pub name: String,
    pub sha256: String,
}

/// The document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Document {
    /// `atsbench/3`.
    #[schemars(regex(pattern = r"^atsbench/3$"))]
    pub schema: String,
    /// The atsbench version that wrote it.
    pub version: String,
    pub config: Config,
    pub target: TargetInfo,
    /// The conformance checks run before the points (`--checks`, the qualification profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<Conformance>,
    pub points: Vec<Point>,
}

impl Document {
    pub fn new(config: Config, target: TargetInfo) -> Document {
        Document {
            schema: SCHEMA.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config,
            target,
            conformance: None,
            points: Vec::new(),
        }
    }
}

/// A document read from a file, upgraded to this schema.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: PathBuf,
    /// The schema the file had.
    pub schema: String,
    pub doc: Document,
}

/// The JSON Schema of the document (and of `merge`'s), as committed in `schema/`.
pub fn json_schema() -> String {
    let s = schemars::schema_for!(Document);
    serde_json::to_string_pretty(&s).unwrap_or_default() + "\n"
}

/// The JSON Schema of `atsbench merge`'s document.
pub fn merge_json_schema() -> String {
    let s = schemars::schema_for!(Merged);
    serde_json::to_string_pretty(&s).unwrap_or_default() + "\n"
}

const HOW: &str = "give a results file written by `atsbench run` or `atsbench sweep` with --format json";

/// Read one results file (any schema in [`SCHEMAS`]).
pub fn load(path: &Path) -> Result<Loaded> {
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

/// The top of a document: its parts, each checked on its own so that an error names it.
#[derive(Deserialize)]
struct Parts<'a> {
    #[serde(borrow)]
    config: Option<&'a RawValue>,
    #[serde(borrow)]
    target: Option<&'a RawValue>,
    #[serde(borrow)]
    conformance: Option<&'a RawValue>,
    #[serde(borrow)]
    points: Option<Vec<&'a RawValue>>,
    version: Option<String>,
}

#[derive(Deserialize)]
struct Head {
    schema: Option<String>,
}

/// Check and read the bytes of a results file; `path` names it in errors. Errors are usage
/// errors (exit 2): the wrong file was given.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Loaded> {
    let p = path.display();
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| Error::Usage(format!("{p}: not JSON ({e}); {HOW}")))?;
    let head: Head = serde_json::from_slice(bytes)
        .map_err(|_| Error::Usage(format!("{p}: not atsbench results (not a JSON object); {HOW}")))?;
    let Some(schema) = head.schema else {
        return Err(Error::Usage(format!("{p}: not atsbench results (no \"schema\" key); {HOW}")));
    };
    if !SCHEMAS.contains(&schema.as_str()) {
        let why = if schema.starts_with("atsbench-compare/") {
            format!("is a compare report ({schema}), not results; give the results files it compared")
        } else if schema.starts_with("atsbench-merge/") {
            format!("is a merged multi-host result ({schema}); give the hosts' own results files")
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
    let parts: Parts =
        serde_json::from_slice(bytes).map_err(|e| Error::Usage(format!("{p}: {e}; the file is damaged")))?;
    let missing = |key: &str| Error::Usage(format!("{p}: no \"{key}\" key; the file is cut short or damaged"));
    let bad = |what: &str, e: serde_json::Error| Error::Usage(format!("{p}: {what}: {e}; the file is damaged"));
    let (config, target) =
        (parts.config.ok_or_else(|| missing("config"))?, parts.target.ok_or_else(|| missing("target"))?);
    let points = parts.points.ok_or_else(|| missing("points"))?;
    let conformance = match parts.conformance {
        Some(c) => serde_json::from_str(c.get()).map_err(|e| bad("conformance", e))?,
        None => None,
    };
    let mut doc = if schema == SCHEMA {
        Document {
            schema: schema.clone(),
            version: parts.version.unwrap_or_default(),
            config: serde_json::from_str(config.get()).map_err(|e| bad("config", e))?,
            target: serde_json::from_str(target.get()).map_err(|e| bad("target", e))?,
            conformance: None,
            points: points
                .iter()
                .enumerate()
                .map(|(i, v)| serde_json::from_str(v.get()).map_err(|e| bad(&format!("points[{i}]"), e)))
                .collect::<Result<_>>()?,
        }
    } else {
        legacy::upgrade(parts.version.unwrap_or_default(), config, target, &points)
            .map_err(|(what, e)| bad(&what, e))?
    };
    doc.conformance = conformance;
    Ok(Loaded { file: path.to_path_buf(), schema, doc })
}

#[cfg(test)]
mod tests;
