//! The `bsg-uring` transport: IORING_OP_URING_CMD on the device's bsg node with 128-byte SQEs
//! and 32-byte CQEs (`struct bsg_uring_cmd`; the SCSI status comes back in the CQE's extra
//! word). Linux gained it in 2026; older kernels answer -EOPNOTSUPP, which the probe turns into
//! "unavailable". The probe also checks that an INQUIRY through it returns what sg returns, so a
//! changed structure layout is caught before a run relies on it.

use super::{errno_outcome, outcome, Shared, Transport};
use crate::backend::{Backend, IoReq, Op, Outcome};
use crate::error::Result;
use crate::proto::scsi;
use crate::sys::mem::Slab;
use crate::sys::sg::{AddrCmd, BsgStatus, BsgUringCmd, DataBuf, Dir, SenseBufs, SgIoHdr, BSG_URING_CMD_OP, SENSE_LEN};
use crate::sys::uring::{Ring, RingConfig};
use io_uring::{cqueue, opcode, squeue, types};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;

/// Whether this kernel and device offer bsg io_uring passthrough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BsgProbe {
    /// Yes, through this bsg node.
    Available(String),
    /// No, and why.
    Unavailable(String),
}

const PROBE_LEN: u32 = scsi::INQUIRY_STD_LEN as u32;

/// Standard INQUIRY through sg, to compare with the bsg answer.
fn sg_inquiry(sg: &Path) -> Option<Vec<u8>> {
    let f = super::open_sg(sg, false).ok()?;
    let cdb = scsi::inquiry(false, 0, PROBE_LEN as u16);
    let mut buf = vec![0u8; PROBE_LEN as usize];
    let mut sense = [0u8; SENSE_LEN];
    let mut h = SgIoHdr::new(&cdb, DataBuf::FromDevice(&mut buf), &mut sense, 5000).ok()?;
    crate::sys::sg::sg_io(f.as_fd(), &mut h).ok()?;
    (h.status == 0 && h.host_status == 0).then_some(buf)
}

/// Try one INQUIRY through bsg io_uring passthrough on `bsg` and compare it with sg's.
pub fn probe_bsg_uring(sg: &Path, bsg: Option<&Path>) -> BsgProbe {
    match try_bsg_inquiry(bsg) {
        Ok((node, data)) if sg_inquiry(sg).is_some_and(|d| d == data) => BsgProbe::Available(node),
        Ok((node, _)) => BsgProbe::Unavailable(format!(
            "{node}: an INQUIRY through bsg io_uring returned other data than through sg \
             (a bsg_uring_cmd layout atsbench does not know)"
        )),
        Err(why) => BsgProbe::Unavailable(why),
    }
}

#[allow(unsafe_code)] // Ring::push, for the reason at the call.
fn try_bsg_inquiry(bsg: Option<&Path>) -> Result<(String, Vec<u8>), String> {
    let node = bsg.ok_or("sysfs names no bsg node for this device")?;
    let shown = node.display().to_string();
    let file = std::fs::OpenOptions::new().read(true).write(true).open(node).map_err(|e| format!("{shown}: {e}"))?;
    let cfg = RingConfig { entries: 2, sqpoll: false, iopoll: false };
    let mut ring = Ring::<squeue::Entry128, cqueue::Entry32>::new(cfg, &[file.as_raw_fd()], Slab::new(4096), false)
        .map_err(|e| format!("io_uring with 128-byte entries could not be set up ({e:?})"))?;
    let sense = SenseBufs::new(1);
    let cdb = scsi::inquiry(false, 0, PROBE_LEN as u16);
    let mut cdb16 = [0u8; 16];
    cdb16[..cdb.len()].copy_from_slice(&cdb);
    let cmd = AddrCmd {
        cdb: cdb16,
        cdb_len: cdb.len() as u8,
        dir: Dir::FromDevice,
        data: ring.slab().addr(0),
        data_len: PROBE_LEN,
        timeout_ms: 5000,
    };
    let payload = BsgUringCmd::for_cmd(&cmd, cmd.cdb.as_ptr(), sense.ptr(0)).to_bytes();
    let sqe = opcode::UringCmd80::new(types::Fixed(0), BSG_URING_CMD_OP).cmd(payload).build().user_data(1);
    // SAFETY: the command's CDB (`cmd`), sense (`sense`) and data (the ring's slab) live until
    // the completion is reaped below (or the submission fails and nothing was sent).
    if !unsafe { ring.push(&sqe) } {
        return Err("the probe ring was full".into());
    }
    ring.submit_and_wait(1).map_err(|e| format!("io_uring_enter failed: {e}"))?;
    let mut cqes = Vec::new();
    ring.reap(&mut cqes);
    let cqe = cqes.first().ok_or("no completion for the bsg probe")?;
    match cqe.result() {
        r if r == -libc::EOPNOTSUPP || r == -libc::EINVAL => Err(format!(
            "this kernel ({}) has no bsg io_uring passthrough (IORING_OP_URING_CMD on {shown}: {})",
            crate::sys::blk::kernel_release(),
            std::io::Error::from_raw_os_error(-r)
        )),
        r if r < 0 => {
            Err(format!("bsg io_uring passthrough on {shown} failed: {}", std::io::Error::from_raw_os_error(-r)))
        }
        _ => {
            let st = BsgStatus::from_big_cqe(cqe.big_cqe()[0]);
            if st.status != 0 || st.host_status != 0 {
                return Err(format!("an INQUIRY through bsg io_uring on {shown} ended with status {:#04x}", st.status));
            }
            Ok((shown, ring.slab().range(0, PROBE_LEN as usize).to_vec()))
        }
    }
}

pub struct BsgBackend {
    shared: Arc<Shared>,
    fd: File,
    /// Each slot's CDB: the kernel reads it when it issues the command, possibly after the
    /// SQE was consumed, so it lives here until the completion.
    cdbs: Box<[[u8; 16]]>,
    sense: SenseBufs,
    ops: Vec<Op>,
    pending: Vec<Option<Outcome>>,
}

impl BsgBackend {
    pub fn new(shared: Arc<Shared>) -> Result<Self> {
        let node = shared.bsg_path.clone().unwrap_or_default();
        let fd = super::open_sg(&node, false)?;
        let slots = shared.slots;
        Ok(BsgBackend {
            shared,
            fd,
            cdbs: vec![[0u8; 16]; slots].into_boxed_slice(),
            sense: SenseBufs::new(slots),
            ops: vec![Op::Read; slots],
            pending: vec![None; slots],
        })
    }
}

impl Backend for BsgBackend {
    type Sqe = squeue::Entry128;
    type Cqe = cqueue::Entry32;

    fn fds(&self) -> Vec<RawFd> {
        vec![self.fd.as_raw_fd()]
    }

    fn fixed_buffers(&self) -> bool {
        false
    }

    fn prepare(&mut self, req: &IoReq, push: &mut dyn FnMut(&Self::Sqe)) {
        let slot = req.user_data as usize;
        self.ops[slot] = req.op;
        match super::encode(req, &self.shared.opts) {
            Ok(cmd) => {
                self.cdbs[slot] = cmd.cdb;
                let payload = BsgUringCmd::for_cmd(&cmd, self.cdbs[slot].as_ptr(), self.sense.ptr(slot)).to_bytes();
                let sqe = opcode::UringCmd80::new(types::Fixed(0), BSG_URING_CMD_OP).cmd(payload).build();
                push(&sqe.user_data(req.user_data));
            }
            Err(e) => {
                self.pending[slot] = Some(Outcome::Error(e));
                push(&opcode::Nop::new().build().user_data(req.user_data).into());
            }
        }
    }

    fn complete(&mut self, cqe: &Self::Cqe, done: &mut dyn FnMut(u64, Outcome), _push: &mut dyn FnMut(&Self::Sqe)) {
        let ud = cqe.user_data();
        let slot = ud as usize;
        if slot >= self.ops.len() {
            return;
        }
        if let Some(o) = self.pending[slot].take() {
            return done(ud, o);
        }
        let op = self.ops[slot];
        let o = if cqe.result() < 0 {
            errno_outcome(op, Transport::BsgUring, &std::io::Error::from_raw_os_error(-cqe.result()))
        } else {
            let st = BsgStatus::from_big_cqe(cqe.big_cqe()[0]);
            let sense = self.sense.copy(slot);
            let n = usize::from(st.sense_len).min(sense.len());
            outcome(op, st.status, st.host_status, st.driver_status, &sense[..n])
        };
        done(ud, o);
    }

    fn report(&self) -> Option<crate::results::BackendReport> {
        let node = self.shared.bsg_path.as_ref().map(|p| p.display().to_string());
        let extra = crate::results::BackendReport { bsg_node: node, ..Default::default() };
        Some(self.shared.report(Transport::BsgUring, extra))
    }
}
