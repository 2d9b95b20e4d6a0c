//! Devices: opening a target, describing it (size, block size, model, firmware, driver, the
//! protocol probe), refusing one that holds data, the built-in default (a temporary file), the
//! simulated device (`sim`, `sim:SIZE`: no file at all), and turning what a point needs into
//! the options its backend is opened with.

pub mod nvme;
pub mod safety;
pub mod scsi;
pub mod sysfs;

use crate::backend::{self, block::BlockOptions, nvme::NvmeOptions, scsi::ScsiOptions, sim::SimOpen, sim::SimOptions};
use crate::error::{Error, Result};
use crate::sys::blk;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Size of the built-in default target, and of `sim` without a size.
pub const DEFAULT_TARGET_BYTES: u64 = 64 << 20;
/// The simulated device's logical block size.
pub const SIM_LBS: u32 = 512;
/// The largest simulated device (its memory is only touched where written).
pub const SIM_MAX_BYTES: u64 = 64 << 30;

/// How a target is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// The simulated device in memory (TARGET `sim`).
    Sim,
}

impl BackendKind {
    pub const ALL: [BackendKind; 5] =
        [BackendKind::File, BackendKind::Block, BackendKind::Nvme, BackendKind::Scsi, BackendKind::Sim];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::File => "file",
            BackendKind::Block => "block",
            BackendKind::Nvme => "nvme",
            BackendKind::Scsi => "scsi",
            BackendKind::Sim => "sim",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        BackendKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("`{s}` is not a backend; use file, block, nvme or scsi"))
    }
}

pub use crate::results::{Probe, TargetInfo};

/// An opened target.
pub struct Target {
    pub path: PathBuf,
    /// The open file or device; None for the simulated device.
    pub file: Option<File>,
    pub kind: BackendKind,
    pub info: TargetInfo,
    /// SCSI: what the bsg io_uring probe found (for the backend; not in the results).
    pub bsg: Option<crate::backend::scsi::BsgProbe>,
    /// The built-in default's file, removed when the target is dropped.
    _temp: Option<tempfile::TempPath>,
}

/// What one point asks of the backend, whatever the device.
#[derive(Debug, Clone, Copy)]
pub struct PointNeeds {
    /// Request slots per worker (the queue depth) and workers.
    pub slots: usize,
    pub workers: u32,
    pub bs: u32,
    /// Byte offset of the region's first block.
    pub first_block: u64,
    pub iopoll: bool,
    /// The workload sends device-side compares (named, for messages).
    pub compare: Option<&'static str>,
    /// The workload sends atomic compare-and-writes where the device has them.
    pub compare_write: bool,
    /// The point's seed (the simulated device's faults and service times derive from it).
    pub seed: u64,
    pub device: DeviceOptions,
}

/// Options for device backends, typed (the command line's device flags).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceOptions {
    /// NVMe: try one fused Compare+Write.
    pub fused: bool,
    /// SCSI: the transport, or the best available.
    pub transport: Option<backend::scsi::Transport>,
    /// SCSI: blocks per COMPARE AND WRITE.
    pub ats_blocks: Option<u8>,
    pub dpo: bool,
    pub fua: bool,
    /// The simulated device's behaviour.
    pub sim: SimOptions,
    /// Block devices and files: where ATS attempts take their expected image from.
    pub expected: backend::block::ExpectedFrom,
    /// SCSI `--on-timeout abort`: COMPARE AND WRITE's sg timeout in ms (the kernel aborts it).
    pub caw_timeout_ms: Option<u32>,
}

impl Target {
    /// A target opened by a device backend.
    pub fn new(path: PathBuf, file: File, kind: BackendKind, info: TargetInfo) -> Target {
        Target { path, file: Some(file), kind, info, bsg: None, _temp: None }
    }

    fn open_file(&self) -> Result<&File> {
        self.file.as_ref().ok_or_else(|| Error::Internal(format!("a {} target without a file", self.kind.name())))
    }

    pub fn size(&self) -> u64 {
        self.info.size_bytes
    }

    pub fn logical_block_size(&self) -> u32 {
        self.info.logical_block_size
    }

    /// The options this target's backend is opened with for a point needing `n`.
    pub fn backend_options(&self, n: &PointNeeds) -> Result<backend::Options> {
        if self.kind == BackendKind::Sim {
            return Ok(backend::Options::Sim(SimOpen {
                bytes: self.size(),
                lbs: self.logical_block_size(),
                bs: n.bs,
                slots: n.slots,
                seed: n.seed,
                options: n.device.sim,
            }));
        }
        let fd = self.open_file()?.as_raw_fd();
        let block = matches!(self.kind, BackendKind::File | BackendKind::Block);
        if !block && !n.device.expected.is_device() {
            return Err(Error::Unsupported(format!(
                "--expected-from cache reads through the page cache of a block device or file, and {} is a {} \
                 target; give its block device (e.g. /dev/sdX) or drop --expected-from",
                self.path.display(),
                self.kind.name()
            )));
        }
        Ok(match (&self.kind, &self.info.probe) {
            (BackendKind::File | BackendKind::Block, _) => backend::Options::Block(BlockOptions {
                fd,
                slots: n.slots,
                iopoll: n.iopoll,
                expected: n.device.expected,
            }),
            (BackendKind::Nvme, Some(Probe::Nvme(p))) => backend::Options::Nvme(NvmeOptions {
                fd,
                path: self.path.display().to_string(),
                ns: p.namespace(),
                needs_compare: n.compare,
                fused: n.device.fused,
                iopoll: n.iopoll,
                bs: n.bs,
                first_block: n.first_block,
                slots: n.slots,
            }),
            (BackendKind::Scsi, Some(Probe::Scsi(p))) => {
                let max_caw = if n.compare_write { scsi::check_caw(&self.path, self.open_file()?)? } else { None };
                backend::Options::Scsi(ScsiOptions {
                    path: self.path.clone(),
                    bsg_path: p.bsg_node.as_ref().map(PathBuf::from),
                    bsg: self
                        .bsg
                        .clone()
                        .unwrap_or_else(|| crate::backend::scsi::BsgProbe::Unavailable("not probed".into())),
                    transport: n.device.transport,
                    lbs: self.logical_block_size(),
                    bs: n.bs,
                    compare_write: n.compare_write,
                    max_caw,
                    ats_blocks: n.device.ats_blocks,
                    dpo: n.device.dpo,
                    fua: n.device.fua,
                    caw_timeout_ms: n.device.caw_timeout_ms,
                    slots: n.slots,
                    workers: n.workers,
                })
            }
            (kind, _) => return Err(Error::Internal(format!("a {} target without its probe", kind.name()))),
        })
    }
}

/// Open `path` with `backend`, or the one its type implies; `writes` opens it read-write and,
/// unless `force`, refuses a device that holds data.
pub fn open(path: &Path, backend: Option<BackendKind>, writes: bool, force: bool) -> Result<Target> {
    let detected = detect_kind(path)?;
    match (backend.unwrap_or(detected), detected) {
        (BackendKind::File | BackendKind::Block, BackendKind::File) => {
            open_block_or_file(path, BackendKind::File, writes, force)
        }
        (BackendKind::Block, BackendKind::Block) => open_block_or_file(path, BackendKind::Block, writes, force),
        (BackendKind::Nvme, BackendKind::Nvme) => nvme::open(path, writes, force),
        (BackendKind::Scsi, BackendKind::Scsi) => scsi::open(path, writes, force),
        (want, got) => Err(Error::usage(format!(
            "{}: --backend {} does not fit a {} target; drop --backend to choose from the target's type",
            path.display(),
            want.name(),
            got.name()
        ))),
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
    Ok(Target { path: path.to_path_buf(), file: Some(file), kind, info, bsg: None, _temp: None })
}

/// The size of the simulated device a TARGET names: `sim` (64 MiB) or `sim:SIZE` (`sim:1G`,
/// `sim:64MiB`); None when TARGET is a path (a file named `sim` is `./sim`).
pub fn sim_size(target: &Path) -> Option<std::result::Result<u64, String>> {
    let t = target.to_str()?;
    let size = match t.strip_prefix("sim") {
        Some("") => return Some(Ok(DEFAULT_TARGET_BYTES)),
        Some(rest) => rest.strip_prefix(':')?,
        None => return None,
    };
    Some(size.parse::<crate::spec::Bytes>().and_then(|b| {
        let b = b.0;
        if b < 4096 || b % u64::from(SIM_LBS) != 0 || b > SIM_MAX_BYTES {
            Err(format!(
                "`{t}`: a simulated device holds 4 KiB to 64 GiB in whole {SIM_LBS}-byte blocks, e.g. sim:64MiB"
            ))
        } else {
            Ok(b)
        }
    }))
}

/// The simulated device of `bytes`: nothing to open, nothing to refuse.
pub fn open_sim(bytes: u64) -> Target {
    let path = if bytes % (1 << 20) == 0 { format!("sim:{}MiB", bytes >> 20) } else { format!("sim:{bytes}") };
    let info = TargetInfo {
        path: path.clone(),
        backend: BackendKind::Sim.name().into(),
        size_bytes: bytes,
        logical_block_size: SIM_LBS,
        physical_block_size: Some(SIM_LBS),
        model: Some("atsbench simulated device".into()),
        firmware: Some(env!("CARGO_PKG_VERSION").into()),
        driver: Some("atsbench-sim".into()),
        kernel: blk::kernel_release(),
        ..Default::default()
    };
    Target { path: PathBuf::from(path), file: None, kind: BackendKind::Sim, info, bsg: None, _temp: None }
}

/// Create and open the built-in default target: a file of `bytes` zeros with a unique name in
/// `$TMPDIR`, removed when the target is dropped (the run ends, is interrupted with SIGINT or
/// SIGTERM, or fails). A run killed with SIGKILL leaves its file, which no later run reuses.
pub fn open_default(bytes: u64) -> Result<Target> {
    let dir = std::env::temp_dir();
    let fix = "set TMPDIR to a writable folder with room for it";
    let file =
        tempfile::Builder::new().prefix("atsbench-").suffix(".tmp").tempfile_in(&dir).map_err(|e| {
            Error::Target(format!("{}: cannot create the temporary target ({e}); {fix}", dir.display()))
        })?;
    let path = file.path().to_path_buf();
    fill_zeros(file.as_file(), bytes).map_err(|e| {
        Error::Target(format!("{}: could not write {bytes} bytes ({e}); free space there or {fix}", path.display()))
    })?;
    let temp = file.into_temp_path();
    let mut t = open_block_or_file(&path, BackendKind::File, true, false)?;
    t.info.temporary = true;
    t._temp = Some(temp);
    Ok(t)
}

/// Written, not just allocated: reads of unwritten extents never reach the device.
fn fill_zeros(f: &File, bytes: u64) -> std::io::Result<()> {
    use std::io::Write;
    let zeros = vec![0u8; 1 << 20];
    let mut w = std::io::BufWriter::new(f);
    let mut left = bytes;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        w.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    w.flush()?;
    drop(w);
    f.sync_all()
}
