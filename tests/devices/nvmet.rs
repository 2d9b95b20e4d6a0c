//! nvmet (the Linux NVMe target) over nvme-loop with a file namespace: a controller without
//! Compare. probe says so, `compare` and `ats` on its /dev/ngXnY are refused in one line that
//! points to the block device, and host-emulated ATS on that block device gives the known answer.

use crate::common::*;

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Nvmet, "nvmet_probe_says_compare_is_not_supported", probe),
        (Need::Nvmet, "nvmet_compare_and_ats_on_ng_exit_7_pointing_to_the_block_device", refusals),
        (Need::Nvmet, "nvmet_block_device_ats_host_emulated_contends_without_violation", block_ats),
    ]
}

fn probe() -> TestResult {
    let doc = atsbench_json(&["probe", &dev(NVMET), "--format", "json"])?;
    let p = &doc["probe"];
    check(doc["backend"] == "nvme", || format!("backend {}", doc["backend"]))?;
    check(p["compare"] == false, || format!("compare {}", p["compare"]))?;
    check(p["model"] == "Linux", || format!("model {} (nvmet says Linux)", p["model"]))?;
    check(p["block_device"] == dev(NVMET_BLOCK).as_str(), || format!("block_device {}", p["block_device"]))?;
    check(u(&doc, "logical_block_size") >= 512, || format!("block size {}", doc["logical_block_size"]))
}

fn refusals() -> TestResult {
    let (ng, block) = (dev(NVMET), dev(NVMET_BLOCK));
    for workload in ["compare", "ats"] {
        let out = atsbench(&["run", &ng, "--workload", workload, "--locks", "1", "--ops", "10", "--force"])?;
        let err = String::from_utf8_lossy(&out.stderr);
        check(out.status.code() == Some(7), || format!("{workload}: exit {:?}: {err}", out.status.code()))?;
        check(err.trim_end().lines().count() == 1, || format!("{workload}: more than one line: {err}"))?;
        check(err.contains(&block), || format!("{workload}: the message does not name {block}: {err}"))?;
    }
    Ok(())
}

fn block_ats() -> TestResult {
    let doc = two_workers_on_one_lock(&dev(NVMET_BLOCK), "ats", &["--force"])?;
    let p = point(&doc);
    check(p["ats_mode"] == "host-emulated", || format!("ats_mode {}", p["ats_mode"]))?;
    check_ats_point(p)
}
