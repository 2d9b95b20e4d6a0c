//! The `heartbeat` workload, as VMFS keeps its heartbeats: slot 0 of each worker compares and
//! writes the worker's own heartbeat block (lock block `worker`) at a fixed interval, while
//! the other slots read and write the blocks after the heartbeat blocks as background load,
//! half and half. Its miscompares are counted over the beats, not the background I/O.
//!
//! The worker drives it as it drives any workload: by the roles of [`cast`].

use super::cast::{Cast, Mix, Role};

/// The slot that beats.
const BEAT_SLOT: usize = 0;

/// One worker's slots: the beat every `interval_ns`, the rest background load on the blocks
/// after the `locks` heartbeat blocks.
pub fn cast(qd: u32, locks: u32, interval_ns: u64) -> Cast {
    let background = Role::Plain { mix: Mix::Either, first: u64::from(locks) };
    Cast::all(qd, background).with_timed(BEAT_SLOT, Role::Attempt { atomic: true }, interval_ns)
}

/// Heartbeat blocks: one per worker.
pub fn locks(threads: u32) -> u32 {
    threads
}

/// The heartbeat block of a slot: the worker's own, for the beating slot.
pub fn lock_of(worker: u32, slot: u32) -> Option<u32> {
    (slot as usize == BEAT_SLOT).then_some(worker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_0_beats_on_its_own_block_and_the_rest_is_background_after_the_heartbeat_blocks() {
        let c = cast(4, 2, 1_000_000);
        assert_eq!(c.timed, Some((0, 1_000_000)));
        assert_eq!(c.role(0), Role::Attempt { atomic: true });
        assert_eq!(c.role(3), Role::Plain { mix: Mix::Either, first: 2 });
        assert_eq!((lock_of(1, 0), lock_of(1, 1)), (Some(1), None));
        assert_eq!(locks(3), 3);
    }
}
