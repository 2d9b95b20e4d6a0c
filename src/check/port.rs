//! How the checks reach a device: one synchronous command at a time through a *port*, a
//! handle on one path. SCSI ports run CDBs (`ioctl(SG_IO)` on /dev/sgN); NVMe ports run I/O
//! commands (`NVME_IOCTL_IO_CMD` on /dev/ngXnY) and Identify. The simulated device (`sim`)
//! implements the same traits and executes the very same CDBs and command images.
//!
//! A port can be forked: another handle on the same path (another open file), so that the
//! atomicity checks run one actor per thread, each with its own command in flight.

use super::{fail, Step, Stop};
use crate::error::{Error, Result};
use crate::proto::nvme::{Completion, IdentifyController, IdentifyNamespace, NvmeCommand};
use crate::proto::scsi::{self, status_name, Sense, STATUS_GOOD};
use crate::sys::sg::{self, DataBuf, SgIoHdr, SENSE_LEN};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Timeout of one check command: long, since a hung command is itself a finding.
const TIMEOUT_MS: u32 = 30_000;

/// A SCSI command's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScsiAnswer {
    pub status: u8,
    pub host_status: u16,
    pub driver_status: u16,
    /// The sense bytes the device returned (only those written).
    pub sense: Vec<u8>,
}

impl ScsiAnswer {
    pub fn good(&self) -> bool {
        self.status == STATUS_GOOD && self.host_status == 0 && self.driver_status & 0x0f == 0
    }

    pub fn decoded(&self) -> Option<Sense> {
        Sense::parse(&self.sense).ok()
    }

    /// True when the sense is `key` with `asc`/`ascq`.
    pub fn is(&self, key: u8, asc: u8, ascq: u8) -> bool {
        self.decoded().is_some_and(|s| s.key == key && s.asc == asc && s.ascq == ascq)
    }

    /// One line: the status and the decoded sense, with the raw sense bytes.
    pub fn describe(&self) -> String {
        if self.good() {
            return "GOOD".into();
        }
        let mut s =
            status_name(self.status).map(String::from).unwrap_or_else(|| format!("status {:#04x}", self.status));
        if self.host_status != 0 || self.driver_status & 0x0f != 0 {
            s += &format!(" (host status {:#x}, driver status {:#x})", self.host_status, self.driver_status);
        }
        match self.decoded() {
            Some(d) => s += &format!(", {d}"),
            None if !self.sense.is_empty() => s += ", undecodable sense",
            None => {}
        }
        if !self.sense.is_empty() {
            let hex: Vec<String> = self.sense.iter().take(18).map(|b| format!("{b:02x}")).collect();
            s += &format!(" [sense {}]", hex.join(" "));
        }
        s
    }
}

/// What the checks know of the LUN (from READ CAPACITY(16), VPD B0h and MODE SENSE).
pub struct Lun {
    pub lbs: u32,
    pub blocks: u64,
    /// MAXIMUM COMPARE AND WRITE LENGTH; None when VPD B0h is missing.
    pub max_caw: Option<u8>,
    /// DPOFUA; None when MODE SENSE failed.
    pub dpofua: Option<bool>,
}

fn sent(what: &str, e: std::io::Error) -> Stop {
    Stop::Fail(format!("{what} could not be sent: {e}"))
}

/// COMPARE AND WRITE of `expected.len() / lbs` blocks (`nlb` in the CDB).
pub fn caw(
    p: &mut dyn ScsiPort,
    lba: u64,
    nlb: u8,
    flags: (bool, bool),
    expected: &[u8],
    new: &[u8],
) -> Step<ScsiAnswer> {
    let mut out = Vec::with_capacity(expected.len() + new.len());
    out.extend_from_slice(expected);
    out.extend_from_slice(new);
    let cdb = scsi::compare_and_write(lba, nlb, flags.0, flags.1, 0);
    let data = if out.is_empty() { DataBuf::None } else { DataBuf::ToDevice(&out) };
    p.exec(&cdb, data).map_err(|e| sent("COMPARE AND WRITE", e))
}

pub fn read(p: &mut dyn ScsiPort, lba: u64, blocks: u32, lbs: u32) -> Step<Vec<u8>> {
    let mut buf = vec![0u8; blocks as usize * lbs as usize];
    let a =
        p.exec(&scsi::read16(lba, blocks, false), DataBuf::FromDevice(&mut buf)).map_err(|e| sent("READ(16)", e))?;
    if !a.good() {
        return fail(format!("READ(16) of {blocks} blocks at LBA {lba}: {}", a.describe()));
    }
    Ok(buf)
}

pub fn write(p: &mut dyn ScsiPort, lba: u64, data: &[u8], lbs: u32) -> Step {
    let blocks = (data.len() / lbs as usize) as u32;
    let a = p.exec(&scsi::write16(lba, blocks, false), DataBuf::ToDevice(data)).map_err(|e| sent("WRITE(16)", e))?;
    if !a.good() {
        return fail(format!("WRITE(16) of {blocks} blocks at LBA {lba}: {}", a.describe()));
    }
    Ok(())
}

/// A path to a SCSI logical unit.
pub trait ScsiPort: Send {
    /// Run `cdb` with `data`; an `Err` is the host refusing to send it (EPERM, EINVAL...).
    fn exec(&mut self, cdb: &[u8], data: DataBuf<'_>) -> io::Result<ScsiAnswer>;
    /// Another handle on the same path.
    fn fork(&self) -> Result<Box<dyn ScsiPort>>;
    /// The path, for evidence.
    fn name(&self) -> String;
}

/// A path to an NVMe namespace.
pub trait NvmePort: Send {
    /// Run the I/O command `cmd` on `data` (its address and length are set from `data`).
    fn io(&mut self, cmd: &NvmeCommand, data: &mut [u8]) -> Completion;
    fn identify(&mut self) -> Result<(IdentifyController, IdentifyNamespace)>;
    /// The namespace id commands must carry.
    fn nsid(&self) -> u32;
    fn fork(&self) -> Result<Box<dyn NvmePort>>;
    fn name(&self) -> String;
}

fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new().read(true).write(true).open(path).map_err(|e| Error::from_io(path, "opening it read-write", &e))
}

/// A SCSI generic node, `ioctl(SG_IO)`.
pub struct SgPort {
    path: PathBuf,
    file: File,
}

impl SgPort {
    pub fn new(path: &Path, file: File) -> Self {
        SgPort { path: path.to_path_buf(), file }
    }
}

impl ScsiPort for SgPort {
    fn exec(&mut self, cdb: &[u8], data: DataBuf<'_>) -> io::Result<ScsiAnswer> {
        let mut sense = [0u8; SENSE_LEN];
        let mut h = SgIoHdr::new(cdb, data, &mut sense, TIMEOUT_MS)?;
        sg::sg_io(self.file.as_fd(), &mut h)?;
        let c = h.completion();
        let n = usize::from(c.sb_len_wr).min(SENSE_LEN);
        Ok(ScsiAnswer {
            status: c.status,
            host_status: c.host_status,
            driver_status: c.driver_status,
            sense: sense[..n].to_vec(),
        })
    }

    fn fork(&self) -> Result<Box<dyn ScsiPort>> {
        Ok(Box::new(SgPort { path: self.path.clone(), file: open_rw(&self.path)? }))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// An NVMe generic node, `NVME_IOCTL_IO_CMD` and admin Identify.
pub struct NgPort {
    path: PathBuf,
    file: File,
    nsid: u32,
}

impl NgPort {
    pub fn new(path: &Path, file: File) -> Result<Self> {
        let nsid = crate::sys::nvme::nvme_ns_id(file.as_fd())
            .map_err(|e| Error::Target(format!("{}: not an NVMe namespace ({e}); give /dev/ngXnY", path.display())))?;
        Ok(NgPort { path: path.to_path_buf(), file, nsid })
    }
}

/// Page alignment of the buffers handed to the NVMe driver: an unaligned buffer of MDTS bytes
/// spans one page more than the controller's segments allow, and the kernel refuses it (EINVAL).
const PAGE: usize = 4096;

impl NvmePort for NgPort {
    fn io(&mut self, cmd: &NvmeCommand, data: &mut [u8]) -> Completion {
        let cmd = NvmeCommand { nsid: self.nsid, timeout_ms: TIMEOUT_MS, ..*cmd };
        let mut raw = vec![0u8; data.len() + PAGE];
        let at = raw.as_ptr().align_offset(PAGE).min(PAGE);
        let buf = &mut raw[at..at + data.len()];
        buf.copy_from_slice(data);
        let done = match crate::sys::nvme::nvme_io(self.file.as_fd(), &cmd, buf) {
            Ok((status, _)) => Completion::from_res(status),
            Err(e) => Completion::Host(e.raw_os_error().unwrap_or(libc::EIO)),
        };
        data.copy_from_slice(buf);
        done
    }

    fn identify(&mut self) -> Result<(IdentifyController, IdentifyNamespace)> {
        let p = self.path.display();
        let fd = self.file.as_fd();
        let c = crate::sys::nvme::identify_controller(fd).map_err(|e| Error::Device(format!("{p}: {e}")))?;
        let n = crate::sys::nvme::identify_namespace(fd, self.nsid).map_err(|e| Error::Device(format!("{p}: {e}")))?;
        Ok((c, n))
    }

    fn nsid(&self) -> u32 {
        self.nsid
    }

    fn fork(&self) -> Result<Box<dyn NvmePort>> {
        Ok(Box::new(NgPort { path: self.path.clone(), file: open_rw(&self.path)?, nsid: self.nsid }))
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}
