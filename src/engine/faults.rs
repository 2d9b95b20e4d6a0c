//! Faults as data: how a point ended (its stop, the bounded drain, the commands abandoned to
//! the kernel) and the I/O errors the device returned, by operation kind and decoded kind,
//! with a few samples. An error is never a miscompare and never reaches the classifier.
//!
//! Workers keep an [`ErrorTable`] each: fixed capacity, filled without allocating on the
//! per-error path; the names of the kinds are made only when the point is merged into its
//! [`Faults`], the one field of `Point` this file adds.

use crate::backend::{Cause, IoError};
use crate::proto::nvme::NvmeStatus;
use crate::proto::scsi::Sense;
use crate::stats::Kind;

use std::collections::BTreeMap;

pub use crate::results::faults::{DeviceGone, EndedBy, ErrorSample, Faults, OpFaults, SAMPLES};

/// An error's kind, decoded from what the device or host returned: small and `Copy`, so
/// that counting it costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Scsi {
        status: u8,
        host: u16,
        sense: Option<(u8, u8, u8)>,
    },
    Nvme {
        sct: u8,
        sc: u8,
    },
    Errno(i32),
    /// `empty`: not one byte moved, the device now ends before the block.
    ShortTransfer {
        empty: bool,
    },
    Unencodable,
    UnexpectedMiscompare,
}

impl ErrorKind {
    pub fn of(e: &IoError) -> Self {
        match e.cause {
            Cause::Host { errno, .. } => ErrorKind::Errno(errno),
            Cause::ShortTransfer { got, .. } => ErrorKind::ShortTransfer { empty: got == 0 },
            Cause::Nvme { status } => {
                let s = NvmeStatus::from_raw(status);
                ErrorKind::Nvme { sct: s.sct, sc: s.sc }
            }
            Cause::Scsi(s) => ErrorKind::Scsi {
                status: s.status,
                host: s.host_status,
                sense: Sense::parse(s.sense()).ok().map(|x| (x.key, x.asc, x.ascq)),
            },
            Cause::Unencodable(_) => ErrorKind::Unencodable,
            Cause::UnexpectedMiscompare { .. } => ErrorKind::UnexpectedMiscompare,
        }
    }

    /// Whether the host or device aborted the command (or timed it out).
    pub fn aborted(&self) -> bool {
        match *self {
            ErrorKind::Scsi { status, host, .. } => status & 0x7e == 0x40 || matches!(host, 0x03 | 0x05 | 0x08),
            ErrorKind::Nvme { sct, sc } => sct == 0 && sc == 0x07,
            ErrorKind::Errno(e) => e == libc::ECANCELED || e == libc::ETIMEDOUT,
            _ => false,
        }
    }

    /// Whether the error says the device is gone, and in what words: errno ENODEV or ENXIO
    /// (the block layer, sg or NVMe passthrough on a removed device), SCSI host status
    /// DID_NO_CONNECT (a device deleted or offline) or DID_BAD_TARGET, or a read or write of a
    /// block inside the region that moved no byte at all: the device now ends before it (a
    /// deleted disk's capacity falls to 0, as does a truncated file's or loop device's). An EIO
    /// is not: a medium error or a failed path gives it too.
    pub fn gone(&self) -> Option<&'static str> {
        match *self {
            ErrorKind::Errno(libc::ENODEV) => Some("ENODEV"),
            ErrorKind::Errno(libc::ENXIO) => Some("ENXIO"),
            ErrorKind::Scsi { host: 0x01, .. } => Some("DID_NO_CONNECT"),
            ErrorKind::Scsi { host: 0x04, .. } => Some("DID_BAD_TARGET"),
            ErrorKind::ShortTransfer { empty: true } => Some("end of device"),
            _ => None,
        }
    }

    /// The kind as one short line, e.g. `SCSI CHECK CONDITION, MEDIUM ERROR 11/00 (...)`.
    pub fn name(&self) -> String {
        use crate::proto::scsi::{host_status_name, sense_key_name, status_name};
        match *self {
            ErrorKind::Scsi { status, host, sense } => {
                let mut s = format!("SCSI {}", status_name(status).unwrap_or("reserved status"));
                if host != 0 {
                    s.push_str(&format!(", {}", host_status_name(host).unwrap_or("unknown host status")));
                }
                if let Some((key, asc, ascq)) = sense {
                    s.push_str(&format!(", {} {asc:02X}/{ascq:02X}", sense_key_name(key)));
                    if let Some(d) = crate::proto::scsi::asc_description(asc, ascq) {
                        s.push_str(&format!(" ({d})"));
                    }
                }
                s
            }
            ErrorKind::Nvme { sct, sc } => {
                let st = NvmeStatus { sct, sc, crd: 0, more: false, dnr: false };
                format!("NVMe SCT {sct:X}h SC {sc:02X}h ({})", st.name().unwrap_or("unknown status"))
            }
            ErrorKind::Errno(e) => format!("errno {} ({})", errno_name(e), std::io::Error::from_raw_os_error(e)),
            ErrorKind::ShortTransfer { empty: false } => "short transfer".into(),
            ErrorKind::ShortTransfer { empty: true } => "short transfer of 0 bytes (end of device)".into(),
            ErrorKind::Unencodable => "not encodable".into(),
            ErrorKind::UnexpectedMiscompare => "miscompare status on a command that does not compare".into(),
        }
    }
}

/// A kind's name (`ErrorKind::name`) in a few words.
fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EIO => "EIO",
        libc::ENODEV => "ENODEV",
        libc::ENXIO => "ENXIO",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECANCELED => "ECANCELED",
        libc::EILSEQ => "EILSEQ",
        libc::ENOLINK => "ENOLINK",
        libc::ENOSPC => "ENOSPC",
        libc::EAGAIN => "EAGAIN",
        libc::EBADE => "EBADE",
        libc::ENODATA => "ENODATA",
        libc::EREMOTEIO => "EREMOTEIO",
        libc::EINVAL => "EINVAL",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        _ => "E?",
    }
}

/// Distinct error kinds a worker tells apart per command kind; more fall into the last.
const KINDS: usize = 8;
/// The command kinds with errors of their own (`Kind::Acquire` is no command).
const OPS: [Kind; 4] = [Kind::Read, Kind::Write, Kind::Compare, Kind::Ats];

fn op_index(k: Kind) -> usize {
    match k {
        Kind::Read => 0,
        Kind::Write => 1,
        Kind::Compare => 2,
        _ => 3,
    }
}

#[derive(Debug, Clone, Copy)]
struct Kept {
    at_ns: u64,
    lba: u64,
    error: IoError,
}

#[derive(Debug, Clone, Default)]
struct OpTable {
    errors: u64,
    kinds: Vec<(ErrorKind, u64)>,
    samples: Vec<Kept>,
    retried: u64,
    abandoned: u64,
    aborted: u64,
}

/// One worker's errors and command fates, by command kind.
#[derive(Debug, Clone)]
pub struct ErrorTable {
    ops: [OpTable; 4],
}

impl Default for ErrorTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorTable {
    pub fn new() -> Self {
        let table =
            || OpTable { kinds: Vec::with_capacity(KINDS), samples: Vec::with_capacity(SAMPLES), ..Default::default() };
        ErrorTable { ops: [table(), table(), table(), table()] }
    }

    /// A command of kind `op` on block `lba` failed at `at_ns` with `e`.
    pub fn error(&mut self, op: Kind, at_ns: u64, lba: u64, e: IoError) {
        let t = &mut self.ops[op_index(op)];
        t.errors += 1;
        let kind = ErrorKind::of(&e);
        t.aborted += u64::from(kind.aborted());
        match t.kinds.iter().position(|(k, _)| *k == kind) {
            Some(i) => t.kinds[i].1 += 1,
            None if t.kinds.len() < KINDS => t.kinds.push((kind, 1)),
            None => t.kinds[KINDS - 1].1 += 1,
        }
        if t.samples.len() < SAMPLES {
            t.samples.push(Kept { at_ns, lba, error: e });
        }
    }

    pub fn retried(&mut self, op: Kind) {
        self.ops[op_index(op)].retried += 1;
    }

    pub fn abandoned(&mut self, op: Kind) {
        self.ops[op_index(op)].abandoned += 1;
    }

    /// Add this worker's (number `worker`) table into the point's `by_op`.
    pub fn merge_into(&self, worker: u32, by_op: &mut BTreeMap<String, OpFaults>) {
        for (k, t) in OPS.iter().zip(&self.ops) {
            if t.errors + t.retried + t.abandoned == 0 {
                continue;
            }
            let o = by_op.entry(k.name().to_string()).or_default();
            o.errors += t.errors;
            o.retried += t.retried;
            o.abandoned += t.abandoned;
            o.aborted += t.aborted;
            for (kind, n) in &t.kinds {
                *o.by_kind.entry(kind.name()).or_default() += n;
            }
            for s in &t.samples {
                if o.samples.len() < SAMPLES {
                    o.samples.push(ErrorSample {
                        at_s: s.at_ns as f64 / 1e9,
                        worker,
                        lba: s.lba,
                        status: s.error.to_string(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Op, ScsiStatus, Via};
    use crate::proto::scsi::fixed_sense;
    use crate::results::faults::short_kind;

    fn medium_error() -> IoError {
        let sense = fixed_sense(0x3, 0x11, 0x00, None);
        IoError { code: 2, cause: Cause::Scsi(ScsiStatus::new(Op::Read, 2, 0, 8, &sense)) }
    }

    #[test]
    fn errors_are_counted_by_decoded_kind() {
        let mut t = ErrorTable::new();
        for i in 0..5 {
            t.error(Kind::Read, i * 1000, i, medium_error());
        }
        t.error(Kind::Ats, 7, 3, IoError::host(libc::ETIMEDOUT, Via::Io));
        t.retried(Kind::Ats);
        t.abandoned(Kind::Ats);
        let mut by_op = BTreeMap::new();
        t.merge_into(1, &mut by_op);
        let read = &by_op["read"];
        assert_eq!((read.errors, read.samples.len(), read.aborted), (5, SAMPLES, 0));
        let (kind, n) = read.by_kind.iter().next().unwrap();
        assert_eq!(*n, 5);
        assert!(kind.contains("MEDIUM ERROR 11/00"), "{kind}");
        assert_eq!((read.samples[2].lba, read.samples[2].worker), (2, 1));
        let ats = &by_op["ats"];
        assert_eq!((ats.errors, ats.aborted, ats.retried, ats.abandoned), (1, 1, 1, 1));
        assert!(ats.by_kind.keys().next().unwrap().starts_with("errno ETIMEDOUT"));
        let f = Faults { by_op, ..Default::default() };
        assert_eq!(f.commonest().map(|(_, n)| n), Some(5));
        assert_eq!(f.commonest_short().as_deref(), Some("MEDIUM ERROR 11/00"));
        assert_eq!(short_kind(&ErrorKind::Nvme { sct: 2, sc: 0x81 }.name()), "NVMe 2h/81h");
        assert_eq!(short_kind(&ErrorKind::Errno(libc::EIO).name()), "EIO");
        let busy = ErrorKind::Scsi { status: 0x08, host: 0, sense: None };
        assert_eq!(short_kind(&busy.name()), "BUSY");
        let reset = ErrorKind::Scsi { status: 0, host: 0x08, sense: None };
        assert_eq!(short_kind(&reset.name()), "DID_RESET");
        assert_eq!(f.errors(), 6);
    }

    #[test]
    fn nvme_status_and_abort_are_decoded() {
        let k = ErrorKind::Nvme { sct: 0, sc: 0x07 };
        assert!(k.aborted());
        let k = ErrorKind::Nvme { sct: 2, sc: 0x81 };
        assert!(!k.aborted() && k.name().starts_with("NVMe SCT 2h SC 81h"), "{}", k.name());
    }

    #[test]
    fn only_errors_that_say_so_mean_the_device_is_gone() {
        let scsi = |host| ErrorKind::Scsi { status: 0, host, sense: None };
        assert_eq!(ErrorKind::Errno(libc::ENODEV).gone(), Some("ENODEV"));
        assert_eq!(ErrorKind::Errno(libc::ENXIO).gone(), Some("ENXIO"));
        assert_eq!(scsi(0x01).gone(), Some("DID_NO_CONNECT"));
        assert_eq!(scsi(0x04).gone(), Some("DID_BAD_TARGET"));
        for not in [ErrorKind::Errno(libc::EIO), ErrorKind::Errno(libc::ETIMEDOUT), scsi(0x07), scsi(0x08)] {
            assert_eq!(not.gone(), None, "{not:?}");
        }
        assert_eq!(ErrorKind::of(&medium_error()).gone(), None);
        assert_eq!(ErrorKind::of(&IoError::host(libc::ENODEV, Via::SgReap)).gone(), Some("ENODEV"));
        let short = |got| IoError { code: i64::from(got), cause: Cause::ShortTransfer { got, want: 512 } };
        assert_eq!(ErrorKind::of(&short(0)).gone(), Some("end of device"));
        assert_eq!(ErrorKind::of(&short(256)).gone(), None, "a partial transfer is not the device gone");
    }

    #[test]
    fn kinds_past_the_capacity_fall_into_the_last() {
        let mut t = ErrorTable::new();
        for e in 1..=20 {
            t.error(Kind::Write, 0, 0, IoError::host(e, Via::Io));
        }
        let mut by_op = BTreeMap::new();
        t.merge_into(0, &mut by_op);
        assert_eq!(by_op["write"].by_kind.values().sum::<u64>(), 20);
        assert_eq!(by_op["write"].by_kind.len(), KINDS);
    }
}
