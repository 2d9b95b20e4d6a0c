//! The lock table: for host-serialised ATS on lock blocks that several actors share, one owner
//! word per lock block, taken with a non-blocking compare-exchange (a slot that loses waits in
//! its worker's queue; no thread ever blocks). It is the only memory workers write to share.

use std::sync::atomic::{AtomicU64, Ordering};

#[repr(align(64))]
#[derive(Default)]
struct Cell {
    owner: AtomicU64,
}

/// Shared by all workers of a point; each lock on its own cache line.
pub struct LockTable {
    cells: Box<[Cell]>,
}

impl LockTable {
    /// A table of `locks` words (0 when nothing needs serialising).
    pub fn new(locks: u32) -> Self {
        LockTable { cells: (0..locks).map(|_| Cell::default()).collect() }
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
    fn each_lock_has_its_own_cache_line() {
        assert_eq!(std::mem::align_of::<Cell>(), 64);
    }
}
