//! The Device Identification VPD page (0x83, SPC-4): designation descriptors naming the logical
//! unit, the target port it was reached through and the target device.
//!
//! Two paths to one LUN (two HBAs, two hosts, two target ports) return the same logical-unit
//! designators and different target-port ones, so comparing the logical-unit name of two
//! devices says whether they are one LUN.
//!
//! A designation descriptor: byte 0 PROTOCOL IDENTIFIER (7:4) and CODE SET (3:0); byte 1 PIV
//! (bit 7), ASSOCIATION (5:4) and DESIGNATOR TYPE (3:0); byte 3 DESIGNATOR LENGTH; then the
//! designator. The decoder never panics: a descriptor running past the page ends the list and
//! marks it truncated.

use super::{vpd_payload, ParseError};

/// VPD page: Device Identification.
pub const VPD_DEVICE_IDENTIFICATION: u8 = 0x83;

/// What a designator names (ASSOCIATION).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Association {
    /// The logical unit: the same on every path to it.
    LogicalUnit,
    /// The target port the command came through: differs between paths.
    TargetPort,
    /// The SCSI target device holding the port.
    TargetDevice,
    /// Reserved value 3.
    Reserved,
}

impl Association {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Association::LogicalUnit,
            1 => Association::TargetPort,
            2 => Association::TargetDevice,
            _ => Association::Reserved,
        }
    }

    /// A short name for results.
    pub fn name(self) -> &'static str {
        match self {
            Association::LogicalUnit => "logical-unit",
            Association::TargetPort => "target-port",
            Association::TargetDevice => "target-device",
            Association::Reserved => "reserved",
        }
    }
}

/// DESIGNATOR TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DesignatorType {
    VendorSpecific,
    T10VendorId,
    Eui64,
    Naa,
    RelativeTargetPort,
    TargetPortGroup,
    LogicalUnitGroup,
    Md5LogicalUnit,
    ScsiNameString,
    ProtocolSpecificPort,
    Uuid,
    /// Types 0xB to 0xF.
    Reserved(u8),
}

impl DesignatorType {
    fn from_bits(b: u8) -> Self {
        match b & 0x0f {
            0x0 => DesignatorType::VendorSpecific,
            0x1 => DesignatorType::T10VendorId,
            0x2 => DesignatorType::Eui64,
            0x3 => DesignatorType::Naa,
            0x4 => DesignatorType::RelativeTargetPort,
            0x5 => DesignatorType::TargetPortGroup,
            0x6 => DesignatorType::LogicalUnitGroup,
            0x7 => DesignatorType::Md5LogicalUnit,
            0x8 => DesignatorType::ScsiNameString,
            0x9 => DesignatorType::ProtocolSpecificPort,
            0xA => DesignatorType::Uuid,
            other => DesignatorType::Reserved(other),
        }
    }

    /// A short name for results.
    pub fn name(self) -> &'static str {
        match self {
            DesignatorType::VendorSpecific => "vendor-specific",
            DesignatorType::T10VendorId => "t10-vendor-id",
            DesignatorType::Eui64 => "eui-64",
            DesignatorType::Naa => "naa",
            DesignatorType::RelativeTargetPort => "relative-target-port",
            DesignatorType::TargetPortGroup => "target-port-group",
            DesignatorType::LogicalUnitGroup => "logical-unit-group",
            DesignatorType::Md5LogicalUnit => "md5-logical-unit",
            DesignatorType::ScsiNameString => "scsi-name-string",
            DesignatorType::ProtocolSpecificPort => "protocol-specific-port",
            DesignatorType::Uuid => "uuid",
            DesignatorType::Reserved(_) => "reserved",
        }
    }
}

/// CODE SET of the designator bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSet {
    Binary,
    Ascii,
    Utf8,
    Reserved(u8),
}

impl CodeSet {
    fn from_bits(b: u8) -> Self {
        match b & 0x0f {
            1 => CodeSet::Binary,
            2 => CodeSet::Ascii,
            3 => CodeSet::Utf8,
            other => CodeSet::Reserved(other),
        }
    }
}

/// One designation descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designator {
    pub association: Association,
    pub kind: DesignatorType,
    pub code_set: CodeSet,
    /// PROTOCOL IDENTIFIER, where PIV says it is valid (port and device associations only).
    pub protocol: Option<u8>,
    /// The designator bytes as the device sent them.
    pub value: Vec<u8>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Printable text of an ASCII or UTF-8 designator: up to the first NUL, control characters
/// as `?`, trimmed.
fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]);
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect::<String>().trim().to_owned()
}

/// The 16-bit number in bytes 2..4 of a 4-byte port or group designator.
fn number16(b: &[u8]) -> Option<u16> {
    (b.len() == 4).then(|| u16::from_be_bytes([b[2], b[3]]))
}

impl Designator {
    /// The designator in a conventional text form: `naa.<hex>`, `eui.<hex>`,
    /// `t10.<vendor and id>`, `uuid.<8-4-4-4-12>`, the name string itself, or the port or group
    /// number; anything else as hex (binary) or text (ASCII, UTF-8).
    pub fn display(&self) -> String {
        let v = &self.value;
        match self.kind {
            DesignatorType::Naa => format!("naa.{}", hex(v)),
            DesignatorType::Eui64 => format!("eui.{}", hex(v)),
            DesignatorType::T10VendorId => format!("t10.{}", text(v)),
            DesignatorType::ScsiNameString => text(v),
            DesignatorType::RelativeTargetPort | DesignatorType::TargetPortGroup | DesignatorType::LogicalUnitGroup => {
                number16(v).map_or_else(|| hex(v), |n| n.to_string())
            }
            // Byte 0 holds the UUID type (1 in bits 7:4), byte 1 is reserved, 16 bytes follow.
            DesignatorType::Uuid if v.len() == 18 => {
                let u = &v[2..];
                format!(
                    "uuid.{}-{}-{}-{}-{}",
                    hex(&u[..4]),
                    hex(&u[4..6]),
                    hex(&u[6..8]),
                    hex(&u[8..10]),
                    hex(&u[10..])
                )
            }
            _ => match self.code_set {
                CodeSet::Ascii | CodeSet::Utf8 => text(v),
                _ => hex(v),
            },
        }
    }

    /// Rank of a logical-unit designator as the LUN's name: lower is preferred. NAA (the longest
    /// first), EUI-64, UUID, SCSI name string, MD5, then the T10 vendor ID. None for the others.
    fn name_rank(&self) -> Option<usize> {
        if self.association != Association::LogicalUnit || self.value.is_empty() {
            return None;
        }
        let kind = match self.kind {
            DesignatorType::Naa => 0,
            DesignatorType::Eui64 => 1,
            DesignatorType::Uuid => 2,
            DesignatorType::ScsiNameString => 3,
            DesignatorType::Md5LogicalUnit => 4,
            DesignatorType::T10VendorId => 5,
            _ => return None,
        };
        Some(kind * 256 + (255 - self.value.len().min(255)))
    }
}

/// The decoded page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceIdentification {
    /// The descriptors, in the device's order.
    pub designators: Vec<Designator>,
    /// A descriptor ran past the end of the returned data; the list stops before it.
    pub truncated: bool,
}

impl DeviceIdentification {
    /// Parses VPD page 0x83 (cut at the returned length, as the other VPD parsers).
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let mut rest = vpd_payload("Device Identification VPD", b, VPD_DEVICE_IDENTIFICATION)?;
        let mut page = DeviceIdentification::default();
        while !rest.is_empty() {
            let Some(&[b0, b1, _, len]) = rest.get(..4) else {
                page.truncated = true;
                break;
            };
            let Some(value) = rest.get(4..4 + usize::from(len)) else {
                page.truncated = true;
                break;
            };
            let association = Association::from_bits(b1 >> 4);
            let piv = b1 & 0x80 != 0 && association != Association::LogicalUnit;
            page.designators.push(Designator {
                association,
                kind: DesignatorType::from_bits(b1),
                code_set: CodeSet::from_bits(b0),
                protocol: piv.then_some(b0 >> 4),
                value: value.to_vec(),
            });
            rest = &rest[4 + usize::from(len)..];
        }
        Ok(page)
    }

    /// The logical unit's name: its preferred logical-unit designator (see
    /// [`Designator::display`]), the same on every path to the LUN. None when the page has no
    /// logical-unit designator that names it.
    pub fn lu_name(&self) -> Option<String> {
        self.designators
            .iter()
            .filter_map(|d| d.name_rank().map(|r| (r, d)))
            .min_by_key(|(r, _)| *r)
            .map(|(_, d)| d.display())
    }

    /// The designators of the given association.
    pub fn of(&self, a: Association) -> impl Iterator<Item = &Designator> {
        self.designators.iter().filter(move |d| d.association == a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Device Identification page shaped like LIO's for a fileio LUN reached through a
    /// tcm_loop port: NAA (IEEE Registered Extended), T10 vendor ID, relative target port,
    /// target port group, logical unit group and a SCSI name string for the target port.
    fn lio_page(port: u8) -> Vec<u8> {
        let mut d = Vec::new();
        let naa = [0x60, 0x01, 0x40, 0x5a, 0x7b, 0x3c, 0x2d, 0x1e, 0x0f, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
        d.extend_from_slice(&[0x01, 0x03, 0x00, 16]);
        d.extend_from_slice(&naa);
        let t10 = b"LIO-ORG fileio0:atsb-lio-0001";
        d.extend_from_slice(&[0x02, 0x01, 0x00, t10.len() as u8]);
        d.extend_from_slice(t10);
        d.extend_from_slice(&[0x81, 0x94, 0x00, 4, 0, 0, 0, port]);
        d.extend_from_slice(&[0x81, 0x95, 0x00, 4, 0, 0, 0, 0]);
        d.extend_from_slice(&[0x01, 0x06, 0x00, 4, 0, 0, 0, 0]);
        let name = format!("naa.500140500000000{port},t,0x0001\0\0\0");
        d.extend_from_slice(&[0x83, 0x98, 0x00, name.len() as u8]);
        d.extend_from_slice(name.as_bytes());
        let mut page = vec![0x00, 0x83];
        page.extend_from_slice(&(d.len() as u16).to_be_bytes());
        page.extend_from_slice(&d);
        page
    }

    #[test]
    fn lio_like_page_decodes() {
        let p = DeviceIdentification::parse(&lio_page(1)).unwrap();
        assert!(!p.truncated);
        let kinds: Vec<_> = p.designators.iter().map(|d| (d.association, d.kind)).collect();
        assert_eq!(
            kinds,
            [
                (Association::LogicalUnit, DesignatorType::Naa),
                (Association::LogicalUnit, DesignatorType::T10VendorId),
                (Association::TargetPort, DesignatorType::RelativeTargetPort),
                (Association::TargetPort, DesignatorType::TargetPortGroup),
                (Association::LogicalUnit, DesignatorType::LogicalUnitGroup),
                (Association::TargetPort, DesignatorType::ScsiNameString),
            ]
        );
        let shown: Vec<_> = p.designators.iter().map(Designator::display).collect();
        assert_eq!(shown[0], "naa.6001405a7b3c2d1e0f11223344556677");
        assert_eq!(shown[1], "t10.LIO-ORG fileio0:atsb-lio-0001");
        assert_eq!(&shown[2..5], ["1", "0", "0"]);
        assert_eq!(shown[5], "naa.5001405000000001,t,0x0001");
        // PIV with a port association: the protocol (8 = SAS, as tcm_loop reports) is kept.
        assert_eq!((p.designators[2].protocol, p.designators[0].protocol), (Some(8), None));
        assert_eq!(p.designators[1].code_set, CodeSet::Ascii);
        assert_eq!(p.lu_name().as_deref(), Some("naa.6001405a7b3c2d1e0f11223344556677"));
        assert_eq!(p.of(Association::TargetPort).count(), 3);
    }

    #[test]
    fn two_paths_share_the_lu_name_not_the_port() {
        let (a, b) =
            (DeviceIdentification::parse(&lio_page(1)).unwrap(), DeviceIdentification::parse(&lio_page(2)).unwrap());
        assert_eq!(a.lu_name(), b.lu_name());
        let ports =
            |p: &DeviceIdentification| p.of(Association::TargetPort).map(Designator::display).collect::<Vec<_>>();
        assert_ne!(ports(&a), ports(&b));
    }

    #[test]
    fn lu_name_prefers_naa_then_eui_then_t10() {
        let page = |descs: &[(u8, &[u8])]| {
            let mut d = Vec::new();
            for (b1, v) in descs {
                d.extend_from_slice(&[0x01, *b1, 0, v.len() as u8]);
                d.extend_from_slice(v);
            }
            let mut p = vec![0, 0x83];
            p.extend_from_slice(&(d.len() as u16).to_be_bytes());
            p.extend(d);
            DeviceIdentification::parse(&p).unwrap()
        };
        let t10_eui = page(&[(0x01, b"VENDOR  x"), (0x02, &[1, 2, 3, 4, 5, 6, 7, 8])]);
        assert_eq!(t10_eui.lu_name().as_deref(), Some("eui.0102030405060708"));
        let two_naa = page(&[(0x03, &[0x50, 1, 2, 3, 4, 5, 6, 7]), (0x03, &[0x60; 16])]);
        assert_eq!(two_naa.lu_name(), Some(format!("naa.{}", "60".repeat(16))));
        // Only port designators: no LU name.
        assert_eq!(page(&[(0x14, &[0, 0, 0, 1])]).lu_name(), None);
        let uuid = page(&[(0x0a, &[0x10, 0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8])]);
        assert_eq!(uuid.lu_name().as_deref(), Some("uuid.12345678-9abc-def0-0102-030405060708"));
    }

    #[test]
    fn empty_short_wrong_and_truncated_pages() {
        let empty = DeviceIdentification::parse(&[0, 0x83, 0, 0]).unwrap();
        assert_eq!(empty, DeviceIdentification::default());
        assert!(matches!(DeviceIdentification::parse(&[0, 0x83, 0]), Err(ParseError::Short { .. })));
        assert!(matches!(
            DeviceIdentification::parse(&[0, 0x80, 0, 0]),
            Err(ParseError::WrongPage { expected: 0x83, got: 0x80 })
        ));
        let full = lio_page(1);
        // Cut inside the second descriptor: the first survives, the list is marked truncated.
        let cut = DeviceIdentification::parse(&full[..4 + 20 + 10]).unwrap();
        assert_eq!((cut.designators.len(), cut.truncated), (1, true));
        // A page length beyond the data is cut at the data (a small allocation length).
        let mut long = full.clone();
        long[2..4].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(DeviceIdentification::parse(&long).unwrap().designators.len(), 6);
        // A descriptor whose length runs past the page length stops the list there.
        let mut over = full.clone();
        over[4 + 3] = 200;
        let p = DeviceIdentification::parse(&over).unwrap();
        assert!(p.truncated && p.designators.is_empty());
        // Odd sizes of fixed-size designators still display.
        let odd = Designator {
            association: Association::TargetPort,
            kind: DesignatorType::RelativeTargetPort,
            code_set: CodeSet::Binary,
            protocol: None,
            value: vec![1, 2, 3],
        };
        assert_eq!(odd.display(), "010203");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Every truncation of a real page, then pseudo-random pages (splitmix64).
        let full = lio_page(2);
        for n in 0..=full.len() {
            if let Ok(p) = DeviceIdentification::parse(&full[..n]) {
                let _ = (p.lu_name(), p.designators.iter().map(Designator::display).count());
            }
        }
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if b.len() > 1 && next() % 2 == 0 {
                b[1] = 0x83;
            }
            if let Ok(p) = DeviceIdentification::parse(&b) {
                let _ = (p.lu_name(), p.designators.iter().map(Designator::display).count());
            }
        }
    }
}
