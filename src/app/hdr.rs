//! `--hdr-log FILE`: the log is opened before the first point; each measurement's completed
//! intervals are written to it as they finish (`report::intervals`).

use crate::engine::{LockPlan, Measured, PointSpec};
use crate::error::Result;
use crate::plot::write_error;
use crate::report::intervals::LogWriter;
use crate::stats::hdrlog::HdrLog;
use crate::sys::clock::monotonic_ns;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The open log.
pub struct HdrFile {
    log: HdrLog<BufWriter<File>>,
    path: PathBuf,
    every_ns: u64,
    /// When the log began (its BaseTime).
    base_ns: u64,
}

/// Create the log and write its header; the comment line is the command line.
pub fn open(path: &Path, every_ns: u64) -> Result<HdrFile> {
    let f = File::create(path).map_err(|e| write_error(path, &e))?;
    let args: Vec<String> = std::env::args().collect();
    let comment = format!("atsbench {}: {}", env!("CARGO_PKG_VERSION"), args.join(" "));
    let (start, base_ns) = (SystemTime::now(), monotonic_ns());
    let log = HdrLog::begin(BufWriter::new(f), start, &comment).map_err(|e| write_error(path, &e))?;
    Ok(HdrFile { log, path: path.to_path_buf(), every_ns, base_ns })
}

/// The tag prefix of a point's lines: none for `run` (one point), the point for `sweep`.
pub fn tag_prefix(command: &str, s: &PointSpec) -> String {
    if command == "run" {
        return String::new();
    }
    let axis = match s.lock_plan {
        _ if !s.workload.has_lock_axis() => String::new(),
        LockPlan::Contention(k) => format!("-c{k}"),
        LockPlan::Locks(n) => format!("-l{n}"),
    };
    format!("{}-qd{}-t{}{axis}/", s.workload.name(), s.qd, s.threads())
}

pub use crate::engine::series::LogSink;

impl HdrFile {
    /// Run one measurement (`run`, given the log its intervals go to) and write its intervals,
    /// tagged `prefix` + kind.
    pub fn log_point(&mut self, prefix: String, run: impl FnOnce(LogSink<'_>) -> Result<Measured>) -> Result<Measured> {
        let every_ns = self.every_ns;
        let mut w = LogWriter::new(&mut self.log, prefix, self.base_ns, every_ns);
        // A failed write loses the log, not the point: it is kept and returned afterwards.
        let mut failed: Option<io::Error> = None;
        let measured = {
            let mut log = |c: &crate::engine::series::Completed| {
                if failed.is_none() {
                    failed = w.add(c).err();
                }
                Ok(())
            };
            run(LogSink { every_ns, log: &mut log })?
        };
        match failed {
            Some(e) => Err(write_error(&self.path, &e)),
            None => w.finish().map_err(|e| write_error(&self.path, &e)),
        }?;
        Ok(measured)
    }

    pub fn finish(self) -> Result<()> {
        self.log.finish().map(drop).map_err(|e: io::Error| write_error(&self.path, &e))
    }
}
