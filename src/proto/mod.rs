//! Pure encoders and decoders of device commands: no I/O, no unsafe.
pub mod nvme;
pub mod scsi;

/// An ASCII identification field (NVMe Identify, SCSI INQUIRY): NULs read as spaces, bytes
/// outside printable ASCII as `?`, trimmed.
pub(crate) fn ascii_field(b: &[u8]) -> String {
    let s: String = b
        .iter()
        .map(|&c| match c {
            0 => ' ',
            0x20..=0x7e => c as char,
            _ => '?',
        })
        .collect();
    s.trim().to_owned()
}
