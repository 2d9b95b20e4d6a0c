//! Block device and file queries: sizes, logical block size, O_DIRECT alignment, limits.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

nix::ioctl_read!(blk_getsize64, 0x12, 114, u64);
nix::ioctl_read_bad!(blk_sszget, 0x1268, libc::c_int);
nix::ioctl_read_bad!(blk_pbszget, 0x127b, libc::c_uint);

/// Size in bytes of a block device.
pub fn device_size(f: &File) -> io::Result<u64> {
    let mut v = 0u64;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which is valid for the call.
    unsafe { blk_getsize64(f.as_raw_fd(), &mut v) }.map_err(io::Error::from)?;
    Ok(v)
}

/// Logical block size of a block device.
pub fn logical_block_size(f: &File) -> io::Result<u32> {
    let mut v: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which is valid for the call.
    unsafe { blk_sszget(f.as_raw_fd(), &mut v) }.map_err(io::Error::from)?;
    Ok(v as u32)
}

/// Physical block size of a block device.
pub fn physical_block_size(f: &File) -> io::Result<u32> {
    let mut v: libc::c_uint = 0;
    // SAFETY: BLKPBSZGET writes one unsigned int through the pointer, valid for the call.
    unsafe { blk_pbszget(f.as_raw_fd(), &mut v) }.map_err(io::Error::from)?;
    Ok(v)
}

/// The O_DIRECT offset alignment a file's filesystem reports (statx STATX_DIOALIGN, Linux 6.1+),
/// or None where the kernel or filesystem does not say.
pub fn dio_offset_align(f: &File) -> Option<u32> {
    const STATX_DIOALIGN: u32 = 0x2000;
    // SAFETY: statx is plain data; all-zero is a valid value.
    let mut sx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: AT_EMPTY_PATH with an empty C string queries the fd itself; `sx` is valid for the
    // kernel to write.
    let rc = unsafe { libc::statx(f.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, STATX_DIOALIGN, &mut sx) };
    if rc != 0 || sx.stx_mask & STATX_DIOALIGN == 0 || sx.stx_dio_offset_align == 0 {
        return None;
    }
    Some(sx.stx_dio_offset_align)
}

/// The filesystem type name of the filesystem holding `f`, from statfs.
pub fn filesystem_name(f: &File) -> Option<&'static str> {
    let st = nix::sys::statfs::fstatfs(f).ok()?;
    let magic = st.filesystem_type().0 as u64;
    Some(match magic {
        0x0102_1994 => "tmpfs",
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x794C_7630 => "overlayfs",
        0x6969 => "nfs",
        0x2FC1_2FC1 => "zfs",
        0x6573_5546 => "fuse",
        0xF2F5_2010 => "f2fs",
        _ => "other",
    })
}

/// RLIMIT_MEMLOCK's soft limit in bytes (None = unlimited).
pub fn memlock_limit() -> Option<u64> {
    let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_MEMLOCK).ok()?;
    (soft != libc::RLIM_INFINITY).then_some(soft)
}

/// Whether this process holds CAP_IPC_LOCK (then io_uring does not charge RLIMIT_MEMLOCK).
pub fn has_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// The kernel release, as `uname -r` prints it.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}

/// `/proc/sys/kernel/io_uring_disabled`: 0 enabled, 1 restricted to a group, 2 disabled.
pub fn io_uring_disabled() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}
