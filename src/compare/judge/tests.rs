//! The verdicts of single points, from hand-made results.

use super::*;
use crate::compare::doc::{LatencySummary, MiscompareCounts, RepeatDesc, VerificationDesc};
use std::collections::BTreeMap;

fn lat(p50: u64) -> BTreeMap<String, LatencySummary> {
    let s = LatencySummary {
        count: 1000,
        mean: p50 as f64,
        p50,
        p90: p50 * 2,
        p99: p50 * 3,
        p999: p50 * 4,
        p9999: p50 * 5,
        max: p50 * 6,
    };
    BTreeMap::from([("ats".to_string(), s)])
}

/// An ats point with one repeat per entry of `iops` (latency inversely proportional).
fn point(iops: &[f64], violations: u64) -> ResultPoint {
    let repeats: Vec<RepeatDesc> = iops
        .iter()
        .map(|&i| RepeatDesc {
            ops: 1000,
            duration_s: 1.0,
            iops: i,
            latency_ns: lat((1e9 / i) as u64),
            miscompares: MiscompareCounts::default(),
            errors: 0,
            verification: None,
            ..Default::default()
        })
        .collect();
    let mean = iops.iter().sum::<f64>() / iops.len() as f64;
    ResultPoint {
        workload: crate::workload::Workload::Ats,
        ats_mode: Some(crate::backend::AtsMode::Device),
        qd: 1,
        threads: 1,
        locks: 1,
        contention: Some(1),
        bs: 512,
        ops: 1000 * iops.len() as u64,
        duration_s: iops.len() as f64,
        iops: mean,
        latency_ns: lat((1e9 / mean) as u64),
        slat_ns: BTreeMap::new(),
        clat_ns: BTreeMap::new(),
        miscompares: MiscompareCounts::default(),
        miscompare_rate: 0.0,
        retries: 0,
        acquires: 1000,
        errors: 0,
        verification: Some(VerificationDesc { checked: 1000, violations, ..Default::default() }),
        repeats: if repeats.len() > 1 { repeats } else { vec![] },
        interrupted: false,
        ..Default::default()
    }
}

/// One point judged alone: its gated figures are the whole family.
fn judge(b: &ResultPoint, c: &ResultPoint, t: &Thresholds) -> PointComparison {
    let mut r = lay_out(b, c, t);
    let e = Estimation { a: level_for(r.gated()), seed: 17, run_noise_pct: 10.0, session_noise_pct: None };
    finish(&mut r, b, c, &e);
    r
}

fn verdict_of<'a>(c: &'a PointComparison, name: &str) -> &'a Metric {
    c.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn a_clear_drop_over_five_repeats_is_a_regression() {
    let b = point(&[10000., 10100., 9950., 10050., 10020.], 0);
    let c = point(&[8000., 8100., 7950., 8050., 8020.], 0);
    let r = judge(&b, &c, &Thresholds::default());
    assert_eq!(r.verdict, Verdict::Regression, "{r:#?}");
    let m = verdict_of(&r, "iops");
    assert_eq!(m.verdict, MetricVerdict::Regression);
    let [lo, hi] = m.interval.unwrap();
    assert!(lo < -19.0 && hi > -21.0 && hi < -5.0, "{lo} {hi}");
    assert!((m.test.unwrap().p - 0.007936507936507936).abs() < 1e-12, "rank test shown at 5 repeats");
    assert_eq!(verdict_of(&r, "ats p99").verdict, MetricVerdict::Regression, "latency rose by 25%");
    assert!(!verdict_of(&r, "ats p50").gated, "p50 informs unless named");
    assert!(r.reasons[0].starts_with("iops -20.0% beyond the margin"), "{:?}", r.reasons);
    // The other way round it is better.
    assert_eq!(judge(&c, &b, &Thresholds::default()).verdict, Verdict::Better);
}

#[test]
fn a_small_change_well_within_the_margin_is_ok() {
    let b = point(&[10000., 10100., 9950., 10050., 10020.], 0);
    let c = point(&[9900., 10000., 9850., 9950., 9920.], 0);
    let r = judge(&b, &c, &Thresholds::default());
    assert_eq!(verdict_of(&r, "iops").verdict, MetricVerdict::Ok, "{r:#?}");
    assert_eq!(r.verdict, Verdict::Ok);
}

#[test]
fn a_change_at_the_margin_with_noisy_repeats_is_inconclusive_and_says_what_decides() {
    let b = point(&[10000., 11000., 9000.], 0);
    let c = point(&[9400., 10500., 8600.], 0);
    let r = judge(&b, &c, &Thresholds::default());
    let m = verdict_of(&r, "iops");
    assert_eq!(m.verdict, MetricVerdict::Inconclusive, "{m:#?}");
    assert_eq!(r.verdict, Verdict::Inconclusive);
    assert!(m.to_decide.as_deref().is_some_and(|d| d.contains("repeats") || d.contains("margin")), "{m:#?}");
}

#[test]
fn one_repeat_per_side_rests_on_the_run_noise_and_a_halving_is_a_regression() {
    let r = judge(&point(&[10000.], 0), &point(&[5000.], 0), &Thresholds::default());
    assert_eq!(r.verdict, Verdict::Regression, "{r:#?}");
    let m = verdict_of(&r, "iops");
    assert_eq!(m.basis, Some(Basis::RunNoise { pct: 10.0 }));
    assert!(r.notes.iter().any(|n| n.contains("run-to-run noise of 10%")), "{:?}", r.notes);
    // The same single runs: ok, never a regression.
    let same = judge(&point(&[10000.], 0), &point(&[10000.], 0), &Thresholds::default());
    assert_ne!(same.verdict, Verdict::Regression);
}

#[test]
fn one_violation_is_a_regression_whatever_the_repeats() {
    let r = judge(&point(&[10000.], 0), &point(&[10000.], 1), &Thresholds::default());
    assert_eq!(r.verdict, Verdict::Regression);
    assert!(r.reasons.iter().any(|x| x.contains("violations") && x.contains("always a regression")), "{r:#?}");
}

#[test]
fn rmw_losing_updates_is_not_judged() {
    let mut b = point(&[10000., 10010., 9990., 10005., 9995.], 0);
    let mut c = point(&[10000., 10010., 9990., 10005., 9995.], 0);
    b.workload = crate::workload::Workload::Rmw;
    c.workload = crate::workload::Workload::Rmw;
    c.verification.as_mut().unwrap().lost_updates = 40;
    let r = judge(&b, &c, &Thresholds::default());
    assert_eq!(r.verdict, Verdict::Ok, "{r:#?}");
    assert_eq!(verdict_of(&r, "lost updates").candidate, 40.0);
}

#[test]
fn miscompare_rates_need_their_interval_beyond_the_margin() {
    let mut b = point(&[10000.], 0);
    let mut c = point(&[10000.], 0);
    b.miscompares = MiscompareCounts { total: 10, stale: 10, ..Default::default() };
    c.miscompares = MiscompareCounts { total: 40, stale: 40, ..Default::default() };
    // 1.0% -> 4.0% of 1000 operations: 3pp, its interval beyond 0.5pp.
    let r = judge(&b, &c, &Thresholds::default());
    let m = verdict_of(&r, "miscompares stale");
    assert_eq!(m.verdict, MetricVerdict::Regression, "{m:#?}");
    assert!((m.change.unwrap() - 3.0).abs() < 1e-9);
    let u = m.upper_95.unwrap();
    assert!(u.base > 0.01 && u.candidate > 0.04, "{u:?}");
    assert!(!verdict_of(&r, "miscompares total").gated, "the total informs");
    let loose: Thresholds = "miscompare=5pp".parse().unwrap();
    assert_eq!(verdict_of(&judge(&b, &c, &loose), "miscompares stale").verdict, MetricVerdict::Ok);
    assert!(r.metrics.iter().all(|m| m.name != "miscompares corrupt"), "zero on both sides: left out");
    // A class the base never had is a regression whatever its size.
    c.miscompares.corrupt = 1;
    let r = judge(&b, &c, &loose);
    assert_eq!(verdict_of(&r, "miscompares corrupt").verdict, MetricVerdict::Regression);
}

#[test]
fn the_same_files_give_the_same_verdict() {
    let b = point(&[10000., 11000., 9000.], 0);
    let c = point(&[9400., 10500., 8600.], 0);
    assert_eq!(judge(&b, &c, &Thresholds::default()), judge(&b, &c, &Thresholds::default()));
}

#[test]
fn counts_show_their_spread_as_counts_per_repeat() {
    // Three repeats of 1000 operations each: violations 0, 2, 1 against 3, 5, 4; stale
    // miscompares 1, 0, 6 against 2, 2, 2.
    let with = |violations: [u64; 3], stale: [u64; 3]| {
        let mut p = point(&[10000., 10100., 9950.], violations.iter().sum());
        for (r, (v, s)) in p.repeats.iter_mut().zip(violations.iter().zip(stale)) {
            r.verification = Some(VerificationDesc { checked: 1000, violations: *v, ..Default::default() });
            r.miscompares = MiscompareCounts { total: s, stale: s, ..Default::default() };
        }
        let total = stale.iter().sum();
        p.miscompares = MiscompareCounts { total, stale: total, ..Default::default() };
        p
    };
    let (b, c) = (with([0, 2, 1], [1, 0, 6]), with([3, 5, 4], [2, 2, 2]));
    let r = judge(&b, &c, &Thresholds::default());
    let v = verdict_of(&r, "violations");
    assert_eq!((v.base, v.candidate), (3.0, 12.0));
    assert_eq!(v.spread, Some(Pair { base: [0.0, 2.0], candidate: [3.0, 5.0] }), "counts, not rates");
    assert_eq!(v.repeat_counts, Some(Pair { base: vec![0, 2, 1], candidate: vec![3, 5, 4] }));
    assert_eq!(super::super::metric::spread(v, "us"), "0,2,1 / 3,5,4");
    let s = verdict_of(&r, "miscompares stale");
    assert_eq!(s.repeat_counts, Some(Pair { base: vec![1, 0, 6], candidate: vec![2, 2, 2] }));
    assert_eq!(s.spread, Some(Pair { base: [0.0, 0.006], candidate: [0.002, 0.002] }), "a rate's spread in its unit");
    assert_eq!(super::super::metric::spread(s, "us"), "1,0,6 / 2,2,2");
    let lost = verdict_of(&r, "lost updates");
    assert_eq!(lost.repeat_counts, Some(Pair { base: vec![0, 0, 0], candidate: vec![0, 0, 0] }));
}

#[test]
fn the_identity_resample_of_the_intervals_gives_the_merged_documents_percentiles() {
    use crate::results::intervals::{encode, Interval, IntervalKind, Intervals};
    use hdrhistogram::Histogram;
    let mut merged = Histogram::<u64>::new(3).unwrap();
    let mut p = point(&[10000., 10100., 9950.], 0);
    for (ri, r) in p.repeats.iter_mut().enumerate() {
        let mut iv = Intervals::new(100_000_000);
        for k in 0..10u64 {
            let mut h = Histogram::<u64>::new(3).unwrap();
            for j in 0..500u64 {
                // Many distinct values, and a slow tail in some intervals.
                let tail = if (j + k) % 97 == 0 { 4_000_000 * (1 + ri as u64) } else { 0 };
                h.record(50_000 + (j * 7919 + k * 104_729 + ri as u64 * 13) % 400_000 + tail).unwrap();
            }
            merged.add(&h).unwrap();
            let kind = IntervalKind { ops: h.len(), lat: encode(&h), ..Default::default() };
            let at = Interval {
                start_ns: k * 100_000_000,
                dur_ns: 100_000_000,
                kinds: BTreeMap::from([("ats".into(), kind)]),
            };
            iv.series.push(at);
        }
        r.intervals = iv;
    }
    let doc = p.latency_ns.get_mut("ats").unwrap();
    (doc.p50, doc.p99, doc.p999) =
        (merged.value_at_quantile(0.5), merged.value_at_quantile(0.99), merged.value_at_quantile(0.999));
    let sample = sample_of(&p);
    let all: Vec<&Obs> = sample.repeats.iter().flatten().collect();
    assert_eq!(all.len(), 30);
    let doc = &p.latency_ns["ats"];
    for (q, want) in [(0.5, doc.p50), (0.99, doc.p99), (0.999, doc.p999)] {
        let f = Figure::Quantile { kind: "ats".into(), q };
        assert_eq!(f.of(all.iter().copied()), Some(want as f64), "q {q}: every interval once is the merged histogram");
    }
    // Each repeat's p99.9 is in its own tail: 4, 8 and 12 ms above the body.
    let p999 = Figure::Quantile { kind: "ats".into(), q: 0.999 };
    let own: Vec<f64> = sample.repeats.iter().map(|r| p999.of(r.iter()).unwrap()).collect();
    assert!(own[0] > 4e6 && own[0] < 5e6 && own[2] > 12e6, "{own:?}");
}
