//! The compare-and-write state machine of the `ats`, `rmw` and `compare` workloads: one
//! attempt prepares its expected (E) and new (N) images, then goes by the ATS mode; a
//! miscompare is classified from the block in R and retried with what was read.

use super::{Step, Worker};
use crate::backend::{AtsMode, Backend, Op};
use crate::stats::Kind;
use crate::verify::classify::{classify, Class, Context};
use crate::verify::history::Claim;
use crate::workload::record::{Owner, Record};
use crate::workload::Workload;

impl<B: Backend> Worker<'_, B> {
    /// One compare-and-write attempt: prepare E and N, then go by the ATS mode.
    pub(super) fn start_attempt(&mut self, s: usize, at: u64) {
        self.started += 1;
        let (lock, retry, read_gen) = (self.slots[s].lock, self.slots[s].retry, self.slots[s].read_gen);
        let l = lock as usize;
        let bs = self.bs;
        let base = self.area(s, 0);
        let expected_gen = {
            let slab = self.ring.slab_mut().range_mut(base, 3 * bs);
            if retry {
                slab.copy_within(2 * bs..3 * bs, 0);
                read_gen
            } else {
                self.view[l].encode(&mut slab[..bs]);
                Some(self.view[l].generation)
            }
        };
        self.next_seq += 1;
        let new = Record {
            lock,
            generation: expected_gen.unwrap_or(self.max_seen[l]) + 1,
            owner: Owner { host: self.spec.host, worker: self.id, seq: self.next_seq },
        };
        new.encode(self.ring.slab_mut().range_mut(base + bs, bs));
        let inflight = self.locks.enter(lock);
        let pl = &mut self.per_lock[l];
        pl.attempts += 1;
        pl.inflight_sum += inflight as u64;
        pl.inflight_max = pl.inflight_max.max(inflight);
        let slot = &mut self.slots[s];
        slot.new = new;
        slot.max_seen_at_issue = self.max_seen[l];
        slot.attempt_at = at;
        let offset = self.lock_offset(lock);
        match (self.spec.workload, self.mode) {
            (Workload::Rmw, _) => self.issue(s, Step::Read, Op::Read, offset, base + 2 * bs, bs),
            (_, AtsMode::Device) => self.issue(s, Step::CompareWrite, Op::CompareWrite, offset, base, bs),
            _ => {
                // Behind this worker's earlier waiters, so that a slot that just released the
                // lock cannot take it again ahead of them.
                if self.queues[l].is_empty() && self.locks.try_acquire(lock, self.owner_word(s)) {
                    self.proceed_locked(s);
                } else {
                    if self.queues[l].is_empty() {
                        self.queued_locks.push(lock);
                    }
                    self.queues[l].push_back(s as u32);
                    self.waiting += 1;
                }
            }
        }
    }

    pub(super) fn owner_word(&self, s: usize) -> u64 {
        ((self.id as u64) << 32 | s as u64) + 1
    }

    pub(super) fn proceed_locked(&mut self, s: usize) {
        self.slots[s].holds_lock = true;
        let offset = self.lock_offset(self.slots[s].lock);
        let base = self.area(s, 0);
        match self.mode {
            AtsMode::CompareThenWrite => self.issue(s, Step::Compare, Op::Compare, offset, base, self.bs),
            _ => self.issue(s, Step::Read, Op::Read, offset, base + 2 * self.bs, self.bs),
        }
    }

    /// Give the first waiter of each queued lock a try.
    pub(super) fn retry_waiting(&mut self) {
        let mut i = 0;
        while i < self.queued_locks.len() {
            let lock = self.queued_locks[i];
            let q = &self.queues[lock as usize];
            let s = q[0] as usize;
            if !self.locks.try_acquire(lock, self.owner_word(s)) {
                i += 1;
                continue;
            }
            let q = &mut self.queues[lock as usize];
            q.pop_front();
            if q.is_empty() {
                self.queued_locks.swap_remove(i);
            } else {
                i += 1;
            }
            self.waiting -= 1;
            self.proceed_locked(s);
        }
    }

    pub(super) fn release(&mut self, s: usize) {
        if self.slots[s].holds_lock {
            self.slots[s].holds_lock = false;
            self.locks.release(self.slots[s].lock, self.owner_word(s));
        }
    }

    pub(super) fn end_attempt(&mut self, s: usize) {
        self.release(s);
        self.locks.leave(self.slots[s].lock);
    }

    /// The read of host-emulated ATS or rmw: compare R with E in the host.
    pub(super) fn on_read(&mut self, s: usize) {
        let base = self.area(s, 0);
        let bs = self.bs;
        let same = {
            let v = self.ring.slab().range(base, 3 * bs);
            v[..bs] == v[2 * bs..]
        };
        if !same {
            self.release(s);
            self.on_miscompare(s);
        } else if self.stopping {
            self.end_attempt(s);
        } else {
            let offset = self.lock_offset(self.slots[s].lock);
            self.issue(s, Step::Write, Op::Write, offset, base + bs, bs);
        }
    }

    pub(super) fn on_success(&mut self, s: usize) {
        self.release(s);
        let slot = self.slots[s];
        let l = slot.lock as usize;
        self.claims.push(Claim { lock: slot.lock, generation: slot.new.generation, owner: slot.new.owner });
        self.view[l] = slot.new;
        self.max_seen[l] = self.max_seen[l].max(slot.new.generation);
        self.lat.record(Kind::Ats, self.now.saturating_sub(slot.attempt_at));
        self.lat.record(Kind::Acquire, self.now.saturating_sub(slot.acquire_at));
        self.counters.ops += 1;
        self.counters.acquires += 1;
        self.per_lock[l].successes += 1;
        self.end_attempt(s);
        self.begin(s);
    }

    /// Classify a miscompare from the block in R, then retry with what was read.
    pub(super) fn on_miscompare(&mut self, s: usize) {
        let slot = self.slots[s];
        let l = slot.lock as usize;
        let base = self.area(s, 0);
        let bs = self.bs;
        let ctx = Context {
            lock: slot.lock,
            host: self.spec.host,
            workers: self.spec.threads(),
            max_seen_at_issue: slot.max_seen_at_issue,
        };
        let v = self.ring.slab().range(base, 3 * bs);
        let (expected, new, read) = (&v[..bs], &v[bs..2 * bs], &v[2 * bs..]);
        let class = classify(read, expected, new, &ctx);
        let found = Record::decode(read).ok().filter(|r| r.lock == slot.lock);
        self.counters.miscompares[class.index()] += 1;
        self.counters.ops += 1;
        self.per_lock[l].miscompares += 1;
        self.lat.record(Kind::Ats, self.now.saturating_sub(slot.attempt_at));
        if let Some(r) = found {
            self.view[l] = r;
            self.max_seen[l] = self.max_seen[l].max(r.generation);
        }
        self.end_attempt(s);
        if self.stopping || self.started >= self.ops_target {
            return;
        }
        self.counters.retries += 1;
        let slot = &mut self.slots[s];
        slot.retry = true;
        slot.read_gen = found.map(|r| r.generation);
        self.start_attempt(s, self.now);
    }

    pub(super) fn on_check(&mut self, s: usize, miscompared: bool) {
        let injected = self.slots[s].injected;
        self.counters.ops += 1;
        self.counters.injected += injected as u64;
        match (injected, miscompared) {
            (true, false) => self.counters.undetected += 1,
            (false, true) => self.counters.miscompares[Class::False.index()] += 1,
            _ => {}
        }
        if miscompared && injected {
            self.counters.detected += 1;
        }
        self.begin(s);
    }
}
