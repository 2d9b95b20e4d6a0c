//! `--hdr-log` end to end: a sweep on the simulated device writes an HdrHistogram interval log
//! that the hdrhistogram crate's own reader reads back, tagged per point and operation kind,
//! whose intervals add up to exactly the counts of the results JSON.

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atsbench")).args(args).output().expect("run atsbench")
}

/// Per tag: the histograms of every interval, with each interval's start and length.
fn read_log(path: &Path) -> BTreeMap<String, Vec<(Duration, Duration, Histogram<u64>)>> {
    let bytes = std::fs::read(path).unwrap();
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let mut base = None;
    for entry in IntervalLogIterator::new(&bytes) {
        match entry.unwrap_or_else(|e| panic!("{}: {e:?}", path.display())) {
            LogEntry::BaseTime(t) => base = Some(t),
            LogEntry::StartTime(_) => {}
            LogEntry::Interval(i) => {
                let raw = base64::engine::general_purpose::STANDARD.decode(i.encoded_histogram()).unwrap();
                let h: Histogram<u64> = Deserializer::new().deserialize(&mut raw.as_slice()).unwrap();
                let tag = i.tag().expect("every line is tagged").as_str().to_string();
                out.entry(tag).or_default().push((i.start_timestamp(), i.duration(), h));
            }
        }
    }
    assert!(base.is_some(), "a BaseTime line");
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_sweep_log_reads_back_with_the_counts_of_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let (log, results) = (dir.path().join("sweep.hlog"), dir.path().join("sweep.json"));
    // Open loop at 20000 ops/s: each measurement of 1000 operations takes 50 ms or more, in
    // 10 ms intervals; two interleaved repeats of each point share its tags. How many intervals
    // a measurement gets depends on when the workers are scheduled, so this test checks what
    // holds whatever that is; the splitting itself, with exact counts per interval, is checked
    // with a clock the test drives (engine::series, a_long_measurement_is_split...).
    let out = run(&[
        "sweep",
        "sim",
        "--workload",
        "ats,read",
        "--qd",
        "1,4",
        "--contention",
        "1,4",
        "--ops",
        "1000",
        "--rate",
        "20000",
        "--repeat",
        "2",
        "--interleave",
        "--seed",
        "3",
        "--hdr-log",
        log.to_str().unwrap(),
        "--hdr-interval",
        "10ms",
        "-f",
        "json",
        "-o",
        results.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("#atsbench ") && text.contains("#[Histogram log format version 1.3]\n"), "{text}");
    let tags = read_log(&log);
    let doc = json(&results);
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 6, "ats at 2 QDs x 2 contentions, read at 2 QDs");
    let mut expected = 0;
    for p in points {
        let axis =
            p["contention"].as_u64().filter(|_| p["workload"] == "ats").map_or(String::new(), |k| format!("-c{k}"));
        let point = format!("{}-qd{}-t{}{axis}", p["workload"].as_str().unwrap(), p["qd"], p["threads"]);
        for (kind, summary) in p["latency_ns"].as_object().unwrap() {
            let tag = format!("{point}/{kind}");
            let intervals = tags.get(&tag).unwrap_or_else(|| panic!("no {tag} in {:?}", tags.keys()));
            expected += 1;
            let count: u64 = intervals.iter().map(|(_, _, h)| h.len()).sum();
            assert_eq!(count, summary["count"].as_u64().unwrap(), "{tag}");
            let max = intervals.iter().map(|(_, _, h)| h.max()).max().unwrap();
            assert_eq!(max, summary["max"].as_u64().unwrap(), "{tag}: the largest interval max is the point's max");
            // Each repeat writes at least its last interval (a worker that waited past a
            // boundary adds that interval to the next one, so more is not certain per tag).
            assert!(intervals.len() >= 2, "{tag}: two repeats: {}", intervals.len());
            assert!(intervals.iter().all(|(_, len, _)| *len <= Duration::from_millis(10)), "{tag}");
            assert!(intervals.windows(2).all(|w| w[0].0 <= w[1].0), "{tag}: intervals in time order");
        }
    }
    assert_eq!(tags.len(), expected, "one tag per point and kind: {:?}", tags.keys());
}

#[test]
fn a_run_log_is_tagged_by_kind_and_its_mistakes_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.hlog");
    let out = run(&[
        "run",
        "sim",
        "--qd",
        "4",
        "--ops",
        "500",
        "--rate",
        "10000",
        "--hdr-log",
        log.to_str().unwrap(),
        "--hdr-interval",
        "20ms",
        "-f",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags = read_log(&log);
    let kinds: Vec<&String> = doc["points"][0]["latency_ns"].as_object().unwrap().keys().collect();
    assert_eq!(tags.keys().collect::<Vec<_>>(), kinds, "a run's tags are the kinds alone");
    for (kind, intervals) in &tags {
        let count: u64 = intervals.iter().map(|(_, _, h)| h.len()).sum();
        assert_eq!(count, doc["points"][0]["latency_ns"][kind]["count"].as_u64().unwrap(), "{kind}");
    }
    for (args, words) in [
        (vec!["run", "sim", "--ops", "10", "--hdr-log", "/nonexistent/dir/x.hlog"], "create it or give another path"),
        (vec!["run", "sim", "--ops", "10", "--hdr-log", "x.hlog", "--hdr-interval", "10us"], "at least 1ms"),
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.lines().count() == 1 && err.contains(words), "{args:?}: {err}");
    }
}
