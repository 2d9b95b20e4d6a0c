//! SCSI generic devices (scsi_debug's /dev/sgN in the guest): COMPARE AND WRITE through the sg
//! driver directly, then atsbench's scsi backend on every transport.

use crate::common::*;
use atsbench::proto::scsi::{self, ScsiOutcome, Sense};
use atsbench::sys::sg::{sg_io, DataBuf, SgIoHdr};
use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Sg, "scsi_caw_match_writes_the_new_image", caw_match),
        (Need::Sg, "scsi_caw_miscompare_leaves_the_block_unchanged", caw_miscompare),
        (Need::Sg, "scsi_descriptor_sense_miscompares_still_decode", descriptor_sense),
        (Need::Sg, "scsi_probe_reports_inquiry_vpd_and_transports", probe_fields),
        (Need::Sg, "scsi_ats_two_workers_qd64_one_lock_contend_without_violation", ats_qd64_one_lock),
        (Need::Sg, "scsi_ats_qd256_64_locks_completes", ats_qd256),
        (Need::Sg, "scsi_ats_sg_sync_transport_contends_without_violation", ats_sg_sync),
        (Need::Sg, "scsi_read_workload_runs", read_workload),
        (Need::Sg, "scsi_unavailable_transport_and_ats_blocks_are_one_line_errors", option_errors),
        (Need::Sg, "scsi_refuses_a_disk_holding_a_filesystem", refuses_filesystem),
    ]
}

/// Blocks used by the direct tests: far from the lock blocks atsbench uses at the start.
const LBA: u64 = 100_000;
pub(crate) const BS: usize = 512;
const DSENSE: &str = "/sys/bus/pseudo/drivers/scsi_debug/dsense";

fn open_sg() -> Result<File, String> {
    let p = Need::Sg.path();
    OpenOptions::new().read(true).write(true).open(&p).map_err(|e| format!("opening {p}: {e}"))
}

/// Run one command; returns the outcome and the sense bytes written.
fn run(f: &File, cdb: &[u8], data: DataBuf<'_>) -> Result<(ScsiOutcome, Vec<u8>), String> {
    let mut sense = [0u8; 64];
    let mut h = SgIoHdr::new(cdb, data, &mut sense, 10_000).map_err(|e| e.to_string())?;
    sg_io(f.as_fd(), &mut h).map_err(|e| format!("SG_IO: {e}"))?;
    let c = h.completion();
    let n = usize::from(c.sb_len_wr).min(sense.len());
    Ok((c.outcome(&sense), sense[..n].to_vec()))
}

pub(crate) fn write_block(f: &File, lba: u64, image: &[u8]) -> TestResult {
    let (o, _) = run(f, &scsi::write16(lba, 1, false), DataBuf::ToDevice(image))?;
    check(o == ScsiOutcome::Good, || format!("WRITE(16): {o:?}"))
}

pub(crate) fn read_block(f: &File, lba: u64) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; BS];
    let (o, _) = run(f, &scsi::read16(lba, 1, false), DataBuf::FromDevice(&mut buf))?;
    check(o == ScsiOutcome::Good, || format!("READ(16): {o:?}"))?;
    Ok(buf)
}

fn image(fill: u8) -> Vec<u8> {
    (0..BS).map(|i| fill ^ (i as u8)).collect()
}

/// COMPARE AND WRITE of one block: verify image then write image.
pub(crate) fn caw(f: &File, lba: u64, expected: &[u8], new: &[u8]) -> Result<(ScsiOutcome, Vec<u8>), String> {
    let data = [expected, new].concat();
    run(f, &scsi::compare_and_write(lba, 1, false, false, 0), DataBuf::ToDevice(&data))
}

fn caw_match() -> TestResult {
    let f = open_sg()?;
    let (a, b) = (image(0x11), image(0x22));
    write_block(&f, LBA, &a)?;
    let (o, sense) = caw(&f, LBA, &a, &b)?;
    check(o == ScsiOutcome::Good, || format!("COMPARE AND WRITE with the right image: {o:?}, sense {sense:02x?}"))?;
    let now = read_block(&f, LBA)?;
    check(now == b, || "after a matching COMPARE AND WRITE the block does not hold the new image".into())
}

/// A miscompare through sg: the outcome, the decoded sense, and the block left as it was.
fn miscompare_once(f: &File, lba: u64) -> Result<Sense, String> {
    let (a, b, wrong) = (image(0x33), image(0x44), image(0x55));
    write_block(f, lba, &a)?;
    let (o, sense) = caw(f, lba, &wrong, &b)?;
    check(matches!(o, ScsiOutcome::Miscompare { .. }), || format!("expected a miscompare: {o:?}, {sense:02x?}"))?;
    let s = Sense::parse(&sense).map_err(|e| format!("sense {sense:02x?}: {e}"))?;
    check(s.is_miscompare(), || format!("sense is not MISCOMPARE/1Dh: {s}"))?;
    let now = read_block(f, lba)?;
    check(now == a, || "a miscompared COMPARE AND WRITE changed the block".into())?;
    Ok(s)
}

fn caw_miscompare() -> TestResult {
    let s = miscompare_once(&open_sg()?, LBA + 1)?;
    check(!s.descriptor_format, || "scsi_debug's default sense should be fixed format".into())
}

/// Sets scsi_debug's dsense and puts it back when dropped.
struct Dsense(String);

impl Dsense {
    fn set(v: &str) -> Result<Dsense, String> {
        let old = std::fs::read_to_string(DSENSE).map_err(|e| format!("{DSENSE}: {e}"))?;
        std::fs::write(DSENSE, v).map_err(|e| format!("writing {v} to {DSENSE}: {e}"))?;
        Ok(Dsense(old.trim().to_string()))
    }
}

impl Drop for Dsense {
    fn drop(&mut self) {
        let _ = std::fs::write(DSENSE, &self.0);
    }
}

fn descriptor_sense() -> TestResult {
    let _guard = Dsense::set("1")?;
    let s = miscompare_once(&open_sg()?, LBA + 2)?;
    check(s.descriptor_format, || format!("dsense=1 but the sense is fixed format: {s}"))?;
    // atsbench decodes them too: contention is seen, nothing is an error.
    let doc = ats(&["--threads", "2", "--qd", "8", "--locks", "1", "--ops", "1500"])?;
    let p = point(&doc);
    check_ats_point(p)?;
    check(u(p, "device_miscompares.reported") > 0, || format!("{}", p["device_miscompares"]))
}

fn probe_fields() -> TestResult {
    let dev = Need::Sg.path();
    let doc = atsbench_json(&["probe", &dev, "--format", "json"])?;
    let pr = &doc["probe"];
    check(doc["backend"] == "scsi", || format!("backend {}", doc["backend"]))?;
    check(doc["driver"].as_str().is_some_and(|d| d.contains("scsi_debug")), || format!("driver {}", doc["driver"]))?;
    check(pr["product"] == "scsi_debug", || format!("product {}", pr["product"]))?;
    check(pr["firmware"].as_str().is_some_and(|s| !s.is_empty()), || format!("firmware {}", pr["firmware"]))?;
    check(pr["serial"].is_string(), || format!("serial {}", pr["serial"]))?;
    check(u(pr, "logical_block_size") == 512, || format!("block size {}", pr["logical_block_size"]))?;
    check(u(pr, "size_bytes") == 64 << 20, || format!("size {}", pr["size_bytes"]))?;
    // scsi_debug reports 0 (SBC-4: "not supported") yet implements the command.
    let max = u(pr, "max_compare_write_blocks");
    check(max <= 255, || format!("max_compare_write_blocks {}", pr["max_compare_write_blocks"]))?;
    let caw = pr["compare_and_write"].as_str().unwrap_or_default();
    check(caw.starts_with("supported"), || format!("compare_and_write {caw}"))?;
    let transports = pr["transports_available"].as_array().cloned().unwrap_or_default();
    check(transports.iter().any(|t| t == "sg") && transports.iter().any(|t| t == "sg-sync"), || {
        format!("transports {transports:?}")
    })?;
    check(pr["bsg_uring"].is_string(), || format!("bsg_uring {}", pr["bsg_uring"]))?;
    let table = atsbench(&["probe", &dev])?;
    let text = String::from_utf8_lossy(&table.stdout);
    check(table.status.success() && text.contains("max_compare_write_blocks"), || format!("table: {text}"))
}

fn ats(extra: &[&str]) -> Result<serde_json::Value, String> {
    let dev = Need::Sg.path();
    let mut args = vec!["run", dev.as_str(), "--workload", "ats", "--format", "json", "--force"];
    args.extend_from_slice(extra);
    atsbench_json(&args)
}

fn ats_qd64_one_lock() -> TestResult {
    let doc = ats(&["--threads", "2", "--qd", "64", "--locks", "1", "--ops", "4000"])?;
    let p = point(&doc);
    check(p["ats_mode"] == "device", || format!("ats_mode {}", p["ats_mode"]))?;
    let b = &p["ring"]["backend"];
    check(b["transport"] == "sg" || b["transport"] == "bsg-uring", || format!("backend {b}"))?;
    if b["transport"] == "sg" {
        // More than sg's 16 commands per fd: several fds per worker, none with more than 16.
        let (fds, per) = (u(b, "sg_fds_per_worker"), u(b, "slots_per_sg_fd"));
        check(fds >= 4 && (1..=16).contains(&per) && fds * per >= 64, || format!("sg fds for qd 64: {b}"))?;
    }
    check_ats_point(p)
}

fn ats_qd256() -> TestResult {
    let doc = ats(&["--qd", "256", "--locks", "64", "--ops", "6000"])?;
    let p = point(&doc);
    check(u(p, "ops") >= 6000, || format!("ops {}", p["ops"]))?;
    check(u(p, "errors") == 0, || format!("errors: {}", p["error_samples"]))?;
    check(u(p, "verification.violations") == 0, || format!("violations: {}", p["verification"]))?;
    check(u(p, "acquires") > 0, || "no lock acquired".into())
}

fn ats_sg_sync() -> TestResult {
    let doc = ats(&["--transport", "sg-sync", "--threads", "2", "--qd", "4", "--locks", "1", "--ops", "2000"])?;
    let p = point(&doc);
    check(p["ring"]["backend"]["transport"] == "sg-sync", || format!("{}", p["ring"]["backend"]))?;
    check_ats_point(p)
}

fn read_workload() -> TestResult {
    let dev = Need::Sg.path();
    let doc = atsbench_json(&["run", &dev, "--workload", "read", "--qd", "32", "--ops", "3000", "--format", "json"])?;
    let p = point(&doc);
    check(u(p, "ops") >= 3000 && u(p, "errors") == 0, || format!("ops {} errors {}", p["ops"], p["error_samples"]))
}

fn option_errors() -> TestResult {
    let dev = Need::Sg.path();
    let probe = atsbench_json(&["probe", &dev, "--format", "json"])?;
    let run = |extra: &[&str]| {
        let mut args = vec!["run", dev.as_str(), "--ops", "10", "--force"];
        args.extend_from_slice(extra);
        atsbench(&args)
    };
    let one_line = |o: &std::process::Output, code: i32, needle: &str| {
        let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
        check(o.status.code() == Some(code) && err.lines().count() == 1 && err.contains(needle), || {
            format!("exit {:?}, stderr: {err}", o.status.code())
        })
    };
    if probe["probe"]["transports_available"].as_array().is_some_and(|t| !t.iter().any(|t| t == "bsg-uring")) {
        one_line(&run(&["--transport", "bsg-uring"])?, 7, "bsg")?;
    }
    // 0: the device gives no limit (scsi_debug), so none is checked before the commands.
    let max = u(&probe["probe"], "max_compare_write_blocks");
    if (1..255).contains(&max) {
        let over = (max + 1).to_string();
        one_line(&run(&["--ats-blocks", &over])?, 2, &format!("at most {max}"))?;
    }
    if max == 0 || max >= 2 {
        one_line(&run(&["--ats-blocks", "2", "--bs", "512"])?, 2, "--bs 1024")?;
        // Without --bs, the block size follows --ats-blocks.
        let doc = ats(&["--ats-blocks", "2", "--qd", "4", "--locks", "2", "--ops", "500"])?;
        check(u(point(&doc), "bs") == 1024, || format!("bs {}", point(&doc)["bs"]))?;
        check(u(point(&doc), "ring.backend.caw_blocks") == 2, || format!("{}", point(&doc)["ring"]["backend"]))?;
    }
    Ok(())
}

/// An ext2/3/4 superblock magic (byte 1080 = LBA 2, offset 56) written through sg makes atsbench
/// refuse to write without --force; the block is zeroed again afterwards.
fn refuses_filesystem() -> TestResult {
    let f = open_sg()?;
    let mut sb = vec![0u8; BS];
    sb[56..58].copy_from_slice(&[0x53, 0xEF]);
    write_block(&f, 2, &sb)?;
    let dev = Need::Sg.path();
    let out = atsbench(&["run", &dev, "--ops", "10"]);
    write_block(&f, 2, &[0u8; BS])?;
    let out = out?;
    let err = String::from_utf8_lossy(&out.stderr);
    check(out.status.code() == Some(5) && err.contains("ext2/3/4") && err.contains("--force"), || {
        format!("exit {:?}: {err}", out.status.code())
    })
}
