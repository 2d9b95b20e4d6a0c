//! The SCSI checks of COMPARE AND WRITE (SBC-4 5.3), one command at a time, on the first path:
//! what the device answers for a match, a miscompare, too many or zero blocks, an address out
//! of range, never-written blocks and DPO/FUA, and what the blocks hold afterwards.

use super::port::{caw, read, write, Lun, ScsiAnswer, ScsiPort};
use super::{atomic, fail, Blocks, Check, CheckResult, CheckedDevice, Evidence, Load, Step, Stop};
use crate::error::{Error, Result};
use crate::proto::scsi::{
    self, BlockLimits, ReadCapacity16, KEY_ILLEGAL_REQUEST, KEY_MISCOMPARE, READ_CAPACITY_16_LEN,
};
use crate::spec::Region;
use crate::sys::sg::DataBuf;
use crate::workload::Rng;

pub const CAW_SIMPLE: Check = Check {
    id: "caw-simple",
    statement: "a matching COMPARE AND WRITE of 1 .. MAXIMUM COMPARE AND WRITE LENGTH blocks returns GOOD and the \
                blocks read back as the new data",
    clause: "SBC-4 5.3; 6.6.4 (Block Limits VPD)",
};
pub const CAW_NLB_LIMIT: Check = Check {
    id: "caw-nlb-limit",
    statement: "one block more than MAXIMUM COMPARE AND WRITE LENGTH: ILLEGAL REQUEST / INVALID FIELD IN CDB, \
                data unchanged",
    clause: "SBC-4 5.3; 6.6.4 (Block Limits VPD)",
};
pub const CAW_NLB_ZERO: Check = Check {
    id: "caw-nlb-zero",
    statement: "NUMBER OF LOGICAL BLOCKS 0 is not an error and changes nothing",
    clause: "SBC-4 5.3",
};
pub const CAW_LBA_RANGE: Check = Check {
    id: "caw-lba-range",
    statement: "a COMPARE AND WRITE beyond the capacity: ILLEGAL REQUEST / LOGICAL BLOCK ADDRESS OUT OF RANGE",
    clause: "SBC-4 4.5 (logical block address); 5.3",
};
pub const CAW_MISCOMPARE_UNCHANGED: Check = Check {
    id: "caw-miscompare-unchanged",
    statement: "a wrong compare image: CHECK CONDITION, MISCOMPARE (sense key Eh) / MISCOMPARE DURING VERIFY \
                OPERATION (1Dh/00h), and nothing written",
    clause: "SBC-4 5.3",
};
pub const CAW_MISCOMPARE_OFFSET: Check = Check {
    id: "caw-miscompare-offset",
    statement: "after a miscompare, INFORMATION (VALID set) is the offset of the first differing byte (offsets \
                0, 1, 16, 511 and the last of the first and last block)",
    clause: "SBC-4 5.3; SPC-5 4.4 (sense data, INFORMATION)",
};
pub const CAW_UNWRITTEN: Check = Check {
    id: "caw-unwritten",
    statement: "on blocks not written by this run: a wrong compare image miscompares and changes nothing; the \
                image READ returns matches and the write lands",
    clause: "SBC-4 5.3; 4.7 (unmapped/unwritten blocks read as their initial data)",
};
pub const CAW_DPO_FUA: Check = Check {
    id: "caw-dpo-fua",
    statement: "COMPARE AND WRITE with DPO or FUA is accepted exactly when MODE SENSE's DPOFUA bit is set \
                (else ILLEGAL REQUEST / INVALID FIELD IN CDB)",
    clause: "SBC-4 5.3; 6.5.1 (mode parameter header, DPOFUA)",
};

const INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);
const LBA_OUT_OF_RANGE: (u8, u8) = (0x21, 0x00);
const MISCOMPARE_DURING_VERIFY: (u8, u8) = (0x1D, 0x00);

/// Random bytes, distinct per `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut r = Rng::new(seed ^ 0xA75B_E4C8_0000_0000);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&r.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The first differing byte of two buffers.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

fn expect_unchanged(p: &mut dyn ScsiPort, lun: &Lun, lba: u64, before: &[u8], ev: &mut Evidence) -> Step {
    let blocks = (before.len() / lun.lbs as usize) as u32;
    let now = read(p, lba, blocks, lun.lbs)?;
    match first_difference(&now, before) {
        None => {
            ev.note(format!("LBA {lba}: the {blocks} blocks read back unchanged"));
            Ok(())
        }
        Some(off) => fail(format!("LBA {lba}: the data changed (first difference at byte {off})")),
    }
}

fn expect_sense(a: &ScsiAnswer, key: u8, (asc, ascq): (u8, u8), what: &str) -> Step {
    if a.is(key, asc, ascq) {
        Ok(())
    } else {
        fail(format!("{what}: expected sense key {key:X}h, ASC/ASCQ {asc:02X}h/{ascq:02X}h, got {}", a.describe()))
    }
}

/// Ask the LUN its geometry and limits (through the first path).
pub fn describe(p: &mut dyn ScsiPort) -> Result<Lun> {
    let mut rc = vec![0u8; READ_CAPACITY_16_LEN];
    let a = p
        .exec(&scsi::read_capacity16(READ_CAPACITY_16_LEN as u32), DataBuf::FromDevice(&mut rc))
        .map_err(|e| Error::Device(format!("{}: READ CAPACITY(16): {e}", p.name())))?;
    if !a.good() {
        return Err(Error::Device(format!("{}: READ CAPACITY(16): {}", p.name(), a.describe())));
    }
    let cap = ReadCapacity16::parse(&rc).map_err(|e| Error::Device(format!("{}: {e}", p.name())))?;
    let mut b0 = vec![0u8; 64];
    let max_caw = match p.exec(&scsi::inquiry(true, scsi::VPD_BLOCK_LIMITS, 64), DataBuf::FromDevice(&mut b0)) {
        Ok(a) if a.good() => BlockLimits::parse(&b0).ok().map(|l| l.max_compare_and_write_len),
        _ => None,
    };
    let mut ms = vec![0u8; 256];
    let dpofua = match p.exec(&scsi::mode_sense10(0x3f, 256), DataBuf::FromDevice(&mut ms)) {
        Ok(a) if a.good() => scsi::parse_dpofua10(&ms).ok(),
        _ => None,
    };
    Ok(Lun { lbs: cap.block_len, blocks: cap.blocks, max_caw, dpofua })
}

/// Run the SCSI family and the atomicity checks on `ports` (paths of one LUN).
pub fn run_all(
    mut ports: Vec<Box<dyn ScsiPort>>,
    region: Region,
    load: Load,
    dev: &mut CheckedDevice,
) -> Result<Vec<CheckResult>> {
    let lun = describe(ports[0].as_mut())?;
    dev.logical_block_size = lun.lbs;
    dev.blocks = lun.blocks;
    dev.region = [region.start, region.end];
    let mut blocks = Blocks::new(region, lun.lbs);
    let p = ports[0].as_mut();
    let mut out = vec![
        CAW_SIMPLE.run(|ev| simple(p, &lun, &mut blocks, ev)),
        CAW_NLB_LIMIT.run(|ev| nlb_limit(p, &lun, &mut blocks, ev)),
        CAW_NLB_ZERO.run(|ev| nlb_zero(p, &lun, &mut blocks, ev)),
        CAW_LBA_RANGE.run(|ev| lba_range(p, &lun, ev)),
        CAW_MISCOMPARE_UNCHANGED.run(|ev| miscompare_unchanged(p, &lun, &mut blocks, ev)),
        CAW_MISCOMPARE_OFFSET.run(|ev| miscompare_offset(p, &lun, &mut blocks, ev)),
        CAW_UNWRITTEN.run(|ev| unwritten(p, &lun, &mut blocks, ev)),
        CAW_DPO_FUA.run(|ev| dpo_fua(p, &lun, &mut blocks, ev)),
    ];
    out.extend(atomic::run_scsi(&mut ports, &lun, &mut blocks, load));
    Ok(out)
}

/// The largest NUMBER OF LOGICAL BLOCKS to try: VPD B0h's, or 1 where it says 0 or nothing.
fn max_blocks(lun: &Lun, ev: &mut Evidence) -> u8 {
    match lun.max_caw {
        Some(0) | None => {
            ev.note(format!(
                "MAXIMUM COMPARE AND WRITE LENGTH {}: tried 1 block only",
                lun.max_caw.map_or("not reported (no Block Limits VPD)".into(), |m| format!("{m} (0 = not supported)"))
            ));
            1
        }
        Some(m) => {
            ev.note(format!("MAXIMUM COMPARE AND WRITE LENGTH {m} (VPD B0h byte 5)"));
            m
        }
    }
}

fn simple(p: &mut dyn ScsiPort, lun: &Lun, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let max = max_blocks(lun, ev);
    let lba = blocks.take(u64::from(max))?;
    let lbs = lun.lbs as usize;
    for n in 1..=max {
        let len = usize::from(n) * lbs;
        let old = pattern(u64::from(n) * 2, len);
        let new = pattern(u64::from(n) * 2 + 1, len);
        write(p, lba, &old, lun.lbs)?;
        let a = caw(p, lba, n, (false, false), &old, &new)?;
        if !a.good() {
            return fail(format!("{n} blocks at LBA {lba}: a matching COMPARE AND WRITE returned {}", a.describe()));
        }
        let back = read(p, lba, u32::from(n), lun.lbs)?;
        if let Some(off) = first_difference(&back, &new) {
            return fail(format!(
                "{n} blocks at LBA {lba}: GOOD, but the blocks do not hold the new data (byte {off})"
            ));
        }
    }
    ev.note(format!("1..={max} blocks at LBA {lba}: every one GOOD and read back as the new data"));
    Ok(())
}

fn nlb_limit(p: &mut dyn ScsiPort, lun: &Lun, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let max = match lun.max_caw {
        None => return Err(Stop::Skip("no Block Limits VPD page: the limit is unknown".into())),
        Some(0) => return Err(Stop::Skip("MAXIMUM COMPARE AND WRITE LENGTH is 0 (no limit stated)".into())),
        Some(255) => return Err(Stop::NotApplicable("the limit is 255, the CDB's own maximum".into())),
        Some(m) => m,
    };
    let n = max + 1;
    let lba = blocks.take(u64::from(n))?;
    let len = usize::from(n) * lun.lbs as usize;
    let old = pattern(0x4c17, len);
    write(p, lba, &old, lun.lbs)?;
    let a = caw(p, lba, n, (false, false), &old, &pattern(0x4c18, len))?;
    ev.note(format!("{n} blocks (limit {max}) at LBA {lba}: {}", a.describe()));
    expect_sense(&a, KEY_ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, "one block over the limit")?;
    expect_unchanged(p, lun, lba, &old, ev)
}

fn nlb_zero(p: &mut dyn ScsiPort, lun: &Lun, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let lba = blocks.take(1)?;
    let old = pattern(0x2e70, lun.lbs as usize);
    write(p, lba, &old, lun.lbs)?;
    let a = caw(p, lba, 0, (false, false), &[], &[])?;
    ev.note(format!("NUMBER OF LOGICAL BLOCKS 0 at LBA {lba}: {}", a.describe()));
    if !a.good() {
        return fail(format!("a 0-block COMPARE AND WRITE returned {}", a.describe()));
    }
    expect_unchanged(p, lun, lba, &old, ev)
}

fn lba_range(p: &mut dyn ScsiPort, lun: &Lun, ev: &mut Evidence) -> Step {
    let len = lun.lbs as usize;
    // The compare image is random, so a device that wrongly executes the command (one whose
    // LBA + NUMBER OF LOGICAL BLOCKS wraps around 2^64 and lands inside the medium, as
    // scsi_debug's does) miscompares there rather than writes.
    for lba in [lun.blocks, lun.blocks.saturating_add(1 << 20), u64::MAX] {
        let a = caw(p, lba, 1, (false, false), &pattern(0x1bac, len), &pattern(0x1bad, len))?;
        ev.note(format!("1 block at LBA {lba} (capacity {} blocks): {}", lun.blocks, a.describe()));
        expect_sense(&a, KEY_ILLEGAL_REQUEST, LBA_OUT_OF_RANGE, &format!("LBA {lba}"))?;
    }
    Ok(())
}

fn miscompare_unchanged(p: &mut dyn ScsiPort, lun: &Lun, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let lba = blocks.take(1)?;
    let len = lun.lbs as usize;
    let old = pattern(0x3a1, len);
    write(p, lba, &old, lun.lbs)?;
    let mut wrong = old.clone();
    wrong[len / 2] ^= 0x5a;
    let a = caw(p, lba, 1, (false, false), &wrong, &pattern(0x3a2, len))?;
    ev.note(format!("a compare image wrong at byte {}: {}", len / 2, a.describe()));
    expect_sense(&a, KEY_MISCOMPARE, MISCOMPARE_DURING_VERIFY, "a wrong compare image")?;
    expect_unchanged(p, lun, lba, &old, ev)
}

fn miscompare_offset(p: &mut dyn ScsiPort, lun: &Lun, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let n = max_blocks(lun, ev).min(2);
    let lba = blocks.take(u64::from(n))?;
    let lbs = lun.lbs as usize;
    let len = usize::from(n) * lbs;
    let mut offsets: Vec<usize> = Vec::new();
    for block in [0, usize::from(n) - 1] {
        for o in [0, 1, 16, 511, lbs - 1] {
            offsets.push(block * lbs + o.min(lbs - 1));
        }
    }
    offsets.sort_unstable();
    offsets.dedup();
    let old = pattern(0x0ff5, len);
    write(p, lba, &old, lun.lbs)?;
    let mut wrong_at = Vec::new();
    for &off in &offsets {
        let mut wrong = old.clone();
        wrong[off] ^= 0xff;
        let a = caw(p, lba, n, (false, false), &wrong, &pattern(off as u64, len))?;
        expect_sense(&a, KEY_MISCOMPARE, MISCOMPARE_DURING_VERIFY, &format!("wrong byte {off}"))?;
        let info = a.decoded().and_then(|s| s.information);
        ev.note(format!(
            "wrong byte {off} of {n} blocks: INFORMATION {}",
            info.map_or("not VALID".into(), |i| i.to_string())
        ));
        if info != Some(off as u64) {
            wrong_at.push(off);
        }
    }
    expect_unchanged(p, lun, lba, &old, ev)?;
    if !wrong_at.is_empty() {
        return fail(format!("INFORMATION is missing or not the first differing byte for offsets {wrong_at:?}"));
    }
    Ok(())
}

fn unwritten(p: &mut dyn ScsiPort, lun: &Lun, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let lba = blocks.take(1)?;
    let len = lun.lbs as usize;
    let before = read(p, lba, 1, lun.lbs)?;
    let zeros = before.iter().all(|b| *b == 0);
    ev.note(format!("LBA {lba}, not written by this run, reads as {}", if zeros { "zeros" } else { "non-zero data" }));
    let wrong = vec![b'%'; len];
    if before == wrong {
        return Err(Stop::Skip("the block already holds the wrong image this check uses".into()));
    }
    let a = caw(p, lba, 1, (false, false), &wrong, &vec![b'B'; len])?;
    ev.note(format!("compare image of '%' bytes: {}", a.describe()));
    expect_sense(&a, KEY_MISCOMPARE, MISCOMPARE_DURING_VERIFY, "a wrong image on an unwritten block")?;
    expect_unchanged(p, lun, lba, &before, ev)?;
    let new = pattern(0x7717, len);
    let a = caw(p, lba, 1, (false, false), &before, &new)?;
    ev.note(format!("compare image = what READ returned: {}", a.describe()));
    if !a.good() {
        return fail(format!("comparing with what READ returned: {}", a.describe()));
    }
    let back = read(p, lba, 1, lun.lbs)?;
    if back != new {
        return fail("GOOD, but the block does not hold the new data");
    }
    Ok(())
}

fn dpo_fua(p: &mut dyn ScsiPort, lun: &Lun, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let Some(dpofua) = lun.dpofua else {
        return Err(Stop::Skip("MODE SENSE(10) failed: DPOFUA unknown".into()));
    };
    ev.note(format!("MODE SENSE(10) DPOFUA = {}", u8::from(dpofua)));
    let lba = blocks.take(1)?;
    let len = lun.lbs as usize;
    for (i, flags) in [(true, false), (false, true), (true, true)].into_iter().enumerate() {
        let old = pattern(0xd0f0 + i as u64 * 2, len);
        let new = pattern(0xd0f1 + i as u64 * 2, len);
        write(p, lba, &old, lun.lbs)?;
        let a = caw(p, lba, 1, flags, &old, &new)?;
        ev.note(format!("DPO={} FUA={}: {}", u8::from(flags.0), u8::from(flags.1), a.describe()));
        if dpofua {
            if !a.good() {
                return fail(format!(
                    "DPOFUA is 1, yet DPO={} FUA={} was refused",
                    u8::from(flags.0),
                    u8::from(flags.1)
                ));
            }
            if read(p, lba, 1, lun.lbs)? != new {
                return fail("GOOD, but the block does not hold the new data");
            }
        } else {
            expect_sense(&a, KEY_ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, "DPOFUA is 0")?;
            expect_unchanged(p, lun, lba, &old, ev)?;
        }
    }
    Ok(())
}
