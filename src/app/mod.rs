//! From the parsed command line to results: `plan` checks what the user asked for and turns
//! it into typed options (before anything is created or opened), `bench` opens the target,
//! resolves every point against it and runs them, writing each as it finishes. `merge` and
//! `hosts` (several hosts on one target) are handed to the `hosts` module.

mod bench;
mod check;
mod compare;
mod diagnosis;
mod hdr;
mod manual;
mod plan;
mod progress;

use crate::cli::{Cli, Command, ProbeArgs, ProfilesCommand};
use crate::error::{Error, Result};
use clap::parser::ValueSource;
use clap::ArgMatches;
use std::sync::atomic::AtomicBool;

/// Run the command; `matches` tells which flags were given on the command line (profiles
/// fill the others).
pub fn main(cli: Cli, matches: &ArgMatches, stop: &AtomicBool) -> Result<()> {
    let Some(command) = cli.command else {
        eprintln!("{}", crate::cli::FIRST_STEPS);
        return Err(Error::Usage("no command given".into()));
    };
    match command {
        Command::Run(a) => bench::bench(plan::Plan::run(a)?, stop),
        Command::Sweep(a) => {
            let sub = matches.subcommand_matches("sweep");
            let given = |id: &str| sub.is_some_and(|m| m.value_source(id) == Some(ValueSource::CommandLine));
            bench::bench(plan::Plan::sweep(a, &given)?, stop)
        }
        Command::Probe(a) => probe(&a),
        Command::Merge(a) => crate::hosts::merge_files(&a.files, a.format, a.output.as_deref()),
        Command::Check(a) => check::check(&a),
        Command::Hosts(a) => {
            let launch = crate::hosts::Launch {
                specs: &a.specs,
                run_options: &a.run_options,
                rsh: &a.rsh,
                keep: a.keep.as_deref(),
                format: a.format,
                output: a.output.as_deref(),
            };
            crate::hosts::launch(&launch, stop)
        }
        Command::Compare(a) => compare::compare(&a),
        Command::Report(a) => compare::report(&a),
        Command::Completions(a) => manual::completions(a.shell),
        Command::Man(a) => manual::man(a.command.as_deref(), a.dir.as_deref()),
        Command::Profiles(p) => {
            let text = match p.show {
                None => crate::profile::list()?,
                Some(ProfilesCommand::Show { name }) => crate::profile::show(&name)?,
            };
            print!("{text}");
            Ok(())
        }
    }
}

fn probe(a: &ProbeArgs) -> Result<()> {
    let t = match crate::device::sim_size(&a.target) {
        Some(bytes) => crate::device::open_sim(bytes.map_err(crate::error::Error::usage)?),
        None => crate::device::open(&a.target, a.backend, false, false)?,
    };
    crate::report::probe(&t.info, a.format, a.output.as_deref())
}
