//! Snapshot tests of the table, Markdown, JSON and CSV renderers of `compare` on fixed input: a
//! base and a candidate (other firmware) with five repeats per point, in which the candidate's
//! ATS point is slower and has one violation, and its read point has another block size.
//! Review changes with `cargo insta review`.

use super::doc::parse;
use super::{compare_results, render, CompareOptions, Format};
use serde_json::{json, Value};
use std::path::Path;

fn lat(p50: u64) -> Value {
    json!({"count": 1000, "mean": p50 as f64 * 1.2, "p50": p50, "p90": p50 * 2, "p99": p50 * 4, "p999": p50 * 6,
           "p9999": p50 * 8, "max": p50 * 10})
}

/// A point with one repeat per `scale` (latency scales with it, IOPS inversely).
fn point(workload: &str, qd: u32, bs: u32, kind: &str, scales: &[f64], misc: u64, violations: u64) -> Value {
    let repeats: Vec<Value> = scales
        .iter()
        .map(|s| {
            json!({"ops": 10_000, "duration_s": 1.0, "iops": (10_000.0 / s).round(), "latency_ns": {kind: lat((50_000.0 * s) as u64)},
                   "miscompares": {"total": misc, "contention": misc, "own_write": 0, "corrupt": 0, "stale": 0, "false": 0},
                   "errors": 0, "verification": {"violations": 0, "lost_updates": 0}})
        })
        .collect();
    let n = scales.len() as u64;
    let mid = scales[scales.len() / 2];
    let locks = workload == "ats";
    json!({"workload": workload, "ats_mode": if locks { json!("device") } else { Value::Null }, "qd": qd, "threads": 1,
           "locks": if locks { 8 } else { 0 }, "contention": if locks { json!(1) } else { Value::Null }, "bs": bs,
           "ops": 10_000 * n, "duration_s": n as f64, "iops": (10_000.0 / mid).round(),
           "latency_ns": {kind: lat((50_000.0 * mid) as u64)},
           "miscompares": {"total": misc * n, "contention": misc * n, "own_write": 0, "corrupt": 0, "stale": 0, "false": 0},
           "miscompare_rate": misc as f64 / 10_000.0, "retries": misc * n, "acquires": 0, "errors": 0,
           "verification": if locks { json!({"checked": 10_000 * n, "violations": violations, "lost_updates": 0}) } else { Value::Null },
           "repeats": repeats})
}

fn doc(firmware: &str, points: Vec<Value>) -> Value {
    json!({"schema": "atsbench/2", "version": "0.1.0",
           "config": {"command": "sweep", "workloads": ["ats", "read"], "qd": [8, 4], "threads": [1], "contention": [1],
                      "locks": [], "bs": 512, "region": {"start": 0, "end": 67108864}, "stop": {"seconds": 1.0},
                      "rate": null, "verify": true, "seed": 7},
           "target": {"path": "/dev/sg0", "backend": "scsi", "size_bytes": 67108864, "logical_block_size": 512,
                      "model": "Linux scsi_debug", "firmware": firmware, "serial": "2000", "driver": "sg (scsi_debug)",
                      "kernel": "6.12.0", "temporary": false},
           "points": points})
}

fn report_in(format: Format) -> String {
    let base = doc(
        "0191",
        vec![
            point("ats", 8, 512, "ats", &[1.0, 1.02, 0.98, 1.01, 0.99], 20, 0),
            point("read", 4, 512, "read", &[1.0, 1.03, 0.97, 1.0, 1.01], 0, 0),
        ],
    );
    let cand = doc(
        "0192",
        vec![
            point("ats", 8, 512, "ats", &[1.3, 1.32, 1.28, 1.31, 1.29], 40, 1),
            point("read", 4, 4096, "read", &[1.0, 1.0, 1.0, 1.0, 1.0], 0, 0),
        ],
    );
    let bytes = |v: &Value| serde_json::to_vec(v).unwrap();
    let b = parse(Path::new("base.json"), &bytes(&base)).unwrap();
    let c = parse(Path::new("candidate.json"), &bytes(&cand)).unwrap();
    let report = compare_results(&b, &c, &CompareOptions::default());
    let mut out = Vec::new();
    render(&report, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn table() {
    insta::assert_snapshot!(report_in(Format::Table));
}

#[test]
fn markdown() {
    insta::assert_snapshot!(report_in(Format::Markdown));
}

#[test]
fn json() {
    let text = report_in(Format::Json);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], "atsbench-compare/2");
    let iops = &v["points"][0]["metrics"][0];
    assert_eq!(iops["verdict"], "regression");
    assert!(iops["interval"][1].as_f64().unwrap() < -5.0, "the whole interval beyond the margin: {iops}");
    assert_eq!(v["verdict"], "regression");
    insta::assert_snapshot!(text);
}

#[test]
fn csv() {
    let text = report_in(Format::Csv);
    let mut rows = ::csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    assert_eq!(&header[0], "verdict");
    let rows: Vec<::csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert!(rows.iter().all(|r| r.len() == header.len() && &r[0] == "regression"), "{text}");
    assert!(
        rows.iter().any(|r| &r[12] == "not comparable" && r[13].is_empty()),
        "the read point has no figures: {text}"
    );
    insta::assert_snapshot!(text);
}
