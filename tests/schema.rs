//! Every output of atsbench's results document validates against the committed JSON Schema
//! (`schema/atsbench-3.schema.json`, generated from `src/results/`): seeded sim runs and sweeps
//! (repeats, injected faults, intervals, the conformance checks), and old files upgraded and
//! written again.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema").join(name);
    let v: Value = serde_json::from_slice(&std::fs::read(&path).expect("the committed schema")).unwrap();
    jsonschema::validator_for(&v).expect("a valid JSON Schema")
}

pub fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).take(5).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "{what} does not validate: {errors:#?}");
}

fn json(args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_atsbench")).args(args).output().expect("run atsbench");
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

#[test]
fn run_and_sweep_outputs_validate() {
    let v = schema("atsbench-3.schema.json");
    let cases: [&[&str]; 5] = [
        &["run", "sim", "--seed", "1", "--qd", "4", "--duration", "0.3", "-f", "json"],
        &[
            "sweep",
            "sim",
            "--seed",
            "2",
            "--qd",
            "1,4",
            "--contention",
            "1,2",
            "--ops",
            "400",
            "--repeat",
            "2",
            "-f",
            "json",
        ],
        &["run", "sim", "--seed", "3", "--workload", "read", "--ops", "2000", "--interval", "10ms", "-f", "json"],
        &[
            "run",
            "sim",
            "--seed",
            "4",
            "--threads",
            "2",
            "--qd",
            "8",
            "--locks",
            "2",
            "--ops",
            "3000",
            "--inject",
            "stale-read=0.01,latency-spike=0.01",
            "--sim-qd",
            "4",
            "-f",
            "json",
        ],
        // The conformance checks first (`--checks`): the document carries their report.
        &["run", "sim", "--seed", "6", "--checks", "--ops", "200", "-f", "json"],
    ];
    for args in cases {
        let doc = json(args);
        assert_eq!(doc["schema"], "atsbench/3");
        assert_eq!(doc.get("conformance").is_some(), args.contains(&"--checks"), "{args:?}");
        assert_valid(&v, &doc, &format!("{args:?}"));
    }
}

#[test]
fn upgraded_old_files_written_again_validate() {
    let v = schema("atsbench-3.schema.json");
    for name in ["base.json", "slow.json", "v1.json"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare").join(name);
        let doc = atsbench::results::load(&path).unwrap().doc;
        assert_valid(&v, &serde_json::to_value(&doc).unwrap(), name);
    }
}

#[test]
fn the_schema_refuses_what_is_not_the_document() {
    let v = schema("atsbench-3.schema.json");
    let mut doc = json(&["run", "sim", "--seed", "5", "--ops", "200", "-f", "json"]);
    assert_valid(&v, &doc, "run");
    doc["schema"] = "atsbench/2".into();
    assert!(!v.is_valid(&doc), "another schema version");
    doc["schema"] = "atsbench/3".into();
    doc["points"][0]["repeats"][0]["intervals"]["series"][0]["kinds"]["ats"]["ops"] = "many".into();
    assert!(!v.is_valid(&doc), "a count that is not a number");
}
