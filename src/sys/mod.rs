//! Every `unsafe` block and FFI declaration of atsbench lives under this module.
pub mod affinity;
pub mod blk;
pub mod clock;
pub mod futex;
pub mod host;
pub mod mem;
pub mod nvme;
pub mod sg;
pub mod signal;
pub mod uring;
