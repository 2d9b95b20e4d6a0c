//! The simulated device of `atsbench check sim`: a sparse medium of 512-byte blocks behind
//! one lock (every command is atomic), answering the very CDBs and NVMe command images the
//! checks send, like a correct device: MAXIMUM COMPARE AND WRITE LENGTH [`MAX_CAW`] (VPD B0h),
//! DPOFUA set, never-written blocks read as zeros, a miscompare's INFORMATION the offset of the
//! first differing byte; NVMe ONCS with Compare, MDTS 5 (256 blocks), AWUN 8 blocks, FUSES 0.
//!
//! `--inject KIND=RATE` makes it misbehave, each command drawing from a seeded RNG:
//! false-miscompare (a matching compare reports a miscompare), own-write (a matching COMPARE
//! AND WRITE writes, then reports a miscompare), torn-write (a write lands half), lost-write
//! (a write reports success and lands nothing), stale-read (a read returns each block's image
//! before its last write), foreign-write (someone else overwrites the blocks just before a
//! compare), latency-spike (the answer comes 2 ms late: no check fails on it).

use super::port::{NvmePort, ScsiAnswer, ScsiPort};
use crate::backend::sim::{Fault, Injections};
use crate::error::Result;
use crate::proto::nvme::{
    Completion, IdentifyController, IdentifyNamespace, LbaFormat, NvmeCommand, NvmeStatus, OP_COMPARE, OP_READ,
    OP_WRITE,
};
use crate::proto::scsi::{
    fixed_sense, miscompare_sense, Cdb, KEY_ILLEGAL_REQUEST, OP_INQUIRY, OP_MODE_SENSE_10, OP_SERVICE_ACTION_IN_16,
    SA_READ_CAPACITY_16, STATUS_CHECK_CONDITION, STATUS_GOOD, VPD_BLOCK_LIMITS,
};
use crate::sys::sg::DataBuf;
use crate::workload::Rng;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

pub const LBS: u32 = 512;
/// MAXIMUM COMPARE AND WRITE LENGTH of the simulated LUN.
pub const MAX_CAW: u8 = 8;
/// The logical-unit name every simulated path reports.
pub const LU_NAME: &str = "naa.6a7b5be000000001";
/// MDTS of the simulated controller (2^5 pages of 4 KiB).
const MDTS: u8 = 5;
/// AWUN of the simulated controller, 0's based (8 blocks).
const AWUN: u16 = 7;

struct State {
    blocks: HashMap<u64, Vec<u8>>,
    /// Each block's image before its last write (for stale-read).
    prev: HashMap<u64, Vec<u8>>,
    rng: Rng,
    foreign: u64,
}

struct Inner {
    nblocks: u64,
    inject: Injections,
    state: Mutex<State>,
}

/// The device; ports are handles on it (several: several paths to one LUN).
#[derive(Clone)]
pub struct SimDevice(Arc<Inner>);

impl SimDevice {
    pub fn new(bytes: u64, inject: Injections, seed: u64) -> Self {
        let state = State { blocks: HashMap::new(), prev: HashMap::new(), rng: Rng::new(seed), foreign: 0 };
        SimDevice(Arc::new(Inner { nblocks: bytes / u64::from(LBS), inject, state: Mutex::new(state) }))
    }

    pub fn scsi_port(&self) -> SimScsi {
        SimScsi(self.clone())
    }

    pub fn nvme_port(&self) -> SimNvme {
        SimNvme(self.clone())
    }

    /// The blocks ever written, sorted (tests: nothing outside `--region`).
    pub fn written_blocks(&self) -> Vec<u64> {
        let s = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<u64> = s.blocks.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

impl State {
    fn hit(&mut self, inject: &Injections, f: Fault) -> bool {
        let rate = inject.rate(f);
        rate > 0.0 && self.rng.chance(rate)
    }

    fn read(&mut self, inject: &Injections, lba: u64, out: &mut [u8]) {
        let stale = self.hit(inject, Fault::StaleRead);
        for (i, chunk) in out.chunks_mut(LBS as usize).enumerate() {
            let b = lba + i as u64;
            let src = if stale { self.prev.get(&b).or(self.blocks.get(&b)) } else { self.blocks.get(&b) };
            match src {
                Some(d) => chunk.copy_from_slice(d),
                None => chunk.fill(0),
            }
        }
    }

    fn put(&mut self, lba: u64, data: &[u8]) {
        for (i, chunk) in data.chunks(LBS as usize).enumerate() {
            let b = lba + i as u64;
            let mut new = self.blocks.get(&b).cloned().unwrap_or_else(|| vec![0; LBS as usize]);
            new[..chunk.len()].copy_from_slice(chunk);
            if let Some(old) = self.blocks.insert(b, new) {
                self.prev.insert(b, old);
            }
        }
    }

    fn write(&mut self, inject: &Injections, lba: u64, data: &[u8]) {
        if self.hit(inject, Fault::LostWrite) {
            return;
        }
        if self.hit(inject, Fault::TornWrite) {
            let n = data.len() / LBS as usize;
            let keep = if n > 1 { n / 2 * LBS as usize } else { data.len() / 2 };
            return self.put(lba, &data[..keep]);
        }
        self.put(lba, data)
    }

    /// Compare `expected` with the blocks at `lba`: the first differing byte, if any.
    fn compare(&mut self, inject: &Injections, lba: u64, expected: &[u8]) -> Option<usize> {
        if self.hit(inject, Fault::ForeignWrite) {
            self.foreign += 1;
            let line = format!("outside write #{:016x}\n", self.foreign);
            let img: Vec<u8> = line.bytes().cycle().take(LBS as usize).collect();
            self.put(lba, &img);
        }
        let mut cur = vec![0u8; expected.len()];
        for (i, chunk) in cur.chunks_mut(LBS as usize).enumerate() {
            if let Some(d) = self.blocks.get(&(lba + i as u64)) {
                chunk.copy_from_slice(d);
            }
        }
        match cur.iter().zip(expected).position(|(a, b)| a != b) {
            None if self.hit(inject, Fault::FalseMiscompare) => Some(0),
            other => other,
        }
    }
}

/// A SCSI path to the simulated LUN.
pub struct SimScsi(SimDevice);

fn answer(sense: Option<[u8; 18]>) -> ScsiAnswer {
    ScsiAnswer {
        status: if sense.is_some() { STATUS_CHECK_CONDITION } else { STATUS_GOOD },
        host_status: 0,
        driver_status: 0,
        sense: sense.map(|s| s.to_vec()).unwrap_or_default(),
    }
}

fn illegal(asc: u8) -> ScsiAnswer {
    answer(Some(fixed_sense(KEY_ILLEGAL_REQUEST, asc, 0, None)))
}

fn fill(data: DataBuf<'_>, reply: &[u8]) -> ScsiAnswer {
    if let DataBuf::FromDevice(buf) = data {
        let n = buf.len().min(reply.len());
        buf[..n].copy_from_slice(&reply[..n]);
        buf[n..].fill(0);
    }
    answer(None)
}

impl SimScsi {
    fn other(&self, cdb: &[u8], data: DataBuf<'_>) -> ScsiAnswer {
        let d = &self.0 .0;
        match (cdb[0], cdb.get(1).copied().unwrap_or(0)) {
            (OP_INQUIRY, 1) if cdb[2] == VPD_BLOCK_LIMITS => {
                let mut p = vec![0u8; 64];
                p[1] = VPD_BLOCK_LIMITS;
                p[3] = 0x3c;
                p[5] = MAX_CAW;
                fill(data, &p)
            }
            (OP_INQUIRY, 0) => {
                let mut p = vec![0u8; 36];
                p[2] = 6;
                p[4] = 31;
                p[8..16].copy_from_slice(b"ATSBENCH");
                p[16..32].copy_from_slice(b"SIM             ");
                p[32..36].copy_from_slice(b"0001");
                fill(data, &p)
            }
            (OP_SERVICE_ACTION_IN_16, sa) if sa & 0x1f == SA_READ_CAPACITY_16 => {
                let mut p = vec![0u8; 32];
                p[..8].copy_from_slice(&(d.nblocks - 1).to_be_bytes());
                p[8..12].copy_from_slice(&LBS.to_be_bytes());
                fill(data, &p)
            }
            (OP_MODE_SENSE_10, _) => fill(data, &[0, 6, 0, 0x10, 0, 0, 0, 0]),
            _ => illegal(0x20),
        }
    }
}

impl ScsiPort for SimScsi {
    fn exec(&mut self, cdb: &[u8], data: DataBuf<'_>) -> io::Result<ScsiAnswer> {
        let d = &self.0 .0;
        let Ok(parsed) = Cdb::parse(cdb) else { return Ok(self.other(cdb, data)) };
        let mut s = d.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.hit(&d.inject, Fault::LatencySpike) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let (lba, n) = match parsed {
            Cdb::CompareAndWrite { blocks: 0, .. } => return Ok(answer(None)),
            Cdb::CompareAndWrite { blocks, .. } if blocks > MAX_CAW => return Ok(illegal(0x24)),
            Cdb::CompareAndWrite { lba, blocks, .. } => (lba, u64::from(blocks)),
            Cdb::Read16 { lba, blocks, .. } | Cdb::Write16 { lba, blocks, .. } => (lba, u64::from(blocks)),
        };
        if lba.checked_add(n).is_none_or(|end| end > d.nblocks) {
            return Ok(illegal(0x21));
        }
        let len = (n * u64::from(LBS)) as usize;
        match (parsed, data) {
            (Cdb::Read16 { .. }, DataBuf::FromDevice(buf)) if buf.len() == len => s.read(&d.inject, lba, buf),
            (Cdb::Write16 { .. }, DataBuf::ToDevice(buf)) if buf.len() == len => s.write(&d.inject, lba, buf),
            (Cdb::CompareAndWrite { .. }, DataBuf::ToDevice(buf)) if buf.len() == 2 * len => {
                let (expected, new) = buf.split_at(len);
                if let Some(off) = s.compare(&d.inject, lba, expected) {
                    return Ok(answer(Some(miscompare_sense(Some(off as u32)))));
                }
                s.write(&d.inject, lba, new);
                if s.hit(&d.inject, Fault::OwnWrite) {
                    return Ok(answer(Some(miscompare_sense(Some(0)))));
                }
            }
            _ => return Ok(illegal(0x24)),
        }
        Ok(answer(None))
    }

    fn fork(&self) -> Result<Box<dyn ScsiPort>> {
        Ok(Box::new(SimScsi(self.0.clone())))
    }

    fn name(&self) -> String {
        "sim".into()
    }
}

/// An NVMe path to the simulated namespace (nsid 1).
pub struct SimNvme(SimDevice);

fn status(sct: u8, sc: u8) -> Completion {
    Completion::Status(NvmeStatus { sct, sc, crd: 0, more: false, dnr: true })
}

impl NvmePort for SimNvme {
    fn io(&mut self, cmd: &NvmeCommand, data: &mut [u8]) -> Completion {
        let d = &self.0 .0;
        if cmd.flags != 0 {
            return Completion::Host(libc::EINVAL); // as Linux passthrough answers FUSE bits
        }
        if cmd.nsid != 1 {
            return status(0, 0x0B);
        }
        let (lba, n) = (cmd.slba(), u64::from(cmd.nlb()));
        if n > (4096u64 << MDTS) / u64::from(LBS) {
            return status(0, 0x02);
        }
        if lba.checked_add(n).is_none_or(|end| end > d.nblocks) {
            return status(0, 0x80);
        }
        if data.len() as u64 != n * u64::from(LBS) {
            return status(0, 0x02);
        }
        let mut s = d.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.hit(&d.inject, Fault::LatencySpike) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        match cmd.opcode {
            OP_READ => s.read(&d.inject, lba, data),
            OP_WRITE => s.write(&d.inject, lba, data),
            OP_COMPARE => {
                if s.compare(&d.inject, lba, data).is_some() {
                    return status(2, 0x85);
                }
            }
            _ => return status(0, 0x01),
        }
        Completion::Ok
    }

    fn identify(&mut self) -> Result<(IdentifyController, IdentifyNamespace)> {
        let c = IdentifyController {
            serial: "atsbench-sim".into(),
            model: "atsbench simulated namespace".into(),
            firmware: "0001".into(),
            mdts: MDTS,
            cntlid: 1,
            ver: 0x0002_0000,
            nn: 1,
            oncs: 0x1,
            fuses: 0,
            awun: AWUN,
            awupf: 0,
            acwu: 0,
        };
        let n = self.0 .0.nblocks;
        let ns = IdentifyNamespace {
            nsze: n,
            ncap: n,
            nuse: n,
            nsfeat: 0,
            nlbaf: 0,
            flbas: 0,
            nawun: 0,
            nawupf: 0,
            nacwu: 0,
            lbaf: vec![LbaFormat { ms: 0, lbads: 9, rp: 0 }],
        };
        Ok((c, ns))
    }

    fn nsid(&self) -> u32 {
        1
    }

    fn fork(&self) -> Result<Box<dyn NvmePort>> {
        Ok(Box::new(SimNvme(self.0.clone())))
    }

    fn name(&self) -> String {
        "sim".into()
    }
}
