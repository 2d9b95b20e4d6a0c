//! The compare-and-write state machine of attempt slots (`ats`, `rmw`, the heartbeat): one
//! attempt prepares its expected (E) and new (N) images, then goes by the ATS mode; a
//! miscompare is classified from the block in R and retried with what was read.

use super::{Step, Worker};
use crate::backend::block::ExpectedFrom;
use crate::backend::{AtsMode, Backend, Op};
use crate::stats::Kind;
use crate::verify::classify::{classify, Class, Context};
use crate::verify::history::Claim;
use crate::workload::cast::Role;
use crate::workload::record::{Invalid, Owner, Record};

/// The lock-table word of slot `s` of worker `id` (never 0).
fn owner_word(id: u32, s: u32) -> u64 {
    (u64::from(id) << 32 | u64::from(s)) + 1
}

impl<B: Backend> Worker<'_, B> {
    /// One compare-and-write attempt: prepare E and N, then go by the ATS mode.
    pub(super) fn start_attempt(&mut self, s: usize, at: u64) {
        self.pace.started += 1;
        let (lock, retry, read_gen) = (self.slots[s].lock, self.slots[s].retry, self.slots[s].read_gen);
        let l = lock as usize;
        let bs = self.bs;
        let (base, read) = (self.e_area(s), self.area(s, 2));
        if self.spec.expected_from == ExpectedFrom::Cache {
            self.slots[s].attempt_at = at;
            return self.issue(s, Step::Expect, Op::ReadCached, self.lock_offset(lock), base, bs);
        }
        if !retry {
            self.slots[s].after_torn = false;
        }
        // A retry knew what was seen when its read went out; a fresh attempt knows the view.
        let (expected_gen, basis) = if retry {
            self.io.ring.slab_mut().copy(read, base, bs);
            (read_gen, self.slots[s].seen_at_send)
        } else {
            self.view.last[l].encode(self.io.ring.slab_mut().range_mut(base, bs));
            (Some(self.view.last[l].generation), self.view.max_seen[l])
        };
        self.send_attempt(s, expected_gen, basis, at);
    }

    /// The expected image was read through the page cache: its record (if it is one of the
    /// lock's) gives the attempt's generation, as the device's would.
    pub(super) fn on_expected(&mut self, s: usize) {
        if self.pace.stopping {
            return self.end_attempt(s);
        }
        let (lock, at) = (self.slots[s].lock, self.slots[s].attempt_at);
        let image = self.io.ring.slab().range(self.e_area(s), self.bs);
        let generation = Record::decode(image).ok().filter(|r| r.lock == lock).map(|r| r.generation);
        // The cached read went out after everything in the view was seen.
        let basis = self.view.max_seen[lock as usize];
        self.send_attempt(s, generation, basis, at);
    }

    /// E is in place: write N and send the attempt by the ATS mode. `basis` is the highest
    /// generation seen before E was taken (an older E is `stale`).
    fn send_attempt(&mut self, s: usize, expected_gen: Option<u64>, basis: u64, at: u64) {
        let lock = self.slots[s].lock;
        let (l, bs, base) = (lock as usize, self.bs, self.e_area(s));
        self.view.next_seq += 1;
        let new = Record {
            lock,
            generation: expected_gen.unwrap_or(self.view.max_seen[l]) + 1,
            owner: Owner { host: self.spec.host, worker: self.id, seq: self.view.next_seq },
        };
        new.encode(self.io.ring.slab_mut().range_mut(base + bs, bs));
        self.tally.per_lock[l].attempts += 1;
        let slot = &mut self.slots[s];
        slot.new = new;
        slot.max_seen_at_issue = basis;
        slot.attempt_at = at;
        self.dispatch(s);
    }

    /// An ATS attempt whose write failed is sent again with the same images, as ESXi retries
    /// an ATS that ended in an error: a command that failed may still have been carried out
    /// (a LUN reset or a lost connection ends a command the target already ran), and only the
    /// same images tell that apart. If it was, the retry miscompares on its own image
    /// (`own_write`, and its transition is claimed); if the failed write lands after the
    /// retry, it writes the image the retry wrote. A fresh attempt would leave the landed
    /// image unclaimed and report the run's history as violated.
    pub(super) fn resend_attempt(&mut self, s: usize) {
        self.pace.started += 1;
        self.tally.per_lock[self.slots[s].lock as usize].attempts += 1;
        self.dispatch(s);
    }

    /// Send the attempt whose E and N are in place, by the workload and the ATS mode.
    fn dispatch(&mut self, s: usize) {
        let lock = self.slots[s].lock;
        let (bs, base) = (self.bs, self.e_area(s));
        let offset = self.lock_offset(lock);
        match (self.cast.role(s), self.sh.mode) {
            (Role::Attempt { atomic: false }, _) => self.issue(s, Step::Read, Op::Read, offset, self.area(s, 2), bs),
            (_, AtsMode::Device) => self.issue(s, Step::CompareWrite, Op::CompareWrite, offset, base, bs),
            _ if !self.spec.locks_shared() => self.proceed_locked(s),
            _ => {
                // Behind this worker's earlier waiters, so that a slot that just released the
                // lock cannot take it again ahead of them.
                if !self.waits.has_waiters(lock) && self.sh.locks.try_acquire(lock, owner_word(self.id, s as u32)) {
                    self.slots[s].holds_lock = true;
                    self.proceed_locked(s);
                } else {
                    self.waits.push(lock, s as u32);
                }
            }
        }
    }

    /// The serialised part of a host-side attempt (the lock is held, or nobody shares it).
    fn proceed_locked(&mut self, s: usize) {
        let offset = self.lock_offset(self.slots[s].lock);
        match self.sh.mode {
            AtsMode::CompareThenWrite => self.issue(s, Step::Compare, Op::Compare, offset, self.e_area(s), self.bs),
            _ => self.issue(s, Step::Read, Op::Read, offset, self.area(s, 2), self.bs),
        }
    }

    /// Give the first waiter of each queued lock a try.
    pub(super) fn retry_waiting(&mut self) {
        if self.waits.waiting == 0 {
            return;
        }
        let (table, id) = (self.sh.locks, self.id);
        let mut granted = std::mem::take(&mut self.granted);
        self.waits.grant(|lock, s| table.try_acquire(lock, owner_word(id, s)), |s| granted.push(s));
        for s in granted.drain(..) {
            self.slots[s as usize].holds_lock = true;
            self.proceed_locked(s as usize);
        }
        self.granted = granted;
    }

    pub(super) fn release(&mut self, s: usize) {
        if self.slots[s].holds_lock {
            self.slots[s].holds_lock = false;
            self.sh.locks.release(self.slots[s].lock, owner_word(self.id, s as u32));
        }
    }

    pub(super) fn end_attempt(&mut self, s: usize) {
        self.release(s);
    }

    /// The read of host-emulated ATS or rmw: compare R with E in the host.
    pub(super) fn on_read(&mut self, s: usize) {
        let (base, bs) = (self.e_area(s), self.bs);
        let same = {
            let slab = self.io.ring.slab();
            slab.range(base, bs) == slab.range(self.area(s, 2), bs)
        };
        if !same {
            self.release(s);
            self.on_miscompare(s);
        } else if self.pace.stopping {
            self.end_attempt(s);
        } else {
            let offset = self.lock_offset(self.slots[s].lock);
            self.issue(s, Step::Write, Op::Write, offset, base + bs, bs);
        }
    }

    pub(super) fn on_success(&mut self, s: usize) {
        self.release(s);
        // After a torn re-read, the torn image matched: the tear is on the medium.
        self.slots[s].after_torn = false;
        let slot = self.slots[s];
        let l = slot.lock as usize;
        self.claim_once(s, slot.claim());
        self.view.observe(l, slot.new, slot.seen_at_send);
        self.tally.lat.record(Kind::Ats, self.now.saturating_sub(slot.attempt_at));
        self.tally.lat.record(Kind::Acquire, self.now.saturating_sub(slot.acquire_at));
        self.tally.counters.ops += 1;
        self.tally.counters.acquires += 1;
        self.tally.per_lock[l].successes += 1;
        self.begin(s);
    }

    /// Classify a miscompare from the block in R, then retry with what was read.
    pub(super) fn on_miscompare(&mut self, s: usize) {
        let slot = self.slots[s];
        let l = slot.lock as usize;
        let (bs, spec) = (self.bs, self.spec);
        let ctx = Context {
            lock: slot.lock,
            host: spec.host,
            hosts: self.sh.host_ids(),
            workers: spec.threads(),
            max_seen_at_issue: slot.max_seen_at_issue,
        };
        let slab = self.io.ring.slab();
        let (en, read) = (slab.range(self.e_area(s), 2 * bs), slab.range(self.area(s, 2), bs));
        let class = classify(read, &en[..bs], &en[bs..], &ctx);
        let decoded = Record::decode(read);
        let found = decoded.ok().filter(|r| r.lock == slot.lock);
        if slot.after_torn {
            // The retry with the torn image as E miscompared and the block reads whole: the
            // medium never held the torn image, a READ raced a write.
            self.tally.counters.torn_reads += u64::from(decoded.is_ok());
        }
        let torn = class == Class::Corrupt && decoded == Err(Invalid::Torn);
        self.slots[s].after_torn = torn;
        if class == Class::Corrupt {
            if self.tally.first_corrupt.is_none() {
                self.tally.first_corrupt = Some((self.now, slot.lock));
            }
            self.tally.counters.torn += u64::from(torn);
        }
        if class == Class::OwnWrite {
            // The block holds this attempt's own, unique new image: its transition happened
            // on the device whatever the command reported, so the history must include it.
            self.claim_once(s, slot.claim());
        }
        self.tally.counters.miscompares[class.index()] += 1;
        if slot.after_abort {
            self.slots[s].after_abort = false;
            let a = &mut self.tally.counters.aborts;
            if class == Class::OwnWrite {
                a.retry_own_write += 1;
            } else {
                a.retry_other += 1;
            }
        }
        self.tally.counters.ops += 1;
        self.tally.per_lock[l].miscompares += 1;
        self.tally.lat.record(Kind::Ats, self.now.saturating_sub(slot.attempt_at));
        if let Some(r) = found {
            self.view.observe(l, r, slot.seen_at_send);
        }
        self.end_attempt(s);
        if !self.pace.may_start() {
            return;
        }
        self.tally.counters.retries += 1;
        let slot = &mut self.slots[s];
        slot.retry = true;
        slot.read_gen = found.map(|r| r.generation);
        self.start_attempt(s, self.now);
    }

    /// Record a transition for the history once: a given-up command's late success, its
    /// retry's `own_write` re-read and the retry's own success may all report one image.
    pub(super) fn claim_once(&mut self, s: usize, claim: Claim) {
        if self.slots[s].claimed_seq != claim.owner.seq {
            self.slots[s].claimed_seq = claim.owner.seq;
            self.tally.claims.insert(claim.lock, claim.generation, claim.owner);
            self.forget_claim(s, claim.owner.seq);
        }
    }
}
