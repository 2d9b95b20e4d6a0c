//! Page-aligned, zeroed memory for O_DIRECT and registered io_uring buffers.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

/// Alignment of every slab: a page, enough for O_DIRECT on any logical block size up to 4 KiB.
pub const ALIGN: usize = 4096;

/// A zeroed, page-aligned byte slab.
///
/// The kernel reads and writes parts of a slab while I/O is in flight, behind Rust's back. The
/// engine keeps this sound by one rule: a byte range is either owned by one in-flight I/O or by
/// the worker, never both. `range_mut` hands out the worker's view of a range, and the worker
/// only asks for ranges of slots that have no I/O in flight.
pub struct Slab {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the slab is plain memory owned by one worker; moving it to another thread moves the
// only handle to it.
unsafe impl Send for Slab {}

impl Slab {
    /// Allocate `len` zeroed bytes (rounded up to a page).
    pub fn new(len: usize) -> Slab {
        let len = len.max(1).div_ceil(ALIGN) * ALIGN;
        let layout = Layout::from_size_align(len, ALIGN).expect("slab size fits a Layout");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Slab { ptr, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address of byte `offset`, for an I/O command.
    pub fn addr(&self, offset: usize) -> u64 {
        assert!(offset <= self.len, "slab offset {offset} beyond {}", self.len);
        self.ptr.as_ptr() as u64 + offset as u64
    }

    /// The worker's view of `len` bytes at `offset`. The caller must have no I/O in flight on
    /// that range (see the type's documentation); bounds are checked.
    pub fn range_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len), "slab range out of bounds");
        // SAFETY: in bounds (checked above), the memory is initialised (zeroed at allocation),
        // and `&mut self` makes this the only Rust reference; the kernel does not touch the
        // range because no I/O is in flight on it (the engine's invariant).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(offset), len) }
    }

    /// Read-only view, same rule as `range_mut`.
    pub fn range(&self, offset: usize, len: usize) -> &[u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len), "slab range out of bounds");
        // SAFETY: as in `range_mut`; shared access only.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(offset), len) }
    }

    /// Copy `len` bytes from `from` to `to` within the slab (bounds checked; the ranges may
    /// overlap). The destination must be the worker's (no I/O in flight on it); the source may
    /// also be the data-out of a command still in flight (an abandoned ATS command whose
    /// retry resends the same images), which the kernel and devices only read: a concurrent
    /// read, never a write, so no reference to that memory is formed and nothing races.
    pub fn copy(&mut self, from: usize, to: usize, len: usize) {
        let end = |at: usize| at.checked_add(len).is_some_and(|e| e <= self.len);
        assert!(end(from) && end(to), "slab copy out of bounds");
        // SAFETY: both ranges are in bounds (checked above) of this allocation; `ptr::copy`
        // allows overlap; `&mut self` excludes Rust references to the slab meanwhile, and the
        // only other party that may touch the source range reads it (see above).
        unsafe { std::ptr::copy(self.ptr.as_ptr().add(from), self.ptr.as_ptr().add(to), len) }
    }

    /// The whole slab as an iovec, for buffer registration.
    pub fn iovec(&self) -> libc::iovec {
        libc::iovec { iov_base: self.ptr.as_ptr().cast(), iov_len: self.len }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len, ALIGN).expect("same layout as at allocation");
        // SAFETY: allocated in `new` with this very layout, freed once.
        unsafe { dealloc(self.ptr.as_ptr(), layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slabs_are_aligned_zeroed_and_bounded() {
        let mut s = Slab::new(5000);
        assert_eq!(s.len(), 8192);
        assert_eq!(s.addr(0) % ALIGN as u64, 0);
        assert!(s.range(0, 8192).iter().all(|b| *b == 0));
        s.range_mut(4096, 4).copy_from_slice(b"abcd");
        assert_eq!(s.range(4096, 4), b"abcd");
        assert!(std::panic::catch_unwind(|| Slab::new(10).range(4090, 10).len()).is_err());
        s.copy(4096, 4100, 4);
        assert_eq!(s.range(4096, 8), b"abcdabcd");
        assert!(std::panic::catch_unwind(move || s.copy(0, 8190, 4)).is_err());
    }
}
