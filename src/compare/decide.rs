//! The verdict rule: an interval of the effect against the user's margin.
//!
//! Every gated figure has an effect, signed so that worse is positive (the log of
//! candidate/base for IOPS and latency, negated for IOPS; the difference for rates), and a
//! margin from `--max-regression` on the same scale. Its two-sided interval at level
//! 1 - 0.10/m (m gated figures in the comparison: Bonferroni, so that the chance of any false
//! regression stays at 5 % one-sided) is the wider of the hierarchical bootstrap's and the
//! random-effects t interval (`inference`). Then:
//! - the whole interval above +margin: **regression**;
//! - the whole interval below -margin: **better**;
//! - the whole interval below +margin (it cannot be worse by more than the margin): **ok**;
//! - otherwise (the interval straddles +margin): **inconclusive**, with the repeats that
//!   would likely decide it.
//!
//! A "zero in the base, some in the candidate" event class (a miscompare class, violations,
//! lost updates) is a regression whatever the interval: such events mean a new failure mode.

use super::inference::{Spread, TInterval};
use serde::Serialize;

/// The verdict on one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricVerdict {
    Ok,
    Better,
    Regression,
    /// The interval straddles the margin: could be worse by more than it, or not.
    Inconclusive,
}

/// The confidence of the family of gated figures: two-sided 90 %, so each one-sided claim
/// (regression, or not worse) is at 5 %.
pub const FAMILY_ALPHA: f64 = 0.10;

/// What an interval rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "basis")]
pub enum Basis {
    /// The hierarchical bootstrap (repeats, then blocks of intervals).
    Bootstrap,
    /// The random-effects t interval from the between-repeat variance.
    RandomEffects { df: f64 },
    /// One repeat per side: the stated run-to-run noise (percent).
    RunNoise { pct: f64 },
}

impl Basis {
    pub fn short(&self) -> String {
        match self {
            Basis::Bootstrap => "bootstrap".into(),
            Basis::RandomEffects { df } => format!("t df={df:.1}"),
            Basis::RunNoise { pct } => format!("noise {pct}%"),
        }
    }
}

/// An interval of the effect (worse positive) and what it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectInterval {
    pub lo: f64,
    pub hi: f64,
    pub basis: Basis,
}

/// The wider of the bootstrap's and the random-effects interval (either may be missing).
pub fn wider(boot: Option<(f64, f64)>, re: Option<TInterval>, noise_pct: f64) -> Option<EffectInterval> {
    let re = re.map(|t| EffectInterval {
        lo: t.lo,
        hi: t.hi,
        basis: match t.spread {
            Spread::Repeats { df } => Basis::RandomEffects { df },
            Spread::RunNoise => Basis::RunNoise { pct: noise_pct },
        },
    });
    let boot = boot.map(|(lo, hi)| EffectInterval { lo, hi, basis: Basis::Bootstrap });
    match (boot, re) {
        (Some(b), Some(r)) => Some(if b.hi - b.lo > r.hi - r.lo { b } else { r }),
        (b, r) => b.or(r),
    }
}

/// The verdict of an interval against a margin (both on the effect's scale, worse positive).
pub fn verdict(lo: f64, hi: f64, margin: f64) -> MetricVerdict {
    if lo > margin {
        MetricVerdict::Regression
    } else if hi < -margin {
        MetricVerdict::Better
    } else if hi <= margin {
        MetricVerdict::Ok
    } else {
        MetricVerdict::Inconclusive
    }
}

/// About how many repeats per side would likely decide an inconclusive interval measured with
/// `n` repeats per side: its half-width shrinks as 1/sqrt(n), and it must shrink below the
/// distance of its centre from the margin. None when the centre sits on the margin (a change
/// of about the margin's size: more repeats may never decide it).
pub fn repeats_to_decide(lo: f64, hi: f64, margin: f64, n: usize) -> Option<usize> {
    let (centre, half) = ((lo + hi) / 2.0, (hi - lo) / 2.0);
    let d = (centre - margin).abs();
    if d < half / 10.0 || half <= 0.0 {
        return None;
    }
    let k = (n.max(1) as f64 * (half / d).powi(2)).ceil() as usize;
    Some(k.max(n.max(1) + 1).max(2))
}

/// The sentence of an inconclusive figure: what would likely decide it.
pub fn to_decide(lo: f64, hi: f64, margin: f64, n: usize) -> String {
    match repeats_to_decide(lo, hi, margin, n) {
        Some(k) if k <= 100 => format!("about {k} repeats per side would likely decide it"),
        Some(_) => "the change is close to the margin: over 100 repeats per side would be needed".into(),
        None => "the change is about the margin itself: more repeats may not decide it".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_against_the_margin() {
        let m = 0.05;
        assert_eq!(verdict(0.06, 0.2, m), MetricVerdict::Regression);
        assert_eq!(verdict(-0.04, 0.04, m), MetricVerdict::Ok);
        assert_eq!(verdict(-0.3, 0.04, m), MetricVerdict::Ok, "not worse beyond the margin");
        assert_eq!(verdict(-0.3, -0.06, m), MetricVerdict::Better);
        assert_eq!(verdict(0.01, 0.09, m), MetricVerdict::Inconclusive);
        assert_eq!(verdict(-0.2, 0.3, m), MetricVerdict::Inconclusive);
    }

    #[test]
    fn the_wider_interval_wins() {
        let t = TInterval { estimate: 0.1, lo: 0.0, hi: 0.2, spread: Spread::Repeats { df: 4.0 } };
        let w = wider(Some((0.05, 0.15)), Some(t), 5.0).unwrap();
        assert_eq!(w.basis, Basis::RandomEffects { df: 4.0 });
        let w = wider(Some((-0.1, 0.3)), Some(t), 5.0).unwrap();
        assert_eq!(w.basis, Basis::Bootstrap);
        assert!(wider(None, None, 5.0).is_none());
    }

    #[test]
    fn repeats_to_decide_shrink_the_interval_past_the_margin() {
        // Centre 0.10, half 0.08, margin 0.05: d = 0.05, (0.08/0.05)^2 = 2.56 -> 3 * 2.56 = 8.
        assert_eq!(repeats_to_decide(0.02, 0.18, 0.05, 3), Some(8));
        assert_eq!(repeats_to_decide(0.0, 0.1, 0.05, 3), None, "centred on the margin");
        assert!(to_decide(0.0, 0.1, 0.05, 3).contains("may not decide"));
    }
}
