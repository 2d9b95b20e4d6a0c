//! NVMe command encoding and completion status decoding.
//!
//! Pure functions over bytes: the 72-byte command image shared by `struct nvme_uring_cmd` and
//! `struct nvme_passthru_cmd` (linux/nvme_ioctl.h), the ioctl / uring_cmd numbers, the status
//! decoding of io_uring passthrough completions, and the Identify Controller / Namespace parsers
//! (offsets from the NVM Express Base and NVM Command Set specifications).

use std::fmt;

mod identify;
pub use identify::{IdentifyController, IdentifyNamespace, LbaFormat};

/// Length of `struct nvme_uring_cmd` and of `struct nvme_passthru_cmd` (same layout).
pub const NVME_CMD_LEN: usize = 72;
/// Length of the SQE128 command area that carries a `struct nvme_uring_cmd`.
pub const SQE_CMD_LEN: usize = 80;
/// Length of every Identify data structure.
pub const IDENTIFY_LEN: usize = 4096;

/// NVM command set opcode: Write.
pub const OP_WRITE: u8 = 0x01;
/// NVM command set opcode: Read.
pub const OP_READ: u8 = 0x02;
/// NVM command set opcode: Compare (the data buffer holds the expected image, host to device).
pub const OP_COMPARE: u8 = 0x05;
/// Admin opcode: Identify.
pub const ADMIN_IDENTIFY: u8 = 0x06;
/// Identify CNS 00h: Identify Namespace data structure for `nsid`.
pub const CNS_NAMESPACE: u8 = 0x00;
/// Identify CNS 01h: Identify Controller data structure.
pub const CNS_CONTROLLER: u8 = 0x01;

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Linux generic `_IOC(dir, type, nr, size)` (x86_64, arm64 and most other architectures).
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(size < (1 << 14), "ioctl argument size must fit in 14 bits");
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32
}

/// Linux `_IO(type, nr)`: no argument.
pub const fn io(ty: u8, nr: u8) -> u32 {
    ioc(0, ty, nr, 0)
}

/// Linux `_IOWR(type, nr, size)`: argument read and written by the kernel.
pub const fn iowr(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}

/// `NVME_IOCTL_ID = _IO('N', 0x40)`: returns the namespace id of a namespace device.
pub const NVME_IOCTL_ID: u32 = io(b'N', 0x40);
/// `NVME_IOCTL_ADMIN_CMD = _IOWR('N', 0x41, struct nvme_passthru_cmd)`.
pub const NVME_IOCTL_ADMIN_CMD: u32 = iowr(b'N', 0x41, NVME_CMD_LEN);
/// `NVME_IOCTL_IO_CMD = _IOWR('N', 0x43, struct nvme_passthru_cmd)`.
pub const NVME_IOCTL_IO_CMD: u32 = iowr(b'N', 0x43, NVME_CMD_LEN);
/// `NVME_URING_CMD_IO = _IOWR('N', 0x80, struct nvme_uring_cmd)`: io_uring `cmd_op` for I/O.
pub const NVME_URING_CMD_IO: u32 = iowr(b'N', 0x80, NVME_CMD_LEN);
/// `NVME_URING_CMD_ADMIN = _IOWR('N', 0x82, struct nvme_uring_cmd)`: admin (rejects IOPOLL).
pub const NVME_URING_CMD_ADMIN: u32 = iowr(b'N', 0x82, NVME_CMD_LEN);

/// Mask of the FUSE bits in the command's `flags` byte (CDW0 bits 9:8).
pub const FUSE_MASK: u8 = 0b11;

/// Fused-operation role of a command (CDW0 FUSE). Linux passthrough rejects any non-zero
/// `flags` with `-EINVAL`; this exists so `--fused` can try and report that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fuse {
    /// Normal, non-fused operation (FUSE 00b).
    Normal = 0b00,
    /// First command of a fused operation, e.g. the Compare (FUSE 01b).
    First = 0b01,
    /// Second command of a fused operation, e.g. the Write (FUSE 10b).
    Second = 0b10,
}

/// Errors building a command from caller-supplied values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// NLB is a 16-bit 0's based field: 1 to 65536 blocks.
    #[error("block count {0} is outside 1..=65536 (NVMe NLB is a 16-bit 0's based field)")]
    BlockCount(u32),
}

/// Errors parsing bytes returned by a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The buffer is shorter than the structure.
    #[error("{what}: got {got} bytes, need at least {need}")]
    Short {
        /// Which structure was being parsed.
        what: &'static str,
        /// Bytes available.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
}

fn need(what: &'static str, buf: &[u8], need: usize) -> Result<(), ParseError> {
    if buf.len() < need {
        return Err(ParseError::Short { what, got: buf.len(), need });
    }
    Ok(())
}

// Callers check the length first (see `need`), so these index within bounds.
fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn le64(b: &[u8], off: usize) -> u64 {
    u64::from(le32(b, off)) | (u64::from(le32(b, off + 4)) << 32)
}

/// An NVMe command in the layout of `struct nvme_uring_cmd` / `struct nvme_passthru_cmd`.
///
/// `addr`/`metadata` are user-space addresses; the command does not own the buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
// wide: the submission entry, one field per dword of the NVMe base specification
pub struct NvmeCommand {
    /// CDW0 bits 7:0.
    pub opcode: u8,
    /// CDW0 bits 15:8: FUSE in bits 1:0, PSDT in bits 7:6.
    pub flags: u8,
    /// Namespace id (CDW1); must match the `/dev/ngXnY` device or the kernel returns `-EINVAL`.
    pub nsid: u32,
    /// Command dword 2.
    pub cdw2: u32,
    /// Command dword 3.
    pub cdw3: u32,
    /// Metadata buffer address.
    pub metadata: u64,
    /// Data buffer address.
    pub addr: u64,
    /// Metadata buffer length in bytes.
    pub metadata_len: u32,
    /// Data buffer length in bytes.
    pub data_len: u32,
    /// Command dword 10 (I/O: starting LBA bits 31:0).
    pub cdw10: u32,
    /// Command dword 11 (I/O: starting LBA bits 63:32).
    pub cdw11: u32,
    /// Command dword 12 (I/O: NLB-1 in bits 15:0).
    pub cdw12: u32,
    /// Command dword 13.
    pub cdw13: u32,
    /// Command dword 14.
    pub cdw14: u32,
    /// Command dword 15.
    pub cdw15: u32,
    /// Kernel timeout in milliseconds; 0 uses the driver default.
    pub timeout_ms: u32,
}

impl NvmeCommand {
    /// An NVM I/O command on `nlb` blocks (1..=65536) starting at `slba`.
    pub fn io(opcode: u8, nsid: u32, slba: u64, nlb: u32, addr: u64, data_len: u32) -> Result<Self, CommandError> {
        if !(1..=0x1_0000).contains(&nlb) {
            return Err(CommandError::BlockCount(nlb));
        }
        Ok(Self {
            opcode,
            nsid,
            addr,
            data_len,
            cdw10: slba as u32,
            cdw11: (slba >> 32) as u32,
            cdw12: nlb - 1,
            ..Self::default()
        })
    }

    /// Read `nlb` blocks at `slba` into the buffer at `addr`.
    pub fn read(nsid: u32, slba: u64, nlb: u32, addr: u64, len: u32) -> Result<Self, CommandError> {
        Self::io(OP_READ, nsid, slba, nlb, addr, len)
    }

    /// Write `nlb` blocks at `slba` from the buffer at `addr`.
    pub fn write(nsid: u32, slba: u64, nlb: u32, addr: u64, len: u32) -> Result<Self, CommandError> {
        Self::io(OP_WRITE, nsid, slba, nlb, addr, len)
    }

    /// Compare `nlb` blocks at `slba` with the expected image at `addr`.
    pub fn compare(nsid: u32, slba: u64, nlb: u32, addr: u64, len: u32) -> Result<Self, CommandError> {
        Self::io(OP_COMPARE, nsid, slba, nlb, addr, len)
    }

    /// Identify Controller (CNS 01h) into the 4096-byte buffer at `addr`.
    pub fn identify_controller(addr: u64) -> Self {
        Self::identify(CNS_CONTROLLER, 0, addr)
    }

    /// Identify Namespace (CNS 00h) of `nsid` into the 4096-byte buffer at `addr`.
    pub fn identify_namespace(nsid: u32, addr: u64) -> Self {
        Self::identify(CNS_NAMESPACE, nsid, addr)
    }

    fn identify(cns: u8, nsid: u32, addr: u64) -> Self {
        Self {
            opcode: ADMIN_IDENTIFY,
            nsid,
            addr,
            data_len: IDENTIFY_LEN as u32,
            cdw10: u32::from(cns),
            ..Self::default()
        }
    }

    /// Sets the FUSE bits (flags bits 1:0), keeping the other flag bits.
    pub fn fused(mut self, fuse: Fuse) -> Self {
        self.flags = (self.flags & !FUSE_MASK) | fuse as u8;
        self
    }

    /// Starting LBA of an I/O command (CDW11:CDW10).
    pub fn slba(&self) -> u64 {
        u64::from(self.cdw10) | (u64::from(self.cdw11) << 32)
    }

    /// Number of blocks of an I/O command (CDW12 bits 15:0, plus one).
    pub fn nlb(&self) -> u32 {
        (self.cdw12 & 0xffff) + 1
    }

    /// The 72-byte little-endian image (`struct nvme_passthru_cmd` with `result` = 0).
    pub fn to_bytes72(&self) -> [u8; NVME_CMD_LEN] {
        let mut b = [0u8; NVME_CMD_LEN];
        b[0] = self.opcode;
        b[1] = self.flags;
        let dwords = [
            (4, self.nsid),
            (8, self.cdw2),
            (12, self.cdw3),
            (32, self.metadata_len),
            (36, self.data_len),
            (40, self.cdw10),
            (44, self.cdw11),
            (48, self.cdw12),
            (52, self.cdw13),
            (56, self.cdw14),
            (60, self.cdw15),
            (64, self.timeout_ms),
        ];
        for (off, v) in dwords {
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[16..24].copy_from_slice(&self.metadata.to_le_bytes());
        b[24..32].copy_from_slice(&self.addr.to_le_bytes());
        b
    }

    /// The 80-byte SQE128 command area: the 72-byte image followed by 8 zero bytes.
    pub fn to_bytes(&self) -> [u8; SQE_CMD_LEN] {
        let mut b = [0u8; SQE_CMD_LEN];
        b[..NVME_CMD_LEN].copy_from_slice(&self.to_bytes72());
        b
    }

    /// Decodes a 72-byte (or longer) image, e.g. in a simulated device. Reserved bytes are ignored.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ParseError> {
        need("NVMe command", b, NVME_CMD_LEN)?;
        Ok(Self {
            opcode: b[0],
            flags: b[1],
            nsid: le32(b, 4),
            cdw2: le32(b, 8),
            cdw3: le32(b, 12),
            metadata: le64(b, 16),
            addr: le64(b, 24),
            metadata_len: le32(b, 32),
            data_len: le32(b, 36),
            cdw10: le32(b, 40),
            cdw11: le32(b, 44),
            cdw12: le32(b, 48),
            cdw13: le32(b, 52),
            cdw14: le32(b, 56),
            cdw15: le32(b, 60),
            timeout_ms: le32(b, 64),
        })
    }
}

/// An NVMe completion status field as Linux reports it (CQE DW3 bits 31:17, phase bit dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NvmeStatus {
    /// Status Code Type (bits 10:8): 0 generic, 1 command specific, 2 media, 3 path, 7 vendor.
    pub sct: u8,
    /// Status Code (bits 7:0).
    pub sc: u8,
    /// Command Retry Delay index (bits 12:11).
    pub crd: u8,
    /// More status information in the Error Information log (bit 13).
    pub more: bool,
    /// Do Not Retry (bit 14).
    pub dnr: bool,
}

impl NvmeStatus {
    /// Decodes the 15-bit status value (`cqe.res` when positive, or an ioctl's return value).
    pub fn from_raw(raw: u16) -> Self {
        Self {
            sc: raw as u8,
            sct: ((raw >> 8) & 0x7) as u8,
            crd: ((raw >> 11) & 0x3) as u8,
            more: raw & 0x2000 != 0,
            dnr: raw & 0x4000 != 0,
        }
    }

    /// Re-encodes the status value.
    pub fn raw(&self) -> u16 {
        u16::from(self.sc)
            | (u16::from(self.sct & 0x7) << 8)
            | (u16::from(self.crd & 0x3) << 11)
            | (u16::from(self.more) << 13)
            | (u16::from(self.dnr) << 14)
    }

    /// Compare Failure (SCT 2h / SC 85h), whatever DNR, More and CRD say.
    pub fn is_compare_failure(&self) -> bool {
        self.sct == 2 && self.sc == 0x85
    }

    /// The specification's name for the status, when known.
    pub fn name(&self) -> Option<&'static str> {
        match self.sct {
            0 => generic_name(self.sc),
            1 => command_specific_name(self.sc),
            2 => media_name(self.sc),
            3 => path_name(self.sc),
            _ => None,
        }
    }
}

fn generic_name(sc: u8) -> Option<&'static str> {
    Some(match sc {
        0x00 => "Successful Completion",
        0x01 => "Invalid Command Opcode",
        0x02 => "Invalid Field in Command",
        0x03 => "Command ID Conflict",
        0x04 => "Data Transfer Error",
        0x05 => "Commands Aborted due to Power Loss Notification",
        0x06 => "Internal Error",
        0x07 => "Command Abort Requested",
        0x08 => "Command Aborted due to SQ Deletion",
        0x09 => "Command Aborted due to Failed Fused Command",
        0x0A => "Command Aborted due to Missing Fused Command",
        0x0B => "Invalid Namespace or Format",
        0x0C => "Command Sequence Error",
        0x0F => "Invalid SGL Segment Descriptor",
        0x80 => "LBA Out of Range",
        0x81 => "Capacity Exceeded",
        0x82 => "Namespace Not Ready",
        0x83 => "Reservation Conflict",
        _ => return None,
    })
}

fn command_specific_name(sc: u8) -> Option<&'static str> {
    Some(match sc {
        0x80 => "Conflicting Attributes",
        0x81 => "Invalid Protection Information",
        0x82 => "Attempted Write to Read Only Range",
        _ => return None,
    })
}

fn media_name(sc: u8) -> Option<&'static str> {
    Some(match sc {
        0x80 => "Write Fault",
        0x81 => "Unrecovered Read Error",
        0x82 => "End-to-end Guard Check Error",
        0x83 => "End-to-end Application Tag Check Error",
        0x84 => "End-to-end Reference Tag Check Error",
        0x85 => "Compare Failure",
        0x86 => "Access Denied",
        0x87 => "Deallocated or Unwritten Logical Block",
        _ => return None,
    })
}

fn path_name(sc: u8) -> Option<&'static str> {
    Some(match sc {
        0x00 => "Internal Path Error",
        0x01 => "Asymmetric Access Persistent Loss",
        0x02 => "Asymmetric Access Inaccessible",
        0x03 => "Asymmetric Access Transition",
        0x60 => "Controller Pathing Error",
        0x70 => "Host Pathing Error",
        0x71 => "Command Aborted By Host",
        _ => return None,
    })
}

impl fmt::Display for NvmeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = format!("SCT {:X}h SC {:02X}h", self.sct, self.sc);
        match self.name() {
            Some(name) => write!(f, "{name} ({raw}")?,
            None => write!(f, "({raw}")?,
        }
        if self.crd != 0 {
            write!(f, ", CRD {}", self.crd)?;
        }
        if self.more {
            f.write_str(", More")?;
        }
        if self.dnr {
            f.write_str(", DNR")?;
        }
        f.write_str(")")
    }
}

/// The outcome of an NVMe passthrough command from an io_uring CQE's `res`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// `res == 0`: success.
    Ok,
    /// `res > 0`: the device returned an NVMe status.
    Status(NvmeStatus),
    /// `res < 0`: the host failed the command; holds the positive errno.
    Host(i32),
}

impl Completion {
    /// Decodes `cqe.res` of a passthrough command (a status, never a byte count).
    pub fn from_res(res: i32) -> Self {
        match res {
            0 => Self::Ok,
            r if r > 0 => Self::Status(NvmeStatus::from_raw((r & 0xffff) as u16)),
            r => Self::Host(r.saturating_neg()),
        }
    }

    /// True for an NVMe Compare Failure status.
    pub fn is_compare_failure(&self) -> bool {
        matches!(self, Self::Status(s) if s.is_compare_failure())
    }
}

impl fmt::Display for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("success"),
            Self::Status(s) => write!(f, "NVMe status {s}"),
            Self::Host(errno) => {
                let err = std::io::Error::from_raw_os_error(*errno);
                write!(f, "host error: {err}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_linux_headers() {
        assert_eq!(NVME_IOCTL_ID, 0x4E40);
        assert_eq!(NVME_IOCTL_ADMIN_CMD, 0xC048_4E41);
        assert_eq!(NVME_IOCTL_IO_CMD, 0xC048_4E43);
        assert_eq!(NVME_URING_CMD_IO, 0xC048_4E80);
        assert_eq!(NVME_URING_CMD_ADMIN, 0xC048_4E82);
        // NVME_IOCTL_SUBMIT_IO = _IOW('N', 0x42, struct nvme_user_io /* 48 bytes */).
        assert_eq!(ioc(IOC_WRITE, b'N', 0x42, 48), 0x4030_4E42);
    }

    #[test]
    fn compare_command_layout() {
        let c = NvmeCommand::compare(1, 0x1_2345_6789, 8, 0xdead_beef_0000, 4096).unwrap();
        let b = c.to_bytes();
        assert_eq!(b.len(), 80);
        assert_eq!(b[0], 0x05);
        assert_eq!(b[1], 0);
        assert_eq!(&b[2..4], &[0, 0]);
        assert_eq!(&b[4..8], &1u32.to_le_bytes());
        assert_eq!(&b[24..32], &0xdead_beef_0000u64.to_le_bytes());
        assert_eq!(&b[36..40], &4096u32.to_le_bytes());
        assert_eq!(&b[40..44], &0x2345_6789u32.to_le_bytes());
        assert_eq!(&b[44..48], &1u32.to_le_bytes());
        assert_eq!(&b[48..52], &7u32.to_le_bytes());
        assert!(b[64..].iter().all(|&x| x == 0));
        assert_eq!(c.slba(), 0x1_2345_6789);
        assert_eq!(c.nlb(), 8);
    }

    #[test]
    fn every_field_lands_at_its_offset() {
        let c = NvmeCommand {
            opcode: 0x11,
            flags: 0x22,
            nsid: 0x0706_0504,
            cdw2: 0x0b0a_0908,
            cdw3: 0x0f0e_0d0c,
            metadata: 0x1716_1514_1312_1110,
            addr: 0x1f1e_1d1c_1b1a_1918,
            metadata_len: 0x2322_2120,
            data_len: 0x2726_2524,
            cdw10: 0x2b2a_2928,
            cdw11: 0x2f2e_2d2c,
            cdw12: 0x3332_3130,
            cdw13: 0x3736_3534,
            cdw14: 0x3b3a_3938,
            cdw15: 0x3f3e_3d3c,
            timeout_ms: 0x4342_4140,
        };
        let b = c.to_bytes72();
        assert_eq!(&b[..2], &[0x11, 0x22]);
        assert_eq!(&b[2..4], &[0, 0], "rsvd1");
        // Bytes 4..68 each hold their own offset (the pattern above, little-endian).
        for (i, &v) in b.iter().enumerate().take(68).skip(4) {
            assert_eq!(usize::from(v), i, "byte {i}");
        }
        assert_eq!(&b[68..72], &[0; 4], "rsvd2 / result");
        assert_eq!(NvmeCommand::from_bytes(&b).unwrap(), c);
        assert_eq!(NvmeCommand::from_bytes(&c.to_bytes()).unwrap(), c);
        assert!(NvmeCommand::from_bytes(&b[..71]).is_err());
    }

    #[test]
    fn read_write_and_block_count_limits() {
        assert_eq!(NvmeCommand::read(1, 0, 1, 0, 512).unwrap().opcode, OP_READ);
        assert_eq!(NvmeCommand::read(1, 0, 1, 0, 512).unwrap().cdw12, 0);
        assert_eq!(NvmeCommand::write(1, 0, 65536, 0, 0).unwrap().cdw12, 0xffff);
        assert_eq!(NvmeCommand::write(1, 0, 65536, 0, 0).unwrap().opcode, OP_WRITE);
        assert_eq!(NvmeCommand::write(1, 0, 0, 0, 0), Err(CommandError::BlockCount(0)));
        assert_eq!(NvmeCommand::compare(1, 0, 65537, 0, 0), Err(CommandError::BlockCount(65537)));
    }

    #[test]
    fn identify_commands() {
        let c = NvmeCommand::identify_controller(0x1000);
        assert_eq!((c.opcode, c.nsid, c.cdw10, c.data_len, c.addr), (0x06, 0, 1, 4096, 0x1000));
        let n = NvmeCommand::identify_namespace(3, 0x2000);
        assert_eq!((n.opcode, n.nsid, n.cdw10, n.data_len), (0x06, 3, 0, 4096));
    }

    #[test]
    fn fuse_bits() {
        let c = NvmeCommand::compare(1, 0, 1, 0, 512).unwrap().fused(Fuse::First);
        assert_eq!(c.to_bytes()[1], 0b01);
        let w = NvmeCommand::write(1, 0, 1, 0, 512).unwrap().fused(Fuse::Second);
        assert_eq!(w.flags, 0b10);
        let mut p = w;
        p.flags |= 0x40; // PSDT bits are kept
        assert_eq!(p.fused(Fuse::Normal).flags, 0x40);
    }

    #[test]
    fn completion_decoding() {
        assert_eq!(Completion::from_res(0), Completion::Ok);
        assert_eq!(Completion::from_res(-22), Completion::Host(22));
        assert_eq!(Completion::from_res(i32::MIN), Completion::Host(i32::MAX));
        let qemu10 = Completion::from_res(0x4285);
        let qemu72 = Completion::from_res(0x285);
        assert!(qemu10.is_compare_failure() && qemu72.is_compare_failure());
        let Completion::Status(s) = qemu10 else { panic!("status expected") };
        assert_eq!((s.sct, s.sc, s.crd, s.more, s.dnr), (2, 0x85, 0, false, true));
        assert_eq!(s.raw(), 0x4285);
        let all = NvmeStatus::from_raw(0x7a85);
        assert_eq!((all.sct, all.sc, all.crd, all.more, all.dnr), (2, 0x85, 3, true, true));
        assert!(all.is_compare_failure());
        assert_eq!(all.raw(), 0x7a85);
        assert!(!NvmeStatus::from_raw(0x0085).is_compare_failure());
        assert!(!NvmeStatus::from_raw(0x0281).is_compare_failure());
        assert!(!Completion::from_res(-5).is_compare_failure());
    }

    #[test]
    fn status_display_names_and_raw() {
        let show = |raw: u16| NvmeStatus::from_raw(raw).to_string();
        assert_eq!(show(0x4285), "Compare Failure (SCT 2h SC 85h, DNR)");
        assert_eq!(show(0x0285), "Compare Failure (SCT 2h SC 85h)");
        assert_eq!(show(0x0001), "Invalid Command Opcode (SCT 0h SC 01h)");
        assert_eq!(show(0x0002), "Invalid Field in Command (SCT 0h SC 02h)");
        assert_eq!(show(0x0009), "Command Aborted due to Failed Fused Command (SCT 0h SC 09h)");
        assert_eq!(show(0x000A), "Command Aborted due to Missing Fused Command (SCT 0h SC 0Ah)");
        assert_eq!(show(0x0080), "LBA Out of Range (SCT 0h SC 80h)");
        assert_eq!(show(0x0281), "Unrecovered Read Error (SCT 2h SC 81h)");
        assert_eq!(show(0x0287), "Deallocated or Unwritten Logical Block (SCT 2h SC 87h)");
        assert_eq!(show(0x0370), "Host Pathing Error (SCT 3h SC 70h)");
        assert_eq!(show(0x3000 | 0x0786), "(SCT 7h SC 86h, CRD 2, More)");
        assert_eq!(show(0x00ff), "(SCT 0h SC FFh)");
        let c = Completion::from_res(0x285).to_string();
        assert_eq!(c, "NVMe status Compare Failure (SCT 2h SC 85h)");
        assert!(Completion::from_res(-22).to_string().starts_with("host error: "));
    }
}
