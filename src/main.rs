//! The atsbench command: parse, run, map the error to its exit code (see `error.rs`).

use clap::Parser;

fn main() {
    let cli = atsbench::cli::Cli::parse();
    let stop = atsbench::sys::signal::install();
    if let Err(e) = atsbench::app::main(cli, stop) {
        eprintln!("atsbench: {e}");
        std::process::exit(e.exit_code());
    }
}
