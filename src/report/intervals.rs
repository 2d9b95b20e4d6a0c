//! `--hdr-log`: the completed intervals of one measurement (`engine::series`) as lines of the
//! HdrHistogram log (`stats::hdrlog`), one per operation kind.
//!
//! The log's own interval (`--hdr-interval`) may be longer than the snapshots' (the finer of it
//! and `--interval`): consecutive completed intervals are added together until one starts in
//! the next log interval. What is kept is one log interval.

use crate::engine::series::Completed;
use crate::stats::hdrlog::HdrLog;
use crate::stats::Kind;
use hdrhistogram::Histogram;
use std::io::{self, Write};
use std::time::Duration;

/// Writes one measurement (one point, one repeat) into a log.
pub struct LogWriter<'a, W: Write> {
    log: &'a mut HdrLog<W>,
    /// Prepended to each kind's name in the tag: empty for `run`, the point for `sweep`.
    prefix: String,
    /// The log's start (its BaseTime), in CLOCK_MONOTONIC ns like the workers' epochs.
    base_ns: u64,
    every_ns: u64,
    /// The log interval being added up.
    open: Option<Open>,
}

/// A log interval being added up: its index, the measurement's epoch, its start and end (ns
/// after the epoch) and its histograms.
struct Open {
    index: u64,
    epoch_ns: u64,
    start_ns: u64,
    end_ns: u64,
    kinds: Vec<(Kind, Histogram<u64>)>,
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl<'a, W: Write> LogWriter<'a, W> {
    pub fn new(log: &'a mut HdrLog<W>, prefix: String, base_ns: u64, every_ns: u64) -> Self {
        LogWriter { log, prefix, base_ns, every_ns: every_ns.max(1), open: None }
    }

    /// Take one completed interval; write the log interval it closes.
    pub fn add(&mut self, c: &Completed) -> io::Result<()> {
        let index = c.start_ns / self.every_ns;
        if self.open.as_ref().is_some_and(|o| o.index != index) {
            self.flush_open()?;
        }
        let open = self.open.get_or_insert_with(|| Open {
            index,
            epoch_ns: c.epoch_ns,
            start_ns: c.start_ns,
            end_ns: c.start_ns,
            kinds: Vec::new(),
        });
        open.end_ns = c.start_ns + c.dur_ns;
        for (kind, h) in &c.kinds {
            match open.kinds.iter_mut().find(|(k, _)| k == kind) {
                Some((_, into)) => into.add(h).map_err(bad)?,
                None => open.kinds.push((*kind, h.clone())),
            }
        }
        Ok(())
    }

    fn flush_open(&mut self) -> io::Result<()> {
        let Some(Open { epoch_ns: epoch, start_ns: start, end_ns: end, mut kinds, .. }) = self.open.take() else {
            return Ok(());
        };
        let offset = Duration::from_nanos(epoch.saturating_sub(self.base_ns));
        let at = offset + Duration::from_nanos(start);
        let length = Duration::from_nanos(end.saturating_sub(start).max(1));
        kinds.sort_by_key(|(k, _)| *k);
        for (kind, h) in &kinds {
            self.log.interval(&format!("{}{}", self.prefix, kind.name()), at, length, h)?;
        }
        self.log.flush()
    }

    /// Write what is left.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush_open()
    }
}
