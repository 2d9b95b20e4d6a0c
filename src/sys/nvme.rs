//! NVMe ioctls (admin passthrough for Identify, namespace id).
//!
//! Work on the controller device `/dev/nvmeX` and on a namespace's generic char device
//! `/dev/ngXnY` (which forwards admin ioctls to its controller). Identify does not need
//! CAP_SYS_ADMIN on recent kernels; other admin commands may (unverified per kernel).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::proto::nvme::{
    IdentifyController, IdentifyNamespace, NvmeCommand, NvmeStatus, ParseError, IDENTIFY_LEN, NVME_CMD_LEN,
    NVME_IOCTL_ADMIN_CMD, NVME_IOCTL_ID, NVME_IOCTL_IO_CMD,
};

/// `struct nvme_passthru_cmd` (= `struct nvme_admin_cmd`) from linux/nvme_ioctl.h: the same
/// 72-byte image as `nvme_uring_cmd` ([`NvmeCommand::to_bytes72`]), in which the kernel writes
/// `result` (completion dword 0) at byte 68.
#[repr(C, align(8))]
struct Passthru([u8; NVME_CMD_LEN]);

const RESULT_AT: usize = 68;

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
unsafe fn ioctl_cmd(fd: BorrowedFd<'_>, request: u32, arg: *mut Passthru) -> io::Result<i32> {
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
/// dword 0.
///
/// # Safety
/// `cmd.addr` / `cmd.metadata` must be null or point to buffers valid for `data_len` /
/// `metadata_len` bytes in the opcode's direction (the kernel reads or writes them), and not
/// accessed otherwise until this returns.
pub unsafe fn nvme_admin(fd: BorrowedFd<'_>, cmd: &NvmeCommand) -> io::Result<(i32, u32)> {
    let mut arg = Passthru(cmd.to_bytes72());
    // SAFETY: `arg` is a valid, exclusive, 8-byte aligned nvme_passthru_cmd image; its buffers
    // are the caller's obligation.
    let status = unsafe { ioctl_cmd(fd, NVME_IOCTL_ADMIN_CMD, &mut arg) }?;
    let result = u32::from_le_bytes(arg.0[RESULT_AT..RESULT_AT + 4].try_into().expect("4 bytes"));
    Ok((status, result))
}

/// Runs an NVM I/O command synchronously (NVME_IOCTL_IO_CMD) on `data`, which becomes its
/// buffer (`addr`/`data_len` of `cmd` are replaced; no metadata). Returns the NVMe status (0 =
/// success, positive = device status) and the completion's dword 0. For the conformance checks,
/// one command at a time; the engine uses io_uring passthrough instead.
pub fn nvme_io(fd: BorrowedFd<'_>, cmd: &NvmeCommand, data: &mut [u8]) -> io::Result<(i32, u32)> {
    let len = u32::try_from(data.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let c = NvmeCommand { addr: data.as_mut_ptr() as u64, data_len: len, metadata: 0, metadata_len: 0, ..*cmd };
    let mut arg = Passthru(c.to_bytes72());
    // SAFETY: `arg` is a valid, exclusive nvme_passthru_cmd image whose data buffer is `data`,
    // borrowed mutably for the whole call (the kernel may read or write all of it), with no
    // metadata buffer.
    let status = unsafe { ioctl_cmd(fd, NVME_IOCTL_IO_CMD, &mut arg) }?;
    let result = u32::from_le_bytes(arg.0[RESULT_AT..RESULT_AT + 4].try_into().expect("4 bytes"));
    Ok((status, result))
}

/// A page-aligned Identify buffer (the controller DMAs into it).
#[repr(C, align(4096))]
struct IdentifyBuf([u8; IDENTIFY_LEN]);

fn identify(fd: BorrowedFd<'_>, command: NvmeCommand) -> Result<Box<IdentifyBuf>, IdentifyError> {
    let mut buf = Box::new(IdentifyBuf([0; IDENTIFY_LEN]));
    let cmd = NvmeCommand { addr: buf.0.as_mut_ptr() as u64, data_len: IDENTIFY_LEN as u32, ..command };
    // SAFETY: `addr` points to the IDENTIFY_LEN-byte heap buffer `buf`, owned here, alive and
    // untouched until the ioctl returns; no metadata buffer is given.
    let (status, _) = unsafe { nvme_admin(fd, &cmd) }?;
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
    fn passthru_image_is_the_kernel_struct() {
        assert_eq!(std::mem::size_of::<Passthru>(), 72);
        assert_eq!(std::mem::align_of::<Passthru>(), 8);
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
