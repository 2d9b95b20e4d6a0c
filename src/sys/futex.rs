//! A futex on one 32-bit word: sleep while it holds a value, wake the sleepers.

use std::sync::atomic::AtomicU32;

/// Sleep while `word` holds `expected`, at most `timeout_ns` (a wake, a signal or a spurious
/// return end it early; callers re-check what they wait for).
pub fn wait(word: &AtomicU32, expected: u32, timeout_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT reads the aligned u32 behind `word`, which lives across the call,
    // and the timespec `ts` (a relative timeout); the other arguments are unused.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wake every thread sleeping on `word`.
pub fn wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address of `word` as a key; nothing is read or written
    // through the other (unused) arguments.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_changed_word_does_not_sleep_and_a_wake_ends_the_sleep() {
        let w = AtomicU32::new(1);
        // The word no longer holds 0: returns at once (EAGAIN), not after an hour.
        wait(&w, 0, 3_600_000_000_000);
        std::thread::scope(|s| {
            s.spawn(|| {
                while w.load(Ordering::SeqCst) == 1 {
                    wake_all(&w);
                    std::thread::yield_now();
                }
            });
            wait(&w, 1, 3_600_000_000_000);
            w.store(2, Ordering::SeqCst);
        });
        assert_eq!(w.load(Ordering::SeqCst), 2);
    }
}
