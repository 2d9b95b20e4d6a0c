//! Intervals: at every interval boundary a worker sends a copy of its cumulative latency
//! counters (the kinds that recorded anything) and event counters to the point's collector
//! (`engine::series`), which subtracts the previous copy to get the interval's figures, merges
//! the workers, and keeps the series in the results (and writes `--hdr-log` lines).
//!
//! Off the per-I/O path: the measurement loop compares its clock with the next boundary once
//! per pass (u64::MAX when no sink is given, so the branch is never taken), and the copy is
//! made at most once per interval. Memory is flat: nothing is kept between boundaries.

use super::Worker;
use crate::backend::Backend;
use crate::stats::{Counts, Kind, Recorder};
use std::sync::mpsc::Sender;

/// Where a point's workers send their interval snapshots, and how often.
#[derive(Debug, Clone)]
pub struct IntervalSink {
    pub every_ns: u64,
    pub tx: Sender<Snapshot>,
}

/// One worker's cumulative latency counters at the end of interval `index` (counted from `epoch_ns`,
/// the start of the worker's measurement on CLOCK_MONOTONIC), taken `at_ns` after it.
#[derive(Debug)]
pub struct Snapshot {
    pub worker: u32,
    pub epoch_ns: u64,
    pub index: u64,
    pub at_ns: u64,
    /// The worker's last snapshot: its measurement is over.
    pub last: bool,
    /// The cumulative counters of the kinds that recorded anything (the collector makes them
    /// histograms).
    pub kinds: Vec<(Kind, Counts)>,
    /// The worker's errors and miscompares by class so far (cumulative, like the counters).
    pub errors: u64,
    pub miscompares: [u64; 6],
}

/// When the next snapshot is due.
#[derive(Debug, Clone, Copy)]
pub(super) struct IntervalClock {
    every_ns: u64,
    index: u64,
    next_ns: u64,
}

impl IntervalClock {
    pub fn new(sink: Option<&IntervalSink>) -> Self {
        let every_ns = sink.map_or(u64::MAX, |s| s.every_ns.max(1));
        IntervalClock { every_ns, index: 0, next_ns: every_ns }
    }

    #[inline]
    pub fn due(&self, now: u64) -> bool {
        now >= self.next_ns
    }
}

fn copy(lat: &Recorder) -> Vec<(Kind, Counts)> {
    Kind::ALL.iter().filter_map(|&k| Some((k, lat.counts(k)?))).collect()
}

impl<B: Backend> Worker<'_, B> {
    /// Send the counters so far: at a boundary (`last` false) or at the end of measuring.
    pub(super) fn send_interval(&mut self, last: bool) {
        let Some(sink) = self.sh.intervals else { return };
        let snap = Snapshot {
            worker: self.id,
            epoch_ns: self.epoch,
            index: self.iv.index,
            at_ns: self.now,
            last,
            kinds: copy(&self.tally.lat),
            errors: self.tally.counters.errors,
            miscompares: self.tally.counters.miscompares,
        };
        // A collector that has gone (it failed to write) loses the log, not the point.
        let _ = sink.tx.send(snap);
        self.iv.index = self.now / self.iv.every_ns;
        self.iv.next_ns = (self.iv.index + 1).saturating_mul(self.iv.every_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_sink_no_boundary_is_ever_due() {
        let c = IntervalClock::new(None);
        assert!(!c.due(u64::MAX - 1));
        let (tx, _rx) = std::sync::mpsc::channel();
        let c = IntervalClock::new(Some(&IntervalSink { every_ns: 1_000, tx }));
        assert!(!c.due(999) && c.due(1_000));
    }
}
