//! The `crisisd` binary: parse the command line, set up tracing, run the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = crisisd::cli::Cli::parse();
    crisisd::cli::init_tracing();
    match crisisd::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("crisisd: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
