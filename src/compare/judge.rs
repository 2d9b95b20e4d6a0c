//! One point of the base against the same point of the candidate: every figure side by side,
//! its change with an interval, its margin and its verdict.
//!
//! Two steps: [`lay_out`] puts the figures side by side and says which are gated; once the
//! number of gated figures of the whole comparison is known (it widens every interval),
//! [`finish`] estimates each figure's interval (`inference`) and gives the figures and the
//! point their verdicts (`decide`).
//!
//! Gated by default: IOPS, the p99 of every operation kind, the miscompare rate of every class
//! (not the total, their sum), violations and lost updates (not for `rmw`, which loses updates
//! by design). p50 and p99.9 are gated when `--max-regression` names them; every other figure
//! is shown with its interval and informs.

use super::decide::{self, Basis, MetricVerdict, FAMILY_ALPHA};
use super::doc::{ResultPoint, CLASSES};
use super::inference::{self, Figure, Latency, Obs, Recorded, Sample};
use super::metric::{self, Metric, TestResult, Unit, MANN_WHITNEY};
use super::stats::mann_whitney_u;
use super::thresholds::Thresholds;
use super::{Pair, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// One point compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointComparison {
    pub workload: String,
    pub qd: u32,
    pub threads: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contention: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locks: Option<u32>,
    pub bs: u32,
    pub ats_mode: Pair<Option<String>>,
    /// Repeats on each side (0: the point is missing there).
    pub repeats: Pair<usize>,
    pub verdict: Verdict,
    /// Why the verdict is not `ok`: the figures that decided it.
    pub reasons: Vec<String>,
    pub notes: Vec<String>,
    pub metrics: Vec<Metric>,
}

impl PointComparison {
    /// `ats qd=8 threads=1 contention=1 bs=512`.
    pub fn title(&self) -> String {
        let axis = match (self.contention, self.locks) {
            (Some(k), _) => format!(" contention={k}"),
            (None, Some(n)) => format!(" locks={n}"),
            _ => String::new(),
        };
        format!("{} qd={} threads={}{axis} bs={}", self.workload, self.qd, self.threads, self.bs)
    }

    /// A point without its counterpart, or whose counterpart differs in what was measured.
    pub fn not_comparable(base: Option<&ResultPoint>, cand: Option<&ResultPoint>, reason: String) -> Self {
        let mut c = shell(base.or(cand).expect("one side"), base, cand);
        c.verdict = Verdict::NotComparable;
        c.reasons.push(reason);
        c
    }

    /// The gated figures of the point.
    pub fn gated(&self) -> usize {
        self.metrics.iter().filter(|m| m.gated).count()
    }
}

fn shell(p: &ResultPoint, base: Option<&ResultPoint>, cand: Option<&ResultPoint>) -> PointComparison {
    let axis = p.axis();
    PointComparison {
        workload: p.workload.to_string(),
        qd: p.qd,
        threads: p.threads,
        contention: p.contention,
        locks: match axis {
            super::doc::LockAxis::Locks(n) if n > 0 => Some(n),
            _ => None,
        },
        bs: p.bs,
        ats_mode: Pair {
            base: base.and_then(|b| b.ats_mode.map(mode_name)),
            candidate: cand.and_then(|c| c.ats_mode.map(mode_name)),
        },
        repeats: Pair { base: base.map_or(0, |b| b.repeats().len()), candidate: cand.map_or(0, |c| c.repeats().len()) },
        verdict: Verdict::Ok,
        reasons: Vec::new(),
        notes: Vec::new(),
        metrics: Vec::new(),
    }
}

/// The event class of violations and lost updates in a [`Sample`].
const VIOLATIONS: &str = "violations";
const LOST_UPDATES: &str = "lost updates";

/// A point's repeats as the statistics' plain input: one [`Obs`] per interval of every repeat
/// (the warm-up intervals dropped, when any remain after them), each kind's latency histograms
/// decoded once into one pool per kind for the side (so a resample's quantile is that of its
/// intervals' merged histograms); a repeat without intervals (results of atsbench/1 and /2) is
/// one interval of its operations, duration and percentiles. Violations and lost updates are
/// counted per repeat, so they go with a repeat's first interval.
pub fn sample_of(p: &ResultPoint) -> Sample {
    let repeats = p.repeats();
    let verification: Vec<Option<(u64, u64)>> = if p.repeats.is_empty() {
        vec![p.verification.as_ref().map(|v| (v.violations, v.lost_updates))]
    } else {
        p.repeats.iter().map(|r| r.verification.as_ref().map(|v| (v.violations, v.lost_updates))).collect()
    };
    // By kind: (repeat, interval, recorded values) of every interval with a histogram.
    let mut hists: BTreeMap<String, Vec<(usize, usize, Recorded)>> = BTreeMap::new();
    let mut series: Vec<Vec<Obs>> = repeats
        .iter()
        .zip(verification)
        .enumerate()
        .map(|(ri, (r, v))| {
            let mut series = match r.intervals.filter(|i| !i.series.is_empty()) {
                Some(iv) => {
                    interval_obs(iv, &mut |i, kind, rec| hists.entry(kind.to_string()).or_default().push((ri, i, rec)))
                }
                None => vec![repeat_obs(r)],
            };
            if let (Some((violations, lost)), Some(first)) = (v, series.first_mut()) {
                first.events.insert(VIOLATIONS.into(), violations);
                first.events.insert(LOST_UPDATES.into(), lost);
            }
            series
        })
        .collect();
    for (kind, rows) in hists {
        let (at, rec): (Vec<(usize, usize)>, Vec<Recorded>) = rows.into_iter().map(|(r, i, rec)| ((r, i), rec)).unzip();
        for ((r, i), l) in at.into_iter().zip(Latency::pooled(&rec)) {
            series[r][i].latency.insert(kind.clone(), l);
        }
    }
    Sample { repeats: series }
}

/// A repeat without intervals as one.
fn repeat_obs(r: &super::doc::Repeat<'_>) -> Obs {
    let events = CLASSES.iter().map(|c| (c.to_string(), r.miscompares.get(c))).collect();
    let latency = r
        .latency_ns
        .iter()
        .map(|(k, s)| {
            let q = Latency::Quantiles { count: s.count, p50: s.p50 as f64, p99: s.p99 as f64, p999: s.p999 as f64 };
            (k.clone(), q)
        })
        .collect();
    let dur_s = if r.iops > 0.0 { r.ops as f64 / r.iops } else { 0.0 };
    Obs { dur_s, ops: r.ops, events, latency }
}

/// A repeat's intervals after its warm-up (all of them when the warm-up would leave none),
/// without their latencies: `latency(i, kind, recorded values)` is given each interval's
/// decoded histograms.
fn interval_obs(iv: &crate::results::Intervals, latency: &mut dyn FnMut(usize, &str, Recorded)) -> Vec<Obs> {
    let skip = if (iv.warmup as usize) < iv.series.len() { iv.warmup as usize } else { 0 };
    iv.series[skip..]
        .iter()
        .enumerate()
        .map(|(at, i)| {
            let mut events: BTreeMap<String, u64> = CLASSES.iter().map(|c| (c.to_string(), 0)).collect();
            for (kind, k) in &i.kinds {
                for (class, n) in &k.miscompares {
                    *events.entry(class.clone()).or_default() += n;
                    if class != "total" && !i.kinds.values().any(|x| x.miscompares.contains_key("total")) {
                        *events.entry("total".into()).or_default() += n;
                    }
                }
                if let Some(h) = crate::results::intervals::decode(&k.lat).filter(|h| !h.is_empty()) {
                    latency(at, kind, inference::recorded(&h));
                }
            }
            Obs { dur_s: i.dur_ns as f64 / 1e9, ops: i.ops(), events, latency: BTreeMap::new() }
        })
        .collect()
}

/// Lay out the figures of two points with the same identity; their intervals and verdicts come
/// from [`finish`], once the number of gated figures of the comparison is known.
// long: one block per family of figures (IOPS, latency, rates, counts), in report order
pub fn lay_out(base: &ResultPoint, cand: &ResultPoint, t: &Thresholds) -> PointComparison {
    let mut c = shell(base, Some(base), Some(cand));
    c.metrics.push(metric(
        "iops".into(),
        Unit::OpsPerSec,
        (base.iops, cand.iops),
        Some(t.iops_pct),
        true,
        Figure::Iops,
    ));
    for (kind, sb) in &base.latency_ns {
        let Some(sc) = cand.latency_ns.get(kind) else { continue };
        for (label, q, merged) in
            [("p50", 0.5, (sb.p50, sc.p50)), ("p99", 0.99, (sb.p99, sc.p99)), ("p99.9", 0.999, (sb.p999, sc.p999))]
        {
            let key = if label == "p99.9" { "p999" } else { label };
            let gated = label == "p99" || t.names(key);
            let figure = Figure::Quantile { kind: kind.clone(), q };
            let merged = (merged.0 as f64, merged.1 as f64);
            c.metrics.push(metric(
                format!("{kind} {label}"),
                Unit::Ns,
                merged,
                Some(t.latency_pct(key)),
                gated,
                figure,
            ));
        }
    }
    let locks = matches!(base.workload.name(), "ats" | "rmw" | "compare");
    for class in CLASSES {
        let (xb, xc) = (base.miscompares.get(class), cand.miscompares.get(class));
        if xb + xc == 0 && !(locks && class == "total") {
            continue;
        }
        let frac = |x: u64, n: u64| if n > 0 { x as f64 / n as f64 } else { 0.0 };
        let (b, c2) = (frac(xb, base.ops), frac(xc, cand.ops));
        let mut m = metric(
            format!("miscompares {class}"),
            Unit::Rate,
            (b, c2),
            Some(t.miscompare_pp),
            class != "total",
            Figure::Rate { class: class.into() },
        );
        m.change = Some((c2 - b) * 100.0);
        m.upper_95 = Some(upper((xb, base.ops), (xc, cand.ops)));
        c.metrics.push(m);
    }
    match (&base.verification, &cand.verification) {
        (Some(vb), Some(vc)) => {
            let judged = base.workload.name() != "rmw";
            for (name, xb, xc) in
                [(VIOLATIONS, vb.violations, vc.violations), (LOST_UPDATES, vb.lost_updates, vc.lost_updates)]
            {
                let figure = Figure::Rate { class: name.into() };
                let mut m = metric(name.into(), Unit::Count, (xb as f64, xc as f64), None, judged, figure);
                m.change = None;
                m.upper_95 = Some(upper((xb, base.ops), (xc, cand.ops)));
                c.metrics.push(m);
            }
            if !judged {
                c.notes.push("rmw loses updates by design: violations and lost updates are shown, not judged".into());
            }
        }
        (None, None) => {}
        (b, _) => c.notes.push(format!(
            "verification was off in the {}: violations and lost updates are not compared",
            if b.is_none() { "base" } else { "candidate" }
        )),
    }
    if c.ats_mode.base != c.ats_mode.candidate {
        c.notes.push(format!(
            "ATS mode differs: {} (base), {} (candidate): two implementations of ATS",
            c.ats_mode.base.as_deref().unwrap_or("-"),
            c.ats_mode.candidate.as_deref().unwrap_or("-")
        ));
    }
    if base.errors + cand.errors > 0 {
        c.notes.push(format!("I/O errors: {} (base), {} (candidate)", base.errors, cand.errors));
    }
    if base.interrupted || cand.interrupted {
        c.notes.push("interrupted before its end in one run: its figures cover less time".into());
    }
    c
}

fn upper(b: (u64, u64), c: (u64, u64)) -> Pair<f64> {
    Pair {
        base: inference::clopper_pearson_upper(b.0, b.1, 0.95),
        candidate: inference::clopper_pearson_upper(c.0, c.1, 0.95),
    }
}

fn metric(name: String, unit: Unit, merged: (f64, f64), threshold: Option<f64>, gated: bool, figure: Figure) -> Metric {
    let (b, c) = merged;
    Metric {
        name,
        unit,
        base: b,
        candidate: c,
        change: (b > 0.0).then(|| (c - b) / b * 100.0),
        interval: None,
        threshold,
        basis: None,
        gated,
        verdict: MetricVerdict::Ok,
        to_decide: None,
        spread: None,
        repeat_counts: None,
        upper_95: None,
        test: None,
        higher_is_better: unit == Unit::OpsPerSec,
        figure: Some(figure),
    }
}

/// One repeat per side and no stated run noise: latency percentiles inform only (their
/// run-to-run noise is unknown and larger than that of IOPS).
pub fn inform_latency(c: &mut PointComparison) {
    let mut any = false;
    for m in c.metrics.iter_mut().filter(|m| m.unit == Unit::Ns && m.gated) {
        m.gated = false;
        any = true;
    }
    if any {
        c.notes.push(
            "one repeat per side and no stated run noise: latency percentiles inform, not gated (give --run-noise, \
             or measure with --repeat 3 or more)"
                .into(),
        );
    }
}

/// How `finish` estimates: the two-sided level of every interval, the seed, the run noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimation {
    /// 1 - level of each interval: FAMILY_ALPHA / gated figures.
    pub a: f64,
    pub seed: u64,
    /// The run-to-run noise in percent, for one repeat per side.
    pub run_noise_pct: f64,
    /// `--session-noise` in percent: a floor of the between-run variance of repeats.
    pub session_noise_pct: Option<f64>,
}

/// The margin of a figure on the effect's scale (worse positive).
fn margin(m: &Metric) -> f64 {
    let t = m.threshold.unwrap_or(0.0);
    match m.unit {
        // A drop of 100 % or more: any drop is accepted.
        Unit::OpsPerSec if t >= 100.0 => f64::INFINITY,
        Unit::OpsPerSec => -(1.0 - t / 100.0).ln(),
        Unit::Ns => (1.0 + t / 100.0).ln(),
        Unit::Rate | Unit::Count => t / 100.0,
    }
}

/// An effect interval (worse positive) as the change interval the reports show.
fn change_interval(m: &Metric, lo: f64, hi: f64) -> [f64; 2] {
    match m.unit {
        Unit::OpsPerSec => [((-hi).exp() - 1.0) * 100.0, ((-lo).exp() - 1.0) * 100.0],
        Unit::Ns => [(lo.exp() - 1.0) * 100.0, (hi.exp() - 1.0) * 100.0],
        Unit::Rate | Unit::Count => [lo * 100.0, hi * 100.0],
    }
}

/// A seed per figure: the comparison's seed mixed with the figure's name and the point.
fn figure_seed(seed: u64, point: &str, name: &str) -> u64 {
    point
        .bytes()
        .chain([0])
        .chain(name.bytes())
        .fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Estimate every figure's interval and give the figures and the point their verdicts.
pub fn finish(c: &mut PointComparison, base: &ResultPoint, cand: &ResultPoint, e: &Estimation) {
    let (sb, sc) = (sample_of(base), sample_of(cand));
    let (nb, nc) = (sb.repeats.len(), sc.repeats.len());
    let title = c.title();
    for m in &mut c.metrics {
        let Some(figure) = m.figure.clone() else { continue };
        let per = |s: &Sample| -> Vec<f64> { s.repeats.iter().filter_map(|r| figure.of(r.iter())).collect() };
        let (pb, pc) = (per(&sb), per(&sc));
        if nb > 1 || nc > 1 {
            spread(m, &figure, (&sb, &sc), (&pb, &pc));
        }
        if nb >= 4 && nc >= 4 && figure.is_ratio() {
            m.test = mann_whitney_u(&pb, &pc).map(|t| TestResult {
                name: MANN_WHITNEY,
                method: Some(t.method),
                statistic: t.u,
                p: t.p,
            });
        }
        if let Figure::Rate { class } = &figure {
            // A new failure mode: events of a class the base never had (the merged counts).
            if m.gated && m.base == 0.0 && m.candidate > 0.0 {
                m.verdict = MetricVerdict::Regression;
                let show = |v: f64| metric::value(v, m.unit, "us");
                c.reasons.push(format!(
                    "{} {} -> {}: the base had none (always a regression)",
                    m.name,
                    show(m.base),
                    show(m.candidate)
                ));
                continue;
            }
            // Nothing to estimate: zero on both sides, or the repeats do not carry the events.
            let (eb, ec) = (inference::events_of(&sb, class), inference::events_of(&sc, class));
            if eb + ec == 0 {
                continue;
            }
        }
        let seed = figure_seed(e.seed, &title, &m.name);
        let boot = inference::bootstrap(&figure, &sb, &sc, e.a, seed);
        let session = e.session_noise_pct.map(|pct| pct / 100.0);
        let re = inference::random_effects(&figure, &sb, &sc, e.a, e.run_noise_pct / 100.0, session);
        let Some(iv) = decide::wider(boot, re, e.run_noise_pct) else { continue };
        m.interval = Some(change_interval(m, iv.lo, iv.hi));
        m.basis = Some(iv.basis);
        if !m.gated {
            continue;
        }
        let mg = margin(m);
        m.verdict = decide::verdict(iv.lo, iv.hi, mg);
        if m.verdict == MetricVerdict::Inconclusive {
            m.to_decide = Some(match iv.basis {
                Basis::RunNoise { .. } => "measure each side with --repeat 3 or more, or state the run noise \
                                           (--run-noise, measured by A/A runs)"
                    .into(),
                _ => decide::to_decide(iv.lo, iv.hi, mg, nb.min(nc)),
            });
        }
    }
    conclude(c);
}

/// The per-repeat spread of a figure: its smallest and largest value per repeat on each side
/// (`per`); for events (miscompares of a class, violations, lost updates) also their count in
/// each repeat, which is the spread of counts (a rate's spread stays in its unit).
fn spread(m: &mut Metric, figure: &Figure, sides: (&Sample, &Sample), per: (&[f64], &[f64])) {
    let range = |v: &[f64]| {
        [v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max)]
    };
    if let Figure::Rate { class } = figure {
        let counts = |s: &Sample| -> Vec<u64> {
            s.repeats.iter().map(|r| r.iter().map(|o| o.events.get(class).copied().unwrap_or(0)).sum()).collect()
        };
        let (cb, cc) = (counts(sides.0), counts(sides.1));
        let counted = m.unit == Unit::Count;
        if counted {
            let f = |c: &[u64]| c.iter().map(|&x| x as f64).collect::<Vec<f64>>();
            m.spread = Some(Pair { base: range(&f(&cb)), candidate: range(&f(&cc)) });
        }
        m.repeat_counts = Some(Pair { base: cb, candidate: cc });
        if counted {
            return;
        }
    }
    if !per.0.is_empty() && !per.1.is_empty() {
        m.spread = Some(Pair { base: range(per.0), candidate: range(per.1) });
    }
}

/// The point's verdict and its reasons, from its gated figures.
fn conclude(c: &mut PointComparison) {
    for m in c.metrics.iter().filter(|m| m.gated) {
        let words = match m.verdict {
            MetricVerdict::Regression if m.interval.is_none() => continue, // reason given already
            MetricVerdict::Regression => "beyond the margin",
            MetricVerdict::Better => "better beyond the margin",
            MetricVerdict::Inconclusive => "straddles the margin",
            MetricVerdict::Ok => continue,
        };
        let mut line = format!("{} {} {words} {}", m.name, metric::change(m), metric::margin(m));
        if let Some(b) = &m.basis {
            line.push_str(&format!(", {}", b.short()));
        }
        if let Some(d) = &m.to_decide {
            line.push_str(&format!("; {d}"));
        }
        c.reasons.push(line);
    }
    let has = |v: MetricVerdict| c.metrics.iter().any(|m| m.gated && m.verdict == v);
    c.verdict = if has(MetricVerdict::Regression) {
        Verdict::Regression
    } else if has(MetricVerdict::Inconclusive) {
        Verdict::Inconclusive
    } else if has(MetricVerdict::Better) {
        Verdict::Better
    } else {
        Verdict::Ok
    };
    // The reasons of the verdict first.
    let first = |r: &String| match c.verdict {
        Verdict::Regression => !r.contains(" beyond the margin") || r.contains("better"),
        Verdict::Inconclusive => !r.contains("straddles"),
        _ => false,
    };
    c.reasons.sort_by_key(first);
    if c.metrics.iter().any(|m| matches!(m.basis, Some(Basis::RunNoise { .. }))) {
        let pct = c.metrics.iter().find_map(|m| match m.basis {
            Some(Basis::RunNoise { pct }) => Some(pct),
            _ => None,
        });
        c.notes.push(format!(
            "one repeat per side: the intervals rest on a stated run-to-run noise of {}% (--run-noise or the profile), \
             not on a measured one; measure with --repeat 3 or more to measure it",
            pct.unwrap_or(0.0)
        ));
    }
}

/// The family's level for `gated` figures: each interval is two-sided at 1 - 0.10 / gated.
pub fn level_for(gated: usize) -> f64 {
    FAMILY_ALPHA / gated.max(1) as f64
}

/// An ATS mode as results spell it.
fn mode_name(m: crate::backend::AtsMode) -> String {
    m.name().to_string()
}

#[cfg(test)]
mod tests;
