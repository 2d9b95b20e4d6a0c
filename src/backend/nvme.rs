//! NVMe passthrough: every request is one `IORING_OP_URING_CMD` (SQE128 / CQE32) carrying a
//! `struct nvme_uring_cmd` (NVME_URING_CMD_IO) on the generic device `/dev/ngXnY`, fixed file 0.
//!
//! The slab is registered as fixed buffer 0 and named with IORING_URING_CMD_FIXED where the
//! kernel takes that (Linux 6.1+); a pre-flight Read finds out, and where the kernel refuses,
//! requests use plain addresses and the results say so. ATS is compare-then-write, serialised
//! per lock by the engine: Linux cannot send fused Compare+Write (see `--fused`).

use super::{AtsMode, Backend, Caps, Cause, Factory, IoError, IoReq, Op, Outcome, Unencodable, Via};
use crate::error::{Error, Result};
use crate::proto::nvme::{Completion, Fuse, NvmeCommand, NVME_URING_CMD_IO};
use crate::results::BackendReport;
use crate::sys::mem::Slab;
use crate::sys::uring::{Ring, RingConfig, RingError};
use io_uring::{cqueue, opcode, squeue, types};
use std::os::fd::RawFd;

/// What the backend needs to know of a namespace (from its probe).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespace {
    pub nsid: u32,
    pub logical_block_size: u32,
    /// The namespace's block device, for messages that point there.
    pub block_device: Option<String>,
    /// ONCS bit 0: the controller implements Compare (None: Identify was refused).
    pub compare: Option<bool>,
    /// FUSES bit 0: the controller claims fused Compare and Write.
    pub fused_compare_write: Option<bool>,
    /// The driver has poll queues (`--iopoll` can poll).
    pub can_poll: bool,
    pub poll_queues: Option<u32>,
    pub metadata_bytes: Option<u16>,
    pub max_transfer_bytes: Option<u64>,
}

/// One point on an NVMe namespace.
#[derive(Debug, Clone)]
pub struct NvmeOptions {
    /// The open generic device and its path (for messages).
    pub fd: RawFd,
    pub path: String,
    pub ns: Namespace,
    /// The point sends Compare commands (`ats`, `compare`); `what` names the workload.
    pub needs_compare: Option<&'static str>,
    /// Try one fused Compare+Write and stop (`--fused`).
    pub fused: bool,
    pub iopoll: bool,
    pub bs: u32,
    /// Byte offset of the region's first block (the pre-flight Read goes there).
    pub first_block: u64,
    /// Distinct user_data values (the queue depth).
    pub slots: usize,
}

/// Whether the rings carry commands in registered buffers, decided once per point by the
/// pre-flight Read.
#[derive(Debug, Clone, Default)]
pub struct BufferChoice {
    pub fixed_buffers: bool,
    /// Why registered buffers are not used, when they are not.
    pub fixed_buffers_refused: Option<String>,
}

/// Open the NVMe backend for one point: check what the point needs, find the command path
/// with one Read, and try `--fused` if asked (which always ends the run with its verdict).
pub fn open(o: NvmeOptions) -> Result<NvmeFactory> {
    check_point(&o)?;
    let buffers = preflight(&o)?;
    if o.fused {
        return Err(try_fused(&o, &buffers));
    }
    Ok(NvmeFactory { o, buffers })
}

pub struct NvmeFactory {
    o: NvmeOptions,
    buffers: BufferChoice,
}

impl Factory for NvmeFactory {
    type Backend = NvmeBackend;

    fn caps(&self) -> Caps {
        Caps { ats_mode: AtsMode::CompareThenWrite, compare: true, iopoll: self.o.ns.can_poll }
    }

    fn make(&self, _worker: u32) -> Result<NvmeBackend> {
        let ns = &self.o.ns;
        Ok(NvmeBackend::new(self.o.fd, ns.nsid, ns.logical_block_size, self.o.slots, self.buffers.clone()))
    }
}

pub struct NvmeBackend {
    fd: RawFd,
    nsid: u32,
    lbs: u32,
    buffers: BufferChoice,
    /// Requests that could not be encoded, by user_data slot: completed as errors after a NOP.
    invalid: Vec<Option<Unencodable>>,
}

impl NvmeBackend {
    /// `slots` is the number of distinct user_data values (the queue depth).
    pub fn new(fd: RawFd, nsid: u32, lbs: u32, slots: usize, buffers: BufferChoice) -> Self {
        NvmeBackend { fd, nsid, lbs, buffers, invalid: vec![None; slots] }
    }

    fn command(&self, req: &IoReq) -> std::result::Result<NvmeCommand, Unencodable> {
        encode(req, self.nsid, self.lbs)
    }
}

/// The NVMe command of `req` on namespace `nsid` with `lbs`-byte blocks (the simulated device
/// executes the same images).
pub fn encode(req: &IoReq, nsid: u32, lbs: u32) -> std::result::Result<NvmeCommand, Unencodable> {
    let (lbs64, len) = (u64::from(lbs), u64::from(req.len));
    if req.offset % lbs64 != 0 || len % lbs64 != 0 {
        return Err(Unencodable::NotWholeBlocks { len: req.len, offset: req.offset, lbs });
    }
    let (slba, nlb) = (req.offset / lbs64, (len / lbs64) as u32);
    let cmd = match req.op {
        Op::Read | Op::ReadCached => NvmeCommand::read(nsid, slba, nlb, req.addr, req.len),
        Op::Write => NvmeCommand::write(nsid, slba, nlb, req.addr, req.len),
        Op::Compare => NvmeCommand::compare(nsid, slba, nlb, req.addr, req.len),
        Op::CompareWrite => return Err(Unencodable::NoSuchCommand { op: req.op, backend: "NVMe" }),
    };
    cmd.map_err(|_| Unencodable::TooManyBlocks { blocks: nlb, max: 1 << 16 })
}

/// One URING_CMD entry for `cmd`, on fixed file 0, naming fixed buffer 0 when `fixed`.
fn uring_cmd(cmd: &NvmeCommand, fixed: bool, user_data: u64) -> squeue::Entry128 {
    let b = opcode::UringCmd80::new(types::Fixed(0), NVME_URING_CMD_IO).cmd(cmd.to_bytes());
    let b = if fixed { b.buf_index(Some(0)) } else { b };
    b.build().user_data(user_data)
}

/// A passthrough completion's `res` as an outcome: 0 done, positive an NVMe status, negative
/// a host errno.
pub fn outcome(res: i32) -> Outcome {
    match Completion::from_res(res) {
        Completion::Ok => Outcome::Done,
        c if c.is_compare_failure() => Outcome::Miscompare { offset: None },
        Completion::Status(s) => {
            Outcome::Error(IoError { code: i64::from(s.raw()), cause: Cause::Nvme { status: s.raw() } })
        }
        Completion::Host(errno) => Outcome::Error(IoError::host(errno, Via::NvmePassthrough)),
    }
}

impl Backend for NvmeBackend {
    type Sqe = squeue::Entry128;
    type Cqe = cqueue::Entry32;

    fn fds(&self) -> Vec<RawFd> {
        vec![self.fd]
    }

    fn fixed_buffers(&self) -> bool {
        self.buffers.fixed_buffers
    }

    #[inline]
    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe)) {
        match self.command(req) {
            Ok(cmd) => push(&uring_cmd(&cmd, self.buffers.fixed_buffers, req.user_data)),
            Err(why) => {
                if let Some(slot) = self.invalid.get_mut(req.user_data as usize) {
                    *slot = Some(why);
                }
                push(&squeue::Entry128::from(opcode::Nop::new().build().user_data(req.user_data)));
            }
        }
    }

    #[inline]
    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), _push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = cqe.user_data();
        if let Some(why) = self.invalid.get_mut(ud as usize).and_then(Option::take) {
            return done(ud, Outcome::Error(IoError::unencodable(why)));
        }
        done(ud, outcome(cqe.result()));
    }

    fn report(&self) -> Option<BackendReport> {
        Some(BackendReport {
            command_path: Some("io_uring URING_CMD".into()),
            fixed_buffers: Some(self.buffers.fixed_buffers),
            nsid: Some(self.nsid),
            fixed_buffers_refused: self.buffers.fixed_buffers_refused.clone(),
            ..Default::default()
        })
    }
}

/// What the namespace must offer this point, each refusal one line with the fix.
fn check_point(o: &NvmeOptions) -> Result<()> {
    let (p, ns) = (&o.path, &o.ns);
    let block = ns.block_device.as_deref().unwrap_or("/dev/nvmeXnY");
    if let (Some(what), Some(false)) = (o.needs_compare, ns.compare) {
        return Err(Error::Unsupported(format!(
            "{p}: the controller does not implement Compare (Identify ONCS bit 0 is clear), which NVMe {what} needs; \
             run it on the block device {block} (host-emulated ATS) instead"
        )));
    }
    if o.iopoll && !ns.can_poll {
        return Err(Error::Unsupported(format!(
            "{p}: --iopoll needs NVMe poll queues but nvme.poll_queues is {}: boot with nvme.poll_queues=N (or \
             reload the nvme module with poll_queues=N), or drop --iopoll",
            ns.poll_queues.map_or("unknown".to_string(), |n| n.to_string())
        )));
    }
    if let Some(ms) = ns.metadata_bytes.filter(|&ms| ms > 0) {
        return Err(Error::Unsupported(format!(
            "{p}: the namespace's format carries {ms} bytes of metadata per block, which atsbench does not send; \
             use a namespace formatted without metadata"
        )));
    }
    if let Some(max) = ns.max_transfer_bytes.filter(|&m| u64::from(o.bs) > m) {
        return Err(Error::usage(format!("--bs {}: above the {max}-byte largest transfer of {p}; lower --bs", o.bs)));
    }
    Ok(())
}

type PassthroughRing = Ring<squeue::Entry128, cqueue::Entry32>;

/// A small ring for the pre-flight commands, on the target as fixed file 0.
fn small_ring(o: &NvmeOptions, fixed: bool) -> std::result::Result<PassthroughRing, RingError> {
    let cfg = RingConfig { entries: 4, sqpoll: false, iopoll: o.iopoll };
    Ring::new(cfg, &[o.fd], Slab::new(2 * o.bs as usize), fixed)
}

/// Push `cmds` (linked in order when `link`), wait for all and return their `res` in order.
#[allow(unsafe_code)] // Ring::push: the commands name this ring's slab and are all awaited here.
fn run_cmds(ring: &mut PassthroughRing, cmds: &[NvmeCommand], fixed: bool, link: bool) -> Result<Vec<i32>> {
    for (i, c) in cmds.iter().enumerate() {
        let mut e = uring_cmd(c, fixed, i as u64);
        if link && i + 1 < cmds.len() {
            e = e.flags(squeue::Flags::IO_LINK);
        }
        // SAFETY: the commands name this ring's slab, which outlives them: every one is
        // awaited below before the ring (and its slab) can be dropped.
        if !unsafe { ring.push(&e) } {
            return Err(Error::Internal("pre-flight submission queue overflow".into()));
        }
    }
    let mut res = vec![0; cmds.len()];
    let (mut got, mut cqes) = (0, Vec::new());
    while got < cmds.len() {
        ring.submit_and_wait(1).map_err(|e| Error::Device(format!("io_uring_enter failed: {e}")))?;
        ring.reap(&mut cqes);
        for c in &cqes {
            if let Some(r) = res.get_mut(c.user_data() as usize) {
                *r = c.result();
                got += 1;
            }
        }
    }
    Ok(res)
}

/// Read the first block of the region once with registered buffers, and once without if the
/// kernel refuses those. Ring set-up failures other than a missing SQE128 are left to the
/// engine, which reports them.
fn preflight(o: &NvmeOptions) -> Result<BufferChoice> {
    let first = match read_first(o, true) {
        Some(Ok(res)) => res,
        Some(Err(e)) => return Err(e),
        None => return Ok(BufferChoice { fixed_buffers: true, fixed_buffers_refused: None }),
    };
    if !matches!(first, r if r == -libc::EINVAL || r == -libc::EFAULT) {
        check_first(o, first)?;
        return Ok(BufferChoice { fixed_buffers: true, fixed_buffers_refused: None });
    }
    let plain = read_first(o, false).unwrap_or(Ok(first))?;
    check_first(o, plain)?;
    let why = std::io::Error::from_raw_os_error(-first).to_string();
    Ok(BufferChoice { fixed_buffers: false, fixed_buffers_refused: Some(why) })
}

/// One Read of the region's first block: `None` when the ring could not be set up for a
/// reason the engine reports itself.
fn read_first(o: &NvmeOptions, fixed: bool) -> Option<Result<i32>> {
    let mut ring = match small_ring(o, fixed) {
        Ok(r) => r,
        Err(RingError::Setup(e)) if e.raw_os_error() == Some(libc::EINVAL) => {
            return Some(Err(Error::Unsupported(format!(
                "{}: this kernel's io_uring refused 128-byte SQEs (IORING_SETUP_SQE128), which NVMe passthrough \
                 needs (Linux 5.19+); use the block device {} instead",
                o.path,
                o.ns.block_device.as_deref().unwrap_or("/dev/nvmeXnY")
            ))))
        }
        Err(_) => return None,
    };
    let lbs = o.ns.logical_block_size;
    let read = NvmeCommand::read(o.ns.nsid, o.first_block / u64::from(lbs), o.bs / lbs, ring.slab().addr(0), o.bs);
    let read = match read {
        Ok(r) => r,
        Err(e) => return Some(Err(Error::usage(format!("--bs {}: {e}", o.bs)))),
    };
    Some(run_cmds(&mut ring, &[read], fixed, false).map(|r| r[0]))
}

/// The pre-flight Read's result: a device status means the path works; host errors end here.
fn check_first(o: &NvmeOptions, res: i32) -> Result<()> {
    if res >= 0 {
        return Ok(());
    }
    let p = &o.path;
    let block = o.ns.block_device.as_deref().unwrap_or("/dev/nvmeXnY");
    let e = std::io::Error::from_raw_os_error(-res);
    Err(match -res {
        libc::EOPNOTSUPP | libc::EINVAL if o.iopoll => Error::Unsupported(format!(
            "{p}: the kernel cannot poll NVMe passthrough commands ({e}; IOPOLL needs Linux 6.1+); drop --iopoll"
        )),
        libc::EOPNOTSUPP | libc::EINVAL => Error::Unsupported(format!(
            "{p}: the kernel refused NVMe passthrough through io_uring (URING_CMD: {e}; needs Linux 5.19+); use the \
             block device {block} instead"
        )),
        libc::EACCES | libc::EPERM => Error::Permission(format!(
            "{p}: the kernel refused an NVMe Read through passthrough ({e}); run as root (CAP_SYS_ADMIN)"
        )),
        _ => Error::Device(format!("{p}: the first NVMe Read through io_uring failed: {e}")),
    })
}

/// `--fused`: send one real fused Compare (FUSE first) + Write (FUSE second) pair, linked, on
/// the first lock block, writing back the image just read (so a success changes nothing).
/// Always ends the run: either the kernel or device refused it, or it went through and
/// atsbench does not measure fused ATS.
fn try_fused(o: &NvmeOptions, buffers: &BufferChoice) -> Error {
    match fused_results(o, buffers) {
        Ok(res) => fused_verdict(&o.path, &o.ns, res),
        Err(e) => e,
    }
}

fn fused_results(o: &NvmeOptions, buffers: &BufferChoice) -> Result<[i32; 2]> {
    let fixed = buffers.fixed_buffers;
    let mut ring =
        small_ring(o, fixed).map_err(|_| Error::Device(format!("{}: could not set up a ring for --fused", o.path)))?;
    let (lbs, bs) = (o.ns.logical_block_size, o.bs as usize);
    let (slba, nlb, nsid) = (o.first_block / u64::from(lbs), o.bs / lbs, o.ns.nsid);
    let (e_addr, n_addr) = (ring.slab().addr(0), ring.slab().addr(bs));
    let enc = |e: crate::proto::nvme::CommandError| Error::usage(format!("--bs {}: {e}", o.bs));
    let read = NvmeCommand::read(nsid, slba, nlb, e_addr, o.bs).map_err(enc)?;
    let r = run_cmds(&mut ring, &[read], fixed, false)?;
    if r[0] != 0 {
        return Err(Error::Device(format!(
            "{}: reading the first lock block for --fused: {}",
            o.path,
            Completion::from_res(r[0])
        )));
    }
    let image = ring.slab().range(0, bs).to_vec();
    ring.slab_mut().range_mut(bs, bs).copy_from_slice(&image);
    let compare = NvmeCommand::compare(nsid, slba, nlb, e_addr, o.bs).map_err(enc)?.fused(Fuse::First);
    let write = NvmeCommand::write(nsid, slba, nlb, n_addr, o.bs).map_err(enc)?.fused(Fuse::Second);
    let r = run_cmds(&mut ring, &[compare, write], fixed, true)?;
    Ok([r[0], r[1]])
}

/// The one line `--fused` ends with.
fn fused_verdict(p: &str, ns: &Namespace, res: [i32; 2]) -> Error {
    let claim = match ns.fused_compare_write {
        Some(true) => "the controller claims fused Compare and Write (FUSES bit 0)",
        Some(false) => "the controller does not claim it either (FUSES bit 0 clear)",
        None => "the controller's claim is unknown",
    };
    let (c, w) = (Completion::from_res(res[0]), Completion::from_res(res[1]));
    let use_ctw = "atsbench uses compare-then-write (serialised per lock) instead: drop --fused";
    Error::Unsupported(match (c, w) {
        (Completion::Host(_), _) => format!(
            "{p}: --fused: the Linux NVMe passthrough rejects fused commands (Compare with FUSE flags: {c}; linked \
             Write: {w}); {claim}; {use_ctw}"
        ),
        (Completion::Ok, Completion::Ok) => format!(
            "{p}: --fused: this kernel and device accepted a fused Compare+Write, but atsbench does not measure fused \
             ATS; {use_ctw}"
        ),
        _ => format!("{p}: --fused: the fused Compare+Write failed (Compare: {c}; Write: {w}); {claim}; {use_ctw}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(fixed: bool) -> NvmeBackend {
        NvmeBackend::new(3, 1, 512, 4, BufferChoice { fixed_buffers: fixed, fixed_buffers_refused: None })
    }

    #[test]
    fn requests_become_uring_cmds() {
        let mut b = backend(true);
        let req = IoReq { op: Op::Compare, offset: 4096, len: 1024, addr: 0x10_0000, user_data: 2 };
        assert_eq!(b.command(&req), Ok(NvmeCommand::compare(1, 8, 2, 0x10_0000, 1024).unwrap()));
        let w = IoReq { op: Op::Write, offset: 512 << 32, ..req };
        assert_eq!(b.command(&w).map(|c| (c.opcode, c.slba(), c.nlb())), Ok((0x01, 1 << 32, 2)));
        let mut got = Vec::new();
        b.prepare(&req, &mut |e| got.push(format!("{e:?}")));
        // The Debug form shows the opcode (IORING_OP_URING_CMD = 46) and user_data only.
        assert_eq!(got, vec![format!("{:?}", uring_cmd(&NvmeCommand::default(), true, 2))]);
        assert!(got[0].contains("op_code: 46") && got[0].contains("user_data: 2"), "{}", got[0]);
    }

    #[test]
    fn unencodable_requests_fail_without_panicking() {
        let mut b = backend(false);
        let req = IoReq { op: Op::CompareWrite, offset: 0, len: 512, addr: 0, user_data: 1 };
        let mut n = 0;
        b.prepare(&req, &mut |_| n += 1);
        assert_eq!(n, 1);
        let req = IoReq { op: Op::Read, offset: 100, len: 512, addr: 0, user_data: 3 };
        b.prepare(&req, &mut |_| n += 1);
        assert_eq!(b.invalid[1], Some(Unencodable::NoSuchCommand { op: Op::CompareWrite, backend: "NVMe" }));
        assert_eq!(b.invalid[3], Some(Unencodable::NotWholeBlocks { len: 512, offset: 100, lbs: 512 }));
    }

    #[test]
    fn completions_decode() {
        assert_eq!(outcome(0), Outcome::Done);
        assert_eq!(outcome(0x4285), Outcome::Miscompare { offset: None });
        assert_eq!(outcome(0x285), Outcome::Miscompare { offset: None });
        match outcome(0x0001) {
            Outcome::Error(e) => {
                assert_eq!(e.code, 1);
                let m = e.to_string();
                assert!(m.contains("Invalid Command Opcode") && m.contains("does not implement"), "{m}");
            }
            o => panic!("{o:?}"),
        }
        match outcome(-libc::EINVAL) {
            Outcome::Error(e) => assert_eq!(e.code, -22),
            o => panic!("{o:?}"),
        }
        assert!(matches!(outcome(-libc::EOPNOTSUPP), Outcome::Error(e) if e.to_string().contains("5.19")));
    }

    #[test]
    fn report_names_the_path() {
        let r = backend(false).report().unwrap();
        assert_eq!(r.command_path.as_deref(), Some("io_uring URING_CMD"));
        assert_eq!(r.fixed_buffers, Some(false));
        assert_eq!(r.nsid, Some(1));
    }

    #[test]
    fn fused_verdicts_are_one_line_and_unsupported() {
        let probe = Namespace { fused_compare_write: Some(false), ..Default::default() };
        let e = fused_verdict("/dev/ng0n1", &probe, [-libc::EINVAL, -libc::ECANCELED]);
        assert_eq!(e.exit_code(), 7);
        let s = e.to_string();
        assert!(s.contains("rejects fused commands") && s.contains("compare-then-write"), "{s}");
        assert!(!s.contains('\n'));
        assert_eq!(fused_verdict("x", &probe, [0, 0]).exit_code(), 7);
        assert!(fused_verdict("x", &probe, [0x000A, 0x0009]).to_string().contains("Missing Fused"));
    }
}
