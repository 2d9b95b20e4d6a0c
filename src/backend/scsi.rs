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

use super::{AtsMode, Caps, Factory, IoError, IoReq, Op, Outcome, ScsiStatus, Unencodable, Via};
use crate::error::{Error, Result};
use crate::proto::scsi::{self, classify_sg, ScsiOutcome, Sense, KEY_ILLEGAL_REQUEST};
use crate::sys::sg::{AddrCmd, Dir};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Command timeout handed to the kernel.
pub const TIMEOUT_MS: u32 = 60_000;

/// How SCSI commands reach the sg device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    pub const ALL: [Transport; 3] = [Transport::Sg, Transport::BsgUring, Transport::SgSync];

    pub fn name(self) -> &'static str {
        match self {
            Transport::Sg => "sg",
            Transport::BsgUring => "bsg-uring",
            Transport::SgSync => "sg-sync",
        }
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Transport::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("`{s}` is not a SCSI transport; use sg, bsg-uring or sg-sync"))
    }
}

/// One point on a SCSI generic device.
#[derive(Debug, Clone)]
// wide: one point's SCSI settings, flat like the flags they come from
pub struct ScsiOptions {
    pub path: PathBuf,
    pub bsg_path: Option<PathBuf>,
    /// What the bsg io_uring probe found.
    pub bsg: BsgProbe,
    pub transport: Option<Transport>,
    pub lbs: u32,
    pub bs: u32,
    /// The point sends COMPARE AND WRITE (`ats`): then `max_caw` is the device's limit, checked
    /// by whoever opened the device (None: no limit given).
    pub compare_write: bool,
    pub max_caw: Option<u8>,
    /// `--ats-blocks`, where given.
    pub ats_blocks: Option<u8>,
    pub dpo: bool,
    pub fua: bool,
    /// `--on-timeout abort`: COMPARE AND WRITE's own timeout in ms (others keep TIMEOUT_MS).
    pub caw_timeout_ms: Option<u32>,
    /// Request slots per worker (the queue depth) and workers.
    pub slots: usize,
    pub workers: u32,
}

/// Open the SCSI backend for one point: choose the transport, check the COMPARE AND WRITE
/// length and share out sg file descriptors.
pub fn open(o: ScsiOptions) -> Result<ScsiFactory> {
    let transport = choose(o.transport, &o.bsg)?;
    let caw_blocks = if o.compare_write { Some(caw_blocks(o.bs, o.lbs, o.ats_blocks, o.max_caw)?) } else { None };
    let shared = Arc::new(Shared {
        path: o.path.clone(),
        bsg_path: o.bsg_path.clone(),
        opts: CmdOptions {
            lbs: o.lbs,
            dpo: o.dpo,
            fua: o.fua,
            timeout_ms: TIMEOUT_MS,
            caw_timeout_ms: o.caw_timeout_ms.unwrap_or(TIMEOUT_MS),
        },
        slots: o.slots,
        slots_per_fd: slots_per_fd(u64::from(o.workers) * o.slots as u64),
        caw_blocks,
        bsg_unavailable: match &o.bsg {
            BsgProbe::Unavailable(why) => Some(why.clone()),
            BsgProbe::Available(_) => None,
        },
    });
    Ok(ScsiFactory { transport, shared })
}

/// The SCSI backend of one point, by transport.
pub struct ScsiFactory {
    transport: Transport,
    shared: Arc<Shared>,
}

impl ScsiFactory {
    pub fn transport(&self) -> Transport {
        self.transport
    }

    fn caps() -> Caps {
        Caps { ats_mode: AtsMode::Device, compare: false, iopoll: false }
    }
}

/// A [`ScsiFactory`] seen as the factory of one transport's backend.
pub struct TransportFactory<'a, B>(&'a ScsiFactory, std::marker::PhantomData<fn() -> B>);

macro_rules! transport_factory {
    ($method:ident, $backend:ty) => {
        impl ScsiFactory {
            pub fn $method(&self) -> TransportFactory<'_, $backend> {
                TransportFactory(self, std::marker::PhantomData)
            }
        }

        impl Factory for TransportFactory<'_, $backend> {
            type Backend = $backend;

            fn caps(&self) -> Caps {
                ScsiFactory::caps()
            }

            fn make(&self, _worker: u32) -> Result<$backend> {
                <$backend>::new(self.0.shared.clone())
            }
        }
    };
}

transport_factory!(sg, sg::SgBackend);
transport_factory!(sg_sync, sync::SyncBackend);
transport_factory!(bsg_uring, bsg::BsgBackend);

/// What every command of a run shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmdOptions {
    pub lbs: u32,
    pub dpo: bool,
    pub fua: bool,
    pub timeout_ms: u32,
    /// COMPARE AND WRITE's timeout (`--on-timeout abort`: the --timeout).
    pub caw_timeout_ms: u32,
}

/// The CDB and data of one request. COMPARE AND WRITE sends E+N (`2 * len` bytes) from
/// `req.addr`; READ(16) and WRITE(16) move `len` bytes. FUA applies to WRITE(16) and
/// COMPARE AND WRITE, DPO to COMPARE AND WRITE.
pub fn encode(req: &IoReq, o: &CmdOptions) -> Result<AddrCmd, IoError> {
    let lba = req.offset / u64::from(o.lbs);
    let nblocks = req.len / o.lbs;
    let (cdb, dir, data_len) = match req.op {
        Op::Read | Op::ReadCached => (scsi::read16(lba, nblocks, false), Dir::FromDevice, req.len),
        Op::Write => (scsi::write16(lba, nblocks, o.fua), Dir::ToDevice, req.len),
        Op::CompareWrite => {
            let nlb = u8::try_from(nblocks)
                .map_err(|_| IoError::unencodable(Unencodable::TooManyBlocks { blocks: nblocks, max: 255 }))?;
            (scsi::compare_and_write(lba, nlb, o.dpo, o.fua, 0), Dir::ToDevice, 2 * req.len)
        }
        Op::Compare => {
            let why = Unencodable::NoSuchCommand { op: req.op, backend: "the SCSI backend" };
            return Err(IoError { code: -i64::from(libc::EOPNOTSUPP), ..IoError::unencodable(why) });
        }
    };
    let timeout_ms = if req.op == Op::CompareWrite { o.caw_timeout_ms } else { o.timeout_ms };
    Ok(AddrCmd { cdb, cdb_len: 16, dir, data: req.addr, data_len, timeout_ms })
}

/// The outcome of a completed command from its status bytes and sense data. ILLEGAL REQUEST
/// with INVALID COMMAND OPERATION CODE becomes -EOPNOTSUPP and INVALID FIELD IN CDB on a
/// COMPARE AND WRITE -EINVAL, which the engine reports as "unsupported".
pub fn outcome(op: Op, status: u8, host_status: u16, driver_status: u16, sense: &[u8]) -> Outcome {
    let error = |code| {
        Outcome::Error(IoError {
            code,
            cause: super::Cause::Scsi(ScsiStatus::new(op, status, host_status, driver_status, sense)),
        })
    };
    match classify_sg(status, host_status, driver_status, sense) {
        ScsiOutcome::Good => Outcome::Done,
        ScsiOutcome::Miscompare { offset } if op == Op::CompareWrite => Outcome::Miscompare { offset },
        ScsiOutcome::Miscompare { .. } => {
            Outcome::Error(IoError { code: i64::from(status), cause: super::Cause::UnexpectedMiscompare { op } })
        }
        ScsiOutcome::Error(_) => {
            let parsed = Sense::parse(sense).ok().filter(|s| s.key == KEY_ILLEGAL_REQUEST);
            error(match parsed.map(|s| (s.asc, s.ascq)) {
                Some((0x20, 0x00)) => -i64::from(libc::EOPNOTSUPP),
                Some((0x24, 0x00)) if op == Op::CompareWrite => -i64::from(libc::EINVAL),
                _ => (i64::from(host_status) << 16) | (i64::from(driver_status) << 8) | i64::from(status),
            })
        }
    }
}

/// A host-side failure to issue a command.
pub fn errno_outcome(op: Op, transport: Transport, e: &std::io::Error) -> Outcome {
    Outcome::Error(IoError::host(e.raw_os_error().unwrap_or(libc::EIO), Via::Scsi { op, transport: transport.name() }))
}

/// What every worker's backend of one point shares (read-only once the point starts).
pub struct Shared {
    pub path: PathBuf,
    pub bsg_path: Option<PathBuf>,
    pub opts: CmdOptions,
    pub slots: usize,
    /// Request slots sharing one sg fd (`sg` transport), 1 to 16.
    pub slots_per_fd: usize,
    /// Blocks per COMPARE AND WRITE (ats only).
    pub caw_blocks: Option<u32>,
    pub bsg_unavailable: Option<String>,
}

impl Shared {
    /// The common part of every transport's `report()`.
    fn report(&self, transport: Transport, extra: crate::results::BackendReport) -> crate::results::BackendReport {
        crate::results::BackendReport {
            transport: Some(transport.name().into()),
            caw_blocks: self.caw_blocks,
            dpo: Some(self.opts.dpo),
            fua: Some(self.opts.fua),
            bsg_uring: self.bsg_unavailable.as_ref().map(|why| format!("unavailable: {why}")),
            ..extra
        }
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
fn caw_blocks(bs: u32, lbs: u32, ats_blocks: Option<u8>, max: Option<u8>) -> Result<u32> {
    let nlb = bs / lbs;
    if let Some(n) = ats_blocks {
        if u32::from(n) != nlb {
            let want = u64::from(n) * u64::from(lbs);
            return Err(Error::usage(format!(
                "--ats-blocks {n} needs --bs {want} ({n} x {lbs}-byte blocks), not {bs}; add --bs {want}"
            )));
        }
    }
    if let Some(max) = max.filter(|&m| m > 0 && nlb > u32::from(m)) {
        return Err(Error::usage(format!(
            "each COMPARE AND WRITE would cover {nlb} blocks (--bs {bs}) but the device allows at most {max} \
             (MAXIMUM COMPARE AND WRITE LENGTH); use --ats-blocks {max} --bs {} or less",
            u32::from(max) * lbs
        )));
    }
    if nlb > 255 {
        return Err(Error::usage(format!(
            "--bs {bs} makes {nlb} blocks per COMPARE AND WRITE; the CDB holds at most 255"
        )));
    }
    Ok(nlb)
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

    const OPTS: CmdOptions = CmdOptions { lbs: 512, dpo: true, fua: true, timeout_ms: 1000, caw_timeout_ms: 1000 };

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
        let m = e.to_string();
        assert!(m.contains("ILLEGAL REQUEST") && m.contains("20h/00h"), "{m}");
        let Outcome::Error(e) = outcome(Op::CompareWrite, 2, 0, 8, &sense(0x24)) else { panic!() };
        assert_eq!(e.code, -i64::from(libc::EINVAL));
        assert!(e.to_string().contains("--ats-blocks"), "{e}");
        let Outcome::Error(e) = outcome(Op::Read, 2, 0, 8, &[0x70, 0, 0x03, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x11, 0])
        else {
            panic!()
        };
        assert_eq!(e.code, 0x0802, "driver_status << 8 | status");
        let m = e.to_string();
        assert!(m.starts_with("READ(16): ") && m.contains("MEDIUM ERROR"), "{m}");
        let Outcome::Error(e) = outcome(Op::Write, 0, 0x01, 0, &[]) else { panic!() };
        assert_eq!(e.code, 0x1_0000);
    }

    #[test]
    fn permission_errors_name_the_capability() {
        let e = std::io::Error::from_raw_os_error(libc::EPERM);
        let Outcome::Error(e) = errno_outcome(Op::CompareWrite, Transport::Sg, &e) else { panic!() };
        assert_eq!(e.code, -i64::from(libc::EPERM));
        assert!(e.to_string().contains("CAP_SYS_RAWIO"), "{e}");
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
