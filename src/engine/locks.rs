//! The lock table: for host-serialised ATS on lock blocks that several actors share, one owner
//! word per lock block, taken with a non-blocking compare-exchange (a slot that loses waits in
//! its worker's queue). A worker whose every slot waits for a lock held by another worker has
//! nothing to do: it sleeps on the table's release word (a futex) until a release wakes it,
//! instead of spinning in sched_yield. A release writes that word only when someone sleeps,
//! so the lock words are the only memory workers write to share on the per-I/O path.
//!
//! No lost wake-up: a sleeper announces itself (`sleepers`), reads the release count, tries
//! its locks again and sleeps only while the count is unchanged; a releaser frees the lock,
//! then reads `sleepers`. All are sequentially consistent, so either the releaser sees the
//! sleeper (and bumps the count, ending or preventing its sleep) or the sleeper's retry sees
//! the lock free.

use crate::sys::futex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[repr(align(64))]
#[derive(Default)]
struct Cell {
    owner: AtomicU64,
}

/// Workers asleep until a release, and the releases they wait for: on a line of their own.
#[repr(align(64))]
#[derive(Default)]
struct Wake {
    sleepers: AtomicU32,
    released: AtomicU32,
}

/// Shared by all workers of a point; each lock on its own cache line.
pub struct LockTable {
    cells: Box<[Cell]>,
    wake: Wake,
}

impl LockTable {
    /// A table of `locks` words (0 when nothing needs serialising).
    pub fn new(locks: u32) -> Self {
        LockTable { cells: (0..locks).map(|_| Cell::default()).collect(), wake: Wake::default() }
    }

    /// Take `lock` for `who` (non-zero); false if someone holds it.
    #[inline]
    pub fn try_acquire(&self, lock: u32, who: u64) -> bool {
        debug_assert!(who != 0);
        // SeqCst also on failure: the failed read is what a sleeper's check rests on (above).
        self.cells[lock as usize].owner.compare_exchange(0, who, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    #[inline]
    pub fn release(&self, lock: u32, who: u64) {
        let prev = self.cells[lock as usize].owner.swap(0, Ordering::SeqCst);
        debug_assert_eq!(prev, who, "lock {lock} released by a non-owner");
        if self.wake.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake.released.fetch_add(1, Ordering::SeqCst);
            futex::wake_all(&self.wake.released);
        }
    }

    /// Sleep until some lock is released or `timeout_ns` passes, unless `try_again` (which
    /// retries the caller's waiting slots) returns true. A release since the announcement,
    /// a signal or the timeout end the sleep; the caller re-checks everything after.
    pub fn sleep_unless(&self, timeout_ns: u64, try_again: impl FnOnce() -> bool) {
        self.wake.sleepers.fetch_add(1, Ordering::SeqCst);
        let seen = self.wake.released.load(Ordering::SeqCst);
        if !try_again() {
            futex::wait(&self.wake.released, seen, timeout_ns);
        }
        self.wake.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_at_a_time() {
        let t = LockTable::new(2);
        assert!(t.try_acquire(0, 1));
        assert!(!t.try_acquire(0, 2));
        assert!(t.try_acquire(1, 2));
        t.release(0, 1);
        assert!(t.try_acquire(0, 2));
    }

    #[test]
    fn a_sleeper_is_woken_by_the_release_it_waits_for() {
        let t = LockTable::new(1);
        assert!(t.try_acquire(0, 1));
        let (mut got, mut rounds) = (false, 0u32);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Holds the lock until the other thread sleeps, then releases it.
                while t.wake.sleepers.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
                t.release(0, 1);
            });
            while !got {
                rounds += 1;
                // A whole hour: only the release (or its bump of the count) ends this sleep.
                t.sleep_unless(3_600_000_000_000, || {
                    got = t.try_acquire(0, 2);
                    got
                });
            }
        });
        assert!(got, "acquired after the release ({rounds} rounds)");
    }

    #[test]
    fn releases_without_sleepers_leave_the_wake_word_alone() {
        let t = LockTable::new(1);
        for _ in 0..3 {
            assert!(t.try_acquire(0, 7));
            t.release(0, 7);
        }
        assert_eq!(t.wake.released.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn each_lock_has_its_own_cache_line() {
        assert_eq!(std::mem::align_of::<Cell>(), 64);
    }
}
