//! The merged result of the hosts of one multi-host run (`atsbench merge`): per-host and total
//! figures of every point and the verification of all hosts' histories together, as a table
//! or as JSON (`atsbench-merge/1`).

use crate::backend::AtsMode;
use crate::error::{Error, Result};
use crate::report::Format;
use crate::results::{Figures, Merged};
use std::io::Write;
use std::path::Path;

/// Write the merged result.
pub fn write(m: &Merged, format: Format, path: Option<&Path>) -> Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(m).map_err(|e| Error::Internal(e.to_string()))? + "\n",
        Format::Table | Format::Wide | Format::Csv => table(m),
    };
    let err = |p: &Path, e: std::io::Error| Error::from_output("-o", p, &e);
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
        if let (Some(atomic), Some(why)) = (p.cross_host_atomic, &p.atomicity) {
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
