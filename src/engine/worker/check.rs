//! Check slots (the `compare` workload): device-side compares of a lock block with its known
//! image, a fraction (`--miscompare-fraction`) deliberately wrong. A wrong image that compares
//! equal is `undetected`; a right one that miscompares is a `false` miscompare.

use super::{Step, Worker};
use crate::backend::{Backend, Op};
use crate::verify::classify::Class;
use crate::workload::record::Record;

impl<B: Backend> Worker<'_, B> {
    /// Compare slot `s`'s lock block with its image, or with a wrong one.
    pub(super) fn start_check(&mut self, s: usize) {
        self.pace.started += 1;
        let lock = self.pick_lock(s);
        let injected = self.rng.chance(self.spec.miscompare_fraction);
        let mut image = Record::genesis(lock, self.sh.genesis_host());
        if injected {
            image.generation = 1;
        }
        let area = self.area(s, 0);
        image.encode(self.io.ring.slab_mut().range_mut(area, self.bs));
        let slot = &mut self.slots[s];
        slot.lock = lock;
        slot.injected = injected;
        self.issue(s, Step::Check, Op::Compare, self.lock_offset(lock), area, self.bs);
    }

    pub(super) fn on_check(&mut self, s: usize, miscompared: bool) {
        let injected = self.slots[s].injected;
        let c = &mut self.tally.counters;
        c.ops += 1;
        c.injected += u64::from(injected);
        match (injected, miscompared) {
            (true, false) => c.undetected += 1,
            (true, true) => c.detected += 1,
            (false, true) => c.miscompares[Class::False.index()] += 1,
            (false, false) => {}
        }
        self.begin(s);
    }
}
