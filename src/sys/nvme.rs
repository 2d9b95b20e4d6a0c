//! NVMe ioctls (admin passthrough for Identify, namespace id).
//!
//! Work on the controller device `/dev/nvmeX` and on a namespace's generic char device
//! `/dev/ngXnY` (which forwards admin ioctls to its controller). Identify does not need
//! CAP_SYS_ADMIN on recent kernels; other admin commands may (unverified per kernel).

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::proto::nvme::{
    IdentifyController, IdentifyNamespace, NvmeCommand, NvmeStatus, ParseError, IDENTIFY_LEN, NVME_CMD_LEN,
    NVME_IOCTL_ADMIN_CMD, NVME_IOCTL_ID, NVME_IOCTL_IO_CMD,
};

/// `struct nvme_passthru_cmd` (= `struct nvme_admin_cmd`) from linux/nvme_ioctl.h: the
/// `nvme_uring_cmd` layout with `result` (command dword 0 of the completion) at byte 68.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NvmePassthruCmd {
    /// Opcode.
    pub opcode: u8,
    /// FUSE / PSDT bits; Linux rejects non-zero values.
    pub flags: u8,
    /// Reserved.
    pub rsvd1: u16,
    /// Namespace id.
    pub nsid: u32,
    /// Command dword 2.
    pub cdw2: u32,
    /// Command dword 3.
    pub cdw3: u32,
    /// Metadata buffer address.
    pub metadata: u64,
    /// Data buffer address.
    pub addr: u64,
    /// Metadata length in bytes.
    pub metadata_len: u32,
    /// Data length in bytes.
    pub data_len: u32,
    /// Command dword 10.
    pub cdw10: u32,
    /// Command dword 11.
    pub cdw11: u32,
    /// Command dword 12.
    pub cdw12: u32,
    /// Command dword 13.
    pub cdw13: u32,
    /// Command dword 14.
    pub cdw14: u32,
    /// Command dword 15.
    pub cdw15: u32,
    /// Timeout in milliseconds; 0 uses the driver default.
    pub timeout_ms: u32,
    /// Output: completion dword 0.
    pub result: u32,
}

const _: () = {
    assert!(size_of::<NvmePassthruCmd>() == NVME_CMD_LEN);
    assert!(offset_of!(NvmePassthruCmd, nsid) == 4);
    assert!(offset_of!(NvmePassthruCmd, metadata) == 16);
    assert!(offset_of!(NvmePassthruCmd, addr) == 24);
    assert!(offset_of!(NvmePassthruCmd, data_len) == 36);
    assert!(offset_of!(NvmePassthruCmd, cdw10) == 40);
    assert!(offset_of!(NvmePassthruCmd, timeout_ms) == 64);
    assert!(offset_of!(NvmePassthruCmd, result) == 68);
};

impl From<&NvmeCommand> for NvmePassthruCmd {
    fn from(c: &NvmeCommand) -> Self {
        Self {
            opcode: c.opcode,
            flags: c.flags,
            rsvd1: 0,
            nsid: c.nsid,
            cdw2: c.cdw2,
            cdw3: c.cdw3,
            metadata: c.metadata,
            addr: c.addr,
            metadata_len: c.metadata_len,
            data_len: c.data_len,
            cdw10: c.cdw10,
            cdw11: c.cdw11,
            cdw12: c.cdw12,
            cdw13: c.cdw13,
            cdw14: c.cdw14,
            cdw15: c.cdw15,
            timeout_ms: c.timeout_ms,
            result: 0,
        }
    }
}

/// Why an Identify failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    /// The ioctl itself failed (e.g. `ENOTTY`: not an NVMe device; `EACCES`/`EPERM`).
    #[error("NVMe Identify ioctl failed: {0}")]
    Io(#[from] io::Error),
    /// The controller completed the command with an error status.
    #[error("NVMe Identify failed: {0}")]
    Status(NvmeStatus),
    /// The returned data did not parse.
    #[error("NVMe Identify data: {0}")]
    Parse(#[from] ParseError),
}

/// `ioctl(fd, request, arg)` returning the non-negative result.
///
/// # Safety
/// `arg` must be valid for everything `request` reads and writes, including the memory its
/// buffer addresses point to, for the duration of the call.
unsafe fn ioctl_cmd(fd: BorrowedFd<'_>, request: u32, arg: *mut NvmePassthruCmd) -> io::Result<i32> {
    // SAFETY: `fd` is open (borrowed for the call); the caller guarantees `arg`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::Ioctl, arg) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

/// Namespace id of a namespace device (`/dev/ngXnY`, `/dev/nvmeXnY`); the controller device
/// fails (`ENOTTY`), which tells the two apart.
pub fn nvme_ns_id(fd: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: NVME_IOCTL_ID takes no argument and touches no user memory.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NVME_IOCTL_ID as libc::Ioctl) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as u32)
}

/// Runs an admin command synchronously (NVME_IOCTL_ADMIN_CMD). Returns the NVMe status
/// (0 = success, positive = device status, see [`NvmeStatus::from_raw`]) and the completion's
/// dword 0 (also left in `cmd.result`).
///
/// # Safety
/// `cmd.addr` / `cmd.metadata` must be null or point to buffers valid for `data_len` /
/// `metadata_len` bytes in the opcode's direction (the kernel reads or writes them), and not
/// accessed otherwise until this returns.
pub unsafe fn nvme_admin(fd: BorrowedFd<'_>, cmd: &mut NvmePassthruCmd) -> io::Result<(i32, u32)> {
    // SAFETY: `cmd` is a valid exclusive nvme_passthru_cmd; its buffers are the caller's
    // obligation.
    let status = unsafe { ioctl_cmd(fd, NVME_IOCTL_ADMIN_CMD, cmd) }?;
    Ok((status, cmd.result))
}

/// Runs an I/O command synchronously (NVME_IOCTL_IO_CMD) on a namespace device; returns like
/// [`nvme_admin`]. Useful to probe a command outside a ring.
///
/// # Safety
/// As for [`nvme_admin`].
pub unsafe fn nvme_io(fd: BorrowedFd<'_>, cmd: &mut NvmePassthruCmd) -> io::Result<(i32, u32)> {
    // SAFETY: as in `nvme_admin`; the caller guarantees the buffers.
    let status = unsafe { ioctl_cmd(fd, NVME_IOCTL_IO_CMD, cmd) }?;
    Ok((status, cmd.result))
}

/// A page-aligned Identify buffer (the controller DMAs into it).
#[repr(C, align(4096))]
struct IdentifyBuf([u8; IDENTIFY_LEN]);

fn identify(fd: BorrowedFd<'_>, command: NvmeCommand) -> Result<Box<IdentifyBuf>, IdentifyError> {
    let mut buf = Box::new(IdentifyBuf([0; IDENTIFY_LEN]));
    let mut cmd = NvmePassthruCmd::from(&NvmeCommand {
        addr: buf.0.as_mut_ptr() as u64,
        data_len: IDENTIFY_LEN as u32,
        ..command
    });
    // SAFETY: `addr` points to the IDENTIFY_LEN-byte heap buffer `buf`, owned here, alive and
    // untouched until the ioctl returns; no metadata buffer is given.
    let (status, _) = unsafe { nvme_admin(fd, &mut cmd) }?;
    if status != 0 {
        let raw = u16::try_from(status).unwrap_or(u16::MAX);
        return Err(IdentifyError::Status(NvmeStatus::from_raw(raw)));
    }
    Ok(buf)
}

/// Identify Controller through `fd` (`/dev/nvmeX` or a namespace's `/dev/ngXnY`).
pub fn identify_controller(fd: BorrowedFd<'_>) -> Result<IdentifyController, IdentifyError> {
    let buf = identify(fd, NvmeCommand::identify_controller(0))?;
    Ok(IdentifyController::parse(&buf.0)?)
}

/// Identify Namespace `nsid` through `fd`.
pub fn identify_namespace(fd: BorrowedFd<'_>, nsid: u32) -> Result<IdentifyNamespace, IdentifyError> {
    let buf = identify(fd, NvmeCommand::identify_namespace(nsid, 0))?;
    Ok(IdentifyNamespace::parse(&buf.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn passthru_matches_the_uring_image() {
        let c = NvmeCommand::compare(1, 0x1_0000_0002, 4, 0x7000, 2048).unwrap();
        let p = NvmePassthruCmd::from(&c);
        // SAFETY: NvmePassthruCmd is repr(C), 72 bytes, with no padding (asserted offsets and
        // size add up), so viewing it as bytes is sound.
        let bytes: [u8; NVME_CMD_LEN] = unsafe { std::mem::transmute(p) };
        assert_eq!(bytes, c.to_bytes72());
        assert_eq!(p.result, 0);
    }

    #[test]
    fn identify_buffer_is_page_aligned() {
        assert_eq!(std::mem::align_of::<IdentifyBuf>(), 4096);
        let b = Box::new(IdentifyBuf([0; IDENTIFY_LEN]));
        assert_eq!(b.0.as_ptr() as usize % 4096, 0);
    }

    #[test]
    fn non_nvme_fd_fails_cleanly() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let err = nvme_ns_id(f.as_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
        match identify_controller(f.as_fd()) {
            Err(IdentifyError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOTTY)),
            other => panic!("expected ENOTTY, got {other:?}"),
        }
    }
}
