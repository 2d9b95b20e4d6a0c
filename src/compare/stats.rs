//! The statistical tests of `compare`, as pure functions.
//!
//! - Mann-Whitney U (Wilcoxon rank-sum) over the repeats of a point, for IOPS and latency
//!   percentiles: the exact distribution of U when there are no ties and at most
//!   [`EXACT_MAX_N`] values in all; otherwise the normal approximation with the tie correction
//!   and a continuity correction of 0.5. Two-sided p-values, as scipy's `mannwhitneyu`.
//! - The two-proportion z-test (pooled variance), for miscompare rates, violations and lost
//!   updates, two-sided, as statsmodels' `proportions_ztest`.
//! - Benjamini-Hochberg adjustment of the p-values of all the tests of one comparison, as
//!   statsmodels' `multipletests(method="fdr_bh")`.

use serde::Serialize;

/// The exact distribution of U is used up to this many values in both samples together (and
/// only without ties); its counts are exact integers up to there.
pub const EXACT_MAX_N: usize = 100;

/// How a p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The exact permutation distribution of U.
    Exact,
    /// The normal approximation (tie and continuity corrected).
    Asymptotic,
}

/// The result of a Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankTest {
    /// U of the first sample: how many (x, y) pairs have x > y, ties counting one half.
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    pub method: Method,
    pub n1: usize,
    pub n2: usize,
}

impl RankTest {
    /// +1 when the first sample tends to be larger, -1 when smaller, 0 when neither.
    pub fn direction(&self) -> f64 {
        let mid = (self.n1 * self.n2) as f64 / 2.0;
        if self.u > mid {
            1.0
        } else if self.u < mid {
            -1.0
        } else {
            0.0
        }
    }
}

/// Midranks (1-based) of `x` followed by `y`, and the tie term sum(t^3 - t) over tied groups.
fn ranks(x: &[f64], y: &[f64]) -> (Vec<f64>, f64) {
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| all[a].total_cmp(&all[b]));
    let mut rank = vec![0.0; all.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && all[order[j + 1]] == all[order[i]] {
            j += 1;
        }
        // Positions i..=j hold equal values: each gets the mean of ranks i+1..=j+1.
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            rank[k] = mid;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (rank, ties)
}

/// U of the first sample and the tie term.
fn u_statistic(x: &[f64], y: &[f64]) -> (f64, f64) {
    let (rank, ties) = ranks(x, y);
    let n1 = x.len() as f64;
    let r1: f64 = rank[..x.len()].iter().sum();
    (r1 - n1 * (n1 + 1.0) / 2.0, ties)
}

/// Mann-Whitney U, two-sided: exact without ties for small samples, else asymptotic. None when
/// a sample is empty.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<RankTest> {
    mann_whitney_u_exact(x, y).or_else(|| mann_whitney_u_asymptotic(x, y))
}

/// Mann-Whitney U with the exact distribution of U; None when a sample is empty, there are
/// ties, or more than [`EXACT_MAX_N`] values.
pub fn mann_whitney_u_exact(x: &[f64], y: &[f64]) -> Option<RankTest> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 || n1 + n2 > EXACT_MAX_N {
        return None;
    }
    let (u, ties) = u_statistic(x, y);
    if ties > 0.0 {
        return None;
    }
    let counts = u_counts(n1, n2);
    let total: i128 = counts.iter().sum();
    // Two-sided: twice the tail beyond the larger of U1 and U2 = n1*n2 - U1.
    let big = u.max((n1 * n2) as f64 - u).round() as usize;
    let tail: i128 = counts[big..].iter().sum();
    let p = (2.0 * tail as f64 / total as f64).min(1.0);
    Some(RankTest { u, p, method: Method::Exact, n1, n2 })
}

/// Mann-Whitney U with the normal approximation, tie-corrected, with a continuity correction
/// of 0.5; None when a sample is empty.
pub fn mann_whitney_u_asymptotic(x: &[f64], y: &[f64]) -> Option<RankTest> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (u, ties) = u_statistic(x, y);
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let mu = a * b / 2.0;
    let var = if n > 1.0 { a * b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))) } else { 0.0 };
    let p = if var <= 0.0 {
        1.0 // every value tied: no evidence either way
    } else {
        let z = (u.max(a * b - u) - mu - 0.5) / var.sqrt();
        (2.0 * normal_sf(z)).clamp(0.0, 1.0)
    };
    Some(RankTest { u, p, method: Method::Asymptotic, n1, n2 })
}

/// How many of the C(m+n, m) arrangements of two samples of m and n distinct values give
/// each U = 0 ..= m*n: the coefficients of the Gaussian binomial coefficient [m+n, m]_q =
/// prod_{k=1..m} (1 - q^(n+k)) / (1 - q^k), in exact integers.
fn u_counts(m: usize, n: usize) -> Vec<i128> {
    let mut c = vec![0i128; m * n + m + n + 1];
    c[0] = 1;
    let mut degree = 0;
    for k in 1..=m {
        let s = n + k;
        for u in (s..=degree + s).rev() {
            c[u] -= c[u - s];
        }
        degree += s;
        // Dividing by (1 - q^k) is a running sum with stride k; the division is exact.
        for u in k..=degree {
            c[u] += c[u - k];
        }
        degree -= k;
    }
    c.truncate(m * n + 1);
    c
}

/// The smallest two-sided p-value the exact test can give for samples of n1 and n2 values
/// (all of one sample above all of the other): below alpha or the test can never be significant.
pub fn smallest_p(n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    // 2 / C(n1+n2, n1), computed in floating point (a ratio, no overflow).
    let mut c = 1.0f64;
    for i in 1..=n1.min(n2) {
        c = c * (n1 + n2 - n1.min(n2) + i) as f64 / i as f64;
    }
    (2.0 / c).min(1.0)
}

/// The result of a two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProportionTest {
    /// (p2 - p1) / se with the pooled proportion: positive when the second is higher.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Two-proportion z-test of x1 events in n1 trials against x2 in n2, pooled variance,
/// two-sided. When the pooled variance is zero (no events, or only events) there is no
/// difference to test: z = 0, p = 1. None when a side has no trials.
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<ProportionTest> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let (p1, p2) = (x1 as f64 / a, x2 as f64 / b);
    let pooled = (x1 + x2) as f64 / (a + b);
    let var = pooled * (1.0 - pooled) * (1.0 / a + 1.0 / b);
    if var <= 0.0 {
        return Some(ProportionTest { z: 0.0, p: 1.0 });
    }
    let z = (p2 - p1) / var.sqrt();
    Some(ProportionTest { z, p: (2.0 * normal_sf(z.abs())).min(1.0) })
}

/// Benjamini-Hochberg adjusted p-values (q-values), in the order of `p`: rejecting every
/// hypothesis with q < alpha keeps the expected share of false discoveries at most alpha (and,
/// when nothing differs, the chance of any false discovery at most alpha).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// The upper tail of the standard normal distribution, P(Z > z).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values: scipy 1.17.1, `scipy.stats.mannwhitneyu(x, y, alternative="two-sided",
    // method=...)` (statistic = U of x), and statsmodels 0.15.0,
    // `statsmodels.stats.proportion.proportions_ztest(count, nobs)` (z = (p1 - p2) / se, so
    // our z, which is (p2 - p1) / se, has the opposite sign), run on the samples below.

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12_f64.max(b.abs() * 1e-9), "{a} != {b}");
    }

    const SEPARATED: ([f64; 5], [f64; 5]) =
        ([10230., 10410., 10120., 10350., 10290.], [9870., 9950., 10020., 9810., 10080.]);
    const OVERLAP: ([f64; 6], [f64; 7]) =
        ([12.1, 14.3, 11.8, 13.5, 12.9, 15.2], [13.9, 16.4, 15.8, 14.7, 17.1, 13.2, 16.0]);
    const TIES: ([f64; 8], [f64; 9]) = ([3., 5., 5., 7., 8., 8., 8., 10.], [6., 7., 9., 9., 11., 12., 12., 14., 15.]);

    #[test]
    fn exact_matches_scipy() {
        let t = mann_whitney_u_exact(&SEPARATED.0, &SEPARATED.1).unwrap();
        assert_eq!(t.u, 25.0);
        close(t.p, 0.007936507936507936);
        assert_eq!(t.direction(), 1.0);
        let t = mann_whitney_u_exact(&OVERLAP.0, &OVERLAP.1).unwrap();
        assert_eq!(t.u, 6.0);
        close(t.p, 0.03496503496503496);
        assert_eq!(t.direction(), -1.0);
        let t = mann_whitney_u_exact(&[101.0, 97.5, 99.2], &[103.1, 98.8, 104.6]).unwrap();
        assert_eq!(t.u, 2.0);
        close(t.p, 0.4);
        let t = mann_whitney_u_exact(&[5.0], &[7.0]).unwrap();
        assert_eq!((t.u, t.p), (0.0, 1.0));
    }

    #[test]
    fn asymptotic_matches_scipy() {
        let t = mann_whitney_u_asymptotic(&SEPARATED.0, &SEPARATED.1).unwrap();
        close(t.p, 0.012185780355344813);
        let t = mann_whitney_u_asymptotic(&OVERLAP.0, &OVERLAP.1).unwrap();
        close(t.p, 0.03831876314941356);
        let t = mann_whitney_u_asymptotic(&[101.0, 97.5, 99.2], &[103.1, 98.8, 104.6]).unwrap();
        close(t.p, 0.38273308888522595);
        // With ties (the tie correction of the variance matters here).
        let t = mann_whitney_u_asymptotic(&TIES.0, &TIES.1).unwrap();
        assert_eq!(t.u, 11.5);
        close(t.p, 0.02029733836657323);
        let t = mann_whitney_u_asymptotic(&[5.0], &[7.0]).unwrap();
        assert_eq!(t.p, 1.0);
    }

    #[test]
    fn auto_uses_exact_without_ties_and_asymptotic_with() {
        assert_eq!(mann_whitney_u(&OVERLAP.0, &OVERLAP.1).unwrap().method, Method::Exact);
        let t = mann_whitney_u(&TIES.0, &TIES.1).unwrap();
        assert_eq!(t.method, Method::Asymptotic);
        close(t.p, 0.02029733836657323);
        assert!(mann_whitney_u(&[], &[1.0]).is_none());
        // All values equal: nothing to rank.
        assert_eq!(mann_whitney_u(&[3.0, 3.0], &[3.0, 3.0]).unwrap().p, 1.0);
    }

    #[test]
    fn exact_counts_sum_to_the_arrangements() {
        let c = u_counts(4, 6);
        assert_eq!(c.iter().sum::<i128>(), 210); // C(10, 4)
        assert_eq!(c.len(), 25);
        assert!(c.iter().zip(c.iter().rev()).all(|(a, b)| a == b), "symmetric");
        let c = u_counts(50, 50);
        assert_eq!(c.iter().sum::<i128>(), 100_891_344_545_564_193_334_812_497_256);
    }

    #[test]
    fn smallest_p_decides_what_repeats_can_show() {
        assert_eq!(smallest_p(1, 1), 1.0);
        close(smallest_p(3, 3), 0.1);
        close(smallest_p(4, 4), 2.0 / 70.0);
        close(smallest_p(5, 5), 0.007936507936507936);
    }

    #[test]
    fn benjamini_hochberg_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]
        let p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.029, 0.5, 1.0];
        let want = [0.04, 0.064, 0.06, 0.04, 0.26666666666666666, 0.06, 0.5714285714285714, 1.0];
        for (q, w) in benjamini_hochberg(&p).iter().zip(want) {
            close(*q, w);
        }
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[0.03]), [0.03]);
    }

    #[test]
    fn two_proportions_match_statsmodels() {
        let t = two_proportion_z(12, 16000, 31, 15500).unwrap();
        close(t.z, 3.003988400423001);
        close(t.p, 0.002664654839701821);
        let t = two_proportion_z(0, 1000, 3, 1000).unwrap();
        close(t.z, 1.733351308921596);
        close(t.p, 0.08303324629912977);
        let t = two_proportion_z(15000, 16000, 14800, 16000).unwrap();
        close(t.z, -4.418608385115463);
        close(t.p, 9.933845965060845e-06);
        let t = two_proportion_z(2, 40, 9, 38).unwrap();
        close(t.z, 2.369791314913784);
        close(t.p, 0.017798127822997497);
        assert_eq!(two_proportion_z(7, 5000, 7, 5000).unwrap(), ProportionTest { z: 0.0, p: 1.0 });
        assert_eq!(two_proportion_z(0, 10, 0, 10).unwrap(), ProportionTest { z: 0.0, p: 1.0 });
        assert!(two_proportion_z(0, 0, 1, 10).is_none());
    }
}
