//! Refuse to write to a block device that is in use or holds data someone may want.
//!
//! Checked, in order: mounted (itself or a partition), used as swap, held by device-mapper or
//! md, has partitions, holds a partition table, holds a known filesystem or volume signature.

use crate::sys::mem::Slab;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes read from the start of the device to look for signatures (VMFS's header is at 1 MiB).
const PROBE_BYTES: usize = (1 << 20) + 4096;

/// A known on-disk signature: its name, byte offset and bytes.
struct Signature {
    name: &'static str,
    offset: usize,
    magic: &'static [u8],
}

const SIGNATURES: &[Signature] = &[
    Signature { name: "an ext2/3/4 filesystem", offset: 1080, magic: &[0x53, 0xEF] },
    Signature { name: "an XFS filesystem", offset: 0, magic: b"XFSB" },
    Signature { name: "a btrfs filesystem", offset: 65600, magic: b"_BHRfS_M" },
    Signature { name: "a swap area", offset: 4086, magic: b"SWAPSPACE2" },
    Signature { name: "a swap area", offset: 4086, magic: b"SWAP-SPACE" },
    Signature { name: "a LUKS volume", offset: 0, magic: b"LUKS\xba\xbe" },
    Signature { name: "an NTFS filesystem", offset: 3, magic: b"NTFS    " },
    Signature { name: "a FAT filesystem", offset: 54, magic: b"FAT1" },
    Signature { name: "a FAT32 filesystem", offset: 82, magic: b"FAT32   " },
    Signature { name: "an LVM2 physical volume", offset: 512, magic: b"LABELONE" },
    Signature { name: "an md RAID member", offset: 4096, magic: &[0xfc, 0x4e, 0x2b, 0xa9] },
    Signature { name: "an ISO 9660 filesystem", offset: 32769, magic: b"CD001" },
    Signature { name: "a squashfs filesystem", offset: 0, magic: b"hsqs" },
    Signature { name: "a VMFS volume", offset: 1 << 20, magic: &[0x0d, 0xd0, 0x01, 0xc0] },
];

/// What makes `dev` unsafe to write, or None. `rdev` is its (major, minor).
pub fn check_block_device(path: &Path, file: &File, rdev: (u32, u32), lbs: u32, size: u64) -> Option<String> {
    let sys = format!("/sys/dev/block/{}:{}", rdev.0, rdev.1);
    let parts = partitions(&sys);
    let mut devs = vec![rdev];
    devs.extend(parts.iter().map(|(_, d)| *d));
    if let Some(m) = mounted(&devs) {
        return Some(m);
    }
    if let Some(s) = swap(path) {
        return Some(s);
    }
    if let Some(h) = holders(&sys) {
        return Some(h);
    }
    if !parts.is_empty() {
        let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
        return Some(format!("partitions ({})", names.join(", ")));
    }
    let head = read_head(file, lbs, size)?;
    detect_signature(&head, lbs)
}

/// Look for a partition table or a filesystem signature in the first bytes of a device.
pub fn detect_signature(head: &[u8], lbs: u32) -> Option<String> {
    let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
    if let Some(s) = SIGNATURES.iter().find(|s| at(s.offset, s.magic)) {
        return Some(format!("{} (signature at byte {})", s.name, s.offset));
    }
    if at(lbs as usize, b"EFI PART") || at(512, b"EFI PART") {
        return Some("a GPT partition table".into());
    }
    let mbr_entries = head.get(446..510).is_some_and(|e| e.chunks(16).any(|p| p[4] != 0));
    if at(510, &[0x55, 0xAA]) && mbr_entries {
        return Some("an MBR partition table".into());
    }
    None
}

fn read_head(file: &File, lbs: u32, size: u64) -> Option<Vec<u8>> {
    let len = (PROBE_BYTES as u64).min(size) as usize;
    let len = len / lbs as usize * lbs as usize;
    let mut slab = Slab::new(len);
    let buf = slab.range_mut(0, len);
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], done as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    Some(buf[..done].to_vec())
}

fn partitions(sys: &str) -> Vec<(String, (u32, u32))> {
    let Ok(dir) = std::fs::read_dir(sys) else { return Vec::new() };
    dir.flatten()
        .filter(|e| e.path().join("partition").exists())
        .filter_map(|e| {
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), parse_devno(&dev)?))
        })
        .collect()
}

fn parse_devno(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn mounted(devs: &[(u32, u32)]) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let dev = parse_devno(f.get(2)?)?;
        devs.contains(&dev).then(|| format!("a mounted filesystem (on {})", f.get(4).unwrap_or(&"?")))
    })
}

fn swap(path: &Path) -> Option<String> {
    let swaps = std::fs::read_to_string("/proc/swaps").ok()?;
    let canon = std::fs::canonicalize(path).ok()?;
    swaps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .any(|d| std::fs::canonicalize(d).ok().as_deref() == Some(canon.as_path()))
        .then(|| "an active swap area".to_string())
}

fn holders(sys: &str) -> Option<String> {
    let names: Vec<String> = std::fs::read_dir(format!("{sys}/holders"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    (!names.is_empty()).then(|| format!("holders ({}): it is part of a device-mapper or md device", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> Vec<u8> {
        vec![0u8; 70000]
    }

    #[test]
    fn blank_and_atsbench_data_pass() {
        assert_eq!(detect_signature(&blank(), 512), None);
        let mut b = blank();
        b[..8].copy_from_slice(b"ATSBLOCK");
        assert_eq!(detect_signature(&b, 512), None);
    }

    #[test]
    fn filesystems_are_found() {
        let mut b = blank();
        b[1080..1082].copy_from_slice(&[0x53, 0xEF]);
        assert!(detect_signature(&b, 512).unwrap().contains("ext2/3/4"));
        let mut b = blank();
        b[..4].copy_from_slice(b"XFSB");
        assert!(detect_signature(&b, 512).unwrap().contains("XFS"));
        let mut b = blank();
        b[65600..65608].copy_from_slice(b"_BHRfS_M");
        assert!(detect_signature(&b, 4096).unwrap().contains("btrfs"));
    }

    #[test]
    fn partition_tables_are_found() {
        let mut b = blank();
        b[512..520].copy_from_slice(b"EFI PART");
        assert!(detect_signature(&b, 512).unwrap().contains("GPT"));
        let mut b = blank();
        b[4096..4104].copy_from_slice(b"EFI PART");
        assert!(detect_signature(&b, 4096).unwrap().contains("GPT"));
        let mut b = blank();
        b[510] = 0x55;
        b[511] = 0xAA;
        assert_eq!(detect_signature(&b, 512), None, "a boot signature without partitions is not a table");
        b[446 + 4] = 0x83;
        assert!(detect_signature(&b, 512).unwrap().contains("MBR"));
    }

    #[test]
    fn short_heads_do_not_panic() {
        assert_eq!(detect_signature(&[0u8; 10], 512), None);
    }
}
