//! NVMe passthrough on /dev/ngXnY: probe, device-side Compare, compare-then-write ATS, the
//! `--fused` and `--iopoll` refusals, the data-safety check through the namespace's block
//! device, and the same workloads through the passthrough and the block path.

use crate::common::*;
use serde_json::Value;

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Nvme, "nvme_512_probe_shows_compare_and_no_fused", || probe(Need::Nvme, 512, 1)),
        (Need::Nvme4k, "nvme_4k_probe_shows_compare_and_no_fused", || probe(Need::Nvme4k, 4096, 2)),
        (Need::Nvme, "nvme_512_compare_matches", || compare_exact(Need::Nvme, "0")),
        (Need::Nvme4k, "nvme_4k_compare_matches", || compare_exact(Need::Nvme4k, "0")),
        (Need::Nvme, "nvme_512_compare_mismatches_all_detected", || compare_exact(Need::Nvme, "1")),
        (Need::Nvme4k, "nvme_4k_compare_mismatches_all_detected", || compare_exact(Need::Nvme4k, "1")),
        (Need::Nvme, "nvme_512_compare_quarter_rate", || compare_rate(Need::Nvme)),
        (Need::Nvme4k, "nvme_4k_compare_quarter_rate", || compare_rate(Need::Nvme4k)),
        (Need::Nvme, "nvme_512_ats_two_workers_contend_without_violation", || ats(Need::Nvme)),
        (Need::Nvme4k, "nvme_4k_ats_two_workers_contend_without_violation", || ats(Need::Nvme4k)),
        (Need::Nvme, "nvme_512_fused_is_refused_in_one_line", || fused(Need::Nvme)),
        (Need::Nvme4k, "nvme_4k_fused_is_refused_in_one_line", || fused(Need::Nvme4k)),
        (Need::Nvme, "nvme_iopoll_needs_poll_queues", iopoll),
        (Need::NvmeBlock, "nvme_fused_on_block_device_is_usage_error", fused_on_block),
        (Need::NvmeBlock, "nvme_refuses_namespace_whose_block_device_holds_a_filesystem", refuses_filesystem),
        (Need::NvmeBlock, "nvme_ng_and_block_device_run_the_same_workloads", same_workloads),
    ]
}

fn run_json(need: Need, extra: &[&str]) -> Result<Value, String> {
    let dev = need.path();
    let mut args = vec!["run", dev.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json", "--force"]);
    atsbench_json(&args)
}

/// The number at the dotted `path`; a missing key fails the test with its name (see `u`).
fn f(v: &Value, path: &str) -> f64 {
    let got = path.split('.').fold(v, |v, k| &v[k]);
    got.as_f64().unwrap_or_else(|| panic!("JSON key `{path}` is missing or not a number (found {got})"))
}

fn probe(need: Need, lbs: u64, nsid: u64) -> TestResult {
    let doc = atsbench_json(&["probe", &need.path(), "--format", "json"])?;
    let p = &doc["probe"];
    check(doc["backend"] == "nvme", || format!("backend {}", doc["backend"]))?;
    check(u(&doc, "logical_block_size") == lbs, || format!("block size {}", doc["logical_block_size"]))?;
    check(u(p, "nsid") == nsid, || format!("nsid {}", p["nsid"]))?;
    check(p["compare"] == true, || format!("compare {}", p["compare"]))?;
    check(p["fused_compare_write"] == false, || format!("fused_compare_write {}", p["fused_compare_write"]))?;
    check(p["fused_host_path"] == false, || format!("fused_host_path {}", p["fused_host_path"]))?;
    check(doc["firmware"].as_str().is_some_and(|s| !s.is_empty()), || format!("firmware {}", doc["firmware"]))?;
    check(p["poll_queues"].is_u64(), || format!("poll_queues {}", p["poll_queues"]))?;
    check(p["block_device"].as_str().is_some_and(|s| s.starts_with("/dev/nvme")), || {
        format!("block_device {}", p["block_device"])
    })
}

/// Fraction 0: no miscompare; fraction 1: every compare injected and every one detected.
fn compare_exact(need: Need, fraction: &str) -> TestResult {
    let doc =
        run_json(need, &["--workload", "compare", "--ops", "200", "--qd", "4", "--miscompare-fraction", fraction])?;
    let p = point(&doc);
    let (ops, injected) = (u(p, "ops"), u(p, "miscompares.injected"));
    // --ops is exact: the engine stops issuing at the count and reaps what is in flight.
    check(ops == 200, || format!("ops {ops}, asked 200"))?;
    check(u(p, "errors") == 0, || format!("errors: {}", p["error_samples"]))?;
    check(u(p, "miscompares.false") == 0, || format!("false miscompares: {}", p["miscompares"]))?;
    check(u(p, "verification.violations") == 0, || format!("undetected injected: {}", p["verification"]))?;
    let want = if fraction == "1" { ops } else { 0 };
    check(injected == want, || format!("injected {injected}, expected {want}"))
}

/// Fraction 0.25 over 10000 compares: the device detects 0.25 +- 0.02 of them.
fn compare_rate(need: Need) -> TestResult {
    let doc = run_json(
        need,
        &["--workload", "compare", "--ops", "10000", "--qd", "8", "--miscompare-fraction", "0.25", "--seed", "7"],
    )?;
    let p = point(&doc);
    let (ops, injected, undetected) = (u(p, "ops"), u(p, "miscompares.injected"), u(p, "verification.violations"));
    check(ops == 10000 && u(p, "errors") == 0, || format!("ops {ops} (asked 10000), errors {}", p["error_samples"]))?;
    let rate = (injected - undetected) as f64 / ops as f64;
    println!("{}: compare miscompare fraction measured {rate:.4} (asked 0.25, {ops} compares)", need.path());
    check(undetected == 0 && u(p, "miscompares.false") == 0, || {
        format!("{}, {}", p["verification"], p["miscompares"])
    })?;
    check((rate - 0.25).abs() <= 0.02, || format!("measured miscompare fraction {rate}"))?;
    // What the device reported is what the result counts as miscompares.
    let total = u(p, "miscompares.total");
    check(total == injected - undetected && total == u(p, "miscompares.detected"), || format!("{}", p["miscompares"]))?;
    let shown = p["miscompare_rate"].as_f64().unwrap_or(-1.0);
    check((shown - rate).abs() < 1e-9, || format!("miscompare_rate {shown}, device reported {rate}"))
}

fn ats(need: Need) -> TestResult {
    let doc = run_json(need, &["--workload", "ats", "--threads", "2", "--qd", "8", "--locks", "1", "--ops", "2000"])?;
    let p = point(&doc);
    check(p["ats_mode"] == "compare-then-write", || format!("ats_mode {}", p["ats_mode"]))?;
    let backend = &p["ring"]["backend"];
    check(backend["command_path"] == "io_uring URING_CMD", || format!("ring.backend {backend}"))?;
    check(backend["fixed_buffers"] == p["ring"]["fixed_buffers"], || format!("ring {}", p["ring"]))?;
    check_ats_point(p)
}

fn fused(need: Need) -> TestResult {
    let dev = need.path();
    let out = atsbench(&["run", &dev, "--workload", "ats", "--fused", "--ops", "10", "--force"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(out.status.code() == Some(7), || format!("exit {:?}: {err}", out.status.code()))?;
    check(err.trim_end().lines().count() == 1, || format!("more than one line: {err}"))?;
    check(err.contains("rejects fused commands") && err.contains("compare-then-write"), || err.to_string())
}

/// Without poll queues --iopoll is refused (7); with them (nvme.poll_queues=N) it runs.
fn iopoll() -> TestResult {
    let queues = std::fs::read_to_string("/sys/module/nvme/parameters/poll_queues").unwrap_or_default();
    let dev = Need::Nvme.path();
    let out = atsbench(&["run", &dev, "--workload", "read", "--iopoll", "--ops", "100", "--format", "json"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    if queues.trim() == "0" {
        check(out.status.code() == Some(7), || format!("exit {:?}: {err}", out.status.code()))?;
        check(err.contains("poll_queues"), || err.to_string())
    } else {
        check(out.status.success(), || format!("poll_queues {queues}: exit {:?}: {err}", out.status.code()))
    }
}

fn fused_on_block() -> TestResult {
    let dev = Need::NvmeBlock.path();
    let out = atsbench(&["run", &dev, "--workload", "ats", "--fused", "--ops", "10", "--force"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(out.status.code() == Some(2), || format!("exit {:?}: {err}", out.status.code()))?;
    check(err.contains("--fused"), || err.to_string())
}

/// Write one 4 KiB page at byte 0 of the block device, bypassing its page cache.
fn write_head(dev: &str, page: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(dev)
        .map_err(|e| format!("opening {dev}: {e}"))?;
    let mut slab = atsbench::sys::mem::Slab::new(4096);
    slab.range_mut(0, 4096).copy_from_slice(page);
    f.write_at(slab.range(0, 4096), 0).map_err(|e| format!("writing {dev}: {e}"))?;
    Ok(())
}

/// An ext4 signature on /dev/nvme0n1 makes a write run on /dev/ng0n1 refuse (exit 5).
fn refuses_filesystem() -> TestResult {
    let (block, ng) = (Need::NvmeBlock.path(), Need::Nvme.path());
    if let Some(why) = Need::Nvme.missing() {
        return Err(format!("needs the generic device of the same namespace too: {why}"));
    }
    let mut page = vec![0u8; 4096];
    page[1080..1082].copy_from_slice(&[0x53, 0xEF]);
    write_head(&block, &page)?;
    let out = atsbench(&["run", &ng, "--workload", "ats", "--ops", "10"]);
    write_head(&block, &[0u8; 4096])?;
    let out = out?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(out.status.code() == Some(5), || format!("exit {:?}: {err}", out.status.code()))?;
    check(err.contains(&block) && err.contains("ext2/3/4"), || err.to_string())?;
    let out = atsbench(&["run", &ng, "--workload", "ats", "--ops", "10", "--format", "json"])?;
    check(out.status.success(), || format!("clean again, exit {:?}", out.status.code()))
}

/// One worker at queue depth 1 doing `OPS` operations of `workload`; returns the point and its
/// mean wall time per operation in ns (printed only, never asserted).
fn qd1_point(dev: &str, workload: &str) -> Result<(Value, f64), String> {
    const OPS: u64 = 500;
    let ops = OPS.to_string();
    let doc = atsbench_json(&[
        "run",
        dev,
        "--workload",
        workload,
        "--qd",
        "1",
        "--threads",
        "1",
        "--locks",
        "1",
        "--ops",
        &ops,
        "--format",
        "json",
        "--force",
    ])?;
    let p = point(&doc).clone();
    check(u(&p, "errors") == 0, || format!("{dev} {workload}: errors {}", p["error_samples"]))?;
    check(u(&p, "ops") == OPS, || format!("{dev} {workload}: ops {}, asked {OPS}", p["ops"]))?;
    let per_op = f(&p, "duration_s") * 1e9 / OPS as f64;
    Ok((p, per_op))
}

/// The same workloads through /dev/ngXnY (URING_CMD) and /dev/nvmeXnY (block layer, O_DIRECT):
/// each completes exactly its operations without error; ATS is compare-then-write on the
/// passthrough path and host-emulated on the block path, verified on both. The per-op times are
/// printed for information only: under QEMU TCG they measure the emulator, so nothing is
/// asserted about them.
fn same_workloads() -> TestResult {
    if let Some(why) = Need::Nvme.missing() {
        return Err(format!("needs the generic device of the same namespace too: {why}"));
    }
    let (ng, block) = (Need::Nvme.path(), Need::NvmeBlock.path());
    for workload in ["read", "write", "ats"] {
        let ((a, a_ns), (b, b_ns)) = (qd1_point(&ng, workload)?, qd1_point(&block, workload)?);
        if workload == "ats" {
            check(a["ats_mode"] == "compare-then-write", || format!("{ng}: ats_mode {}", a["ats_mode"]))?;
            check(b["ats_mode"] == "host-emulated", || format!("{block}: ats_mode {}", b["ats_mode"]))?;
            for (dev, p) in [(&ng, &a), (&block, &b)] {
                check(u(p, "verification.violations") == 0 && u(p, "verification.lost_updates") == 0, || {
                    format!("{dev}: {}", p["verification"])
                })?;
            }
        }
        println!(
            "per-op {workload} qd1: {ng} {a_ns:.0} ns, {block} {b_ns:.0} ns, ratio {:.2} (information only: TCG)",
            a_ns / b_ns
        );
    }
    Ok(())
}
