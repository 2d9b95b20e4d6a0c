//! What each slot of a worker does in a point: the words between a workload, which says it,
//! and the worker, which drives it. The worker knows roles and a timed slot, never a workload.

/// One slot's part in a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Random block-aligned reads or writes of the region's blocks from `first` on.
    Plain { mix: Mix, first: u64 },
    /// Compare-and-write attempts on the lock blocks, retried after a miscompare. `atomic:
    /// false` is rmw: read, compare in the host, write, with nothing serialised and a failed
    /// write not sent again (it has no atomicity to keep).
    Attempt { atomic: bool },
    /// Device-side compares of the lock blocks with their known image, a fraction of them
    /// deliberately wrong.
    Check,
}

/// What a plain slot sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    Read,
    /// Writes of a fixed pattern per slot.
    Write,
    /// Half reads, half writes, drawn per operation.
    Either,
}

/// The roles of one worker's slots, and the one slot (if any) that starts on its own clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    roles: Vec<Role>,
    /// A slot that starts an operation every `interval_ns` (its first at once), outside the
    /// open-loop schedule: (slot, interval_ns).
    pub timed: Option<(usize, u64)>,
}

impl Cast {
    /// Every one of `qd` slots in one role.
    pub fn all(qd: u32, role: Role) -> Cast {
        Cast { roles: vec![role; qd as usize], timed: None }
    }

    /// Slot `s` in `role` instead, starting every `interval_ns`.
    pub fn with_timed(mut self, s: usize, role: Role, interval_ns: u64) -> Cast {
        self.roles[s] = role;
        self.timed = Some((s, interval_ns));
        self
    }

    #[inline]
    pub fn role(&self, s: usize) -> Role {
        self.roles[s]
    }

    #[inline]
    pub fn is_timed(&self, s: usize) -> bool {
        self.timed.is_some_and(|(t, _)| t == s)
    }

    /// Whether some slot makes attempts: the point has claims, and its lock blocks are read
    /// back and verified.
    pub fn attempts(&self) -> bool {
        self.roles.iter().any(|r| matches!(r, Role::Attempt { .. }))
    }

    /// Whether some slot works on the lock blocks, which are then initialised first.
    pub fn uses_locks(&self) -> bool {
        self.roles.iter().any(|r| matches!(r, Role::Attempt { .. } | Role::Check))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_slot_takes_its_own_role_and_the_others_keep_theirs() {
        let plain = Role::Plain { mix: Mix::Either, first: 4 };
        let c = Cast::all(3, plain).with_timed(0, Role::Attempt { atomic: true }, 100);
        assert_eq!(c.role(0), Role::Attempt { atomic: true });
        assert_eq!((c.role(1), c.role(2)), (plain, plain));
        assert!(c.is_timed(0) && !c.is_timed(1));
        assert!(c.attempts() && c.uses_locks());
        let r = Cast::all(2, Role::Plain { mix: Mix::Read, first: 0 });
        assert!(!r.attempts() && !r.uses_locks() && r.timed.is_none());
        assert!(Cast::all(1, Role::Check).uses_locks() && !Cast::all(1, Role::Check).attempts());
    }
}
