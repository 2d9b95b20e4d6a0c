//! The simulated device, TARGET `sim` or `sim:SIZE`: a device model in memory that executes
//! the same encoded commands as the real backends, with a latency model and seeded fault
//! injection, so that every failure mode behind an ATS miscompare can be reproduced on demand
//! and seen in its class. No real I/O: it is also what the engine's tests run on.
//!
//! - `--sim-protocol scsi` (the default): each request is encoded by `backend::scsi::encode`
//!   (COMPARE AND WRITE, READ(16), WRITE(16)); ATS mode `device`. `nvme`: each request is
//!   encoded by `backend::nvme::encode` (Compare, Read, Write); ATS mode `compare-then-write`.
//!   See `protocol` for how commands are decoded and answered.
//! - The medium (`media`) is shared by all workers, one lock per stripe of units, so a
//!   compare-and-write is atomic across workers. A command runs when the worker prepares it
//!   (`Backend::execute`: its data moves then, as scsi_debug runs a command when it is
//!   queued) and completes through the worker's ring: a NOP when it is due at once, else an
//!   `IORING_OP_TIMEOUT` at the absolute time it is due (`latency`), so the latency the engine
//!   measures is real wall-clock time.
//! - Faults (`faults`) are decided by each worker's RNG, seeded from `--seed` and the worker:
//!   a run with one worker is deterministic (with `--timeout` the retries also depend on time).
//!
//! The medium lives for one point: every point starts from zeros and writes its lock blocks'
//! initial records, as on any target.

mod backend;
mod faults;
mod latency;
mod media;
mod protocol;

pub use backend::SimBackend;
pub use faults::{Fault, Injections, Struck};
pub use latency::{LatencyModel, SPIKE_FACTOR, SPIKE_MIN_NS};
pub use media::FOREIGN_PREFIX;

use super::{AtsMode, Caps, Factory};
use crate::error::{Error, Result};
use crate::results::{FaultReport, ForeignWrite, SimReport};
use latency::DeviceQueue;
use media::Media;
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// The command set the simulated device speaks, `--sim-protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimProtocol {
    #[default]
    Scsi,
    Nvme,
}

impl SimProtocol {
    pub fn name(self) -> &'static str {
        match self {
            SimProtocol::Scsi => "scsi",
            SimProtocol::Nvme => "nvme",
        }
    }
}

impl std::str::FromStr for SimProtocol {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "scsi" => Ok(SimProtocol::Scsi),
            "nvme" => Ok(SimProtocol::Nvme),
            _ => Err(format!("`{s}` is not a protocol; use scsi or nvme")),
        }
    }
}

/// How the simulated device behaves (the `--sim-*` and `--inject` options).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SimOptions {
    pub protocol: SimProtocol,
    pub latency: LatencyModel,
    /// Command slots of the device (`--sim-qd`); None: unlimited.
    pub queue_depth: Option<u32>,
    pub inject: Injections,
}

impl SimOptions {
    /// A combination that cannot be simulated, as a one-line usage message.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.protocol == SimProtocol::Nvme && self.inject.rate(Fault::OwnWrite) > 0.0 {
            return Err("--inject own-write needs COMPARE AND WRITE (--sim-protocol scsi); with nvme an own write \
                        shows through --timeout and latency-spike"
                .into());
        }
        Ok(())
    }
}

/// What one point needs of the simulated device.
#[derive(Debug, Clone, Copy)]
pub struct SimOpen {
    /// Size of the medium.
    pub bytes: u64,
    /// Logical block size (512).
    pub lbs: u32,
    /// The point's block size: every command covers one such unit.
    pub bs: u32,
    /// Distinct user_data values per worker.
    pub slots: usize,
    pub seed: u64,
    pub options: SimOptions,
}

/// What all workers' backends share: the medium, the device queue and the totals.
struct Device {
    media: Media,
    lbs: u32,
    options: SimOptions,
    queue: Option<Mutex<DeviceQueue>>,
    totals: Mutex<Totals>,
    /// Struck by `device-gone`: every command fails from then on.
    gone: AtomicBool,
}

/// Counts over all workers, added by each worker's backend when it is dropped.
#[derive(Debug, Clone, Default, Serialize)]
struct Totals {
    commands: u64,
    /// Commands that waited for a device slot (`--sim-qd`), the mean and the longest wait.
    queued: u64,
    queue_wait_sum_ns: u64,
    queue_wait_max_ns: u64,
    struck: [Struck; Fault::COUNT],
    /// The first unit an injected foreign write overwrote, and when (monotonic ns).
    first_foreign: Option<(u64, u64)>,
}

/// Open the simulated device for one point.
pub fn open(o: SimOpen) -> Result<SimFactory> {
    o.options.check().map_err(Error::usage)?;
    if o.bs == 0 || o.bs % o.lbs != 0 || o.bytes < u64::from(o.bs) {
        return Err(Error::Internal(format!("sim: {} bytes of {}-byte blocks in {}-byte units", o.bytes, o.lbs, o.bs)));
    }
    let keep_prev = o.options.inject.rate(Fault::StaleRead) > 0.0;
    let dev = Device {
        media: Media::new(o.bytes, o.bs, o.lbs, keep_prev),
        lbs: o.lbs,
        options: o.options,
        queue: o.options.queue_depth.map(|n| Mutex::new(DeviceQueue::new(n))),
        totals: Mutex::new(Totals::default()),
        gone: AtomicBool::new(false),
    };
    Ok(SimFactory { dev: Arc::new(dev), o })
}

pub struct SimFactory {
    dev: Arc<Device>,
    o: SimOpen,
}

impl Factory for SimFactory {
    type Backend = SimBackend;

    fn caps(&self) -> Caps {
        match self.o.options.protocol {
            SimProtocol::Scsi => Caps { ats_mode: AtsMode::Device, compare: false, iopoll: false },
            SimProtocol::Nvme => Caps { ats_mode: AtsMode::CompareThenWrite, compare: true, iopoll: false },
        }
    }

    fn make(&self, worker: u32) -> Result<SimBackend> {
        Ok(SimBackend::new(self.dev.clone(), worker, self.o.seed, self.o.slots))
    }

    fn totals(&self) -> Option<SimReport> {
        let t = self.dev.totals.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let opts = &self.o.options;
        let faults = opts
            .inject
            .asked()
            .map(|(f, rate)| {
                let s = t.struck[f as usize];
                (f.name().to_string(), FaultReport { rate, eligible: s.eligible, injected: s.injected })
            })
            .collect();
        let unit = u64::from(self.o.bs);
        Some(SimReport {
            protocol: opts.protocol.name().into(),
            latency: opts.latency.to_string(),
            queue_depth: opts.queue_depth,
            spike_ns: (opts.inject.rate(Fault::LatencySpike) > 0.0).then(|| opts.latency.spike_ns()),
            commands: t.commands,
            queued: t.queued,
            queue_wait_mean_ns: t.queue_wait_sum_ns.checked_div(t.queued).unwrap_or(0),
            queue_wait_max_ns: t.queue_wait_max_ns,
            faults,
            first_foreign_write: t.first_foreign.map(|(u, _)| ForeignWrite { offset: u * unit }),
        })
    }
}
