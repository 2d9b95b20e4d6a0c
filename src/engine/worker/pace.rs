//! When a worker starts operations and when it stops: the open-loop schedule (`--rate`), the
//! exact operation count (`--ops`, within `--max-duration`), the time limit, and the bounded
//! drain after the stop.

use super::{Worker, STOP_POLL_NS};
use crate::backend::{Backend, IoError, Op};
use crate::engine::faults::{DeviceGone, EndedBy};
use crate::engine::{op_kind, PointSpec, StopAt};
use std::sync::atomic::Ordering;

// wide: the open-loop schedule and the stop, read together once per pass
pub(super) struct Pacing {
    /// Nanoseconds between starts in open loop; 0 in closed loop.
    interval_ns: u64,
    next_due: u64,
    /// Slots waiting for their paced start.
    pub idle: Vec<u32>,
    /// Operations started: with `--ops`, no more start once the target is reached, so that a
    /// point completes exactly its operations.
    pub started: u64,
    pub ops_target: u64,
    end_ns: u64,
    pub stopping: bool,
    /// When the worker stopped starting operations (ns since measuring began), why, and how
    /// long commands still out are waited for after that.
    pub stopped_at: u64,
    pub ended_by: EndedBy,
    grace_ns: u64,
    /// The timed slot's interval (0: none), when its next start is due, and whether it waits
    /// for it.
    timed_ns: u64,
    timed_due: u64,
    timed_waiting: bool,
}

impl Pacing {
    /// `timed_ns`: the interval of the worker's timed slot (a heartbeat), 0 if it has none.
    pub fn new(spec: &PointSpec, worker: u32, timed_ns: u64) -> Self {
        let threads = u64::from(spec.threads());
        let ops_target = match spec.stop {
            StopAt::Ops(n) => n / threads + u64::from(u64::from(worker) < n % threads),
            StopAt::Seconds(_) => u64::MAX,
        };
        let end_ns = match spec.stop {
            StopAt::Seconds(s) => (s * 1e9) as u64,
            StopAt::Ops(_) => (spec.max_duration_s * 1e9) as u64,
        };
        Pacing {
            interval_ns: spec.rate.map_or(0, |r| (threads as f64 * 1e9 / r).max(1.0) as u64),
            next_due: 0,
            idle: Vec::with_capacity(spec.qd as usize),
            started: 0,
            ops_target,
            end_ns,
            stopping: false,
            stopped_at: 0,
            ended_by: EndedBy::Duration,
            grace_ns: spec.grace_ns(),
            timed_ns,
            timed_due: 0,
            // The first start is due at once.
            timed_waiting: timed_ns > 0,
        }
    }

    /// The timed slot finished its operation: the next is due one interval after this one was.
    pub fn timed_done(&mut self) {
        self.timed_due += self.timed_ns;
        self.timed_waiting = true;
    }

    /// The time the timed slot's waiting start was due, once it is due at `now`.
    #[inline]
    pub fn timed_due(&mut self, now: u64) -> Option<u64> {
        if !self.timed_waiting || !self.may_start() || self.timed_due > now {
            return None;
        }
        self.timed_waiting = false;
        Some(self.timed_due)
    }

    /// Open loop?
    #[inline]
    pub fn paced(&self) -> bool {
        self.interval_ns > 0
    }

    /// Whether another operation may start.
    #[inline]
    pub fn may_start(&self) -> bool {
        !self.stopping && self.started < self.ops_target
    }

    /// The next idle slot whose start is due at `now`, with the time it was due.
    #[inline]
    pub fn next_due(&mut self, now: u64) -> Option<(u32, u64)> {
        if !self.may_start() || self.next_due > now {
            return None;
        }
        let s = self.idle.pop()?;
        let due = self.next_due;
        self.next_due += self.interval_ns;
        Some((s, due))
    }

    /// How long the worker may wait before a paced start is due (None: no paced start waits).
    #[inline]
    pub fn wake_in(&self, now: u64) -> Option<u64> {
        let paced = (!self.idle.is_empty() && !self.stopping && self.next_due > now).then(|| self.next_due - now);
        let timed = (self.timed_waiting && !self.stopping && self.timed_due > now).then(|| self.timed_due - now);
        match (paced, timed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the timed slot waits for its time.
    pub fn timed_waits(&self) -> bool {
        self.timed_waiting && !self.stopping
    }

    /// Why the point is over at `now` after `ops` operations, if it is: its operations are
    /// done, or its time is up (for an `--ops` point, `--max-duration`).
    #[inline]
    pub fn limit(&self, now: u64, ops: u64) -> Option<EndedBy> {
        if ops >= self.ops_target {
            Some(EndedBy::Ops)
        } else if now >= self.end_ns {
            Some(if self.ops_target == u64::MAX { EndedBy::Duration } else { EndedBy::MaxDuration })
        } else {
            None
        }
    }

    /// Stop starting operations at `now`, for `why`.
    pub fn stop(&mut self, now: u64, why: EndedBy) {
        self.stopping = true;
        self.stopped_at = now;
        self.ended_by = why;
    }

    /// When the drain gives up on the commands still out (ns since measuring began).
    #[inline]
    pub fn drain_until(&self) -> u64 {
        self.stopped_at.saturating_add(self.grace_ns)
    }
}

/// The end of a point as the worker lives it: why it stops, the drain, what it abandons.
impl<B: Backend> Worker<'_, B> {
    pub(super) fn check_stop(&mut self) {
        if self.pace.stopping {
            return;
        }
        let why = if self.sh.stop.load(Ordering::Relaxed) {
            Some(EndedBy::Interrupted)
        } else if self.sh.gone.load(Ordering::Relaxed) {
            Some(EndedBy::DeviceGone)
        } else if self.sh.abort.load(Ordering::Relaxed) {
            Some(EndedBy::Failed)
        } else {
            self.pace.limit(self.now, self.tally.counters.ops)
        };
        if let Some(why) = why {
            self.stop(why);
        }
    }

    /// Start no more operations (nor retries); the commands still out get the drain's grace.
    pub(super) fn stop(&mut self, why: EndedBy) {
        self.pace.stop(self.now, why);
        // Slots queued for a lock give up their attempt.
        for s in self.waits.drain() {
            self.end_attempt(s as usize);
        }
    }

    /// The longest the next wait for completions may last: until the drain gives up, or the
    /// next look at the stop flags.
    pub(super) fn poll_in(&self) -> u64 {
        if self.pace.stopping {
            self.pace.drain_until().saturating_sub(self.now).clamp(1, STOP_POLL_NS)
        } else {
            STOP_POLL_NS
        }
    }

    /// The drain's grace ran out: the commands still out are counted and left to the kernel
    /// with their buffers and user_data (see `io.rs`); the worker sends nothing more.
    pub(super) fn abandon(&mut self) {
        self.abandoned = u64::from(self.io.inflight);
        let out: Vec<Op> = self.io.still_out().collect();
        for op in out {
            self.tally.faults.abandoned(op_kind(op));
        }
        self.sh.abandoned.store(true, Ordering::Relaxed);
    }

    /// An error said the device is gone (`what`): the point ends at once, in every worker.
    /// Commands still out get the drain's grace as at any stop (on a removed device they
    /// fail at once).
    pub(super) fn device_gone(&mut self, e: IoError, what: &'static str) {
        if self.gone.is_none() {
            self.gone = Some(DeviceGone {
                error: what.into(),
                at_s: self.now as f64 / 1e9,
                worker: self.id,
                status: e.to_string(),
            });
        }
        self.sh.gone.store(true, Ordering::Relaxed);
        if !self.pace.stopping {
            self.stop(EndedBy::DeviceGone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    fn spec(threads: usize, stop: StopAt, rate: Option<f64>) -> PointSpec {
        PointSpec { cpus: vec![None; threads], stop, rate, verify: false, ..PointSpec::example(Workload::Read) }
    }

    #[test]
    fn ops_are_shared_out_exactly() {
        let s = spec(3, StopAt::Ops(10), None);
        let targets: Vec<u64> = (0..3).map(|w| Pacing::new(&s, w, 0).ops_target).collect();
        assert_eq!(targets, vec![4, 3, 3]);
    }

    #[test]
    fn the_schedule_releases_one_slot_per_interval() {
        // 2 workers at 2000/s in all: each starts one operation every millisecond.
        let s = spec(2, StopAt::Seconds(1.0), Some(2000.0));
        let mut p = Pacing::new(&s, 0, 0);
        assert!(p.paced());
        p.idle.extend([0, 1, 2]);
        assert_eq!(p.next_due(0), Some((2, 0)));
        assert_eq!(p.next_due(0), None, "the next start is due in 1 ms");
        assert_eq!(p.wake_in(0), Some(1_000_000));
        assert_eq!(p.next_due(2_500_000), Some((1, 1_000_000)), "late starts keep their due time");
        assert_eq!(p.next_due(2_500_000), Some((0, 2_000_000)));
        assert_eq!(p.next_due(2_500_000), None, "no idle slot left");
        assert_eq!(p.limit(1_000_000_000, 0), Some(EndedBy::Duration));
    }

    #[test]
    fn ops_points_end_at_their_ops_or_their_max_duration() {
        let s = PointSpec { max_duration_s: 2.0, ..spec(1, StopAt::Ops(10), None) };
        let mut p = Pacing::new(&s, 0, 0);
        assert_eq!(p.limit(1_000_000_000, 9), None);
        assert_eq!(p.limit(1_000_000_000, 10), Some(EndedBy::Ops));
        assert_eq!(p.limit(2_000_000_000, 3), Some(EndedBy::MaxDuration));
        p.stop(2_000_000_000, EndedBy::MaxDuration);
        assert_eq!(p.drain_until(), 3_000_000_000, "a grace of 1 s without --timeout");
    }

    #[test]
    fn a_timed_slot_keeps_its_interval() {
        let s = spec(1, StopAt::Seconds(1.0), None);
        let mut p = Pacing::new(&s, 0, 100);
        assert_eq!(p.timed_due(0), Some(0), "the first start is due at once");
        p.timed_done();
        assert_eq!(p.wake_in(30), Some(70));
        assert_eq!(p.timed_due(30), None);
        assert_eq!(p.timed_due(150), Some(100), "a late start keeps its due time");
        assert_eq!(p.timed_due(150), None, "once");
        p.timed_done();
        assert_eq!(p.timed_due(200), Some(200));
    }
}
