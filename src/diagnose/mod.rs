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

pub use crate::results::diagnosis::{Evidence, Finding, Mechanism, Strength};

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

/// The miscompare classes of a point's figures (or of a merged point's total).
pub fn classes(m: &crate::results::Miscompares) -> Classes {
    Classes {
        total: m.total,
        contention: m.contention,
        own_write: m.own_write,
        corrupt: m.corrupt,
        torn: m.torn,
        torn_reads: m.torn_reads,
        stale: m.stale,
        false_: m.false_,
        split: m.split,
    }
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
