//! Which mechanism caused the miscompares: a diagnosis of one point from its figures.
//!
//! Pure: [`diagnose`] reads a [`Figures`] value (taken from a point of `run`/`sweep`, or from
//! a merged point of `merge`) and returns findings, most important first. Each finding comes
//! from one rule of the table in `rules.rs` (documented row by row in `docs/diagnosis.md`) and
//! names the figures it read; no finding is made without them, and a point with nothing
//! to explain says `clean`.

mod figures;
pub mod rules;

pub use figures::{Classes, Figures, Queue, Scope};

use serde::{Deserialize, Serialize};

/// The mechanisms a finding can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    Clean,
    Contention,
    ContentionBetweenHosts,
    Split,
    NotAtomicAcrossHosts,
    RetryAfterTimeout,
    StaleCache,
    OutsideWriter,
    TornWrite,
    LostWrite,
    FalseMiscompare,
    QueueWait,
    IoErrors,
}

impl Mechanism {
    pub fn id(self) -> &'static str {
        match self {
            Mechanism::Clean => "clean",
            Mechanism::Contention => "contention",
            Mechanism::ContentionBetweenHosts => "contention-between-hosts",
            Mechanism::Split => "split",
            Mechanism::NotAtomicAcrossHosts => "not-atomic-across-hosts",
            Mechanism::RetryAfterTimeout => "retry-after-timeout",
            Mechanism::StaleCache => "stale-cache",
            Mechanism::OutsideWriter => "outside-writer",
            Mechanism::TornWrite => "torn-write",
            Mechanism::LostWrite => "lost-write",
            Mechanism::FalseMiscompare => "false-miscompare",
            Mechanism::QueueWait => "queue-wait",
            Mechanism::IoErrors => "io-errors",
        }
    }
}

/// How much a finding weighs; findings are listed in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// The device, its path or something outside atsbench broke the data or its atomicity.
    Fault,
    /// A host-side mechanism that makes miscompares or latency: a timeout's retry, a stale
    /// cache, a queue deeper than the device's.
    Warning,
    /// The known answer of this setup (rmw's lost updates, host-emulated ATS across hosts).
    Expected,
    /// Real contention between actors: ATS doing its job.
    Benign,
    /// Nothing to explain.
    Clean,
}

impl Strength {
    pub fn name(self) -> &'static str {
        match self {
            Strength::Fault => "fault",
            Strength::Warning => "warning",
            Strength::Expected => "expected",
            Strength::Benign => "benign",
            Strength::Clean => "clean",
        }
    }
}

/// One figure a finding read, with its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// The figure's path in the point (`miscompares.split`, `timeouts`, `sim.queued`).
    pub figure: String,
    pub value: f64,
}

/// One finding of the diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    pub mechanism: Mechanism,
    pub strength: Strength,
    pub evidence: Vec<Evidence>,
    /// What happened, in words, with the figures.
    pub text: String,
    /// What to do or look at next.
    pub next_step: String,
}

/// The findings of one point, most important first (faults, then warnings, the expected,
/// the benign, and `clean` alone when nothing else was found).
pub fn diagnose(f: &Figures) -> Vec<Finding> {
    let mut found: Vec<Finding> = rules::RULES.iter().filter_map(|rule| (rule.apply)(f)).collect();
    let explained = f.violations() + f.lost_updates() + f.errors == 0;
    if explained && found.iter().all(|x| x.strength >= Strength::Benign) {
        found.push(rules::clean(f));
    }
    found.sort_by_key(|x| x.strength);
    found
}

/// The findings in words, one line each, for the table and markdown output.
pub fn lines(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|x| match x.next_step.as_str() {
            "none" => format!("{} ({}): {}", x.mechanism.id(), x.strength.name(), x.text),
            next => format!("{} ({}): {} Next: {next}", x.mechanism.id(), x.strength.name(), x.text),
        })
        .collect()
}
