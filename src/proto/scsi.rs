//! SCSI CDB encoding and sense decoding.
//!
//! Pure functions over bytes: the CDBs atsbench sends (SBC-4 COMPARE AND WRITE, READ(16),
//! WRITE(16), READ CAPACITY(16); SPC-4 INQUIRY), the parsers of the data they return, in
//! `devid` the Device Identification VPD page, in `sense` the decoding of sense data, status
//! bytes and sg host/driver statuses (and the encoding of sense data, for the simulated
//! device), and in `cdb` the decoding of the CDBs atsbench sends, for the simulated device.

mod cdb;
mod devid;
mod sense;

use super::ascii_field;
pub use cdb::{Cdb, CdbError};
pub use devid::*;
pub use sense::*;

/// MODE SENSE(10) of `page` (0x3F: all pages), block descriptors disabled (DBD).
pub fn mode_sense10(page: u8, alloc_len: u16) -> [u8; 10] {
    let len = alloc_len.to_be_bytes();
    [OP_MODE_SENSE_10, 0x08, page & 0x3f, 0, 0, 0, 0, len[0], len[1], 0]
}

/// DPOFUA (bit 4 of the DEVICE-SPECIFIC PARAMETER, byte 3 of the MODE SENSE(10) header, SBC-4):
/// the device server accepts the DPO and FUA bits.
pub fn parse_dpofua10(b: &[u8]) -> Result<bool, ParseError> {
    need("MODE SENSE(10) header", b, 8)?;
    Ok(b[3] & 0x10 != 0)
}

/// TEST UNIT READY.
pub const OP_TEST_UNIT_READY: u8 = 0x00;
/// INQUIRY.
pub const OP_INQUIRY: u8 = 0x12;
/// READ(16).
pub const OP_READ_16: u8 = 0x88;
/// COMPARE AND WRITE.
pub const OP_COMPARE_AND_WRITE: u8 = 0x89;
/// WRITE(16).
pub const OP_WRITE_16: u8 = 0x8A;
/// SERVICE ACTION IN(16); READ CAPACITY(16) is its service action 0x10.
pub const OP_SERVICE_ACTION_IN_16: u8 = 0x9E;
/// MODE SENSE(10) (SPC-5).
pub const OP_MODE_SENSE_10: u8 = 0x5A;
/// Service action of READ CAPACITY(16).
pub const SA_READ_CAPACITY_16: u8 = 0x10;
/// Length of READ CAPACITY(16) parameter data.
pub const READ_CAPACITY_16_LEN: usize = 32;
/// Length of standard INQUIRY data atsbench needs (vendor, product, revision).
pub const INQUIRY_STD_LEN: usize = 36;
/// VPD page: Supported VPD Pages.
pub const VPD_SUPPORTED_PAGES: u8 = 0x00;
/// VPD page: Unit Serial Number.
pub const VPD_UNIT_SERIAL: u8 = 0x80;
/// VPD page: Block Limits.
pub const VPD_BLOCK_LIMITS: u8 = 0xB0;

const DPO: u8 = 0x10;
const FUA: u8 = 0x08;

/// Errors parsing data returned by a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The buffer is shorter than the structure.
    #[error("{what}: got {got} bytes, need at least {need}")]
    Short {
        /// Which structure was being parsed.
        what: &'static str,
        /// Bytes available.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// A VPD page came back with another page code than requested.
    #[error("VPD page {got:#04x} returned where page {expected:#04x} was requested")]
    WrongPage {
        /// Requested page code.
        expected: u8,
        /// Page code in the returned data.
        got: u8,
    },
    /// A field holds a value that cannot be right.
    #[error("{0}")]
    Invalid(&'static str),
}

fn need(what: &'static str, b: &[u8], need: usize) -> Result<(), ParseError> {
    if b.len() < need {
        return Err(ParseError::Short { what, got: b.len(), need });
    }
    Ok(())
}

// Callers check the length first (see `need`), so these index within bounds.
fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn be64(b: &[u8], off: usize) -> u64 {
    (u64::from(be32(b, off)) << 32) | u64::from(be32(b, off + 4))
}

/// COMPARE AND WRITE (16-byte CDB) of `nlb` blocks at `lba`. WRPROTECT is 0; `group` is the
/// GROUP NUMBER (6 bits in SBC-4). `nlb` 0 is a no-op that returns GOOD.
pub fn compare_and_write(lba: u64, nlb: u8, dpo: bool, fua: bool, group: u8) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = OP_COMPARE_AND_WRITE;
    c[1] = if dpo { DPO } else { 0 } | if fua { FUA } else { 0 };
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[13] = nlb;
    c[14] = group & 0x3f;
    c
}

/// Data-Out length of COMPARE AND WRITE: the verify image then the write image, each
/// `nlb` blocks.
pub fn caw_data_out_len(nlb: u8, block_size: u32) -> u64 {
    2 * u64::from(nlb) * u64::from(block_size)
}

fn rw16(opcode: u8, lba: u64, nblocks: u32, fua: bool) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = opcode;
    c[1] = if fua { FUA } else { 0 };
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&nblocks.to_be_bytes());
    c
}

/// READ(16) of `nblocks` at `lba`.
pub fn read16(lba: u64, nblocks: u32, fua: bool) -> [u8; 16] {
    rw16(OP_READ_16, lba, nblocks, fua)
}

/// WRITE(16) of `nblocks` at `lba`.
pub fn write16(lba: u64, nblocks: u32, fua: bool) -> [u8; 16] {
    rw16(OP_WRITE_16, lba, nblocks, fua)
}

/// INQUIRY. With `evpd` false, `page` must be 0 (standard data) or the device rejects it.
pub fn inquiry(evpd: bool, page: u8, alloc_len: u16) -> [u8; 6] {
    let len = alloc_len.to_be_bytes();
    [OP_INQUIRY, u8::from(evpd), page, len[0], len[1], 0]
}

/// READ CAPACITY(16) (SERVICE ACTION IN(16), service action 0x10).
pub fn read_capacity16(alloc_len: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = OP_SERVICE_ACTION_IN_16;
    c[1] = SA_READ_CAPACITY_16;
    c[10..14].copy_from_slice(&alloc_len.to_be_bytes());
    c
}

/// TEST UNIT READY.
pub fn test_unit_ready() -> [u8; 6] {
    [OP_TEST_UNIT_READY, 0, 0, 0, 0, 0]
}

/// Standard INQUIRY data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inquiry {
    /// PERIPHERAL QUALIFIER (byte 0 bits 7:5); 0 = a device is connected.
    pub peripheral_qualifier: u8,
    /// PERIPHERAL DEVICE TYPE (byte 0 bits 4:0); 0 = direct access block device.
    pub device_type: u8,
    /// VERSION (byte 2): claimed SPC version.
    pub version: u8,
    /// T10 VENDOR IDENTIFICATION (bytes 8..16).
    pub vendor: String,
    /// PRODUCT IDENTIFICATION (bytes 16..32).
    pub product: String,
    /// PRODUCT REVISION LEVEL (bytes 32..36), i.e. the firmware revision.
    pub revision: String,
}

impl Inquiry {
    /// Parses standard INQUIRY data (at least 36 bytes).
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        need("standard INQUIRY data", b, INQUIRY_STD_LEN)?;
        Ok(Self {
            peripheral_qualifier: b[0] >> 5,
            device_type: b[0] & 0x1f,
            version: b[2],
            vendor: ascii_field(&b[8..16]),
            product: ascii_field(&b[16..32]),
            revision: ascii_field(&b[32..36]),
        })
    }
}

/// The page payload of VPD data (after the 4-byte header), cut at the returned length if the
/// allocation length was too small.
fn vpd_payload<'a>(what: &'static str, b: &'a [u8], page: u8) -> Result<&'a [u8], ParseError> {
    need(what, b, 4)?;
    if b[1] != page {
        return Err(ParseError::WrongPage { expected: page, got: b[1] });
    }
    let end = (4 + usize::from(be16(b, 2))).min(b.len());
    Ok(&b[4..end])
}

/// Parses VPD page 0x00: the list of supported page codes.
pub fn parse_supported_vpd_pages(b: &[u8]) -> Result<Vec<u8>, ParseError> {
    vpd_payload("Supported VPD Pages", b, VPD_SUPPORTED_PAGES).map(<[u8]>::to_vec)
}

/// Parses VPD page 0x80: the unit serial number, trimmed.
pub fn parse_unit_serial(b: &[u8]) -> Result<String, ParseError> {
    vpd_payload("Unit Serial Number VPD", b, VPD_UNIT_SERIAL).map(ascii_field)
}

/// Fields of the Block Limits VPD page (0xB0) that atsbench uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BlockLimits {
    /// MAXIMUM COMPARE AND WRITE LENGTH (byte 5) in blocks; 0 = COMPARE AND WRITE unsupported.
    pub max_compare_and_write_len: u8,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY (bytes 6..8) in blocks.
    pub opt_xfer_len_granularity: u16,
    /// MAXIMUM TRANSFER LENGTH (bytes 8..12) in blocks; 0 = not reported.
    pub max_xfer_len: u32,
    /// OPTIMAL TRANSFER LENGTH (bytes 12..16) in blocks; 0 = not reported.
    pub opt_xfer_len: u32,
}

impl BlockLimits {
    /// Parses the Block Limits VPD page (at least 16 bytes).
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let what = "Block Limits VPD";
        vpd_payload(what, b, VPD_BLOCK_LIMITS)?;
        need(what, b, 16)?;
        Ok(Self {
            max_compare_and_write_len: b[5],
            opt_xfer_len_granularity: be16(b, 6),
            max_xfer_len: be32(b, 8),
            opt_xfer_len: be32(b, 12),
        })
    }

    /// SBC-4: a MAXIMUM COMPARE AND WRITE LENGTH of 0 means the command is not supported.
    pub fn supports_compare_and_write(&self) -> bool {
        self.max_compare_and_write_len > 0
    }
}

/// READ CAPACITY(16) parameter data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReadCapacity16 {
    /// Number of logical blocks (RETURNED LOGICAL BLOCK ADDRESS + 1).
    pub blocks: u64,
    /// LOGICAL BLOCK LENGTH IN BYTES (bytes 8..12).
    pub block_len: u32,
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (byte 13 bits 3:0).
    pub lbppbe: u8,
    /// PROT_EN (byte 12 bit 0): protection information enabled.
    pub prot_en: bool,
    /// LBPME (byte 14 bit 7): logical block provisioning (thin) enabled.
    pub lbpme: bool,
}

impl ReadCapacity16 {
    /// Parses the 32 bytes of READ CAPACITY(16) parameter data.
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        need("READ CAPACITY(16) data", b, READ_CAPACITY_16_LEN)?;
        let blocks = be64(b, 0).checked_add(1).ok_or(ParseError::Invalid("READ CAPACITY(16): last LBA is 2^64-1"))?;
        Ok(Self {
            blocks,
            block_len: be32(b, 8),
            lbppbe: b[13] & 0x0f,
            prot_en: b[12] & 0x01 != 0,
            lbpme: b[14] & 0x80 != 0,
        })
    }

    /// Physical block size in bytes (logical block length << LBPPBE).
    pub fn physical_block_len(&self) -> u64 {
        u64::from(self.block_len) << self.lbppbe
    }

    /// Capacity in bytes (saturating).
    pub fn bytes(&self) -> u64 {
        self.blocks.saturating_mul(u64::from(self.block_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_write_cdb() {
        let c = compare_and_write(0x0102_0304_0506_0708, 1, false, false, 0);
        let want = [0x89, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0, 0];
        assert_eq!(c, want);
        let f = compare_and_write(0, 255, true, true, 0xff);
        assert_eq!((f[1], f[13], f[14], f[15]), (0x18, 255, 0x3f, 0));
        assert_eq!(compare_and_write(0, 1, true, false, 0)[1], 0x10);
        assert_eq!(compare_and_write(0, 1, false, true, 5)[1..], [8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0]);
        assert_eq!(caw_data_out_len(1, 512), 1024);
        assert_eq!(caw_data_out_len(255, 4096), 2 * 255 * 4096);
    }

    #[test]
    fn read_write_16_cdbs() {
        let r = read16(0x1122_3344_5566_7788, 0x0a0b_0c0d, false);
        let want = [0x88, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0];
        assert_eq!(r, want);
        let w = write16(7, 1, true);
        assert_eq!(w, [0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0]);
    }

    #[test]
    fn inquiry_capacity_tur_cdbs() {
        assert_eq!(inquiry(false, 0, 36), [0x12, 0, 0, 0, 36, 0]);
        assert_eq!(inquiry(true, 0xb0, 0x1234), [0x12, 1, 0xb0, 0x12, 0x34, 0]);
        let rc = read_capacity16(32);
        assert_eq!(rc, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]);
        assert_eq!(read_capacity16(0x0102_0304)[10..14], [1, 2, 3, 4]);
        assert_eq!(test_unit_ready(), [0; 6]);
    }

    #[test]
    fn standard_inquiry() {
        let mut b = vec![0u8; 96];
        b[0] = 0x00;
        b[2] = 0x07;
        b[8..16].copy_from_slice(b"Linux   ");
        b[16..32].copy_from_slice(b"scsi_debug      ");
        b[32..36].copy_from_slice(b"0191");
        let i = Inquiry::parse(&b).unwrap();
        assert_eq!((i.peripheral_qualifier, i.device_type, i.version), (0, 0, 7));
        assert_eq!((i.vendor.as_str(), i.product.as_str()), ("Linux", "scsi_debug"));
        assert_eq!(i.revision, "0191");
        b[0] = 0x7f; // qualifier 3: no device at this LUN
        let none = Inquiry::parse(&b).unwrap();
        assert_eq!((none.peripheral_qualifier, none.device_type), (3, 0x1f));
        assert!(matches!(Inquiry::parse(&b[..35]), Err(ParseError::Short { need: 36, .. })));
    }

    #[test]
    fn supported_pages_and_serial() {
        let pages = [0, 0x00, 0, 4, 0x00, 0x80, 0x83, 0xb0, 0xee];
        assert_eq!(parse_supported_vpd_pages(&pages).unwrap(), [0, 0x80, 0x83, 0xb0]);
        // Truncated by a small allocation length: take what came back.
        assert_eq!(parse_supported_vpd_pages(&pages[..6]).unwrap(), [0, 0x80]);
        let serial = [0, 0x80, 0, 6, b' ', b'2', b'0', b'0', b'0', 0];
        assert_eq!(parse_unit_serial(&serial).unwrap(), "2000");
        let wrong = parse_unit_serial(&pages);
        assert_eq!(wrong, Err(ParseError::WrongPage { expected: 0x80, got: 0 }));
        assert!(parse_unit_serial(&[0, 0x80, 0]).is_err());
    }

    #[test]
    fn block_limits() {
        let mut b = vec![0u8; 64];
        b[1] = 0xb0;
        b[3] = 0x3c;
        b[5] = 1;
        b[6..8].copy_from_slice(&8u16.to_be_bytes());
        b[8..12].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        b[12..16].copy_from_slice(&1024u32.to_be_bytes());
        let l = BlockLimits::parse(&b).unwrap();
        let want = BlockLimits {
            max_compare_and_write_len: 1,
            opt_xfer_len_granularity: 8,
            max_xfer_len: 0x1_0000,
            opt_xfer_len: 1024,
        };
        assert_eq!(l, want);
        assert!(l.supports_compare_and_write());
        b[5] = 0;
        assert!(!BlockLimits::parse(&b).unwrap().supports_compare_and_write());
        assert!(BlockLimits::parse(&b[..15]).is_err());
        b[1] = 0xb1;
        assert!(matches!(BlockLimits::parse(&b), Err(ParseError::WrongPage { .. })));
    }

    #[test]
    fn read_capacity16_data() {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&0x1_ffffu64.to_be_bytes());
        b[8..12].copy_from_slice(&512u32.to_be_bytes());
        b[12] = 0x01;
        b[13] = 0xf3; // high nibble is P_I_EXPONENT, not LBPPBE
        b[14] = 0x80;
        let c = ReadCapacity16::parse(&b).unwrap();
        assert_eq!((c.blocks, c.block_len, c.lbppbe), (0x2_0000, 512, 3));
        assert!(c.prot_en && c.lbpme);
        assert_eq!(c.physical_block_len(), 4096);
        assert_eq!(c.bytes(), 64 << 20);
        assert!(ReadCapacity16::parse(&b[..31]).is_err());
        b[0..8].copy_from_slice(&[0xff; 8]);
        assert!(matches!(ReadCapacity16::parse(&b), Err(ParseError::Invalid(_))));
    }
}
