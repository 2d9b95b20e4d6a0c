//! The simulated medium: one image shared by all workers, cut into units of the point's block
//! size, each unit behind the lock of its stripe, so that a compare and its write are atomic
//! against every other command. The faults that change data are applied here, under that
//! lock.
//!
//! Every command covers exactly one unit (atsbench's commands are one lock record or one
//! `--bs` block at a `--bs`-aligned offset); the protocol front ends refuse others. For
//! `stale-read` the medium keeps each unit's image from before its last write.

use super::faults::{Dice, Fault};
use std::sync::{Mutex, MutexGuard};

/// Stripes of the medium: units `u`, `u + STRIPES`, ... share a lock.
const STRIPES: u64 = 256;

/// What an outside writer leaves in a block (`foreign-write`): 32-byte lines of this prefix,
/// the write's number in 16 hex digits and a newline; not an atsbench record, and different
/// for every write (as dd or fio data would be).
pub const FOREIGN_PREFIX: &[u8; 15] = b"outside write #";

/// One line of a foreign write numbered `tag`.
fn foreign_line(tag: u64) -> [u8; 32] {
    let mut line = [b'\n'; 32];
    line[..15].copy_from_slice(FOREIGN_PREFIX);
    for (i, d) in line[15..31].iter_mut().enumerate() {
        *d = b"0123456789abcdef"[(tag >> (60 - 4 * i) & 0xf) as usize];
    }
    line
}

struct Stripe {
    cur: Vec<u8>,
    /// Each unit's image before its last write (empty unless kept).
    prev: Vec<u8>,
    /// Writes per unit, saturating at 2 (a unit has an older image from its second write).
    writes: Vec<u8>,
}

/// One unit under its stripe's lock.
struct Unit<'a> {
    cur: &'a mut [u8],
    prev: Option<&'a mut [u8]>,
    writes: &'a mut u8,
}

impl Unit<'_> {
    /// Write the first `n` bytes of `data` (all of a unit for a whole write).
    fn store(&mut self, data: &[u8], n: usize) {
        self.keep_previous();
        self.cur[..n].copy_from_slice(&data[..n]);
    }

    /// Before any write: remember the image it replaces, count the write.
    fn keep_previous(&mut self) {
        if let Some(p) = self.prev.as_deref_mut() {
            p.copy_from_slice(self.cur);
        }
        *self.writes = self.writes.saturating_add(1).min(2);
    }
}

/// How a compare went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The data matched (and, for COMPARE AND WRITE, the write was done as faults allow).
    Matched,
    /// The device reports a miscompare, with the offset of the first differing byte where
    /// the data really differs (none for an injected false or own-write miscompare).
    Miscompare { offset: Option<usize> },
}

pub(super) struct Media {
    unit: usize,
    lbs: usize,
    units: u64,
    stripes: Box<[Mutex<Stripe>]>,
}

impl Media {
    /// A zeroed medium of `bytes` (whole units of `unit` bytes, `lbs`-byte sectors); `keep_prev`
    /// keeps each unit's previous image. Memory is only touched where written.
    pub fn new(bytes: u64, unit: u32, lbs: u32, keep_prev: bool) -> Media {
        let units = bytes / u64::from(unit);
        let per = units.div_ceil(STRIPES).max(1) as usize;
        let n = STRIPES.min(units.max(1)) as usize;
        let unit = unit as usize;
        let stripes = (0..n)
            .map(|_| {
                Mutex::new(Stripe {
                    cur: vec![0; per * unit],
                    prev: if keep_prev { vec![0; per * unit] } else { Vec::new() },
                    writes: vec![0; per],
                })
            })
            .collect();
        Media { unit, lbs: lbs as usize, units, stripes }
    }

    pub fn units(&self) -> u64 {
        self.units
    }

    pub fn unit_bytes(&self) -> usize {
        self.unit
    }

    /// Run `f` on unit `u` under its stripe's lock.
    #[inline]
    fn with<R>(&self, u: u64, f: impl FnOnce(&mut Unit<'_>) -> R) -> R {
        let n = self.stripes.len() as u64;
        // A worker that panicked while holding a stripe failed the run already; the image is
        // still plain bytes, so the others may go on.
        let mut g: MutexGuard<'_, Stripe> = self.stripes[(u % n) as usize].lock().unwrap_or_else(|e| e.into_inner());
        let i = (u / n) as usize;
        let range = i * self.unit..(i + 1) * self.unit;
        let s = &mut *g;
        let prev = if s.prev.is_empty() { None } else { Some(&mut s.prev[range.clone()]) };
        f(&mut Unit { cur: &mut s.cur[range], prev, writes: &mut s.writes[i] })
    }

    /// READ: `stale-read` strikes units that have an older image.
    pub fn read(&self, u: u64, out: &mut [u8], dice: &mut Dice) {
        self.with(u, |c| match c.prev.as_deref() {
            Some(p) if *c.writes >= 2 && dice.hit(Fault::StaleRead) => out.copy_from_slice(p),
            _ => out.copy_from_slice(c.cur),
        })
    }

    /// WRITE: `torn-write`, then `lost-write`.
    pub fn write(&self, u: u64, data: &[u8], dice: &mut Dice) {
        self.with(u, |c| self.faulty_write(c, data, dice))
    }

    fn faulty_write(&self, c: &mut Unit<'_>, data: &[u8], dice: &mut Dice) {
        if dice.hit(Fault::TornWrite) {
            c.store(data, self.tear(data.len(), dice));
        } else if !dice.hit(Fault::LostWrite) {
            c.store(data, data.len());
        }
    }

    /// Bytes a torn write keeps: a whole number of sectors (at least one, not all) of a
    /// multi-sector unit, the first half of a one-sector unit.
    fn tear(&self, len: usize, dice: &mut Dice) -> usize {
        let sectors = len / self.lbs;
        if sectors > 1 {
            self.lbs * (1 + dice.below(sectors as u64 - 1) as usize)
        } else {
            len / 2 / 8 * 8
        }
    }

    /// `foreign-write` before a compare: an outside writer overwrites the unit.
    fn outside_writer(&self, u: u64, c: &mut Unit<'_>, dice: &mut Dice) {
        if dice.hit(Fault::ForeignWrite) {
            let line = foreign_line(dice.below(u64::MAX));
            c.keep_previous();
            for (d, s) in c.cur.iter_mut().zip(line.iter().cycle()) {
                *d = *s;
            }
            dice.first_foreign.get_or_insert_with(|| (u, crate::sys::clock::monotonic_ns()));
        }
    }

    /// COMPARE AND WRITE of one unit: `expected` then `new`. On a match, `false-miscompare`,
    /// `own-write`, then the write's faults.
    pub fn compare_and_write(&self, u: u64, expected: &[u8], new: &[u8], dice: &mut Dice) -> Compared {
        self.with(u, |c| {
            self.outside_writer(u, c, dice);
            if let Some(offset) = first_difference(expected, c.cur) {
                return Compared::Miscompare { offset: Some(offset) };
            }
            if dice.hit(Fault::FalseMiscompare) {
                return Compared::Miscompare { offset: None };
            }
            if dice.hit(Fault::OwnWrite) {
                c.store(new, new.len());
                return Compared::Miscompare { offset: None };
            }
            self.faulty_write(c, new, dice);
            Compared::Matched
        })
    }

    /// NVMe Compare of one unit: on a match, `false-miscompare`.
    pub fn compare(&self, u: u64, expected: &[u8], dice: &mut Dice) -> Compared {
        self.with(u, |c| {
            self.outside_writer(u, c, dice);
            match first_difference(expected, c.cur) {
                Some(offset) => Compared::Miscompare { offset: Some(offset) },
                None if dice.hit(Fault::FalseMiscompare) => Compared::Miscompare { offset: None },
                None => Compared::Matched,
            }
        })
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[cfg(test)]
mod tests {
    use super::super::faults::Injections;
    use super::*;

    fn dice(s: &str) -> Dice {
        let mut d = Dice::new(1, if s.is_empty() { Injections::default() } else { s.parse().unwrap() });
        d.on = true;
        d
    }

    #[test]
    fn compare_and_write_is_exact_without_faults() {
        let m = Media::new(1 << 20, 512, 512, false);
        let mut d = dice("");
        let (e, n) = (vec![0u8; 512], vec![7u8; 512]);
        assert_eq!(m.compare_and_write(3, &e, &n, &mut d), Compared::Matched);
        let mut out = vec![0u8; 512];
        m.read(3, &mut out, &mut d);
        assert_eq!(out, n);
        let mut stale_e = e.clone();
        stale_e[100] = 1;
        assert_eq!(m.compare_and_write(3, &stale_e, &e, &mut d), Compared::Miscompare { offset: Some(0) });
        assert_eq!(m.compare(3, &n, &mut d), Compared::Matched);
        m.read(3 + STRIPES, &mut out, &mut d);
        assert_eq!(out, e, "units sharing a stripe are apart");
    }

    #[test]
    fn faults_change_data_as_documented() {
        let m = Media::new(1 << 20, 4096, 512, true);
        let (a, b) = (vec![1u8; 4096], vec![2u8; 4096]);
        let mut out = vec![0u8; 4096];
        m.write(0, &a, &mut dice(""));
        m.write(0, &b, &mut dice(""));
        m.read(0, &mut out, &mut dice("stale-read=1"));
        assert_eq!(out, a, "the image before the last write");
        m.write(0, &a, &mut dice("torn-write=1"));
        m.read(0, &mut out, &mut dice(""));
        let kept = out.iter().take_while(|x| **x == 1).count();
        assert!(kept % 512 == 0 && kept > 0 && kept < 4096 && out[kept..].iter().all(|x| *x == 2), "{kept}");
        m.write(1, &a, &mut dice("lost-write=1"));
        m.read(1, &mut out, &mut dice("stale-read=1"));
        assert!(out.iter().all(|x| *x == 0), "lost, and a block written less than twice is never stale");
        let mut d = dice("own-write=1");
        assert_eq!(m.compare_and_write(2, &vec![0; 4096], &b, &mut d), Compared::Miscompare { offset: None });
        m.read(2, &mut out, &mut d);
        assert_eq!(out, b, "own-write writes, then reports a miscompare");
        let mut d = dice("foreign-write=1");
        assert_eq!(m.compare(2, &b, &mut d), Compared::Miscompare { offset: Some(0) });
        assert_eq!(d.first_foreign.map(|f| f.0), Some(2));
        m.read(2, &mut out, &mut d);
        assert_eq!(&out[..15], FOREIGN_PREFIX);
        assert_eq!(out[31], b'\n');
        let first = out[..32].to_vec();
        assert!(matches!(m.compare(2, &out, &mut d), Compared::Miscompare { .. }), "every foreign write differs");
        m.read(2, &mut out, &mut d);
        assert!(out[..32] != first[..] && out[32..64] == out[..32]);
    }
}
