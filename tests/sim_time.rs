//! The simulated device keeps time (issue 22): a fixed service time comes out as the read
//! latency's p50, and QD commands in flight give QD / service time operations per second,
//! within a few per cent. Before, every simulated answer came back as late as a sleeping
//! thread's wake-up (`fixed:100us`: p50 138 us, QD 4: 28k IOPS where 40k are due).
//!
//! These are the only timed assertions of the suite, so they are made to hold on a shared
//! machine: this file is a test binary of its own (cargo runs test binaries one after
//! another), its tests take turns (`take_turn`), and each known answer is the best of three short
//! runs, since load can only make a run slower, never faster than its service time.

mod common;
use common::{bin, take_turn};

use serde_json::Value;
use std::process::Command;

/// A one-second read run on `sim` with a fixed service time; the run's only point.
fn read_point(service_us: u32, qd: u32) -> Value {
    let latency = format!("fixed:{service_us}us");
    let qd = qd.to_string();
    let args = ["run", "sim", "--sim-latency", &latency, "--workload", "read", "--qd", &qd, "--duration", "1"];
    let out = Command::new(bin()).args(args).args(["--seed", "3", "-f", "json"]).output().expect("run atsbench");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "atsbench {args:?}: {err}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"));
    doc["points"][0].clone()
}

/// The best of three runs by `figure` (the smallest, or with `largest` the largest).
fn best_of_three(service_us: u32, qd: u32, figure: fn(&Value) -> f64, largest: bool) -> (f64, Vec<f64>) {
    let _turn = take_turn();
    let seen: Vec<f64> = (0..3).map(|_| figure(&read_point(service_us, qd))).collect();
    let pick = if largest { f64::max } else { f64::min };
    (seen.iter().copied().reduce(pick).unwrap(), seen)
}

fn p50_us(p: &Value) -> f64 {
    p["latency_ns"]["read"]["p50"].as_f64().expect("read p50") / 1e3
}

fn iops(p: &Value) -> f64 {
    p["iops"].as_f64().expect("iops")
}

/// p50 of QD 1 reads within [service, service x 1.05 + 1 us].
fn p50_keeps(service_us: u32) {
    let (p50, seen) = best_of_three(service_us, 1, p50_us, false);
    let s = f64::from(service_us);
    println!("fixed:{service_us}us QD 1: read p50 {p50:.1} us (runs {seen:.1?})");
    assert!(p50 >= s && p50 <= s * 1.05 + 1.0, "p50 {p50:.1} us for a {s} us service time (runs {seen:.1?})");
}

#[test]
fn a_fixed_100us_service_time_is_the_read_p50() {
    p50_keeps(100);
}

#[test]
fn a_fixed_20us_service_time_is_the_read_p50() {
    p50_keeps(20);
}

/// QD 4 at 100 us: 40 000 operations per second are due; at least 94 % of them, never more.
/// Each simulated answer costs the worker a few microseconds of CPU (arming and expiring its
/// timer: about 8 us on a virtual machine, where 1.2 million answers a second come without
/// one), so four answers due together are reaped one after another: 38.1-38.5k measured.
#[test]
fn qd_4_at_100us_gives_40k_iops() {
    let (best, seen) = best_of_three(100, 4, iops, true);
    println!("fixed:100us QD 4: {best:.0} IOPS (runs {seen:.0?})");
    assert!((37_600.0..=40_400.0).contains(&best), "{best:.0} IOPS where 40000 are due (runs {seen:.0?})");
}
