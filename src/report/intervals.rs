//! `--hdr-log`: the collector that turns the workers' snapshots of one measurement into
//! interval lines of the HdrHistogram log (`stats::hdrlog`), as each interval finishes.
//!
//! A worker sends its cumulative histograms at each boundary (`engine::Snapshot`); the
//! collector subtracts that worker's previous snapshot to get what it measured in the
//! interval, adds the workers together per operation kind, and writes interval `k` once every
//! worker has reported `k` or a later one (or finished). A worker that missed a boundary (one
//! long wait) reports its next one with the histograms of both: they go to the later interval.
//! What is kept is one snapshot per worker and kind and the intervals not yet complete, so
//! memory does not grow with the length of the run.

use crate::engine::Snapshot;
use crate::stats::hdrlog::HdrLog;
use crate::stats::Kind;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

type Kinds = Vec<(Kind, Histogram<u64>)>;

/// An interval of the measurement, not yet written.
#[derive(Default)]
struct Pending {
    /// The latest snapshot time in it, ns after the point's epoch.
    end_ns: u64,
    kinds: Kinds,
}

/// Collects one measurement (one point, one repeat) into a log.
pub struct Collector<'a, W: Write> {
    log: &'a mut HdrLog<W>,
    /// Prepended to each kind's name in the tag: empty for `run`, the point for `sweep`.
    prefix: String,
    /// The log's start (its BaseTime), in CLOCK_MONOTONIC ns like the workers' epochs.
    base_ns: u64,
    every_ns: u64,
    /// The point's epoch: the first snapshot's.
    epoch_ns: Option<u64>,
    prev: Vec<Kinds>,
    /// By worker: the latest interval reported (u64::MAX once finished).
    done: Vec<Option<u64>>,
    pending: BTreeMap<u64, Pending>,
}

fn slot<'k>(kinds: &'k mut Kinds, kind: Kind, like: &Histogram<u64>) -> &'k mut Histogram<u64> {
    let i = match kinds.iter().position(|(k, _)| *k == kind) {
        Some(i) => i,
        None => {
            kinds.push((kind, Histogram::new_from(like)));
            kinds.len() - 1
        }
    };
    &mut kinds[i].1
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl<'a, W: Write> Collector<'a, W> {
    pub fn new(log: &'a mut HdrLog<W>, prefix: String, base_ns: u64, every_ns: u64, workers: usize) -> Self {
        Collector {
            log,
            prefix,
            base_ns,
            every_ns: every_ns.max(1),
            epoch_ns: None,
            prev: vec![Vec::new(); workers],
            done: vec![None; workers],
            pending: BTreeMap::new(),
        }
    }

    /// Take one worker's snapshot; write the intervals it completes.
    pub fn add(&mut self, s: Snapshot) -> io::Result<()> {
        let w = s.worker as usize;
        if w >= self.prev.len() {
            return Err(bad(format!("a snapshot from worker {w} of {}", self.prev.len())));
        }
        self.epoch_ns.get_or_insert(s.epoch_ns);
        let pending = self.pending.entry(s.index).or_default();
        pending.end_ns = pending.end_ns.max(s.at_ns);
        for (kind, cur) in s.kinds {
            let into = slot(&mut pending.kinds, kind, &cur);
            into.add(&cur).map_err(bad)?;
            if let Some((_, before)) = self.prev[w].iter().find(|(k, _)| *k == kind) {
                into.subtract(before).map_err(bad)?;
            }
            match self.prev[w].iter_mut().find(|(k, _)| *k == kind) {
                Some(p) => p.1 = cur,
                None => self.prev[w].push((kind, cur)),
            }
        }
        self.done[w] = Some(if s.last { u64::MAX } else { s.index });
        let complete = self.done.iter().map(|d| d.unwrap_or(0)).min().unwrap_or(0);
        if self.done.iter().all(Option::is_some) {
            self.write_through(complete)?;
        }
        Ok(())
    }

    /// Write the intervals up to `last` (inclusive), oldest first.
    fn write_through(&mut self, last: u64) -> io::Result<()> {
        let every = self.every_ns;
        let offset = Duration::from_nanos(self.epoch_ns.map_or(0, |e| e.saturating_sub(self.base_ns)));
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > last {
                break;
            }
            let (k, p) = entry.remove_entry();
            let start_ns = k.saturating_mul(every);
            let start = offset + Duration::from_nanos(start_ns);
            let length = Duration::from_nanos(p.end_ns.saturating_sub(start_ns).clamp(1, every));
            let mut kinds = p.kinds;
            kinds.sort_by_key(|(k, _)| *k);
            for (kind, h) in &kinds {
                self.log.interval(&format!("{}{}", self.prefix, kind.name()), start, length, h)?;
            }
            self.log.flush()?;
        }
        Ok(())
    }

    /// Write what is left (workers that stopped without a last snapshot included).
    pub fn finish(mut self) -> io::Result<()> {
        self.write_through(u64::MAX)
    }
}
