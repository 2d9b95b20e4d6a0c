//! One point of the base against the same point of the candidate: every figure side by side,
//! its change, its test and its verdict.
//!
//! Two steps: [`judge`] lays the figures side by side and runs their tests; once the p-values
//! of every point are adjusted together (Benjamini-Hochberg, in `compare_results`), [`finish`]
//! gives each figure and the point their verdicts.
//!
//! A figure counts as a regression only when its test is significant (adjusted p, `q`, below
//! alpha) in the worse direction AND its change is beyond the threshold; `better` is the same in
//! the other direction. Violations and lost updates are the exception: any in the candidate
//! where the base has none is a regression whatever the thresholds and the repeats (except for
//! `rmw`, which loses updates by design and is not judged on them).

use super::doc::{ResultPoint, CLASSES};
use super::stats::{mann_whitney_u, smallest_p, two_proportion_z, Method};
use super::thresholds::Thresholds;
use super::{Pair, Verdict};
use serde::Serialize;

/// The unit of a figure; changes are in percent, except rates (percentage points) and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    #[serde(rename = "ops/s")]
    OpsPerSec,
    #[serde(rename = "ns")]
    Ns,
    /// A fraction of operations (0.01 = 1 %).
    #[serde(rename = "rate")]
    Rate,
    /// Events (violations, lost updates) out of the operations checked.
    #[serde(rename = "count")]
    Count,
}

/// The test behind a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    /// `mann-whitney-u` or `two-proportion-z`.
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// U of the base's repeats, or z (positive when the candidate's proportion is higher).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// The p-value adjusted for every test of the comparison (Benjamini-Hochberg): the figure
    /// is significant when q < alpha.
    pub q: f64,
    /// Values on each side (repeats for a rank test, operations for a proportion).
    #[serde(skip)]
    pub n: (u64, u64),
    /// +1 when the candidate's values tend higher, -1 lower, 0 neither.
    #[serde(skip)]
    pub candidate_higher: f64,
    /// Nothing to test: no events on either side, or every value tied; p = 1 whatever.
    #[serde(skip)]
    pub degenerate: bool,
}

impl TestResult {
    /// Whether any data of these sizes could make this test significant at `alpha`: tests that
    /// cannot are left out of the adjustment, where they would only dilute the others.
    pub fn can_reject(&self, alpha: f64) -> bool {
        !self.degenerate && (self.name != MANN_WHITNEY || smallest_p(self.n.0 as usize, self.n.1 as usize) < alpha)
    }
}

pub const MANN_WHITNEY: &str = "mann-whitney-u";
pub const TWO_PROPORTION: &str = "two-proportion-z";

/// The verdict on one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricVerdict {
    Ok,
    Better,
    Regression,
    /// Worse beyond the threshold, but not significantly: too few repeats, or too much noise.
    Inconclusive,
}

/// One figure of a point, side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// `iops`, `<kind> p50|p99|p99.9`, `miscompares <class>`, `violations`, `lost updates`.
    pub name: String,
    pub unit: Unit,
    pub base: f64,
    pub candidate: f64,
    /// Percent for IOPS and latency, percentage points for rates; None for counts and when the
    /// base is zero.
    pub change: Option<f64>,
    /// The largest change in the worse direction that is not a regression, in the unit of
    /// `change`; None where any worsening counts (violations, lost updates).
    pub threshold: Option<f64>,
    pub test: Option<TestResult>,
    pub verdict: MetricVerdict,
    /// Higher is better (IOPS); lower is better for every other figure.
    #[serde(skip)]
    pub higher_is_better: bool,
    /// False: shown, never judged (rmw's lost updates).
    #[serde(skip)]
    pub judged: bool,
}

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
}

fn shell(p: &ResultPoint, base: Option<&ResultPoint>, cand: Option<&ResultPoint>) -> PointComparison {
    let axis = p.axis();
    PointComparison {
        workload: p.workload.clone(),
        qd: p.qd,
        threads: p.threads,
        contention: p.contention,
        locks: match axis {
            super::doc::LockAxis::Locks(n) if n > 0 => Some(n),
            _ => None,
        },
        bs: p.bs,
        ats_mode: Pair {
            base: base.and_then(|b| b.ats_mode.clone()),
            candidate: cand.and_then(|c| c.ats_mode.clone()),
        },
        repeats: Pair { base: base.map_or(0, |b| b.repeats().len()), candidate: cand.map_or(0, |c| c.repeats().len()) },
        verdict: Verdict::Ok,
        reasons: Vec::new(),
        notes: Vec::new(),
        metrics: Vec::new(),
    }
}

/// Compare two points with the same identity.
/// Lay out and test the figures of two points with the same identity; their verdicts come from
/// [`finish`], once every p-value of the comparison is known.
pub fn judge(base: &ResultPoint, cand: &ResultPoint, t: &Thresholds) -> PointComparison {
    let mut c = shell(base, Some(base), Some(cand));
    let (rb, rc) = (base.repeats(), cand.repeats());
    let iops = (rb.iter().map(|r| r.iops).collect::<Vec<_>>(), rc.iter().map(|r| r.iops).collect::<Vec<_>>());
    c.metrics.push(continuous("iops".into(), Unit::OpsPerSec, (base.iops, cand.iops), iops, true, t.iops_pct));
    for (kind, sb) in &base.latency_ns {
        let Some(sc) = cand.latency_ns.get(kind) else { continue };
        for (label, pct) in [("p50", "p50"), ("p99", "p99"), ("p99.9", "p999")] {
            let pick = |s: &super::doc::LatencySummary| match pct {
                "p50" => s.p50,
                "p99" => s.p99,
                _ => s.p999,
            } as f64;
            let of = |rs: &[super::doc::Repeat]| -> Vec<f64> {
                rs.iter().filter_map(|r| r.latency_ns.get(kind)).map(pick).collect()
            };
            let merged = (pick(sb), pick(sc));
            let name = format!("{kind} {label}");
            c.metrics.push(continuous(name, Unit::Ns, merged, (of(&rb), of(&rc)), false, t.latency_pct(pct)));
        }
    }
    let locks = matches!(base.workload.as_str(), "ats" | "rmw" | "compare");
    for class in CLASSES {
        let (xb, xc) = (base.miscompares.get(class), cand.miscompares.get(class));
        if xb + xc == 0 && !(locks && class == "total") {
            continue;
        }
        c.metrics.push(rate(format!("miscompares {class}"), (xb, base.ops), (xc, cand.ops), t.miscompare_pp));
    }
    match (&base.verification, &cand.verification) {
        (Some(vb), Some(vc)) => {
            let (nb, nc) = (
                if vb.checked > 0 { vb.checked } else { base.ops },
                if vc.checked > 0 { vc.checked } else { cand.ops },
            );
            for (name, xb, xc) in
                [("violations", vb.violations, vc.violations), ("lost updates", vb.lost_updates, vc.lost_updates)]
            {
                c.metrics.push(events(name, (xb, nb), (xc, nc), base.workload != "rmw"));
            }
            if base.workload == "rmw" {
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

/// Judge a point whose tests have their adjusted p-values (`q`): every figure, then the point.
pub fn finish(c: &mut PointComparison, alpha: f64) {
    for m in &mut c.metrics {
        m.verdict = verdict(m, alpha);
    }
    decide(c);
}

/// The verdict on one figure (see the module's documentation).
fn verdict(m: &Metric, alpha: f64) -> MetricVerdict {
    let Some(t) = m.test else { return MetricVerdict::Ok };
    if !m.judged {
        return MetricVerdict::Ok;
    }
    if m.unit == Unit::Count && m.base == 0.0 && m.candidate > 0.0 {
        return MetricVerdict::Regression; // a violation where the base had none
    }
    let significant = t.q < alpha;
    let worse_side = if m.higher_is_better { -1.0 } else { 1.0 };
    let ranks_worse = t.candidate_higher == worse_side;
    let ranks_better = t.candidate_higher == -worse_side;
    // How far the change goes the worse way, in the threshold's unit; counts have no threshold.
    let worse = m.change.map_or(0.0, |x| x * worse_side);
    let threshold = m.threshold.unwrap_or(0.0);
    let beyond = m.threshold.is_none() || worse > threshold;
    let beyond_better = m.threshold.is_none() || -worse > threshold;
    if significant && ranks_worse && beyond {
        MetricVerdict::Regression
    } else if significant && ranks_better && beyond_better {
        MetricVerdict::Better
    } else if m.threshold.is_some() && worse > threshold {
        MetricVerdict::Inconclusive
    } else {
        MetricVerdict::Ok
    }
}

/// The point's verdict and its reasons, from its figures.
fn decide(c: &mut PointComparison) {
    for m in &c.metrics {
        let why = |what: &str| -> String {
            let change = match (m.change, m.unit) {
                (Some(x), Unit::Rate) => format!(" {x:+.2}pp"),
                (Some(x), _) => format!(" {x:+.1}%"),
                (None, _) => format!(" {} -> {}", m.base, m.candidate),
            };
            let test =
                m.test.map_or(String::new(), |t| format!(", {} p={} q={}", test_name(&t), p_value(t.p), p_value(t.q)));
            format!("{}{change}{what}{test}", m.name)
        };
        match m.verdict {
            MetricVerdict::Regression if m.unit == Unit::Count && m.base == 0.0 => {
                c.reasons.push(why(" where the base had none (always a regression)"))
            }
            MetricVerdict::Regression => c.reasons.push(why(&threshold_words(m, "beyond"))),
            MetricVerdict::Better => c.reasons.push(why(&threshold_words(m, "better than"))),
            MetricVerdict::Inconclusive => {}
            MetricVerdict::Ok => {}
        }
    }
    let inconclusive: Vec<String> = c
        .metrics
        .iter()
        .filter(|m| m.verdict == MetricVerdict::Inconclusive)
        .map(|m| format!("{} {}", m.name, super::render::change(m)))
        .collect();
    if !inconclusive.is_empty() {
        c.notes.push(format!(
            "inconclusive with {}+{} repeats (worse beyond the threshold, not significant): {}",
            c.repeats.base,
            c.repeats.candidate,
            inconclusive.join(", ")
        ));
    }
    let has = |v: MetricVerdict| c.metrics.iter().any(|m| m.verdict == v);
    c.verdict = if has(MetricVerdict::Regression) {
        Verdict::Regression
    } else if has(MetricVerdict::Better) {
        Verdict::Better
    } else {
        Verdict::Ok
    };
    // Regressions first among the reasons.
    if c.verdict == Verdict::Regression {
        let better: Vec<String> =
            c.metrics.iter().filter(|m| m.verdict == MetricVerdict::Better).map(|m| m.name.clone()).collect();
        c.reasons.retain(|r| !better.iter().any(|b| r.starts_with(&format!("{b} "))));
        if !better.is_empty() {
            c.notes.push(format!("better: {}", better.join(", ")));
        }
    }
}

fn threshold_words(m: &Metric, how: &str) -> String {
    match (m.threshold, m.unit) {
        (Some(t), Unit::Rate) => format!(" ({how} {t}pp)"),
        (Some(t), _) => format!(" ({how} {t}%)"),
        (None, _) => String::new(),
    }
}

/// `Mann-Whitney U (exact)`, `two-proportion z`.
pub fn test_name(t: &TestResult) -> String {
    match (t.name, t.method) {
        (MANN_WHITNEY, Some(Method::Exact)) => "Mann-Whitney U (exact)".into(),
        (MANN_WHITNEY, _) => "Mann-Whitney U (normal approx.)".into(),
        _ => "two-proportion z".into(),
    }
}

/// A p-value for people: three decimals, or `<0.001`.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// A figure measured per repeat (IOPS, a latency percentile): Mann-Whitney U over the repeats,
/// the change between the merged figures.
fn continuous(
    name: String,
    unit: Unit,
    merged: (f64, f64),
    repeats: (Vec<f64>, Vec<f64>),
    higher_is_better: bool,
    threshold: f64,
) -> Metric {
    let (b, c) = merged;
    let test = mann_whitney_u(&repeats.0, &repeats.1).map(|t| TestResult {
        name: MANN_WHITNEY,
        method: Some(t.method),
        statistic: t.u,
        p: t.p,
        q: t.p,
        n: (t.n1 as u64, t.n2 as u64),
        // U counts base-above-candidate pairs: direction +1 means the candidate tends lower.
        candidate_higher: -t.direction(),
        degenerate: repeats.0.iter().chain(&repeats.1).all(|v| *v == repeats.0[0]),
    });
    Metric {
        name,
        unit,
        base: b,
        candidate: c,
        change: (b > 0.0).then(|| (c - b) / b * 100.0),
        threshold: Some(threshold),
        test,
        verdict: MetricVerdict::Ok,
        higher_is_better,
        judged: true,
    }
}

fn proportion_test(base: (u64, u64), cand: (u64, u64)) -> Option<TestResult> {
    two_proportion_z(base.0, base.1, cand.0, cand.1).map(|t| TestResult {
        name: TWO_PROPORTION,
        method: None,
        statistic: t.z,
        p: t.p,
        q: t.p,
        n: (base.1, cand.1),
        candidate_higher: if t.z > 0.0 {
            1.0
        } else if t.z < 0.0 {
            -1.0
        } else {
            0.0
        },
        degenerate: base.0 + cand.0 == 0 || (base.0 == base.1 && cand.0 == cand.1),
    })
}

/// A miscompare rate: events out of operations over all repeats, two-proportion z-test.
fn rate(name: String, base: (u64, u64), cand: (u64, u64), threshold_pp: f64) -> Metric {
    let frac = |(x, n): (u64, u64)| if n > 0 { x as f64 / n as f64 } else { 0.0 };
    let (b, c) = (frac(base), frac(cand));
    Metric {
        name,
        unit: Unit::Rate,
        base: b,
        candidate: c,
        change: Some((c - b) * 100.0),
        threshold: Some(threshold_pp),
        test: proportion_test(base, cand),
        verdict: MetricVerdict::Ok,
        higher_is_better: false,
        judged: true,
    }
}

/// Violations or lost updates out of the operations checked: one in the candidate where the
/// base had none is a regression; otherwise a two-proportion z-test decides.
fn events(name: &str, base: (u64, u64), cand: (u64, u64), judged: bool) -> Metric {
    Metric {
        name: name.into(),
        unit: Unit::Count,
        base: base.0 as f64,
        candidate: cand.0 as f64,
        change: None,
        threshold: None,
        test: proportion_test(base, cand),
        verdict: MetricVerdict::Ok,
        higher_is_better: false,
        judged,
    }
}

#[cfg(test)]
mod tests {
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
            })
            .collect();
        let mean = iops.iter().sum::<f64>() / iops.len() as f64;
        ResultPoint {
            workload: "ats".into(),
            ats_mode: Some("device".into()),
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
            verification: Some(VerificationDesc { checked: 1000, violations, lost_updates: 0, problems: vec![] }),
            repeats: if repeats.len() > 1 { repeats } else { vec![] },
            interrupted: false,
            diagnosis: Vec::new(),
        }
    }

    /// One point judged alone: no other tests to adjust for.
    fn judge(b: &ResultPoint, c: &ResultPoint, t: &Thresholds, alpha: f64) -> PointComparison {
        let mut r = super::judge(b, c, t);
        finish(&mut r, alpha);
        r
    }

    fn verdict_of<'a>(c: &'a PointComparison, name: &str) -> &'a Metric {
        c.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn a_clear_drop_over_five_repeats_is_a_regression() {
        let b = point(&[10000., 10100., 9950., 10050., 10020.], 0);
        let c = point(&[8000., 8100., 7950., 8050., 8020.], 0);
        let r = judge(&b, &c, &Thresholds::default(), 0.05);
        assert_eq!(r.verdict, Verdict::Regression, "{r:#?}");
        let m = verdict_of(&r, "iops");
        assert_eq!(m.verdict, MetricVerdict::Regression);
        assert!((m.test.unwrap().p - 0.007936507936507936).abs() < 1e-12);
        assert_eq!(verdict_of(&r, "ats p99").verdict, MetricVerdict::Regression, "latency rose by 25%");
        assert!(
            r.reasons[0].starts_with("iops -20.0% (beyond 5%), Mann-Whitney U (exact) p=0.008 q=0.008"),
            "{:?}",
            r.reasons
        );
        // The other way round it is better.
        assert_eq!(judge(&c, &b, &Thresholds::default(), 0.05).verdict, Verdict::Better);
    }

    #[test]
    fn a_small_significant_change_within_the_threshold_is_ok() {
        let b = point(&[10000., 10100., 9950., 10050., 10020.], 0);
        let c = point(&[9800., 9900., 9750., 9850., 9820.], 0);
        let r = judge(&b, &c, &Thresholds::default(), 0.05);
        assert_eq!(verdict_of(&r, "iops").verdict, MetricVerdict::Ok);
        assert_eq!(r.verdict, Verdict::Ok);
    }

    #[test]
    fn one_repeat_cannot_be_significant_and_says_so() {
        let r = judge(&point(&[10000.], 0), &point(&[5000.], 0), &Thresholds::default(), 0.05);
        assert_eq!(r.verdict, Verdict::Ok);
        assert_eq!(verdict_of(&r, "iops").verdict, MetricVerdict::Inconclusive);
        assert!(r.notes.iter().any(|n| n.contains("1+1 repeats") && n.contains("iops -50.0%")), "{:?}", r.notes);
    }

    #[test]
    fn one_violation_is_a_regression_whatever_the_repeats() {
        let r = judge(&point(&[10000.], 0), &point(&[10000.], 1), &Thresholds::default(), 0.05);
        assert_eq!(r.verdict, Verdict::Regression);
        assert!(r.reasons.iter().any(|x| x.contains("violations") && x.contains("always a regression")), "{r:#?}");
    }

    #[test]
    fn rmw_losing_updates_is_not_judged() {
        let mut b = point(&[10000.], 0);
        let mut c = point(&[10000.], 0);
        b.workload = "rmw".into();
        c.workload = "rmw".into();
        c.verification.as_mut().unwrap().lost_updates = 40;
        let r = judge(&b, &c, &Thresholds::default(), 0.05);
        assert_eq!(r.verdict, Verdict::Ok);
        assert_eq!(verdict_of(&r, "lost updates").candidate, 40.0);
    }

    #[test]
    fn miscompare_rates_need_significance_and_the_threshold() {
        let mut b = point(&[10000.], 0);
        let mut c = point(&[10000.], 0);
        b.miscompares = MiscompareCounts { total: 10, stale: 10, ..Default::default() };
        c.miscompares = MiscompareCounts { total: 40, stale: 40, ..Default::default() };
        // 1.0% -> 4.0% of 1000 operations: significant and 3pp beyond 0.5pp.
        let r = judge(&b, &c, &Thresholds::default(), 0.05);
        let m = verdict_of(&r, "miscompares stale");
        assert_eq!(m.verdict, MetricVerdict::Regression);
        assert!((m.change.unwrap() - 3.0).abs() < 1e-9);
        let loose: Thresholds = "miscompare=5pp".parse().unwrap();
        assert_eq!(verdict_of(&judge(&b, &c, &loose, 0.05), "miscompares stale").verdict, MetricVerdict::Ok);
        assert!(r.metrics.iter().all(|m| m.name != "miscompares corrupt"), "zero on both sides: left out");
    }
}
