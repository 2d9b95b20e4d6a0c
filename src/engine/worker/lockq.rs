//! Slots waiting for a host-side lock: per lock, this worker's waiting slots, first come first
//! served, and the locks that have any.

use std::collections::VecDeque;

pub(super) struct LockQueues {
    /// Per lock (only when locks are shared), the slots waiting for it.
    queues: Vec<VecDeque<u32>>,
    /// Locks whose queue is not empty.
    queued: Vec<u32>,
    pub waiting: u32,
}

impl LockQueues {
    pub fn new(locks: u32, qd: usize) -> Self {
        LockQueues {
            queues: (0..locks).map(|_| VecDeque::with_capacity(qd.min(4))).collect(),
            queued: Vec::with_capacity(qd),
            waiting: 0,
        }
    }

    /// Whether slots of this worker already wait for `lock` (a new attempt goes behind them).
    #[inline]
    pub fn has_waiters(&self, lock: u32) -> bool {
        !self.queues[lock as usize].is_empty()
    }

    #[inline]
    pub fn push(&mut self, lock: u32, slot: u32) {
        let q = &mut self.queues[lock as usize];
        if q.is_empty() {
            self.queued.push(lock);
        }
        q.push_back(slot);
        self.waiting += 1;
    }

    /// The first waiter of each queued lock, in turn, while `take` grants it the lock.
    #[inline]
    pub fn grant(&mut self, mut take: impl FnMut(u32, u32) -> bool, mut granted: impl FnMut(u32)) {
        let mut i = 0;
        while i < self.queued.len() {
            let lock = self.queued[i];
            let q = &mut self.queues[lock as usize];
            let s = q[0];
            if !take(lock, s) {
                i += 1;
                continue;
            }
            q.pop_front();
            if q.is_empty() {
                self.queued.swap_remove(i);
            } else {
                i += 1;
            }
            self.waiting -= 1;
            granted(s);
        }
    }

    /// Every waiting slot, emptying the queues (the point is stopping).
    pub fn drain(&mut self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.waiting as usize);
        for lock in self.queued.drain(..) {
            out.extend(self.queues[lock as usize].drain(..));
        }
        self.waiting = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_served_in_order() {
        let mut q = LockQueues::new(2, 4);
        q.push(1, 5);
        q.push(1, 6);
        q.push(0, 7);
        assert!(q.has_waiters(1) && q.has_waiters(0));
        let mut got = Vec::new();
        q.grant(|lock, _| lock == 1, |s| got.push(s));
        assert_eq!(got, vec![5], "one grant per lock per pass");
        assert_eq!(q.waiting, 2);
        let mut rest = q.drain();
        rest.sort();
        assert_eq!(rest, vec![6, 7]);
        assert_eq!(q.waiting, 0);
    }
}
