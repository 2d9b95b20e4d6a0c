//! The statistics behind `compare`'s verdicts, as pure functions over a plain input.
//!
//! A side of a comparison (one point of one run) is a [`Sample`]: its repeats, each a time
//! series of [`Obs`] intervals (duration, operations, miscompares by class, latency). A figure
//! ([`Figure`]: IOPS, a latency quantile of one kind, a miscompare rate of one class) is a
//! statistic of any multiset of intervals: operations over seconds, the quantile of the merged
//! histograms, events over operations.
//!
//! Two interval estimates of the effect (see `decide` for what is done with them):
//! - [`bootstrap`]: a hierarchical bootstrap (Kalibera & Jones): resample the repeats with
//!   replacement, then inside each chosen repeat resample blocks of consecutive intervals
//!   (a moving-block bootstrap whose block length follows the intervals' autocorrelation,
//!   [`block_length`]), pool the chosen intervals and compute the figure; a percentile interval
//!   of the effect over the resamples. Seeded ([`Rng`]): the same files give the same interval.
//! - [`random_effects`]: a t interval of the difference of the per-repeat means (of the log
//!   for ratios) using the between-repeat variance; with one repeat per side that variance is
//!   not measured and comes from the stated run-to-run noise instead (a normal interval).
//!
//! Plus the distributions they need, written out here (no statistics crate): the normal and
//! Student t quantiles, the regularised incomplete beta function, and the Clopper-Pearson
//! bound of a proportion. Reference values computed with scipy pin them in the tests
//! (`tests/fixtures/compare/inference_reference.py`).

mod pool;

pub use pool::{recorded, Pool, Recorded};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The seeded generator (SplitMix64) the workloads use: the same files give the same resamples.
pub use crate::workload::Rng;

/// The latency of one kind in one interval: a row of the side's pool of that kind's
/// histograms, or (results without histograms) the quantiles the file kept.
#[derive(Debug, Clone)]
pub enum Latency {
    /// Row `row` of `pool`: the interval's histogram, decoded once and kept on the value axis
    /// the side's intervals share, so that a resample's quantile is exact and cheap.
    Pooled { pool: Arc<Pool>, row: usize },
    /// Operations and their p50, p99 and p99.9 in ns.
    Quantiles { count: u64, p50: f64, p99: f64, p999: f64 },
}

impl Latency {
    /// Histograms as latencies sharing one pool, in order.
    pub fn pooled(rows: &[Recorded]) -> Vec<Latency> {
        let pool = Arc::new(Pool::new(rows));
        (0..rows.len()).map(|row| Latency::Pooled { pool: pool.clone(), row }).collect()
    }

    fn count(&self) -> u64 {
        match self {
            Latency::Pooled { pool, row } => pool.count(*row),
            Latency::Quantiles { count, .. } => *count,
        }
    }
}

/// One interval of one repeat.
#[derive(Debug, Clone, Default)]
pub struct Obs {
    pub dur_s: f64,
    pub ops: u64,
    /// Miscompares by class, and any other event counted out of `ops` (`violations`...).
    pub events: BTreeMap<String, u64>,
    /// By operation kind.
    pub latency: BTreeMap<String, Latency>,
}

/// One side of a comparison: its repeats, each a time series of intervals.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub repeats: Vec<Vec<Obs>>,
}

/// A figure: a statistic of a multiset of intervals.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Operations per second.
    Iops,
    /// A latency quantile (0.5, 0.99, 0.999) of one operation kind, in ns.
    Quantile { kind: String, q: f64 },
    /// Events of one class per operation.
    Rate { class: String },
}

impl Figure {
    /// Ratios (IOPS, latency) are compared on the log scale; rates by their difference.
    pub fn is_ratio(&self) -> bool {
        !matches!(self, Figure::Rate { .. })
    }

    /// The figure over `obs`; None when it is not defined there (no time, no operations of the
    /// kind).
    pub fn of<'a>(&self, obs: impl Iterator<Item = &'a Obs> + Clone) -> Option<f64> {
        match self {
            Figure::Iops => {
                let (ops, s) = obs.fold((0u64, 0.0), |(o, s), x| (o + x.ops, s + x.dur_s));
                (s > 0.0).then(|| ops as f64 / s)
            }
            Figure::Rate { class } => {
                let (ev, ops) =
                    obs.fold((0u64, 0u64), |(e, o), x| (e + x.events.get(class).copied().unwrap_or(0), o + x.ops));
                (ops > 0).then(|| ev as f64 / ops as f64)
            }
            Figure::Quantile { kind, q } => quantile(obs.filter_map(|x| x.latency.get(kind)), *q),
        }
    }
}

/// The quantile `q` of the merged latencies. Histograms are merged exactly (HdrHistogram's
/// quantile of their sum, see `pool`); quantiles kept without histograms are averaged weighted
/// by their operations (an approximation of the merged quantile, exact when the intervals
/// agree). Where both are given, the histograms decide.
fn quantile<'a>(lat: impl Iterator<Item = &'a Latency>, q: f64) -> Option<f64> {
    let mut drawn: Vec<(&Arc<Pool>, usize)> = Vec::new();
    let (mut weighted, mut count) = (0.0, 0u64);
    for l in lat {
        match l {
            Latency::Pooled { pool, row } => drawn.push((pool, *row)),
            Latency::Quantiles { count: n, p50, p99, p999 } => {
                let v = if q <= 0.5 {
                    *p50
                } else if q <= 0.99 {
                    *p99
                } else {
                    *p999
                };
                weighted += v * *n as f64;
                count += n;
            }
        }
    }
    if let Some(&(pool, _)) = drawn.first() {
        if drawn.iter().all(|(p, _)| Arc::ptr_eq(p, pool)) {
            // The rows drawn and how often (a resample draws as many intervals as the pool has).
            let mut times = vec![0u64; pool.len()];
            for &(_, r) in &drawn {
                times[r] += 1;
            }
            return pool.quantile(&times, q).map(|v| v as f64);
        }
        // Rows of several pools (not what a side builds): one pool of the rows drawn.
        let rows: Vec<Recorded> = drawn.iter().map(|(p, r)| p.recorded(*r)).collect();
        return Pool::new(&rows).quantile(&vec![1; rows.len()], q).map(|v| v as f64);
    }
    (count > 0).then(|| weighted / count as f64)
}

/// An effect: how much worse the candidate is, positive when worse. Ratios: the log of
/// candidate/base (negated for IOPS, where higher is better); rates: candidate - base.
pub fn effect(figure: &Figure, base: f64, cand: f64) -> Option<f64> {
    match figure {
        Figure::Iops => (base > 0.0 && cand > 0.0).then(|| (base / cand).ln()),
        Figure::Quantile { .. } => (base > 0.0 && cand > 0.0).then(|| (cand / base).ln()),
        Figure::Rate { .. } => Some(cand - base),
    }
}

/// The block length of a moving-block bootstrap over a series: the first lag at which the
/// sample autocorrelation falls inside +-2/sqrt(n) (the series has decorrelated), at least 1
/// and at most n/3 (so a repeat still has three blocks to draw from).
pub fn block_length(series: &[f64]) -> usize {
    let n = series.len();
    if n < 6 {
        return 1;
    }
    let mean = series.iter().sum::<f64>() / n as f64;
    let var: f64 = series.iter().map(|x| (x - mean).powi(2)).sum();
    if var <= 0.0 {
        return 1;
    }
    let bound = 2.0 / (n as f64).sqrt();
    let max = (n / 3).max(1);
    for lag in 1..=max {
        let acf: f64 = (lag..n).map(|i| (series[i] - mean) * (series[i - lag] - mean)).sum::<f64>() / var;
        if acf.abs() < bound {
            return lag;
        }
    }
    max
}

/// One resample of a side: repeats drawn with replacement, and in each drawn repeat blocks of
/// `blocks[r]` consecutive intervals drawn until the repeat's length is filled.
fn resample<'a>(side: &'a Sample, blocks: &[usize], rng: &mut Rng, out: &mut Vec<&'a Obs>) {
    out.clear();
    let n = side.repeats.len();
    for _ in 0..n {
        let r = rng.below(n as u64) as usize;
        let series = &side.repeats[r];
        let len = series.len();
        let l = blocks[r].clamp(1, len.max(1));
        let mut taken = 0;
        while taken < len {
            let start = rng.below((len - l + 1) as u64) as usize;
            let k = l.min(len - taken);
            out.extend(&series[start..start + k]);
            taken += k;
        }
    }
}

/// The block lengths of a side's repeats, from each repeat's IOPS series.
fn side_blocks(side: &Sample) -> Vec<usize> {
    side.repeats
        .iter()
        .map(|s| {
            block_length(
                &s.iter().map(|o| if o.dur_s > 0.0 { o.ops as f64 / o.dur_s } else { 0.0 }).collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// How many resamples for an interval of two-sided level `1 - a`: enough that each tail
/// holds about 20 of them (and at least 2000).
pub fn resamples_for(a: f64) -> usize {
    ((40.0 / a).ceil() as usize).clamp(2000, 40_000)
}

/// The hierarchical bootstrap percentile interval of the effect at two-sided level `1 - a`;
/// None when a side has no repeats or the figure is undefined in too many resamples.
pub fn bootstrap(figure: &Figure, base: &Sample, cand: &Sample, a: f64, seed: u64) -> Option<(f64, f64)> {
    if base.repeats.is_empty() || cand.repeats.is_empty() {
        return None;
    }
    let (bb, bc) = (side_blocks(base), side_blocks(cand));
    let mut rng = Rng::new(seed);
    let n = resamples_for(a);
    let mut effects = Vec::with_capacity(n);
    let (mut xb, mut xc) = (Vec::new(), Vec::new());
    for _ in 0..n {
        resample(base, &bb, &mut rng, &mut xb);
        resample(cand, &bc, &mut rng, &mut xc);
        let b = figure.of(xb.iter().copied());
        let c = figure.of(xc.iter().copied());
        if let Some(e) = b.zip(c).and_then(|(b, c)| effect(figure, b, c)) {
            effects.push(e);
        }
    }
    if effects.len() < n * 9 / 10 {
        return None;
    }
    effects.sort_by(f64::total_cmp);
    Some((percentile(&effects, a / 2.0), percentile(&effects, 1.0 - a / 2.0)))
}

/// The `p` quantile of sorted values, interpolated linearly (numpy's default).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// What a random-effects interval rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// The between-repeat variance, with these degrees of freedom.
    Repeats { df: f64 },
    /// The stated run-to-run noise (one repeat per side).
    RunNoise,
}

/// A random-effects interval of the effect and what it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TInterval {
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
    pub spread: Spread,
}

/// The per-repeat values of a figure, on the effect's scale (log for ratios).
fn per_repeat(figure: &Figure, side: &Sample) -> Vec<f64> {
    side.repeats
        .iter()
        .filter_map(|r| figure.of(r.iter()))
        .filter_map(|v| if figure.is_ratio() { (v > 0.0).then(|| v.ln()) } else { Some(v) })
        .collect()
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = if x.len() > 1 { x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) } else { f64::NAN };
    (m, v)
}

/// The random-effects t interval of the effect at two-sided level `1 - a`, from the per-repeat
/// values: Welch's interval when both sides have 2+ repeats; the one side's variance for both
/// when only one has; with one repeat per side, a normal interval whose per-run standard
/// deviation is `run_noise` (relative: 0.05 = 5 %, on the log scale for ratios, of the rate for
/// rates, plus the binomial variance of the rate). `session_noise` (`--session-noise`): a floor of
/// the between-run variance of sides with repeats.
pub fn random_effects(
    figure: &Figure,
    base: &Sample,
    cand: &Sample,
    a: f64,
    run_noise: f64,
    session_noise: Option<f64>,
) -> Option<TInterval> {
    let (xb, xc) = (per_repeat(figure, base), per_repeat(figure, cand));
    if xb.is_empty() || xc.is_empty() {
        return None;
    }
    let ((mb, vb), (mc, vc)) = (mean_var(&xb), mean_var(&xc));
    let (nb, nc) = (xb.len() as f64, xc.len() as f64);
    let sign = if *figure == Figure::Iops { -1.0 } else { 1.0 };
    let estimate = sign * (mc - mb);
    // A session noise is a floor for sides with repeats: repeats of one invocation share
    // its session (the machine's state then), which their spread cannot show; the session's
    // part of the run-to-run variance, what the session noise has beyond the repeats' own
    // variance, adds to the variance of the side's mean.
    let session = |v: f64| match session_noise {
        Some(noise) if figure.is_ratio() => ((1.0 + noise).ln().powi(2) - v).max(0.0),
        _ => 0.0,
    };
    let (se, q, spread) = match (xb.len() > 1, xc.len() > 1) {
        (true, true) => {
            let (sb, sc) = (vb / nb + session(vb), vc / nc + session(vc));
            let se2 = sb + sc;
            let df = if se2 > 0.0 { se2 * se2 / (sb * sb / (nb - 1.0) + sc * sc / (nc - 1.0)) } else { nb + nc - 2.0 };
            (se2.sqrt(), t_quantile(1.0 - a / 2.0, df), Spread::Repeats { df })
        }
        (true, false) | (false, true) => {
            let (v, df) = if xb.len() > 1 { (vb, nb - 1.0) } else { (vc, nc - 1.0) };
            let se2 = v * (1.0 / nb + 1.0 / nc) + 2.0 * session(v);
            (se2.sqrt(), t_quantile(1.0 - a / 2.0, df), Spread::Repeats { df })
        }
        (false, false) => {
            let var = |x: f64, side: &Sample| -> f64 {
                if figure.is_ratio() {
                    (1.0 + run_noise).ln().powi(2)
                } else {
                    let ops: u64 = side.repeats.iter().flatten().map(|o| o.ops).sum();
                    (run_noise * x).powi(2) + if ops > 0 { x * (1.0 - x) / ops as f64 } else { 0.0 }
                }
            };
            ((var(mb, base) + var(mc, cand)).sqrt(), normal_quantile(1.0 - a / 2.0), Spread::RunNoise)
        }
    };
    Some(TInterval { estimate, lo: estimate - q * se, hi: estimate + q * se, spread })
}

/// Operations per repeat of a latency kind, for the Clopper-Pearson bound's denominators.
pub fn ops_of(side: &Sample) -> u64 {
    side.repeats.iter().flatten().map(|o| o.ops).sum()
}

/// Events of `class` over every interval of a side.
pub fn events_of(side: &Sample, class: &str) -> u64 {
    side.repeats.iter().flatten().map(|o| o.events.get(class).copied().unwrap_or(0)).sum()
}

/// Whether every repeat of the side has a latency of `kind`.
pub fn has_kind(side: &Sample, kind: &str) -> bool {
    side.repeats.iter().flatten().any(|o| o.latency.get(kind).is_some_and(|l| l.count() > 0))
}

// ---- distributions ----

/// The standard normal quantile (Acklam's rational approximation, refined by one Halley step
/// on erfc: about 1e-15 relative).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let low = 0.02425;
    let x = if p < low || p > 1.0 - low {
        let q = (-2.0 * (if p < low { p } else { 1.0 - p }).ln()).sqrt();
        let x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
        if p < low {
            x
        } else {
            -x
        }
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step: e = Phi(x) - p.
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let floor = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / floor(1.0 - qab * x / qap);
    let mut h = d;
    // One Lentz step with coefficient `aa`: returns the factor it multiplies `h` by.
    let mut step = |aa: f64| {
        d = 1.0 / floor(1.0 + aa * d);
        c = floor(1.0 + aa / c);
        d * c
    };
    for m in 1..=10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)));
        let del = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function I_x(a, b).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (a * x.ln() + b * (1.0 - x).ln() - ln_beta(a, b)).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The `p` quantile of Beta(a, b), by bisection on [`beta_inc`] (to 1e-15 in x).
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if beta_inc(a, b, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 * hi.max(1e-300) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The Student t distribution function with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The `p` quantile of Student's t with `df` (> 0, not necessarily whole) degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    let upper = p > 0.5;
    let tail = if upper { 1.0 - p } else { p };
    // |t| for the two-sided tail 2 * tail: I_x(df/2, 1/2) = 2 * tail with x = df / (df + t^2).
    let x = beta_quantile(2.0 * tail, df / 2.0, 0.5);
    let t = (df * (1.0 - x) / x).sqrt();
    if upper {
        t
    } else {
        -t
    }
}

/// The one-sided upper Clopper-Pearson bound of a proportion with `x` events in `n` trials at
/// confidence `conf` (e.g. 0.95); 1 when n = 0.
pub fn clopper_pearson_upper(x: u64, n: u64, conf: f64) -> f64 {
    if n == 0 || x >= n {
        return 1.0;
    }
    beta_quantile(conf, x as f64 + 1.0, (n - x) as f64)
}

#[cfg(test)]
mod tests;
