//! Latency histograms in nanoseconds, one per operation kind, owned by one worker and merged at
//! the end. Recording never allocates: the histograms are sized for 1 ns .. 1 hour up front.

pub mod hdrlog;

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Kinds of latency that are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// One read command.
    Read,
    /// One write command.
    Write,
    /// One device-side compare command.
    Compare,
    /// One compare-and-write attempt, from its start to its outcome (serialisation included).
    Ats,
    /// One lock acquisition: first attempt to success, retries included.
    Acquire,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Read, Kind::Write, Kind::Compare, Kind::Ats, Kind::Acquire];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Compare => "compare",
            Kind::Ats => "ats",
            Kind::Acquire => "acquire",
        }
    }
}

const MAX_NS: u64 = 3_600_000_000_000;

/// One histogram per kind.
#[derive(Clone)]
pub struct Latencies {
    h: [Histogram<u64>; 5],
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    pub fn new() -> Self {
        let mk = || Histogram::new_with_bounds(1, MAX_NS, 3).expect("static histogram bounds are valid");
        Latencies { h: [mk(), mk(), mk(), mk(), mk()] }
    }

    /// Record one latency; values beyond an hour are clamped, zero is counted as 1 ns.
    #[inline]
    pub fn record(&mut self, kind: Kind, ns: u64) {
        self.h[kind as usize].saturating_record(ns.max(1));
    }

    /// Record one latency with coordinated-omission correction: `interval_ns` is the expected
    /// interval between issues in open-loop mode.
    #[inline]
    pub fn record_corrected(&mut self, kind: Kind, ns: u64, interval_ns: u64) {
        let _ = self.h[kind as usize].record_correct(ns.clamp(1, MAX_NS), interval_ns);
    }

    pub fn count(&self, kind: Kind) -> u64 {
        self.h[kind as usize].len()
    }

    /// The histogram of one kind (for the interval logs of `--hdr-log`).
    pub fn histogram(&self, kind: Kind) -> &Histogram<u64> {
        &self.h[kind as usize]
    }

    pub fn merge(&mut self, other: &Latencies) {
        for (a, b) in self.h.iter_mut().zip(other.h.iter()) {
            a.add(b).expect("histograms share bounds");
        }
    }

    /// Summaries of the kinds that recorded anything.
    pub fn summary(&self) -> BTreeMap<&'static str, Summary> {
        Kind::ALL
            .iter()
            .filter(|k| self.count(**k) > 0)
            .map(|k| (k.name(), Summary::of(&self.h[*k as usize])))
            .collect()
    }
}

/// Latency percentiles of one kind, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl Summary {
    fn of(h: &Histogram<u64>) -> Summary {
        Summary {
            count: h.len(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_merge() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        for i in 1..=1000u64 {
            a.record(Kind::Read, i * 1000);
        }
        b.record(Kind::Read, 5_000_000);
        b.record(Kind::Ats, 0);
        a.merge(&b);
        let s = a.summary();
        let r = s["read"];
        assert_eq!(r.count, 1001);
        assert!((499_000..=502_000).contains(&r.p50), "{}", r.p50);
        assert!(r.max >= 4_990_000 && r.max <= 5_010_000, "{}", r.max);
        assert_eq!(s["ats"].count, 1);
        assert_eq!(s["ats"].max, 1, "zero is counted as 1 ns");
        assert!(!s.contains_key("write"), "empty kinds are left out");
    }

    #[test]
    fn corrected_recording_fills_the_gap() {
        let mut a = Latencies::new();
        a.record_corrected(Kind::Acquire, 10_000, 1_000);
        assert_eq!(a.count(Kind::Acquire), 10);
    }
}
