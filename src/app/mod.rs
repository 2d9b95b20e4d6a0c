//! From the parsed command line to results: `plan` checks what the user asked for and turns
//! it into typed options (before anything is created or opened), `bench` opens the target,
//! resolves every point against it and runs them, writing each as it finishes.

mod bench;
mod compare;
mod plan;

use crate::cli::{Cli, Command, ProbeArgs};
use crate::error::Result;
use std::sync::atomic::AtomicBool;

pub fn main(cli: Cli, stop: &AtomicBool) -> Result<()> {
    match cli.command {
        Command::Run(a) => bench::bench(plan::Plan::run(a)?, stop),
        Command::Sweep(a) => bench::bench(plan::Plan::sweep(a)?, stop),
        Command::Probe(a) => probe(&a),
        Command::Compare(a) => compare::compare(&a),
        Command::Report(a) => compare::report(&a),
    }
}

fn probe(a: &ProbeArgs) -> Result<()> {
    let t = crate::device::open(&a.target, a.backend, false, false)?;
    crate::report::probe(&t.info, a.output.format, a.output.output.as_deref())
}
