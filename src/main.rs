//! The atsbench command: parse, run, map the error to its exit code (see `error.rs`).

use clap::Parser;

fn main() {
    let cli = match atsbench::cli::Cli::try_parse() {
        Ok(cli) => cli,
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
    if let Err(e) = atsbench::app::main(cli, &stop) {
        eprintln!("atsbench: {e}");
        std::process::exit(e.exit_code());
    }
}
