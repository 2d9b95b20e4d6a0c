//! Opening and describing SCSI generic devices (/dev/sgN): INQUIRY, the unit serial number,
//! Device Identification and Block Limits VPD pages (and the other sg nodes of the same LUN), READ CAPACITY(16), a no-op COMPARE AND WRITE (0 blocks) to see
//! whether the device implements it and this process may send it, the transports this kernel
//! offers, and the data-safety check of the disk behind it.

use super::{safety, Probe, Target, TargetInfo};
use crate::backend::scsi::{probe_bsg_uring, BsgProbe, Transport};
use crate::error::{Error, Result};
use crate::proto::scsi::{
    self, BlockLimits, DeviceIdentification, Inquiry, ReadCapacity16, ScsiOutcome, Sense, KEY_ILLEGAL_REQUEST,
};
pub use crate::results::{DesignatorInfo, ScsiProbe};
use crate::sys::sg::{self, DataBuf, SgIoHdr, SENSE_LEN};
use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Timeout of the probing commands.
const PROBE_TIMEOUT_MS: u32 = 10_000;

/// Why a probing command failed.
#[derive(Debug)]
enum CmdError {
    /// The ioctl itself failed (EPERM, EINVAL, ...).
    Os(std::io::Error),
    /// The device answered with an error status.
    Scsi { what: String, sense: Option<Sense> },
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CmdError::Os(e) => write!(f, "{e}"),
            CmdError::Scsi { what, .. } => f.write_str(what),
        }
    }
}

impl CmdError {
    fn is_illegal(&self, asc: u8) -> bool {
        matches!(self, CmdError::Scsi { sense: Some(s), .. } if s.key == KEY_ILLEGAL_REQUEST && s.asc == asc)
    }
}

/// Run `cdb` synchronously with `data`.
fn run(file: &File, cdb: &[u8], data: DataBuf<'_>) -> Result<(), CmdError> {
    let mut sense = [0u8; SENSE_LEN];
    let mut h = SgIoHdr::new(cdb, data, &mut sense, PROBE_TIMEOUT_MS).map_err(CmdError::Os)?;
    sg::sg_io(file.as_fd(), &mut h).map_err(CmdError::Os)?;
    let c = h.completion();
    match c.outcome(&sense) {
        ScsiOutcome::Good => Ok(()),
        ScsiOutcome::Miscompare { .. } => {
            Err(CmdError::Scsi { what: "unexpected MISCOMPARE".into(), sense: Sense::parse(&sense).ok() })
        }
        ScsiOutcome::Error(what) => {
            let n = usize::from(c.sb_len_wr).min(SENSE_LEN);
            Err(CmdError::Scsi { what, sense: Sense::parse(&sense[..n]).ok() })
        }
    }
}

/// Run a data-in command returning up to `len` bytes.
fn data_in(file: &File, cdb: &[u8], len: usize) -> Result<Vec<u8>, CmdError> {
    let mut buf = vec![0u8; len];
    run(file, cdb, DataBuf::FromDevice(&mut buf))?;
    Ok(buf)
}

fn vpd(file: &File, page: u8, len: u16) -> Option<Vec<u8>> {
    data_in(file, &scsi::inquiry(true, page, len), len.into()).ok()
}

/// What the device says about itself.
struct Identity {
    inquiry: Inquiry,
    serial: Option<String>,
    devid: Option<DeviceIdentification>,
    limits: Option<BlockLimits>,
    capacity: ReadCapacity16,
}

fn identify(path: &Path, file: &File) -> Result<Identity> {
    let p = path.display();
    let std = data_in(file, &scsi::inquiry(false, 0, 96), 96)
        .map_err(|e| Error::Device(format!("{p}: INQUIRY failed: {e}; check that the device is online")))?;
    let inquiry = Inquiry::parse(&std).map_err(|e| Error::Device(format!("{p}: INQUIRY data: {e}")))?;
    if inquiry.peripheral_qualifier != 0 || inquiry.device_type != 0 {
        return Err(Error::Target(format!(
            "{p}: a SCSI device of type {:#04x} (qualifier {}), not a disk; give the sg node of a disk (type 0)",
            inquiry.device_type, inquiry.peripheral_qualifier
        )));
    }
    let rc = data_in(file, &scsi::read_capacity16(scsi::READ_CAPACITY_16_LEN as u32), scsi::READ_CAPACITY_16_LEN)
        .map_err(|e| Error::Device(format!("{p}: READ CAPACITY(16) failed: {e}")))?;
    let capacity =
        ReadCapacity16::parse(&rc).map_err(|e| Error::Device(format!("{p}: READ CAPACITY(16) data: {e}")))?;
    if capacity.block_len == 0 || capacity.block_len % 512 != 0 {
        return Err(Error::Device(format!("{p}: READ CAPACITY(16) reports {}-byte blocks", capacity.block_len)));
    }
    Ok(Identity {
        inquiry,
        serial: vpd(file, scsi::VPD_UNIT_SERIAL, 252).and_then(|b| scsi::parse_unit_serial(&b).ok()),
        devid: vpd(file, scsi::VPD_DEVICE_IDENTIFICATION, 1024).and_then(|b| DeviceIdentification::parse(&b).ok()),
        limits: vpd(file, scsi::VPD_BLOCK_LIMITS, 64).and_then(|b| BlockLimits::parse(&b).ok()),
        capacity,
    })
}

/// COMPARE AND WRITE of 0 blocks: a no-op that returns GOOD where the command exists (SBC-4).
fn caw_noop(file: &File) -> Result<(), CmdError> {
    run(file, &scsi::compare_and_write(0, 0, false, false, 0), DataBuf::None)
}

fn caw_error(path: &Path, e: &CmdError) -> Option<Error> {
    let p = path.display();
    match e {
        CmdError::Os(os) if matches!(os.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
            Some(Error::Permission(format!(
                "{p}: the kernel refused COMPARE AND WRITE ({os}); it needs CAP_SYS_RAWIO: run as root \
                 (or grant the capability) with the device open read-write"
            )))
        }
        e if e.is_illegal(0x20) => Some(Error::Unsupported(format!(
            "{p}: the device does not implement COMPARE AND WRITE (ILLEGAL REQUEST, invalid command operation code); \
             use a target that does, or the block backend's host-emulated ATS on its /dev/sdX"
        ))),
        _ => None,
    }
}

/// Check that the device implements COMPARE AND WRITE and that this process may send it;
/// returns its MAXIMUM COMPARE AND WRITE LENGTH in blocks where the Block Limits page gives
/// one. A length of 0 means "not supported" in SBC-4, but scsi_debug reports 0 and implements
/// the command, so the 0-block COMPARE AND WRITE decides: refused, it is unsupported.
pub fn check_caw(path: &Path, file: &File) -> Result<Option<u8>> {
    let limits = vpd(file, scsi::VPD_BLOCK_LIMITS, 64).and_then(|b| BlockLimits::parse(&b).ok());
    if let Err(e) = caw_noop(file) {
        if let Some(err) = caw_error(path, &e) {
            return Err(err);
        }
        if limits.is_some_and(|l| !l.supports_compare_and_write()) {
            return Err(Error::Unsupported(format!(
                "{}: no COMPARE AND WRITE: MAXIMUM COMPARE AND WRITE LENGTH is 0 and a 0-block one failed ({e}); \
                 use a target that implements it",
                path.display()
            )));
        }
    }
    Ok(limits.map(|l| l.max_compare_and_write_len).filter(|&m| m > 0))
}

/// The sysfs directory of the SCSI device behind an sg node.
fn scsi_device_dir(file: &File) -> Option<PathBuf> {
    let rdev = file.metadata().ok()?.rdev();
    let dir = PathBuf::from(format!("/sys/dev/char/{}:{}/device", libc::major(rdev), libc::minor(rdev)));
    dir.exists().then_some(dir)
}

fn first_entry(dir: PathBuf) -> Option<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).ok()?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names.into_iter().next()
}

/// The bsg node of the sg device at `sg_path` (/dev/bsg/H:C:T:L), where sysfs names one.
pub fn bsg_node(sg_path: &Path) -> Option<PathBuf> {
    let file = File::open(sg_path).ok()?;
    let name = first_entry(scsi_device_dir(&file)?.join("bsg"))?;
    Some(PathBuf::from("/dev/bsg").join(name))
}

fn designators(id: &DeviceIdentification) -> Vec<DesignatorInfo> {
    let info = |d: &scsi::Designator| DesignatorInfo {
        association: d.association.name().into(),
        kind: d.kind.name().into(),
        value: d.display(),
    };
    id.designators.iter().map(info).collect()
}

/// The other sg nodes whose logical unit has the name `lu_name` (other paths to the same LUN),
/// from the Device Identification page the kernel keeps in sysfs (`vpd_pg83`): no command sent.
fn other_paths(own: Option<&Path>, lu_name: &str) -> Vec<String> {
    let own = own.and_then(|d| std::fs::canonicalize(d).ok());
    let Ok(entries) = std::fs::read_dir("/sys/class/scsi_generic") else { return Vec::new() };
    let mut found: Vec<String> = entries
        .flatten()
        .filter(|e| std::fs::canonicalize(e.path().join("device")).ok() != own)
        .filter(|e| {
            let page = std::fs::read(e.path().join("device/vpd_pg83")).unwrap_or_default();
            DeviceIdentification::parse(&page).ok().and_then(|p| p.lu_name()).as_deref() == Some(lu_name)
        })
        .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()))
        .collect();
    found.sort();
    found
}

/// The low-level driver (the SCSI host's proc_name, e.g. scsi_debug, virtio_scsi, mpt3sas).
fn lld(dev: &Path) -> Option<String> {
    let canon = std::fs::canonicalize(dev).ok()?;
    let host = canon
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .find(|c| c.strip_prefix("host").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))?;
    let name = std::fs::read_to_string(format!("/sys/class/scsi_host/{host}/proc_name")).ok()?;
    let name = name.trim();
    (!name.is_empty() && name != "<NULL>").then(|| name.to_string())
}

/// The disk (sdX) the sd driver made of this device, if any.
fn block_device(dev: &Path) -> Option<String> {
    first_entry(dev.join("block"))
}

/// Refuse to write to the device when its disk holds data or is in use (unless `force`).
/// The disk is read with O_DIRECT: atsbench's own writes go through sg, around its page cache.
fn check_disk(path: &Path, disk: &str, lbs: u32, size: u64) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let node = PathBuf::from("/dev").join(disk);
    let direct = OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(&node);
    let Ok(f) = direct.or_else(|_| File::open(&node)) else { return Ok(()) };
    let Ok(md) = f.metadata() else { return Ok(()) };
    let rdev = (libc::major(md.rdev()), libc::minor(md.rdev()));
    match safety::check_block_device(&node, &f, rdev, lbs, size) {
        None => Ok(()),
        Some(found) => Err(Error::Refused(format!(
            "{}: refusing to write: its disk {} holds {found}; pick another device, or pass --force to overwrite it",
            path.display(),
            node.display()
        ))),
    }
}

/// Open the sg device read-write (read-only when only probing and read-write is refused);
/// says whether it is open read-write.
fn open_file(path: &Path, writes: bool) -> Result<(File, bool)> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => Ok((f, true)),
        Err(e) if !writes && matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EROFS)) => {
            File::open(path).map(|f| (f, false)).map_err(|e| Error::from_io(path, "opening it", &e))
        }
        Err(e) => Err(Error::from_io(path, "opening it read-write", &e)),
    }
}

fn caw_status(file: &File, read_write: bool, limits: Option<BlockLimits>) -> String {
    let zero = limits.is_some_and(|l| !l.supports_compare_and_write());
    if !read_write {
        return "not checked (the device is open read-only)".into();
    }
    match caw_noop(file) {
        Ok(()) if zero => "supported (a 0-block one succeeds, although MAXIMUM COMPARE AND WRITE LENGTH is 0)".into(),
        Ok(()) => "supported".into(),
        Err(e) if e.is_illegal(0x20) => "unsupported (ILLEGAL REQUEST: invalid command operation code)".into(),
        Err(CmdError::Os(e)) if e.raw_os_error() == Some(libc::EPERM) => {
            format!("refused by the kernel ({e}): needs CAP_SYS_RAWIO")
        }
        Err(e) if zero => format!("unsupported (MAXIMUM COMPARE AND WRITE LENGTH 0; a 0-block one failed: {e})"),
        Err(e) => format!("unknown: a 0-block COMPARE AND WRITE failed: {e}"),
    }
}

fn version_string(v: i32) -> String {
    format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
}

fn transports(bsg: &BsgProbe) -> (Vec<&'static str>, &'static str, String) {
    match bsg {
        BsgProbe::Available(node) => (
            vec![Transport::BsgUring.name(), Transport::Sg.name(), Transport::SgSync.name()],
            Transport::BsgUring.name(),
            format!("available on {node}"),
        ),
        BsgProbe::Unavailable(why) => {
            (vec![Transport::Sg.name(), Transport::SgSync.name()], Transport::Sg.name(), format!("unavailable: {why}"))
        }
    }
}

/// Open /dev/sgN, describe it and, when `writes`, check that it is safe to write.
pub fn open(path: &Path, writes: bool, force: bool) -> Result<Target> {
    let p = path.display();
    let (file, read_write) = open_file(path, writes)?;
    let version = sg::sg_version(file.as_fd()).map_err(|e| {
        Error::Target(format!("{p}: not a SCSI generic device (SG_GET_VERSION_NUM: {e}); give a /dev/sgN node"))
    })?;
    let id = identify(path, &file)?;
    let lbs = id.capacity.block_len;
    let max_caw = id.limits.map(|l| l.max_compare_and_write_len);
    let sysdev = scsi_device_dir(&file);
    let disk = sysdev.as_deref().and_then(block_device);
    if writes && !force {
        if let Some(d) = &disk {
            check_disk(path, d, lbs, id.capacity.bytes())?;
        }
    }
    let lld = sysdev.as_deref().and_then(lld);
    let bsg_path = bsg_node(path);
    let bsg = probe_bsg_uring(path, bsg_path.as_deref());
    let (available, default, bsg_uring) = transports(&bsg);
    let inq = &id.inquiry;
    let lu_name = id.devid.as_ref().and_then(DeviceIdentification::lu_name);
    let probe = ScsiProbe {
        backend: "scsi".into(),
        vendor: inq.vendor.clone(),
        product: inq.product.clone(),
        revision: inq.revision.clone(),
        firmware: inq.revision.clone(),
        serial: id.serial.clone(),
        other_paths: lu_name.as_deref().map(|n| other_paths(sysdev.as_deref(), n)).unwrap_or_default(),
        lu_name,
        device_identification: id.devid.as_ref().map(designators).unwrap_or_default(),
        logical_block_size: lbs,
        physical_block_size: id.capacity.physical_block_len(),
        size_bytes: id.capacity.bytes(),
        blocks: id.capacity.blocks,
        max_compare_write_blocks: max_caw,
        compare_and_write: caw_status(&file, read_write, id.limits),
        sg_version: version_string(version),
        lld: lld.clone(),
        block_device: disk.as_ref().map(|d| format!("/dev/{d}")),
        bsg_node: bsg_path.map(|b| b.display().to_string()),
        transports_available: available.into_iter().map(String::from).collect(),
        default_transport: default.into(),
        bsg_uring,
    };
    let info = TargetInfo {
        path: p.to_string(),
        backend: "scsi".into(),
        size_bytes: id.capacity.bytes(),
        logical_block_size: lbs,
        physical_block_size: u32::try_from(id.capacity.physical_block_len()).ok(),
        model: Some(format!("{} {}", inq.vendor, inq.product).trim().to_string()),
        firmware: Some(inq.revision.clone()),
        serial: id.serial,
        driver: Some(match &lld {
            Some(l) => format!("sg ({l})"),
            None => "sg".into(),
        }),
        kernel: crate::sys::blk::kernel_release(),
        probe: Some(Probe::Scsi(probe)),
        ..Default::default()
    };
    if info.size_bytes < u64::from(lbs) {
        return Err(Error::Target(format!("{p}: reports no capacity; give a device with at least one block")));
    }
    let mut target = Target::new(path.to_path_buf(), file, super::BackendKind::Scsi, info);
    target.bsg = Some(bsg);
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sg_versions_read_like_the_driver() {
        assert_eq!(version_string(30536), "3.5.36");
        assert_eq!(version_string(40001), "4.0.1");
    }

    #[test]
    fn transports_follow_the_bsg_probe() {
        let (list, default, why) = transports(&BsgProbe::Unavailable("no passthrough".into()));
        assert_eq!((list, default), (vec!["sg", "sg-sync"], "sg"));
        assert_eq!(why, "unavailable: no passthrough");
        let (list, default, _) = transports(&BsgProbe::Available("/dev/bsg/0:0:0:0".into()));
        assert_eq!((list[0], default), ("bsg-uring", "bsg-uring"));
    }

    #[test]
    fn caw_errors_map_to_classes() {
        let p = Path::new("/dev/sg9");
        let eperm = CmdError::Os(std::io::Error::from_raw_os_error(libc::EPERM));
        let e = caw_error(p, &eperm).unwrap();
        assert_eq!(e.exit_code(), 4);
        assert!(e.to_string().contains("CAP_SYS_RAWIO"));
        let sense = Sense::parse(&[0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x20, 0]).ok();
        let illegal = CmdError::Scsi { what: "ILLEGAL REQUEST".into(), sense };
        assert_eq!(caw_error(p, &illegal).unwrap().exit_code(), 7);
        let other = CmdError::Scsi { what: "NOT READY".into(), sense: None };
        assert!(caw_error(p, &other).is_none());
    }

    #[test]
    fn non_sg_devices_are_refused() {
        let e = open(Path::new("/dev/null"), false, false).err().unwrap();
        assert_eq!(e.exit_code(), 3, "{e}");
        assert!(e.to_string().contains("not a SCSI generic device"), "{e}");
    }
}
