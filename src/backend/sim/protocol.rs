//! The two command sets the simulated device speaks, over the same medium:
//! - SCSI: COMPARE AND WRITE, READ(16) and WRITE(16) CDBs as `backend::scsi::encode` builds
//!   them, decoded by `proto::scsi::Cdb`, answered with a status byte and fixed-format sense
//!   from `proto::scsi::fixed_sense` (a miscompare carries the offset of the first differing
//!   byte in INFORMATION, as LIO does);
//! - NVMe: Compare, Read and Write command images as `backend::nvme::encode` builds them,
//!   decoded by `NvmeCommand::from_bytes`, answered with an NVMe status (Compare Failure is
//!   SCT 2h / SC 85h with DNR, as QEMU 10 answers).
//!
//! The real backends' decoders (`backend::scsi::outcome`, `backend::nvme::outcome`) turn the
//! answers into outcomes, so the engine sees what it sees from a device.

use super::faults::Dice;
use super::media::{Compared, Media};
use crate::proto::nvme::{NvmeCommand, NvmeStatus, OP_COMPARE, OP_READ, OP_WRITE};
use crate::proto::scsi::{
    fixed_sense, miscompare_sense, Cdb, FIXED_SENSE_LEN, KEY_ILLEGAL_REQUEST, STATUS_CHECK_CONDITION, STATUS_GOOD,
};
use crate::sys::sg::{AddrCmd, Dir};

/// The namespace id of the simulated NVMe namespace.
pub const NSID: u32 = 1;

/// A SCSI command's answer: its status and, with CHECK CONDITION, its sense data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ScsiReply {
    pub status: u8,
    pub sense: Option<[u8; FIXED_SENSE_LEN]>,
}

impl ScsiReply {
    const GOOD: ScsiReply = ScsiReply { status: STATUS_GOOD, sense: None };

    fn check(sense: [u8; FIXED_SENSE_LEN]) -> Self {
        ScsiReply { status: STATUS_CHECK_CONDITION, sense: Some(sense) }
    }

    fn illegal((asc, ascq): (u8, u8)) -> Self {
        Self::check(fixed_sense(KEY_ILLEGAL_REQUEST, asc, ascq, None))
    }
}

const LBA_OUT_OF_RANGE: (u8, u8) = (0x21, 0x00);
const INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);
const PARAMETER_LIST_LENGTH: (u8, u8) = (0x1A, 0x00);

/// Why a range of blocks cannot be served.
enum Refused {
    OutOfRange,
    /// Not exactly one unit of the medium (see `media`).
    NotOneUnit,
}

/// The unit `blocks` blocks at `lba` cover.
fn unit_of(m: &Media, lbs: u32, lba: u64, blocks: u32) -> Result<u64, Refused> {
    let capacity = m.units() * m.unit_bytes() as u64 / u64::from(lbs);
    if lba.checked_add(u64::from(blocks)).is_none_or(|end| end > capacity) {
        return Err(Refused::OutOfRange);
    }
    let (offset, len) = (lba * u64::from(lbs), u64::from(blocks) * u64::from(lbs));
    let unit = m.unit_bytes() as u64;
    if offset % unit != 0 || len != unit {
        return Err(Refused::NotOneUnit);
    }
    Ok(offset / unit)
}

/// Run the SCSI command `cmd` on `data`, its Data-Out or Data-In buffer.
pub(super) fn scsi(m: &Media, lbs: u32, cmd: &AddrCmd, data: &mut [u8], dice: &mut Dice) -> ScsiReply {
    let cdb = match Cdb::parse(&cmd.cdb[..usize::from(cmd.cdb_len)]) {
        Ok(c) => c,
        Err(e) => return ScsiReply::illegal(e.asc_ascq()),
    };
    let (lba, blocks, dir, images) = match cdb {
        Cdb::Read16 { lba, blocks, .. } => (lba, blocks, Dir::FromDevice, 1),
        Cdb::Write16 { lba, blocks, .. } => (lba, blocks, Dir::ToDevice, 1),
        Cdb::CompareAndWrite { blocks: 0, .. } => return ScsiReply::GOOD, // SBC-4: a no-op
        Cdb::CompareAndWrite { lba, blocks, .. } => (lba, u32::from(blocks), Dir::ToDevice, 2),
    };
    let u = match unit_of(m, lbs, lba, blocks) {
        Ok(u) => u,
        Err(Refused::OutOfRange) => return ScsiReply::illegal(LBA_OUT_OF_RANGE),
        Err(Refused::NotOneUnit) => return ScsiReply::illegal(INVALID_FIELD_IN_CDB),
    };
    let want = images * u64::from(blocks) * u64::from(lbs);
    if cmd.dir != dir || u64::from(cmd.data_len) != want || data.len() as u64 != want {
        return ScsiReply::illegal(if images == 2 { PARAMETER_LIST_LENGTH } else { INVALID_FIELD_IN_CDB });
    }
    match cdb {
        Cdb::Read16 { .. } => m.read(u, data, dice),
        Cdb::Write16 { .. } => m.write(u, data, dice),
        Cdb::CompareAndWrite { .. } => {
            let (expected, new) = data.split_at(data.len() / 2);
            if let Compared::Miscompare { offset } = m.compare_and_write(u, expected, new, dice) {
                return ScsiReply::check(miscompare_sense(offset.map(|o| o as u32)));
            }
        }
    }
    ScsiReply::GOOD
}

/// An NVMe status value as a passthrough completion's `res` (DNR set: retrying the same
/// command cannot help).
fn status(sct: u8, sc: u8) -> i32 {
    i32::from(NvmeStatus { sct, sc, crd: 0, more: false, dnr: true }.raw())
}

const INVALID_OPCODE: (u8, u8) = (0, 0x01);
const INVALID_FIELD: (u8, u8) = (0, 0x02);
const INVALID_NAMESPACE: (u8, u8) = (0, 0x0B);
const LBA_OUT_OF_RANGE_NVME: (u8, u8) = (0, 0x80);
const COMPARE_FAILURE: (u8, u8) = (2, 0x85);

/// Run the NVMe command `image` (the 72-byte `nvme_uring_cmd`) on `data`, its buffer: 0 on
/// success, else an NVMe status.
pub(super) fn nvme(m: &Media, lbs: u32, image: &[u8], data: &mut [u8], dice: &mut Dice) -> i32 {
    let answer = |(sct, sc): (u8, u8)| status(sct, sc);
    let Ok(cmd) = NvmeCommand::from_bytes(image) else { return answer(INVALID_FIELD) };
    if !matches!(cmd.opcode, OP_READ | OP_WRITE | OP_COMPARE) {
        return answer(INVALID_OPCODE);
    }
    if cmd.nsid != NSID {
        return answer(INVALID_NAMESPACE);
    }
    let want = u64::from(cmd.nlb()) * u64::from(lbs);
    if cmd.flags != 0 || u64::from(cmd.data_len) != want || data.len() as u64 != want {
        return answer(INVALID_FIELD);
    }
    let u = match unit_of(m, lbs, cmd.slba(), cmd.nlb()) {
        Ok(u) => u,
        Err(Refused::OutOfRange) => return answer(LBA_OUT_OF_RANGE_NVME),
        Err(Refused::NotOneUnit) => return answer(INVALID_FIELD),
    };
    match cmd.opcode {
        OP_READ => m.read(u, data, dice),
        OP_WRITE => m.write(u, data, dice),
        _ => {
            if let Compared::Miscompare { .. } = m.compare(u, data, dice) {
                return answer(COMPARE_FAILURE);
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::super::faults::Injections;
    use super::*;
    use crate::backend::{nvme, scsi as scsi_backend, IoReq, Op, Outcome};

    const LBS: u32 = 512;
    const OPTS: scsi_backend::CmdOptions =
        scsi_backend::CmdOptions { lbs: LBS, dpo: false, fua: false, timeout_ms: 0, caw_timeout_ms: 0 };

    fn exact() -> Dice {
        Dice::new(1, Injections::default())
    }

    fn scsi_req(m: &Media, op: Op, offset: u64, len: u32, data: &mut [u8]) -> Outcome {
        let req = IoReq { op, offset, len, addr: 0x1000, user_data: 0 };
        let cmd = scsi_backend::encode(&req, &OPTS).unwrap();
        let r = scsi(m, LBS, &cmd, data, &mut exact());
        let sense = r.sense.unwrap_or([0; FIXED_SENSE_LEN]);
        let n = if r.sense.is_some() { FIXED_SENSE_LEN } else { 0 };
        scsi_backend::outcome(op, r.status, 0, if n > 0 { 8 } else { 0 }, &sense[..n])
    }

    #[test]
    fn scsi_commands_round_trip_through_the_real_decoders() {
        let m = Media::new(1 << 20, 1024, LBS, false);
        let mut caw = vec![0u8; 2048];
        caw[1024..].fill(9);
        assert_eq!(scsi_req(&m, Op::CompareWrite, 4096, 1024, &mut caw), Outcome::Done);
        assert_eq!(
            scsi_req(&m, Op::CompareWrite, 4096, 1024, &mut caw),
            Outcome::Miscompare { offset: Some(0) },
            "the block now holds the new image: the first byte differs"
        );
        let mut r = vec![0u8; 1024];
        assert_eq!(scsi_req(&m, Op::Read, 4096, 1024, &mut r), Outcome::Done);
        assert!(r.iter().all(|x| *x == 9));
        let mut w = vec![3u8; 1024];
        assert_eq!(scsi_req(&m, Op::Write, 0, 1024, &mut w), Outcome::Done);
        let Outcome::Error(e) = scsi_req(&m, Op::Read, 1 << 20, 1024, &mut r) else { panic!() };
        assert!(e.to_string().contains("logical block address out of range"), "{e}");
        let Outcome::Error(e) = scsi_req(&m, Op::Read, 512, 1024, &mut r) else { panic!() };
        assert!(e.to_string().contains("invalid field in CDB"), "{e}");
    }

    #[test]
    fn miscompare_sense_names_the_first_differing_byte() {
        let m = Media::new(1 << 20, 512, LBS, false);
        let mut caw = vec![0u8; 1024];
        caw[0x1ab] = 1;
        assert_eq!(scsi_req(&m, Op::CompareWrite, 0, 512, &mut caw), Outcome::Miscompare { offset: Some(0x1ab) });
    }

    #[test]
    fn nvme_commands_round_trip_through_the_real_decoders() {
        let m = Media::new(1 << 20, 512, LBS, false);
        let run = |op, data: &mut [u8]| {
            let req = IoReq { op, offset: 512, len: 512, addr: 0x1000, user_data: 0 };
            let cmd = nvme::encode(&req, NSID, LBS).unwrap();
            nvme::outcome(nvme(&m, LBS, &cmd.to_bytes(), data, &mut exact()))
        };
        let mut w = vec![5u8; 512];
        assert_eq!(run(Op::Write, &mut w), Outcome::Done);
        assert_eq!(run(Op::Compare, &mut w), Outcome::Done);
        let mut other = vec![6u8; 512];
        assert_eq!(run(Op::Compare, &mut other), Outcome::Miscompare { offset: None });
        let mut r = vec![0u8; 512];
        assert_eq!(run(Op::Read, &mut r), Outcome::Done);
        assert_eq!(r, w);
        let bad = NvmeCommand::read(2, 0, 1, 0, 512).unwrap();
        let Outcome::Error(e) = nvme::outcome(nvme(&m, LBS, &bad.to_bytes(), &mut r, &mut exact())) else { panic!() };
        assert!(e.to_string().contains("Invalid Namespace"), "{e}");
    }
}
