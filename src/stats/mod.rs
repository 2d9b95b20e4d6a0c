//! Latency histograms in nanoseconds, one per operation kind, owned by one worker and merged at
//! the end. Recording never allocates: the histograms are sized for 1 ns .. 1 hour up front.
//!
//! Two types: a worker records into a [`Recorder`] (plain counters in HdrHistogram's bucket
//! layout, a few instructions per value), which becomes [`Latencies`] (HdrHistogram's own
//! histograms, for merging, percentiles and logs) at the end of a point or an `--hdr-log`
//! interval. The conversion is exact: the same values recorded either way give equal histograms.

pub mod hdrlog;

use hdrhistogram::Histogram;
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
/// HdrHistogram's precision: 3 significant decimal digits.
const SIGFIG: u8 = 3;

/// Sub-buckets per power of two, as a bit count: HdrHistogram's, the power of two at or above
/// 2 * 10^SIGFIG (11 bits, 2048 sub-buckets, for 3 digits).
const SUB_BITS: u32 = (2 * 10u64.pow(SIGFIG as u32)).next_power_of_two().trailing_zeros();
const HALF_BITS: u32 = SUB_BITS - 1;
/// Counters a [`Recorder`] keeps per kind: one past the index of `MAX_NS`.
const SLOTS: usize = bucket_of(MAX_NS) + 1;

/// The counter of value `v` (1 ..= MAX_NS) in HdrHistogram's layout with unit 1 ns: values below
/// 2^SUB_BITS each have their own counter, and each further power of two has 2^HALF_BITS
/// counters, `v >> b` its sub-bucket.
#[inline]
const fn bucket_of(v: u64) -> usize {
    let b = (64 - (v | ((1 << SUB_BITS) - 1)).leading_zeros()) - SUB_BITS;
    ((b as usize) << HALF_BITS) + (v >> b) as usize
}

/// The lowest value counted by counter `i` (the inverse of `bucket_of` on its range).
const fn value_of(i: usize) -> u64 {
    let b = (i >> HALF_BITS).saturating_sub(1);
    ((i - (b << HALF_BITS)) as u64) << b
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, SIGFIG).expect("static histogram bounds are valid")
}

/// A worker's per-operation latency counters, one array per kind: what `Latencies::record`
/// does, without HdrHistogram's per-value bookkeeping (total, min, max, resizing checks), which
/// are worked out once when the counters become histograms. About 270 KiB per kind, allocated
/// zeroed (the pages the latencies never reach are never touched).
pub struct Recorder {
    counts: [Box<[u64]>; 5],
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        let mk = || vec![0u64; SLOTS].into_boxed_slice();
        Recorder { counts: [mk(), mk(), mk(), mk(), mk()] }
    }

    /// Record one latency; values beyond an hour are clamped, zero is counted as 1 ns.
    #[inline]
    pub fn record(&mut self, kind: Kind, ns: u64) {
        let i = bucket_of(ns.clamp(1, MAX_NS));
        if let Some(c) = self.counts[kind as usize].get_mut(i) {
            *c += 1;
        }
    }

    /// Add one kind's counts to `h` (a histogram with `new_histogram`'s bounds).
    fn add_to(&self, kind: Kind, h: &mut Histogram<u64>) {
        for (i, &n) in self.counts[kind as usize].iter().enumerate().filter(|(_, &n)| n > 0) {
            // Never fails: every counter's value is within the bounds (1 ..= MAX_NS).
            let _ = h.record_n(value_of(i), n);
        }
    }

    /// A copy of one kind's counters, `None` when it recorded nothing: what a worker hands to
    /// its interval collector (a copy of the array, not a histogram: the conversion, several
    /// times the cost, is the collector's, off the measuring thread).
    pub fn counts(&self, kind: Kind) -> Option<Counts> {
        let c = &self.counts[kind as usize];
        recorded(c).then(|| Counts(c.clone()))
    }

    /// The histogram of one kind, `None` when it recorded nothing.
    pub fn histogram(&self, kind: Kind) -> Option<Histogram<u64>> {
        recorded(&self.counts[kind as usize]).then(|| {
            let mut h = new_histogram();
            self.add_to(kind, &mut h);
            h
        })
    }

    /// All kinds as histograms.
    pub fn latencies(&self) -> Latencies {
        let mut l = Latencies::new();
        for k in Kind::ALL {
            self.add_to(k, &mut l.h[k as usize]);
        }
        l
    }
}

/// Whether any counter is set: OR-ed a block at a time, which the compiler vectorises (a
/// short-circuiting `any` over the ~34,000 counters of a kind that recorded nothing costs about
/// 15 times as many instructions, at every interval).
fn recorded(counts: &[u64]) -> bool {
    counts.chunks(256).any(|block| block.iter().fold(0, |acc, &n| acc | n) != 0)
}

/// One kind's counters, copied out of a [`Recorder`].
#[derive(Debug)]
pub struct Counts(Box<[u64]>);

impl Counts {
    /// The counters as a histogram (the same one [`Recorder::histogram`] gives).
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for (i, &n) in self.0.iter().enumerate().filter(|(_, &n)| n > 0) {
            // Never fails: every counter's value is within the bounds (1 ..= MAX_NS).
            let _ = h.record_n(value_of(i), n);
        }
        h
    }
}

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
        Latencies { h: [new_histogram(), new_histogram(), new_histogram(), new_histogram(), new_histogram()] }
    }

    /// Record one latency; values beyond an hour are clamped, zero is counted as 1 ns.
    #[inline]
    pub fn record(&mut self, kind: Kind, ns: u64) {
        self.h[kind as usize].saturating_record(ns.clamp(1, MAX_NS));
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
    pub fn summary(&self) -> BTreeMap<String, Summary> {
        Kind::ALL
            .iter()
            .filter(|k| self.count(**k) > 0)
            .map(|k| (k.name().to_string(), Summary::of(&self.h[*k as usize])))
            .collect()
    }
}

pub use crate::results::LatencySummary as Summary;

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

    /// Values at every bucket edge and a spread between: the recorder's histogram equals
    /// HdrHistogram's own, counters, totals, minimum and maximum alike.
    #[test]
    fn recorder_matches_hdrhistogram_exactly() {
        let mut values = vec![0u64, 1, 2, 2047, 2048, 2049, 4095, 4096, 4097, MAX_NS - 1, MAX_NS, MAX_NS + 1, u64::MAX];
        for b in 0..42 {
            let p = 1u64 << b;
            values.extend([p - 1, p, p + 1, p + p / 3]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 40 + 20));
        }
        let (mut r, mut l) = (Recorder::new(), Latencies::new());
        for &v in &values {
            r.record(Kind::Write, v);
            l.record(Kind::Write, v);
        }
        let got = r.histogram(Kind::Write).expect("recorded");
        assert!(got == *l.histogram(Kind::Write), "recorder and HdrHistogram differ");
        assert_eq!(got.len(), values.len() as u64);
        assert_eq!(r.latencies().summary()["write"], l.summary()["write"]);
        assert!(r.histogram(Kind::Read).is_none(), "an empty kind has no histogram");
        let copied = r.counts(Kind::Write).expect("recorded").histogram();
        assert!(copied == got, "the interval copy's histogram differs from the recorder's");
        assert!(r.counts(Kind::Read).is_none(), "an empty kind has no copy");
        let mut last = Recorder::new();
        last.record(Kind::Ats, MAX_NS);
        assert!(last.counts(Kind::Ats).is_some(), "a count in the last counter is seen");
    }

    #[test]
    fn bucket_layout_round_trips() {
        assert!(SLOTS <= new_histogram().distinct_values(), "the recorder's counters fit HdrHistogram's");
        for i in 1..SLOTS {
            assert_eq!(bucket_of(value_of(i)), i, "counter {i}");
            assert!(value_of(i) > value_of(i - 1));
        }
    }

    #[test]
    fn corrected_recording_fills_the_gap() {
        let mut a = Latencies::new();
        a.record_corrected(Kind::Acquire, 10_000, 1_000);
        assert_eq!(a.count(Kind::Acquire), 10);
    }
}
