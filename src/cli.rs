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
    s.trim().parse::<u32>().map_err(|_| not_a_count(s, u64::from(u32::MAX), "8"))
}

fn count64(s: &str) -> Result<u64, String> {
    s.trim().parse::<u64>().map_err(|_| not_a_count(s, u64::MAX, "1000"))
}

/// Why `s` is not a whole number up to `max`: too large, or not a number at all.
fn not_a_count(s: &str, max: u64, example: &str) -> String {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        format!("`{s}` is too large; at most {max}")
    } else {
        format!("`{s}` is not a whole number; give 0 or more, e.g. {example}")
    }
}

/// `run --qd`: one queue depth, within io_uring's limit (ranges and lists belong to `sweep`).
fn qd(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.contains("..") || t.contains(',') {
        return Err(format!(
            "`{s}` is several queue depths; run measures one (e.g. --qd 8), `atsbench sweep --qd {t}` measures each"
        ));
    }
    let limit = crate::spec::MAX_QD;
    match t.parse::<u64>() {
        Ok(n) if n > u64::from(limit) => Err(format!(
            "`{s}` is too large: the limit is {limit} per worker (io_uring entries per ring); lower it or add workers \
             (--threads)"
        )),
        Ok(n) => Ok(n as u32),
        Err(_) => Err(not_a_count(s, u64::from(limit), "8")),
    }
}

fn real(s: &str) -> Result<f64, String> {
    s.trim().parse::<f64>().map_err(|_| format!("`{s}` is not a number, e.g. 0.25"))
}

/// The headings of `--help`, in the order they are shown. Everyday options come first; an
/// option of a new feature takes the heading of what it is about:
/// `--interval` OUTPUT; `--max-duration`, `--max-error-rate`, `--on-timeout` LIMITS (beside
/// `--timeout`); `compare --inconclusive`, `--run-noise` VERDICT (beside `--max-regression`);
/// `--checks` MEASURE.
pub mod heading {
    pub const MEASURE: &str = "What to measure";
    pub const LOAD: &str = "Load";
    pub const LIMITS: &str = "Limits, timeouts and errors";
    pub const TARGET: &str = "Target";
    pub const OUTPUT: &str = "Output";
    pub const VERDICT: &str = "Verdict";
    pub const SCSI: &str = "SCSI devices (/dev/sgN)";
    pub const NVME: &str = "NVMe devices (/dev/ngXnY)";
    pub const SIM: &str = "Simulated device (TARGET sim)";
    pub const HOSTS: &str = "Several hosts on one target";
}

/// `atsbench` with no command: the first three commands to try.
pub const FIRST_STEPS: &str = "\
Usage: atsbench <COMMAND> [OPTIONS]

Try first:
  atsbench sweep --qd 1..64                 QD 1..64 on a temporary file
  atsbench run sim --qd 16 --contention 16  16 actors, one simulated lock block
  atsbench probe /dev/sg0                   a device's identity and ATS support

More: atsbench --help; atsbench COMMAND --help for options and examples.";

/// The exit codes, shown at the end of the top-level `--help` (the table is in `error.rs`).
const EXIT_CODES: &str = "\
Exit codes:
  0 ok                              7 unsupported
  1 compare found a regression      8 device error
  2 usage                           9 verification failed
  3 target; compare: inconclusive  10 rendezvous failed
  4 permission                     11 the device returned errors
  5 refused: data on the device    12 a conformance check failed
  6 system limit                   70 internal error (a bug)
                                  130 interrupted";

const RUN_EXAMPLES: &str = "\
Examples:
  ATS at QD 1 on a temporary file, 5 s:
    atsbench run
  16 actors on one lock block of the simulated device:
    atsbench run sim --qd 16 --contention 16
  COMPARE AND WRITE on a LUN, retried after 50 ms as ESXi does:
    atsbench run /dev/sg3 --qd 32 --timeout 50
  A simulated device that serves stale reads, to see the `stale` class:
    atsbench run sim -w rmw --inject stale-read=0.05 --qd 8
  Random reads on null_blk, two workers, results as JSON:
    atsbench run /dev/nullb0 -w read --qd 64 -t 2 -f json";

const SWEEP_EXAMPLES: &str = "\
Examples:
  Queue depths 1, 2, 4 ... 256 on a temporary file:
    atsbench sweep --qd 1..256
  Qualify a LUN (360 measurements of 2 s: about 12 minutes):
    atsbench sweep /dev/sg3 -p qualification -f json -o qual.json
  ATS against unserialised read-modify-write, by contention:
    atsbench sweep sim --qd 1..64 --contention 1,4,16 -w ats,rmw
  The short CI sweep on null_blk:
    atsbench sweep /dev/nullb0 -p ci-nullblk -f json -o new.json
  Five interleaved repeats per point, with SVG plots:
    atsbench sweep --qd 1..64 --repeat 5 --interleave --plot svg/";

const PROBE_EXAMPLES: &str = "\
Examples:
  Vendor, firmware, MAXIMUM COMPARE AND WRITE LENGTH, other paths:
    atsbench probe /dev/sg3
  NVMe Identify: Compare in ONCS, fused support, ACWU:
    atsbench probe /dev/ng0n1 -f json
  The simulated device:
    atsbench probe sim:1G";

const CHECK_EXAMPLES: &str = "\
Examples:
  Every check on one SCSI path, inside 8M..24M:
    atsbench check /dev/sg3 --region 8M..24M --force
  Two paths of one LUN (checked by VPD 83h), as markdown:
    atsbench check /dev/sg3 /dev/sg4 -f markdown -o check.md
  An NVMe namespace:
    atsbench check /dev/ng0n1
  A faulty simulated device, whose atomicity checks fail:
    atsbench check sim --inject torn-write=0.1";

const COMPARE_EXAMPLES: &str = "\
Examples:
  Point by point, with the default thresholds:
    atsbench compare base.json new.json
  Thresholds of your own:
    atsbench compare base.json new.json --max-regression p99=10%
  A markdown summary for a CI job:
    atsbench compare base.json new.json -f markdown -o cmp.md
  Base and candidate overlaid in SVG plots:
    atsbench compare base.json new.json --plot svg/";

const REPORT_EXAMPLES: &str = "\
Examples:
  One HTML page to attach to a ticket:
    atsbench report qual.json --html qual.html
  Against a base: the comparison and its verdict first:
    atsbench report new.json base.json --html report.html";

const PROFILES_EXAMPLES: &str = "\
Examples:
  The shipped profiles:
    atsbench profiles
  One of them, as TOML to copy and edit:
    atsbench profiles show qualification
  A sweep from a profile:
    atsbench sweep --profile lock-storm";

const MERGE_EXAMPLES: &str = "\
Examples:
  Two hosts' results, verified together:
    atsbench merge host0.json host1.json
  The merged result as JSON:
    atsbench merge host0.json host1.json -f json -o merged.json";

const HOSTS_EXAMPLES: &str = "\
Examples:
  Two paths of one LUN, a local host process on each:
    atsbench hosts /dev/sdb /dev/sdc -- --qd 4 --ops 10000
  Two machines through ssh, ATS for 30 s:
    atsbench hosts hostA:/dev/sdb hostB:/dev/sdb -- --duration 30s
  Keep each host's own results beside the merged JSON:
    atsbench hosts /dev/sdb /dev/sdc --keep out -f json -- --qd 8";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  bash:
    atsbench completions bash > /etc/bash_completion.d/atsbench
  zsh (a folder on $fpath):
    atsbench completions zsh > ~/.zfunc/_atsbench
  fish (into ~/.config/fish/completions/):
    atsbench completions fish > atsbench.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  atsbench(1):
    atsbench man | man -l -
  atsbench-sweep(1):
    atsbench man sweep | man -l -
  Every page, for packaging:
    atsbench man --dir man/";

#[derive(Debug, Parser)]
#[command(
    name = "atsbench",
    version,
    about = "Measure storage ATS (atomic compare-and-write) and read-modify-write under load",
    long_about = "Measure storage ATS (atomic test-and-set: compare-and-write on one block, as VMware VMFS \
                  uses for locks and heartbeats) under load: latency percentiles and miscompare rates, \
                  classified and verified, across queue depth and contention.\n\n\
                  With no TARGET, atsbench uses a 64 MiB temporary file (no root needed).",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// None: `atsbench` alone, which prints [`FIRST_STEPS`].
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure one point.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Measure every combination of workloads, thread counts, contention (or lock counts) and
    /// queue depths.
    #[command(after_help = SWEEP_EXAMPLES)]
    Sweep(SweepArgs),
    /// Describe a target: model, firmware, block size, ATS support.
    #[command(after_help = PROBE_EXAMPLES)]
    Probe(ProbeArgs),
    /// Check that the device implements compare-and-write correctly (SBC-4 COMPARE AND WRITE,
    /// NVMe Compare): one verdict per check; exit 12 when a check failed.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Compare two results files point by point: exit 1 on a regression, 3 when inconclusive.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Write a self-contained HTML report (and SVG plots) of a results file, against a base.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// List the shipped workload profiles, or show one (`profiles show NAME`).
    #[command(after_help = PROFILES_EXAMPLES)]
    Profiles(ProfilesArgs),
    /// Combine the JSON results of the hosts of one multi-host run (`--hosts N`) and verify
    /// their ATS histories together.
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the man page of atsbench or of one command (roff, for `man -l -`).
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
    /// Run one multi-host measurement from here: a host per SPEC (a local process on a path,
    /// or HOST:TARGET through --rsh), then merge their results.
    #[command(after_help = HOSTS_EXAMPLES)]
    Hosts(HostsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (default: atsbench's own page).
    #[arg(conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write every page (atsbench.1, atsbench-run.1, ...) into DIR instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

// ----- conformance checks (`atsbench check`) -----

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    Table,
    Markdown,
    Json,
}

impl std::str::FromStr for CheckFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(CheckFormat::Table),
            "markdown" => Ok(CheckFormat::Markdown),
            "json" => Ok(CheckFormat::Json),
            _ => Err(format!("`{s}` is not a format; use table, markdown or json")),
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// /dev/sgN (several: paths of one LUN), /dev/ngXnY, or `sim` / `sim:SIZE` (given twice:
    /// two paths to one simulated LUN).
    #[arg(required = true)]
    pub targets: Vec<PathBuf>,
    /// Byte range the checks may write, START..END (e.g. `0..64M`); nothing outside it is written.
    #[arg(long, help_heading = heading::TARGET)]
    pub region: Option<RegionArg>,
    /// Write to a device even if it holds a filesystem, partitions or is in use.
    #[arg(long, help_heading = heading::TARGET)]
    pub force: bool,
    /// Operations of each atomicity check, over all its actors.
    #[arg(long, default_value = "2000", allow_hyphen_values = true, value_parser = count64,
          help_heading = heading::LOAD)]
    pub ops: u64,
    /// Concurrent actors (threads, one command in flight each) of each atomicity check.
    #[arg(long, default_value = "8", allow_hyphen_values = true, value_parser = count,
          help_heading = heading::LOAD)]
    pub actors: u32,
    /// Seed of the simulated device's fault draws.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = count64,
          help_heading = heading::SIM)]
    pub seed: u64,
    /// sim: the command set, scsi (the default) or nvme.
    #[arg(long, value_parser = named::<SimProtocol>(&["scsi", "nvme"]),
          help_heading = heading::SIM)]
    pub sim_protocol: Option<SimProtocol>,
    /// sim: inject faults, KIND=RATE[,...] (as for `run`): each kind fails the check it violates.
    #[arg(long, value_name = "KIND=RATE,...", help_heading = heading::SIM)]
    pub inject: Option<Injections>,
    /// Output format: table, markdown or json.
    #[arg(long, short = 'f', default_value = "table", value_parser = named::<CheckFormat>(&["table", "markdown", "json"]),
          help_heading = heading::OUTPUT)]
    pub format: CheckFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', help_heading = heading::OUTPUT)]
    pub output: Option<PathBuf>,
}

// --- hosts: a multi-host run in one command (issue 20) ---

#[derive(Debug, Args)]
pub struct HostsArgs {
    /// The hosts: TARGET (a local host process on that path, e.g. one path of a LUN each) or
    /// HOST:TARGET (started with `CMD HOST atsbench run ...`). A TARGET starting with / or .
    /// is always local.
    #[arg(required = true, value_name = "SPEC", help_heading = heading::HOSTS)]
    pub specs: Vec<String>,
    /// How to start a remote host's atsbench: CMD HOST COMMAND (split at spaces).
    #[arg(long, value_name = "CMD", default_value = "ssh -o BatchMode=yes", help_heading = heading::HOSTS)]
    pub rsh: String,
    /// Keep each host's own JSON results in DIR (host0.json, host1.json, ...).
    #[arg(long, value_name = "DIR", help_heading = heading::OUTPUT)]
    pub keep: Option<PathBuf>,
    /// Output format of the merged result: table or json.
    #[arg(long, short = 'f', default_value = "table", value_parser = named::<Format>(&["table", "json"]),
          help_heading = heading::OUTPUT)]
    pub format: Format,
    /// Write the merged result to this file instead of stdout.
    #[arg(long, short = 'o', help_heading = heading::OUTPUT)]
    pub output: Option<PathBuf>,
    /// The options of `atsbench run` every host gets (after `--`); hosts sets --hosts,
    /// --host-id, --seed (unless given here) and the output itself.
    #[arg(last = true, value_name = "RUN-OPTIONS", help_heading = heading::HOSTS)]
    pub run_options: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The result files of every host of the run (`-f json -o FILE` on each host).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format: table or json.
    #[arg(long, short = 'f', default_value = "table", value_parser = named::<Format>(&["table", "json"]),
          help_heading = heading::OUTPUT)]
    pub format: Format,
    /// Write the merged result to this file instead of stdout.
    #[arg(long, short = 'o', help_heading = heading::OUTPUT)]
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
    /// Workload: read, write, ats, rmw, compare or heartbeat.
    #[arg(long, short = 'w', default_value = "ats", value_parser = named::<Workload>(&Workload::NAMES),
          help_heading = heading::MEASURE)]
    pub workload: Workload,
    /// Queue depth per worker: each slot is one actor with one operation at a time.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = qd, help_heading = heading::MEASURE)]
    pub qd: u32,
    /// Number of workers, pinned to the first CPUs this process may use.
    #[arg(long, short = 't', conflicts_with = "cpus", allow_hyphen_values = true, value_parser = count,
          help_heading = heading::MEASURE)]
    pub threads: Option<u32>,
    /// CPUs to pin one worker each to, e.g. `0,1` or `0-3`.
    #[arg(long, help_heading = heading::MEASURE)]
    pub cpus: Option<CpuList>,
    /// Actors per lock block (ats, rmw, compare): 1 (the default) gives every actor a block of
    /// its own; K gives every K actors one block to contend for.
    #[arg(long, conflicts_with = "locks", allow_hyphen_values = true, value_parser = count,
          help_heading = heading::MEASURE)]
    pub contention: Option<u32>,
    /// Lock blocks shared by all actors, each attempt on a random one (instead of --contention).
    #[arg(long, allow_hyphen_values = true, value_parser = count, help_heading = heading::MEASURE)]
    pub locks: Option<u32>,
    /// How long to measure: seconds (`10`, `0.5`) or with a unit (`500ms`, `2m`); default 5 s.
    #[arg(long, short = 'd', conflicts_with = "ops", allow_hyphen_values = true, help_heading = heading::LOAD)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A workload profile: a shipped name (see `atsbench profiles`) or a TOML file; flags given
    /// here override its values.
    #[arg(long, short = 'p', help_heading = heading::MEASURE)]
    pub profile: Option<String>,
    /// Workloads, e.g. `ats,rmw,read`.
    #[arg(long, short = 'w', value_delimiter = ',', default_value = "ats",
          value_parser = named::<Workload>(&Workload::NAMES), help_heading = heading::MEASURE)]
    pub workload: Vec<Workload>,
    /// Queue depths: `1..256` (powers of two), `1..64:8` (linear) or `1,3,8` (required unless a
    /// profile sets them).
    #[arg(long, allow_hyphen_values = true, help_heading = heading::MEASURE)]
    pub qd: Option<ValueList>,
    /// Worker counts, e.g. `1,2`.
    #[arg(long, short = 't', default_value = "1", allow_hyphen_values = true, help_heading = heading::MEASURE)]
    pub threads: ValueList,
    /// Actors per lock block, e.g. `1,4,16` (default 1).
    #[arg(long, conflicts_with = "locks", allow_hyphen_values = true, help_heading = heading::MEASURE)]
    pub contention: Option<ValueList>,
    /// Lock block counts shared by all actors, e.g. `1,16,256` (instead of --contention).
    #[arg(long, allow_hyphen_values = true, help_heading = heading::MEASURE)]
    pub locks: Option<ValueList>,
    /// How long to measure each point (`2`, `500ms`); default 2 s.
    #[arg(long, short = 'd', conflicts_with = "ops", allow_hyphen_values = true, help_heading = heading::LOAD)]
    pub duration: Option<Duration>,
    // --- the vendor report (issue 20) ---
    /// When the sweep ends, also write its self-contained HTML report to FILE (as `atsbench
    /// report RESULTS --html FILE` would).
    #[arg(long, value_name = "FILE", help_heading = heading::OUTPUT)]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by `run` and `sweep`, under the headings of [`heading`].
#[derive(Debug, Args)]
// wide: clap derive: one field per flag that `run` and `sweep` share
pub struct CommonArgs {
    /// A regular file, a block device, /dev/ngXnY, /dev/sgN, or `sim` / `sim:SIZE` (the
    /// simulated device, e.g. sim:64MiB); none: a temporary file.
    pub target: Option<PathBuf>,

    // What to measure (after the command's own workload, qd, threads, contention).
    /// `heartbeat`: time between one worker's heartbeats (VMFS beats every 3 s).
    #[arg(long, default_value = "3s", allow_hyphen_values = true, help_heading = heading::MEASURE)]
    pub heartbeat_interval: Duration,
    /// Fraction of `compare` commands sent with a deliberately wrong image.
    #[arg(long, default_value = "0", allow_hyphen_values = true, value_parser = real, help_heading = heading::MEASURE)]
    pub miscompare_fraction: f64,
    /// Skip verification of the ATS history and the final lock blocks.
    #[arg(long, help_heading = heading::MEASURE)]
    pub no_verify: bool,

    // Load (after the command's --duration).
    /// Operations per point over all workers (I/Os; ATS attempts for ats and rmw).
    #[arg(long, allow_hyphen_values = true, value_parser = count64, help_heading = heading::LOAD)]
    pub ops: Option<u64>,
    /// Open loop: issue this many operations per second in all, with coordinated-omission
    /// correction (latency counts from the intended start).
    #[arg(long, allow_hyphen_values = true, value_parser = real, help_heading = heading::LOAD)]
    pub rate: Option<f64>,
    /// Measure every point this many times; results keep each repeat's figures beside the
    /// merged ones (whose percentiles come from the merged histograms).
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = count, help_heading = heading::LOAD)]
    pub repeat: u32,
    /// With --repeat: measure round by round over all points (point 1, 2, ..., then again), so
    /// that drift of the device or machine does not line up with one point.
    #[arg(long, requires = "repeat", help_heading = heading::LOAD)]
    pub interleave: bool,
    /// Seed of the workers' random numbers (default: random). With --hosts, required and
    /// the same on every host.
    #[arg(long, allow_hyphen_values = true, value_parser = count64, help_heading = heading::LOAD)]
    pub seed: Option<u64>,
    /// Use a kernel submission thread (IORING_SETUP_SQPOLL).
    #[arg(long, help_heading = heading::LOAD)]
    pub sqpoll: bool,
    /// Poll for completions (IORING_SETUP_IOPOLL); the target must support polled I/O.
    #[arg(long, help_heading = heading::LOAD)]
    pub iopoll: bool,

    // Limits, timeouts and errors.
    /// ats: give up on a device-side ATS command not completed within MS milliseconds and
    /// retry it with the same images, as ESXi does; the late completion is counted.
    #[arg(long, value_name = "MS", allow_hyphen_values = true, value_parser = count64,
          help_heading = heading::LIMITS)]
    pub timeout: Option<u64>,
    // --- abort-and-retry (issue 20) ---
    /// With --timeout on a SCSI generic target: `resend` (default) gives up in user space and
    /// resends while the first command still runs; `abort` sends COMPARE AND WRITE with MS as
    /// its sg timeout, so the kernel's SCSI error handler aborts it at the target (ABORT TASK),
    /// and retries the same images when the abort completes, as ESXi does.
    #[arg(long, value_name = "HOW", requires = "timeout", 
          value_parser = named::<crate::engine::OnTimeout>(&["resend", "abort"]), help_heading = heading::LIMITS)]
    pub on_timeout: Option<crate::engine::OnTimeout>,

    // Target.
    /// Block size of each I/O and lock record (default: the target's logical block size).
    #[arg(long, allow_hyphen_values = true, help_heading = heading::TARGET)]
    pub bs: Option<Bytes>,
    /// Byte range to use, START..END (e.g. `0..64M`); nothing outside it is written.
    #[arg(long, help_heading = heading::TARGET)]
    pub region: Option<RegionArg>,
    /// Backend: file, block, nvme or scsi (default: chosen from the target's type).
    #[arg(long, value_parser = named::<BackendKind>(&["file", "block", "nvme", "scsi"]),
          help_heading = heading::TARGET)]
    pub backend: Option<BackendKind>,
    /// Write to a block device even if it holds a filesystem, partitions or is in use.
    #[arg(long, help_heading = heading::TARGET)]
    pub force: bool,

    // Output.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Write SVG plots of the results into DIR: latency percentiles, IOPS and miscompare rates
    /// against queue depth (and lock count), and a percentile spectrum per point.
    #[arg(long, value_name = "DIR", help_heading = heading::OUTPUT)]
    pub plot: Option<PathBuf>,
    /// Write HdrHistogram interval logs to FILE as the run goes: one histogram per operation
    /// kind and interval, tagged with the kind (and the point, in a sweep).
    #[arg(long, value_name = "FILE", help_heading = heading::OUTPUT)]
    pub hdr_log: Option<PathBuf>,
    /// Length of one --hdr-log interval (`1s`, `250ms`).
    #[arg(long, default_value = "1s", requires = "hdr_log", allow_hyphen_values = true,
          help_heading = heading::OUTPUT)]
    pub hdr_interval: Duration,
    /// Progress on stderr: none (`-q`); shown only when stderr is a terminal.
    #[arg(long, short = 'q', help_heading = heading::OUTPUT)]
    pub quiet: bool,
    /// Width of the intervals every repeat of every point records (`100ms`, `1s`, at least
    /// 1ms): operations, errors, miscompares and a latency histogram per operation kind, kept
    /// in the JSON results for the steady-state check and `compare`.
    #[arg(long, value_name = "D", default_value = "100ms", allow_hyphen_values = true,
          help_heading = heading::OUTPUT)]
    pub interval: Duration,
    /// With --ops: end the point after this long even if its operations are not done
    /// (`60`, `10m`); the results say `ended_by: max_duration` [default: 5m]
    #[arg(long, allow_hyphen_values = true, help_heading = heading::LIMITS)]
    pub max_duration: Option<Duration>,
    /// Exit 11 ("the device returned errors") when a point's I/O errors over its operations
    /// plus errors exceed this fraction; 0 (the default): any error
    #[arg(long, value_name = "FRACTION", default_value = "0", allow_hyphen_values = true, value_parser = real,
          help_heading = heading::LIMITS)]
    pub max_error_rate: f64,
    /// Run the conformance checks of `atsbench check` on the target first (inside --region);
    /// results carry them as `conformance`, and a failed check exits 12 after every point.
    #[arg(long, help_heading = heading::MEASURE)]
    pub checks: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub sim: SimArgs,

    // Several hosts.
    /// Several hosts on one shared target: this many hosts run the same command at once, each
    /// with its own --host-id and all with the same --seed; `atsbench merge` combines their
    /// results.
    #[arg(long, default_value = "1", allow_hyphen_values = true, value_parser = count, help_heading = heading::HOSTS)]
    pub hosts: u32,
    /// With --hosts N: this host's index, 0 to N-1 (default: SLURM_PROCID, JOB_COMPLETION_INDEX
    /// or OMPI_COMM_WORLD_RANK, as srun, a Kubernetes Indexed Job or mpirun set it; else 0).
    #[arg(long, allow_hyphen_values = true, value_parser = count, help_heading = heading::HOSTS)]
    pub host_id: Option<u32>,
    /// With --hosts: how long to wait for the other hosts at each rendezvous (`60`, `2m`).
    #[arg(long, default_value = "60s", allow_hyphen_values = true, help_heading = heading::HOSTS)]
    pub rendezvous_timeout: Duration,
}

/// Options of the device backends (SCSI, NVMe, and block devices and files), shared by `run`
/// and `sweep`.
#[derive(Debug, Clone, Default, Args)]
pub struct DeviceArgs {
    /// Block devices and files: where an ATS attempt takes its expected image: device (what
    /// the worker last wrote or read with O_DIRECT, the default) or cache (a buffered read of
    /// the lock block through the page cache before each attempt; may be stale).
    #[arg(long, value_parser = named::<ExpectedFrom>(&["device", "cache"]), help_heading = heading::TARGET)]
    pub expected_from: Option<ExpectedFrom>,
    /// How commands reach /dev/sgN: sg (async sg v3 driven by io_uring poll), bsg-uring
    /// (io_uring passthrough, newer kernels), sg-sync (SG_IO ioctl, a baseline); default: the
    /// best this kernel offers.
    #[arg(long, value_parser = named::<Transport>(&["sg", "bsg-uring", "sg-sync"]), help_heading = heading::SCSI)]
    pub transport: Option<Transport>,
    /// Blocks per COMPARE AND WRITE (1 to the device's MAXIMUM COMPARE AND WRITE LENGTH);
    /// --bs defaults to (and must be) this many logical blocks.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..), help_heading = heading::SCSI)]
    pub ats_blocks: Option<u8>,
    /// Set DPO (disable page out) on COMPARE AND WRITE.
    #[arg(long, help_heading = heading::SCSI)]
    pub dpo: bool,
    /// Set FUA (force unit access) on COMPARE AND WRITE and WRITE(16).
    #[arg(long, help_heading = heading::SCSI)]
    pub fua: bool,
    /// Try one real fused Compare+Write (FUSE first/second) on the first lock block.
    /// Linux passthrough rejects fused commands, so this reports that and exits 7; without it
    /// NVMe ATS is compare-then-write.
    #[arg(long, help_heading = heading::NVME)]
    pub fused: bool,
}

/// Options of the simulated device (TARGET `sim`), shared by `run` and `sweep`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = heading::SIM)]
pub struct SimArgs {
    /// The command set: scsi (COMPARE AND WRITE, READ(16), WRITE(16): ATS mode device, the
    /// default) or nvme (Compare, Read, Write: compare-then-write).
    #[arg(long, value_parser = named::<SimProtocol>(&["scsi", "nvme"]))]
    pub sim_protocol: Option<SimProtocol>,
    /// Each command's service time: 0 (the default), fixed:20us, uniform:10us..50us or
    /// exp:30us (exponential, that mean).
    #[arg(long, value_name = "DIST")]
    pub sim_latency: Option<LatencyModel>,
    /// The device's command slots, shared by all workers (like an HBA's queue depth): a
    /// command beyond them waits in the device until one frees.
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = count)]
    pub sim_qd: Option<u32>,
    /// Inject faults, KIND=RATE[,KIND=RATE...]: KIND false-miscompare, own-write,
    /// torn-write, lost-write, stale-read, latency-spike, foreign-write, medium-error,
    /// error-after-write, no-answer or device-gone; RATE the fraction of the commands each could strike.
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
#[command(next_help_heading = heading::OUTPUT)]
pub struct OutputArgs {
    /// Output format: table (fits 100 columns), wide (every column), json or csv.
    #[arg(long, short = 'f', default_value = "table",
          value_parser = named::<Format>(&["table", "wide", "json", "csv"]))]
    pub format: Format,
    /// Write results to this file (rewritten after every point) instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// The table with every column (the same as --format wide).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

impl OutputArgs {
    /// The format asked for, `-v` making the table wide.
    pub fn format(&self) -> Format {
        match self.format {
            Format::Table if self.verbose => Format::Wide,
            f => f,
        }
    }
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The device or file to describe.
    pub target: PathBuf,
    /// Backend (default: chosen from the target's type).
    #[arg(long, value_parser = named::<BackendKind>(&["file", "block", "nvme", "scsi"]),
          help_heading = heading::TARGET)]
    pub backend: Option<BackendKind>,
    /// Output format: table or json.
    #[arg(long, short = 'f', default_value = "table", value_parser = named::<Format>(&["table", "json"]),
          help_heading = heading::OUTPUT)]
    pub format: Format,
    /// Write the description to this file instead of stdout.
    #[arg(long, short = 'o', help_heading = heading::OUTPUT)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 ok or better (also inconclusive with --inconclusive ok), 1 regression, \
                        2 usage (a file unreadable, not results, or nothing comparable), 3 inconclusive.\n\
                        See docs/compare-verdicts.md for the rule.")]
pub struct CompareArgs {
    /// The base (reference) results, written by `run` or `sweep` with --format json.
    pub base: PathBuf,
    /// The candidate results, compared with the base.
    pub candidate: PathBuf,
    /// The margins: a figure regresses when its whole interval lies beyond its margin, e.g.
    /// `iops=5%,p99=10%,miscompare=0.5pp`; keys iops, p50, p99, p99.9, latency (all three),
    /// miscompare; naming p50 or p99.9 also gates them [default:
    /// iops=5%,p50=10%,p99=10%,p99.9=20%,miscompare=0.5pp].
    #[arg(long, allow_hyphen_values = true, help_heading = heading::VERDICT)]
    pub max_regression: Option<crate::compare::Thresholds>,
    /// Output format: table, markdown, json or csv (one row per point and figure).
    #[arg(long, short = 'f', default_value = "table",
          value_parser = named::<crate::compare::Format>(&["table", "markdown", "json", "csv"]),
          help_heading = heading::OUTPUT)]
    pub format: crate::compare::Format,
    /// Write the comparison to this file instead of stdout.
    #[arg(long, short = 'o', help_heading = heading::OUTPUT)]
    pub output: Option<PathBuf>,
    /// Write SVG plots of base and candidate overlaid into this directory.
    #[arg(long, value_name = "DIR", help_heading = heading::OUTPUT)]
    pub plot: Option<PathBuf>,
    // ---- verdicts (issue 17): the run noise of single runs, what inconclusive exits with ----
    /// Run-to-run noise in percent (one standard deviation of a figure between identical runs,
    /// measured by A/A runs), for points measured once per side: their verdicts rest on it
    /// [default: the runs' profile's run-noise, else 100, with latency percentiles of single
    /// runs then not gated]. Points with repeats rest on their repeats' own spread.
    #[arg(long, value_name = "PCT", value_parser = run_noise, help_heading = heading::VERDICT)]
    pub run_noise: Option<f64>,
    /// Run-to-run noise in percent between whole sessions (base and candidate measured at
    /// different times, on a machine whose state may differ): a floor under the spread of
    /// repeats, which repeats of one invocation cannot show. Conservative: fewer false alarms,
    /// less power (docs/compare-verdicts.md, Calibration) [default: none].
    #[arg(long, value_name = "PCT", value_parser = run_noise, help_heading = heading::VERDICT)]
    pub session_noise: Option<f64>,
    /// What an inconclusive comparison exits with: fail (exit 3) or ok (exit 0).
    #[arg(long, default_value = "fail", value_name = "ok|fail",
          value_parser = named::<crate::compare::InconclusiveAs>(&["ok", "fail"]))]
    pub inconclusive: crate::compare::InconclusiveAs,
}

/// `--run-noise`: a percentage above 0, at most 1000 (`5`, `5%`, `2.5`, `150`).
fn run_noise(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('%').parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!("`{s}` is not a run noise; give a percentage above 0 and at most 1000, e.g. 5")),
    }
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("out").required(true).multiple(true).args(["html", "plot"]))]
pub struct ReportArgs {
    /// The results to report on, written by `run` or `sweep` with --format json.
    pub results: PathBuf,
    /// A base to compare them with: the comparison and its verdict go at the top.
    pub base: Option<PathBuf>,
    /// Thresholds of the comparison with the base (as for `compare`).
    #[arg(long, allow_hyphen_values = true, help_heading = heading::VERDICT)]
    pub max_regression: Option<crate::compare::Thresholds>,
    /// Write one self-contained HTML file (inline SVG and CSS, no scripts, no network).
    #[arg(long, value_name = "FILE", help_heading = heading::OUTPUT)]
    pub html: Option<PathBuf>,
    /// Write the SVG plots into this directory.
    #[arg(long, value_name = "DIR", help_heading = heading::OUTPUT)]
    pub plot: Option<PathBuf>,
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
        let Some(Command::Sweep(s)) = c.command else { panic!() };
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
        let Some(Command::Run(r)) = c.command else { panic!() };
        assert_eq!(r.duration.map(|d| d.0), Some(std::time::Duration::from_millis(500)));
    }
}
