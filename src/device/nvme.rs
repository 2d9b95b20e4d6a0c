//! Opening and describing NVMe generic devices (`/dev/ngXnY`): the namespace id, Identify
//! Controller and Namespace, the namespace's block device (for the data-safety check) and the
//! driver's polling queues.
//!
//! `fused_host_path` is stated from known kernel behaviour, not tried here (probing opens the
//! device read-only): every Linux NVMe passthrough path (ioctl and io_uring) rejects a command
//! whose `flags` byte (which holds the FUSE bits) is non-zero with `EINVAL`. `run --fused`
//! tries a real fused Compare+Write and reports what the kernel said.

use super::{safety, BackendKind, Probe, Target, TargetInfo};
use crate::backend::nvme::Namespace;
use crate::error::{Error, Result};
use crate::proto::nvme::{IdentifyController, IdentifyNamespace};
pub use crate::results::NvmeProbe;
use crate::sys::blk;
use crate::sys::nvme::{identify_controller, identify_namespace, nvme_ns_id, IdentifyError};
use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// How `fused_host_path` was decided.
pub const FUSED_HOST_PATH_BASIS: &str =
    "known Linux behaviour: the nvme driver rejects passthrough commands with FUSE flags (EINVAL); run --fused to try";

impl NvmeProbe {
    /// Whether `--iopoll` can really poll: the driver has poll queues.
    pub fn can_poll(&self) -> bool {
        self.io_poll.unwrap_or(false) || self.poll_queues.is_some_and(|n| n > 0)
    }

    /// What the backend needs to know of the namespace.
    pub fn namespace(&self) -> Namespace {
        Namespace {
            nsid: self.nsid,
            logical_block_size: self.logical_block_size,
            block_device: self.block_device.clone(),
            compare: self.compare,
            fused_compare_write: self.fused_compare_write,
            can_poll: self.can_poll(),
            poll_queues: self.poll_queues,
            metadata_bytes: self.metadata_bytes,
            max_transfer_bytes: self.max_transfer_bytes,
        }
    }
}

/// Open `/dev/ngXnY` (read-write when `writes`, as Compare is a write-direction command) and
/// describe it. Refuses, unless `force`, to write to a namespace whose block device holds data.
pub fn open(path: &Path, writes: bool, force: bool) -> Result<Target> {
    let file = open_char(path, writes)?;
    let nsid = nvme_ns_id(file.as_fd()).map_err(|e| {
        Error::Target(format!(
            "{}: not an NVMe namespace (NVME_IOCTL_ID failed: {e}); give a namespace's generic device /dev/ngXnY",
            path.display()
        ))
    })?;
    let block = find_block_device(path, &file, nsid)?;
    let probe = describe(path, &file, nsid, block.as_ref())?;
    if writes && !force {
        check_safe(path, block.as_ref(), &probe)?;
    }
    let info = TargetInfo {
        path: path.display().to_string(),
        backend: BackendKind::Nvme.name().into(),
        size_bytes: probe.size_bytes,
        logical_block_size: probe.logical_block_size,
        physical_block_size: block
            .as_ref()
            .and_then(|b| read_u64(b.sys.join("queue/physical_block_size")))
            .map(|v| v as u32),
        model: probe.model.clone(),
        firmware: probe.firmware.clone(),
        serial: probe.serial.clone(),
        driver: Some("nvme".into()),
        kernel: probe.kernel.clone(),
        probe: Some(Probe::Nvme(probe)),
        ..Default::default()
    };
    Ok(Target::new(path.to_path_buf(), file, BackendKind::Nvme, info))
}

fn open_char(path: &Path, writes: bool) -> Result<File> {
    OpenOptions::new().read(true).write(writes).open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => Error::Permission(format!(
            "{}: permission denied opening it {}; run as root or give this user {} access to it (e.g. a udev rule)",
            path.display(),
            if writes { "read-write (ats, compare and write send write-direction commands)" } else { "read-only" },
            if writes { "read-write" } else { "read" }
        )),
        _ => Error::from_io(path, "opening it", &e),
    })
}

/// The block device of a namespace, e.g. /dev/nvme0n1 for /dev/ng0n1.
#[derive(Debug, Clone)]
struct BlockDev {
    dev: PathBuf,
    rdev: (u32, u32),
    /// Its sysfs directory.
    sys: PathBuf,
}

fn read_sys(p: impl AsRef<Path>) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim().trim_matches('\0').trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn read_u64(p: impl AsRef<Path>) -> Option<u64> {
    read_sys(p)?.parse().ok()
}

fn parse_devno(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The sysfs directory of the char device behind `file`.
fn char_sysfs(file: &File) -> Option<PathBuf> {
    let rdev = file.metadata().ok()?.rdev();
    std::fs::canonicalize(format!("/sys/dev/char/{}:{}", libc::major(rdev), libc::minor(rdev))).ok()
}

/// Find the block device beside the generic device in sysfs (both are children of the
/// controller, or of the subsystem with native multipath): `ngXnY` -> `nvmeXnY`, else any
/// sibling namespace disk with the same nsid. Fails when the disk named like the generic
/// device is another namespace.
fn find_block_device(path: &Path, file: &File, nsid: u32) -> Result<Option<BlockDev>> {
    let Some(sys) = char_sysfs(file) else { return Ok(None) };
    let (Some(name), Some(parent)) = (sys.file_name().and_then(|n| n.to_str()), sys.parent()) else { return Ok(None) };
    if let Some(rest) = name.strip_prefix("ng") {
        let twin = parent.join(format!("nvme{rest}"));
        if let Some(other) = read_u64(twin.join("nsid")) {
            if other != u64::from(nsid) {
                return Err(Error::Target(format!(
                    "{}: namespace id mismatch: the device says namespace {nsid} but its block device nvme{rest} is \
                     namespace {other}; check that /dev/{name} and /dev/nvme{rest} are the kernel's own nodes",
                    path.display()
                )));
            }
            return Ok(block_dev(&twin));
        }
    }
    let siblings: Vec<PathBuf> =
        std::fs::read_dir(parent).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    Ok(siblings
        .iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("nvme")))
        .filter(|p| read_u64(p.join("nsid")) == Some(u64::from(nsid)))
        .find_map(|p| block_dev(p)))
}

/// A namespace disk's sysfs directory -> its /dev node, when that node is the same device.
fn block_dev(sys: &Path) -> Option<BlockDev> {
    let rdev = parse_devno(&read_sys(sys.join("dev"))?)?;
    let dev = Path::new("/dev").join(sys.file_name()?);
    let md = std::fs::metadata(&dev).ok()?;
    let same = md.file_type().is_block_device() && (libc::major(md.rdev()), libc::minor(md.rdev())) == rdev;
    same.then(|| BlockDev { dev, rdev, sys: sys.to_path_buf() })
}

fn is_permission(e: &IdentifyError) -> bool {
    matches!(e, IdentifyError::Io(io) if matches!(io.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)))
}

/// Identify and sysfs together, into the probe.
fn describe(path: &Path, file: &File, nsid: u32, block: Option<&BlockDev>) -> Result<NvmeProbe> {
    let mut p = NvmeProbe {
        backend: "nvme".into(),
        nsid,
        block_device: block.map(|b| b.dev.display().to_string()),
        fused_host_path: false,
        fused_host_path_basis: FUSED_HOST_PATH_BASIS.into(),
        poll_queues: read_u64("/sys/module/nvme/parameters/poll_queues").map(|v| v as u32),
        io_poll: block.and_then(|b| read_u64(b.sys.join("queue/io_poll"))).map(|v| v != 0),
        max_transfer_bytes: block.and_then(|b| read_u64(b.sys.join("queue/max_hw_sectors_kb"))).map(|kb| kb * 1024),
        kernel: blk::kernel_release(),
        ..Default::default()
    };
    let identified = identify_controller(file.as_fd()).and_then(|c| Ok((c, identify_namespace(file.as_fd(), nsid)?)));
    match identified {
        Ok((c, n)) => fill_identify(path, &mut p, &c, &n)?,
        Err(e) => fill_without_identify(path, file, &mut p, block, e)?,
    }
    Ok(p)
}

fn fill_identify(path: &Path, p: &mut NvmeProbe, c: &IdentifyController, n: &IdentifyNamespace) -> Result<()> {
    let lbs = n.logical_block_size().ok_or_else(|| {
        Error::Device(format!(
            "{}: Identify Namespace {} reports no usable LBA format (FLBAS {:#x}); check the namespace's format",
            path.display(),
            p.nsid,
            n.flbas
        ))
    })?;
    p.size_bytes = n.nsze.checked_mul(u64::from(lbs)).ok_or_else(|| {
        Error::Device(format!("{}: Identify Namespace reports an impossible size ({} blocks)", path.display(), n.nsze))
    })?;
    p.logical_block_size = lbs;
    p.model = Some(c.model.clone()).filter(|s| !s.is_empty());
    p.serial = Some(c.serial.clone()).filter(|s| !s.is_empty());
    p.firmware = Some(c.firmware.clone()).filter(|s| !s.is_empty());
    p.compare = Some(c.supports_compare());
    p.fused_compare_write = Some(c.supports_fused_compare_write());
    p.acwu = Some(c.acwu);
    p.nacwu = Some(n.nacwu);
    p.atomic_compare_write_blocks = n.nacwu_blocks().or_else(|| c.acwu_blocks());
    p.mdts = Some(c.mdts);
    p.max_transfer_bytes = p.max_transfer_bytes.or_else(|| c.max_transfer_bytes(4096));
    p.metadata_bytes = n.current_format().map(|f| f.ms);
    Ok(())
}

/// Identify failed: take the geometry from the block device, or fail naming the privilege.
fn fill_without_identify(
    path: &Path,
    file: &File,
    p: &mut NvmeProbe,
    block: Option<&BlockDev>,
    e: IdentifyError,
) -> Result<()> {
    let shown = path.display();
    let why = if is_permission(&e) {
        format!("NVMe Identify was refused ({e}): probing needs CAP_SYS_ADMIN on this kernel")
    } else {
        format!("NVMe Identify failed ({e})")
    };
    let geometry = block.and_then(|b| {
        let lbs = read_u64(b.sys.join("queue/logical_block_size"))? as u32;
        Some((lbs, read_u64(b.sys.join("size"))? * 512))
    });
    let Some((lbs, size)) = geometry.filter(|&(lbs, _)| lbs >= 512) else {
        let tail = "and it has no block device to read the size from";
        return Err(if is_permission(&e) {
            Error::Permission(format!("{shown}: {why}, {tail}; run as root"))
        } else {
            Error::Device(format!("{shown}: {why}, {tail}; check the device (dmesg)"))
        });
    };
    eprintln!(
        "atsbench: {shown}: {why}; using the block device's geometry, Compare support unknown (run as root to probe)"
    );
    p.logical_block_size = lbs;
    p.size_bytes = size;
    if let Some(dev) = char_sysfs(file).and_then(|s| s.parent().map(Path::to_path_buf)) {
        p.model = read_sys(dev.join("model"));
        p.serial = read_sys(dev.join("serial"));
        p.firmware = read_sys(dev.join("firmware_rev"));
    }
    p.identify_error = Some(why);
    Ok(())
}

/// Refuse to write to a namespace whose block device is mounted or holds data.
fn check_safe(path: &Path, block: Option<&BlockDev>, p: &NvmeProbe) -> Result<()> {
    let Some(b) = block else {
        return Err(Error::Refused(format!(
            "{}: refusing to write: cannot find the namespace's block device (/dev/nvmeXnY) to check it for data; \
             pass --force to write anyway",
            path.display()
        )));
    };
    // O_DIRECT: passthrough writes bypass the block device's page cache, so never trust it.
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&b.dev)
        .map_err(|e| Error::from_io(&b.dev, "opening it to check it for data", &e))?;
    match safety::check_block_device(&b.dev, &f, b.rdev, p.logical_block_size, p.size_bytes) {
        Some(found) => Err(Error::Refused(format!(
            "{}: refusing to write: its block device {} holds {found}; pick another namespace, or pass --force to \
             overwrite it",
            path.display(),
            b.dev.display()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_round_trips_through_json() {
        let p = NvmeProbe {
            backend: "nvme".into(),
            model: Some("QEMU NVMe Ctrl".into()),
            logical_block_size: 4096,
            size_bytes: 1 << 27,
            nsid: 2,
            compare: Some(true),
            fused_compare_write: Some(false),
            fused_host_path_basis: FUSED_HOST_PATH_BASIS.into(),
            poll_queues: Some(0),
            ..Default::default()
        };
        let v = serde_json::to_value(&p).unwrap();
        assert!(v.get("identify_error").is_none());
        assert_eq!(v["fused_host_path"], false);
        assert_eq!(serde_json::from_value::<NvmeProbe>(v).unwrap(), p);
    }

    #[test]
    fn polling_needs_poll_queues() {
        let mut p = NvmeProbe { poll_queues: Some(0), ..Default::default() };
        assert!(!p.can_poll());
        p.poll_queues = Some(2);
        assert!(p.can_poll());
        p = NvmeProbe { poll_queues: None, io_poll: Some(true), ..Default::default() };
        assert!(p.can_poll());
    }

    #[test]
    fn devno_parses() {
        assert_eq!(parse_devno("259:1"), Some((259, 1)));
        assert_eq!(parse_devno("259"), None);
    }
}
