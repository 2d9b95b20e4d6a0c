//! The atsbench command: parse, run, map the error to its exit code (see `error.rs`).

use clap::{CommandFactory, FromArgMatches};

fn main() {
    let parsed = atsbench::cli::Cli::command()
        .try_get_matches()
        .and_then(|m| atsbench::cli::Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => match atsbench::cli::one_line(&e) {
            Some(line) => {
                eprintln!("atsbench: {line}");
                std::process::exit(2);
            }
            None => e.exit(),
        },
    };
    let stop = match atsbench::sys::signal::install() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("atsbench: cannot install the SIGINT/SIGTERM handlers ({e}); this is a bug, please report it");
            std::process::exit(70);
        }
    };
    if let Err(e) = atsbench::app::main(cli, &matches, &stop) {
        eprintln!("atsbench: {e}");
        std::process::exit(e.exit_code());
    }
}
