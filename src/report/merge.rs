//! The merged result of the hosts of one multi-host run (`atsbench merge`): per-host and total
//! figures of every point and the verification of all hosts' histories together, as a table
//! or as JSON (`atsbench-merge/1`).

use super::Format;
use crate::backend::AtsMode;
use crate::engine::Miscompares;
use crate::error::{Error, Result};
use crate::verify::history::Verification;
use crate::workload::Workload;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

pub const MERGE_SCHEMA: &str = "atsbench-merge/1";

/// The merged document.
#[derive(Debug, Serialize)]
pub struct Merged {
    pub schema: &'static str,
    pub version: &'static str,
    pub seed: u64,
    /// The run tag (hex), from the seed.
    pub tag: String,
    /// Host 0's nonce of the run (hex): the same in every host's results.
    pub session: String,
    pub hosts: Vec<HostRef>,
    /// Host 0's description of the target.
    pub target: serde_json::Value,
    pub points: Vec<MergedPoint>,
}

/// One host's results file.
#[derive(Debug, Serialize)]
pub struct HostRef {
    pub index: u32,
    /// The host id in its lock records (hex).
    pub host_id: String,
    pub file: String,
}

/// One point, as all hosts measured it.
#[derive(Debug, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atomicity: Option<&'static str>,
    /// Each host's own figures; its verification covers only its own claims.
    pub per_host: Vec<HostFigures>,
    /// All hosts together: counts add up, IOPS add up (the hosts measured at the same time).
    pub total: Figures,
    /// All hosts' histories and the final lock blocks, checked together.
    pub verification: Option<Verification>,
    pub interrupted: bool,
    /// Which mechanism caused what all hosts saw together (`diagnose`).
    pub diagnosis: Vec<crate::diagnose::Finding>,
}

/// The figures of one host, or of all.
#[derive(Debug, Clone, Default, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct HostFigures {
    pub host: u32,
    #[serde(flatten)]
    pub figures: Figures,
    /// The host's own (partial) verification: violations and lost updates it could see alone.
    pub violations: u64,
    pub lost_updates: u64,
}

/// Write the merged result.
pub fn write(m: &Merged, format: Format, path: Option<&Path>) -> Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(m).map_err(|e| Error::Internal(e.to_string()))? + "\n",
        Format::Table | Format::Csv => table(m),
    };
    let err = |p: &Path, e: std::io::Error| Error::from_io(p, "writing the merged results", &e);
    match path {
        Some(p) => std::fs::write(p, text).map_err(|e| err(p, e)),
        None => std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| err(Path::new("stdout"), e)),
    }
}

fn table(m: &Merged) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let files: Vec<&str> = m.hosts.iter().map(|h| h.file.as_str()).collect();
    let _ = writeln!(t, "merged {} hosts (seed {}, session {}): {}", m.hosts.len(), m.seed, m.session, files.join(" "));
    for p in &m.points {
        let mode = p.ats_mode.map(|a| format!(" ({})", mode_name(a))).unwrap_or_default();
        let locks = p.contention.map_or(format!("locks {}", p.locks), |k| format!("locks {} contention {k}", p.locks));
        let _ = writeln!(t, "\n{}{mode} qd {} threads {} {locks} bs {}", p.workload.name(), p.qd, p.threads, p.bs);
        if let (Some(atomic), Some(why)) = (p.cross_host_atomic, p.atomicity) {
            let _ = writeln!(t, "  cross-host atomic: {}: {why}", if atomic { "yes" } else { "no" });
        }
        let _ = writeln!(
            t,
            "  {:<6} {:>10} {:>10} {:>10} {:>10} {:>9} {:>8} {:>7} {:>7} {:>7} {:>10} {:>8}",
            "host",
            "ops",
            "iops",
            "miscomp",
            "contention",
            "own_write",
            "corrupt",
            "stale",
            "false",
            "split",
            "violations",
            "lost"
        );
        for h in &p.per_host {
            row(&mut t, &h.host.to_string(), &h.figures, Some((h.violations, h.lost_updates)));
        }
        let all = p.verification.as_ref().map(|v| (v.violations, v.lost_updates));
        row(&mut t, "all", &p.total, all);
        if let Some(v) = &p.verification {
            for problem in v.problems.iter().take(4) {
                let _ = writeln!(t, "  problem: {problem}");
            }
        }
        for line in crate::diagnose::lines(&p.diagnosis) {
            let _ = writeln!(t, "  diagnosis: {line}");
        }
    }
    t
}

fn mode_name(a: AtsMode) -> &'static str {
    match a {
        AtsMode::HostEmulated => "host-emulated",
        AtsMode::CompareThenWrite => "compare-then-write",
        AtsMode::Device => "device",
    }
}

fn row(t: &mut String, who: &str, f: &Figures, v: Option<(u64, u64)>) {
    use std::fmt::Write as _;
    let m = &f.miscompares;
    let (violations, lost) = v.map_or(("-".into(), "-".into()), |(a, b)| (a.to_string(), b.to_string()));
    let _ = writeln!(
        t,
        "  {:<6} {:>10} {:>10.0} {:>10} {:>10} {:>9} {:>8} {:>7} {:>7} {:>7} {:>10} {:>8}",
        who, f.ops, f.iops, m.total, m.contention, m.own_write, m.corrupt, m.stale, m.false_, m.split, violations, lost
    );
}
