//! Typed, validated option values: queue-depth ranges, lists, sizes, regions and CPU lists.
//!
//! Everything here is parsed with `FromStr` so that clap reports a bad value with its own line.

use std::fmt;
use std::str::FromStr;

/// The most entries an io_uring submission queue can have (IORING_MAX_ENTRIES).
pub const MAX_QD: u32 = 32768;

/// The most values a list may name: more sweep points than anyone can wait for, and few
/// enough that a range such as `0..4294967295:1` is refused before it is built.
pub const MAX_VALUES: u64 = 65536;

/// The most CPUs a CPU list may name (Linux's largest NR_CPUS), so that a range such as
/// `0-18446744073709551615` is refused before it is built.
pub const MAX_CPUS: usize = 8192;

/// A list of values, written `1..256` (powers of two from 1 to 256), `a..b:step` (linear),
/// `1,3,8` (a list) or a single value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueList(pub Vec<u32>);

impl FromStr for ValueList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let values = if let Some((a, rest)) = s.split_once("..") {
            let (b, step) = match rest.split_once(':') {
                Some((b, step)) => (b, Some(parse_u32(step, s)?)),
                None => (rest, None),
            };
            let (a, b) = (parse_u32(a, s)?, parse_u32(b, s)?);
            if a > b {
                return Err(format!("`{s}`: the start {a} is above the end {b}; write it as LOW..HIGH"));
            }
            match step {
                Some(0) => return Err(format!("`{s}`: the step is 0; use a step of at least 1")),
                Some(step) if u64::from((b - a) / step) + 1 > MAX_VALUES => {
                    return Err(format!(
                        "`{s}` names {} values, more than {MAX_VALUES}; use a larger step",
                        u64::from((b - a) / step) + 1
                    ))
                }
                Some(step) => (a..=b).step_by(step as usize).collect(),
                None => powers_of_two(a, b, s)?,
            }
        } else {
            s.split(',').map(|v| parse_u32(v, s)).collect::<Result<Vec<_>, _>>()?
        };
        if values.is_empty() {
            return Err(format!("`{s}` names no value; write e.g. 1..256, 1..64:8 or 1,4,16"));
        }
        Ok(ValueList(values))
    }
}

fn powers_of_two(a: u32, b: u32, whole: &str) -> Result<Vec<u32>, String> {
    if a == 0 || !a.is_power_of_two() {
        return Err(format!(
            "`{whole}`: a range without a step runs over powers of two and must start at one (1, 2, 4, ...); \
             add a step for a linear range, e.g. {a}..{b}:1"
        ));
    }
    let mut v = Vec::new();
    let mut x = a as u64;
    while x <= b as u64 {
        v.push(x as u32);
        x *= 2;
    }
    Ok(v)
}

fn parse_u32(v: &str, whole: &str) -> Result<u32, String> {
    v.trim().parse::<u32>().map_err(|_| format!("`{whole}`: `{}` is not a whole number", v.trim()))
}

/// A byte size such as `4096`, `4k`, `64M`, `1G` or `4KiB` (binary multiples).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl FromStr for Bytes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(digits);
        let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a size; write e.g. 4096, 4k, 64M or 1G"))?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => return Err(format!("`{s}`: unknown unit `{unit}`; use k, M, G or T")),
        };
        n.checked_mul(mult).map(Bytes).ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A byte range `START..END` of the target; `START..` runs to the end of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionArg {
    pub start: u64,
    pub end: Option<u64>,
}

impl FromStr for RegionArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("`{s}` is not a region; write START..END in bytes, e.g. 0..64M or 1G.."))?;
        let start = if a.trim().is_empty() { 0 } else { a.parse::<Bytes>()?.0 };
        let end = if b.trim().is_empty() { None } else { Some(b.parse::<Bytes>()?.0) };
        if let Some(end) = end {
            if end <= start {
                return Err(format!("`{s}`: the region is empty; END must be above START"));
            }
        }
        Ok(RegionArg { start, end })
    }
}

/// The byte range a run may touch, resolved against the target and aligned to the block size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Region {
    pub start: u64,
    pub end: u64,
}

impl Region {
    /// Resolve `arg` against a target of `size` bytes with blocks of `bs` bytes.
    pub fn resolve(arg: Option<RegionArg>, size: u64, bs: u32) -> Result<Region, String> {
        let arg = arg.unwrap_or(RegionArg { start: 0, end: None });
        let end = arg.end.unwrap_or(size);
        let bs = bs as u64;
        if end > size {
            return Err(format!(
                "region {}..{} ends beyond the target's {size} bytes; give --region inside 0..{size}",
                arg.start, end
            ));
        }
        if arg.start % bs != 0 || end % bs != 0 {
            return Err(format!(
                "region {}..{} is not aligned to the {bs}-byte block size; round START and END to multiples of {bs}",
                arg.start, end
            ));
        }
        if end - arg.start < bs {
            return Err(format!("region {}..{end} holds no whole {bs}-byte block; make it larger", arg.start));
        }
        Ok(Region { start: arg.start, end })
    }

    pub fn blocks(&self, bs: u32) -> u64 {
        (self.end - self.start) / bs as u64
    }
}

/// A CPU list such as `0,1`, `0-3` or `0-1,4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl FromStr for CpuList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut cpus = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let bad = || format!("`{s}` is not a CPU list; write e.g. 0,1 or 0-3");
            if let Some((a, b)) = part.split_once('-') {
                let a: usize = a.trim().parse().map_err(|_| bad())?;
                let b: usize = b.trim().parse().map_err(|_| bad())?;
                if a > b {
                    return Err(bad());
                }
                if b - a >= MAX_CPUS - cpus.len().min(MAX_CPUS) {
                    return Err(format!("`{s}` names more than {MAX_CPUS} CPUs; name fewer"));
                }
                cpus.extend(a..=b);
            } else {
                cpus.push(part.parse().map_err(|_| bad())?);
            }
        }
        let mut sorted = cpus.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != cpus.len() {
            return Err(format!("`{s}` names a CPU twice; name each CPU once"));
        }
        Ok(CpuList(cpus))
    }
}

/// A positive duration: bare seconds (`10`, `0.5`) or with units (`500ms`, `2m`, `1h 30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

/// The longest duration a point may run.
const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 3600);

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || format!("`{s}` is not a duration; give positive seconds or a unit, e.g. 10, 0.5, 500ms or 2m");
        let d = match t.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => std::time::Duration::try_from_secs_f64(v).map_err(|_| bad())?,
            Ok(_) => return Err(bad()),
            Err(_) => humantime::parse_duration(t).map_err(|_| bad())?,
        };
        if d.is_zero() || d > MAX_DURATION {
            return Err(bad());
        }
        Ok(Duration(d))
    }
}

impl Duration {
    pub fn secs(self) -> f64 {
        self.0.as_secs_f64()
    }
}

/// Check a queue depth against the ring's limits.
pub fn check_qd(qd: u32) -> Result<(), String> {
    if qd == 0 {
        return Err("--qd 0: the queue depth must be at least 1".into());
    }
    if qd > MAX_QD {
        return Err(format!(
            "--qd {qd} is beyond the io_uring limit of {MAX_QD} entries per ring; lower it or add workers (--threads)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<u32> {
        s.parse::<ValueList>().unwrap().0
    }

    #[test]
    fn ranges_without_step_are_powers_of_two() {
        assert_eq!(list("1..256"), vec![1, 2, 4, 8, 16, 32, 64, 128, 256]);
        assert_eq!(list("4..20"), vec![4, 8, 16]);
        assert_eq!(list("1..1"), vec![1]);
    }

    #[test]
    fn ranges_with_step_are_linear() {
        assert_eq!(list("1..10:3"), vec![1, 4, 7, 10]);
        assert_eq!(list("0..4:2"), vec![0, 2, 4]);
    }

    #[test]
    fn lists_and_single_values() {
        assert_eq!(list("1,3,8"), vec![1, 3, 8]);
        assert_eq!(list("7"), vec![7]);
        assert_eq!(list(" 2 , 4 "), vec![2, 4]);
    }

    #[test]
    fn bad_ranges_name_the_problem() {
        for (s, needle) in [
            ("256..1", "above the end"),
            ("3..16", "powers of two"),
            ("0..16", "powers of two"),
            ("1..8:0", "step is 0"),
            ("a..8", "not a whole number"),
            ("1,,2", "not a whole number"),
            ("-1", "not a whole number"),
        ] {
            let e = s.parse::<ValueList>().unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }

    /// Found by tests/props.rs (`value_parsers_take_any_text`): a CPU range of about 2 * 10^12
    /// CPUs asked for a 16 TB Vec and the process aborted; `0..4294967295:1` built 16 GiB of
    /// values before anything looked at its length.
    #[test]
    fn huge_ranges_are_refused_before_they_are_built() {
        let e = "0..4294967295:1".parse::<ValueList>().unwrap_err();
        assert!(e.contains("4294967296 values, more than 65536"), "{e}");
        assert_eq!(list("1..65536:1").len(), 65536);
        assert!("0..65536:1".parse::<ValueList>().is_err());
        assert_eq!(list("0..4294967295:65536").len(), 65536);
        let e = "0-18446744073709551615".parse::<CpuList>().unwrap_err();
        assert!(e.contains("more than 8192 CPUs"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!("4096".parse::<Bytes>().unwrap().0, 4096);
        assert_eq!("4k".parse::<Bytes>().unwrap().0, 4096);
        assert_eq!("64M".parse::<Bytes>().unwrap().0, 64 << 20);
        assert_eq!("1GiB".parse::<Bytes>().unwrap().0, 1 << 30);
        assert!("12x".parse::<Bytes>().is_err());
        assert!("k".parse::<Bytes>().is_err());
        assert!("99999999999T".parse::<Bytes>().is_err());
    }

    #[test]
    fn regions_resolve_and_refuse() {
        let r: RegionArg = "1M..2M".parse().unwrap();
        let region = Region::resolve(Some(r), 64 << 20, 4096).unwrap();
        assert_eq!(region, Region { start: 1 << 20, end: 2 << 20 });
        assert_eq!(region.blocks(4096), 256);
        let whole = Region::resolve(None, 8192, 512).unwrap();
        assert_eq!(whole, Region { start: 0, end: 8192 });
        let open: RegionArg = "4k..".parse().unwrap();
        assert_eq!(Region::resolve(Some(open), 8192, 512).unwrap().start, 4096);
        assert!(Region::resolve(Some("0..1G".parse().unwrap()), 1 << 20, 512).unwrap_err().contains("beyond"));
        assert!(Region::resolve(Some("100..4096".parse().unwrap()), 1 << 20, 512).unwrap_err().contains("aligned"));
        assert!("2M..1M".parse::<RegionArg>().is_err());
        assert!("12".parse::<RegionArg>().is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!("0,1".parse::<CpuList>().unwrap().0, vec![0, 1]);
        assert_eq!("0-3".parse::<CpuList>().unwrap().0, vec![0, 1, 2, 3]);
        assert_eq!("0-1,4".parse::<CpuList>().unwrap().0, vec![0, 1, 4]);
        assert!("3-1".parse::<CpuList>().is_err());
        assert_eq!("0-8191".parse::<CpuList>().unwrap().0.len(), MAX_CPUS);
        assert!("0-8191,9000".parse::<CpuList>().is_ok(), "single CPUs are bounded by the text");
        assert!("0-8192".parse::<CpuList>().unwrap_err().contains("more than 8192 CPUs"));
        assert!("0-4000,5000-9200".parse::<CpuList>().is_err());
        assert!("0,0".parse::<CpuList>().is_err());
        assert!("x".parse::<CpuList>().is_err());
    }

    #[test]
    fn qd_limits() {
        assert!(check_qd(0).is_err());
        assert!(check_qd(1).is_ok());
        assert!(check_qd(MAX_QD).is_ok());
        assert!(check_qd(MAX_QD + 1).unwrap_err().contains("limit"));
    }

    #[test]
    fn seconds() {
        assert_eq!("0.5".parse::<Duration>().unwrap().secs(), 0.5);
        assert_eq!("2s".parse::<Duration>().unwrap().secs(), 2.0);
        assert_eq!("500ms".parse::<Duration>().unwrap().secs(), 0.5);
        assert_eq!("1m 30s".parse::<Duration>().unwrap().secs(), 90.0);
        assert!("0".parse::<Duration>().is_err());
        assert!("-1".parse::<Duration>().is_err());
        assert!("-3s".parse::<Duration>().is_err());
        assert!("nan".parse::<Duration>().is_err());
        assert!("1e300".parse::<Duration>().is_err());
    }
}
