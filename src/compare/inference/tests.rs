//! The statistics against reference values computed once with scipy/numpy
//! (`tests/fixtures/compare/inference_reference.py`, its output stored beside it).

use super::*;
use hdrhistogram::Histogram;
use serde_json::Value;

const REFERENCE: &str = include_str!("../../../tests/fixtures/compare/inference_reference.json");

fn reference() -> Value {
    serde_json::from_str(REFERENCE).expect("reference JSON")
}

fn rows(v: &Value, key: &str) -> Vec<Vec<f64>> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} missing"))
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        .collect()
}

fn close(got: f64, want: f64, rel: f64) {
    assert!((got - want).abs() <= rel * want.abs().max(1e-12), "{got} != {want} (rel {rel})");
}

#[test]
fn normal_quantile_matches_scipy() {
    for r in rows(&reference(), "normal_quantile") {
        close(normal_quantile(r[0]), r[1], 1e-12);
    }
}

#[test]
fn t_quantile_and_cdf_match_scipy() {
    let v = reference();
    for r in rows(&v, "t_quantile") {
        close(t_quantile(r[0], r[1]), r[2], 1e-9);
    }
    for r in rows(&v, "t_cdf") {
        close(t_cdf(r[0], r[1]), r[2], 1e-11);
    }
}

#[test]
fn incomplete_beta_and_clopper_pearson_match_scipy() {
    let v = reference();
    for r in rows(&v, "beta_inc") {
        close(beta_inc(r[0], r[1], r[2]), r[3], 1e-10);
    }
    for r in rows(&v, "clopper_pearson_upper_95") {
        close(clopper_pearson_upper(r[0] as u64, r[1] as u64, 0.95), r[2], 1e-9);
    }
}

fn side(iops: &[f64]) -> Sample {
    Sample { repeats: iops.iter().map(|&i| vec![Obs { dur_s: 1.0, ops: i as u64, ..Default::default() }]).collect() }
}

#[test]
fn random_effects_is_welch_on_the_log() {
    let v = reference();
    let w = &v["welch_iops"];
    let nums = |k: &str| w[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
    let t =
        random_effects(&Figure::Iops, &side(&nums("base")), &side(&nums("cand")), w["a"].as_f64().unwrap(), 0.05, None)
            .unwrap();
    close(t.estimate, w["estimate"].as_f64().unwrap(), 1e-9);
    close(t.lo, w["lo"].as_f64().unwrap(), 1e-9);
    close(t.hi, w["hi"].as_f64().unwrap(), 1e-9);
    match t.spread {
        Spread::Repeats { df } => close(df, w["df"].as_f64().unwrap(), 1e-9),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_repeat_per_side_rests_on_the_run_noise() {
    let t = random_effects(&Figure::Iops, &side(&[10000.0]), &side(&[5000.0]), 0.1, 0.05, None).unwrap();
    assert_eq!(t.spread, Spread::RunNoise);
    close(t.estimate, 2f64.ln(), 1e-12);
    let half = normal_quantile(0.95) * 2f64.sqrt() * 1.05f64.ln();
    close(t.hi - t.estimate, half, 1e-12);
}

#[test]
fn a_session_noise_floors_the_variance_of_repeats() {
    let (b, c) = (side(&[10000., 10100., 9950.]), side(&[9000., 9100., 8950.]));
    let plain = random_effects(&Figure::Iops, &b, &c, 0.1, 0.05, None).unwrap();
    let floored = random_effects(&Figure::Iops, &b, &c, 0.1, 0.05, Some(0.05)).unwrap();
    assert_eq!(plain.estimate, floored.estimate);
    assert!(floored.hi - floored.lo > 3.0 * (plain.hi - plain.lo), "{plain:?} {floored:?}");
}

#[test]
fn percentile_is_numpys_linear() {
    let v = reference();
    let p = &v["percentile"];
    let mut x: Vec<f64> = p["x"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    x.sort_by(f64::total_cmp);
    for (q, want) in p["p"].as_array().unwrap().iter().zip(p["want"].as_array().unwrap()) {
        close(percentile(&x, q.as_f64().unwrap()), want.as_f64().unwrap(), 1e-12);
    }
}

#[test]
fn the_bootstrap_is_seeded_and_covers_the_effect() {
    let b = side(&[10230., 10410., 10120., 10350., 10290.]);
    let c = side(&[9300., 9550., 9020., 9410., 9380.]);
    let one = bootstrap(&Figure::Iops, &b, &c, 0.1, 7).unwrap();
    assert_eq!(one, bootstrap(&Figure::Iops, &b, &c, 0.1, 7).unwrap(), "same seed, same interval");
    let merged = effect(&Figure::Iops, 10280.0, 9332.0).unwrap();
    assert!(one.0 < merged && merged < one.1, "{one:?} around {merged}");
    assert!(one.0 > 0.05, "a 9 % drop over 5+5 tight repeats is clear: {one:?}");
}

#[test]
fn blocks_follow_the_autocorrelation() {
    let white: Vec<f64> = (0..200).map(|i| ((i * 7919) % 101) as f64).collect();
    assert!(block_length(&white) <= 2, "{}", block_length(&white));
    // A slow sine: neighbours alike for many lags.
    let slow: Vec<f64> = (0..200).map(|i| (i as f64 / 15.0).sin()).collect();
    assert!(block_length(&slow) >= 10, "{}", block_length(&slow));
    assert_eq!(block_length(&[1.0, 2.0]), 1);
}

#[test]
fn histograms_merge_for_quantiles() {
    let mut h1 = Histogram::<u64>::new(3).unwrap();
    let mut h2 = Histogram::<u64>::new(3).unwrap();
    for v in 1..=900u64 {
        h1.record(v * 1000).unwrap();
    }
    for _ in 0..100 {
        h2.record(5_000_000).unwrap();
    }
    let mut merged = h1.clone();
    merged.add(&h2).unwrap();
    let obs = |h: &Histogram<u64>, l: Latency| Obs {
        dur_s: 1.0,
        ops: h.len(),
        latency: BTreeMap::from([("ats".to_string(), l)]),
        ..Default::default()
    };
    let shared = Latency::pooled(&[recorded(&h1), recorded(&h2)]);
    let (a, b) = (obs(&h1, shared[0].clone()), obs(&h2, shared[1].clone()));
    // The same histograms in pools of their own: merged all the same.
    let (c, d) =
        (obs(&h1, Latency::pooled(&[recorded(&h1)]).remove(0)), obs(&h2, Latency::pooled(&[recorded(&h2)]).remove(0)));
    for q in [0.5, 0.9, 0.99, 0.999] {
        let f = Figure::Quantile { kind: "ats".into(), q };
        let want = merged.value_at_quantile(q) as f64;
        assert_eq!(f.of([&a, &b].into_iter()), Some(want), "q {q}");
        assert_eq!(f.of([&c, &d].into_iter()), Some(want), "q {q}, two pools");
    }
    let p99 = Figure::Quantile { kind: "ats".into(), q: 0.99 };
    assert!((p99.of([&a, &b].into_iter()).unwrap() - 5_000_000.0).abs() < 5_000.0);
    // A resample drawing b twice: 900 fast, 200 slow values: p50 is fast, p90 slow.
    let p50 = Figure::Quantile { kind: "ats".into(), q: 0.5 };
    assert!(p50.of([&a, &b, &b].into_iter()).unwrap() < 1e6);
    let p90 = Figure::Quantile { kind: "ats".into(), q: 0.9 };
    assert!(p90.of([&a, &b, &b].into_iter()).unwrap() > 4e6);
}
