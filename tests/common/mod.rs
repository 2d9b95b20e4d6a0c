//! Helpers shared by the integration tests. Each test file is its own crate and uses a part of
//! them, so the parts it leaves are not dead code.
#![allow(dead_code)]

pub mod source;

use serde_json::Value;

/// The atsbench binary Cargo built for this test run.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_atsbench")
}

/// The unsigned number at the dotted `path` of `v`; a missing key fails the test with its name.
pub fn n(v: &Value, path: &str) -> u64 {
    path.split('.').fold(v, |v, k| &v[k]).as_u64().unwrap_or_else(|| panic!("{path} missing in {v}"))
}

/// The mechanisms of a point's diagnosis, most important first.
pub fn mechanisms(p: &Value) -> Vec<&str> {
    p["diagnosis"]
        .as_array()
        .unwrap_or_else(|| panic!("no diagnosis in {p}"))
        .iter()
        .map(|f| f["mechanism"].as_str().unwrap())
        .collect()
}

/// One test at a time, for the test files whose known answers depend on how processes
/// interleave (a shared file's history, a simulated device's clock): while the guard is held no
/// other test of the same binary that takes it runs. Cargo runs test binaries one after another,
/// so a binary whose tests all take their turn runs alone.
pub fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}
