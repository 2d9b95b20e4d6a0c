//! null_blk: the CI target of users' regression runs.

use crate::common::*;

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Nullb, "nullb_ats_two_workers_contend_without_violation", ats_contends),
        (Need::Nullb, "nullb_rmw_loses_updates", rmw_loses),
        (Need::Nullb, "nullb_target_is_described", described),
    ]
}

fn ats_contends() -> TestResult {
    let doc = two_workers_on_one_lock(&Need::Nullb.path(), "ats", &["--force"])?;
    check(point(&doc)["ats_mode"] == "host-emulated", || format!("ats_mode {}", point(&doc)["ats_mode"]))?;
    check_ats_point(point(&doc))
}

fn rmw_loses() -> TestResult {
    let doc = two_workers_on_one_lock(&Need::Nullb.path(), "rmw", &["--force"])?;
    check_rmw_lost_updates(point(&doc))
}

fn described() -> TestResult {
    let dev = Need::Nullb.path();
    let doc = atsbench_json(&["probe", &dev, "--format", "json"])?;
    check(doc["backend"] == "block", || format!("backend {}", doc["backend"]))?;
    check(doc["driver"].as_str().is_some_and(|d| d.contains("null")), || format!("driver {}", doc["driver"]))?;
    check(u(&doc, "logical_block_size") == 512, || format!("block size {}", doc["logical_block_size"]))
}
