//! The references `atsbench check` is held against: libiscsi's `iscsi-test-cu` (its
//! CompareAndWrite and MultipathIO families) and sg3_utils' `sg_compare_and_write`. Parsers of
//! their output, the table that maps each reference test to check ids, and the comparison of
//! verdicts (used by the guest's device tests; the tools themselves run there).
//!
//! A reference test that printed "[SKIPPED]" counts as skipped, never passed (libiscsi passes a
//! skipped test in its summary), and a skipped or unmapped test is compared with nothing.

use super::{CheckReport, Verdict};
use std::fmt::Write as _;

/// How one reference test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefOutcome {
    Passed,
    Failed,
    Skipped,
}

impl RefOutcome {
    pub fn name(self) -> &'static str {
        match self {
            RefOutcome::Passed => "passed",
            RefOutcome::Failed => "FAILED",
            RefOutcome::Skipped => "[SKIPPED]",
        }
    }
}

/// One test of `iscsi-test-cu`: suite (`CompareAndWrite`, `MultipathIO`), test, outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTest {
    pub suite: String,
    pub test: String,
    pub outcome: RefOutcome,
}

/// Which atsbench checks each reference test speaks for (`suite.test` -> ids), and why where
/// none does.
pub const MAPPING: [(&str, &[&str], &str); 7] = [
    (
        "CompareAndWrite.Simple",
        &["caw-simple", "caw-nlb-limit"],
        "1..N blocks of A, COMPARE AND WRITE to B, read back B; N+1 blocks: INVALID FIELD IN CDB",
    ),
    ("CompareAndWrite.DpoFua", &["caw-dpo-fua"], "DPO/FUA accepted exactly when MODE SENSE DPOFUA says so"),
    (
        "CompareAndWrite.Miscompare",
        &["caw-miscompare-unchanged", "caw-nlb-limit"],
        "a wrong compare image: MISCOMPARE, data unchanged; N+1 blocks: INVALID FIELD IN CDB",
    ),
    ("CompareAndWrite.Unwritten", &["caw-unwritten"], "never-written blocks miscompare against a '%' image"),
    ("CompareAndWrite.InvalidDataOutSize", &[], "iSCSI only (a Data-Out length the CDB does not imply); no check"),
    ("MultipathIO.CompareAndWrite", &["caw-multipath"], "CAW through each path, the same CAW again miscompares"),
    ("MultipathIO.CompareAndWriteAsync", &["caw-multipath"], "iSCSI only (asynchronous CAWs over two sessions)"),
];

/// The check ids a reference test maps to (none for an unmapped test).
pub fn mapped(t: &RefTest) -> &'static [&'static str] {
    let key = format!("{}.{}", t.suite, t.test);
    MAPPING.iter().find(|(k, _, _)| *k == key).map_or(&[], |(_, ids, _)| ids)
}

/// Parse `iscsi-test-cu` output (CUnit's verbose console mode): "Suite: NAME" lines, then per
/// test "Test: NAME ..." followed, on that line or after its log lines, by "passed" or
/// "FAILED"; a "[SKIPPED]" anywhere in between makes the test skipped.
pub fn parse_iscsi_test_cu(text: &str) -> Vec<RefTest> {
    let mut out = Vec::new();
    let mut suite = String::new();
    let mut current: Option<(String, bool)> = None;
    let finish = |out: &mut Vec<RefTest>, suite: &str, cur: &mut Option<(String, bool)>, outcome| {
        if let Some((test, skipped)) = cur.take() {
            let outcome = if skipped && outcome == RefOutcome::Passed { RefOutcome::Skipped } else { outcome };
            out.push(RefTest { suite: suite.to_string(), test, outcome });
        }
    };
    for line in text.lines() {
        let l = line.trim();
        if let Some(s) = l.strip_prefix("Suite: ") {
            suite = s.trim().rsplit('.').next().unwrap_or_default().to_string();
            continue;
        }
        let mut rest = l;
        if let Some(t) = l.strip_prefix("Test: ") {
            let (name, after) = t.split_once(" ...").unwrap_or((t, ""));
            current = Some((name.trim().rsplit('.').next().unwrap_or_default().to_string(), false));
            rest = after;
        }
        if let Some((_, skipped)) = current.as_mut() {
            if rest.contains("[SKIPPED]") {
                *skipped = true;
            }
        }
        if rest.ends_with("passed") {
            finish(&mut out, &suite, &mut current, RefOutcome::Passed);
        } else if rest.ends_with("FAILED") {
            finish(&mut out, &suite, &mut current, RefOutcome::Failed);
        }
    }
    out
}

/// The offset `sg_compare_and_write` reports after a miscompare ("Miscompare at byte offset:
/// N"), or None when it printed none (the device gave no INFORMATION).
pub fn parse_sg_caw_offset(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|l| {
        let rest = l.split("Miscompare at byte offset:").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Where atsbench's verdicts on the checks a reference test maps to disagree with it: one line
/// each. A test that passed needs every mapped check that ran to pass; a test that FAILED needs
/// at least one of them to fail (a reference test may assert what several checks cover). A
/// skipped reference test, checks atsbench skipped or found not applicable, and unmapped tests
/// are not compared.
pub fn disagreements(report: &CheckReport, refs: &[RefTest]) -> Vec<String> {
    let mut out = Vec::new();
    for t in refs {
        let ran: Vec<_> = mapped(t)
            .iter()
            .filter_map(|id| report.checks.iter().find(|c| c.id == *id))
            .filter(|c| matches!(c.result, Verdict::Pass | Verdict::Fail))
            .collect();
        if t.outcome == RefOutcome::Skipped || ran.is_empty() {
            continue;
        }
        let verdicts: Vec<String> = ran.iter().map(|c| format!("{} {}", c.id, c.result.name())).collect();
        let agree = match t.outcome {
            RefOutcome::Passed => ran.iter().all(|c| c.result == Verdict::Pass),
            _ => ran.iter().any(|c| c.result == Verdict::Fail),
        };
        if !agree {
            out.push(format!("{}.{} {} but atsbench says {}", t.suite, t.test, t.outcome.name(), verdicts.join(", ")));
        }
    }
    out
}

/// The reference's outcomes as a markdown table, each with the checks it maps to and their
/// verdicts.
pub fn reference_markdown(title: &str, report: &CheckReport, refs: &[RefTest]) -> String {
    let mut s = format!("**{title}**\n\n| reference test | outcome | atsbench checks | agree |\n|---|---|---|---|\n");
    for t in refs {
        let ids = mapped(t);
        let verdicts: Vec<String> = ids
            .iter()
            .filter_map(|id| report.checks.iter().find(|c| c.id == *id))
            .map(|c| format!("`{}` {}", c.id, c.result.name()))
            .collect();
        let agree = if ids.is_empty() {
            "unmapped"
        } else if t.outcome == RefOutcome::Skipped {
            "not compared"
        } else if disagreements(report, std::slice::from_ref(t)).is_empty() {
            "yes"
        } else {
            "NO"
        };
        let _ = writeln!(s, "| {}.{} | {} | {} | {agree} |", t.suite, t.test, t.outcome.name(), verdicts.join(", "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckResult, CheckedDevice};

    const SAMPLE: &str = "\
Suite: CompareAndWrite
  Test: Simple ...
    Test COMPARE_AND_WRITE of 1-256 blocks at the start of the LUN
passed
  Test: DpoFua ...FAILED
    1. test_compareandwrite_dpofua.c:80  - ...
  Test: Miscompare ...passed
  Test: Unwritten ...
[SKIPPED] COMPARE AND WRITE not supported
passed
  Test: InvalidDataOutSize ...passed
Suite: MultipathIO
  Test: CompareAndWrite ...passed
";

    fn report(verdicts: &[(&str, Verdict)]) -> CheckReport {
        let checks = verdicts
            .iter()
            .map(|(id, v)| CheckResult {
                id: id.to_string(),
                statement: String::new(),
                clause: String::new(),
                result: *v,
                reason: None,
                evidence: vec![],
            })
            .collect();
        CheckReport::new(CheckedDevice::default(), checks)
    }

    #[test]
    fn parses_outcomes_and_counts_skipped_as_skipped() {
        let r = parse_iscsi_test_cu(SAMPLE);
        let got: Vec<(String, RefOutcome)> = r.iter().map(|t| (format!("{}.{}", t.suite, t.test), t.outcome)).collect();
        let want = [
            ("CompareAndWrite.Simple", RefOutcome::Passed),
            ("CompareAndWrite.DpoFua", RefOutcome::Failed),
            ("CompareAndWrite.Miscompare", RefOutcome::Passed),
            ("CompareAndWrite.Unwritten", RefOutcome::Skipped),
            ("CompareAndWrite.InvalidDataOutSize", RefOutcome::Passed),
            ("MultipathIO.CompareAndWrite", RefOutcome::Passed),
        ];
        assert_eq!(got, want.map(|(k, o)| (k.to_string(), o)));
    }

    #[test]
    fn disagreement_only_on_mapped_compared_tests() {
        let refs = parse_iscsi_test_cu(SAMPLE);
        let agree = report(&[
            ("caw-simple", Verdict::Pass),
            ("caw-nlb-limit", Verdict::Skip),
            ("caw-dpo-fua", Verdict::Fail),
            ("caw-miscompare-unchanged", Verdict::Pass),
            ("caw-unwritten", Verdict::Fail),
            ("caw-multipath", Verdict::Pass),
        ]);
        assert!(disagreements(&agree, &refs).is_empty(), "{:?}", disagreements(&agree, &refs));
        let differ = report(&[("caw-simple", Verdict::Fail), ("caw-dpo-fua", Verdict::Pass)]);
        let d = disagreements(&differ, &refs);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0], "CompareAndWrite.Simple passed but atsbench says caw-simple fail", "{d:?}");
        let one_of_two = report(&[("caw-simple", Verdict::Pass), ("caw-nlb-limit", Verdict::Fail)]);
        let failed = [RefTest { suite: "CompareAndWrite".into(), test: "Simple".into(), outcome: RefOutcome::Failed }];
        assert!(
            disagreements(&one_of_two, &failed).is_empty(),
            "a FAILED test agrees with one failed check of its two"
        );
        let md = reference_markdown("t", &differ, &refs);
        assert!(md.contains("| CompareAndWrite.Unwritten | [SKIPPED] |") && md.contains("| NO |"), "{md}");
    }

    #[test]
    fn reads_the_miscompare_offset_of_sg_compare_and_write() {
        assert_eq!(parse_sg_caw_offset("Miscompare at byte offset: 511 [0x1ff]\n"), Some(511));
        assert_eq!(parse_sg_caw_offset("Miscompare reported\n"), None);
    }
}
