//! atsbench: a benchmark for storage ATS (atomic test-and-set, compare-and-write on one block).
//!
//! Data flows CLI -> validated spec -> engine (one pinned worker per CPU) -> backend (encodes
//! commands) -> completions -> per-worker statistics -> merged result -> reporters.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod app;
pub mod backend;
pub mod cli;
pub mod engine;
pub mod error;
pub mod proto;
pub mod report;
pub mod spec;
pub mod stats;
pub mod sys;
pub mod target;
pub mod verify;
pub mod workload;
