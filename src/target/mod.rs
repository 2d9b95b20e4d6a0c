//! Targets: opening, describing (size, block size, model, firmware, driver) and the built-in
//! default, a temporary file.

pub mod nvme;
pub mod safety;
pub mod scsi;
pub mod sysfs;

use crate::error::{Error, Result};
use crate::sys::blk;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Size of the built-in default target.
pub const DEFAULT_TARGET_BYTES: u64 = 64 << 20;

/// How a target is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// io_uring reads and writes with O_DIRECT on a regular file.
    File,
    /// io_uring reads and writes with O_DIRECT on a block device.
    Block,
    /// NVMe passthrough (IORING_OP_URING_CMD) on a generic char device /dev/ngXnY.
    Nvme,
    /// SCSI commands through the sg driver on /dev/sgN.
    Scsi,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::File => "file",
            BackendKind::Block => "block",
            BackendKind::Nvme => "nvme",
            BackendKind::Scsi => "scsi",
        }
    }
}

/// What results record about the target.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TargetInfo {
    pub path: String,
    pub backend: String,
    pub size_bytes: u64,
    pub logical_block_size: u32,
    pub physical_block_size: Option<u32>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub serial: Option<String>,
    pub driver: Option<String>,
    pub kernel: String,
    /// The filesystem holding a file target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<String>,
    /// The file behind a loop device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backing_file: Option<String>,
    /// True for the built-in temporary file.
    pub temporary: bool,
    /// Backend-specific probe results (NVMe Identify, SCSI INQUIRY and VPD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<serde_json::Value>,
}

/// An opened target.
pub struct Target {
    pub path: PathBuf,
    pub file: File,
    pub kind: BackendKind,
    pub info: TargetInfo,
    _temp: Option<TempFile>,
}

impl Target {
    /// A target opened by a device backend.
    pub fn new(path: PathBuf, file: File, kind: BackendKind, info: TargetInfo) -> Target {
        Target { path, file, kind, info, _temp: None }
    }

    pub fn size(&self) -> u64 {
        self.info.size_bytes
    }

    pub fn logical_block_size(&self) -> u32 {
        self.info.logical_block_size
    }
}

/// The kind a path's file type implies, before any override.
pub fn detect_kind(path: &Path) -> Result<BackendKind> {
    let md = std::fs::metadata(path).map_err(|e| Error::from_io(path, "looking it up", &e))?;
    let ft = md.file_type();
    let p = path.display();
    if ft.is_dir() {
        return Err(Error::Target(format!("{p}: is a directory; give a regular file or a block device")));
    }
    if ft.is_file() {
        return Ok(BackendKind::File);
    }
    if ft.is_block_device() {
        return Ok(BackendKind::Block);
    }
    if ft.is_char_device() {
        let (major, minor) = (libc::major(md.rdev()), libc::minor(md.rdev()));
        return match sysfs::char_subsystem(major, minor).as_deref() {
            Some("nvme-generic") => Ok(BackendKind::Nvme),
            Some("scsi_generic") => Ok(BackendKind::Scsi),
            other => Err(Error::Target(format!(
                "{p}: a character device ({}) that atsbench cannot drive; give an NVMe generic device \
                 (/dev/ngXnY), a SCSI generic device (/dev/sgN), a block device or a file",
                other.unwrap_or("unknown subsystem")
            ))),
        };
    }
    Err(Error::Target(format!(
        "{p}: unsupported file type (a socket or pipe); give a regular file, a block device, /dev/ngXnY or /dev/sgN"
    )))
}

/// Open a file or block device for O_DIRECT I/O and describe it. Refuses block devices that
/// are in use or hold data unless `force`.
pub fn open_block_or_file(path: &Path, kind: BackendKind, writes: bool, force: bool) -> Result<Target> {
    let file =
        OpenOptions::new().read(true).write(writes).custom_flags(libc::O_DIRECT).open(path).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EINVAL) => Error::Unsupported(format!(
                    "{}: its filesystem does not support O_DIRECT; put the file on another filesystem \
                 (e.g. TMPDIR=/var/tmp for the default target)",
                    path.display()
                )),
                _ => Error::from_io(path, "opening it for direct I/O", &e),
            }
        })?;
    let md = file.metadata().map_err(|e| Error::from_io(path, "reading its metadata", &e))?;
    let mut info = TargetInfo {
        path: path.display().to_string(),
        backend: kind.name().into(),
        kernel: blk::kernel_release(),
        ..Default::default()
    };
    if kind == BackendKind::Block {
        info.size_bytes = blk::device_size(&file).map_err(|e| Error::from_io(path, "reading its size", &e))?;
        info.logical_block_size =
            blk::logical_block_size(&file).map_err(|e| Error::from_io(path, "reading its block size", &e))?;
        info.physical_block_size = blk::physical_block_size(&file).ok();
        let rdev = (libc::major(md.rdev()), libc::minor(md.rdev()));
        sysfs::describe_block(rdev, &mut info);
        if writes && !force {
            if let Some(found) = safety::check_block_device(path, &file, rdev, info.logical_block_size, info.size_bytes)
            {
                return Err(Error::Refused(format!(
                    "{}: refusing to write: it holds {found}; pick another device, or pass --force to overwrite it",
                    path.display()
                )));
            }
        }
    } else {
        info.size_bytes = md.len();
        info.logical_block_size = blk::dio_offset_align(&file).unwrap_or(4096).max(512);
        info.filesystem = blk::filesystem_name(&file).map(str::to_string);
    }
    if info.size_bytes < info.logical_block_size as u64 {
        return Err(Error::Target(format!(
            "{}: holds {} bytes, less than one {}-byte block; give a larger target",
            path.display(),
            info.size_bytes,
            info.logical_block_size
        )));
    }
    Ok(Target { path: path.to_path_buf(), file, kind, info, _temp: None })
}

/// Create and open the built-in default target: a temporary file, removed when dropped.
pub fn open_default() -> Result<Target> {
    let temp = TempFile::create(DEFAULT_TARGET_BYTES)?;
    let mut t = open_block_or_file(&temp.path, BackendKind::File, true, false)?;
    t.info.temporary = true;
    t._temp = Some(temp);
    Ok(t)
}

/// A temporary file that is removed when dropped.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn create(bytes: u64) -> Result<TempFile> {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("atsbench-{}.tmp", std::process::id()));
        let f = OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
            Error::from_io(&path, "creating the temporary target (set TMPDIR to a writable folder)", &e)
        })?;
        let guard = TempFile { path };
        // Written, not just allocated: reads of unwritten extents never reach the device.
        let zeros = vec![0u8; 1 << 20];
        let mut left = bytes;
        let mut w = std::io::BufWriter::new(&f);
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            std::io::Write::write_all(&mut w, &zeros[..n]).map_err(|e| {
                Error::Target(format!(
                    "{}: could not write {bytes} bytes ({e}); free space there or set TMPDIR to another folder",
                    guard.path.display()
                ))
            })?;
            left -= n as u64;
        }
        drop(w);
        f.sync_all().map_err(|e| Error::from_io(&guard.path, "syncing the temporary target", &e))?;
        Ok(guard)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
