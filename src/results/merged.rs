//! The merged result of the hosts of one multi-host run (`atsbench merge`, `atsbench-merge/1`):
//! per-host and total figures of every point and the verification of all hosts' histories
//! together.

use super::AtsMode;
use super::{Miscompares, TargetInfo};
use crate::verify::history::Verification;
use crate::workload::Workload;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const MERGE_SCHEMA: &str = "atsbench-merge/1";

/// The merged document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Merged {
    /// `atsbench-merge/1`.
    #[schemars(regex(pattern = r"^atsbench-merge/1$"))]
    pub schema: String,
    pub version: String,
    pub seed: u64,
    /// The run tag (hex), from the seed.
    pub tag: String,
    /// Host 0's nonce of the run (hex): the same in every host's results.
    pub session: String,
    pub hosts: Vec<HostRef>,
    /// Host 0's description of the target.
    pub target: TargetInfo,
    pub points: Vec<MergedPoint>,
}

/// One host's results file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HostRef {
    pub index: u32,
    /// The host id in its lock records (hex).
    pub host_id: String,
    pub file: String,
}

/// One point, as all hosts measured it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
// wide: one object of the published results schema, one field per key
pub struct MergedPoint {
    pub workload: Workload,
    pub ats_mode: Option<AtsMode>,
    pub qd: u32,
    pub threads: u32,
    pub locks: u32,
    pub contention: Option<u32>,
    pub bs: u32,
    /// Whether the compare-and-write is atomic across hosts (null: the workload does not
    /// compare-and-write), and why.
    pub cross_host_atomic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomicity: Option<String>,
    /// Each host's own figures; its verification covers only its own claims.
    pub per_host: Vec<HostFigures>,
    /// All hosts together: counts add up, IOPS add up (the hosts measured at the same time).
    pub total: Figures,
    /// All hosts' histories and the final lock blocks, checked together.
    pub verification: Option<Verification>,
    pub interrupted: bool,
    /// Which mechanism caused what all hosts saw together (`diagnose`).
    #[serde(default)]
    pub diagnosis: Vec<super::Finding>,
}

/// The figures of one host, or of all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Figures {
    pub ops: u64,
    pub duration_s: f64,
    pub iops: f64,
    pub acquires: u64,
    pub retries: u64,
    pub errors: u64,
    pub miscompares: Miscompares,
    pub miscompare_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HostFigures {
    pub host: u32,
    #[serde(flatten)]
    pub figures: Figures,
    /// The host's own (partial) verification: violations and lost updates it could see alone.
    pub violations: u64,
    pub lost_updates: u64,
}
