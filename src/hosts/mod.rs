//! Several atsbench processes on one shared target (`--hosts N`), in one place:
//!
//! - `meet.rs`: who is who (the host ids and run tag every host derives from the seed) and
//!   the rendezvous record each host writes into its own block;
//! - `rendezvous.rs`: the protocol that makes the hosts' measured periods overlap
//!   ([`MultiHost`]);
//! - `barrier.rs`: a [`MultiHost`] as the engine's hook at point boundaries
//!   ([`crate::engine::PointBarrier`]), and the per-host scope of what each host keeps;
//! - `verify.rs`: all hosts' histories checked together;
//! - `merge.rs`: `atsbench merge`, the hosts' results checked to belong together and combined;
//! - `report.rs`: the merged result as a table or JSON;
//! - `launch.rs`: `atsbench hosts`, a multi-host run started and merged in one command.
//!
//! Layering: `app -> hosts -> (engine, report, results, verify)`; the engine calls this
//! module only through the barrier hook it defines, so no arrow points back up.

mod barrier;
mod launch;
pub mod meet;
mod merge;
mod rendezvous;
mod report;
mod verify;

pub use barrier::LOCAL_SCOPE;
pub use launch::{launch, Launch};
pub use meet::MAX_HOSTS;
pub use merge::merge_files;
pub use rendezvous::{Board, HostsPlan, MultiHost, POLL};
