//! Command-line definitions (clap derive only; validation lives in `app`).

use crate::spec::{Bytes, CpuList, RegionArg, Seconds, ValueList};
use crate::target::BackendKind;
use crate::workload::Workload;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "atsbench",
    version,
    about = "Measure storage ATS (atomic compare-and-write) and read-modify-write under load",
    long_about = "Measure storage ATS (atomic test-and-set: compare-and-write on one block, as VMware VMFS \
                  uses for locks and heartbeats) under load: latency percentiles and miscompare rates, \
                  classified and verified, across queue depth and contention.\n\n\
                  With no TARGET, atsbench uses a 64 MiB temporary file (no root needed).",
    after_help = "Exit codes: 0 ok, 1 internal, 2 usage, 3 target, 4 permission, 5 refused (data on the device), \
                  6 system limit, 7 unsupported, 8 device error, 9 verification failed, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure one point.
    Run(RunArgs),
    /// Measure every combination of workloads, thread counts, lock counts and queue depths.
    Sweep(SweepArgs),
    /// Describe a target: model, firmware, block size, ATS support.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Workload.
    #[arg(long, short = 'w', value_enum, default_value = "ats")]
    pub workload: Workload,
    /// Queue depth per worker.
    #[arg(long, default_value_t = 1)]
    pub qd: u32,
    /// Number of workers, pinned to the first CPUs this process may use.
    #[arg(long, short = 't', conflicts_with = "cpus")]
    pub threads: Option<u32>,
    /// CPUs to pin one worker each to, e.g. `0,1` or `0-3`.
    #[arg(long)]
    pub cpus: Option<CpuList>,
    /// Lock blocks shared by all workers (ats, rmw, compare).
    #[arg(long, default_value_t = 1)]
    pub locks: u32,
    /// Seconds to measure (default 5; with --ops, no time limit).
    #[arg(long, short = 'd', conflicts_with = "ops")]
    pub duration: Option<Seconds>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Workloads, e.g. `ats,rmw,read`.
    #[arg(long, short = 'w', value_enum, value_delimiter = ',', default_value = "ats")]
    pub workload: Vec<Workload>,
    /// Queue depths: `1..256` (powers of two), `1..64:8` (linear) or `1,3,8`.
    #[arg(long)]
    pub qd: ValueList,
    /// Worker counts, e.g. `1,2`.
    #[arg(long, short = 't', default_value = "1")]
    pub threads: ValueList,
    /// Lock block counts, e.g. `1,4,16`.
    #[arg(long, default_value = "1")]
    pub locks: ValueList,
    /// Seconds to measure each point (default 2; with --ops, no time limit).
    #[arg(long, short = 'd', conflicts_with = "ops")]
    pub duration: Option<Seconds>,
}

/// Options shared by `run` and `sweep`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// A regular file, a block device, /dev/ngXnY or /dev/sgN; none: a temporary file.
    pub target: Option<PathBuf>,
    /// Block size of each I/O and lock record (default: the target's logical block size).
    #[arg(long)]
    pub bs: Option<Bytes>,
    /// Byte range to use, START..END (e.g. `0..64M`); nothing outside it is written.
    #[arg(long)]
    pub region: Option<RegionArg>,
    /// Operations per point over all workers (I/Os; ATS attempts for ats and rmw).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Open loop: issue this many operations per second in all, with coordinated-omission
    /// correction (latency counts from the intended start).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Skip verification of the ATS history and the final lock blocks.
    #[arg(long)]
    pub no_verify: bool,
    /// Use a kernel submission thread (IORING_SETUP_SQPOLL).
    #[arg(long)]
    pub sqpoll: bool,
    /// Poll for completions (IORING_SETUP_IOPOLL); the target must support polled I/O.
    #[arg(long)]
    pub iopoll: bool,
    /// Write to a block device even if it holds a filesystem, partitions or is in use.
    #[arg(long)]
    pub force: bool,
    /// Backend (default: chosen from the target's type).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Fraction of `compare` commands sent with a deliberately wrong image.
    #[arg(long, default_value_t = 0.0)]
    pub miscompare_fraction: f64,
    /// Seed of the workers' random numbers (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options of the device backends (NVMe, SCSI), shared by `run`, `sweep` and `probe`.
#[derive(Debug, Clone, Default, Args)]
pub struct DeviceArgs {
    /// NVMe: try one real fused Compare+Write (FUSE first/second) on the first lock block.
    /// Linux passthrough rejects fused commands, so this reports that and exits 7; without it
    /// NVMe ATS is compare-then-write.
    #[arg(long)]
    pub fused: bool,
    /// SCSI: how commands reach /dev/sgN: sg (async sg v3 driven by io_uring poll), bsg-uring
    /// (io_uring passthrough, newer kernels), sg-sync (SG_IO ioctl, a baseline); default: the
    /// best this kernel offers.
    #[arg(long, value_enum)]
    pub transport: Option<crate::backend::scsi::Transport>,
    /// SCSI: blocks per COMPARE AND WRITE (1 to the device's MAXIMUM COMPARE AND WRITE LENGTH);
    /// --bs defaults to (and must be) this many logical blocks.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..))]
    pub ats_blocks: Option<u8>,
    /// SCSI: set DPO (disable page out) on COMPARE AND WRITE.
    #[arg(long)]
    pub dpo: bool,
    /// SCSI: set FUA (force unit access) on COMPARE AND WRITE and WRITE(16).
    #[arg(long)]
    pub fua: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: Format,
    /// Write results to this file (rewritten after every point) instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The device or file to describe.
    pub target: PathBuf,
    /// Backend (default: chosen from the target's type).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sweep_parses_lists() {
        let c = Cli::try_parse_from(["atsbench", "sweep", "--qd", "1..8", "--workload", "ats,rmw", "--locks", "1,4"])
            .unwrap();
        let Command::Sweep(s) = c.command else { panic!() };
        assert_eq!(s.qd.0, vec![1, 2, 4, 8]);
        assert_eq!(s.workload, vec![Workload::Ats, Workload::Rmw]);
        assert_eq!(s.locks.0, vec![1, 4]);
        assert!(s.common.target.is_none());
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            vec!["atsbench", "sweep", "--qd", "256..1"],
            vec!["atsbench", "run", "--duration", "0"],
            vec!["atsbench", "run", "--cpus", "x"],
            vec!["atsbench", "run", "--threads", "2", "--cpus", "0"],
            vec!["atsbench", "run", "--workload", "nope"],
        ] {
            let e = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }
}
