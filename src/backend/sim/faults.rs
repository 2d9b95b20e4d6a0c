//! Fault injection, `--inject KIND=RATE[,KIND=RATE...]`: what each kind does, which commands
//! it strikes, and the per-worker dice that decide it.
//!
//! Each kind is decided by one draw of the worker's seeded RNG per command it could strike
//! (an *eligible* command), in the order of [`Fault::ALL`]; a command struck by one kind is
//! not eligible for the later kinds of the same step. Faults strike only while the engine
//! measures: the set-up and the read-back of the lock blocks are exact.

use crate::workload::Rng;
use serde::Serialize;
use std::fmt;

/// A fault the simulated device can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A compare whose data matched reports a miscompare; nothing is written.
    FalseMiscompare,
    /// A COMPARE AND WRITE whose data matched writes the new image, then reports a
    /// miscompare (as if its success were lost and the host saw its retry fail).
    OwnWrite,
    /// A write (WRITE, the write of a matched COMPARE AND WRITE) writes only part of the
    /// block: the first half of a one-sector block, else a whole number of sectors.
    TornWrite,
    /// A write reports success and writes nothing.
    LostWrite,
    /// A read of a block written at least twice returns the image before its last write.
    StaleRead,
    /// The command completes [`super::latency::SPIKE_FACTOR`] times its mean service time
    /// late (at least 10 ms): its response is delayed, its data moved on time.
    LatencySpike,
    /// Something that is not atsbench (dd, fio) overwrites the block just before a compare
    /// (COMPARE AND WRITE, NVMe Compare) reaches it: lines `outside write #<16 hex digits>`,
    /// a new number for every write.
    ForeignWrite,
    /// The command fails with a medium error and moves no data: SCSI CHECK CONDITION, MEDIUM
    /// ERROR, 11/00 (unrecovered read error) for reads and compares, 0C/00 (write error) for
    /// writes; NVMe SCT 2h SC 81h (Unrecovered Read Error) or 80h (Write Fault).
    MediumError,
    /// The command is carried out (a WRITE or a matched COMPARE AND WRITE changes the block),
    /// then its answer is lost: the host sees a transport error (SCSI host byte DID_ERROR;
    /// NVMe SCT 3h SC 70h, Host Pathing Error), as when a LUN reset or a dropped connection
    /// ends a command the target had already run.
    ErrorAfterWrite,
    /// The device ignores the command: it is never executed and never answered (as
    /// scsi_debug's `opts` timeout does); only `--timeout` or the end of the point's drain
    /// lets go of it.
    NoAnswer,
    /// The device goes away, as a disk deleted or unplugged: the struck command and every
    /// later one, of every worker, fail with ENODEV and move no data.
    DeviceGone,
}

impl Fault {
    pub const COUNT: usize = 11;
    pub const ALL: [Fault; Fault::COUNT] = [
        Fault::FalseMiscompare,
        Fault::OwnWrite,
        Fault::TornWrite,
        Fault::LostWrite,
        Fault::StaleRead,
        Fault::LatencySpike,
        Fault::ForeignWrite,
        Fault::MediumError,
        Fault::ErrorAfterWrite,
        Fault::NoAnswer,
        Fault::DeviceGone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::FalseMiscompare => "false-miscompare",
            Fault::OwnWrite => "own-write",
            Fault::TornWrite => "torn-write",
            Fault::LostWrite => "lost-write",
            Fault::StaleRead => "stale-read",
            Fault::LatencySpike => "latency-spike",
            Fault::ForeignWrite => "foreign-write",
            Fault::MediumError => "medium-error",
            Fault::ErrorAfterWrite => "error-after-write",
            Fault::NoAnswer => "no-answer",
            Fault::DeviceGone => "device-gone",
        }
    }

    fn names() -> String {
        Fault::ALL.map(Fault::name).join(", ")
    }
}

/// Injection rates by kind (0: off), the value of `--inject`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Injections(pub [f64; Fault::COUNT]);

impl Injections {
    pub fn rate(&self, f: Fault) -> f64 {
        self.0[f as usize]
    }

    /// The kinds asked for, with their rates.
    pub fn asked(&self) -> impl Iterator<Item = (Fault, f64)> + '_ {
        Fault::ALL.into_iter().map(|f| (f, self.rate(f))).filter(|(_, r)| *r > 0.0)
    }
}

impl std::str::FromStr for Injections {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut rates = [0.0; Fault::COUNT];
        let mut seen = [false; Fault::COUNT];
        for item in s.split(',').map(str::trim) {
            let (kind, rate) = item.split_once('=').ok_or_else(|| {
                format!("`{item}`: write KIND=RATE, e.g. torn-write=0.01 (kinds: {})", Fault::names())
            })?;
            let f = Fault::ALL
                .into_iter()
                .find(|f| f.name() == kind.trim())
                .ok_or_else(|| format!("`{}` is not a fault kind; use one of {}", kind.trim(), Fault::names()))?;
            let r: f64 = rate.trim().parse().map_err(|_| format!("`{item}`: the rate `{rate}` is not a number"))?;
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("`{item}`: the rate must be between 0 and 1 (a fraction of commands), e.g. 0.01"));
            }
            if std::mem::replace(&mut seen[f as usize], true) {
                return Err(format!("`{}` is given twice; give each kind once", f.name()));
            }
            rates[f as usize] = r;
        }
        Ok(Injections(rates))
    }
}

impl fmt::Display for Injections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.asked().map(|(k, r)| format!("{}={r}", k.name())).collect();
        f.write_str(&parts.join(","))
    }
}

/// Commands a kind could strike and struck, as reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Struck {
    pub eligible: u64,
    pub injected: u64,
}

/// One worker's fault decisions: its own RNG (seeded from `--seed` and the worker) and what
/// it counted.
pub(super) struct Dice {
    rng: Rng,
    rates: Injections,
    /// Whether the engine is measuring (faults strike only then).
    pub on: bool,
    pub struck: [Struck; Fault::COUNT],
    /// The first block an injected foreign write overwrote (a unit index) and when (the
    /// monotonic clock, to find the first over all workers).
    pub first_foreign: Option<(u64, u64)>,
}

impl Dice {
    pub fn new(seed: u64, rates: Injections) -> Self {
        Dice { rng: Rng::new(seed), rates, on: false, struck: [Struck::default(); Fault::COUNT], first_foreign: None }
    }

    /// Whether `f` strikes this (eligible) command.
    #[inline]
    pub fn hit(&mut self, f: Fault) -> bool {
        let rate = self.rates.rate(f);
        if !self.on || rate <= 0.0 {
            return false;
        }
        let s = &mut self.struck[f as usize];
        s.eligible += 1;
        let hit = self.rng.chance(rate);
        s.injected += u64::from(hit);
        hit
    }

    /// A uniform draw in 0..n (n > 0), for where a torn write stops.
    pub fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_rates() {
        let i: Injections = "torn-write=0.01, stale-read=0.5".parse().unwrap();
        assert_eq!((i.rate(Fault::TornWrite), i.rate(Fault::StaleRead), i.rate(Fault::OwnWrite)), (0.01, 0.5, 0.0));
        assert_eq!(i.to_string(), "torn-write=0.01,stale-read=0.5");
        for (bad, needle) in [
            ("torn", "KIND=RATE"),
            ("tear=0.1", "not a fault kind"),
            ("lost-write=x", "not a number"),
            ("lost-write=1.5", "between 0 and 1"),
            ("lost-write=-0.1", "between 0 and 1"),
            ("own-write=0.1,own-write=0.2", "twice"),
        ] {
            let e = bad.parse::<Injections>().unwrap_err();
            assert!(e.contains(needle) && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn dice_count_only_while_measuring_and_only_asked_kinds() {
        let mut d = Dice::new(7, "lost-write=1".parse().unwrap());
        assert!(!d.hit(Fault::LostWrite), "set-up commands are exact");
        d.on = true;
        assert!(d.hit(Fault::LostWrite));
        assert!(!d.hit(Fault::TornWrite));
        assert_eq!(d.struck[Fault::LostWrite as usize], Struck { eligible: 1, injected: 1 });
        assert_eq!(d.struck[Fault::TornWrite as usize], Struck::default(), "a kind not asked for is not counted");
    }
}
