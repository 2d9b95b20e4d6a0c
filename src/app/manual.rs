//! `atsbench completions SHELL` and `atsbench man [COMMAND]`: generated from the clap
//! definitions of `cli.rs` when asked, not written by hand.
//!
//! Generated at run time rather than by a build script: the pages and scripts come from the very
//! binary that will parse the command line, so they cannot drift from it, and a build script
//! could not reach `cli.rs` (its types live in the library: `backend`, `spec`, `workload`)
//! without compiling the crate twice. Packaging calls the built binary (`scripts/deb.sh`).

use crate::cli::Cli;
use crate::error::{Error, Result};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

/// The command as the man pages see it: built, so that subcommands are named `atsbench-run`.
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::from_io(Path::new("stdout"), "writing", &e)
}

/// Print the completion script of `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "atsbench", &mut out);
    std::io::stdout().lock().write_all(&out).map_err(stdout_error)
}

/// Print atsbench's page or one command's, or write them all into `dir`.
pub fn man(name: Option<&str>, dir: Option<&Path>) -> Result<()> {
    let cmd = command();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::from_io(dir, "creating the folder", &e))?;
        return clap_mangen::generate_to(cmd, dir).map_err(|e| Error::from_io(dir, "writing the man pages", &e));
    }
    let page = match name {
        None => cmd,
        Some(n) => cmd.find_subcommand(n).cloned().ok_or_else(|| {
            let names: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
            Error::usage(format!("`{n}` is not a command; give one of {}", names.join(", ")))
        })?,
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out).map_err(|e| Error::Internal(e.to_string()))?;
    std::io::stdout().lock().write_all(&out).map_err(stdout_error)
}
