//! The SCSI generic (sg) driver: sg_io_hdr and its ioctls.
//!
//! Two ways to run a command on `/dev/sgN`:
//! - synchronous: [`sg_io`] (`ioctl(SG_IO)`), the buffers borrowed for the call;
//! - asynchronous v3: [`sg_submit`] (`write(2)` of the header), then [`sg_reap`] (`read(2)`),
//!   with `poll(2)` for readiness. At most 16 commands (SG_MAX_QUEUE) may be outstanding per
//!   fd: one more and `write(2)` fails with `EDOM`. The buffers must outlive the command, which
//!   the borrow checker cannot see, so submitting is `unsafe`.
//!
//! Layout from /usr/include/scsi/sg.h (the 64-bit ABI; 32-bit processes are not supported).

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr;

use libc::c_int;

use crate::proto::scsi::{classify_sg, ScsiOutcome};

/// Synchronous command: the ioctl returns when the command completes.
pub const SG_IO: u32 = 0x2285;
/// Driver version, e.g. 30536 for 3.5.36.
pub const SG_GET_VERSION_NUM: u32 = 0x2282;
/// Set the reserved (indirect I/O) buffer size; argument `int *`.
pub const SG_SET_RESERVED_SIZE: u32 = 0x2275;
/// Get the reserved buffer size; argument `int *`.
pub const SG_GET_RESERVED_SIZE: u32 = 0x2272;
/// 1: `read(2)` returns the command whose `pack_id` is in the header it is given.
pub const SG_SET_FORCE_PACK_ID: u32 = 0x227b;
/// Number of completed commands waiting for `read(2)`; argument `int *`.
pub const SG_GET_NUM_WAITING: u32 = 0x227d;
/// 1: a command interrupted in SG_IO is kept for `read(2)`; 0 (default): dropped.
pub const SG_SET_KEEP_ORPHAN: u32 = 0x2287;
/// Maximum outstanding commands per fd; one more `write(2)` fails with `EDOM`.
pub const SG_MAX_QUEUE: usize = 16;

/// `interface_id` of the v3 interface: 'S'.
pub const SG_INTERFACE_ID: c_int = b'S' as c_int;
/// No data transfer (e.g. TEST UNIT READY).
pub const SG_DXFER_NONE: c_int = -1;
/// Data-Out: host to device (WRITE, COMPARE AND WRITE).
pub const SG_DXFER_TO_DEV: c_int = -2;
/// Data-In: device to host (READ, INQUIRY).
pub const SG_DXFER_FROM_DEV: c_int = -3;
/// Like FROM_DEV, but the user buffer is first copied in (indirect I/O).
pub const SG_DXFER_TO_FROM_DEV: c_int = -4;

/// Direct I/O: the device transfers to/from the user pages (default is via kernel buffers).
pub const SG_FLAG_DIRECT_IO: u32 = 0x1;
/// Do not put the LUN in the second CDB byte.
pub const SG_FLAG_LUN_INHIBIT: u32 = 0x2;
/// Data is exchanged through the fd's mmap(2)-ed reserved buffer, not `dxferp`.
pub const SG_FLAG_MMAP_IO: u32 = 0x4;
/// Debug: skip the copy between kernel and user buffers.
pub const SG_FLAG_NO_DXFER: u32 = 0x10000;
/// Queue at the head of the device queue (the default for v3).
pub const SG_FLAG_Q_AT_HEAD: u32 = 0x20;
/// Queue at the tail of the device queue.
pub const SG_FLAG_Q_AT_TAIL: u32 = 0x10;

/// `info` bit: something other than GOOD happened (status, host, driver or sense).
pub const SG_INFO_CHECK: u32 = 0x1;

/// The data buffer of a command and its direction.
#[derive(Debug)]
pub enum DataBuf<'a> {
    /// No data phase.
    None,
    /// Data-Out: the device reads this buffer.
    ToDevice(&'a [u8]),
    /// Data-In: the device fills this buffer.
    FromDevice(&'a mut [u8]),
}

/// `struct sg_io_hdr` (88 bytes on 64-bit Linux).
///
/// The pointers (CDB, data, sense) can only be set by [`SgIoHdr::new`], which borrows the
/// buffers for `'a`, or by the `unsafe` [`SgIoHdr::from_raw_parts`]; that is what makes
/// [`sg_io`] safe. Output fields are public and meaningful after the command completes.
#[repr(C)]
#[derive(Debug)]
// wide: the kernel's struct sg_io_hdr (repr(C)), field for field
pub struct SgIoHdr<'a> {
    interface_id: c_int,
    dxfer_direction: c_int,
    cmd_len: u8,
    mx_sb_len: u8,
    iovec_count: u16,
    dxfer_len: u32,
    dxferp: *mut c_void,
    cmdp: *const u8,
    sbp: *mut u8,
    /// Timeout in milliseconds (`u32::MAX`: none).
    pub timeout: u32,
    flags: u32,
    /// Caller's tag; with SG_SET_FORCE_PACK_ID it selects what `read(2)` returns.
    pub pack_id: i32,
    usr_ptr: *mut c_void,
    /// SCSI status byte.
    pub status: u8,
    /// `status` shifted right by one and masked (legacy).
    pub masked_status: u8,
    /// Messaging-level data (rarely used).
    pub msg_status: u8,
    /// Bytes of sense data written.
    pub sb_len_wr: u8,
    /// Host adapter status (DID_*).
    pub host_status: u16,
    /// Driver status (DRIVER_* | SUGGEST_*).
    pub driver_status: u16,
    /// `dxfer_len` minus the bytes actually transferred.
    pub resid: i32,
    /// Command duration in milliseconds.
    pub duration: u32,
    /// SG_INFO_* bits.
    pub info: u32,
    _buffers: PhantomData<&'a mut [u8]>,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<SgIoHdr<'static>>() == 88);
    assert!(std::mem::offset_of!(SgIoHdr<'static>, dxferp) == 16);
    assert!(std::mem::offset_of!(SgIoHdr<'static>, timeout) == 40);
    assert!(std::mem::offset_of!(SgIoHdr<'static>, usr_ptr) == 56);
    assert!(std::mem::offset_of!(SgIoHdr<'static>, status) == 64);
    assert!(std::mem::offset_of!(SgIoHdr<'static>, host_status) == 68);
    assert!(std::mem::offset_of!(SgIoHdr<'static>, info) == 80);
};

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl<'a> SgIoHdr<'a> {
    /// A header for `cdb` with `data` and room for sense data in `sense` (at most 255 bytes
    /// are used). Fails if the CDB is empty or longer than 255 bytes, or the data is 4 GiB or
    /// more.
    pub fn new(cdb: &'a [u8], data: DataBuf<'a>, sense: &'a mut [u8], timeout_ms: u32) -> io::Result<Self> {
        let cmd_len = u8::try_from(cdb.len())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid(format!("CDB length {} is not 1..=255", cdb.len())))?;
        let (direction, ptr, len) = match data {
            DataBuf::None => (SG_DXFER_NONE, ptr::null_mut(), 0),
            DataBuf::ToDevice(d) => (SG_DXFER_TO_DEV, d.as_ptr().cast_mut(), d.len()),
            DataBuf::FromDevice(d) => (SG_DXFER_FROM_DEV, d.as_mut_ptr(), d.len()),
        };
        let dxfer_len =
            u32::try_from(len).map_err(|_| invalid(format!("data length {len} does not fit sg's 32-bit field")))?;
        let mx_sb_len = u8::try_from(sense.len()).unwrap_or(u8::MAX);
        let mut h = Self::empty();
        h.dxfer_direction = direction;
        h.cmd_len = cmd_len;
        h.mx_sb_len = mx_sb_len;
        h.dxfer_len = dxfer_len;
        h.dxferp = ptr.cast();
        h.cmdp = cdb.as_ptr();
        h.sbp = sense.as_mut_ptr();
        h.timeout = timeout_ms;
        Ok(h)
    }

    /// A header from raw pointers, e.g. into a registered slab shared by many commands.
    ///
    /// # Safety
    /// `cdb` must be readable for `cdb_len` bytes; `sense` writable for `sense_len` bytes;
    /// `data` readable (SG_DXFER_TO_DEV) or writable (SG_DXFER_FROM_DEV) for `data_len` bytes
    /// (or null with SG_DXFER_NONE). All of them must stay valid, and the data-in and sense
    /// memory untouched by Rust, while the header is in use: for the whole [`sg_io`] call,
    /// or from [`sg_submit`] until the command is reaped by [`sg_reap`].
    pub unsafe fn from_raw_parts(
        cdb: *const u8,
        cdb_len: u8,
        direction: c_int,
        data: *mut u8,
        data_len: u32,
        sense: *mut u8,
        sense_len: u8,
    ) -> Self {
        let mut h = Self::empty();
        h.dxfer_direction = direction;
        h.cmd_len = cdb_len;
        h.mx_sb_len = sense_len;
        h.dxfer_len = data_len;
        h.dxferp = data.cast();
        h.cmdp = cdb;
        h.sbp = sense;
        h
    }

    /// A header with no buffers (null pointers, zero lengths) and the v3 interface id.
    fn empty() -> Self {
        Self {
            interface_id: SG_INTERFACE_ID,
            dxfer_direction: SG_DXFER_NONE,
            cmd_len: 0,
            mx_sb_len: 0,
            iovec_count: 0,
            dxfer_len: 0,
            dxferp: ptr::null_mut(),
            cmdp: ptr::null(),
            sbp: ptr::null_mut(),
            timeout: 0,
            flags: 0,
            pack_id: 0,
            usr_ptr: ptr::null_mut(),
            status: 0,
            masked_status: 0,
            msg_status: 0,
            sb_len_wr: 0,
            host_status: 0,
            driver_status: 0,
            resid: 0,
            duration: 0,
            info: 0,
            _buffers: PhantomData,
        }
    }

    /// Sets SG_FLAG_* bits. Direct I/O is refused here: see [`Self::set_direct_io`].
    pub fn set_flags(&mut self, flags: u32) -> io::Result<()> {
        if flags & SG_FLAG_DIRECT_IO != 0 {
            return Err(invalid("SG_FLAG_DIRECT_IO needs SgIoHdr::set_direct_io".into()));
        }
        self.flags = flags;
        Ok(())
    }

    /// Asks for direct I/O (the device DMAs to/from the buffer's pages).
    ///
    /// # Safety
    /// If a synchronous [`sg_io`] is interrupted by a signal, the orphaned command still
    /// transfers into the buffer when the device completes it. The caller must keep the data
    /// buffer valid (and not reuse it) until such a command is known to have completed.
    pub unsafe fn set_direct_io(&mut self) {
        self.flags |= SG_FLAG_DIRECT_IO;
    }

    /// The SG_FLAG_* bits.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Stores a caller token in `usr_ptr` (the kernel only copies it back).
    pub fn set_user_token(&mut self, token: u64) {
        self.usr_ptr = token as usize as *mut c_void;
    }

    /// The outputs of the completed command.
    pub fn completion(&self) -> SgCompletion {
        SgCompletion {
            pack_id: self.pack_id,
            user_token: self.usr_ptr as usize as u64,
            status: self.status,
            masked_status: self.masked_status,
            msg_status: self.msg_status,
            sb_len_wr: self.sb_len_wr,
            host_status: self.host_status,
            driver_status: self.driver_status,
            resid: self.resid,
            duration_ms: self.duration,
            info: self.info,
        }
    }
}

/// The outputs of one completed sg command (copied out of its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SgCompletion {
    /// The `pack_id` given at submission.
    pub pack_id: i32,
    /// The token given with [`SgIoHdr::set_user_token`].
    pub user_token: u64,
    /// SCSI status byte.
    pub status: u8,
    /// Legacy shifted status.
    pub masked_status: u8,
    /// Messaging-level data.
    pub msg_status: u8,
    /// Bytes of sense data written to the sense buffer.
    pub sb_len_wr: u8,
    /// Host adapter status (DID_*).
    pub host_status: u16,
    /// Driver status.
    pub driver_status: u16,
    /// Bytes not transferred.
    pub resid: i32,
    /// Duration in milliseconds as measured by the driver.
    pub duration_ms: u32,
    /// SG_INFO_* bits.
    pub info: u32,
}

impl SgCompletion {
    /// Classifies the command, given the sense buffer it was submitted with.
    pub fn outcome(&self, sense_buf: &[u8]) -> ScsiOutcome {
        let n = usize::from(self.sb_len_wr).min(sense_buf.len());
        classify_sg(self.status, self.host_status, self.driver_status, &sense_buf[..n])
    }
}

/// `ioctl(fd, request, arg)`.
///
/// # Safety
/// `arg` must be valid for everything `request` reads from and writes to it, including
/// memory it points to, for the duration of the call.
unsafe fn ioctl_ptr<T>(fd: BorrowedFd<'_>, request: u32, arg: *mut T) -> io::Result<c_int> {
    // SAFETY: `fd` is an open descriptor (borrowed for the call); the caller guarantees `arg`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::Ioctl, arg) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

fn ioctl_get_int(fd: BorrowedFd<'_>, request: u32) -> io::Result<i32> {
    let mut v: c_int = 0;
    // SAFETY: the sg GET ioctls used here write one int through the pointer, which points
    // to a live local.
    unsafe { ioctl_ptr(fd, request, &mut v) }?;
    Ok(v)
}

fn ioctl_set_int(fd: BorrowedFd<'_>, request: u32, value: i32) -> io::Result<()> {
    let mut v: c_int = value;
    // SAFETY: the sg SET ioctls used here read one int through the pointer, which points to
    // a live local.
    unsafe { ioctl_ptr(fd, request, &mut v) }?;
    Ok(())
}

/// The sg driver version (e.g. 30536 = 3.5.36); fails with `ENOTTY` if `fd` is not an sg
/// device, which makes it the probe for one.
pub fn sg_version(fd: BorrowedFd<'_>) -> io::Result<i32> {
    ioctl_get_int(fd, SG_GET_VERSION_NUM)
}

/// Size of the fd's reserved buffer (used for indirect I/O).
pub fn sg_reserved_size(fd: BorrowedFd<'_>) -> io::Result<i32> {
    ioctl_get_int(fd, SG_GET_RESERVED_SIZE)
}

/// Requests a reserved buffer size; read it back with [`sg_reserved_size`].
pub fn sg_set_reserved_size(fd: BorrowedFd<'_>, bytes: i32) -> io::Result<()> {
    ioctl_set_int(fd, SG_SET_RESERVED_SIZE, bytes)
}

/// With `true`, [`sg_reap`] returns the command with the `pack_id` it is given.
pub fn sg_set_force_pack_id(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    ioctl_set_int(fd, SG_SET_FORCE_PACK_ID, i32::from(on))
}

/// Number of completed commands waiting to be reaped.
pub fn sg_num_waiting(fd: BorrowedFd<'_>) -> io::Result<i32> {
    ioctl_get_int(fd, SG_GET_NUM_WAITING)
}

/// Runs one command synchronously (`ioctl(SG_IO)`), filling the header's outputs.
///
/// The header's buffers are borrowed for `'a`, which covers the call: the kernel copies the
/// data-out and CDB in, and the data-in and sense out, before it returns. A transport or
/// device error is reported in the header (see [`SgIoHdr::completion`]), not as `Err`; `Err`
/// means the command could not be issued (e.g. `EPERM`, `EINVAL`, `ENOMEM`, `EINTR`).
pub fn sg_io(fd: BorrowedFd<'_>, hdr: &mut SgIoHdr<'_>) -> io::Result<()> {
    let p: *mut SgIoHdr<'_> = hdr;
    // SAFETY: `p` is a valid, exclusive sg_io_hdr (repr(C), size checked). Its CDB, data and
    // sense pointers were set either from borrows that outlive `hdr` (`SgIoHdr::new`) or
    // under the contract of `SgIoHdr::from_raw_parts`; direct I/O, whose transfer can outlive
    // an interrupted call, is only set through the unsafe `set_direct_io`.
    unsafe { ioctl_ptr(fd, SG_IO, p) }?;
    Ok(())
}

/// Submits one command asynchronously (`write(2)` of the header).
///
/// Fails with `EDOM` when [`SG_MAX_QUEUE`] commands are already outstanding on `fd`, and with
/// `EAGAIN` on a non-blocking fd whose queue is momentarily full.
///
/// # Safety
/// The kernel keeps the header's data and sense pointers: the data-out must stay valid until
/// this returns, and the data-in and sense buffers must stay valid (and not be accessed by
/// Rust) until the command is reaped with [`sg_reap`], which is when the kernel writes them.
pub unsafe fn sg_submit(fd: BorrowedFd<'_>, hdr: &SgIoHdr<'_>) -> io::Result<()> {
    let want = size_of::<SgIoHdr<'_>>();
    let p: *const SgIoHdr<'_> = hdr;
    // SAFETY: `p` points to `want` readable bytes; the buffers it references are the
    // caller's obligation (see `# Safety`).
    let n = unsafe { libc::write(fd.as_raw_fd(), p.cast(), want) };
    match n {
        n if n < 0 => Err(io::Error::last_os_error()),
        n if n as usize == want => Ok(()),
        n => Err(io::Error::other(format!("sg write took {n} of {want} header bytes"))),
    }
}

/// Reaps one completed command (`read(2)` of a header): the oldest, or with
/// [`sg_set_force_pack_id`] on, the one submitted with `pack_id` (-1: any).
///
/// Blocks unless `fd` is non-blocking (then `EAGAIN` when none is ready). The kernel writes
/// the command's data-in and sense into the buffers given at submission before this returns.
pub fn sg_reap(fd: BorrowedFd<'_>, pack_id: i32) -> io::Result<SgCompletion> {
    // A negative dxfer_direction (the v2 reply_len field) marks a v3 header for the pack_id
    // lookup; the kernel overwrites the whole header with the submitted one plus outputs.
    let mut hdr = SgIoHdr::<'static>::empty();
    hdr.pack_id = pack_id;
    let want = size_of::<SgIoHdr<'_>>();
    let p: *mut SgIoHdr<'_> = &mut hdr;
    // SAFETY: `p` points to `want` writable bytes of a local repr(C) header whose every bit
    // pattern is valid (integers and raw pointers); the pointers the kernel copies in are
    // never dereferenced here.
    let n = unsafe { libc::read(fd.as_raw_fd(), p.cast(), want) };
    match n {
        n if n < 0 => Err(io::Error::last_os_error()),
        n if n as usize == want => Ok(hdr.completion()),
        n => Err(io::Error::other(format!("sg read returned {n} of {want} header bytes"))),
    }
}

// ----- commands by address, as the SCSI backend builds them -----

/// Bytes of sense data kept per command: fixed format (18 bytes) and descriptor format with an
/// information descriptor fit with room to spare.
pub const SENSE_LEN: usize = 64;

/// Sense buffers, one per request slot, at addresses that stay put while the kernel writes them.
///
/// The kernel writes slot `i` only while slot `i`'s command is in flight: during the `read(2)`
/// that reaps it (sg v3), during its `ioctl(SG_IO)`, or (bsg io_uring) before its completion is
/// posted. The backend reads a slot only after reaping its command and before submitting the
/// next one on that slot.
pub struct SenseBufs {
    bufs: Box<[UnsafeCell<[u8; SENSE_LEN]>]>,
}

impl SenseBufs {
    pub fn new(slots: usize) -> Self {
        SenseBufs { bufs: (0..slots).map(|_| UnsafeCell::new([0u8; SENSE_LEN])).collect() }
    }

    /// Where the kernel writes slot `slot`'s sense data.
    pub fn ptr(&self, slot: usize) -> *mut u8 {
        self.bufs[slot].get().cast()
    }

    /// A copy of slot `slot`'s sense buffer; call it only once that slot's command was reaped
    /// (see the type's documentation).
    pub fn copy(&self, slot: usize) -> [u8; SENSE_LEN] {
        // SAFETY: in bounds (indexing panics otherwise); the kernel no longer writes this slot
        // because its command has completed and the next one is not submitted yet (the
        // backend's rule above), and no Rust reference to the buffer exists besides this read.
        unsafe { *self.bufs[slot].get() }
    }
}

/// Direction of a command's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    None,
    ToDevice,
    FromDevice,
}

/// One SCSI command whose data buffer is given by address: a range of a worker's slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrCmd {
    pub cdb: [u8; 16],
    pub cdb_len: u8,
    pub dir: Dir,
    pub data: u64,
    pub data_len: u32,
    pub timeout_ms: u32,
}

impl AddrCmd {
    /// A header for this command, valid only while `self` and `sense` are alive.
    fn header(&self, sense: &SenseBufs, slot: usize) -> SgIoHdr<'static> {
        let dir = match self.dir {
            Dir::None => SG_DXFER_NONE,
            Dir::ToDevice => SG_DXFER_TO_DEV,
            Dir::FromDevice => SG_DXFER_FROM_DEV,
        };
        let len = if self.dir == Dir::None { 0 } else { self.data_len };
        let cdb_len = self.cdb_len.clamp(1, 16);
        // SAFETY: `from_raw_parts` only stores the pointers. Its callers here (`submit_addr`,
        // `sg_io_addr`) use the header within their own call, while `self` (the CDB) and
        // `sense` are borrowed, and under the crate's buffer contract for the data.
        unsafe {
            SgIoHdr::from_raw_parts(
                self.cdb.as_ptr(),
                cdb_len,
                dir,
                self.data as usize as *mut u8,
                len,
                sense.ptr(slot),
                SENSE_LEN as u8,
            )
        }
    }
}

/// Submits `cmd` asynchronously (sg v3 `write(2)`), tagged `tag` in `pack_id` and `usr_ptr`,
/// with its sense going to `sense` slot `slot`.
///
/// Soundness rests on the crate's buffer contract, as for `Ring::push`: `cmd.data` is a range
/// of a live slab owned by this one command until it is reaped with [`sg_reap`], and `sense`
/// outlives that too. Without direct I/O (never set here) sg copies the CDB and data-out during
/// this call, and writes the data-in and sense during the `read(2)` that reaps the command; a
/// command never reaped (its fd closed) writes nothing to user memory.
pub(crate) fn submit_addr(
    fd: BorrowedFd<'_>,
    cmd: &AddrCmd,
    sense: &SenseBufs,
    slot: usize,
    tag: u64,
) -> io::Result<()> {
    let mut hdr = cmd.header(sense, slot);
    hdr.timeout = cmd.timeout_ms;
    hdr.pack_id = tag as i32;
    hdr.set_user_token(tag);
    // SAFETY: see above: the CDB is borrowed for the call, the data and sense stay valid until
    // the command is reaped (the caller's contract), and direct I/O is not set.
    unsafe { sg_submit(fd, &hdr) }
}

/// Runs `cmd` synchronously (`ioctl(SG_IO)`), its sense going to `sense` slot `slot`.
///
/// Same buffer contract as [`submit_addr`], for the duration of the call only.
pub(crate) fn sg_io_addr(
    fd: BorrowedFd<'_>,
    cmd: &AddrCmd,
    sense: &SenseBufs,
    slot: usize,
) -> io::Result<SgCompletion> {
    let mut hdr = cmd.header(sense, slot);
    hdr.timeout = cmd.timeout_ms;
    sg_io(fd, &mut hdr)?;
    Ok(hdr.completion())
}

// ----- bsg io_uring passthrough -----

/// `cmd_op` of a bsg passthrough SQE. The kernel's bsg handler takes the SCSI command from the
/// payload; 0 is what the published users pass (unverified on a kernel here).
pub const BSG_URING_CMD_OP: u32 = 0;
/// `protocol`: SCSI.
pub const BSG_PROTOCOL_SCSI: u32 = 0;
/// `subprotocol`: a SCSI command.
pub const BSG_SUB_PROTOCOL_SCSI_CMD: u32 = 0;

/// `struct bsg_uring_cmd` (80 bytes: the whole command area of a 128-byte SQE), as merged into
/// Linux in 2026. Byte offsets: request@0 u64, request_len@8, protocol@12, subprotocol@16,
/// max_response_len@20, response@24 u64, dout_xferp@32 u64, dout_xfer_len@40,
/// dout_iovec_count@44, din_xferp@48 u64, din_xfer_len@56, din_iovec_count@60, timeout_ms@64,
/// reserved@68..80. Unverified here: no kernel available to this project has it yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BsgUringCmd {
    /// Address of the CDB; it must stay valid until the command completes.
    pub request: u64,
    pub request_len: u32,
    /// Address and size of the sense buffer.
    pub response: u64,
    pub max_response_len: u32,
    pub dout_xferp: u64,
    pub dout_xfer_len: u32,
    pub din_xferp: u64,
    pub din_xfer_len: u32,
    pub timeout_ms: u32,
}

impl BsgUringCmd {
    /// The 80-byte SQE payload (little-endian, as on every Linux target atsbench supports).
    pub fn to_bytes(&self) -> [u8; 80] {
        let mut b = [0u8; 80];
        let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(0, &self.request.to_ne_bytes());
        put(8, &self.request_len.to_ne_bytes());
        put(12, &BSG_PROTOCOL_SCSI.to_ne_bytes());
        put(16, &BSG_SUB_PROTOCOL_SCSI_CMD.to_ne_bytes());
        put(20, &self.max_response_len.to_ne_bytes());
        put(24, &self.response.to_ne_bytes());
        put(32, &self.dout_xferp.to_ne_bytes());
        put(40, &self.dout_xfer_len.to_ne_bytes());
        put(48, &self.din_xferp.to_ne_bytes());
        put(56, &self.din_xfer_len.to_ne_bytes());
        put(64, &self.timeout_ms.to_ne_bytes());
        b
    }

    /// The payload for `cmd`, with its CDB at `cdb` and sense buffer at `sense`.
    pub fn for_cmd(cmd: &AddrCmd, cdb: *const u8, sense: *mut u8) -> Self {
        let mut c = BsgUringCmd {
            request: cdb as usize as u64,
            request_len: u32::from(cmd.cdb_len),
            response: sense as usize as u64,
            max_response_len: SENSE_LEN as u32,
            timeout_ms: cmd.timeout_ms,
            ..Default::default()
        };
        match cmd.dir {
            Dir::None => {}
            Dir::ToDevice => (c.dout_xferp, c.dout_xfer_len) = (cmd.data, cmd.data_len),
            Dir::FromDevice => (c.din_xferp, c.din_xfer_len) = (cmd.data, cmd.data_len),
        }
        c
    }
}

/// The status a bsg passthrough completion packs into the CQE32's first extra word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BsgStatus {
    pub status: u8,
    pub driver_status: u16,
    pub host_status: u16,
    pub sense_len: u8,
    pub resid: u32,
}

impl BsgStatus {
    /// Device status bits 0..7, driver status 8..15, host status 16..23, sense length 24..31,
    /// residual 32..63.
    pub fn from_big_cqe(v: u64) -> Self {
        BsgStatus {
            status: v as u8,
            driver_status: u16::from((v >> 8) as u8),
            host_status: u16::from((v >> 16) as u8),
            sense_len: (v >> 24) as u8,
            resid: (v >> 32) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::scsi;

    #[test]
    fn header_from_buffers() {
        let cdb = scsi::compare_and_write(42, 1, false, false, 0);
        let data = [0u8; 1024];
        let mut sense = [0u8; 32];
        let h = SgIoHdr::new(&cdb, DataBuf::ToDevice(&data), &mut sense, 5000).unwrap();
        assert_eq!(h.interface_id, c_int::from(b'S'));
        assert_eq!(h.dxfer_direction, SG_DXFER_TO_DEV);
        assert_eq!((h.cmd_len, h.mx_sb_len, h.dxfer_len, h.timeout), (16, 32, 1024, 5000));
        assert_eq!(h.dxferp as usize, data.as_ptr() as usize);
        assert_eq!(h.cmdp, cdb.as_ptr());
        assert_eq!(h.iovec_count, 0);
        assert_eq!(h.flags(), 0);
    }

    #[test]
    fn header_directions_and_limits() {
        let cdb = scsi::inquiry(false, 0, 96);
        let mut buf = [0u8; 96];
        let mut big_sense = [0u8; 300];
        let h = SgIoHdr::new(&cdb, DataBuf::FromDevice(&mut buf), &mut big_sense, 0).unwrap();
        assert_eq!((h.dxfer_direction, h.dxfer_len, h.mx_sb_len), (SG_DXFER_FROM_DEV, 96, 255));
        let tur = scsi::test_unit_ready();
        let mut sense = [0u8; 18];
        let h = SgIoHdr::new(&tur, DataBuf::None, &mut sense, 0).unwrap();
        assert_eq!((h.dxfer_direction, h.dxfer_len), (SG_DXFER_NONE, 0));
        assert!(h.dxferp.is_null());
        let err = SgIoHdr::new(&[], DataBuf::None, &mut sense, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let long = [0u8; 256];
        assert!(SgIoHdr::new(&long, DataBuf::None, &mut sense, 0).is_err());
    }

    #[test]
    fn flags_and_token() {
        let cdb = scsi::test_unit_ready();
        let mut sense = [0u8; 18];
        let mut h = SgIoHdr::new(&cdb, DataBuf::None, &mut sense, 0).unwrap();
        h.set_flags(SG_FLAG_Q_AT_TAIL).unwrap();
        assert_eq!(h.flags(), SG_FLAG_Q_AT_TAIL);
        assert!(h.set_flags(SG_FLAG_DIRECT_IO).is_err());
        // SAFETY: the header is never submitted.
        unsafe { h.set_direct_io() };
        assert_eq!(h.flags(), SG_FLAG_Q_AT_TAIL | SG_FLAG_DIRECT_IO);
        h.set_user_token(0xdead_beef);
        h.pack_id = 7;
        let c = h.completion();
        assert_eq!((c.user_token, c.pack_id), (0xdead_beef, 7));
    }

    #[test]
    fn completion_outcome_uses_written_sense_only() {
        let mut c = SgIoHdr::<'static>::empty().completion();
        let mut sense = [0u8; 32];
        sense[..14].copy_from_slice(&[0x70, 0, 0x0e, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x1d, 0]);
        c.status = 0x02;
        c.driver_status = 0x08;
        c.sb_len_wr = 18;
        assert_eq!(c.outcome(&sense), ScsiOutcome::Miscompare { offset: None });
        c.sb_len_wr = 0;
        assert!(matches!(c.outcome(&sense), ScsiOutcome::Error(_)));
        c.sb_len_wr = 200; // more than the buffer: clamped, no panic
        assert_eq!(c.outcome(&sense[..18]), ScsiOutcome::Miscompare { offset: None });
    }

    #[test]
    fn non_sg_fd_fails_cleanly() {
        let f = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        let err = sg_version(f.as_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
    }

    #[test]
    fn addr_cmd_headers() {
        let sense = SenseBufs::new(2);
        let cmd = AddrCmd {
            cdb: scsi::compare_and_write(7, 1, false, false, 0),
            cdb_len: 16,
            dir: Dir::ToDevice,
            data: 0x1000,
            data_len: 1024,
            timeout_ms: 60_000,
        };
        let h = cmd.header(&sense, 1);
        assert_eq!((h.dxfer_direction, h.dxfer_len, h.cmd_len, h.mx_sb_len), (SG_DXFER_TO_DEV, 1024, 16, 64));
        assert_eq!(h.dxferp as usize, 0x1000);
        assert_eq!(h.sbp, sense.ptr(1));
        let none = AddrCmd { dir: Dir::None, ..cmd };
        assert_eq!(none.header(&sense, 0).dxfer_len, 0);
        assert_eq!(sense.copy(1), [0u8; SENSE_LEN]);
    }

    #[test]
    fn bsg_payload_layout() {
        let cmd = AddrCmd {
            cdb: scsi::read16(1, 1, false),
            cdb_len: 16,
            dir: Dir::FromDevice,
            data: 0x1122_3344_5566_7788,
            data_len: 512,
            timeout_ms: 1000,
        };
        let b = BsgUringCmd::for_cmd(&cmd, 0x10 as *const u8, 0x20 as *mut u8).to_bytes();
        let u64_at = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!((u64_at(0), u32_at(8), u32_at(12), u32_at(16)), (0x10, 16, 0, 0));
        assert_eq!((u32_at(20), u64_at(24)), (SENSE_LEN as u32, 0x20));
        assert_eq!((u64_at(32), u32_at(40)), (0, 0), "no data-out for a read");
        assert_eq!((u64_at(48), u32_at(56), u32_at(64)), (0x1122_3344_5566_7788, 512, 1000));
        assert!(b[68..].iter().all(|&x| x == 0));
        let st = BsgStatus::from_big_cqe(0x0000_0200_1200_0802);
        assert_eq!((st.status, st.driver_status, st.host_status, st.sense_len, st.resid), (2, 8, 0, 0x12, 0x200));
    }
}
