//! End-to-end snapshots (issue 22): one seeded run of the simulated device, as the binary
//! prints it in every output format (table, wide, CSV, JSON), and the HTML report `report
//! --html` makes of it. One worker with a `--seed`
//! repeats a run exactly (docs/simulated-device.md), faults included, so every count, class,
//! error kind, diagnosis and sentence is pinned; what depends on the clock or the machine
//! (latencies, IOPS, durations, times of samples, host, kernel, atsbench's version) is masked first.
//! A change in what users see shows up as a snapshot diff (`cargo insta review`).

mod common;
use common::bin;

use serde_json::Value;
use std::process::Command;

/// The run: contention on two lock blocks, faults that make every miscompare class and an error
/// kind appear, one interval whatever the machine's speed.
const RUN: &str = "run sim --seed 3 --workload ats --ops 3000 --qd 4 --locks 2 --cpus 0 \
    --inject false-miscompare=0.02,own-write=0.02,medium-error=0.01 --max-error-rate 1 --interval 60s";

/// Keys whose values depend on the clock or the machine, at any depth of the JSON document.
const MASKED_KEYS: [&str; 17] = [
    "latency_ns",
    "clat_ns",
    "slat_ns",
    "iops",
    "duration_s",
    "dur_ns",
    "lat",
    "at_s",
    "drain_s",
    "host_id",
    "started",
    "hostname",
    "cpu",
    "command_line",
    "kernel",
    "version",
    "firmware",
];

/// Columns of the table, the wide table and the CSV that depend on the clock.
const MASKED_COLUMNS: [&str; 21] = [
    "iops",
    "iops_95%",
    "p50_us",
    "p99_us",
    "p99.9_us",
    "max_us",
    "acq_p50",
    "acq_p99",
    "duration_s",
    "mean_ns",
    "p50_ns",
    "p90_ns",
    "p99_ns",
    "p999_ns",
    "p9999_ns",
    "max_ns",
    "slat_p50_ns",
    "slat_p99_ns",
    "clat_p50_ns",
    "clat_p99_ns",
    "first_corrupt_at_s",
];

fn output(format: &str) -> String {
    let args: Vec<&str> = RUN.split_whitespace().chain(["--format", format]).collect();
    let out = Command::new(bin()).args(&args).output().expect("run atsbench");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "atsbench {args:?}: {err}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn mask_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if MASKED_KEYS.contains(&k.as_str()) && !x.is_null() {
                    *x = Value::String("[masked]".into());
                } else {
                    mask_json(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_json),
        _ => {}
    }
}

/// The table's lines with the masked columns' cells replaced: each header names a right-aligned
/// column that ends where its name ends (the first, `workload`, is left-aligned), and the line
/// after a header is its row. The kernel line is masked whole.
fn mask_table(text: &str) -> String {
    let mut out = Vec::new();
    let mut header: Option<&str> = None;
    for line in text.lines() {
        if line.starts_with("kernel ") {
            out.push("kernel   [masked]".to_string());
            continue;
        }
        if let Some((before, after)) = line.split_once("firmware ").filter(|_| line.starts_with("device ")) {
            // The simulated device's firmware is atsbench's version.
            let rest = after.split_once(',').map_or("", |(_, r)| r);
            out.push(format!("{before}firmware [masked],{rest}"));
            continue;
        }
        if let Some(h) = header.take() {
            out.push(mask_row(h, line));
            continue;
        }
        if line.starts_with("workload ") {
            header = Some(line);
        }
        out.push(line.to_string());
    }
    out.join("\n")
}

fn mask_row(header: &str, row: &str) -> String {
    let mut cells: Vec<char> = row.chars().collect();
    let mut start = 0;
    for name in header.split_whitespace() {
        let at = header[start..].find(name).expect("a header's own word") + start;
        let end = at + name.len();
        if MASKED_COLUMNS.contains(&name) && end <= cells.len() {
            // The cell spans from the previous column's end to this column's end: one '#' at
            // its right edge, whatever the number's width.
            cells[start..end].fill(' ');
            cells[end - 1] = '#';
        }
        start = end;
    }
    cells.into_iter().collect()
}

fn mask_csv(text: &str) -> String {
    let mut lines = text.lines();
    let header = lines.next().expect("a CSV header");
    let masked: Vec<bool> = header.split(',').map(|c| MASKED_COLUMNS.contains(&c)).collect();
    let mut out = vec![header.to_string()];
    for line in lines {
        let cells: Vec<&str> =
            line.split(',').zip(&masked).map(|(c, &m)| if m && !c.is_empty() { "#" } else { c }).collect();
        out.push(cells.join(","));
    }
    out.join("\n")
}

/// The same keys as [`MASKED_KEYS`], pinned to fixed values of their own type instead of a
/// mark, so that the document still reads back: `report` renders the pinned document.
fn pin_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if MASKED_KEYS.contains(&k.as_str()) && !x.is_null() {
                    pin(k, x);
                } else {
                    pin_json(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(pin_json),
        _ => {}
    }
}

fn pin(key: &str, v: &mut Value) {
    *v = match (key, &*v) {
        // Latency summaries keep their counts (seeded) and take a fixed ladder of values.
        ("latency_ns" | "clat_ns" | "slat_ns", Value::Object(kinds)) => {
            let mut kinds = kinds.clone();
            for summary in kinds.values_mut().filter_map(Value::as_object_mut) {
                for (i, (name, x)) in summary.iter_mut().enumerate() {
                    if name != "count" && x.is_number() {
                        *x = serde_json::json!(1000 * (i as u64 + 1));
                    }
                }
            }
            Value::Object(kinds)
        }
        ("lat", _) => Value::String(String::new()),
        ("started", _) => Value::String("2026-01-01T00:00:00Z".into()),
        ("dur_ns", _) => serde_json::json!(1_000_000_000u64),
        (_, Value::Number(_)) => serde_json::json!(1.0),
        (_, _) => Value::String("pinned".into()),
    };
}

/// The HTML report of the run's JSON document with what depends on the clock pinned.
fn html() -> String {
    let mut doc: Value = serde_json::from_str(&output("json")).expect("a JSON document");
    pin_json(&mut doc);
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("run.json"), doc.to_string()).expect("write the pinned document");
    // Run in the directory: the page names the results file as it was given.
    let out = Command::new(bin())
        .current_dir(dir.path())
        .args(["report", "run.json", "--html", "run.html"])
        .output()
        .expect("run atsbench");
    assert_eq!(out.status.code(), Some(0), "report: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(dir.path().join("run.html")).expect("the HTML page")
}

#[test]
fn table() {
    insta::assert_snapshot!(mask_table(&output("table")));
}

#[test]
fn wide_table() {
    insta::assert_snapshot!(mask_table(&output("wide")));
}

#[test]
fn csv() {
    insta::assert_snapshot!(mask_csv(&output("csv")));
}

#[test]
fn json() {
    let mut doc: Value = serde_json::from_str(&output("json")).expect("a JSON document");
    mask_json(&mut doc);
    insta::assert_json_snapshot!(doc);
}

#[test]
fn html_report() {
    insta::assert_snapshot!(html());
}
