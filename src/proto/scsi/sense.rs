//! Sense data (SPC-4 fixed and descriptor formats), SCSI status bytes, and the host/driver
//! statuses of the Linux sg driver, combined by `classify_sg` into one outcome per command.

use std::fmt;

use super::{be32, be64};

/// SCSI status GOOD.
pub const STATUS_GOOD: u8 = 0x00;
/// SCSI status CHECK CONDITION: sense data describes the error.
pub const STATUS_CHECK_CONDITION: u8 = 0x02;
/// SCSI status CONDITION MET.
pub const STATUS_CONDITION_MET: u8 = 0x04;
/// SCSI status BUSY.
pub const STATUS_BUSY: u8 = 0x08;
/// SCSI status RESERVATION CONFLICT.
pub const STATUS_RESERVATION_CONFLICT: u8 = 0x18;
/// SCSI status COMMAND TERMINATED (obsolete; carries sense like CHECK CONDITION).
pub const STATUS_COMMAND_TERMINATED: u8 = 0x22;
/// SCSI status TASK SET FULL.
pub const STATUS_TASK_SET_FULL: u8 = 0x28;
/// Reserved bits of the status byte are masked off before matching (as sg3_utils does).
const STATUS_MASK: u8 = 0x7e;

/// Sense key NO SENSE.
pub const KEY_NO_SENSE: u8 = 0x0;
/// Sense key RECOVERED ERROR: the command completed after recovery.
pub const KEY_RECOVERED_ERROR: u8 = 0x1;
/// Sense key ILLEGAL REQUEST.
pub const KEY_ILLEGAL_REQUEST: u8 = 0x5;
/// Sense key MISCOMPARE.
pub const KEY_MISCOMPARE: u8 = 0xE;
/// ASC of "MISCOMPARE DURING VERIFY OPERATION" (ASCQ 0x00).
pub const ASC_MISCOMPARE_DURING_VERIFY: u8 = 0x1D;

/// sg host_status: no error.
pub const DID_OK: u16 = 0x00;
/// sg host_status: the transport failed the command (it may still have run at the target).
pub const DID_ERROR: u16 = 0x07;
/// sg driver_status (low nibble): no error.
pub const DRIVER_OK: u16 = 0x00;
/// sg driver_status (low nibble): sense data is valid; not an error by itself.
pub const DRIVER_SENSE: u16 = 0x08;

const KEY_NAMES: [&str; 16] = [
    "NO SENSE",
    "RECOVERED ERROR",
    "NOT READY",
    "MEDIUM ERROR",
    "HARDWARE ERROR",
    "ILLEGAL REQUEST",
    "UNIT ATTENTION",
    "DATA PROTECT",
    "BLANK CHECK",
    "VENDOR SPECIFIC",
    "COPY ABORTED",
    "ABORTED COMMAND",
    "OBSOLETE (0xC)",
    "VOLUME OVERFLOW",
    "MISCOMPARE",
    "COMPLETED",
];

/// Name of a sense key (low nibble).
pub fn sense_key_name(key: u8) -> &'static str {
    KEY_NAMES[usize::from(key & 0x0f)]
}

/// Name of a SCSI status byte (SAM-5), reserved bits ignored.
pub fn status_name(status: u8) -> Option<&'static str> {
    Some(match status & STATUS_MASK {
        STATUS_GOOD => "GOOD",
        STATUS_CHECK_CONDITION => "CHECK CONDITION",
        STATUS_CONDITION_MET => "CONDITION MET",
        STATUS_BUSY => "BUSY",
        0x10 => "INTERMEDIATE",
        0x14 => "INTERMEDIATE-CONDITION MET",
        STATUS_RESERVATION_CONFLICT => "RESERVATION CONFLICT",
        STATUS_COMMAND_TERMINATED => "COMMAND TERMINATED",
        STATUS_TASK_SET_FULL => "TASK SET FULL",
        0x30 => "ACA ACTIVE",
        0x40 => "TASK ABORTED",
        _ => return None,
    })
}

/// Name of an sg `host_status` (the kernel's DID_* codes).
pub fn host_status_name(host_status: u16) -> Option<&'static str> {
    Some(match host_status {
        0x00 => "DID_OK",
        0x01 => "DID_NO_CONNECT",
        0x02 => "DID_BUS_BUSY",
        0x03 => "DID_TIME_OUT",
        0x04 => "DID_BAD_TARGET",
        0x05 => "DID_ABORT",
        0x06 => "DID_PARITY",
        0x07 => "DID_ERROR",
        0x08 => "DID_RESET",
        0x09 => "DID_BAD_INTR",
        0x0a => "DID_PASSTHROUGH",
        0x0b => "DID_SOFT_ERROR",
        0x0c => "DID_IMM_RETRY",
        0x0d => "DID_REQUEUE",
        0x0e => "DID_TRANSPORT_DISRUPTED",
        0x0f => "DID_TRANSPORT_FAILFAST",
        0x10 => "DID_TARGET_FAILURE",
        0x11 => "DID_NEXUS_FAILURE",
        0x12 => "DID_ALLOC_FAILURE",
        0x13 => "DID_MEDIUM_ERROR",
        0x14 => "DID_TRANSPORT_MARGINAL",
        _ => return None,
    })
}

/// Name of an sg `driver_status`: the driver code (low nibble) plus any legacy SUGGEST_*
/// bits (high nibble), e.g. "DRIVER_SENSE" or "DRIVER_TIMEOUT|SUGGEST_ABORT".
pub fn driver_status_name(driver_status: u16) -> String {
    let code = match driver_status & 0x0f {
        0x0 => "DRIVER_OK".to_owned(),
        0x1 => "DRIVER_BUSY".to_owned(),
        0x2 => "DRIVER_SOFT".to_owned(),
        0x3 => "DRIVER_MEDIA".to_owned(),
        0x4 => "DRIVER_ERROR".to_owned(),
        0x5 => "DRIVER_INVALID".to_owned(),
        0x6 => "DRIVER_TIMEOUT".to_owned(),
        0x7 => "DRIVER_HARD".to_owned(),
        0x8 => "DRIVER_SENSE".to_owned(),
        other => format!("DRIVER_{other:#x}"),
    };
    let suggest = match (driver_status >> 4) & 0x0f {
        0x0 => return code,
        0x1 => "SUGGEST_RETRY".to_owned(),
        0x2 => "SUGGEST_ABORT".to_owned(),
        0x3 => "SUGGEST_REMAP".to_owned(),
        0x4 => "SUGGEST_DIE".to_owned(),
        0x8 => "SUGGEST_SENSE".to_owned(),
        other => format!("SUGGEST_{other:#x}"),
    };
    format!("{code}|{suggest}")
}

/// Short description of common ASC/ASCQ pairs (SPC-4 annex).
pub fn asc_description(asc: u8, ascq: u8) -> Option<&'static str> {
    Some(match (asc, ascq) {
        (0x00, 0x00) => "no additional sense information",
        (0x04, _) => "logical unit not ready",
        (0x0C, 0x00) => "write error",
        (0x11, 0x00) => "unrecovered read error",
        (0x1A, 0x00) => "parameter list length error",
        (0x1D, 0x00) => "miscompare during verify operation",
        (0x20, 0x00) => "invalid command operation code",
        (0x21, 0x00) => "logical block address out of range",
        (0x24, 0x00) => "invalid field in CDB",
        (0x25, 0x00) => "logical unit not supported",
        (0x26, 0x00) => "invalid field in parameter list",
        (0x27, _) => "write protected",
        (0x28, 0x00) => "not ready to ready change, medium may have changed",
        (0x29, _) => "power on, reset, or bus device reset occurred",
        (0x2A, _) => "parameters changed",
        (0x3A, _) => "medium not present",
        (0x3F, _) => "target operating conditions have changed",
        (0x44, 0x00) => "internal target failure",
        _ => return None,
    })
}

/// Errors decoding sense data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SenseError {
    /// No sense bytes were returned.
    #[error("no sense data")]
    Empty,
    /// The response code is neither fixed (0x70/0x71) nor descriptor (0x72/0x73) format.
    #[error("unknown sense response code {0:#04x}")]
    UnknownResponseCode(u8),
    /// Too few bytes for the format's sense key.
    #[error("sense data too short: {0} bytes")]
    Short(usize),
}

/// Decoded sense data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sense {
    /// SENSE KEY (4 bits).
    pub key: u8,
    /// ADDITIONAL SENSE CODE.
    pub asc: u8,
    /// ADDITIONAL SENSE CODE QUALIFIER.
    pub ascq: u8,
    /// INFORMATION field when marked VALID; for a miscompare, the byte offset of the first
    /// difference in the verify data (SBC-4).
    pub information: Option<u64>,
    /// Descriptor format (0x72/0x73) rather than fixed (0x70/0x71).
    pub descriptor_format: bool,
    /// Current error (0x70/0x72) rather than deferred (0x71/0x73).
    pub current: bool,
}

/// The valid part of sense data: bounded by ADDITIONAL SENSE LENGTH (byte 7) when present.
fn valid_len(b: &[u8]) -> usize {
    match b.get(7) {
        Some(&extra) => b.len().min(8 + usize::from(extra)),
        None => b.len(),
    }
}

impl Sense {
    /// Decodes fixed or descriptor format sense data (pass only the bytes actually written,
    /// e.g. `sb_len_wr` of them).
    pub fn parse(b: &[u8]) -> Result<Self, SenseError> {
        let code = b.first().ok_or(SenseError::Empty)? & 0x7f;
        match code {
            0x70 | 0x71 => Self::parse_fixed(b, code == 0x70),
            0x72 | 0x73 => Self::parse_descriptor(b, code == 0x72),
            other => Err(SenseError::UnknownResponseCode(other)),
        }
    }

    fn parse_fixed(b: &[u8], current: bool) -> Result<Self, SenseError> {
        if b.len() < 3 {
            return Err(SenseError::Short(b.len()));
        }
        let len = valid_len(b);
        let valid = b[0] & 0x80 != 0;
        Ok(Self {
            key: b[2] & 0x0f,
            asc: if len > 12 { b[12] } else { 0 },
            ascq: if len > 13 { b[13] } else { 0 },
            information: (valid && b.len() >= 7).then(|| u64::from(be32(b, 3))),
            descriptor_format: false,
            current,
        })
    }

    fn parse_descriptor(b: &[u8], current: bool) -> Result<Self, SenseError> {
        if b.len() < 4 {
            return Err(SenseError::Short(b.len()));
        }
        Ok(Self {
            key: b[1] & 0x0f,
            asc: b[2],
            ascq: b[3],
            information: information_descriptor(&b[..valid_len(b)]),
            descriptor_format: true,
            current,
        })
    }

    /// MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION: the compare failed, nothing was written.
    pub fn is_miscompare(&self) -> bool {
        self.key == KEY_MISCOMPARE && self.asc == ASC_MISCOMPARE_DURING_VERIFY && self.ascq == 0
    }

    /// Name of the sense key.
    pub fn key_name(&self) -> &'static str {
        sense_key_name(self.key)
    }

    /// Short description of the ASC/ASCQ pair, when known.
    pub fn description(&self) -> Option<&'static str> {
        asc_description(self.asc, self.ascq)
    }
}

/// Length of the fixed-format sense data `fixed_sense` builds.
pub const FIXED_SENSE_LEN: usize = 18;

/// Fixed-format sense data (response code 70h, current error) with `key`, `asc`/`ascq` and,
/// when given, the INFORMATION field marked VALID (for a miscompare, the byte offset of the
/// first difference in the verify data, SBC-4). What the simulated device returns.
pub fn fixed_sense(key: u8, asc: u8, ascq: u8, information: Option<u32>) -> [u8; FIXED_SENSE_LEN] {
    let mut b = [0u8; FIXED_SENSE_LEN];
    b[0] = 0x70 | if information.is_some() { 0x80 } else { 0 };
    b[2] = key & 0x0f;
    b[3..7].copy_from_slice(&information.unwrap_or(0).to_be_bytes());
    b[7] = (FIXED_SENSE_LEN - 8) as u8;
    b[12] = asc;
    b[13] = ascq;
    b
}

/// MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION, with the offset of the first difference
/// where the device says.
pub fn miscompare_sense(offset: Option<u32>) -> [u8; FIXED_SENSE_LEN] {
    fixed_sense(KEY_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, 0, offset)
}

/// The VALID information descriptor (type 0x00, BE u64 at +4) of descriptor-format sense.
fn information_descriptor(b: &[u8]) -> Option<u64> {
    let mut d = 8;
    while d + 2 <= b.len() {
        let end = d + 2 + usize::from(b[d + 1]);
        if b[d] == 0x00 && d + 12 <= b.len().min(end) && b[d + 2] & 0x80 != 0 {
            return Some(be64(b, d + 4));
        }
        d = end;
    }
    None
}

impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (key {:X}h), ASC/ASCQ {:02X}h/{:02X}h", self.key_name(), self.key, self.asc, self.ascq)?;
        if let Some(d) = self.description() {
            write!(f, " ({d})")?;
        }
        if let Some(info) = self.information {
            write!(f, ", information {info:#x}")?;
        }
        if !self.current {
            f.write_str(", deferred")?;
        }
        Ok(())
    }
}

/// What one SCSI command through sg amounted to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ScsiOutcome {
    /// Completed: GOOD / CONDITION MET, or CHECK CONDITION with RECOVERED ERROR.
    Good,
    /// COMPARE AND WRITE miscompared (nothing was written); `offset` is the byte offset of the
    /// first difference when the target reports it (LIO, tgt, tcmu do; scsi_debug does not).
    Miscompare {
        /// INFORMATION field of the sense data, if VALID.
        offset: Option<u64>,
    },
    /// Anything else, described with the status, host/driver status and sense key/ASC/ASCQ.
    Error(String),
}

/// Classifies an sg completion: `status` is `sg_io_hdr.status`, `sense` the first `sb_len_wr`
/// bytes of the sense buffer.
pub fn classify_sg(status: u8, host_status: u16, driver_status: u16, sense: &[u8]) -> ScsiOutcome {
    let parsed = Sense::parse(sense);
    let host_ok = host_status == DID_OK;
    let driver_ok = matches!(driver_status & 0x0f, DRIVER_OK | DRIVER_SENSE);
    if host_ok && driver_ok {
        match status & STATUS_MASK {
            STATUS_GOOD | STATUS_CONDITION_MET => return ScsiOutcome::Good,
            STATUS_CHECK_CONDITION | STATUS_COMMAND_TERMINATED => match &parsed {
                Ok(s) if s.is_miscompare() => return ScsiOutcome::Miscompare { offset: s.information },
                Ok(s) if s.key == KEY_RECOVERED_ERROR => return ScsiOutcome::Good,
                _ => {}
            },
            _ => {}
        }
    }
    ScsiOutcome::Error(describe(status, host_status, driver_status, &parsed))
}

fn describe(status: u8, host_status: u16, driver_status: u16, sense: &Result<Sense, SenseError>) -> String {
    let name = status_name(status).unwrap_or("reserved status");
    let mut parts = vec![format!("status {name} ({status:#04x})")];
    if host_status != DID_OK {
        let host = host_status_name(host_status).unwrap_or("unknown host status");
        parts.push(format!("host_status {host} ({host_status:#04x})"));
    }
    if driver_status & !DRIVER_SENSE != 0 {
        let driver = driver_status_name(driver_status);
        parts.push(format!("driver_status {driver} ({driver_status:#04x})"));
    }
    match sense {
        Ok(s) => parts.push(format!("sense {s}")),
        Err(SenseError::Empty) if status & STATUS_MASK == STATUS_CHECK_CONDITION => {
            parts.push("no sense data".to_owned());
        }
        Err(SenseError::Empty) => {}
        Err(e) => parts.push(e.to_string()),
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scsi_debug's miscompare, fixed format (seen in the guest), padded to 18 bytes.
    const SD_FIXED: [u8; 18] = [0x70, 0, 0x0e, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x1d, 0, 0, 0, 0, 0];
    /// scsi_debug with dsense=1 (seen in the guest).
    const SD_DESC: [u8; 8] = [0x72, 0x0e, 0x1d, 0, 0, 0, 0, 0];

    #[test]
    fn scsi_debug_fixed_miscompare() {
        let s = Sense::parse(&SD_FIXED).unwrap();
        assert_eq!((s.key, s.asc, s.ascq, s.information), (0xe, 0x1d, 0, None));
        assert!(s.is_miscompare() && s.current && !s.descriptor_format);
        let shown = s.to_string();
        assert_eq!(shown, "MISCOMPARE (key Eh), ASC/ASCQ 1Dh/00h (miscompare during verify operation)");
    }

    #[test]
    fn scsi_debug_descriptor_miscompare() {
        let s = Sense::parse(&SD_DESC).unwrap();
        assert_eq!((s.key, s.asc, s.ascq, s.information), (0xe, 0x1d, 0, None));
        assert!(s.is_miscompare() && s.current && s.descriptor_format);
    }

    #[test]
    fn fixed_with_valid_information() {
        let mut b = SD_FIXED;
        b[0] = 0xf0; // VALID
        b[3..7].copy_from_slice(&0x0000_0123u32.to_be_bytes());
        let s = Sense::parse(&b).unwrap();
        assert_eq!(s.information, Some(0x123));
        assert!(s.to_string().ends_with(", information 0x123"));
        // The same bytes without VALID carry no information.
        b[0] = 0x70;
        assert_eq!(Sense::parse(&b).unwrap().information, None);
    }

    #[test]
    fn descriptor_with_valid_information() {
        let mut b = vec![0x72, 0x0e, 0x1d, 0x00, 0, 0, 0, 0];
        // A sense-key-specific descriptor (type 2) first, then the information descriptor.
        b.extend_from_slice(&[0x02, 0x06, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0x00, 0x0a, 0x80, 0]);
        b.extend_from_slice(&0x0000_0001_0000_0200u64.to_be_bytes());
        b[7] = (b.len() - 8) as u8;
        let s = Sense::parse(&b).unwrap();
        assert_eq!(s.information, Some(0x1_0000_0200));
        assert!(s.is_miscompare());
        // Not VALID: ignored.
        b[18] = 0;
        assert_eq!(Sense::parse(&b).unwrap().information, None);
        // Descriptor cut off by the additional sense length: ignored, no panic.
        b[18] = 0x80;
        b[7] -= 1;
        assert_eq!(Sense::parse(&b).unwrap().information, None);
    }

    #[test]
    fn encoded_sense_decodes_back() {
        let m = miscompare_sense(Some(0x1ff));
        let s = Sense::parse(&m).unwrap();
        assert!(s.is_miscompare() && s.current && !s.descriptor_format);
        assert_eq!(s.information, Some(0x1ff));
        assert_eq!(
            classify_sg(STATUS_CHECK_CONDITION, 0, DRIVER_SENSE, &m),
            ScsiOutcome::Miscompare { offset: Some(0x1ff) }
        );
        let none = miscompare_sense(None);
        assert_eq!(none[..14], SD_FIXED[..14], "without an offset it is scsi_debug's sense");
        assert_eq!(Sense::parse(&none).unwrap().information, None);
        let bad = Sense::parse(&fixed_sense(KEY_ILLEGAL_REQUEST, 0x21, 0, None)).unwrap();
        assert_eq!((bad.key, bad.asc, bad.ascq), (5, 0x21, 0));
    }

    #[test]
    fn deferred_and_malformed_sense() {
        let mut d = SD_DESC;
        d[0] = 0x73;
        assert!(!Sense::parse(&d).unwrap().current);
        assert!(Sense::parse(&d).unwrap().to_string().ends_with(", deferred"));
        assert_eq!(Sense::parse(&[]), Err(SenseError::Empty));
        assert_eq!(Sense::parse(&[0x7f, 0, 0]), Err(SenseError::UnknownResponseCode(0x7f)));
        assert_eq!(Sense::parse(&[0x70, 0]), Err(SenseError::Short(2)));
        assert_eq!(Sense::parse(&[0x72, 0x05, 0x24]), Err(SenseError::Short(3)));
        // Fixed sense cut before the ASC: key only.
        let short = Sense::parse(&[0x70, 0, 0x06, 0, 0, 0, 0, 0x0a, 0, 0]).unwrap();
        assert_eq!((short.key, short.asc, short.ascq), (6, 0, 0));
        // A descriptor with a huge length must not loop or index out of bounds.
        let odd = [0x72, 0x05, 0x24, 0, 0, 0, 0, 0xff, 0x00, 0xff, 0x80];
        assert_eq!(Sense::parse(&odd).unwrap().information, None);
    }

    #[test]
    fn names_and_descriptions() {
        assert_eq!(sense_key_name(0x5), "ILLEGAL REQUEST");
        assert_eq!(sense_key_name(0xf), "COMPLETED");
        assert_eq!(sense_key_name(0x6), "UNIT ATTENTION");
        let s = Sense::parse(&[0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x24, 0]).unwrap();
        assert_eq!(s.to_string(), "ILLEGAL REQUEST (key 5h), ASC/ASCQ 24h/00h (invalid field in CDB)");
        assert_eq!(asc_description(0x29, 0x02), asc_description(0x29, 0x00));
        assert_eq!(asc_description(0x20, 0), Some("invalid command operation code"));
        assert_eq!(asc_description(0x21, 0), Some("logical block address out of range"));
        assert_eq!(asc_description(0x1a, 0), Some("parameter list length error"));
        assert_eq!(asc_description(0x26, 0), Some("invalid field in parameter list"));
        assert_eq!(asc_description(0x99, 0x99), None);
        assert_eq!(status_name(0x18), Some("RESERVATION CONFLICT"));
        assert_eq!(status_name(0x28), Some("TASK SET FULL"));
        assert_eq!(status_name(0x30), Some("ACA ACTIVE"));
        assert_eq!(status_name(0x40), Some("TASK ABORTED"));
        assert_eq!(status_name(0x06), None);
        assert_eq!(host_status_name(0x03), Some("DID_TIME_OUT"));
        assert_eq!(host_status_name(0x99), None);
        assert_eq!(driver_status_name(0x08), "DRIVER_SENSE");
        assert_eq!(driver_status_name(0x26), "DRIVER_TIMEOUT|SUGGEST_ABORT");
        assert_eq!(driver_status_name(0x0c), "DRIVER_0xc");
    }

    #[test]
    fn classify_good_and_miscompare() {
        assert_eq!(classify_sg(0, 0, 0, &[]), ScsiOutcome::Good);
        assert_eq!(classify_sg(0x04, 0, 0, &[]), ScsiOutcome::Good);
        let m = classify_sg(0x02, 0, DRIVER_SENSE, &SD_FIXED);
        assert_eq!(m, ScsiOutcome::Miscompare { offset: None });
        let m = classify_sg(0x02, 0, DRIVER_SENSE, &SD_DESC);
        assert_eq!(m, ScsiOutcome::Miscompare { offset: None });
        let mut v = SD_FIXED;
        v[0] |= 0x80;
        v[6] = 0x40;
        let m = classify_sg(0x02, 0, 0, &v);
        assert_eq!(m, ScsiOutcome::Miscompare { offset: Some(0x40) });
        let recovered = [0x70, 0, 0x01, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x17, 0x01];
        assert_eq!(classify_sg(0x02, 0, DRIVER_SENSE, &recovered), ScsiOutcome::Good);
    }

    fn error_text(o: ScsiOutcome) -> String {
        match o {
            ScsiOutcome::Error(s) => s,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn classify_errors_name_everything() {
        let bad_field = [0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x24, 0];
        let e = error_text(classify_sg(0x02, 0, DRIVER_SENSE, &bad_field));
        assert_eq!(
            e,
            "status CHECK CONDITION (0x02), sense ILLEGAL REQUEST (key 5h), ASC/ASCQ 24h/00h \
             (invalid field in CDB)"
        );
        let e = error_text(classify_sg(0x02, 0, 0, &[]));
        assert_eq!(e, "status CHECK CONDITION (0x02), no sense data");
        let e = error_text(classify_sg(0x18, 0, 0, &[]));
        assert_eq!(e, "status RESERVATION CONFLICT (0x18)");
        let e = error_text(classify_sg(0, 0x03, 0x06, &[]));
        assert_eq!(
            e,
            "status GOOD (0x00), host_status DID_TIME_OUT (0x03), \
             driver_status DRIVER_TIMEOUT (0x06)"
        );
        // A host error wins over a miscompare in the sense buffer.
        let e = error_text(classify_sg(0x02, 0x07, DRIVER_SENSE, &SD_FIXED));
        assert!(e.contains("DID_ERROR") && e.contains("MISCOMPARE"), "{e}");
        let e = error_text(classify_sg(0x02, 0, 0, &[0x7f, 1, 2]));
        assert!(e.ends_with("unknown sense response code 0x7f"), "{e}");
    }
}
