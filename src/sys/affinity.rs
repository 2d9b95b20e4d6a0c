//! CPU placement: which CPUs this process may use, and pinning the calling thread to one.

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The CPUs this process may run on, in order (empty when the kernel will not say).
pub fn allowed_cpus() -> Vec<usize> {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else { return Vec::new() };
    (0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap_or(false)).collect()
}

/// Pin the calling thread to `cpu`; false when the kernel refuses.
pub fn pin_current_thread(cpu: usize) -> bool {
    let mut set = CpuSet::new();
    set.set(cpu).is_ok() && sched_setaffinity(Pid::from_raw(0), &set).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_thread_can_be_pinned_to_an_allowed_cpu() {
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        let pinned = std::thread::spawn(move || pin_current_thread(cpus[0])).join().unwrap();
        assert!(pinned);
        assert!(!pin_current_thread(CpuSet::count() + 1), "a CPU beyond the set is refused");
    }
}
