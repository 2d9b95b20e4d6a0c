//! atsbench: a benchmark for storage ATS (atomic test-and-set, compare-and-write on one block).
//!
//! Data flows CLI -> validated spec -> engine (one pinned worker per CPU) -> backend (encodes
//! commands) -> completions -> per-worker statistics -> merged result -> reporters.
#![deny(unsafe_op_in_unsafe_fn)]
// Unsafe code lives in `sys` (FFI, the slab, the ring); the places that queue submission
// entries (the worker's `Io`, the NVMe pre-flight, the bsg probe) allow it with their reasons.
#![deny(unsafe_code)]

pub mod app;
pub mod backend;
pub mod check;
pub mod cli;
pub mod compare;
pub mod device;
pub mod diagnose;
pub mod engine;
pub mod error;
pub mod hosts;
pub mod plot;
pub mod profile;
pub mod proto;
pub mod report;
pub mod results;
pub mod spec;
pub mod stats;
#[allow(unsafe_code)]
pub mod sys;
pub mod verify;
pub mod workload;
