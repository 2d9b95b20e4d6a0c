//! `--max-regression`: the margins, how large a change must surely be to count as a regression;
//! naming p50 or p99.9 also gates them.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// The largest change that is still not a regression. IOPS: a drop in percent; latency
/// percentiles: a rise in percent; miscompare rates: a rise in percentage points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub iops_pct: f64,
    pub p50_pct: f64,
    pub p99_pct: f64,
    pub p999_pct: f64,
    pub miscompare_pp: f64,
    /// Which of the figures gated only when named (p50, p99.9) `--max-regression` named.
    #[serde(skip)]
    pub named: Named,
}

/// The optional gates `--max-regression` turned on by naming them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Named {
    pub p50: bool,
    pub p999: bool,
}

/// The defaults: `iops=5%,p50=10%,p99=10%,p99.9=20%,miscompare=0.5pp`. The tail percentile
/// moves most from run to run, so it gets the widest margin.
impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            iops_pct: 5.0,
            p50_pct: 10.0,
            p99_pct: 10.0,
            p999_pct: 20.0,
            miscompare_pp: 0.5,
            named: Named::default(),
        }
    }
}

impl fmt::Display for Thresholds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "iops={}%,p50={}%,p99={}%,p99.9={}%,miscompare={}pp",
            self.iops_pct, self.p50_pct, self.p99_pct, self.p999_pct, self.miscompare_pp
        )
    }
}

const EXAMPLE: &str = "e.g. iops=5%,p99=10%,miscompare=0.5pp";

impl FromStr for Thresholds {
    type Err = String;

    /// `KEY=VALUE[,KEY=VALUE...]`; keys not given keep their defaults. Keys: iops, p50, p99,
    /// p99.9 (or p999), latency (all three percentiles) in percent (`5%`); miscompare in
    /// percentage points (`0.5pp`).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut t = Thresholds::default();
        for item in s.split(',').map(str::trim) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!("`{item}` is not KEY=VALUE; {EXAMPLE}"));
            };
            let (key, value) = (key.trim(), value.trim());
            let pp = key == "miscompare";
            let (number, unit) = if pp {
                (value.strip_suffix("pp"), "percentage points, e.g. miscompare=0.5pp")
            } else {
                (value.strip_suffix('%'), "a percentage, e.g. iops=5%")
            };
            let Some(number) = number else {
                return Err(format!("`{item}`: give {unit}"));
            };
            let v: f64 = match number.trim().parse() {
                Ok(v) if f64::is_finite(v) && v >= 0.0 => v,
                _ => return Err(format!("`{item}`: `{number}` is not a number of 0 or more; {EXAMPLE}")),
            };
            match key {
                "iops" => t.iops_pct = v,
                "p50" => (t.p50_pct, t.named.p50) = (v, true),
                "p99" => t.p99_pct = v,
                "p99.9" | "p999" => (t.p999_pct, t.named.p999) = (v, true),
                "latency" => {
                    (t.p50_pct, t.p99_pct, t.p999_pct) = (v, v, v);
                    t.named = Named { p50: true, p999: true };
                }
                "miscompare" => t.miscompare_pp = v,
                _ => {
                    return Err(format!(
                        "`{key}` is not a threshold; use iops, p50, p99, p99.9, latency or miscompare ({EXAMPLE})"
                    ))
                }
            }
        }
        Ok(t)
    }
}

impl Thresholds {
    /// Whether `--max-regression` named this latency percentile (`p50`, `p999`), which makes
    /// it gated; p99 always is.
    pub fn names(&self, percentile: &str) -> bool {
        match percentile {
            "p50" => self.named.p50,
            "p999" => self.named.p999,
            _ => true,
        }
    }

    /// The threshold in percent of a latency percentile (`p50`, `p99`, `p999`).
    pub fn latency_pct(&self, percentile: &str) -> f64 {
        match percentile {
            "p50" => self.p50_pct,
            "p99" => self.p99_pct,
            _ => self.p999_pct,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form_and_keeps_defaults() {
        let t: Thresholds = "iops=5%,p99=10%,miscompare=0.5pp".parse().unwrap();
        assert_eq!(t, Thresholds::default());
        let t: Thresholds = "iops=2.5%, p99.9=50%".parse().unwrap();
        assert_eq!((t.iops_pct, t.p999_pct, t.p50_pct), (2.5, 50.0, 10.0));
        let t: Thresholds = "latency=15%".parse().unwrap();
        assert_eq!((t.p50_pct, t.p99_pct, t.p999_pct), (15.0, 15.0, 15.0));
        let round = Thresholds::default().to_string().parse::<Thresholds>().unwrap();
        assert_eq!(round, Thresholds { named: Named { p50: true, p999: true }, ..Thresholds::default() });
        assert!(t.names("p50") && t.names("p999"), "latency names all three");
        let t: Thresholds = "p99.9=30%".parse().unwrap();
        assert!(t.names("p999") && !t.names("p50") && t.names("p99"));
    }

    #[test]
    fn errors_are_one_line_naming_the_item_and_the_fix() {
        for (s, words) in [
            ("iops5%", "not KEY=VALUE"),
            ("iops=5", "give a percentage"),
            ("miscompare=0.5%", "percentage points"),
            ("foo=1%", "`foo` is not a threshold"),
            ("p99=-3%", "0 or more"),
            ("p99=x%", "not a number"),
            ("", "not KEY=VALUE"),
        ] {
            let e = s.parse::<Thresholds>().unwrap_err();
            assert!(e.contains(words) && !e.contains('\n'), "{s}: {e}");
        }
    }
}
