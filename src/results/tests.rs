//! The committed JSON Schemas are the ones the types generate; old files load and upgrade.

use super::*;

fn committed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema").join(name)
}

/// `ATSBENCH_BLESS=1 cargo test --lib results::tests` rewrites the committed files.
fn check_committed(name: &str, generated: String) {
    let path = committed(name);
    if std::env::var_os("ATSBENCH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is not the schema the types generate; regenerate it with ATSBENCH_BLESS=1 cargo test --lib results::tests",
        path.display()
    );
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    check_committed("atsbench-3.schema.json", json_schema());
    check_committed("atsbench-merge-1.schema.json", merge_json_schema());
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare").join(name)
}

#[test]
fn v2_fixtures_upgrade_with_one_repeat_per_measurement() {
    for name in ["base.json", "bs4096.json", "same.json", "slow.json", "violation.json"] {
        let l = load(&fixture(name)).unwrap();
        assert_eq!((l.schema.as_str(), l.doc.schema.as_str()), ("atsbench/2", SCHEMA), "{name}");
        assert_eq!(l.doc.points.len(), 4, "{name}");
        for p in &l.doc.points {
            assert!(!p.repeats.is_empty(), "{name}: every point has its repeats");
            assert!(p.repeats.iter().all(|r| r.intervals.is_empty()), "atsbench/2 had no intervals");
            let ops: u64 = p.repeats.iter().map(|r| r.ops).sum();
            assert_eq!(ops, p.ops, "{name}");
        }
        assert!(!l.doc.config.workloads.is_empty(), "{name}: the workloads are kept");
    }
}

#[test]
fn a_v1_fixture_upgrades_and_its_contention_object_is_not_the_axis() {
    let l = load(&fixture("v1.json")).unwrap();
    assert_eq!(l.schema, "atsbench/1");
    let p = &l.doc.points[0];
    assert_eq!((p.workload, p.locks, p.contention), (Workload::Ats, 8, None));
    assert_eq!(p.repeats.len(), 1);
    assert_eq!(p.repeats[0].iops, p.iops);
    assert_eq!(p.latency_ns["ats"].p99, 90_000);
    assert_eq!(l.doc.config.seed, 7);
}

#[test]
fn an_upgraded_file_written_again_is_a_current_file() {
    let l = load(&fixture("base.json")).unwrap();
    let again = serde_json::to_vec(&l.doc).unwrap();
    let r = parse(Path::new("again.json"), &again).unwrap();
    assert_eq!(r.schema, SCHEMA);
    assert_eq!(r.doc.points, l.doc.points);
    assert_eq!(r.doc.config, l.doc.config);
}

#[test]
fn a_current_file_is_read_strictly_naming_the_point_and_key() {
    let l = load(&fixture("base.json")).unwrap();
    let mut v = serde_json::to_value(&l.doc).unwrap();
    v["points"][1].as_object_mut().unwrap().remove("iops");
    let e = parse(Path::new("x.json"), &serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("points[1]") && msg.contains("iops"), "{msg}");
    let e = parse(Path::new("m.json"), br#"{"schema": "atsbench-merge/1"}"#).unwrap_err().to_string();
    assert!(e.contains("merged multi-host result"), "{e}");
}
