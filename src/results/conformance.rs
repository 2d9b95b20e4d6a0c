//! What `atsbench check` reports: one [`CheckReport`] per run (one LUN, one or more paths),
//! one [`CheckResult`] per check, and its renderings as a table, markdown and JSON.
//!
//! Self-contained: plain `Serialize + Deserialize + JsonSchema` types, kept here so that the
//! results document can carry them as they are (the `qualification` profile's conformance
//! table) without `results` depending on `check` (`check` re-exports them).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Version of the check report's layout; raised on any change a reader must know about.
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Verdict {
    /// The device did what the clause requires.
    #[serde(rename = "pass")]
    Pass,
    /// The device did not; the evidence says what it did.
    #[serde(rename = "fail")]
    Fail,
    /// The check could not be run here (the reason says why).
    #[serde(rename = "skip")]
    Skip,
    /// The check does not apply to this device (the reason says why); informative checks end here.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
            Verdict::NotApplicable => "n/a",
        }
    }
}

/// One check's outcome on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    /// Stable id (`caw-simple`, `nvme-compare`, ...): never renamed once released.
    pub id: String,
    /// What the check asserts, in one line.
    pub statement: String,
    /// The clause it tests: `SBC-4 5.3`, `SPC-5 4.4.2`, `NVM-CS 1.0 3.2.1`, `NVMe 2.0 5.17.2.1`.
    pub clause: String,
    pub result: Verdict,
    /// Why it was skipped, not applicable, or failed (one line); None for a plain pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What was sent and seen: statuses, decoded sense, offsets, counts (one fact a line).
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// How many checks ended in each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    pub pass: u32,
    pub fail: u32,
    pub skip: u32,
    #[serde(rename = "n/a")]
    pub not_applicable: u32,
}

/// The device the checks ran on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckedDevice {
    /// The paths given (two or more: paths of one LUN).
    pub paths: Vec<String>,
    /// `scsi`, `nvme` or `sim`.
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// The LUN's logical-unit designator (SCSI VPD 83h), the same on every path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lu_name: Option<String>,
    pub logical_block_size: u32,
    pub blocks: u64,
    /// The byte range the checks wrote in (`--region`).
    pub region: [u64; 2],
}

/// Everything one `atsbench check` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckReport {
    pub schema_version: u32,
    pub tool_version: String,
    pub device: CheckedDevice,
    pub checks: Vec<CheckResult>,
    pub counts: Counts,
}

impl CheckReport {
    pub fn new(device: CheckedDevice, checks: Vec<CheckResult>) -> Self {
        let mut counts = Counts::default();
        for c in &checks {
            *match c.result {
                Verdict::Pass => &mut counts.pass,
                Verdict::Fail => &mut counts.fail,
                Verdict::Skip => &mut counts.skip,
                Verdict::NotApplicable => &mut counts.not_applicable,
            } += 1;
        }
        CheckReport {
            schema_version: CHECK_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            device,
            checks,
            counts,
        }
    }

    /// The check with id `id`; panics naming it when absent (tests and callers ask for ids
    /// that exist: a missing one is a renamed check).
    pub fn get(&self, id: &str) -> &CheckResult {
        self.checks.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no check `{id}` in the report"))
    }

    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.result == Verdict::Fail)
    }

    fn headline(&self) -> String {
        let c = &self.counts;
        let d = &self.device;
        format!(
            "{} ({}{}): {} pass, {} fail, {} skip, {} n/a",
            d.paths.join(" + "),
            d.protocol,
            d.model.as_deref().map(|m| format!(", {m}")).unwrap_or_default(),
            c.pass,
            c.fail,
            c.skip,
            c.not_applicable
        )
    }

    /// A plain-text table: id, result, clause, then the reason and the evidence indented.
    pub fn table(&self) -> String {
        let w = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(2).max(5);
        let cw = self.checks.iter().map(|c| c.clause.len()).max().unwrap_or(6).max(6);
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.headline());
        let _ = writeln!(s, "{:<w$}  {:<6}  {:<cw$}  statement", "check", "result", "clause");
        for c in &self.checks {
            let _ = writeln!(s, "{:<w$}  {:<6}  {:<cw$}  {}", c.id, c.result.name(), c.clause, c.statement);
            if let Some(r) = &c.reason {
                let _ = writeln!(s, "{:w$}  {:6}  why: {r}", "", "");
            }
            for e in &c.evidence {
                let _ = writeln!(s, "{:w$}  {:6}  - {e}", "", "");
            }
        }
        s
    }

    /// A markdown table (evidence joined with `<br>`), for notes and issues.
    pub fn markdown(&self) -> String {
        let cell = |t: &str| t.replace('|', "\\|");
        let mut s = format!(
            "**{}**\n\n| check | result | clause | statement | evidence |\n|---|---|---|---|---|\n",
            cell(&self.headline())
        );
        for c in &self.checks {
            let mut ev: Vec<String> = c.reason.iter().map(|r| format!("why: {r}")).collect();
            ev.extend(c.evidence.iter().cloned());
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} |",
                c.id,
                c.result.name(),
                cell(&c.clause),
                cell(&c.statement),
                cell(&ev.join("<br>"))
            );
        }
        s
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a check report always serializes") + "\n"
    }
}

/// The conformance part of a `run`/`sweep` result (`--checks`, the qualification profile):
/// the checks' report, or why they were skipped on this target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Conformance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<CheckReport>,
    /// Why no check ran (a file or block device has no device-side compare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The JSON schema of [`CheckReport`].
pub fn schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(CheckReport)).expect("a schema always serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CheckReport {
        let r = |id: &str, result, reason: Option<&str>| CheckResult {
            id: id.into(),
            statement: "a | statement".into(),
            clause: "SBC-4 5.3".into(),
            result,
            reason: reason.map(String::from),
            evidence: vec!["status GOOD".into()],
        };
        CheckReport::new(
            CheckedDevice { paths: vec!["sim".into()], protocol: "sim".into(), ..Default::default() },
            vec![
                r("caw-simple", Verdict::Pass, None),
                r("caw-nlb-limit", Verdict::Fail, Some("GOOD")),
                r("caw-multipath", Verdict::NotApplicable, Some("one path")),
            ],
        )
    }

    #[test]
    fn counts_and_round_trip() {
        let r = sample();
        assert_eq!(r.counts, Counts { pass: 1, fail: 1, skip: 0, not_applicable: 1 });
        let back: CheckReport = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(back, r);
        assert!(r.json().contains("\"result\": \"n/a\""));
        assert_eq!(r.failed().count(), 1);
    }

    #[test]
    fn renderings_name_every_check() {
        let r = sample();
        for text in [r.table(), r.markdown()] {
            for c in &r.checks {
                assert!(text.contains(&c.id), "{text}");
            }
        }
        assert!(r.markdown().contains("a \\| statement"));
        assert!(schema().contains("CheckResult"));
    }
}
