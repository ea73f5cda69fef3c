//! The `crisisd` command line: one subcommand per job.
//!
//! | module | subcommands |
//! |---|---|
//! | [`serve`] | `serve`: open the store and run until Ctrl-C / SIGTERM |
//! | [`audit`] | `verify`, `replay`, `export`, `import`, `repair`, `rebuild`: offline tools on a data directory |
//! | [`keys`] | `keys new-master`, `keys rotate`, `erase-passenger`; where `serve` finds the master key |
//! | [`token`] | `token add`: issue a bearer token for the HTTP API |
//! | [`report`] | `report`: a daily, weekly or monthly report (JSON or CSV); `what-if`: history under a candidate policy |
//! | [`config`] | the configuration file (`--config`) and `config check` |
//!
//! `bench` and the hidden `load` run the tooling in [`crate::tools`].

pub mod audit;
pub mod config;
pub mod keys;
pub mod progress;
pub mod report;
pub mod serve;
pub mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::store::StoreConfig;
use crate::tools::{bench, load, simulate};

/// crisisd: event-sourced crisis management for airline customer service.
#[derive(Debug, Parser)]
#[command(name = "crisisd", version, about)]
pub struct Cli {
    /// Directory of the event store (created if missing).
    #[arg(
        long,
        global = true,
        env = "CRISISD_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// A TOML file of settings: each key a flag's long name with _ for - (e.g.
    /// http_addr = "0.0.0.0:8080"). Flags and environment variables override it.
    #[arg(long, global = true, env = config::CONFIG_ENV, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log lines for people (`human`) or for a log pipeline (`json`, one object a line).
    #[arg(long, global = true, env = "CRISISD_LOG_FORMAT", default_value = "human", value_parser = ["human", "json"])]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the event store and serve until Ctrl-C or SIGTERM.
    Serve(Box<serve::ServeArgs>),
    /// Verify the whole hash chain (or a range) and name the first damaged position.
    Verify {
        #[arg(long, default_value_t = 1)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
    },
    /// Print stored envelopes as NDJSON, in position order.
    Replay {
        #[arg(long, default_value_t = 1)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
        /// Only events of this stream.
        #[arg(long)]
        stream: Option<String>,
    },
    /// Write stored envelopes as NDJSON to a file (complete or absent), with progress.
    Export {
        #[arg(long, default_value_t = 1)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an export (hashes, chain, positions, versions, ids) and only then append
    /// it to this store, keeping positions and hashes.
    Import {
        /// An NDJSON file written by `crisisd export`.
        file: PathBuf,
    },
    /// Drop a damaged tail: removes position N and everything after it. Keep a copy first.
    Repair {
        #[arg(long, value_name = "N")]
        truncate_from: u64,
        /// Confirms that the dropped events are lost for good.
        #[arg(long)]
        yes: bool,
    },
    /// Rebuild read models from position 1 (offline: stop `serve` first).
    Rebuild {
        /// The projection to rebuild (an unknown name lists the known ones).
        projection: Option<String>,
        /// Rebuild every projection.
        #[arg(long, conflicts_with = "projection")]
        all: bool,
        #[command(flatten)]
        policy: serve::PolicyFileArg,
    },
    /// A day's, week's or month's customer-service report, as JSON or CSV (offline:
    /// stop `serve` first, or ask it: GET /v1/reports).
    Report(report::ReportArgs),
    /// Replay history under a candidate crisis policy and report what would have
    /// differed (breaches, incidents opened); writes nothing (offline).
    WhatIf(report::WhatIfArgs),
    /// HTTP API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The configuration: flags, environment variables and the configuration file.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// The master key and the key store of personal data.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Erase a passenger's personal data (offline; over HTTP: POST /v1/passengers/{id}/erase).
    ErasePassenger {
        /// The passenger id.
        passenger: String,
        /// Why (the request's reference); recorded, never the passenger's words.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        master: keys::MasterKeyArg,
    },
    /// Drive a realistic day of operations (flights, disruptions, a storm, manifests,
    /// feedback, a spike) against a running crisisd, over HTTP or NATS.
    Simulate(Box<simulate::SimulateArgs>),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Append under load and print every acknowledged append (crash tests).
    #[command(hide = true)]
    Load(load::LoadArgs),
}

/// `RUST_LOG`-style filtering (default `info`), logs on stderr: for people, or one JSON
/// object a line (`format` = `json`) with the fields of the spans a line is in (a
/// request's correlation id among them).
pub fn init_tracing(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        logs.json()
            .with_current_span(false)
            .with_span_list(true)
            .init();
    } else {
        // Colour codes only for a person at a terminal, not in a journal or a file.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        logs.with_ansi(ansi).init();
    }
}

/// Runs one subcommand to completion.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = StoreConfig::new(&cli.data_dir);
    match cli.command {
        Command::Serve(args) => runtime()?.block_on(serve::serve(config, *args)),
        Command::Verify { from, to } => audit::verify(config, from, to.unwrap_or(u64::MAX)),
        Command::Replay { from, to, stream } => {
            audit::replay(config, from, to.unwrap_or(u64::MAX), stream)
        }
        Command::Export { from, to, out } => {
            audit::export(config, from, to.unwrap_or(u64::MAX), &out)
        }
        Command::Import { file } => audit::import(config, &file),
        Command::Repair { truncate_from, yes } => audit::repair(config, truncate_from, yes),
        Command::Rebuild {
            projection,
            all,
            policy,
        } => audit::rebuild(config, projection, all, policy.load()?),
        Command::Report(args) => runtime()?.block_on(report::report(config, args)),
        Command::WhatIf(args) => report::what_if(config, args),
        Command::Token(command) => token::run(&cli.data_dir, command),
        Command::Config(config::ConfigCommand::Check(args)) => config::check(&config, &args),
        Command::Keys(command) => keys::run(config, command),
        Command::ErasePassenger {
            passenger,
            reason,
            master,
        } => runtime()?.block_on(keys::erase_passenger_command(
            config, passenger, reason, master,
        )),
        Command::Simulate(args) => runtime()?.block_on(simulate::run(*args)),
        Command::Bench(bench) => runtime()?.block_on(bench::run(bench)),
        Command::Load(args) => runtime()?.block_on(load::run(config, args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    /// clap checks its own declarations only when a command is parsed: check them all
    /// here, so a conflicting flag or group fails a unit test, not a user's command.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
