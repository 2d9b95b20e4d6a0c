//! The lock table: for serialised ATS modes, one owner word per lock block, taken with a
//! non-blocking compare-exchange (a slot that loses waits in its worker's queue; no thread
//! ever blocks), and a counter of attempts in flight per lock.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[repr(align(64))]
#[derive(Default)]
struct Cell {
    owner: AtomicU64,
    inflight: AtomicU32,
}

/// Shared by all workers of a point; each lock on its own cache line.
pub struct LockTable {
    cells: Box<[Cell]>,
}

impl LockTable {
    pub fn new(locks: u32) -> Self {
        LockTable { cells: (0..locks.max(1)).map(|_| Cell::default()).collect() }
    }

    /// Take `lock` for `who` (non-zero); false if someone holds it.
    #[inline]
    pub fn try_acquire(&self, lock: u32, who: u64) -> bool {
        debug_assert!(who != 0);
        self.cells[lock as usize].owner.compare_exchange(0, who, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    #[inline]
    pub fn release(&self, lock: u32, who: u64) {
        let prev = self.cells[lock as usize].owner.swap(0, Ordering::Release);
        debug_assert_eq!(prev, who, "lock {lock} released by a non-owner");
    }

    /// Count an attempt starting on `lock`; returns how many are in flight, itself included.
    #[inline]
    pub fn enter(&self, lock: u32) -> u32 {
        self.cells[lock as usize].inflight.fetch_add(1, Ordering::Relaxed) + 1
    }

    #[inline]
    pub fn leave(&self, lock: u32) {
        self.cells[lock as usize].inflight.fetch_sub(1, Ordering::Relaxed);
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
        assert_eq!(t.enter(1), 1);
        assert_eq!(t.enter(1), 2);
        t.leave(1);
        assert_eq!(t.enter(1), 2);
    }
}
