//! `atsbench check` on real devices, each held against a reference written by others:
//! libiscsi's `iscsi-test-cu` (over SG_IO on the sg nodes) and sg3_utils'
//! `sg_compare_and_write`. A test fails when atsbench's verdict on a mapped check disagrees with
//! the reference's (`atsbench::check::reference::MAPPING`), or when the two report different
//! miscompare offsets; a reference test that printed "[SKIPPED]" is compared with nothing. The
//! tables of both sides go to `check-NAME.md` in the working directory (/out in the guest).

use crate::common::*;
use atsbench::check::port::{self, ScsiPort, SgPort};
use atsbench::check::reference::{self, RefOutcome};
use atsbench::check::{scsi as checks, CheckReport, Verdict};
use std::process::Command;

pub fn tests() -> Vec<DeviceTest> {
    vec![
        (Need::Sg, "check_scsi_debug_agrees_with_libiscsi_and_sg3_utils", scsi_debug),
        (Need::Lio, "check_lio_path_agrees_with_libiscsi_and_sg3_utils", lio_path),
        (Need::Lio, "check_lio_two_paths_agrees_with_libiscsi_multipath", lio_multipath),
        (Need::Lio, "check_lio_over_iscsi_agrees_with_libiscsi", lio_iscsi),
        (Need::IscsiKernel, "check_lio_over_iscsi_sessions_agrees_with_libiscsi", iscsi_sessions),
        (Need::Nvme, "check_qemu_nvme_known_answers", qemu_nvme),
    ]
}

/// Where atsbench's checks write (libiscsi writes the first few hundred blocks).
const REGION: &str = "8M..24M";
/// The block `sg_compare_and_write` compares against (outside REGION and libiscsi's blocks).
const SG_CAW_LBA: u64 = (30 << 20) / 512;
/// The offsets of a wrong byte that both tools are asked about.
const OFFSETS: [usize; 4] = [0, 1, 16, 511];

fn run_check(paths: &[&str]) -> Result<CheckReport, String> {
    let mut args = vec!["check"];
    args.extend_from_slice(paths);
    args.extend_from_slice(&["--region", REGION, "--force", "--ops", "1000", "--actors", "4", "-f", "json"]);
    let out = atsbench(&args)?;
    let code = out.status.code();
    check(matches!(code, Some(0) | Some(12)), || {
        format!("atsbench {} exited {code:?}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr))
    })?;
    let r: CheckReport = serde_json::from_slice(&out.stdout).map_err(|e| format!("check JSON: {e}"))?;
    check((code == Some(12)) == (r.counts.fail > 0), || format!("exit {code:?} with {} failed checks", r.counts.fail))?;
    Ok(r)
}

/// Run `iscsi-test-cu --dataloss -t FAMILY PATHS...`; its raw output goes to ref-NAME.txt.
fn libiscsi(name: &str, family: &str, paths: &[&str]) -> Result<Vec<reference::RefTest>, String> {
    libiscsi_text(name, family, paths).map(|(t, _)| t)
}

/// `libiscsi`, with the raw output.
fn libiscsi_text(name: &str, family: &str, paths: &[&str]) -> Result<(Vec<reference::RefTest>, String), String> {
    let out = Command::new("iscsi-test-cu")
        .args(["--dataloss", "-t", family])
        .args(paths)
        .output()
        .map_err(|e| format!("iscsi-test-cu (libiscsi-bin) must be in the guest: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::write(format!("ref-{name}.txt"), &text);
    let tests = reference::parse_iscsi_test_cu(&text);
    check(!tests.is_empty(), || format!("no test outcome parsed from iscsi-test-cu {family}:\n{text}"))?;
    println!("{name}: iscsi-test-cu -t {family}: {}", summary(&tests));
    Ok((tests, text))
}

fn summary(t: &[reference::RefTest]) -> String {
    let n = |o| t.iter().filter(|x| x.outcome == o).count();
    format!("{} passed, {} FAILED, {} [SKIPPED]", n(RefOutcome::Passed), n(RefOutcome::Failed), n(RefOutcome::Skipped))
}

/// What atsbench's caw-miscompare-offset saw for a wrong byte at `off`: Some(Some(x)) for
/// INFORMATION x, Some(None) for "not VALID", None when that offset was not tried.
fn atsbench_offset(r: &CheckReport, off: usize) -> Option<Option<u64>> {
    let prefix = format!("wrong byte {off} of ");
    let line = r.get("caw-miscompare-offset").evidence.iter().find(|e| e.starts_with(&prefix))?;
    let value = line.rsplit("INFORMATION ").next()?;
    Some(value.parse().ok())
}

/// `sg_compare_and_write` with a wrong byte at each offset of a known block: its reported
/// offset must equal atsbench's. Returns the markdown rows.
fn sg_offsets(path: &str, r: &CheckReport) -> Result<String, String> {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut port = SgPort::new(std::path::Path::new(path), file);
    let lbs = r.device.logical_block_size as usize;
    let known = checks::pattern(0x5c, lbs);
    port::write(&mut port as &mut dyn ScsiPort, SG_CAW_LBA, &known, lbs as u32).map_err(|e| format!("{e:?}"))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut rows = String::from("| wrong byte | sg_compare_and_write | atsbench | agree |\n|---|---|---|---|\n");
    let mut bad = Vec::new();
    for off in OFFSETS {
        let mut data = known.clone();
        data[off] ^= 0xff;
        data.extend(checks::pattern(off as u64 + 1, lbs));
        let f = dir.path().join(format!("caw-{off}.bin"));
        std::fs::write(&f, &data).map_err(|e| e.to_string())?;
        let out = Command::new("sg_compare_and_write")
            .arg(format!("--in={}", f.display()))
            .args([format!("--lba={SG_CAW_LBA}"), "--num=1".into(), format!("--xferlen={}", 2 * lbs)])
            .arg(path)
            .output()
            .map_err(|e| format!("sg_compare_and_write (sg3-utils) must be in the guest: {e}"))?;
        let err = String::from_utf8_lossy(&out.stderr);
        check(out.status.code() == Some(14), || {
            format!("sg_compare_and_write exit {:?} (14 = miscompare): {err}", out.status.code())
        })?;
        let theirs = reference::parse_sg_caw_offset(&err);
        let ours = atsbench_offset(r, off).ok_or_else(|| format!("atsbench did not try a wrong byte at {off}"))?;
        let agree = theirs == ours;
        let show = |o: Option<u64>| o.map_or("none".into(), |x| x.to_string());
        rows += &format!("| {off} | {} | {} | {} |\n", show(theirs), show(ours), if agree { "yes" } else { "NO" });
        if !agree {
            bad.push(off);
        }
    }
    let _ = port::read(&mut port as &mut dyn ScsiPort, SG_CAW_LBA, 1, lbs as u32)
        .ok()
        .filter(|b| *b == known)
        .ok_or_else(|| "sg_compare_and_write's miscompares changed the block".to_string())?;
    check(bad.is_empty(), || format!("miscompare offsets differ at {bad:?}:\n{rows}"))?;
    Ok(rows)
}

/// libiscsi's MultipathIO.CompareAndWrite zeroes LBAs 0..256 with WRITE SAME but compares
/// zeros at LBAs 0..=256 (`i <= n`): LBA 256 must already be zero, or its first COMPARE AND
/// WRITE miscompares and the reference fails for a reason of its own. Zero them first.
fn zero_first_blocks(path: &str, blocks: u32) -> TestResult {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut port = SgPort::new(std::path::Path::new(path), file);
    for lba in (0..blocks).step_by(64) {
        let n = (blocks - lba).min(64) as usize;
        port::write(&mut port as &mut dyn ScsiPort, u64::from(lba), &vec![0u8; n * 512], 512)
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

fn note(name: &str, r: &CheckReport, refs: &[reference::RefTest], sg: Option<&str>) {
    let mut s = format!("## {name}\n\n{}\n{}", r.markdown(), reference::reference_markdown("iscsi-test-cu", r, refs));
    if let Some(rows) = sg {
        s += &format!("\n**sg_compare_and_write, miscompare offsets**\n\n{rows}");
    }
    let _ = std::fs::write(format!("check-{name}.md"), &s);
    println!("{s}");
}

fn against_references(name: &str, path: &str) -> TestResult {
    let r = run_check(&[path])?;
    let refs = libiscsi(name, "LINUX.CompareAndWrite", &[path])?;
    let rows = sg_offsets(path, &r)?;
    note(name, &r, &refs, Some(&rows));
    let d = reference::disagreements(&r, &refs);
    check(d.is_empty(), || format!("{name}: atsbench disagrees with iscsi-test-cu: {d:?}"))
}

fn scsi_debug() -> TestResult {
    against_references("scsi_debug", &Need::Sg.path())
}

fn lio_path() -> TestResult {
    against_references("lio", &dev(LIO_A))
}

/// LIO fileio now and then returns a torn block to a READ racing a COMPARE AND WRITE (about 1
/// READ in 10^3 to 10^4 in the guest): `caw-multipath` then fails on that READ alone. That is
/// a finding of atsbench's that libiscsi does not test (it sends no READs during its
/// COMPARE AND WRITEs), not a disagreement: accepted beside a pass, and printed.
fn lio_torn_read(r: &CheckReport) -> bool {
    let mp = r.get("caw-multipath");
    let torn = mp.result == Verdict::Fail
        && mp.reason.as_deref().is_some_and(|w| w.contains("READs returned a torn block") && !w.contains(';'));
    if torn {
        println!("caw-multipath on LIO: a torn READ, a finding: {}", mp.reason.as_deref().unwrap_or(""));
    }
    torn
}

/// The reference's disagreements with atsbench, less the one a torn LIO READ makes.
fn disagreements_but_torn_reads(r: &CheckReport, refs: &[reference::RefTest]) -> Vec<String> {
    let torn = lio_torn_read(r);
    let mut d = reference::disagreements(r, refs);
    d.retain(|x| !(torn && x.contains("MultipathIO.CompareAndWrite") && x.ends_with("caw-multipath fail")));
    d
}

fn lio_multipath() -> TestResult {
    let (a, b) = (dev(LIO_A), dev(LIO_B));
    let r = run_check(&[&a, &b])?;
    let mp = r.get("caw-multipath");
    check(mp.result == Verdict::Pass || lio_torn_read(&r), || format!("caw-multipath on two LIO paths: {mp:?}"))?;
    zero_first_blocks(&a, 257)?;
    let refs = libiscsi("lio_multipath", "LINUX.MultipathIO.CompareAndWrite", &[&a, &b])?;
    note("lio_multipath", &r, &refs, None);
    let d = disagreements_but_torn_reads(&r, &refs);
    check(d.is_empty(), || format!("two LIO paths: atsbench disagrees with iscsi-test-cu: {d:?}"))
}

/// The LIO LUN over iSCSI end to end: two kernel iSCSI sessions (iscsi_tcp on 127.0.0.1, one
/// initiator name each, logged in by the guest's init) are two sg paths of the LUN. atsbench
/// checks them as two paths; beside it libiscsi runs LINUX.CompareAndWrite through the first
/// session's sg node and LINUX.MultipathIO.CompareAndWrite through both, and
/// `sg_compare_and_write` is asked about the miscompare offsets. Any disagreement fails (a torn
/// LIO READ in `caw-multipath` is a finding, as on tcm_loop). Through the kernel's session an
/// over-long COMPARE AND WRITE gets 24h/00h, as over tcm_loop: the 0Eh/03h that
/// `lio_iscsi` pins comes with libiscsi's own initiator.
fn iscsi_sessions() -> TestResult {
    let [a, b] = iscsi_session_paths()?;
    let r = run_check(&[&a, &b])?;
    let mp = r.get("caw-multipath");
    check(mp.result == Verdict::Pass || lio_torn_read(&r), || format!("caw-multipath on two iSCSI sessions: {mp:?}"))?;
    let mut refs = libiscsi("lio_iscsi_sessions", "LINUX.CompareAndWrite", &[&a])?;
    let rows = sg_offsets(&a, &r)?;
    zero_first_blocks(&a, 257)?;
    refs.extend(libiscsi("lio_iscsi_sessions_multipath", "LINUX.MultipathIO.CompareAndWrite", &[&a, &b])?);
    note("lio_iscsi_sessions", &r, &refs, Some(&rows));
    let d = disagreements_but_torn_reads(&r, &refs);
    check(d.is_empty(), || format!("two kernel iSCSI sessions: atsbench disagrees with iscsi-test-cu: {d:?}"))
}

/// QEMU's NVMe controller: Compare in ONCS and working, MDTS enforced, FUSES 0 and no fused
/// commands from Linux. No reference tool is packed for NVMe.
///
/// `nvme-atomic-write` is a finding, not a known answer: QEMU over a raw image file now and
/// then returns a torn 512-byte block to a READ racing a WRITE (1 READ of 1744 in one guest
/// run, none in others), although AWUN 0 promises one-block atomicity. The test accepts a pass
/// or that failure (torn READs and nothing else), and prints which.
fn qemu_nvme() -> TestResult {
    let r = run_check(&[&Need::Nvme.path()])?;
    note("qemu_nvme", &r, &[], None);
    for id in ["nvme-compare", "nvme-compare-multi", "nvme-compare-oncs"] {
        let c = r.get(id);
        check(c.result == Verdict::Pass, || format!("{id} on QEMU NVMe: {c:?}"))?;
    }
    let a = r.get("nvme-atomic-write");
    let torn =
        a.result == Verdict::Fail && a.reason.as_deref().is_some_and(|w| w.contains("READs returned a torn block"));
    check(a.result == Verdict::Pass || torn, || format!("nvme-atomic-write on QEMU NVMe: {a:?}"))?;
    println!("qemu_nvme: nvme-atomic-write {}: {}", a.result.name(), a.reason.as_deref().unwrap_or("no torn READ"));
    let f = r.get("nvme-fused");
    check(f.result == Verdict::NotApplicable && f.reason.as_deref().is_some_and(|s| s.contains("EINVAL")), || {
        format!("nvme-fused: {f:?}")
    })
}

/// The LIO LUN through LIO's iSCSI target on 127.0.0.1 (`ATSBENCH_TEST_ISCSI`, set up by the
/// guest's init): libiscsi runs its SCSI.CompareAndWrite family over iSCSI (InvalidDataOutSize
/// included) and SCSI.MultipathIO.CompareAndWriteAsync over two sessions, held against
/// atsbench's checks on the same LUN through its tcm_loop paths (the CAW logic is LIO's core,
/// whatever the transport). atsbench over iSCSI itself, through the kernel's initiator, is
/// `iscsi_sessions`.
///
/// One difference is pinned as a known answer: to libiscsi's own initiator LIO refuses one block
/// over MAXIMUM COMPARE AND WRITE LENGTH with ILLEGAL REQUEST / 0Eh/03h (INVALID FIELD IN
/// COMMAND INFORMATION UNIT), not 24h/00h as over tcm_loop and over the kernel's iSCSI
/// sessions, so libiscsi's Simple and Miscompare fail on that assertion while atsbench's
/// caw-nlb-limit passes.
fn lio_iscsi() -> TestResult {
    let url = dev("ATSBENCH_TEST_ISCSI");
    check(url.starts_with("iscsi://"), || {
        "ATSBENCH_TEST_ISCSI is empty: the guest's iSCSI target set-up failed".into()
    })?;
    let (a, b) = (dev(LIO_A), dev(LIO_B));
    let r = run_check(&[&a, &b])?;
    let (mut refs, text) = libiscsi_text("lio_iscsi", "SCSI.CompareAndWrite", &[&url])?;
    refs.extend(libiscsi("lio_iscsi_multipath", "SCSI.MultipathIO.CompareAndWriteAsync", &[&url, &url])?);
    note("lio_iscsi", &r, &refs, None);
    let d = disagreements_but_torn_reads(&r, &refs);
    let known = [
        "CompareAndWrite.Simple FAILED but atsbench says caw-simple pass, caw-nlb-limit pass",
        "CompareAndWrite.Miscompare FAILED but atsbench says caw-miscompare-unchanged pass, caw-nlb-limit pass",
    ];
    let iu = "INVALID_FIELD_IN_CDB(0x2400) but failed with Sense: (null)(0x05)/(0x0e03)";
    check(d == known && text.contains(iu), || {
        format!(
            "LIO over iSCSI: expected exactly the known 0Eh/03h difference of the fabric ({known:?}, reference \
             saying `{iu}`), got {d:?}"
        )
    })
}
