//! dm-multipath over the two LIO paths: atsbench's block backend (host-emulated ATS) through the
//! multipath device, and one path failed (`dmsetup message NAME 0 fail_path MAJ:MIN`) in the
//! middle of a run.

use crate::common::*;
use atsbench::sys::mem::Slab;
use atsbench::workload::record::Record;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Mpath, "mpath_ats_host_emulated_contends_without_violation", ats),
        (Need::Mpath, "mpath_ats_survives_a_path_failed_mid_run_and_writes_only_its_region", path_failure),
    ]
}

fn ats() -> TestResult {
    let doc = atsbench_json(&[
        "run",
        &dev(MPATH),
        "--workload",
        "ats",
        "--threads",
        "2",
        "--qd",
        "8",
        "--locks",
        "1",
        "--ops",
        "2000",
        "--format",
        "json",
        "--force",
    ])?;
    let p = point(&doc);
    check(p["ats_mode"] == "host-emulated", || format!("ats_mode {}", p["ats_mode"]))?;
    check(doc["target"]["backend"] == "block", || format!("target: {}", doc["target"]))?;
    check(u(p, "ops") == 2000, || format!("ops {}, asked 2000", p["ops"]))?;
    check_ats_point(p)
}

/// The device-mapper name of the multipath device (/dev/mapper/NAME).
pub(crate) fn dm_name() -> Result<String, String> {
    let p = dev(MPATH);
    let name = std::path::Path::new(&p).file_name().map(|n| n.to_string_lossy().into_owned());
    name.ok_or_else(|| format!("{MPATH}={p} has no file name"))
}

/// MAJ:MIN of the disk a variable names.
pub(crate) fn maj_min(var: &str) -> Result<String, String> {
    let disk = dev(var);
    let sys = format!("/sys/class/block/{}/dev", disk.trim_start_matches("/dev/"));
    std::fs::read_to_string(&sys).map(|s| s.trim().to_string()).map_err(|e| format!("{sys} ({var}): {e}"))
}

pub(crate) fn dmsetup(args: &[&str]) -> Result<String, String> {
    let out = Command::new("dmsetup").args(args).output().map_err(|e| format!("dmsetup: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    check(out.status.success(), || {
        format!("dmsetup {} exited {:?}: {}", args.join(" "), out.status.code(), String::from_utf8_lossy(&out.stderr))
    })?;
    Ok(text)
}

/// The state (`A` active, `F` failed) and fail count of path MAJ:MIN in `dmsetup status`.
pub(crate) fn path_state(name: &str, path: &str) -> Result<(String, u64), String> {
    let status = dmsetup(&["status", name])?;
    let words: Vec<&str> = status.split_whitespace().collect();
    let at = words.iter().position(|w| *w == path).ok_or_else(|| format!("path {path} not in status: {status}"))?;
    let state = words.get(at + 1).map(|s| s.to_string()).unwrap_or_default();
    let fails = words.get(at + 2).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no fail count: {status}"))?;
    Ok((state, fails))
}

/// Reinstates a failed path when dropped, so that a failing test leaves both paths up.
pub(crate) struct Reinstate(pub String, pub String);

impl Drop for Reinstate {
    fn drop(&mut self) {
        let _ = dmsetup(&["message", &self.0, "0", "reinstate_path", &self.1]);
    }
}

pub(crate) fn open_direct(p: &str, write: bool) -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT)
        .open(p)
        .map_err(|e| format!("opening {p} with O_DIRECT: {e}"))
}

const CHUNK: usize = 1 << 20;

/// The whole device, read with O_DIRECT in 1 MiB chunks.
fn read_all(f: &mut File) -> Result<Vec<u8>, String> {
    let size = f.seek(SeekFrom::End(0)).map_err(|e| format!("device size: {e}"))? as usize;
    let mut slab = Slab::new(CHUNK);
    let mut all = Vec::with_capacity(size);
    for off in (0..size).step_by(CHUNK) {
        let n = CHUNK.min(size - off);
        f.read_exact_at(slab.range_mut(0, n), off as u64).map_err(|e| format!("reading at {off}: {e}"))?;
        all.extend_from_slice(slab.range(0, n));
    }
    Ok(all)
}

/// Sum of the generations of the lock records at `at` (`n` blocks of `bs`), read with O_DIRECT.
pub(crate) fn generations(f: &File, at: u64, n: usize, bs: usize) -> Result<u64, String> {
    let mut slab = Slab::new(n * bs);
    f.read_exact_at(slab.range_mut(0, n * bs), at).map_err(|e| format!("reading the lock blocks: {e}"))?;
    let blocks = slab.range(0, n * bs).chunks(bs);
    Ok(blocks.filter_map(|b| Record::decode(b).ok()).map(|r| r.generation).sum())
}

/// Two workers run ATS on 64 lock blocks in 2M..3M of the multipath device for 2 s. Once ATS
/// has made progress, path A is failed through device-mapper. The run must complete (exit 0),
/// report its errors (counted, with samples), verify without violation, make progress after
/// the failure, and leave every byte outside its region as it was.
fn path_failure() -> TestResult {
    let (name, mpath, path_a) = (dm_name()?, dev(MPATH), maj_min(LIO_BLOCK_A)?);
    let path_b = maj_min(LIO_BLOCK_B)?;
    for p in [&path_a, &path_b] {
        let (state, _) = path_state(&name, p)?;
        check(state == "A", || format!("path {p} is {state} before the test; both must be active"))?;
    }
    // A pattern over the first 8 MiB, so that a stray write of anything shows.
    let mut f = open_direct(&mpath, true)?;
    let mut slab = Slab::new(CHUNK);
    for (off, chunk) in (0..8 * CHUNK).step_by(CHUNK).zip(1u8..) {
        let buf = slab.range_mut(0, CHUNK);
        buf.iter_mut().enumerate().for_each(|(i, b)| *b = chunk.wrapping_mul(37) ^ (i as u8) ^ ((i >> 9) as u8));
        f.write_all_at(slab.range(0, CHUNK), off as u64).map_err(|e| format!("writing the pattern: {e}"))?;
    }
    let before = read_all(&mut f)?;
    let (start, end, bs, locks) = (2usize << 20, 3usize << 20, 512usize, 64usize);

    let mut child = Command::new(bin())
        .args(["run", &mpath, "--workload", "ats", "--threads", "2", "--qd", "8", "--locks", "64"])
        .args(["--region", "2M..3M", "--duration", "2", "--format", "json", "--force"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting atsbench: {e}"))?;
    // Watch the lock blocks through the other path until ATS has succeeded somewhere.
    let b = open_direct(&dev(LIO_BLOCK_B), false)?;
    let t0 = Instant::now();
    let at_failure = loop {
        let g = generations(&b, start as u64, locks, bs)?;
        if g > 0 {
            break g;
        }
        if child.try_wait().map_err(|e| e.to_string())?.is_some() || t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            return Err("the run ended (or 60 s passed) before any ATS succeeded".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let guard = Reinstate(name.clone(), path_a.clone());
    dmsetup(&["message", &name, "0", "fail_path", &path_a])?;
    let failed = child.try_wait().map_err(|e| e.to_string())?.is_none();
    let (state, fails) = path_state(&name, &path_a)?;
    let out = child.wait_with_output().map_err(|e| format!("waiting for atsbench: {e}"))?;
    check(failed, || "the run had already ended when the path was failed".into())?;
    check(state == "F" && fails >= 1, || format!("path {path_a} after fail_path: state {state}, {fails} failures"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(out.status.code() == Some(0), || format!("the run did not complete: exit {:?}: {err}", out.status.code()))?;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON: {e}"))?;
    let p = point(&doc);
    let after = generations(&b, start as u64, locks, bs)?;
    check(after > at_failure, || {
        format!("no ATS succeeded after the path failed (generations {at_failure} -> {after})")
    })?;

    let errors = u(p, "errors");
    let samples = p["error_samples"].as_array().map_or(0, Vec::len) as u64;
    check(samples == errors.min(8), || format!("{errors} errors but {samples} samples: {}", p["error_samples"]))?;
    println!(
        "path failure: exit 0, {} ops, {errors} errors (samples {}), path {path_a} {state} with {fails} failures, \
         lock generations {at_failure} at the failure -> {after} at the end",
        u(p, "ops"),
        p["error_samples"]
    );
    check(p["ats_mode"] == "host-emulated", || format!("ats_mode {}", p["ats_mode"]))?;
    check(u(p, "verification.violations") == 0, || format!("violations: {}", p["verification"]))?;
    check(u(p, "verification.lost_updates") == 0, || format!("lost updates: {}", p["verification"]))?;
    check(u(p, "miscompares.corrupt") == 0, || format!("corrupt: {}", p["miscompares"]))?;

    dmsetup(&["message", &name, "0", "reinstate_path", &path_a])?;
    std::mem::forget(guard);
    let (state, _) = path_state(&name, &path_a)?;
    check(state == "A", || format!("path {path_a} is {state} after reinstate_path"))?;
    let now = read_all(&mut f)?;
    check(now.len() == before.len(), || "the device changed size".into())?;
    let outside = (0..before.len()).filter(|&i| !(start..end).contains(&i)).find(|&i| before[i] != now[i]);
    check(outside.is_none(), || format!("byte {} outside the region 2M..3M changed", outside.unwrap_or(0)))?;
    let inside = (start..end).find(|&i| before[i] != now[i]).unwrap_or(end);
    check(inside < start + locks * bs, || "nothing changed in the lock blocks".into())
}
