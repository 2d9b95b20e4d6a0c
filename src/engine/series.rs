//! The intervals of one measurement, assembled from the workers' snapshots by a collector
//! thread (never by a worker): the repeat's [`Intervals`] in the results, and the lines of
//! `--hdr-log` when one is written.
//!
//! A worker sends its cumulative histograms and event counters at each boundary
//! (`worker::interval`); the collector subtracts that worker's previous snapshot to get what it
//! did in the interval, adds the workers together per operation kind, and completes interval
//! `k` once every worker has reported `k` or a later one (or finished). A worker that missed a
//! boundary (one long wait) reports its next one with the figures of both: they go to the later
//! interval. What is kept is one snapshot per worker and the intervals not yet complete, plus
//! the bounded series itself.

use super::worker::Snapshot;
use crate::results::intervals::{encode, Interval, IntervalKind, Intervals};
use crate::stats::Kind;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::io;

type Kinds = Vec<(Kind, Histogram<u64>)>;

/// The miscompare classes of a worker's counters, by index.
const CLASSES: [&str; 6] = ["contention", "own_write", "corrupt", "stale", "false", "split"];

/// One complete interval of all workers.
#[derive(Debug, Default)]
pub struct Completed {
    /// The measurement's epoch (CLOCK_MONOTONIC ns): the first snapshot's.
    pub epoch_ns: u64,
    /// Start and length, ns after the epoch.
    pub start_ns: u64,
    pub dur_ns: u64,
    /// By kind, in `Kind` order.
    pub kinds: Kinds,
    pub errors: u64,
    pub miscompares: [u64; 6],
}

impl Completed {
    /// The interval as the results keep it; errors and miscompares go to `primary`, the kind
    /// that counts the point's operations (the workers count them per event, not per kind).
    fn interval(&self, primary: Kind) -> Interval {
        let mut kinds: BTreeMap<String, IntervalKind> = self
            .kinds
            .iter()
            .map(|(k, h)| (k.name().to_string(), IntervalKind { ops: h.len(), lat: encode(h), ..Default::default() }))
            .collect();
        if self.errors > 0 || self.miscompares.iter().any(|&n| n > 0) {
            let e = kinds.entry(primary.name().to_string()).or_default();
            e.errors = self.errors;
            e.miscompares =
                CLASSES.iter().zip(self.miscompares).filter(|(_, n)| *n > 0).map(|(c, n)| (c.to_string(), n)).collect();
        }
        Interval { start_ns: self.start_ns, dur_ns: self.dur_ns, kinds }
    }
}

#[derive(Default)]
struct Pending {
    /// The latest snapshot time in it, ns after the epoch.
    end_ns: u64,
    kinds: Kinds,
    errors: u64,
    miscompares: [u64; 6],
}

/// The previous snapshot of one worker.
#[derive(Default)]
struct Prev {
    kinds: Kinds,
    errors: u64,
    miscompares: [u64; 6],
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

/// Assembles one measurement's intervals.
pub struct Assembler {
    every_ns: u64,
    epoch_ns: Option<u64>,
    prev: Vec<Prev>,
    /// By worker: the latest interval reported (u64::MAX once finished).
    done: Vec<Option<u64>>,
    pending: BTreeMap<u64, Pending>,
}

impl Assembler {
    pub fn new(every_ns: u64, workers: usize) -> Self {
        Assembler {
            every_ns: every_ns.max(1),
            epoch_ns: None,
            prev: (0..workers).map(|_| Prev::default()).collect(),
            done: vec![None; workers],
            pending: BTreeMap::new(),
        }
    }

    /// Take one worker's snapshot; give the intervals it completes, oldest first.
    pub fn add(&mut self, s: Snapshot) -> io::Result<Vec<Completed>> {
        let w = s.worker as usize;
        if w >= self.prev.len() {
            return Err(bad(format!("a snapshot from worker {w} of {}", self.prev.len())));
        }
        self.epoch_ns.get_or_insert(s.epoch_ns);
        let pending = self.pending.entry(s.index).or_default();
        pending.end_ns = pending.end_ns.max(s.at_ns);
        let prev = &mut self.prev[w];
        pending.errors += s.errors - prev.errors.min(s.errors);
        for (i, (p, n)) in pending.miscompares.iter_mut().zip(s.miscompares).enumerate() {
            *p += n - prev.miscompares[i].min(n);
        }
        (prev.errors, prev.miscompares) = (s.errors, s.miscompares);
        for (kind, counts) in s.kinds {
            let cur = counts.histogram();
            let into = slot(&mut pending.kinds, kind, &cur);
            into.add(&cur).map_err(bad)?;
            if let Some((_, before)) = prev.kinds.iter().find(|(k, _)| *k == kind) {
                into.subtract(before).map_err(bad)?;
            }
            match prev.kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some(p) => p.1 = cur,
                None => prev.kinds.push((kind, cur)),
            }
        }
        self.done[w] = Some(if s.last { u64::MAX } else { s.index });
        if !self.done.iter().all(Option::is_some) {
            return Ok(Vec::new());
        }
        let complete = self.done.iter().map(|d| d.unwrap_or(0)).min().unwrap_or(0);
        Ok(self.take_through(complete))
    }

    /// The pending intervals up to `last` (inclusive), oldest first.
    fn take_through(&mut self, last: u64) -> Vec<Completed> {
        let mut out = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > last {
                break;
            }
            let (k, p) = entry.remove_entry();
            let start_ns = k.saturating_mul(self.every_ns);
            let mut kinds = p.kinds;
            kinds.sort_by_key(|(k, _)| *k);
            out.push(Completed {
                epoch_ns: self.epoch_ns.unwrap_or(0),
                start_ns,
                dur_ns: p.end_ns.saturating_sub(start_ns).clamp(1, self.every_ns),
                kinds,
                errors: p.errors,
                miscompares: p.miscompares,
            });
        }
        out
    }

    /// What is left (workers that stopped without a last snapshot included).
    pub fn finish(mut self) -> Vec<Completed> {
        self.take_through(u64::MAX)
    }
}

/// Where completed intervals go besides the results: the `--hdr-log` writer.
pub type IntervalLog<'a> = &'a mut (dyn FnMut(&Completed) -> io::Result<()> + Send);

/// The `--hdr-log` writer and its own interval (`--hdr-interval`).
pub struct LogSink<'a> {
    pub every_ns: u64,
    pub log: IntervalLog<'a>,
}

/// The collector's loop: every snapshot (taken each `every_ns`) of one measurement into its
/// [`Intervals`] of `width_ns` (settled; finer snapshots are added up into them), and each
/// completed interval to `log`. A failed log write is returned after the loop; the loop drains
/// the channel to its end whatever happens, so that workers never wait.
pub fn collect(
    rx: std::sync::mpsc::Receiver<Snapshot>,
    (every_ns, width_ns): (u64, u64),
    workers: usize,
    primary: Kind,
    mut log: Option<IntervalLog<'_>>,
) -> (Intervals, io::Result<()>) {
    let mut asm = Assembler::new(every_ns, workers);
    let mut series = Intervals::new(width_ns);
    let mut failed: io::Result<()> = Ok(());
    let mut take = |done: Vec<Completed>, failed: &mut io::Result<()>| {
        for c in done {
            if let (Some(log), true) = (log.as_mut(), failed.is_ok()) {
                *failed = log(&c);
            }
            series.push(c.interval(primary));
        }
    };
    for snap in rx {
        match asm.add(snap) {
            Ok(done) => take(done, &mut failed),
            Err(e) if failed.is_ok() => failed = Err(e),
            Err(_) => {}
        }
    }
    take(asm.finish(), &mut failed);
    series.settle();
    (series, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;

    const MS: u64 = 1_000_000;

    /// Worker `w`'s cumulative counters at `at_ns`, sent for interval `index`: the clock is the
    /// test's, not the machine's.
    fn snap(worker: u32, index: u64, at_ns: u64, last: bool, lat: &Recorder) -> Snapshot {
        let kinds = Kind::ALL.iter().filter_map(|&k| Some((k, lat.counts(k)?))).collect();
        Snapshot { worker, epoch_ns: 5 * MS, index, at_ns, last, kinds, errors: 0, miscompares: [0; 6] }
    }

    fn ops(c: &Completed) -> u64 {
        c.kinds.iter().map(|(_, h)| h.len()).sum()
    }

    /// A measurement longer than an interval is split into one interval per boundary, whose
    /// counts add up to the workers' totals; a worker that waited past a boundary gives its
    /// figures of both intervals to the later one.
    #[test]
    fn a_long_measurement_is_split_and_its_counts_add_up() {
        let (mut a, mut b) = (Recorder::default(), Recorder::default());
        let mut asm = Assembler::new(10 * MS, 2);
        let mut done = Vec::new();
        for _ in 0..3 {
            a.record(Kind::Ats, 1_000);
        }
        b.record(Kind::Ats, 2_000);
        done.extend(asm.add(snap(0, 0, 10 * MS + 100, false, &a)).unwrap());
        assert!(done.is_empty(), "interval 0 waits for worker 1");
        done.extend(asm.add(snap(1, 0, 10 * MS + 300, false, &b)).unwrap());
        assert_eq!(done.iter().map(|c| (c.start_ns, ops(c))).collect::<Vec<_>>(), [(0, 4)]);
        a.record(Kind::Ats, 1_000);
        a.record(Kind::Read, 500);
        done.extend(asm.add(snap(0, 1, 20 * MS + 200, false, &a)).unwrap());
        // Worker 1 sleeps through the boundary at 20 ms: its next figures are interval 2's.
        b.record(Kind::Ats, 2_000);
        b.record(Kind::Ats, 2_000);
        a.record(Kind::Ats, 1_000);
        done.extend(asm.add(snap(0, 2, 25 * MS, true, &a)).unwrap());
        assert_eq!(done.len(), 1, "interval 1 waits for worker 1's next snapshot");
        done.extend(asm.add(snap(1, 2, 28 * MS, true, &b)).unwrap());
        done.extend(asm.finish());
        let got: Vec<(u64, u64, u64)> = done.iter().map(|c| (c.start_ns, c.dur_ns, ops(c))).collect();
        assert_eq!(got, [(0, 10 * MS, 4), (10 * MS, 10 * MS, 2), (20 * MS, 8 * MS, 3)]);
        assert!(done.iter().all(|c| c.epoch_ns == 5 * MS && c.dur_ns <= 10 * MS));
        let total: u64 = done.iter().map(ops).sum();
        assert_eq!(total, 9, "every operation in exactly one interval");
        let kinds: Vec<Vec<Kind>> = done.iter().map(|c| c.kinds.iter().map(|(k, _)| *k).collect()).collect();
        assert_eq!(kinds[1], [Kind::Read, Kind::Ats], "in Kind order");
    }
}
