//! A failed command as a small copyable value: what the engine keeps on the per-I/O path. The
//! message is built only when an error is sampled for the results (`Display`).

use super::Op;
use crate::proto::nvme::NvmeStatus;
use crate::proto::scsi::{classify_sg, ScsiOutcome, Sense, KEY_ILLEGAL_REQUEST};
use std::fmt;

/// A failed command: `code` is a negative errno from the host, or a device status, and
/// `cause` says enough to describe it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoError {
    pub code: i64,
    pub cause: Cause,
}

/// Why a command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A host error (errno) met on the way named by `via`.
    Host { errno: i32, via: Via },
    /// A read or write moved fewer bytes than asked.
    ShortTransfer { got: u32, want: u32 },
    /// An NVMe completion status (raw 15-bit SCT/SC/CRD/More/DNR).
    Nvme { status: u16 },
    /// A SCSI command's status bytes and sense data.
    Scsi(ScsiStatus),
    /// atsbench could not encode the request for this backend.
    Unencodable(Unencodable),
    /// A device reported a miscompare on a command that does not compare.
    UnexpectedMiscompare { op: Op },
}

/// Where a host error happened, for its hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A plain io_uring read or write.
    Io,
    /// A plain read or write on a ring set up with IOPOLL.
    Iopoll,
    /// NVMe passthrough (URING_CMD).
    NvmePassthrough,
    /// Submitting a SCSI command through a transport.
    Scsi { op: Op, transport: &'static str },
    /// Reaping sg completions (`read(2)`), after which the fd takes no more commands.
    SgReap,
    /// Polling an sg fd through the ring, likewise.
    SgPoll,
}

/// Requests a backend cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unencodable {
    NotWholeBlocks { len: u32, offset: u64, lbs: u32 },
    NoSuchCommand { op: Op, backend: &'static str },
    TooManyBlocks { blocks: u32, max: u32 },
}

/// Sense bytes kept per error (fixed sense is 18 bytes; descriptor sense with INFORMATION 20).
pub const SENSE_KEPT: usize = 32;

/// A SCSI command's outcome bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScsiStatus {
    pub op: Op,
    pub status: u8,
    pub host_status: u16,
    pub driver_status: u16,
    pub sense_len: u8,
    pub sense: [u8; SENSE_KEPT],
}

impl ScsiStatus {
    pub fn new(op: Op, status: u8, host_status: u16, driver_status: u16, sense: &[u8]) -> Self {
        let n = sense.len().min(SENSE_KEPT);
        let mut kept = [0u8; SENSE_KEPT];
        kept[..n].copy_from_slice(&sense[..n]);
        ScsiStatus { op, status, host_status, driver_status, sense_len: n as u8, sense: kept }
    }

    pub fn sense(&self) -> &[u8] {
        &self.sense[..usize::from(self.sense_len)]
    }
}

impl IoError {
    /// A host error from a plain read or write.
    pub fn errno(errno: i32) -> Self {
        IoError::host(errno, Via::Io)
    }

    pub fn host(errno: i32, via: Via) -> Self {
        IoError { code: -i64::from(errno), cause: Cause::Host { errno, via } }
    }

    pub fn unencodable(why: Unencodable) -> Self {
        IoError { code: -i64::from(libc::EINVAL), cause: Cause::Unencodable(why) }
    }

    /// The host errno, where the error is one.
    pub fn errno_value(&self) -> Option<i32> {
        (self.code < 0).then(|| (-self.code) as i32)
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cause {
            Cause::Host { errno, via } => host(f, errno, via),
            Cause::ShortTransfer { got, want } => write!(f, "short transfer: {got} of {want} bytes"),
            Cause::Nvme { status } => f.write_str(&describe_nvme(status)),
            Cause::Scsi(s) => f.write_str(&describe_scsi(&s)),
            Cause::Unencodable(u) => unencodable(f, u),
            Cause::UnexpectedMiscompare { op } => write!(f, "{}: unexpected miscompare status", op.name()),
        }
    }
}

fn host(f: &mut fmt::Formatter<'_>, errno: i32, via: Via) -> fmt::Result {
    let e = std::io::Error::from_raw_os_error(errno);
    match (via, errno) {
        (Via::Iopoll, libc::EOPNOTSUPP) => write!(f, "{e}: the target does not support polled I/O; drop --iopoll"),
        (Via::NvmePassthrough, libc::EOPNOTSUPP) => {
            write!(f, "{e}: this kernel cannot pass NVMe commands through io_uring (needs Linux 5.19+)")
        }
        (Via::NvmePassthrough, libc::EACCES | libc::EPERM) => write!(
            f,
            "{e}: the kernel refused the NVMe command; run as root (CAP_SYS_ADMIN) with the device open read-write"
        ),
        (Via::NvmePassthrough, _) => write!(f, "host error: {e}"),
        (Via::Scsi { op, transport }, _) => {
            let hint = match errno {
                libc::EPERM | libc::EACCES => {
                    "; sending this SCSI command needs CAP_SYS_RAWIO (run as root) and the device open read-write"
                }
                libc::EDOM => "; more than 16 commands were outstanding on one sg fd (a bug in atsbench)",
                _ => "",
            };
            write!(f, "{} through {transport}: {e}{hint}", op_name(op))
        }
        (Via::SgReap, _) => write!(f, "reaping sg completions failed: {e}"),
        (Via::SgPoll, _) => write!(f, "polling an sg fd failed: {e}"),
        (Via::Io | Via::Iopoll, _) => write!(f, "{e}"),
    }
}

fn unencodable(f: &mut fmt::Formatter<'_>, u: Unencodable) -> fmt::Result {
    f.write_str("atsbench could not encode the command: ")?;
    match u {
        Unencodable::NotWholeBlocks { len, offset, lbs } => {
            write!(f, "{len} bytes at byte {offset} are not whole {lbs}-byte blocks")
        }
        Unencodable::NoSuchCommand { op, backend } => write!(f, "{backend} has no {} command", op.name()),
        Unencodable::TooManyBlocks { blocks, max } => write!(f, "{blocks} blocks: the command holds at most {max}"),
    }
}

/// An NVMe status as one line, with a hint where one helps.
fn describe_nvme(raw: u16) -> String {
    let s = NvmeStatus::from_raw(raw);
    let hint = match (s.sct, s.sc) {
        (0, 0x01) => ": the namespace does not implement this command",
        (0, 0x80) => ": the command ran past the namespace's end",
        _ => "",
    };
    format!("NVMe status {s}{hint}")
}

/// A failed SCSI command as one line: the command, its status and sense, and a hint.
fn describe_scsi(s: &ScsiStatus) -> String {
    let what = match classify_sg(s.status, s.host_status, s.driver_status, s.sense()) {
        ScsiOutcome::Error(what) => what,
        other => format!("{other:?}"),
    };
    let parsed = Sense::parse(s.sense()).ok().filter(|x| x.key == KEY_ILLEGAL_REQUEST);
    let hint = match parsed.map(|x| (x.asc, x.ascq)) {
        Some((0x20, 0x00)) => "; the device does not implement this command",
        Some((0x24, 0x00)) if s.op == Op::CompareWrite => {
            "; the device refused the CDB: more blocks than its MAXIMUM COMPARE AND WRITE LENGTH? lower --ats-blocks"
        }
        _ => "",
    };
    format!("{}: {what}{hint}", op_name(s.op))
}

/// The SCSI command that carries `op`, by its name in SBC.
fn op_name(op: Op) -> &'static str {
    match op {
        Op::Read | Op::ReadCached => "READ(16)",
        Op::Write => "WRITE(16)",
        Op::CompareWrite => "COMPARE AND WRITE",
        Op::Compare => "compare",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_built_on_display() {
        let e = IoError::host(libc::EOPNOTSUPP, Via::Iopoll);
        assert_eq!(e.code, -95);
        assert!(e.to_string().contains("drop --iopoll"), "{e}");
        let e = IoError::unencodable(Unencodable::NotWholeBlocks { len: 100, offset: 3, lbs: 512 });
        assert!(e.to_string().contains("not whole 512-byte blocks"), "{e}");
        let e = IoError::host(libc::EPERM, Via::Scsi { op: Op::CompareWrite, transport: "sg" });
        assert!(e.to_string().contains("COMPARE AND WRITE through sg") && e.to_string().contains("CAP_SYS_RAWIO"));
        let s = ScsiStatus::new(Op::Read, 2, 0, 8, &[0u8; 40]);
        assert_eq!(s.sense().len(), SENSE_KEPT);
    }

    #[test]
    fn a_timed_out_command_ends_aborted_or_escalated() {
        let scsi = |status, host, sense: &[u8]| IoError {
            code: 0,
            cause: Cause::Scsi(ScsiStatus::new(Op::CompareWrite, status, host, 0, sense)),
        };
        let sense = |key: u8, asc: u8| [0x70, 0, key, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, asc, 0x02, 0, 0, 0, 0];
        assert_eq!(scsi(0, 0x03, &[]).timeout_end(), Some(TimeoutEnd::Aborted), "DID_TIME_OUT");
        assert_eq!(scsi(0, 0x05, &[]).timeout_end(), Some(TimeoutEnd::Aborted), "DID_ABORT");
        assert_eq!(scsi(0, 0x08, &[]).timeout_end(), Some(TimeoutEnd::Escalated), "DID_RESET");
        assert_eq!(scsi(0, 0x01, &[]).timeout_end(), Some(TimeoutEnd::Escalated), "DID_NO_CONNECT");
        assert_eq!(scsi(2, 0, &sense(0x6, 0x29)).timeout_end(), Some(TimeoutEnd::Escalated), "a reset's UA");
        assert_eq!(scsi(2, 0, &sense(0x6, 0x2a)).timeout_end(), None, "another UNIT ATTENTION");
        assert_eq!(scsi(2, 0, &sense(0x3, 0x11)).timeout_end(), None, "MEDIUM ERROR");
        assert_eq!(IoError::errno(libc::ENODEV).timeout_end(), Some(TimeoutEnd::Escalated));
        assert_eq!(IoError::errno(libc::EIO).timeout_end(), None);
    }
}

/// How a command the kernel timed out (`--on-timeout abort`) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutEnd {
    /// The SCSI error handler aborted it at the target (host byte DID_TIME_OUT or DID_ABORT).
    /// A reset that follows a failed abort and succeeds returns the command the same way: from
    /// user space it is an abort.
    Aborted,
    /// The error handler went further and atsbench's commands show it: a reset reached them
    /// (host byte DID_RESET, or UNIT ATTENTION 29h "power on, reset, or bus device reset
    /// occurred"), or the device is offline or gone (DID_NO_CONNECT, ENXIO, ENODEV).
    Escalated,
}

impl IoError {
    /// With `--on-timeout abort`: whether a failed command is the kernel's abort or an
    /// escalation beyond it (None: another error).
    pub fn timeout_end(&self) -> Option<TimeoutEnd> {
        const DID_NO_CONNECT: u16 = 0x01;
        const DID_TIME_OUT: u16 = 0x03;
        const DID_ABORT: u16 = 0x05;
        const DID_RESET: u16 = 0x08;
        const KEY_UNIT_ATTENTION: u8 = 0x6;
        const ASC_RESET_OCCURRED: u8 = 0x29;
        match self.cause {
            Cause::Scsi(s) => match s.host_status {
                DID_TIME_OUT | DID_ABORT => Some(TimeoutEnd::Aborted),
                DID_RESET | DID_NO_CONNECT => Some(TimeoutEnd::Escalated),
                _ => crate::proto::scsi::Sense::parse(s.sense())
                    .ok()
                    .filter(|x| x.key == KEY_UNIT_ATTENTION && x.asc == ASC_RESET_OCCURRED)
                    .map(|_| TimeoutEnd::Escalated),
            },
            Cause::Host { errno, .. } if [libc::ENXIO, libc::ENODEV].contains(&errno) => Some(TimeoutEnd::Escalated),
            _ => None,
        }
    }
}
