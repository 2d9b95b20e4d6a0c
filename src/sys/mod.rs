//! The FFI declarations and the unsafe code of atsbench: the ring, the slab, sg, NVMe and block
//! ioctls, signals, futexes, affinity. Outside this module only `Ring::push` (whose contract is
//! the caller's) and one `ManuallyDrop::drop` are called unsafely, each under an
//! `#[allow(unsafe_code)]` that says why it holds (see `lib.rs`).
pub mod affinity;
pub mod blk;
pub mod clock;
pub mod futex;
pub mod mem;
pub mod nvme;
pub mod sg;
pub mod signal;
pub mod uring;
