//! Service times and the device queue of the simulated device.
//!
//! `--sim-latency DIST` draws each command's service time: `0` (the default: commands
//! complete at once), `fixed:D`, `uniform:A..B` (uniform between A and B) or `exp:M`
//! (exponential with mean M); durations take ns, us, ms or s. `--sim-qd N` gives the device N
//! command slots shared by all workers, like an HBA's or a LUN's queue depth: a command that
//! finds them all busy waits in the device's queue (first come, first served) and its service
//! starts when a slot frees. Its completion is due at start + service time, in wall-clock
//! time: the engine sees it through an io_uring timeout that expires then.

use crate::workload::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

/// How much later than its mean service time a `latency-spike` completes.
pub const SPIKE_FACTOR: u64 = 100;
/// The shortest spike: what a spike adds when the service time is 0.
pub const SPIKE_MIN_NS: u64 = 10_000_000;
/// The longest service time accepted.
const MAX_NS: u64 = 60_000_000_000;

/// A service-time distribution, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LatencyModel {
    /// Every command completes at once (a NOP).
    #[default]
    Zero,
    Fixed(u64),
    /// Uniform between the two, inclusive.
    Uniform(u64, u64),
    /// Exponential with this mean.
    Exp(u64),
}

impl LatencyModel {
    /// One service time.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        match *self {
            LatencyModel::Zero => 0,
            LatencyModel::Fixed(d) => d,
            LatencyModel::Uniform(lo, hi) => lo + rng.below(hi - lo + 1),
            LatencyModel::Exp(mean) => {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                ((-(1.0 - u).ln() * mean as f64) as u64).min(MAX_NS)
            }
        }
    }

    pub fn mean_ns(&self) -> u64 {
        match *self {
            LatencyModel::Zero => 0,
            LatencyModel::Fixed(d) | LatencyModel::Exp(d) => d,
            LatencyModel::Uniform(lo, hi) => lo + (hi - lo) / 2,
        }
    }

    /// What a latency spike adds to a command's completion.
    pub fn spike_ns(&self) -> u64 {
        (SPIKE_FACTOR * self.mean_ns()).max(SPIKE_MIN_NS)
    }
}

fn duration(s: &str, whole: &str) -> Result<u64, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| format!("`{whole}`: `{}` is not a duration; write e.g. 20us, 1.5ms or 500ns", s.trim()))?;
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if ns > MAX_NS {
        return Err(format!("`{whole}`: {} is longer than the 60 s a service time may take", s.trim()));
    }
    Ok(ns)
}

impl std::str::FromStr for LatencyModel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t == "0" || t == "none" {
            return Ok(LatencyModel::Zero);
        }
        let usage = || format!("`{s}` is not a latency model; write 0, fixed:20us, uniform:10us..50us or exp:30us");
        let (kind, arg) = t.split_once(':').ok_or_else(usage)?;
        match kind.trim() {
            "fixed" => Ok(LatencyModel::Fixed(duration(arg, s)?)),
            "exp" => Ok(LatencyModel::Exp(duration(arg, s)?)),
            "uniform" => {
                let (a, b) = arg.split_once("..").ok_or_else(usage)?;
                let (lo, hi) = (duration(a, s)?, duration(b, s)?);
                if lo > hi {
                    return Err(format!("`{s}`: the low end is above the high end; write uniform:LOW..HIGH"));
                }
                Ok(LatencyModel::Uniform(lo, hi))
            }
            _ => Err(usage()),
        }
    }
}

fn ns(f: &mut fmt::Formatter<'_>, v: u64) -> fmt::Result {
    f.write_str(&humantime::format_duration(std::time::Duration::from_nanos(v)).to_string().replace(' ', ""))
}

impl fmt::Display for LatencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LatencyModel::Zero => f.write_str("0"),
            LatencyModel::Fixed(d) => f.write_str("fixed:").and_then(|_| ns(f, d)),
            LatencyModel::Exp(d) => f.write_str("exp:").and_then(|_| ns(f, d)),
            LatencyModel::Uniform(lo, hi) => {
                f.write_str("uniform:")?;
                ns(f, lo)?;
                f.write_str("..")?;
                ns(f, hi)
            }
        }
    }
}

/// The device's command slots: when each frees, in nanoseconds of the monotonic clock.
pub(super) struct DeviceQueue {
    free_at: BinaryHeap<Reverse<u64>>,
}

impl DeviceQueue {
    pub fn new(depth: u32) -> Self {
        DeviceQueue { free_at: (0..depth.max(1)).map(|_| Reverse(0)).collect() }
    }

    /// A command that arrives at `arrival` and is served for `service` ns: it takes the slot
    /// that frees first and starts when that slot is free; returns the start.
    #[inline]
    pub fn start(&mut self, arrival: u64, service: u64) -> u64 {
        let free = self.free_at.pop().map_or(0, |Reverse(t)| t);
        let start = arrival.max(free);
        self.free_at.push(Reverse(start + service));
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_models() {
        for (s, m) in [
            ("0", LatencyModel::Zero),
            ("fixed:20us", LatencyModel::Fixed(20_000)),
            ("uniform:10us..50us", LatencyModel::Uniform(10_000, 50_000)),
            ("exp:1ms", LatencyModel::Exp(1_000_000)),
        ] {
            let got: LatencyModel = s.parse().unwrap();
            assert_eq!(got, m, "{s}");
            assert_eq!(got.to_string(), s);
        }
        for (bad, needle) in [
            ("fast", "not a latency model"),
            ("fixed:20", "not a duration"),
            ("uniform:50us..10us", "low end"),
            ("uniform:10us", "not a latency model"),
            ("fixed:2m", "60 s"),
        ] {
            let e = bad.parse::<LatencyModel>().unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn samples_follow_the_model() {
        let mut rng = Rng::new(3);
        let u = LatencyModel::Uniform(100, 200);
        assert!((0..1000).all(|_| (100..=200).contains(&u.sample(&mut rng))));
        let e = LatencyModel::Exp(10_000);
        let mean = (0..20_000).map(|_| e.sample(&mut rng)).sum::<u64>() / 20_000;
        assert!((9_000..11_000).contains(&mean), "{mean}");
        assert_eq!(LatencyModel::Fixed(20_000).spike_ns(), 10_000_000, "at least 10 ms");
        assert_eq!(LatencyModel::Fixed(200_000).spike_ns(), 20_000_000, "100 x the mean");
    }

    #[test]
    fn commands_beyond_the_depth_wait_for_a_slot() {
        let mut q = DeviceQueue::new(2);
        assert_eq!(q.start(0, 100), 0);
        assert_eq!(q.start(10, 100), 10);
        assert_eq!(q.start(20, 100), 100, "both slots busy: waits for the first to free");
        assert_eq!(q.start(30, 100), 110);
        assert_eq!(q.start(500, 100), 500, "idle again");
    }
}
