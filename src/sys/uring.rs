//! One io_uring per worker, with its registered target file(s) and its one registered slab.
//!
//! Setup tries the flags that make a single-threaded ring cheapest (SINGLE_ISSUER,
//! DEFER_TASKRUN, COOP_TASKRUN) and drops the ones the kernel refuses, recording what it used.
//! SQPOLL and IOPOLL are asked for explicitly and never dropped silently. The ring's own fd is
//! registered (IORING_REGISTER_RING_FDS) where the kernel allows, so that the hot-path enter
//! skips the file-table lookup and reference count a multi-threaded process pays per call.

use super::mem::Slab;
use io_uring::{cqueue, squeue, IoUring};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

// linux/io_uring.h
const IORING_ENTER_GETEVENTS: u32 = 1;
const IORING_ENTER_REGISTERED_RING: u32 = 1 << 4;
const IORING_ENTER_EXT_ARG: u32 = 1 << 3;

/// `struct io_uring_getevents_arg`: a wait's timeout (no signal mask).
#[repr(C)]
struct GetEventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}
const IORING_REGISTER_RING_FDS: u32 = 20;

/// `struct io_uring_rsrc_update` of linux/io_uring.h.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// What a worker asks of its ring.
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    pub entries: u32,
    pub sqpoll: bool,
    pub iopoll: bool,
}

/// Why a ring could not be set up.
#[derive(Debug)]
pub enum RingError {
    Setup(io::Error),
    RegisterFiles(io::Error),
    RegisterBuffers(io::Error),
}

/// A worker's ring. Field order matters: the ring is dropped (and the kernel lets go of the
/// registered slab) before the slab is freed.
pub struct Ring<S: squeue::EntryMarker, C: cqueue::EntryMarker> {
    ring: IoUring<S, C>,
    slab: Slab,
    flags: Vec<&'static str>,
    fixed_buffers: bool,
    /// What the hot-path enter passes: the registered ring index and
    /// IORING_ENTER_REGISTERED_RING, or the ring's fd and no flag.
    enter_fd: u32,
    enter_flags: u32,
    sqpoll: bool,
    iopoll: bool,
    /// Submit and wait in two enters rather than one (see `submit_and_wait_one`).
    split_wait: bool,
    /// The ring's own timer that bounds `submit_and_wait_one`'s waits (see there): its period
    /// (0: never armed), whether it is out, and its time, read by the kernel when submitted.
    tick_ns: u64,
    tick_out: bool,
    tick: Box<io_uring::types::Timespec>,
}

/// The user_data of the ring's own timer; no backend's command has it.
const TICK: u64 = u64::MAX;

type Attempt = &'static [&'static str];

const PREFERRED: [Attempt; 4] =
    [&["single_issuer", "defer_taskrun", "coop_taskrun"], &["single_issuer", "coop_taskrun"], &["coop_taskrun"], &[]];

fn build<S: squeue::EntryMarker, C: cqueue::EntryMarker>(
    cfg: &RingConfig,
    extra: Attempt,
) -> io::Result<IoUring<S, C>> {
    // One entry more than asked for: the ring's own timer (`arm_tick`).
    let entries = cfg.entries + 1;
    let mut b = IoUring::<S, C>::builder();
    b.setup_cqsize(entries * 2).setup_clamp();
    for f in extra {
        match *f {
            "single_issuer" => b.setup_single_issuer(),
            "defer_taskrun" => b.setup_defer_taskrun(),
            "coop_taskrun" => b.setup_coop_taskrun(),
            _ => &mut b,
        };
    }
    if cfg.sqpoll {
        b.setup_sqpoll(50);
    }
    if cfg.iopoll {
        b.setup_iopoll();
    }
    b.build(entries)
}

impl<S: squeue::EntryMarker, C: cqueue::EntryMarker> Ring<S, C> {
    /// Create the ring, register `fds` as fixed files 0.. and `slab` as fixed buffer 0.
    /// With `fixed_buffers` false the slab is kept but not registered.
    pub fn new(cfg: RingConfig, fds: &[RawFd], slab: Slab, fixed_buffers: bool) -> Result<Self, RingError> {
        let mut last = None;
        let mut built = None;
        for extra in PREFERRED {
            // DEFER_TASKRUN needs the submitter to reap; SQPOLL submits from a kernel thread.
            if cfg.sqpoll && extra.contains(&"defer_taskrun") {
                continue;
            }
            match build::<S, C>(&cfg, extra) {
                Ok(r) => {
                    built = Some((r, extra));
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
                Err(e) => return Err(RingError::Setup(e)),
            }
        }
        let Some((ring, extra)) = built else {
            return Err(RingError::Setup(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))));
        };
        let mut flags: Vec<&'static str> = extra.to_vec();
        if cfg.sqpoll {
            flags.push("sqpoll");
        }
        if cfg.iopoll {
            flags.push("iopoll");
        }
        if !fds.is_empty() {
            ring.submitter().register_files(fds).map_err(RingError::RegisterFiles)?;
        }
        if fixed_buffers {
            let iov = [slab.iovec()];
            // SAFETY: the iovec describes the slab, which this Ring owns and frees only after
            // the io_uring is closed (field order), so it stays valid while registered.
            unsafe { ring.submitter().register_buffers(&iov) }.map_err(RingError::RegisterBuffers)?;
        }
        let (enter_fd, enter_flags) = match register_ring_fd(ring.as_raw_fd()) {
            Some(index) => {
                flags.push("registered_ring");
                (index, IORING_ENTER_REGISTERED_RING)
            }
            None => (ring.as_raw_fd() as u32, 0),
        };
        let split_wait = !cfg.sqpoll && !cfg.iopoll && fds.first().is_some_and(|&fd| completes_elsewhere(fd));
        if split_wait {
            flags.push("split_wait");
        }
        Ok(Ring {
            ring,
            slab,
            flags,
            fixed_buffers,
            enter_fd,
            enter_flags,
            sqpoll: cfg.sqpoll,
            iopoll: cfg.iopoll,
            split_wait,
            tick_ns: 0,
            tick_out: false,
            tick: Box::new(io_uring::types::Timespec::new()),
        })
    }

    /// The setup flags in use, for the results.
    pub fn flags(&self) -> &[&'static str] {
        &self.flags
    }

    pub fn fixed_buffers(&self) -> bool {
        self.fixed_buffers
    }

    pub fn slab(&self) -> &Slab {
        &self.slab
    }

    pub fn slab_mut(&mut self) -> &mut Slab {
        &mut self.slab
    }

    /// Queue one SQE; false when the submission queue is full.
    ///
    /// # Safety
    /// Every buffer, file index and pointer `sqe` names must stay valid (and a buffer must not
    /// be touched by anyone else) until its completion has been reaped: in atsbench, a range of
    /// this ring's slab owned by that one request, or memory its backend keeps until it reaps
    /// the completion; and the caller must reap every submitted entry before dropping the ring.
    pub unsafe fn push(&mut self, sqe: &S) -> bool {
        let mut sq = self.ring.submission();
        // SAFETY: the caller upholds the contract above, which is io_uring's own.
        unsafe { sq.push(sqe) }.is_ok()
    }

    /// Submit what is queued and wait for `want` completions.
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        loop {
            match self.ring.submit_and_wait(want) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && want > 0 => {
                    // The completion queue is full: the caller must reap first.
                    return Ok(0);
                }
                r => return r,
            }
        }
    }

    /// Submit what is queued and wait until at least one completion is posted; `inflight` is
    /// how many requests are outstanding once this submits.
    ///
    /// One enter that submits and waits where this thread's own context completes a single
    /// outstanding request (a file, the simulated device), as t/io_uring does at QD 1; else a
    /// submit-only enter, then the wait (fio's way), with one yield of the CPU between them
    /// when nothing completed yet (on a file at any depth, on a device at QD 1), so that what
    /// completes the I/O on this CPU runs before the thread sleeps. Polled rings and SQPOLL
    /// take one enter. The measurements behind each choice are in docs/engine.md.
    ///
    /// The wait ends after `within_ns` at the latest (returning 0), so that a worker whose
    /// device stopped answering still sees its stop flags and the end of its point.
    pub fn submit_and_wait_one(&mut self, inflight: u32, within_ns: u64) -> io::Result<usize> {
        if self.sqpoll {
            // The kernel thread submits: the crate's path knows when it needs waking.
            return self.submit_and_wait_for(within_ns);
        }
        if (self.split_wait || inflight > 1) && !self.iopoll {
            self.enter(0)?;
            if !self.ring.completion().is_empty() {
                return Ok(0);
            }
            // Nothing done yet: let whatever runs the I/O on this CPU have it before sleeping.
            if !self.split_wait || inflight == 1 {
                std::thread::yield_now();
            }
        }
        if self.arm_tick(within_ns) {
            return self.enter(1);
        }
        self.enter_within(within_ns)
    }

    /// Whether a wait of at most `within_ns` can rest on the ring's own timer instead of a
    /// timeout of its own, arming the timer if it is not out.
    ///
    /// A wait with a timeout arms and cancels a kernel timer in every enter: at QD 1 on a
    /// file on /dev/shm that was about 6 % of the reads (0.87x t/io_uring, which waits with
    /// none; 0.93x without it). The ring's timer is an IORING_OP_TIMEOUT of `within_ns` that
    /// posts a completion (user_data `TICK`, dropped by `next_cqe`) and is armed again at the
    /// first wait after it: one timer per period instead of one per wait. A wait may rest on
    /// it while `within_ns` is at least the period it was armed with, so it still ends within
    /// `within_ns`; shorter waits (the drain at a stop) take their own timeout. Polled and
    /// SQPOLL rings keep theirs (a polled ring takes no timeout command).
    fn arm_tick(&mut self, within_ns: u64) -> bool {
        if self.sqpoll || self.iopoll {
            return false;
        }
        if self.tick_out {
            return within_ns >= self.tick_ns;
        }
        *self.tick =
            io_uring::types::Timespec::new().sec(within_ns / 1_000_000_000).nsec((within_ns % 1_000_000_000) as u32);
        let sqe =
            io_uring::opcode::Timeout::new(&*self.tick as *const io_uring::types::Timespec).build().user_data(TICK);
        // SAFETY: a timeout names no buffer; its timespec is in a box this Ring owns, which
        // the kernel reads while the entry is submitted (the next enter), and is not
        // written again until the timer's completion is seen.
        if !unsafe { self.push(&S::from(sqe)) } {
            return false;
        }
        self.tick_ns = within_ns;
        self.tick_out = true;
        true
    }

    /// One io_uring_enter that submits what is queued and waits for one completion or until
    /// `ns` pass (then 0), through the registered ring index like `enter`.
    fn enter_within(&mut self, ns: u64) -> io::Result<usize> {
        let to_submit = self.ring.submission().len() as u32;
        let ts = libc::timespec { tv_sec: (ns / 1_000_000_000) as libc::time_t, tv_nsec: (ns % 1_000_000_000) as _ };
        let arg = GetEventsArg { sigmask: 0, sigmask_sz: 0, min_wait_usec: 0, ts: &ts as *const libc::timespec as u64 };
        let flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | self.enter_flags;
        // SAFETY: io_uring_enter on this ring with an extended argument: `arg` and the
        // timespec it points to live on this stack frame for the whole call, which only reads
        // them; the rings are as in `enter_raw`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                self.enter_fd,
                to_submit,
                1u32,
                flags,
                &arg as *const GetEventsArg,
                std::mem::size_of::<GetEventsArg>(),
            )
        };
        if r >= 0 {
            return Ok(r as usize);
        }
        match io::Error::last_os_error() {
            // Timed out, interrupted by a signal, or the completion queue is full: the caller
            // reaps and looks at its flags.
            e if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)) => Ok(0),
            e => Err(e),
        }
    }

    /// One io_uring_enter that submits what is queued and waits for `want` completions.
    fn enter(&mut self, want: u32) -> io::Result<usize> {
        let to_submit = self.ring.submission().len() as u32;
        let flags = if want > 0 { IORING_ENTER_GETEVENTS } else { 0 };
        match self.enter_raw(to_submit, want, flags) {
            // The completion queue is full: the caller must reap first.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(0),
            r => r,
        }
    }

    /// io_uring_enter through the registered ring index (or the fd), retried on EINTR.
    fn enter_raw(&mut self, to_submit: u32, want: u32, flags: u32) -> io::Result<usize> {
        loop {
            // SAFETY: io_uring_enter on this ring (its fd, or its registered index with the
            // flag saying so) with no argument pointer (argsz 0): the kernel reads only the
            // rings it shares with this process, whose entries the caller's `push` contract
            // keeps valid.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_io_uring_enter,
                    self.enter_fd,
                    to_submit,
                    want,
                    flags | self.enter_flags,
                    std::ptr::null::<libc::c_void>(),
                    0usize,
                )
            };
            if r >= 0 {
                return Ok(r as usize);
            }
            match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::EINTR) => continue,
                e => return Err(e),
            }
        }
    }

    /// Submit what is queued and wait for one completion or until `timeout_ns` passes.
    pub fn submit_and_wait_for(&mut self, timeout_ns: u64) -> io::Result<usize> {
        let ts =
            io_uring::types::Timespec::new().sec(timeout_ns / 1_000_000_000).nsec((timeout_ns % 1_000_000_000) as u32);
        let args = io_uring::types::SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR)) => Ok(0),
            r => r,
        }
    }

    /// Submit what is queued, then poll for a completion without sleeping until one is
    /// posted or CLOCK_MONOTONIC passes `deadline_ns`: each poll is an enter with GETEVENTS
    /// that waits for nothing and runs the deferred task work that posts completions. For
    /// waits shorter than a sleeping thread's wake-up (the simulated device's answers).
    pub fn spin_until(&mut self, deadline_ns: u64) -> io::Result<usize> {
        if self.sqpoll {
            let left = deadline_ns.saturating_sub(super::clock::monotonic_ns()).max(1);
            return self.submit_and_wait_for(left);
        }
        let submitted = self.enter(0)?;
        loop {
            self.enter_raw(0, 0, IORING_ENTER_GETEVENTS)?;
            if self.posted() > 0 || super::clock::monotonic_ns() >= deadline_ns {
                return Ok(submitted);
            }
            std::hint::spin_loop();
        }
    }

    /// Let the kernel post every completion that has happened: with DEFER_TASKRUN they are
    /// posted by work that only an enter with GETEVENTS runs, and a wait that ends on its own
    /// timeout may return before running it. Call before concluding that a command has not
    /// completed.
    pub fn flush(&mut self) -> io::Result<()> {
        // Submits nothing (to_submit 0) and waits for nothing (min_complete 0).
        self.enter_raw(0, 0, IORING_ENTER_GETEVENTS).map(|_| ())
    }

    /// Move every available completion into `out` (which keeps its capacity across calls);
    /// for the backends' pre-flight rings.
    pub fn reap(&mut self, out: &mut Vec<C>)
    where
        C: Clone,
    {
        out.clear();
        out.extend(self.ring.completion());
        let before = out.len();
        out.retain(|c| c.user_data() != TICK);
        self.tick_out &= out.len() == before;
    }

    /// How many completions are posted now.
    #[inline]
    pub fn posted(&mut self) -> usize {
        self.ring.completion().len()
    }

    /// The next completion, if one is posted (the completion queue's head moves past it);
    /// the ring's own timer is not one.
    #[inline]
    pub fn next_cqe(&mut self) -> Option<C>
    where
        C: Clone,
    {
        let mut cq = self.ring.completion();
        loop {
            let c = cq.next()?;
            if c.user_data() != TICK {
                return Some(c);
            }
            self.tick_out = false;
        }
    }
}

/// Whether `fd` is a block or character device, whose completions come from another context
/// (a driver's worker, an interrupt) than this thread's.
fn completes_elsewhere(fd: RawFd) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|m| m.file_type().is_block_device() || m.file_type().is_char_device())
}

/// Register the ring's own fd with itself; its index, or None where the kernel cannot
/// (before Linux 5.18), in which case enters pass the fd.
fn register_ring_fd(fd: RawFd) -> Option<u32> {
    let mut up = RsrcUpdate { offset: u32::MAX, resv: 0, data: fd as u64 };
    // SAFETY: IORING_REGISTER_RING_FDS reads and writes one io_uring_rsrc_update, `up`, which
    // lives across the call; offset u32::MAX asks the kernel to pick the slot.
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            IORING_REGISTER_RING_FDS,
            &mut up as *mut RsrcUpdate as *mut libc::c_void,
            1u32,
        )
    };
    (r == 1).then_some(up.offset)
}
