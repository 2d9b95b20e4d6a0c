//! The NVMe checks (on /dev/ngXnY, or `sim --sim-protocol nvme`): Compare on one and several
//! blocks, what ONCS and MDTS say against what the device does, what FUSES claims (a fused
//! Compare and Write cannot be sent from Linux), and atomic writes against racing reads.

use super::port::NvmePort;
use super::{atomic, fail, Blocks, Check, CheckResult, CheckedDevice, Evidence, Load, Step, Stop};
use crate::error::Result;
use crate::proto::nvme::{Completion, Fuse, IdentifyController, NvmeCommand, OP_COMPARE, OP_READ, OP_WRITE};
use crate::spec::Region;

pub const NVME_COMPARE: Check = Check {
    id: "nvme-compare",
    statement: "Compare of matching data succeeds; of different data ends Compare Failure (SCT 2h / SC 85h); \
                neither writes",
    clause: "NVM-CS 1.0 3.2.1 (Compare); NVMe 2.0 status 85h (Compare Failure, Media and Data Integrity Errors)",
};
pub const NVME_COMPARE_MULTI: Check = Check {
    id: "nvme-compare-multi",
    statement: "Compare of several blocks up to MDTS matches and miscompares on the last byte; one block beyond \
                MDTS is refused",
    clause: "NVM-CS 1.0 3.2.1; NVMe 2.0 5.17.2.1 (MDTS)",
};
pub const NVME_COMPARE_ONCS: Check = Check {
    id: "nvme-compare-oncs",
    statement: "ONCS bit 0 says Compare exactly when the device executes it (else Invalid Command Opcode)",
    clause: "NVMe 2.0 5.17.2.1 (Identify Controller, ONCS)",
};
pub const NVME_FUSED: Check = Check {
    id: "nvme-fused",
    statement: "what FUSES claims for fused Compare and Write, and whether this host can send it (informative)",
    clause: "NVMe 2.0 3.4.2 (fused operations); 5.17.2.1 (FUSES)",
};

/// What the checks know of the namespace.
struct Ns {
    lbs: u32,
    blocks: u64,
    ctrl: IdentifyController,
    /// Largest transfer in blocks (MDTS with 4 KiB pages); None: no limit stated.
    mdts_blocks: Option<u64>,
    awun: u32,
}

fn cmd(port: &dyn NvmePort, op: u8, lba: u64, nlb: u32) -> Step<NvmeCommand> {
    NvmeCommand::io(op, port.nsid(), lba, nlb, 0, 0).map_err(|e| Stop::Fail(format!("cannot encode: {e}")))
}

fn io(port: &mut dyn NvmePort, op: u8, lba: u64, data: &mut [u8], lbs: u32) -> Step<Completion> {
    let c = cmd(port, op, lba, (data.len() / lbs as usize) as u32)?;
    Ok(port.io(&c, data))
}

fn must(port: &mut dyn NvmePort, op: u8, lba: u64, data: &mut [u8], lbs: u32) -> Step {
    match io(port, op, lba, data, lbs)? {
        Completion::Ok => Ok(()),
        c => fail(format!("opcode {op:#04x} of {} blocks at LBA {lba}: {c}", data.len() / lbs as usize)),
    }
}

fn unchanged(port: &mut dyn NvmePort, lba: u64, before: &[u8], lbs: u32, ev: &mut Evidence) -> Step {
    let mut now = vec![0u8; before.len()];
    must(port, OP_READ, lba, &mut now, lbs)?;
    if now != before {
        return fail(format!("LBA {lba}: the data changed after a Compare"));
    }
    ev.note(format!("LBA {lba}: unchanged afterwards"));
    Ok(())
}

/// Run the NVMe family on one namespace.
pub fn run_all(
    mut port: Box<dyn NvmePort>,
    region: Region,
    load: Load,
    dev: &mut CheckedDevice,
) -> Result<Vec<CheckResult>> {
    let (ctrl, ns) = port.identify()?;
    let lbs = ns.logical_block_size().unwrap_or(512);
    let mdts_blocks = ctrl.max_transfer_bytes(4096).map(|b| b / u64::from(lbs));
    let awun = ns.nawun_blocks().unwrap_or_else(|| ctrl.awun_blocks());
    let n = Ns { lbs, blocks: ns.nsze, ctrl, mdts_blocks, awun };
    dev.logical_block_size = lbs;
    dev.blocks = n.blocks;
    dev.region = [region.start, region.end];
    dev.model = dev.model.take().or(Some(n.ctrl.model.clone()));
    dev.firmware = dev.firmware.take().or(Some(n.ctrl.firmware.clone()));
    let mut blocks = Blocks::new(region, lbs);
    let p = port.as_mut();
    let mut out = vec![
        NVME_COMPARE.run(|ev| compare(p, &n, &mut blocks, ev)),
        NVME_COMPARE_MULTI.run(|ev| compare_multi(p, &n, &mut blocks, ev)),
        NVME_COMPARE_ONCS.run(|ev| oncs(p, &n, &mut blocks, ev)),
        NVME_FUSED.run(|ev| fused(p, &n, ev)),
    ];
    let unit = n.awun.min(n.mdts_blocks.unwrap_or(u64::MAX).min(256) as u32).max(1);
    out.push(atomic::NVME_ATOMIC_WRITE.run(|ev| {
        ev.note(format!(
            "atomic write unit {} blocks ({}), tried {unit}",
            n.awun,
            if ns.nawun_blocks().is_some() { "NAWUN" } else { "AWUN, 0's based" }
        ));
        atomic::run_nvme(port.as_ref(), lbs, unit, &mut blocks, load, ev)
    }));
    Ok(out)
}

fn needs_compare(n: &Ns) -> Step {
    if n.ctrl.supports_compare() {
        Ok(())
    } else {
        Err(Stop::NotApplicable(format!("ONCS {:#x}: bit 0 (Compare) clear", n.ctrl.oncs)))
    }
}

fn compare(p: &mut dyn NvmePort, n: &Ns, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    needs_compare(n)?;
    let lba = blocks.take(1)?;
    let len = n.lbs as usize;
    let mut data = super::scsi::pattern(0xc0, len);
    let before = data.clone();
    must(p, OP_WRITE, lba, &mut data, n.lbs)?;
    let mut same = before.clone();
    let c = io(p, OP_COMPARE, lba, &mut same, n.lbs)?;
    ev.note(format!("Compare of the data written: {c}"));
    if c != Completion::Ok {
        return fail(format!("a matching Compare ended {c}"));
    }
    let mut other = before.clone();
    other[len - 1] ^= 1;
    let c = io(p, OP_COMPARE, lba, &mut other, n.lbs)?;
    ev.note(format!("Compare with the last byte wrong: {c}"));
    if !c.is_compare_failure() {
        return fail(format!("a differing Compare ended {c}, not Compare Failure (SCT 2h / SC 85h)"));
    }
    unchanged(p, lba, &before, n.lbs, ev)
}

fn compare_multi(p: &mut dyn NvmePort, n: &Ns, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    needs_compare(n)?;
    let max = n.mdts_blocks.unwrap_or(256).min(65536) as u32;
    ev.note(format!(
        "MDTS {} ({} blocks of {} bytes with 4 KiB pages)",
        n.ctrl.mdts,
        n.mdts_blocks.map_or("no limit".into(), |b| b.to_string()),
        n.lbs
    ));
    let lba = blocks.take(u64::from(max) + 1)?;
    let mut sizes = vec![2, 8, max];
    sizes.retain(|s| *s <= max);
    sizes.dedup();
    for nlb in sizes {
        let len = (nlb * n.lbs) as usize;
        let mut data = super::scsi::pattern(u64::from(nlb), len);
        let before = data.clone();
        must(p, OP_WRITE, lba, &mut data, n.lbs)?;
        let mut same = before.clone();
        let c = io(p, OP_COMPARE, lba, &mut same, n.lbs)?;
        let mut other = before.clone();
        other[len - 1] ^= 1;
        let d = io(p, OP_COMPARE, lba, &mut other, n.lbs)?;
        ev.note(format!("{nlb} blocks: matching {c}; last byte wrong {d}"));
        if c != Completion::Ok || !d.is_compare_failure() {
            return fail(format!("{nlb} blocks: matching Compare {c}, differing Compare {d}"));
        }
        unchanged(p, lba, &before, n.lbs, ev)?;
    }
    if n.mdts_blocks.is_none() {
        ev.note("no MDTS: nothing is beyond it");
        return Ok(());
    }
    let mut over = vec![0u8; ((max + 1) * n.lbs) as usize];
    let c = io(p, OP_COMPARE, lba, &mut over, n.lbs)?;
    ev.note(format!("{} blocks (one beyond MDTS): {c}", max + 1));
    match c {
        Completion::Ok => fail("a Compare beyond MDTS succeeded"),
        c if c.is_compare_failure() => fail("a Compare beyond MDTS was executed (Compare Failure)"),
        _ => Ok(()),
    }
}

fn oncs(p: &mut dyn NvmePort, n: &Ns, blocks: &mut Blocks, ev: &mut Evidence) -> Step {
    let lba = blocks.take(1)?;
    let mut data = vec![0u8; n.lbs as usize];
    must(p, OP_READ, lba, &mut data, n.lbs)?;
    let c = io(p, OP_COMPARE, lba, &mut data, n.lbs)?;
    let says = n.ctrl.supports_compare();
    ev.note(format!(
        "ONCS {:#x} (Compare {}); a Compare of what READ returned: {c}",
        n.ctrl.oncs,
        if says { "claimed" } else { "not claimed" }
    ));
    let invalid_opcode = matches!(c, Completion::Status(s) if s.sct == 0 && s.sc == 0x01);
    match (says, c) {
        (true, Completion::Ok) => Ok(()),
        (true, c) => fail(format!("ONCS claims Compare, yet it ended {c}")),
        (false, _) if invalid_opcode => Ok(()),
        (false, Completion::Ok) => fail("ONCS does not claim Compare, yet it succeeded"),
        (false, c) => fail(format!("ONCS does not claim Compare; expected Invalid Command Opcode, got {c}")),
    }
}

fn fused(p: &mut dyn NvmePort, n: &Ns, ev: &mut Evidence) -> Step {
    let claims = n.ctrl.supports_fused_compare_write();
    ev.note(format!(
        "FUSES {:#x}: fused Compare and Write {}; ACWU {}",
        n.ctrl.fuses,
        if claims { "claimed" } else { "not claimed" },
        n.ctrl.acwu_blocks().map_or("n/a".into(), |b| format!("{b} blocks"))
    ));
    // The first command of the pair alone, on LBA 0 with no data: Linux refuses any FUSE
    // bits before anything reaches the device.
    let c = cmd(p, OP_COMPARE, 0, 1)?.fused(Fuse::First);
    let mut buf = vec![0u8; n.lbs as usize];
    let r = p.io(&c, &mut buf);
    ev.note(format!("a Compare with FUSE = first: {r}"));
    let why = match r {
        Completion::Host(e) if e == libc::EINVAL => {
            "Linux NVMe passthrough refuses any FUSE bits (EINVAL): a fused Compare and Write cannot be sent from \
             this host"
                .to_string()
        }
        c => format!("the host passed it on: {c}"),
    };
    Err(Stop::NotApplicable(why))
}
