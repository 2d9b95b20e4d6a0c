//! Exact latency quantiles of a resample's pooled intervals, without building a histogram per
//! resample.
//!
//! A bootstrap draws thousands of resamples, each a multiset of a side's intervals, and wants
//! the quantile of the histogram that adding their latency histograms would give. The side's
//! histograms of one operation kind are decoded once into a [`Pool`]: the union of their
//! recorded values is one shared, increasing value axis, cut into blocks of [`BLOCK`] values;
//! each interval (a row) keeps its counts on that axis sparsely and where each block's entries
//! start, and the pool keeps, per block, every row's count below the block (block-major, so
//! that one block's counts of all rows are contiguous).
//!
//! The quantile of a resample (how many times each row was drawn) is then HdrHistogram's rule
//! (the smallest value with at least `ceil(q * count)` of the count at or below it), found in
//! two steps: a binary search over the blocks, each probe one dot product of the times drawn
//! with the rows' counts below the block, then one pass over the drawn rows' entries in the
//! block found. A resample of R rows costs about R * log2(blocks) multiply-adds plus the
//! entries of one block, and the pool's memory is its entries plus 12 bytes per row and block.
//! Every count is kept: the identity resample gives exactly the merged histogram's quantile.

use hdrhistogram::Histogram;

/// Values per block of the shared axis.
pub const BLOCK: usize = 64;

/// One interval's histogram on the pool's axis.
#[derive(Debug, Clone)]
struct Row {
    total: u64,
    /// (index on the axis, count), by increasing index.
    entries: Vec<(u32, u64)>,
    /// Per block boundary b (0..=blocks): the position in `entries` of the first entry at or
    /// above b * BLOCK.
    first: Vec<u32>,
}

/// The latency histograms of one operation kind in every interval of a side, on one value
/// axis.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    /// Every recorded value of any row, increasing (each bucket at its highest equivalent value,
    /// as HdrHistogram reports quantiles).
    values: Vec<u64>,
    blocks: usize,
    rows: Vec<Row>,
    /// Per block boundary b (0..=blocks) and row r, at `b * rows + r`: the row's count at axis
    /// indices below b * BLOCK.
    below: Vec<u64>,
}

/// A histogram's recorded values and their counts, in increasing value.
pub type Recorded = Vec<(u64, u64)>;

/// A histogram's recorded values (see [`Recorded`]).
pub fn recorded(h: &Histogram<u64>) -> Recorded {
    h.iter_recorded().map(|v| (h.highest_equivalent(v.value_iterated_to()), v.count_at_value())).collect()
}

impl Pool {
    /// A pool of the recorded values of each row (as [`recorded`] gives them).
    pub fn new(rows: &[Recorded]) -> Pool {
        let mut values: Vec<u64> = rows.iter().flatten().map(|&(v, _)| v).collect();
        values.sort_unstable();
        values.dedup();
        let blocks = values.len().div_ceil(BLOCK).max(1);
        let rows: Vec<Row> = rows
            .iter()
            .map(|r| {
                let mut entries: Vec<(u32, u64)> = r
                    .iter()
                    .filter(|&&(_, c)| c > 0)
                    .map(|&(v, c)| (values.partition_point(|&x| x < v) as u32, c))
                    .collect();
                entries.sort_unstable_by_key(|&(i, _)| i);
                Row::new(entries, blocks)
            })
            .collect();
        let mut below = vec![0u64; (blocks + 1) * rows.len()];
        for (r, row) in rows.iter().enumerate() {
            let mut sum = 0;
            for b in 1..=blocks {
                sum +=
                    row.entries[row.first[b - 1] as usize..row.first[b] as usize].iter().map(|&(_, c)| c).sum::<u64>();
                below[b * rows.len() + r] = sum;
            }
        }
        Pool { values, blocks, rows, below }
    }

    /// A pool of histograms.
    pub fn of_histograms<'a>(hists: impl IntoIterator<Item = &'a Histogram<u64>>) -> Pool {
        Pool::new(&hists.into_iter().map(recorded).collect::<Vec<_>>())
    }

    /// The rows (intervals) of the pool.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The count of row `row`.
    pub fn count(&self, row: usize) -> u64 {
        self.rows[row].total
    }

    /// Row `row`'s recorded values and their counts, in increasing value.
    pub fn recorded(&self, row: usize) -> Recorded {
        self.rows[row].entries.iter().map(|&(i, c)| (self.values[i as usize], c)).collect()
    }

    /// The quantile `q` of the histogram adding row `r` `times[r]` times, for every row (`times`
    /// has one entry per row); None when that histogram is empty.
    pub fn quantile(&self, times: &[u64], q: f64) -> Option<u64> {
        let n = self.rows.len();
        assert_eq!(times.len(), n, "one count of draws per row");
        let below = |b: usize| self.below[b * n..(b + 1) * n].iter().zip(times).map(|(c, t)| c * t).sum::<u64>();
        let total = below(self.blocks);
        if total == 0 {
            return None;
        }
        // HdrHistogram's rule (value_at_quantile): at least ceil(q * count), at least one.
        let want = ((q.min(1.0) * total as f64).ceil() as u64).max(1);
        // below(lo) < want <= below(hi): the value is in block lo.
        let (mut lo, mut hi) = (0, self.blocks);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if below(mid) < want {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut counts = [0u64; BLOCK];
        for (row, &m) in self.rows.iter().zip(times).filter(|(_, &m)| m > 0) {
            for &(i, c) in &row.entries[row.first[lo] as usize..row.first[lo + 1] as usize] {
                counts[i as usize - lo * BLOCK] += c * m;
            }
        }
        let mut seen = below(lo);
        for (k, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Some(self.values[lo * BLOCK + k]);
            }
        }
        self.values.last().copied()
    }
}

impl Row {
    fn new(entries: Vec<(u32, u64)>, blocks: usize) -> Row {
        let first = (0..=blocks).map(|b| entries.partition_point(|&(i, _)| (i as usize) < b * BLOCK) as u32).collect();
        Row { total: entries.iter().map(|&(_, c)| c).sum(), entries, first }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn a_small_example_by_hand() {
        // Row 0: 10 x2, 20 x1; row 1: 15 x1, 30 x4. Drawn: row 0 twice, row 1 once:
        // 10 x4, 15 x1, 20 x2, 30 x4 = 11 values.
        let pool = Pool::new(&[vec![(10, 2), (20, 1)], vec![(15, 1), (30, 4)]]);
        let drawn = [2, 1];
        // ceil(0.5 * 11) = 6: 10 covers 4, 15 covers 5, 20 covers 7.
        assert_eq!(pool.quantile(&drawn, 0.5), Some(20));
        // ceil(0.3 * 11) = 4: 10 covers it.
        assert_eq!(pool.quantile(&drawn, 0.3), Some(10));
        // ceil(0.4 * 11) = 5: 15.
        assert_eq!(pool.quantile(&drawn, 0.4), Some(15));
        assert_eq!(pool.quantile(&drawn, 0.99), Some(30));
        assert_eq!(pool.quantile(&drawn, 0.0), Some(10), "q = 0: the first recorded value");
        assert_eq!(pool.quantile(&[0, 1], 0.2), Some(15));
        assert_eq!(pool.quantile(&[0, 0], 0.5), None);
        assert_eq!(Pool::new(&[vec![]]).quantile(&[3], 0.5), None, "an empty row");
    }

    /// Many distinct values, so that rows span many blocks.
    fn spread_rows() -> Vec<Histogram<u64>> {
        (0..12u64)
            .map(|i| hist((0..3000u64).map(|k| 20_000 + (k * 7919 + i * 104_729) % 900_000 + i * i * 50_000)))
            .collect()
    }

    #[test]
    fn the_identity_resample_is_the_merged_histograms_quantile() {
        let hs = spread_rows();
        let pool = Pool::of_histograms(&hs);
        assert!(pool.blocks > 20, "the test spans many blocks: {}", pool.blocks);
        let mut merged = Histogram::<u64>::new(3).unwrap();
        for h in &hs {
            merged.add(h).unwrap();
        }
        let all = vec![1; hs.len()];
        for q in [0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(pool.quantile(&all, q), Some(merged.value_at_quantile(q)), "q {q}");
        }
    }

    #[test]
    fn multiplicities_are_added_histograms() {
        let hs = spread_rows();
        let pool = Pool::of_histograms(&hs);
        let mut drawn = vec![0; hs.len()];
        (drawn[3], drawn[7], drawn[11], drawn[0]) = (2, 1, 3, 1);
        let mut merged = Histogram::<u64>::new(3).unwrap();
        for (h, &m) in hs.iter().zip(&drawn) {
            for _ in 0..m {
                merged.add(h).unwrap();
            }
        }
        for q in [0.05, 0.5, 0.99, 0.999] {
            assert_eq!(pool.quantile(&drawn, q), Some(merged.value_at_quantile(q)), "q {q}");
        }
    }
}
