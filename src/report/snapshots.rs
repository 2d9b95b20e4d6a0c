//! Snapshot tests of the renderers on fixed input: the table, the JSON document and the CSV.
//! A change in what users see shows up as a snapshot diff (`cargo insta review`).

use super::{csv::CsvWriter, table, Document, SCHEMA};
use crate::backend::AtsMode;
use crate::device::TargetInfo;
use crate::engine::{LockPlan, PointSpec, StopAt};
use crate::results::{DeviceMiscompares, LockReport, Miscompares, Point, RingReport};
use crate::spec::Region;
use crate::stats::Summary;
use crate::verify::history::Verification;
use crate::workload::Workload;
use std::collections::BTreeMap;

fn summary(base: u64) -> Summary {
    Summary {
        count: 1000,
        mean: base as f64 * 1.1,
        p50: base,
        p90: base * 2,
        p99: base * 3,
        p999: base * 5,
        p9999: base * 8,
        max: base * 10,
    }
}

fn target() -> TargetInfo {
    TargetInfo {
        path: "/dev/sg0".into(),
        backend: "scsi".into(),
        size_bytes: 64 << 20,
        logical_block_size: 512,
        physical_block_size: Some(512),
        model: Some("Linux scsi_debug".into()),
        firmware: Some("0191".into()),
        serial: Some("2000".into()),
        driver: Some("sg (scsi_debug)".into()),
        kernel: "6.12.0-test".into(),
        ..Default::default()
    }
}

fn ats_point() -> Point {
    let mut lat = BTreeMap::new();
    lat.insert("ats".to_string(), summary(20_000));
    lat.insert("acquire".to_string(), summary(45_000));
    let mut clat = BTreeMap::new();
    clat.insert("ats".to_string(), summary(18_000));
    let mut slat = BTreeMap::new();
    slat.insert("ats".to_string(), summary(900));
    Point {
        workload: Workload::Ats,
        ats_mode: Some(AtsMode::Device),
        qd: 8,
        threads: 2,
        locks: 1,
        contention: Some(16),
        actors_per_lock: 16.0,
        bs: 512,
        ops: 16_000,
        duration_s: 2.0,
        iops: 8000.0,
        latency_ns: lat,
        slat_ns: slat,
        clat_ns: clat,
        miscompares: Miscompares { total: 15_000, contention: 14_990, stale: 10, ..Default::default() },
        miscompare_rate: 0.9375,
        device_miscompares: Some(DeviceMiscompares {
            reported: 15_000,
            with_offset: 15_000,
            offset_min: Some(16),
            offset_max: Some(23),
        }),
        retries: 15_000,
        acquires: 1_000,
        errors: 1,
        error_samples: vec!["CompareWrite on lock 0: COMPARE AND WRITE: status BUSY (0x08)".into()],
        verification: Some(Verification { checked: 1001, violations: 0, lost_updates: 0, ..Default::default() }),
        per_lock: vec![LockReport { lock: 0, attempts: 16_000, successes: 1_000, miscompares: 15_000 }],
        ring: RingReport {
            flags: vec!["single_issuer".into(), "coop_taskrun".into()],
            fixed_buffers: false,
            pinned: true,
            ..Default::default()
        },
        interrupted: false,
        faults: Default::default(),
        repeats: vec![],
        timeouts: 0,
        late_completions: 0,
        first_corrupt: None,
        sim: None,
        host_share: None,
        diagnosis: Vec::new(),
        aborts: None,
    }
}

fn read_point() -> Point {
    let mut lat = BTreeMap::new();
    lat.insert("read".to_string(), summary(7_000));
    Point {
        workload: Workload::Read,
        ats_mode: None,
        qd: 32,
        threads: 1,
        locks: 0,
        contention: None,
        actors_per_lock: 0.0,
        bs: 4096,
        ops: 500_000,
        duration_s: 2.0,
        iops: 250_000.0,
        slat_ns: [("read".to_string(), summary(300))].into_iter().collect(),
        clat_ns: [("read".to_string(), summary(6_500))].into_iter().collect(),
        latency_ns: lat,
        miscompares: Miscompares::default(),
        miscompare_rate: 0.0,
        device_miscompares: None,
        retries: 0,
        acquires: 0,
        errors: 0,
        error_samples: vec![],
        verification: None,
        per_lock: vec![],
        ring: RingReport::default(),
        interrupted: true,
        faults: Default::default(),
        repeats: vec![],
        timeouts: 0,
        late_completions: 0,
        first_corrupt: None,
        sim: None,
        host_share: None,
        diagnosis: Vec::new(),
        aborts: None,
    }
}

fn spec() -> PointSpec {
    PointSpec {
        qd: 8,
        cpus: vec![Some(0), Some(1)],
        lock_plan: LockPlan::Contention(16),
        region: Region { start: 0, end: 64 << 20 },
        stop: StopAt::Seconds(2.0),
        max_duration_s: 60.0,
        host: 0xabc,
        seed: 7,
        ..PointSpec::example(Workload::Ats)
    }
}

#[test]
fn table() {
    let mut out = Vec::new();
    table::header(&mut out, &target()).unwrap();
    table::columns(&mut out, table::Layout::Wide).unwrap();
    table::row(&mut out, &ats_point(), table::Layout::Wide).unwrap();
    table::row(&mut out, &read_point(), table::Layout::Wide).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

/// The default table: within 100 columns, the ATS mode above it, the odd miscompares under
/// a row; on an 80-column terminal the first columns to go are gone.
#[test]
fn narrow_table() {
    for (layout, most) in [(table::Layout::Narrow, 100), (table::Layout::Fit(80), 80)] {
        let mut out = Vec::new();
        table::mode_line(&mut out, &ats_point()).unwrap();
        table::columns(&mut out, layout).unwrap();
        table::row(&mut out, &ats_point(), layout).unwrap();
        table::row(&mut out, &read_point(), layout).unwrap();
        let text = String::from_utf8(out).unwrap();
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= most, "{layout:?}: a line of {widest} columns:\n{text}");
        insta::assert_snapshot!(format!("narrow_table_{most}"), text);
    }
}

#[test]
fn json_document() {
    let doc = Document {
        schema: SCHEMA.into(),
        version: "0.0.0-test".into(),
        config: super::config("sweep", &[spec()], false, 3, true, 100_000_000),
        target: target(),
        conformance: None,
        points: [ats_point(), read_point()]
            .map(|mut p| {
                p.repeats = vec![p.as_repeat()];
                p
            })
            .into(),
    };
    insta::assert_json_snapshot!(doc);
}

/// The CSV of `points`, as one text.
fn csv_text(points: &[Point]) -> String {
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut w = CsvWriter::new(Box::new(Shared(buf.clone())));
    for p in points {
        w.point(p).unwrap();
    }
    let text = String::from_utf8(buf.borrow().clone()).unwrap();
    text
}

#[test]
fn csv_rows() {
    let text = csv_text(&[ats_point(), read_point()]);
    insta::assert_snapshot!(text);
}

/// A point with given-up commands and an outside writer: the table says both under the row,
/// the CSV in its own columns.
#[test]
fn timeouts_and_first_corrupt() {
    let mut p = ats_point();
    p.timeouts = 7;
    p.late_completions = 6;
    p.first_corrupt = Some(crate::results::FirstCorrupt { lock: 2, at_s: 0.25, worker: 1 });
    let mut out = Vec::new();
    table::columns(&mut out, table::Layout::Wide).unwrap();
    table::row(&mut out, &p, table::Layout::Wide).unwrap();
    out.extend_from_slice(csv_text(&[p]).as_bytes());
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}
