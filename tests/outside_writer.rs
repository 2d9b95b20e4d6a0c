//! Another writer changing a lock block mid-run (dd, fio, a stray process) shows as `corrupt`,
//! not as contention, and the run names the lock and when it first saw it: on a file target,
//! with the test itself as the outside writer. (On the simulated device the same mechanism is
//! `--inject foreign-write=RATE`, see tests/sim.rs.)

use serde_json::Value;
use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_lock_block_overwritten_from_outside_is_corrupt_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let (target, out) = (dir.path().join("target.img"), dir.path().join("out.json"));
    std::fs::write(&target, vec![0u8; 1 << 20]).unwrap();
    // Four actors, one lock block each (blocks 0..4 of 4096 bytes), for 3 seconds.
    let mut child = Command::new(env!("CARGO_BIN_EXE_atsbench"))
        .args(["run", target.to_str().unwrap(), "--bs", "4096", "--qd", "4", "--duration", "3", "-f", "json", "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&target).unwrap();
    // Wait for the initial records, then overwrite lock block 2 with what dd would write,
    // a few dozen times over half a second (well inside the run).
    let mut head = [0u8; 8];
    let t0 = Instant::now();
    while head != *b"ATSBLOCK" {
        assert!(t0.elapsed() < Duration::from_secs(60), "atsbench never wrote its lock records");
        std::thread::sleep(Duration::from_millis(5));
        file.read_exact_at(&mut head, 2 * 4096).unwrap();
    }
    for i in 0..50u8 {
        file.write_all_at(&[i; 4096], 2 * 4096).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    // A final block left overwritten is a verification failure (exit 9): the known answer.
    assert!(matches!(status.code(), Some(0) | Some(9)), "{status:?}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let p = &doc["points"][0];
    let count = |c: &str| p["miscompares"][c].as_u64().unwrap();
    assert!(count("corrupt") > 0, "{}", p["miscompares"]);
    for other in ["contention", "own_write", "stale", "false", "split"] {
        assert_eq!(count(other), 0, "{other}: {}", p["miscompares"]);
    }
    let first = &p["first_corrupt"];
    assert_eq!(first["lock"].as_u64(), Some(2), "{first}");
    assert!(first["at_s"].as_f64().is_some_and(|t| t >= 0.0), "{first}");
    // The diagnosis names the mechanism and the lock block first.
    let d = &p["diagnosis"][0];
    assert_eq!(d["mechanism"], "outside-writer", "{}", p["diagnosis"]);
    assert!(d["text"].as_str().unwrap().contains("first on lock block 2"), "{d}");
    let per_lock: Vec<u64> =
        p["per_lock"].as_array().unwrap().iter().map(|l| l["miscompares"].as_u64().unwrap()).collect();
    assert_eq!((per_lock[0], per_lock[1], per_lock[3]), (0, 0, 0), "only lock 2 was touched: {per_lock:?}");
}
