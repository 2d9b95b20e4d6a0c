//! `atsbench check` end to end on the simulated device: the verdicts, the three formats and the
//! exit codes (0 nothing failed, 12 a check failed, 7 a target without a device-side compare).

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atsbench")).arg("check").args(args).output().expect("run atsbench")
}

#[test]
fn the_simulated_device_passes_every_check() {
    let out = run(&["sim", "--ops", "400"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    for id in atsbench::check::SCSI_CHECKS.map(|c| c.id) {
        assert!(table.contains(id), "{id} missing:\n{table}");
    }
    assert!(table.contains("11 pass, 0 fail, 0 skip, 1 n/a"), "{table}");

    let out = run(&["sim", "sim", "--ops", "400", "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["counts"]["pass"], 12, "two paths: caw-multipath runs too");
    assert_eq!(doc["schema_version"], 1);
    let back: atsbench::check::CheckReport =
        serde_json::from_slice(&out.stdout).expect("the report type reads it back");
    assert_eq!(back.get("caw-multipath").result, atsbench::check::Verdict::Pass);

    let out = run(&["sim", "--sim-protocol", "nvme", "--ops", "400", "-f", "markdown"]);
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| `nvme-compare` | pass |"), "{md}");
    assert!(md.contains("| `nvme-fused` | n/a |"), "{md}");
}

#[test]
fn a_failed_check_exits_12_after_writing_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let out = run(&["sim", "--inject", "lost-write=1", "--ops", "200", "-f", "json", "-o", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(12), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("caw-simple"), "{err}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let simple = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "caw-simple").unwrap();
    assert_eq!(simple["result"], "fail");
    assert!(simple["reason"].as_str().unwrap().contains("MISCOMPARE"), "the initial WRITE was lost: {simple}");
}

#[test]
fn targets_without_a_device_side_compare_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.img");
    std::fs::write(&file, vec![0u8; 1 << 20]).unwrap();
    let out = run(&[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/sgN"));
    let out = run(&["sim", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["sim", "--region", "0..1G"]);
    assert_eq!(out.status.code(), Some(3), "a region beyond the device");
}

fn atsbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atsbench")).args(args).output().expect("run atsbench")
}

/// `--checks` (and the qualification profile) run the checks first; results carry them.
#[test]
fn runs_carry_the_checks_when_asked() {
    let out = atsbench(&["run", "sim", "--checks", "--ops", "200", "-f", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["conformance"]["report"]["counts"]["fail"], 0, "{}", doc["conformance"]);
    assert_eq!(doc["points"].as_array().unwrap().len(), 1);

    let out = atsbench(&["run", "--checks", "--ops", "200", "-f", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["conformance"]["skipped"].as_str().unwrap().contains("no device-side compare"), "{doc}");

    let out = atsbench(&["run", "sim", "--checks", "--inject", "lost-write=1", "--ops", "200", "--no-verify"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(12), "{err}");
    assert!(err.contains("every point was written") && err.contains("caw-simple"), "{err}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("caw-simple") && table.contains("fail"), "{table}");

    let out = atsbench(&["profiles", "show", "qualification"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("checks = true"));
}

/// The HTML report shows the conformance table beside the performance figures.
#[test]
fn the_html_report_shows_the_conformance_table() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let out = atsbench(&["run", "sim", "--checks", "--ops", "200", "-f", "json", "-o", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = atsbench(&["report", json.to_str().unwrap(), "--html", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Conformance</h2>") && page.contains("<code>caw-atomic-read</code>"), "{page}");
}
