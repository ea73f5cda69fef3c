//! The `crisisd` binary: parse the command line, set up tracing, run the library.

/// glibc's allocator spent a quarter of the store writer's time in malloc and free
/// (buffers allocated on the runtime's threads, freed on the writer's); mimalloc's
/// thread-local free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Flags over environment variables over the configuration file over defaults.
    let cli = crisisd::cli::config::parse();
    crisisd::cli::init_tracing(&cli.log_format);
    match crisisd::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("crisisd: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
