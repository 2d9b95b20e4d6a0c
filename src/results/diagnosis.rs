//! The diagnosis of a point as the results keep it: findings naming a mechanism, how much it
//! weighs, the figures it read and what to do next. The rules that make them are in
//! `diagnose` (which reads a point's figures); these are only the document's types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The mechanisms a finding can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The figure's path in the point (`miscompares.split`, `timeouts`, `sim.queued`).
    pub figure: String,
    pub value: f64,
}

/// One finding of the diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub mechanism: Mechanism,
    pub strength: Strength,
    pub evidence: Vec<Evidence>,
    /// What happened, in words, with the figures.
    pub text: String,
    /// What to do or look at next.
    pub next_step: String,
}
