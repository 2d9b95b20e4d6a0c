//! Stale caches: host 0 takes each expected image through the page cache
//! (`--expected-from cache`) while host 1 changes the lock block with O_DIRECT writes.
//!
//! What the kernel does decides the known answer. An O_DIRECT write to a block device drops
//! that bdev's cached pages of the range before it is issued (`kiocb_invalidate_pages`), and
//! every opener of one device shares one bdev page cache: on /dev/nullb0 host 0's cache is
//! emptied by host 1's writes, so it is stale only when its buffered read runs between that
//! invalidation and the write's data landing (for io_uring's async writes nothing invalidates
//! after completion): a few attempts, and host 0 keeps acquiring. The two disks of the LIO LUN
//! (its two tcm_loop paths) are two bdevs with two page caches: nothing host 1 writes through
//! path B reaches host 0's cache of path A. Once host 1 has written, host 0's cached image is
//! older than the record its O_DIRECT compare read showed it, every attempt after is `stale`,
//! and host 0 never acquires again (only its own write would invalidate its cache).
//!
//! Host-emulated ATS is not atomic across hosts, so with `device` the hosts still race now and
//! then; a lost update leaves the loser a record of the generation it expected (`split`) or an
//! older one (`stale`), diagnosed `not-atomic-across-hosts`. Those are a few per cent of the
//! attempts, the cache's are all of them (diagnosed `stale-cache`).

use crate::common::*;
use crate::multihost::hosts_on;
use serde_json::Value;

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Lio, "stale_cache_two_lio_paths_cache_host_compares_stale_images", lio_paths_cache),
        (Need::Lio, "stale_cache_two_lio_paths_device_host_keeps_acquiring", lio_paths_device),
        (Need::Nullb, "stale_cache_nullb_one_bdev_cache_is_invalidated_by_the_other_writer", nullb_cache),
        (Need::Loop, "stale_cache_two_loop_devices_over_one_file_are_two_caches", loop_paths_cache),
        (Need::Loop, "stale_cache_one_loop_device_is_one_cache", loop_one_cache),
    ]
}

/// Loop devices with direct I/O over one file in /dev/shm: each is a bdev with a page cache of
/// its own over the same blocks, as two paths of one LUN are. Detached and removed on drop.
pub struct Paths {
    pub devs: Vec<String>,
    backing: String,
}

impl Paths {
    pub fn new(n: usize) -> Result<Paths, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let backing = format!("/dev/shm/atsbench-stale-{}-{k}.img", std::process::id());
        std::fs::write(&backing, vec![0u8; 16 << 20]).map_err(|e| format!("{backing}: {e}"))?;
        let mut paths = Paths { devs: Vec::new(), backing };
        for _ in 0..n {
            let out = std::process::Command::new("losetup")
                .args(["-f", "--show", "--direct-io=on", &paths.backing])
                .output()
                .map_err(|e| format!("losetup: {e}"))?;
            check(out.status.success(), || format!("losetup failed: {}", String::from_utf8_lossy(&out.stderr)))?;
            paths.devs.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        Ok(paths)
    }
}

impl Drop for Paths {
    fn drop(&mut self) {
        for d in &self.devs {
            let _ = std::process::Command::new("losetup").args(["-d", d]).status();
        }
        let _ = std::fs::remove_file(&self.backing);
    }
}

/// Ops of each host (the run's `--ops` in `hosts_on`).
const OPS: u64 = 1000;

/// Host 0 on `a` taking expected images from `from`, host 1 on `b` from the device; the two
/// hosts' results. Neither counts the other's records as corrupt.
fn run(a: &str, b: &str, from: &str) -> Result<Vec<Value>, String> {
    let (each, merged) = hosts_on([a, b], "ats", OPS, [&["--force", "--expected-from", from], &["--force"]])?;
    for (i, h) in each.iter().enumerate() {
        let p = point(h);
        println!(
            "host {i} ({}, expected from {}): ops {}, acquires {}, miscompares {}",
            if i == 0 { a } else { b },
            if i == 0 { from } else { "device" },
            u(p, "ops"),
            u(p, "acquires"),
            p["miscompares"]
        );
        // LIO's fileio and a loop device over tmpfs do not serialise a read against a write
        // through another path: now and then a read is torn (`corrupt`, about 1 in 3000 racing
        // reads here; see lio.rs). Another host's records counted as corrupt would be many.
        let corrupt = u(p, "miscompares.corrupt");
        check(corrupt * 100 <= u(p, "miscompares.total"), || {
            format!("host {i} counted records as corrupt: {}", p["miscompares"])
        })?;
        check(u(p, "errors") == 0, || format!("host {i} had errors: {}", p["error_samples"]))?;
    }
    let m = &merged["points"][0];
    check(m["cross_host_atomic"] == false, || format!("cross_host_atomic {}", m["cross_host_atomic"]))?;
    Ok(each)
}

fn lio_paths_cache() -> TestResult {
    two_caches(&dev(LIO_BLOCK_A), &dev(LIO_BLOCK_B))
}

fn loop_paths_cache() -> TestResult {
    let paths = Paths::new(2)?;
    two_caches(&paths.devs[0], &paths.devs[1])
}

fn loop_one_cache() -> TestResult {
    let paths = Paths::new(1)?;
    one_cache(&paths.devs[0])
}

/// Host 0's cache of path `a` never sees host 1's writes through `b`.
fn two_caches(a: &str, b: &str) -> TestResult {
    let each = run(a, b, "cache")?;
    let p = point(&each[0]);
    let (stale, acquires) = (u(p, "miscompares.stale"), u(p, "acquires"));
    check(stale >= OPS / 2, || format!("host 0's cache of path A was stale {stale} times in {OPS} (want most)"))?;
    check(acquires < OPS / 2, || format!("host 0 acquired {acquires} times through a stale cache"))?;
    // (LIO's fileio now and then serves a read torn by a racing write: `torn-write` may come
    // first, see lio.rs; its text names a torn READ when the retry found the block whole.)
    let found = mechanisms(p);
    check(found.iter().any(|m| m == "stale-cache"), || format!("host 0's diagnosis: {found:?}"))?;
    check(u(point(&each[1]), "acquires") > 0, || "host 1 never acquired".into())
}

fn lio_paths_device() -> TestResult {
    let each = run(&dev(LIO_BLOCK_A), &dev(LIO_BLOCK_B), "device")?;
    let p = point(&each[0]);
    let (stale, acquires) = (u(p, "miscompares.stale"), u(p, "acquires"));
    check(acquires >= OPS / 2, || format!("host 0 acquired only {acquires} of {OPS} with device reads"))?;
    // Not zero: host-emulated ATS is not atomic across hosts, so lost-update races also leave
    // host 0 an older record (32 and 252 of 1000 in two guest runs). The known answer is the
    // mirror of `two_caches`: most attempts acquire, fewer than half are stale.
    check(stale < OPS / 2, || format!("host 0 saw {stale} stale records with device reads"))?;
    // Those races are the hosts' non-atomic ATS, not a cache.
    let found = mechanisms(p);
    check(!found.iter().any(|m| m == "stale-cache"), || format!("host 0's diagnosis: {found:?}"))
}

fn nullb_cache() -> TestResult {
    one_cache(&Need::Nullb.path())
}

/// Both hosts on one bdev: host 1's O_DIRECT writes empty host 0's cache of the block.
fn one_cache(dev: &str) -> TestResult {
    let each = run(dev, dev, "cache")?;
    let p = point(&each[0]);
    let (stale, acquires) = (u(p, "miscompares.stale"), u(p, "acquires"));
    check(acquires >= OPS / 2, || format!("host 0 acquired only {acquires} of {OPS}: its cache stayed stale"))?;
    // Races between the two hosts' non-atomic ATS leave some stale images, as in
    // `lio_paths_device`: fewer than half, where two caches make most attempts stale.
    check(stale < OPS / 2, || format!("host 0 saw {stale} stale images on one bdev"))?;
    check(u(p, "miscompares.contention") > 0, || format!("host 0 met no contention: {}", p["miscompares"]))
}
