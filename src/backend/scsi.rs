//! The SCSI backend: COMPARE AND WRITE, READ(16) and WRITE(16) on a SCSI generic device.
//!
//! Three transports behind the same command encoding and sense decoding:
//! - `sg`: the sg v3 asynchronous interface (`write(2)` to submit, `read(2)` to reap) with the
//!   readiness of each sg fd watched by the worker's ring (multishot IORING_OP_POLL_ADD). sg
//!   allows 16 commands per fd (the 17th `write(2)` fails with EDOM), and commands sharing an fd
//!   cost more in the driver (in the guest, 16 per fd gave a half to a third of the throughput
//!   of 1 per fd at queue depths 8 and 32), so each request slot gets its own fd where the
//!   open-file limit allows, else ceil(slots/16)-style sharing with at most 16 per fd.
//! - `sg-sync`: `ioctl(SG_IO)` inside `prepare`, the outcome handed back through a NOP SQE: one
//!   command at a time per worker whatever the queue depth, a baseline.
//! - `bsg-uring`: IORING_OP_URING_CMD on /dev/bsg/H:C:T:L (128-byte SQEs), on kernels that have
//!   bsg io_uring passthrough (merged in 2026); probed at run time.
//!
//! Latency of `sg` and `bsg-uring` counts from just before the submitting system call to the
//! reaping of the completion; `sg-sync` the same, with the whole command inside the ioctl.

mod bsg;
mod sg;
mod sync;

pub use bsg::{probe_bsg_uring, BsgProbe};

use super::{IoError, IoReq, Op, Outcome};
use crate::cli::DeviceArgs;
use crate::engine::{run_point, Point, PointSpec};
use crate::error::{Error, Result};
use crate::proto::scsi::{self, classify_sg, ScsiOutcome, Sense, KEY_ILLEGAL_REQUEST};
use crate::sys::sg::{AddrCmd, Dir};
use crate::target::Target;
use crate::workload::Workload;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Command timeout handed to the kernel.
pub const TIMEOUT_MS: u32 = 60_000;

/// How SCSI commands reach the sg device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// sg v3 asynchronous write/read, completions watched through io_uring poll.
    Sg,
    /// io_uring passthrough on the bsg node (kernels with bsg io_uring support).
    BsgUring,
    /// Synchronous SG_IO ioctl, one command at a time per worker (a baseline).
    SgSync,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Sg => "sg",
            Transport::BsgUring => "bsg-uring",
            Transport::SgSync => "sg-sync",
        }
    }
}

/// What every command of a run shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmdOptions {
    pub lbs: u32,
    pub dpo: bool,
    pub fua: bool,
    pub timeout_ms: u32,
}

/// The CDB and data of one request. COMPARE AND WRITE sends E+N (`2 * len` bytes) from
/// `req.addr`; READ(16) and WRITE(16) move `len` bytes. FUA applies to WRITE(16) and
/// COMPARE AND WRITE, DPO to COMPARE AND WRITE.
pub fn encode(req: &IoReq, o: &CmdOptions) -> Result<AddrCmd, IoError> {
    let lba = req.offset / u64::from(o.lbs);
    let nblocks = req.len / o.lbs;
    let (cdb, dir, data_len) = match req.op {
        Op::Read => (scsi::read16(lba, nblocks, false), Dir::FromDevice, req.len),
        Op::Write => (scsi::write16(lba, nblocks, o.fua), Dir::ToDevice, req.len),
        Op::CompareWrite => {
            let nlb = u8::try_from(nblocks).map_err(|_| IoError {
                code: -i64::from(libc::EINVAL),
                message: format!("COMPARE AND WRITE of {nblocks} blocks: the CDB holds at most 255"),
            })?;
            (scsi::compare_and_write(lba, nlb, o.dpo, o.fua, 0), Dir::ToDevice, 2 * req.len)
        }
        Op::Compare => {
            return Err(IoError {
                code: -i64::from(libc::EOPNOTSUPP),
                message: "the SCSI backend has no stand-alone compare command".into(),
            })
        }
    };
    Ok(AddrCmd { cdb, cdb_len: 16, dir, data: req.addr, data_len, timeout_ms: o.timeout_ms })
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Read => "READ(16)",
        Op::Write => "WRITE(16)",
        Op::CompareWrite => "COMPARE AND WRITE",
        Op::Compare => "compare",
    }
}

/// The outcome of a completed command from its status bytes and sense data. ILLEGAL REQUEST
/// with INVALID COMMAND OPERATION CODE becomes -EOPNOTSUPP and INVALID FIELD IN CDB on a
/// COMPARE AND WRITE -EINVAL, which the engine reports as "unsupported".
pub fn outcome(op: Op, status: u8, host_status: u16, driver_status: u16, sense: &[u8]) -> Outcome {
    match classify_sg(status, host_status, driver_status, sense) {
        ScsiOutcome::Good => Outcome::Done,
        ScsiOutcome::Miscompare { offset } if op == Op::CompareWrite => Outcome::Miscompare { offset },
        ScsiOutcome::Miscompare { .. } => Outcome::Error(IoError {
            code: i64::from(status),
            message: format!("{}: unexpected MISCOMPARE sense", op_name(op)),
        }),
        ScsiOutcome::Error(what) => {
            let parsed = Sense::parse(sense).ok().filter(|s| s.key == KEY_ILLEGAL_REQUEST);
            let (code, hint) = match parsed.map(|s| (s.asc, s.ascq)) {
                Some((0x20, 0x00)) => (-i64::from(libc::EOPNOTSUPP), "; the device does not implement this command"),
                Some((0x24, 0x00)) if op == Op::CompareWrite => (
                    -i64::from(libc::EINVAL),
                    "; the device refused the CDB: more blocks than its MAXIMUM COMPARE AND WRITE LENGTH? lower --ats-blocks",
                ),
                _ => ((i64::from(host_status) << 16) | (i64::from(driver_status) << 8) | i64::from(status), ""),
            };
            Outcome::Error(IoError { code, message: format!("{}: {what}{hint}", op_name(op)) })
        }
    }
}

/// A host-side failure to issue a command.
pub fn errno_outcome(op: Op, transport: Transport, e: &std::io::Error) -> Outcome {
    let code = -i64::from(e.raw_os_error().unwrap_or(libc::EIO));
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "; sending this SCSI command needs CAP_SYS_RAWIO (run as root) and the device open read-write"
        }
        Some(libc::EDOM) => "; more than 16 commands were outstanding on one sg fd (a bug in atsbench)",
        _ => "",
    };
    Outcome::Error(IoError { code, message: format!("{} through {}: {e}{hint}", op_name(op), transport.name()) })
}

/// Miscompares the device reported, with the byte offset of the first difference where it
/// said (SBC-4 INFORMATION), summed over all workers of a point.
#[derive(Debug)]
pub struct MiscompareOffsets {
    count: AtomicU64,
    with_offset: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl Default for MiscompareOffsets {
    fn default() -> Self {
        MiscompareOffsets {
            count: AtomicU64::new(0),
            with_offset: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }
}

impl MiscompareOffsets {
    /// Count the outcome if it is a miscompare (only then does this touch shared memory).
    pub fn note(&self, o: &Outcome) {
        let Outcome::Miscompare { offset } = o else { return };
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(off) = offset {
            self.with_offset.fetch_add(1, Ordering::Relaxed);
            self.min.fetch_min(*off, Ordering::Relaxed);
            self.max.fetch_max(*off, Ordering::Relaxed);
        }
    }

    pub fn report(&self) -> serde_json::Value {
        let n = self.with_offset.load(Ordering::Relaxed);
        serde_json::json!({
            "reported": self.count.load(Ordering::Relaxed),
            "with_offset": n,
            "offset_min": (n > 0).then(|| self.min.load(Ordering::Relaxed)),
            "offset_max": (n > 0).then(|| self.max.load(Ordering::Relaxed)),
        })
    }
}

/// What every worker's backend of one point shares.
pub struct Shared {
    pub path: std::path::PathBuf,
    pub bsg_path: Option<std::path::PathBuf>,
    pub opts: CmdOptions,
    pub slots: usize,
    /// Request slots sharing one sg fd (`sg` transport), 1 to 16.
    pub slots_per_fd: usize,
    /// Blocks per COMPARE AND WRITE (ats only).
    pub caw_blocks: Option<u32>,
    pub miscompares: MiscompareOffsets,
    pub bsg_unavailable: Option<String>,
}

impl Shared {
    /// The common part of every transport's `report()`.
    fn report(&self, transport: Transport, extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({
            "transport": transport.name(),
            "caw_blocks": self.caw_blocks,
            "dpo": self.opts.dpo,
            "fua": self.opts.fua,
            "device_miscompares": self.miscompares.report(),
        });
        if let Some(why) = &self.bsg_unavailable {
            v["bsg_uring"] = format!("unavailable: {why}").into();
        }
        if let (Some(obj), serde_json::Value::Object(more)) = (v.as_object_mut(), extra) {
            obj.extend(more);
        }
        v
    }
}

/// The transport to use: the one asked for, or the best this kernel offers.
fn choose(asked: Option<Transport>, bsg: &BsgProbe) -> Result<Transport> {
    match (asked, bsg) {
        (Some(Transport::BsgUring), BsgProbe::Unavailable(why)) => Err(Error::Unsupported(format!(
            "--transport bsg-uring: {why}; use --transport sg (the default here) or a kernel with bsg io_uring passthrough"
        ))),
        (Some(t), _) => Ok(t),
        (None, BsgProbe::Available(_)) => Ok(Transport::BsgUring),
        (None, BsgProbe::Unavailable(_)) => Ok(Transport::Sg),
    }
}

/// Blocks per COMPARE AND WRITE for `bs`, checked against `--ats-blocks` and the device limit.
fn caw_blocks(spec: &PointSpec, lbs: u32, dev: &DeviceArgs, max: Option<u8>) -> Result<u32> {
    let nlb = spec.bs / lbs;
    if let Some(n) = dev.ats_blocks {
        if u32::from(n) != nlb {
            let want = u64::from(n) * u64::from(lbs);
            return Err(Error::usage(format!(
                "--ats-blocks {n} needs --bs {want} ({n} x {lbs}-byte blocks), not {}; add --bs {want}",
                spec.bs
            )));
        }
    }
    if let Some(max) = max.filter(|&m| m > 0 && nlb > u32::from(m)) {
        return Err(Error::usage(format!(
            "each COMPARE AND WRITE would cover {nlb} blocks (--bs {}) but the device allows at most {max} \
             (MAXIMUM COMPARE AND WRITE LENGTH); use --ats-blocks {max} --bs {} or less",
            spec.bs,
            u32::from(max) * lbs
        )));
    }
    if nlb > 255 {
        return Err(Error::usage(format!(
            "--bs {} makes {nlb} blocks per COMPARE AND WRITE; the CDB holds at most 255",
            spec.bs
        )));
    }
    Ok(nlb)
}

/// Run one point on a SCSI target.
pub fn measure(target: &Target, spec: &PointSpec, stop: &AtomicBool, dev: &DeviceArgs) -> Result<Point> {
    let lbs = target.logical_block_size();
    let bsg_path = crate::target::scsi::bsg_node(&target.path);
    let bsg = probe_bsg_uring(&target.path, bsg_path.as_deref());
    let transport = choose(dev.transport, &bsg)?;
    let mut nlb = None;
    if spec.workload == Workload::Ats {
        let max = crate::target::scsi::check_caw(&target.path, &target.file)?;
        nlb = Some(caw_blocks(spec, lbs, dev, max)?);
    }
    let shared = Arc::new(Shared {
        path: target.path.clone(),
        bsg_path,
        opts: CmdOptions { lbs, dpo: dev.dpo, fua: dev.fua, timeout_ms: TIMEOUT_MS },
        slots: spec.qd as usize,
        slots_per_fd: slots_per_fd(u64::from(spec.threads()) * u64::from(spec.qd)),
        caw_blocks: nlb,
        miscompares: MiscompareOffsets::default(),
        bsg_unavailable: match &bsg {
            BsgProbe::Unavailable(why) => Some(why.clone()),
            BsgProbe::Available(_) => None,
        },
    });
    match transport {
        Transport::Sg => run_point(spec, stop, |_| sg::SgBackend::new(shared.clone())),
        Transport::SgSync => run_point(spec, stop, |_| sync::SyncBackend::new(shared.clone())),
        Transport::BsgUring => run_point(spec, stop, |_| bsg::BsgBackend::new(shared.clone())),
    }
}

/// File descriptors kept free for everything else.
const SPARE_FDS: u64 = 64;

/// Request slots per sg fd for `total` slots over all workers: 1 when the open-file limit
/// (raised to its hard limit if need be) leaves room for one fd per slot, else as few as fit,
/// never more than sg's 16.
fn slots_per_fd(total: u64) -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let want = total + SPARE_FDS;
    let soft = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < want => {
            let raised = want.min(hard);
            if setrlimit(Resource::RLIMIT_NOFILE, raised, hard).is_ok() {
                raised
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    };
    per_fd_within(total, soft)
}

fn per_fd_within(total: u64, nofile: u64) -> usize {
    let room = nofile.saturating_sub(SPARE_FDS).max(1);
    total.div_ceil(room).clamp(1, crate::sys::sg::SG_MAX_QUEUE as u64) as usize
}

/// Open the sg device for one worker's transport.
fn open_sg(path: &Path, nonblock: bool) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = if nonblock { libc::O_NONBLOCK } else { 0 };
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| Error::from_io(path, "opening it for SCSI commands", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: CmdOptions = CmdOptions { lbs: 512, dpo: true, fua: true, timeout_ms: 1000 };

    fn req(op: Op, offset: u64, len: u32) -> IoReq {
        IoReq { op, offset, len, addr: 0x4000, user_data: 3 }
    }

    #[test]
    fn encodes_compare_and_write_with_both_images() {
        let c = encode(&req(Op::CompareWrite, 512 * 9, 1024), &OPTS).unwrap();
        assert_eq!(c.cdb, scsi::compare_and_write(9, 2, true, true, 0));
        assert_eq!((c.dir, c.data, c.data_len), (Dir::ToDevice, 0x4000, 2048));
        let r = encode(&req(Op::Read, 4096, 512), &OPTS).unwrap();
        assert_eq!(r.cdb, scsi::read16(8, 1, false));
        assert_eq!((r.dir, r.data_len), (Dir::FromDevice, 512));
        let w = encode(&req(Op::Write, 0, 4096), &OPTS).unwrap();
        assert_eq!(w.cdb, scsi::write16(0, 8, true));
        assert!(encode(&req(Op::Compare, 0, 512), &OPTS).is_err());
        assert!(encode(&req(Op::CompareWrite, 0, 512 * 256), &OPTS).is_err());
    }

    const MISCOMPARE_FIXED: [u8; 18] = [0x70, 0, 0x0e, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x1d, 0, 0, 0, 0, 0];

    #[test]
    fn outcomes_from_status_and_sense() {
        assert_eq!(outcome(Op::CompareWrite, 0, 0, 0, &[]), Outcome::Done);
        assert_eq!(outcome(Op::CompareWrite, 2, 0, 8, &MISCOMPARE_FIXED), Outcome::Miscompare { offset: None });
        let mut valid = MISCOMPARE_FIXED;
        valid[0] |= 0x80;
        valid[6] = 0x21;
        assert_eq!(outcome(Op::CompareWrite, 2, 0, 8, &valid), Outcome::Miscompare { offset: Some(0x21) });
        let desc = [0x72, 0x0e, 0x1d, 0, 0, 0, 0, 0];
        assert_eq!(outcome(Op::CompareWrite, 2, 0, 8, &desc), Outcome::Miscompare { offset: None });
        assert!(matches!(outcome(Op::Read, 2, 0, 8, &MISCOMPARE_FIXED), Outcome::Error(_)));
    }

    #[test]
    fn illegal_requests_name_the_cause() {
        let sense = |asc: u8| [0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, asc, 0, 0, 0, 0, 0];
        let Outcome::Error(e) = outcome(Op::CompareWrite, 2, 0, 8, &sense(0x20)) else { panic!() };
        assert_eq!(e.code, -i64::from(libc::EOPNOTSUPP));
        assert!(e.message.contains("ILLEGAL REQUEST") && e.message.contains("20h/00h"), "{}", e.message);
        let Outcome::Error(e) = outcome(Op::CompareWrite, 2, 0, 8, &sense(0x24)) else { panic!() };
        assert_eq!(e.code, -i64::from(libc::EINVAL));
        assert!(e.message.contains("--ats-blocks"), "{}", e.message);
        let Outcome::Error(e) = outcome(Op::Read, 2, 0, 8, &[0x70, 0, 0x03, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x11, 0])
        else {
            panic!()
        };
        assert_eq!(e.code, 0x0802, "driver_status << 8 | status");
        assert!(e.message.starts_with("READ(16): ") && e.message.contains("MEDIUM ERROR"), "{}", e.message);
        let Outcome::Error(e) = outcome(Op::Write, 0, 0x01, 0, &[]) else { panic!() };
        assert_eq!(e.code, 0x1_0000);
    }

    #[test]
    fn permission_errors_name_the_capability() {
        let e = std::io::Error::from_raw_os_error(libc::EPERM);
        let Outcome::Error(e) = errno_outcome(Op::CompareWrite, Transport::Sg, &e) else { panic!() };
        assert_eq!(e.code, -i64::from(libc::EPERM));
        assert!(e.message.contains("CAP_SYS_RAWIO"), "{}", e.message);
    }

    #[test]
    fn miscompare_offsets_are_summarised() {
        let m = MiscompareOffsets::default();
        m.note(&Outcome::Done);
        m.note(&Outcome::Miscompare { offset: None });
        m.note(&Outcome::Miscompare { offset: Some(40) });
        m.note(&Outcome::Miscompare { offset: Some(8) });
        let r = m.report();
        assert_eq!((r["reported"].as_u64(), r["with_offset"].as_u64()), (Some(3), Some(2)));
        assert_eq!((r["offset_min"].as_u64(), r["offset_max"].as_u64()), (Some(8), Some(40)));
        assert!(MiscompareOffsets::default().report()["offset_min"].is_null());
    }

    #[test]
    fn one_fd_per_slot_where_the_limit_allows() {
        assert_eq!(per_fd_within(512, 1024), 1);
        assert_eq!(per_fd_within(1024, 1024), 2);
        assert_eq!(per_fd_within(8 * 256, 1024), 3);
        assert_eq!(per_fd_within(1 << 20, 1024), 16, "never more than sg's 16 per fd");
        assert_eq!(per_fd_within(4, 10), 4);
    }

    #[test]
    fn transport_choice() {
        let no = BsgProbe::Unavailable("this kernel has no bsg io_uring passthrough".into());
        assert_eq!(choose(None, &no).unwrap(), Transport::Sg);
        assert_eq!(choose(Some(Transport::SgSync), &no).unwrap(), Transport::SgSync);
        let e = choose(Some(Transport::BsgUring), &no).unwrap_err();
        assert_eq!(e.exit_code(), 7);
        assert!(e.to_string().contains("no bsg io_uring passthrough"));
        assert_eq!(choose(None, &BsgProbe::Available("/dev/bsg/0:0:0:0".into())).unwrap(), Transport::BsgUring);
    }
}
