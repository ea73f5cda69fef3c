//! The `crisisd` binary: parse the command line, set up tracing, run the library.

use clap::Parser;

/// glibc's allocator spent a quarter of the store writer's time in malloc and free
/// (buffers allocated on the runtime's threads, freed on the writer's); mimalloc's
/// thread-local free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
