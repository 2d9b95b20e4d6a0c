//! Command-line definitions (clap derive only). Values parse into the typed values of `spec`
//! and the domain's enums; what they mean together is checked in `app::plan`.

use crate::backend::block::ExpectedFrom;
use crate::backend::scsi::Transport;
use crate::backend::sim::{Injections, LatencyModel, SimProtocol};
use crate::device::BackendKind;
use crate::report::Format;
use crate::spec::{Bytes, CpuList, Duration, RegionArg, ValueList};
use crate::workload::Workload;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// A value parser over the names of an enum that implements `FromStr`.
fn named<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|s| s.parse::<T>())
}

/// A whole number of 0 or more, with a one-line error (negative numbers included).
fn count(s: &str) -> Result<u32, String> {
    s.trim().parse::<u32>().map_err(|_| format!("`{s}` is not a whole number; give 0 or more, e.g. 8"))
}

fn count64(s: &str) -> Result<u64, String> {
    s.trim().parse::<u64>().map_err(|_| format!("`{s}` is not a whole number; give 0 or more, e.g. 1000"))
}

fn real(s: &str) -> Result<f64, String> {
    s.trim().parse::<f64>().map_err(|_| format!("`{s}` is not a number, e.g. 0.25"))
}

#[derive(Debug, Parser)]
#[command(
    name = "atsbench",
    version,
    about = "Measure storage ATS (atomic compare-and-write) and read-modify-write under load",
    long_about = "Measure storage ATS (atomic test-and-set: compare-and-write on one block, as VMware VMFS \
                  uses for locks and heartbeats) under load: latency percentiles and miscompare rates, \
                  classified and verified, across queue depth and contention.\n\n\
                  With no TARGET, atsbench uses a 64 MiB temporary file (no root needed).",
    after_help = "Exit codes: 0 ok, 1 compare found a regression, 2 usage, 3 target, 4 permission, 5 refused \
                  (data on the device), 6 system limit, 7 unsupported, 8 device error, 9 verification failed, \
                  10 rendezvous (the other hosts not seen), 70 internal error, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure one point.
    Run(RunArgs),
    /// Measure every combination of workloads, thread counts, contention (or lock counts) and
    /// queue depths.
    Sweep(SweepArgs),
    /// Describe a target: model, firmware, block size, ATS support.
    Probe(ProbeArgs),
    /// Compare two results files point by point; exit 1 on a significant regression.
    Compare(CompareArgs),
    /// Write a self-contained HTML report (and SVG plots) of a results file, against a base.
    Report(ReportArgs),
    /// List the shipped workload profiles, or show one (`profiles show NAME`).
    Profiles(ProfilesArgs),
    /// Combine the JSON results of the hosts of one multi-host run (`--hosts N`) and verify
    /// their ATS histories together.
    Merge(MergeArgs),
    /// Run one multi-host measurement from here: a host per SPEC (a local process on a path,
    /// or HOST:TARGET through --rsh), then merge their results.
    Hosts(HostsArgs),
}

// --- hosts: a multi-host run in one command (issue 20) ---

#[derive(Debug, Args)]
#[command(after_help = "Example: atsbench hosts /dev/sdb /dev/sdc -- --qd 4 --ops 10000\n         \
                        atsbench hosts hostA:/dev/sdb hostB:/dev/sdb -- --workload ats --duration 30s")]
pub struct HostsArgs {
    /// The hosts: TARGET (a local host process on that path, e.g. one path of a LUN each) or
    /// HOST:TARGET (started with `CMD HOST atsbench run ...`). A TARGET starting with / or .
    /// is always local.
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<String>,
    /// How to start a remote host's atsbench: CMD HOST COMMAND (split at spaces).
    #[arg(long, value_name = "CMD", default_value = "ssh -o BatchMode=yes")]
    pub rsh: String,
    /// Keep each host's own JSON results in DIR (host0.json, host1.json, ...).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Output format of the merged result: table or json.
    #[arg(long, short = 'f', default_value = "table", value_parser = named::<Format>(&["table", "json"]))]
    pub format: Format,
    /// Write the merged result to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// The options of `atsbench run` every host gets (after `--`); hosts sets --hosts,
    /// --host-id, --seed (unless given here) and the output itself.
    #[arg(last = true, value_name = "RUN-OPTIONS")]
    pub run_options: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The result files of every host of the run (`-f json -o FILE` on each host).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format: table or json.
    #[arg(long, short = 'f', default_value = "table", value_parser = named::<Format>(&["table", "json"]))]
    pub format: Format,
    /// Write the merged result to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub show: Option<ProfilesCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Print a shipped profile's TOML.
    Show { name: String },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Workload: read, write, ats, rmw, compare or heartbeat.
    #[arg(long, short = 'w', default_value = "ats", value_parser = named::<Workload>(&Workload::NAMES))]
    pub workload: Workload,
    /// Queue depth per worker: each slot is one actor with one operation at a time.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = count)]
    pub qd: u32,
    /// Number of workers, pinned to the first CPUs this process may use.
    #[arg(long, short = 't', conflicts_with = "cpus", allow_hyphen_values = true, value_parser = count)]
    pub threads: Option<u32>,
    /// CPUs to pin one worker each to, e.g. `0,1` or `0-3`.
    #[arg(long)]
    pub cpus: Option<CpuList>,
    /// Actors per lock block (ats, rmw, compare): 1 (the default) gives every actor a block of
    /// its own; K gives every K actors one block to contend for.
    #[arg(long, conflicts_with = "locks", allow_hyphen_values = true, value_parser = count)]
    pub contention: Option<u32>,
    /// Lock blocks shared by all actors, each attempt on a random one (instead of --contention).
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub locks: Option<u32>,
    /// How long to measure: seconds (`10`, `0.5`) or with a unit (`500ms`, `2m`); default 5 s.
    #[arg(long, short = 'd', conflicts_with = "ops", allow_hyphen_values = true)]
    pub duration: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Workloads, e.g. `ats,rmw,read`.
    #[arg(long, short = 'w', value_delimiter = ',', default_value = "ats",
          value_parser = named::<Workload>(&Workload::NAMES))]
    pub workload: Vec<Workload>,
    /// A workload profile: a shipped name (see `atsbench profiles`) or a TOML file; flags given
    /// here override its values.
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// Queue depths: `1..256` (powers of two), `1..64:8` (linear) or `1,3,8` (required unless a
    /// profile sets them).
    #[arg(long, allow_hyphen_values = true)]
    pub qd: Option<ValueList>,
    /// Worker counts, e.g. `1,2`.
    #[arg(long, short = 't', default_value = "1", allow_hyphen_values = true)]
    pub threads: ValueList,
    /// Actors per lock block, e.g. `1,4,16` (default 1).
    #[arg(long, conflicts_with = "locks", allow_hyphen_values = true)]
    pub contention: Option<ValueList>,
    /// Lock block counts shared by all actors, e.g. `1,16,256` (instead of --contention).
    #[arg(long, allow_hyphen_values = true)]
    pub locks: Option<ValueList>,
    /// How long to measure each point (`2`, `500ms`); default 2 s.
    #[arg(long, short = 'd', conflicts_with = "ops", allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    // --- the vendor report (issue 20) ---
    /// When the sweep ends, also write its self-contained HTML report to FILE (as `atsbench
    /// report RESULTS --html FILE` would).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Options shared by `run` and `sweep`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// A regular file, a block device, /dev/ngXnY, /dev/sgN, or `sim` / `sim:SIZE` (the
    /// simulated device, e.g. sim:64MiB); none: a temporary file.
    pub target: Option<PathBuf>,
    /// Block size of each I/O and lock record (default: the target's logical block size).
    #[arg(long, allow_hyphen_values = true)]
    pub bs: Option<Bytes>,
    /// Byte range to use, START..END (e.g. `0..64M`); nothing outside it is written.
    #[arg(long)]
    pub region: Option<RegionArg>,
    /// Operations per point over all workers (I/Os; ATS attempts for ats and rmw).
    #[arg(long, allow_hyphen_values = true, value_parser = count64)]
    pub ops: Option<u64>,
    /// Open loop: issue this many operations per second in all, with coordinated-omission
    /// correction (latency counts from the intended start).
    #[arg(long, allow_hyphen_values = true, value_parser = real)]
    pub rate: Option<f64>,
    /// Measure every point this many times; results keep each repeat's figures beside the
    /// merged ones (whose percentiles come from the merged histograms).
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = count)]
    pub repeat: u32,
    /// With --repeat: measure round by round over all points (point 1, 2, ..., then again), so
    /// that drift of the device or machine does not line up with one point.
    #[arg(long, requires = "repeat")]
    pub interleave: bool,
    /// `heartbeat`: time between one worker's heartbeats (VMFS beats every 3 s).
    #[arg(long, default_value = "3s", allow_hyphen_values = true)]
    pub heartbeat_interval: Duration,
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
    /// Backend: file, block, nvme or scsi (default: chosen from the target's type).
    #[arg(long, value_parser = named::<BackendKind>(&["file", "block", "nvme", "scsi"]))]
    pub backend: Option<BackendKind>,
    /// Fraction of `compare` commands sent with a deliberately wrong image.
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = real)]
    pub miscompare_fraction: f64,
    /// Seed of the workers' random numbers (default: random). With --hosts, required and
    /// the same on every host.
    #[arg(long, allow_hyphen_values = true, value_parser = count64)]
    pub seed: Option<u64>,
    /// ats: give up on a device-side ATS command not completed within MS milliseconds and
    /// retry it with the same images, as ESXi does; the late completion is counted.
    #[arg(long, value_name = "MS", allow_hyphen_values = true, value_parser = count64)]
    pub timeout: Option<u64>,
    // --- abort-and-retry (issue 20) ---
    /// With --timeout on a SCSI generic target: `resend` (default) gives up in user space and
    /// resends while the first command still runs; `abort` sends COMPARE AND WRITE with MS as
    /// its sg timeout, so the kernel's SCSI error handler aborts it at the target (ABORT TASK),
    /// and retries the same images when the abort completes, as ESXi does.
    #[arg(long, value_name = "HOW", requires = "timeout", value_parser = named::<crate::engine::OnTimeout>(&["resend", "abort"]))]
    pub on_timeout: Option<crate::engine::OnTimeout>,
    /// Several hosts on one shared target: this many hosts run the same command at once, each
    /// with its own --host-id and all with the same --seed; `atsbench merge` combines their
    /// results.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = count)]
    pub hosts: u32,
    /// With --hosts N: this host's index, 0 to N-1 (default: SLURM_PROCID, JOB_COMPLETION_INDEX
    /// or OMPI_COMM_WORLD_RANK, as srun, a Kubernetes Indexed Job or mpirun set it; else 0).
    #[arg(long, allow_hyphen_values = true, value_parser = count)]
    pub host_id: Option<u32>,
    /// With --hosts: how long to wait for the other hosts at each rendezvous (`60`, `2m`).
    #[arg(long, default_value = "60s", allow_hyphen_values = true)]
    pub rendezvous_timeout: Duration,
    /// Write SVG plots of the results into DIR: latency percentiles, IOPS and miscompare rates
    /// against queue depth (and lock count), and a percentile spectrum per point.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Write HdrHistogram interval logs to FILE as the run goes: one histogram per operation
    /// kind and interval, tagged with the kind (and the point, in a sweep).
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Length of one --hdr-log interval (`1s`, `250ms`).
    #[arg(long, default_value = "1s", requires = "hdr_log", allow_hyphen_values = true)]
    pub hdr_interval: Duration,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub sim: SimArgs,
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
    #[arg(long, value_parser = named::<Transport>(&["sg", "bsg-uring", "sg-sync"]))]
    pub transport: Option<Transport>,
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
    /// Block devices and files: where an ATS attempt takes its expected image: device (what
    /// the worker last wrote or read with O_DIRECT, the default) or cache (a buffered read of
    /// the lock block through the page cache before each attempt; may be stale).
    #[arg(long, value_parser = named::<ExpectedFrom>(&["device", "cache"]))]
    pub expected_from: Option<ExpectedFrom>,
}

/// Options of the simulated device (TARGET `sim`), shared by `run` and `sweep`.
#[derive(Debug, Clone, Default, Args)]
pub struct SimArgs {
    /// sim: the command set: scsi (COMPARE AND WRITE, READ(16), WRITE(16): ATS mode device,
    /// the default) or nvme (Compare, Read, Write: compare-then-write).
    #[arg(long, value_parser = named::<SimProtocol>(&["scsi", "nvme"]))]
    pub sim_protocol: Option<SimProtocol>,
    /// sim: each command's service time: 0 (the default), fixed:20us, uniform:10us..50us or
    /// exp:30us (exponential, that mean).
    #[arg(long, value_name = "DIST")]
    pub sim_latency: Option<LatencyModel>,
    /// sim: the device's command slots, shared by all workers (like an HBA's queue depth):
    /// a command beyond them waits in the device until one frees.
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = count)]
    pub sim_qd: Option<u32>,
    /// sim: inject faults, KIND=RATE[,KIND=RATE...]: KIND false-miscompare, own-write,
    /// torn-write, lost-write, stale-read, latency-spike or foreign-write; RATE the fraction
    /// of the commands each could strike.
    #[arg(long, value_name = "KIND=RATE,...")]
    pub inject: Option<Injections>,
}

impl SimArgs {
    /// The first `--sim-*` or `--inject` option given, by name.
    pub fn first_given(&self) -> Option<&'static str> {
        [
            (self.sim_protocol.is_some(), "--sim-protocol"),
            (self.sim_latency.is_some(), "--sim-latency"),
            (self.sim_qd.is_some(), "--sim-qd"),
            (self.inject.is_some(), "--inject"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: table, json or csv.
    #[arg(long, short = 'f', default_value = "table", value_parser = named::<Format>(&["table", "json", "csv"]))]
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
    #[arg(long, value_parser = named::<BackendKind>(&["file", "block", "nvme", "scsi"]))]
    pub backend: Option<BackendKind>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base (reference) results, written by `run` or `sweep` with --format json.
    pub base: PathBuf,
    /// The candidate results, compared with the base.
    pub candidate: PathBuf,
    /// Output format: table, markdown, json or csv (one row per point and figure).
    #[arg(long, short = 'f', default_value = "table",
          value_parser = named::<crate::compare::Format>(&["table", "markdown", "json", "csv"]))]
    pub format: crate::compare::Format,
    /// Write the comparison to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Largest change that is not a regression, e.g. `iops=5%,p99=10%,miscompare=0.5pp`; keys
    /// iops, p50, p99, p99.9, latency (all three), miscompare [default:
    /// iops=5%,p50=10%,p99=10%,p99.9=20%,miscompare=0.5pp].
    #[arg(long, allow_hyphen_values = true)]
    pub max_regression: Option<crate::compare::Thresholds>,
    /// Write SVG plots of base and candidate overlaid into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("out").required(true).multiple(true).args(["html", "plot"]))]
pub struct ReportArgs {
    /// The results to report on, written by `run` or `sweep` with --format json.
    pub results: PathBuf,
    /// A base to compare them with: the comparison and its verdict go at the top.
    pub base: Option<PathBuf>,
    /// Write one self-contained HTML file (inline SVG and CSS, no scripts, no network).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write the SVG plots into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Thresholds of the comparison with the base (as for `compare`).
    #[arg(long, allow_hyphen_values = true)]
    pub max_regression: Option<crate::compare::Thresholds>,
}

/// A clap error as the one line atsbench prints: what was wrong and where to look, or None
/// for help and version output (which clap prints itself).
pub fn one_line(e: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let text = e.render().to_string();
    let body: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    let line = body.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    Some(format!("{line}; see atsbench --help"))
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
        assert_eq!(s.qd.map(|q| q.0), Some(vec![1, 2, 4, 8]));
        assert_eq!(s.workload, vec![Workload::Ats, Workload::Rmw]);
        assert_eq!(s.locks.map(|l| l.0), Some(vec![1, 4]));
        assert!(s.contention.is_none());
        assert!(s.common.target.is_none());
    }

    #[test]
    fn bad_values_are_usage_errors_of_one_line() {
        for args in [
            vec!["atsbench", "sweep", "--qd", "256..1"],
            vec!["atsbench", "run", "--duration", "0"],
            vec!["atsbench", "run", "--duration", "-3"],
            vec!["atsbench", "run", "--qd", "-1"],
            vec!["atsbench", "run", "--cpus", "x"],
            vec!["atsbench", "run", "--threads", "2", "--cpus", "0"],
            vec!["atsbench", "run", "--workload", "nope"],
            vec!["atsbench", "run", "--contention", "2", "--locks", "4"],
            vec!["atsbench", "run", "--hosts", "-2"],
            vec!["atsbench", "merge"],
            vec!["atsbench", "merge", "a.json", "-f", "csv"],
        ] {
            let e = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            let line = one_line(&e).unwrap();
            assert!(!line.contains('\n') && !line.starts_with("error"), "{args:?}: {line}");
        }
        let e = Cli::try_parse_from(["atsbench", "run", "--duration", "-3"]).unwrap_err();
        assert!(one_line(&e).unwrap().contains("not a duration"), "{}", one_line(&e).unwrap());
    }

    #[test]
    fn durations_take_units() {
        let c = Cli::try_parse_from(["atsbench", "run", "--duration", "500ms"]).unwrap();
        let Command::Run(r) = c.command else { panic!() };
        assert_eq!(r.duration.map(|d| d.0), Some(std::time::Duration::from_millis(500)));
    }
}
