//! What sysfs says about a device: model, firmware, serial, driver.

use super::TargetInfo;
use std::path::{Path, PathBuf};

fn read_trim(p: impl AsRef<Path>) -> Option<String> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim().trim_matches('\0').trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn link_name(p: impl AsRef<Path>) -> Option<String> {
    let target = std::fs::read_link(p).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// The sysfs subsystem of a character device: `nvme-generic`, `scsi_generic`, ...
pub fn char_subsystem(major: u32, minor: u32) -> Option<String> {
    link_name(format!("/sys/dev/char/{major}:{minor}/subsystem"))
}

/// The name /proc/devices gives a block major number (`loop`, `nullb`, `sd`, `blkext`...).
fn block_major_name(major: u32) -> Option<String> {
    let devices = std::fs::read_to_string("/proc/devices").ok()?;
    let block = devices.split("Block devices:").nth(1)?;
    block.lines().find_map(|l| {
        let (num, name) = l.trim().split_once(' ')?;
        (num.parse::<u32>().ok()? == major).then(|| name.trim().to_string())
    })
}

/// The driver bound to the device behind a sysfs block directory, walking up through the
/// controller for NVMe namespaces.
fn driver_of(dev: &Path) -> Option<String> {
    [dev.join("device/driver"), dev.join("device/device/driver")].iter().find_map(link_name)
}

/// The SCSI unit serial number from a raw VPD page 0x80 file.
fn vpd80_serial(p: PathBuf) -> Option<String> {
    let raw = std::fs::read(p).ok()?;
    let len = u16::from_be_bytes([*raw.get(2)?, *raw.get(3)?]) as usize;
    let s = String::from_utf8_lossy(raw.get(4..4 + len.min(raw.len().saturating_sub(4)))?).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The queue depth of the SCSI device behind an sg node or a disk (`device/queue_depth`);
/// None for other devices and for files.
pub fn queue_depth(path: &Path) -> Option<u32> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata(path).ok()?;
    let (major, minor) = (libc::major(md.rdev()), libc::minor(md.rdev()));
    let class = match md.file_type() {
        t if t.is_char_device() => "char",
        t if t.is_block_device() => "block",
        _ => return None,
    };
    read_trim(format!("/sys/dev/{class}/{major}:{minor}/device/queue_depth"))?.parse().ok()
}

/// Fill model, firmware, serial, driver and backing file for a block device.
pub fn describe_block(rdev: (u32, u32), info: &mut TargetInfo) {
    let dev = PathBuf::from(format!("/sys/dev/block/{}:{}", rdev.0, rdev.1));
    info.model = read_trim(dev.join("device/model"));
    info.firmware = read_trim(dev.join("device/firmware_rev")).or_else(|| read_trim(dev.join("device/rev")));
    info.serial = read_trim(dev.join("device/serial"))
        .or_else(|| read_trim(dev.join("serial")))
        .or_else(|| vpd80_serial(dev.join("device/vpd_pg80")));
    info.driver = driver_of(&dev).or_else(|| block_major_name(rdev.0));
    info.backing_file = read_trim(dev.join("loop/backing_file"));
}
