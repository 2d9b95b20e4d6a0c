//! `--hdr-log FILE`: the log is opened before the first point; each measurement runs with a
//! collector thread that writes its intervals as they finish (`report::intervals`).

use crate::engine::{IntervalSink, LockPlan, Point, PointSpec};
use crate::error::Result;
use crate::plot::write_error;
use crate::report::intervals::Collector;
use crate::stats::hdrlog::HdrLog;
use crate::sys::clock::monotonic_ns;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
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

impl HdrFile {
    /// Run one measurement (`run`, given the sink its workers send to) while a collector
    /// writes its intervals, tagged `prefix` + kind.
    pub fn measure(
        &mut self,
        prefix: String,
        workers: usize,
        run: impl FnOnce(Option<&IntervalSink>) -> Result<Point>,
    ) -> Result<Point> {
        let (tx, rx) = mpsc::channel();
        let sink = IntervalSink { every_ns: self.every_ns, tx };
        let (log, base, every) = (&mut self.log, self.base_ns, self.every_ns);
        let (point, written) = std::thread::scope(|s| {
            let collector = s.spawn(move || {
                let mut c = Collector::new(log, prefix, base, every, workers);
                let mut failed = None;
                for snap in rx {
                    // After a failed write, keep draining so that the workers never wait.
                    if failed.is_none() {
                        failed = c.add(snap).err();
                    }
                }
                failed.map_or_else(|| c.finish(), Err)
            });
            let point = run(Some(&sink));
            drop(sink); // the workers' senders are gone too: the collector's loop ends
            (point, collector.join())
        });
        let point = point?;
        written
            .unwrap_or_else(|_| Err(io::Error::other("the interval log writer panicked")))
            .map_err(|e| write_error(&self.path, &e))?;
        Ok(point)
    }

    pub fn finish(self) -> Result<()> {
        self.log.finish().map(drop).map_err(|e: io::Error| write_error(&self.path, &e))
    }
}
