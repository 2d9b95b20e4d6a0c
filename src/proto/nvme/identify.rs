//! Identify Controller and Identify Namespace parsers (offsets from the NVM Express Base and
//! NVM Command Set specifications).

use super::{le16, le32, le64, need, ParseError, IDENTIFY_LEN};
use crate::proto::ascii_field;

/// Fields of the Identify Controller data structure (CNS 01h) that atsbench uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentifyController {
    /// Serial Number (bytes 23:04).
    pub serial: String,
    /// Model Number (bytes 63:24).
    pub model: String,
    /// Firmware Revision (bytes 71:64).
    pub firmware: String,
    /// Maximum Data Transfer Size (byte 77): a power of two in units of CAP.MPSMIN; 0 = no limit.
    pub mdts: u8,
    /// Controller ID (bytes 79:78).
    pub cntlid: u16,
    /// Version (bytes 83:80): major in 31:16, minor in 15:8, tertiary in 7:0.
    pub ver: u32,
    /// Number of Namespaces (bytes 519:516).
    pub nn: u32,
    /// Optional NVM Command Support (bytes 521:520); bit 0 = Compare.
    pub oncs: u16,
    /// Fused Operation Support (bytes 523:522); bit 0 = Compare and Write.
    pub fuses: u16,
    /// Atomic Write Unit Normal (bytes 527:526), 0's based, in logical blocks.
    pub awun: u16,
    /// Atomic Write Unit Power Fail (bytes 529:528), 0's based, in logical blocks.
    pub awupf: u16,
    /// Atomic Compare & Write Unit (bytes 533:532), raw 0's based value; see `acwu_blocks`.
    pub acwu: u16,
}

impl IdentifyController {
    /// Parses a 4096-byte Identify Controller data structure.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        need("Identify Controller", b, IDENTIFY_LEN)?;
        Ok(Self {
            serial: ascii_field(&b[4..24]),
            model: ascii_field(&b[24..64]),
            firmware: ascii_field(&b[64..72]),
            mdts: b[77],
            cntlid: le16(b, 78),
            ver: le32(b, 80),
            nn: le32(b, 516),
            oncs: le16(b, 520),
            fuses: le16(b, 522),
            awun: le16(b, 526),
            awupf: le16(b, 528),
            acwu: le16(b, 532),
        })
    }

    /// ONCS bit 0: the controller supports the Compare command.
    pub fn supports_compare(&self) -> bool {
        self.oncs & 1 != 0
    }

    /// FUSES bit 0: the controller supports the fused Compare and Write operation.
    pub fn supports_fused_compare_write(&self) -> bool {
        self.fuses & 1 != 0
    }

    /// Atomic unit of a fused Compare and Write, in logical blocks.
    ///
    /// ACWU is 0's based (0h means one block), but the specification also requires 0h when
    /// fused Compare and Write is not supported, so this is `None` unless FUSES bit 0 is set.
    pub fn acwu_blocks(&self) -> Option<u32> {
        self.supports_fused_compare_write().then(|| u32::from(self.acwu) + 1)
    }

    /// Atomic Write Unit Normal in logical blocks (0's based: 0h means one block).
    pub fn awun_blocks(&self) -> u32 {
        u32::from(self.awun) + 1
    }

    /// Atomic Write Unit Power Fail in logical blocks (0's based: 0h means one block).
    pub fn awupf_blocks(&self) -> u32 {
        u32::from(self.awupf) + 1
    }

    /// Maximum data transfer in bytes for the given CAP.MPSMIN page size (usually 4096);
    /// `None` when MDTS is 0 (no limit reported). Saturates instead of overflowing.
    pub fn max_transfer_bytes(&self, mps_min: u32) -> Option<u64> {
        if self.mdts == 0 {
            return None;
        }
        let pages = 1u64.checked_shl(u32::from(self.mdts)).unwrap_or(u64::MAX);
        Some(pages.saturating_mul(u64::from(mps_min)))
    }
}

/// One LBA Format entry of Identify Namespace (4 bytes each from byte 128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LbaFormat {
    /// Metadata Size in bytes (bits 15:0).
    pub ms: u16,
    /// LBA Data Size as log2 of bytes (bits 23:16); 0 means the format is not available.
    pub lbads: u8,
    /// Relative Performance (bits 25:24).
    pub rp: u8,
}

impl LbaFormat {
    /// Logical block data size in bytes; `None` when LBADS is outside 9..=31 (unavailable).
    pub fn data_size(&self) -> Option<u32> {
        (9..=31).contains(&self.lbads).then(|| 1u32 << self.lbads)
    }
}

/// Fields of the Identify Namespace data structure (CNS 00h) that atsbench uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentifyNamespace {
    /// Namespace Size in logical blocks (bytes 7:0).
    pub nsze: u64,
    /// Namespace Capacity in logical blocks (bytes 15:8).
    pub ncap: u64,
    /// Namespace Utilization in logical blocks (bytes 23:16).
    pub nuse: u64,
    /// Namespace Features (byte 24); bit 1 = NAWUN/NAWUPF/NACWU are valid.
    pub nsfeat: u8,
    /// Number of LBA Formats (byte 25), 0's based.
    pub nlbaf: u8,
    /// Formatted LBA Size (byte 26): format index bits 3:0 (and 6:5 as bits 5:4).
    pub flbas: u8,
    /// Namespace Atomic Write Unit Normal (bytes 41:40), raw.
    pub nawun: u16,
    /// Namespace Atomic Write Unit Power Fail (bytes 43:42), raw.
    pub nawupf: u16,
    /// Namespace Atomic Compare & Write Unit (bytes 45:44), raw; see `nacwu_blocks`.
    pub nacwu: u16,
    /// The LBA Format entries (NLBAF + 1 of them, at most 64).
    pub lbaf: Vec<LbaFormat>,
}

const LBAF_OFFSET: usize = 128;
const MAX_LBAF: usize = 64;

impl IdentifyNamespace {
    /// Parses a 4096-byte Identify Namespace data structure.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        need("Identify Namespace", b, IDENTIFY_LEN)?;
        let count = (usize::from(b[25]) + 1).min(MAX_LBAF);
        let lbaf = (0..count)
            .map(|i| {
                let off = LBAF_OFFSET + 4 * i;
                LbaFormat { ms: le16(b, off), lbads: b[off + 2], rp: b[off + 3] & 0x3 }
            })
            .collect();
        Ok(Self {
            nsze: le64(b, 0),
            ncap: le64(b, 8),
            nuse: le64(b, 16),
            nsfeat: b[24],
            nlbaf: b[25],
            flbas: b[26],
            nawun: le16(b, 40),
            nawupf: le16(b, 42),
            nacwu: le16(b, 44),
            lbaf,
        })
    }

    /// Index of the current LBA format. FLBAS bits 6:5 are the upper bits of the index only
    /// when more than 16 formats exist (they are reserved otherwise and ignored here).
    pub fn current_format_index(&self) -> usize {
        let low = usize::from(self.flbas & 0x0f);
        if self.lbaf.len() > 16 {
            low | (usize::from((self.flbas >> 5) & 0x3) << 4)
        } else {
            low
        }
    }

    /// The current LBA format, if the index is within the reported formats.
    pub fn current_format(&self) -> Option<&LbaFormat> {
        self.lbaf.get(self.current_format_index())
    }

    /// Logical block size in bytes of the current format.
    pub fn logical_block_size(&self) -> Option<u32> {
        self.current_format().and_then(LbaFormat::data_size)
    }

    /// NSFEAT bit 1: NAWUN, NAWUPF and NACWU are defined for this namespace.
    pub fn has_atomic_fields(&self) -> bool {
        self.nsfeat & 0x2 != 0
    }

    /// Namespace-specific atomic Compare and Write unit in logical blocks.
    ///
    /// NACWU is 0's based, but 0h means "no namespace-specific value: use the controller's
    /// ACWU", so this is `None` for 0h or when NSFEAT bit 1 is clear.
    pub fn nacwu_blocks(&self) -> Option<u32> {
        (self.has_atomic_fields() && self.nacwu != 0).then(|| u32::from(self.nacwu) + 1)
    }

    /// Namespace-specific atomic write unit (normal) in blocks; `None` like `nacwu_blocks`.
    pub fn nawun_blocks(&self) -> Option<u32> {
        (self.has_atomic_fields() && self.nawun != 0).then(|| u32::from(self.nawun) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(b: &mut [u8], off: usize, bytes: &[u8]) {
        b[off..off + bytes.len()].copy_from_slice(bytes);
    }

    fn controller_buf() -> Vec<u8> {
        let mut b = vec![0u8; IDENTIFY_LEN];
        put(&mut b, 4, b"SN-0001             ");
        put(&mut b, 24, b"QEMU NVMe Ctrl");
        put(&mut b, 64, b"10.0.0\0\0");
        b[77] = 7;
        put(&mut b, 78, &0x0042u16.to_le_bytes());
        put(&mut b, 80, &0x0001_0400u32.to_le_bytes());
        put(&mut b, 516, &256u32.to_le_bytes());
        put(&mut b, 520, &0x075du16.to_le_bytes());
        put(&mut b, 522, &0u16.to_le_bytes());
        put(&mut b, 526, &7u16.to_le_bytes());
        put(&mut b, 528, &0u16.to_le_bytes());
        put(&mut b, 532, &3u16.to_le_bytes());
        b
    }

    #[test]
    fn identify_controller_fields() {
        let mut b = controller_buf();
        let c = IdentifyController::parse(&b).unwrap();
        assert_eq!(c.serial, "SN-0001");
        assert_eq!(c.model, "QEMU NVMe Ctrl");
        assert_eq!(c.firmware, "10.0.0");
        assert_eq!((c.mdts, c.cntlid, c.ver, c.nn), (7, 0x42, 0x0001_0400, 256));
        assert_eq!((c.oncs, c.fuses, c.awun, c.awupf, c.acwu), (0x75d, 0, 7, 0, 3));
        assert!(c.supports_compare());
        assert!(!c.supports_fused_compare_write());
        assert_eq!(c.acwu_blocks(), None, "ACWU is meaningless without fused support");
        assert_eq!((c.awun_blocks(), c.awupf_blocks()), (8, 1));
        assert_eq!(c.max_transfer_bytes(4096), Some(512 * 1024));
        b[522] = 1;
        b[532] = 0;
        let f = IdentifyController::parse(&b).unwrap();
        assert_eq!(f.acwu_blocks(), Some(1), "0's based: 0h is one block");
        b[520] = 0x5c;
        b[77] = 0;
        let n = IdentifyController::parse(&b).unwrap();
        assert!(!n.supports_compare());
        assert_eq!(n.max_transfer_bytes(4096), None);
        b[77] = 255;
        let big = IdentifyController::parse(&b).unwrap().max_transfer_bytes(4096);
        assert_eq!(big, Some(u64::MAX));
        assert!(IdentifyController::parse(&b[..4095]).is_err());
    }

    #[test]
    fn ascii_fields_are_trimmed_and_sanitised() {
        assert_eq!(ascii_field(b"  abc \0\0"), "abc");
        assert_eq!(ascii_field(b"a\xffb"), "a?b");
        assert_eq!(ascii_field(b"\0\0\0"), "");
    }

    fn namespace_buf(nlbaf: u8, flbas: u8) -> Vec<u8> {
        let mut b = vec![0u8; IDENTIFY_LEN];
        put(&mut b, 0, &0x20_0000u64.to_le_bytes());
        put(&mut b, 8, &0x1f_0000u64.to_le_bytes());
        put(&mut b, 16, &0x10u64.to_le_bytes());
        b[24] = 0x02;
        b[25] = nlbaf;
        b[26] = flbas;
        put(&mut b, 40, &1u16.to_le_bytes());
        put(&mut b, 44, &3u16.to_le_bytes());
        for i in 0..=usize::from(nlbaf) {
            // Format i: metadata i*8 bytes; data 512 B for even i, 4096 B for odd i.
            let lbads = if i % 2 == 0 { 9 } else { 12 };
            put(&mut b, 128 + 4 * i, &[(i * 8) as u8, 0, lbads, 2]);
        }
        b
    }

    #[test]
    fn identify_namespace_fields() {
        let b = namespace_buf(3, 0x01);
        let n = IdentifyNamespace::parse(&b).unwrap();
        assert_eq!((n.nsze, n.ncap, n.nuse), (0x20_0000, 0x1f_0000, 0x10));
        assert_eq!((n.nsfeat, n.nlbaf, n.flbas), (2, 3, 1));
        assert_eq!(n.lbaf.len(), 4);
        assert_eq!(n.lbaf[1], LbaFormat { ms: 8, lbads: 12, rp: 2 });
        assert_eq!(n.current_format_index(), 1);
        assert_eq!(n.logical_block_size(), Some(4096));
        assert_eq!(n.nacwu_blocks(), Some(4));
        assert_eq!(n.nawun_blocks(), Some(2));
        let zero = IdentifyNamespace::parse(&namespace_buf(0, 0)).unwrap();
        assert_eq!(zero.logical_block_size(), Some(512));
        assert!(IdentifyNamespace::parse(&b[..100]).is_err());
    }

    #[test]
    fn namespace_atomic_fields_need_nsfeat_bit1() {
        let mut b = namespace_buf(0, 0);
        b[24] = 0;
        let n = IdentifyNamespace::parse(&b).unwrap();
        assert_eq!((n.nacwu_blocks(), n.nawun_blocks()), (None, None));
        b[24] = 2;
        put(&mut b, 44, &0u16.to_le_bytes());
        assert_eq!(IdentifyNamespace::parse(&b).unwrap().nacwu_blocks(), None);
    }

    #[test]
    fn flbas_upper_bits_for_more_than_16_formats() {
        // Index 0x13 = 19: low nibble 3 in bits 3:0, upper 01b in bits 6:5; bit 4 is the
        // extended-metadata flag and must not change the index.
        let b = namespace_buf(31, 0x20 | 0x10 | 0x03);
        let n = IdentifyNamespace::parse(&b).unwrap();
        assert_eq!(n.lbaf.len(), 32);
        assert_eq!(n.current_format_index(), 19);
        assert_eq!(n.logical_block_size(), Some(4096));
        // With 16 or fewer formats, bits 6:5 are reserved and ignored.
        let few = IdentifyNamespace::parse(&namespace_buf(3, 0x20 | 0x02)).unwrap();
        assert_eq!(few.current_format_index(), 2);
        assert_eq!(few.logical_block_size(), Some(512));
    }

    #[test]
    fn unusable_current_format() {
        // FLBAS points past NLBAF.
        let n = IdentifyNamespace::parse(&namespace_buf(1, 5)).unwrap();
        assert_eq!(n.logical_block_size(), None);
        // LBADS 0 means "format not available".
        let mut b = namespace_buf(0, 0);
        b[130] = 0;
        assert_eq!(IdentifyNamespace::parse(&b).unwrap().logical_block_size(), None);
        // NLBAF 255 is capped at 64 formats.
        let mut c = namespace_buf(0, 0);
        c[25] = 255;
        assert_eq!(IdentifyNamespace::parse(&c).unwrap().lbaf.len(), 64);
    }
}
