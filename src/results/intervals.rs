//! The time series inside every repeat: short intervals (default 100 ms, `--interval`) with,
//! per operation kind, the operations, errors, miscompares by class and the interval's latency
//! histogram (HdrHistogram V2, deflate-compressed, base64: the `HISTFAAA...` form of interval
//! logs).
//!
//! Bounded: a series holds at most [`MAX_INTERVALS`] intervals and, while it has more than
//! [`MIN_INTERVALS`], at most [`MAX_LAT_BYTES`] of encoded histograms; past either, neighbouring
//! intervals are merged in pairs (their counts added, their histograms added) and `width_ns`
//! doubles. The byte bound is what keeps hours flat: a merged histogram holds more distinct
//! values than either half, so a series of 512 wide intervals is larger than one of 512 narrow
//! ones, and it grew with every doubling of the width (2 MB of histograms after 12 minutes).
//!
//! Steady state (computed once the series is complete, [`Intervals::settle`]), on the interval
//! IOPS of the full-width intervals (the last, partial one is left out):
//! - `warmup`: the reference is the median IOPS of the second half of the series; warm-up
//!   ends at the first interval where the mean of it and the next two (a moving mean of 3) is
//!   within +-[`BAND_PCT`] % of the reference, and lasts at most a quarter of the series (with fewer
//!   than [`MIN_STEADY`] intervals there is no warm-up).
//! - `trend_pct`: over the intervals after the warm-up, the least-squares line of IOPS against
//!   time, its change from the first to the last interval in percent of the mean IOPS;
//!   `steady` is false when that change exceeds +-[`TREND_PCT`] %. With fewer than
//!   [`MIN_STEADY`] intervals after the warm-up the trend cannot be told: 0 and steady.
//!
//! An interval's IOPS counts the operations the point's `ops` counts: ATS attempts (`ats`)
//! where the point has them, else every command (`acquire` is never counted: it is a span of
//! attempts).

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most intervals a series keeps.
pub const MAX_INTERVALS: usize = 512;
/// The most bytes of `lat` strings a series keeps (all intervals and kinds together) ...
pub const MAX_LAT_BYTES: usize = 1 << 20;
/// ... unless it is down to this many intervals (histograms are bounded by their own range, so
/// this bounds the bytes too).
pub const MIN_INTERVALS: usize = 64;
/// Warm-up ends where the moving IOPS is within this band of the reference (percent).
pub const BAND_PCT: f64 = 10.0;
/// A fitted change beyond this (percent of the mean, start to end) is not steady.
pub const TREND_PCT: f64 = 10.0;
/// The fewest intervals the rules judge.
pub const MIN_STEADY: usize = 5;
/// The default interval width.
pub const DEFAULT_WIDTH_NS: u64 = 100_000_000;

/// A repeat's intervals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Intervals {
    /// The width of every interval but the last (which may be shorter), in ns.
    pub width_ns: u64,
    /// Leading intervals that are warm-up: drop them to see the steady state.
    pub warmup: u32,
    /// False when the IOPS after the warm-up trend from start to end beyond the limit.
    pub steady: bool,
    /// The fitted IOPS change from the first to the last steady interval, percent of the mean.
    pub trend_pct: f64,
    pub series: Vec<Interval>,
}

/// One interval: when it started and how long it lasted (ns since the repeat began
/// measuring), and what each operation kind did in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Interval {
    pub start_ns: u64,
    pub dur_ns: u64,
    /// By operation kind, as in `latency_ns`.
    pub kinds: BTreeMap<String, IntervalKind>,
}

/// What one operation kind did in one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IntervalKind {
    pub ops: u64,
    pub errors: u64,
    /// Miscompares by class (zeros omitted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub miscompares: BTreeMap<String, u64>,
    /// The interval's latency histogram (ns): HdrHistogram V2, deflate, base64; empty when no
    /// latency was recorded.
    pub lat: String,
}

/// A histogram in the `lat` form.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// The histogram of a `lat` string (None when empty or not a histogram).
pub fn decode(lat: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(lat).ok()?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

impl IntervalKind {
    fn absorb(&mut self, o: IntervalKind) {
        self.ops += o.ops;
        self.errors += o.errors;
        for (c, n) in o.miscompares {
            *self.miscompares.entry(c).or_default() += n;
        }
        self.lat = match (decode(&self.lat), decode(&o.lat)) {
            (Some(mut a), Some(b)) => {
                if a.add(&b).is_ok() {
                    encode(&a)
                } else {
                    std::mem::take(&mut self.lat)
                }
            }
            (None, Some(_)) => o.lat,
            _ => std::mem::take(&mut self.lat),
        };
    }
}

impl Interval {
    /// The operations an interval's IOPS counts (see the module doc).
    pub fn ops(&self) -> u64 {
        match self.kinds.get("ats") {
            Some(k) => k.ops,
            None => self.kinds.iter().filter(|(k, _)| k.as_str() != "acquire").map(|(_, v)| v.ops).sum(),
        }
    }

    pub fn iops(&self) -> f64 {
        if self.dur_ns == 0 {
            0.0
        } else {
            self.ops() as f64 * 1e9 / self.dur_ns as f64
        }
    }

    fn absorb(&mut self, o: Interval) {
        self.dur_ns = (o.start_ns + o.dur_ns).saturating_sub(self.start_ns);
        for (k, v) in o.kinds {
            self.kinds.entry(k).or_default().absorb(v);
        }
    }
}

impl Intervals {
    pub fn new(width_ns: u64) -> Intervals {
        Intervals { width_ns: width_ns.max(1), steady: true, ..Default::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.width_ns == 0
    }

    /// Append the next interval (added to the last one while it falls in the same interval of
    /// the current width); past [`MAX_INTERVALS`] or [`MAX_LAT_BYTES`], merge neighbours and
    /// double the width.
    pub fn push(&mut self, iv: Interval) {
        let w = self.width_ns.max(1);
        match self.series.last_mut() {
            Some(last) if last.start_ns / w == iv.start_ns / w => last.absorb(iv),
            _ => self.series.push(Interval { start_ns: iv.start_ns / w * w, ..iv }),
        }
        while self.series.len() > MAX_INTERVALS
            || (self.series.len() > MIN_INTERVALS && self.lat_bytes() > MAX_LAT_BYTES)
        {
            self.halve();
        }
    }

    /// The bytes of every interval's `lat` strings.
    pub fn lat_bytes(&self) -> usize {
        self.series.iter().flat_map(|i| i.kinds.values()).map(|k| k.lat.len()).sum()
    }

    /// Merge intervals 2k and 2k+1 (aligned to the doubled width).
    fn halve(&mut self) {
        let width = self.width_ns.saturating_mul(2);
        let old = std::mem::take(&mut self.series);
        for iv in old {
            let slot = iv.start_ns / width;
            match self.series.last_mut() {
                Some(last) if last.start_ns / width == slot => last.absorb(iv),
                _ => self.series.push(Interval { start_ns: slot * width, ..iv }),
            }
        }
        // The first interval of a pair starts on the doubled grid: its duration is kept as
        // measured (the pair's end minus its start).
        self.width_ns = width;
    }

    /// The IOPS of every interval.
    pub fn iops(&self) -> Vec<f64> {
        self.series.iter().map(Interval::iops).collect()
    }

    /// The full-width intervals' IOPS (a last, shorter interval left out).
    fn full_iops(&self) -> Vec<f64> {
        let mut v = self.iops();
        if self.series.last().is_some_and(|l| l.dur_ns < self.width_ns * 9 / 10) {
            v.pop();
        }
        v
    }

    /// Mark the warm-up and the trend (the rules in the module doc).
    pub fn settle(&mut self) {
        let (warmup, trend) = steady_state(&self.full_iops());
        self.warmup = warmup as u32;
        self.trend_pct = (trend * 100.0).round() / 100.0;
        self.steady = trend.abs() <= TREND_PCT;
    }

    /// The IOPS of the full-width intervals after the warm-up.
    pub fn steady_iops(&self) -> Vec<f64> {
        let v = self.full_iops();
        v.get(self.warmup as usize..).unwrap_or(&[]).to_vec()
    }

    /// A 95 % confidence interval of the steady IOPS (see [`iops_interval`]).
    pub fn iops_interval(&self) -> Option<(f64, f64)> {
        iops_interval(&self.steady_iops())
    }
}

/// A 95 % confidence interval of a point's IOPS from the intervals of all its repeats: each
/// repeat's steady intervals are cut into batches as in [`iops_interval`] (each repeat into
/// up to [`BATCHES`] / repeats, at least 2 intervals per batch), and Student's t interval is
/// taken over all the batch means together, so that the repeats' differences widen it. None
/// with fewer than 3 batches in all.
pub fn point_iops_interval<'a>(repeats: impl Iterator<Item = &'a Intervals>) -> Option<(f64, f64)> {
    let series: Vec<Vec<f64>> = repeats.map(Intervals::steady_iops).collect();
    let per = (BATCHES / series.len().max(1)).max(1);
    let mut means = Vec::new();
    for s in &series {
        let batches = (s.len() / 2).min(per);
        if batches == 0 {
            continue;
        }
        let len = s.len() / batches;
        means.extend((0..batches).map(|b| s[b * len..(b + 1) * len].iter().sum::<f64>() / len as f64));
    }
    t_interval(&means)
}

/// Student's t 95 % interval of the mean of `x` (None below 3 values).
fn t_interval(x: &[f64]) -> Option<(f64, f64)> {
    if x.len() < 3 {
        return None;
    }
    let k = x.len() as f64;
    let mean = x.iter().sum::<f64>() / k;
    let var = x.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k - 1.0);
    let half = t95(x.len() - 1) * (var / k).sqrt();
    Some((mean - half, mean + half))
}

/// Student's t, two-sided 95 %, for `df` degrees of freedom (exact to 3 decimals up to 30,
/// the normal quantile with a first-order correction beyond).
fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T[df - 1],
        _ => 1.96 + 2.4 / df as f64,
    }
}

/// (warm-up intervals, trend in percent) of a series of interval IOPS.
pub fn steady_state(iops: &[f64]) -> (usize, f64) {
    let n = iops.len();
    if n < MIN_STEADY {
        return (0, 0.0);
    }
    let reference = median(&iops[n / 2..]);
    let within = |i: usize| {
        let w = &iops[i..(i + 3).min(n)];
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        (mean - reference).abs() <= reference.abs() * BAND_PCT / 100.0
    };
    let warmup = (0..n / 4).find(|&i| within(i)).unwrap_or(n / 4);
    let rest = &iops[warmup..];
    if rest.len() < MIN_STEADY {
        return (warmup, 0.0);
    }
    (warmup, trend_pct(rest))
}

/// The least-squares line through (i, y_i): its change from the first point to the last, in
/// percent of the mean of y.
pub fn trend_pct(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = y.iter().sum::<f64>() / n;
    if mean_y <= 0.0 {
        return 0.0;
    }
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (v - mean_y);
        sxx += dx * dx;
    }
    if sxx == 0.0 {
        return 0.0;
    }
    sxy / sxx * (n - 1.0) / mean_y * 100.0
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.is_empty() {
        0.0
    } else if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// The batches a steady series is cut into for [`iops_interval`].
pub const BATCHES: usize = 10;

/// A 95 % confidence interval of the mean IOPS of a steady series, by batch means: the series
/// is cut into up to [`BATCHES`] consecutive batches of equal length (at least 2 intervals
/// each, so neighbouring intervals' correlation stays mostly inside a batch), and Student's t
/// interval is taken over the batch means. None with fewer than 3 batches.
pub fn iops_interval(iops: &[f64]) -> Option<(f64, f64)> {
    let batches = (iops.len() / 2).min(BATCHES);
    if batches < 3 {
        return None;
    }
    let len = iops.len() / batches;
    let means: Vec<f64> = (0..batches).map(|b| iops[b * len..(b + 1) * len].iter().sum::<f64>() / len as f64).collect();
    t_interval(&means)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(iops: &[f64]) -> Intervals {
        let mut s = Intervals::new(100_000_000);
        for (i, &x) in iops.iter().enumerate() {
            let mut kinds = BTreeMap::new();
            kinds.insert("read".to_string(), IntervalKind { ops: (x / 10.0) as u64, ..Default::default() });
            s.push(Interval { start_ns: i as u64 * 100_000_000, dur_ns: 100_000_000, kinds });
        }
        s
    }

    #[test]
    fn a_flat_series_has_no_warmup_and_is_steady() {
        let mut s = series(&[1000.0; 30]);
        s.settle();
        assert_eq!((s.warmup, s.steady, s.trend_pct), (0, true, 0.0));
        let (lo, hi) = s.iops_interval().unwrap();
        assert!((lo - 1000.0).abs() < 1e-9 && (hi - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn a_slow_start_is_warmup() {
        let mut v = vec![200.0, 400.0, 600.0, 800.0];
        v.extend([1000.0, 1010.0, 990.0].iter().cycle().take(26));
        let mut s = series(&v);
        s.settle();
        assert!((2..=4).contains(&s.warmup), "warm-up {}", s.warmup);
        assert!(s.steady, "{}", s.trend_pct);
    }

    #[test]
    fn a_decline_is_not_steady() {
        let v: Vec<f64> = (0..40).map(|i| 2000.0 - 25.0 * i as f64).collect();
        let mut s = series(&v);
        s.settle();
        assert!(!s.steady);
        assert!(s.trend_pct < -30.0, "{}", s.trend_pct);
        // A noisy but flat series stays steady.
        let v: Vec<f64> = (0..40).map(|i| if i % 2 == 0 { 900.0 } else { 1100.0 }).collect();
        let mut s = series(&v);
        s.settle();
        assert!(s.steady && s.trend_pct.abs() < 5.0, "{}", s.trend_pct);
    }

    #[test]
    fn a_points_interval_pools_its_repeats_batches() {
        let a = series(&[1000.0, 1100.0].repeat(10));
        let b = series(&[1500.0, 1600.0].repeat(10));
        let (lo, hi) = point_iops_interval([&a].into_iter()).unwrap();
        assert!(lo <= 1050.0 && hi >= 1050.0 && hi - lo < 1.0, "batches of 2 average out: {lo} {hi}");
        let (lo, hi) = point_iops_interval([&a, &b].into_iter()).unwrap();
        assert!(lo < 1300.0 && hi > 1300.0 && hi - lo > 300.0, "repeats that differ widen it: {lo} {hi}");
        assert_eq!(point_iops_interval([&series(&[1.0; 4])].into_iter()), None);
    }

    #[test]
    fn too_few_intervals_are_not_judged() {
        assert_eq!(steady_state(&[1.0, 100.0, 1000.0]), (0, 0.0));
        assert_eq!(iops_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]), None);
    }

    #[test]
    fn the_series_is_capped_by_merging_neighbours() {
        let s = series(&vec![1000.0; MAX_INTERVALS * 3]);
        assert!(s.series.len() <= MAX_INTERVALS && s.series.len() > MAX_INTERVALS / 2);
        assert_eq!(s.width_ns, 400_000_000);
        let ops: u64 = s.series.iter().map(Interval::ops).sum();
        assert_eq!(ops, 100 * MAX_INTERVALS as u64 * 3, "no operation lost");
        assert!(s.series.iter().all(|i| i.dur_ns == 400_000_000 && i.start_ns % 400_000_000 == 0));
        assert!(s.iops().iter().all(|&x| (x - 1000.0).abs() < 1e-9));
    }

    /// Intervals whose histograms are wide (thousands of distinct values): the series' bytes
    /// stay under the bound and every operation is kept (without the byte bound they pass it at
    /// the 274th interval).
    #[test]
    fn the_series_is_capped_in_bytes_too() {
        let mut s = Intervals::new(100_000_000);
        let mut x = 12345u64;
        let mut total = 0;
        for i in 0..400u64 {
            let mut kinds = BTreeMap::new();
            for kind in ["read", "write", "ats"] {
                let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
                for _ in 0..2_000 {
                    // A long-tailed spread of latencies, 20 us to ~20 ms.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    h.record(20_000 + (x % 1000).pow(3) / 50).unwrap();
                }
                total += h.len();
                kinds.insert(kind.to_string(), IntervalKind { ops: h.len(), lat: encode(&h), ..Default::default() });
            }
            s.push(Interval { start_ns: i * 100_000_000, dur_ns: 100_000_000, kinds });
            assert!(s.lat_bytes() <= MAX_LAT_BYTES || s.series.len() <= MIN_INTERVALS, "at {i}: {}", s.lat_bytes());
        }
        assert!(s.series.len() >= MIN_INTERVALS, "{}", s.series.len());
        assert!(s.series.len() < MAX_INTERVALS, "the bytes bound it here, not the count: {}", s.series.len());
        let kept: u64 = s.series.iter().flat_map(|i| i.kinds.values()).map(|k| decode(&k.lat).unwrap().len()).sum();
        assert_eq!(kept, total, "no latency lost");
    }

    #[test]
    fn histograms_round_trip_and_merge() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let lat = encode(&h);
        assert!(lat.starts_with("HISTFAAA"), "{lat}");
        assert_eq!(decode(&lat).unwrap(), h);
        let mut a = IntervalKind { ops: 1000, lat: lat.clone(), ..Default::default() };
        a.miscompares.insert("stale".into(), 2);
        let mut b = IntervalKind { ops: 1000, errors: 1, lat, ..Default::default() };
        b.miscompares.insert("stale".into(), 1);
        a.absorb(b);
        assert_eq!((a.ops, a.errors, a.miscompares["stale"]), (2000, 1, 3));
        assert_eq!(decode(&a.lat).unwrap().len(), 2000);
    }
}
