//! `crisisd token add --role <role> --actor <id>`: issues a bearer token for the HTTP
//! API. The token is printed once; the tokens file keeps only its hash.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::domain::common::Role;
use crate::http::auth;

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once) on stdout.
    Add {
        /// flight_ops, agent, crisis_lead, auditor or admin.
        #[arg(long, value_parser = super::serve::parse_snake::<Role>)]
        role: Role,
        /// Who uses the token: recorded as the actor of every event it causes.
        #[arg(long)]
        actor: String,
        /// Let an auditor see personal data unredacted.
        #[arg(long)]
        personal_data: bool,
        #[command(flatten)]
        file: TokensFileArg,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct TokensFileArg {
    /// The tokens file (default: tokens.json in the data directory).
    #[arg(long, env = "CRISISD_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,
}

impl TokensFileArg {
    pub fn path(&self, data_dir: &Path) -> PathBuf {
        self.tokens_file
            .clone()
            .unwrap_or_else(|| data_dir.join("tokens.json"))
    }
}

pub fn run(data_dir: &Path, command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Add {
            role,
            actor,
            personal_data,
            file,
        } => {
            let path = file.path(data_dir);
            let token =
                auth::add_token(&path, &actor, role, personal_data).map_err(anyhow::Error::msg)?;
            eprintln!(
                "token for {actor} ({}) added to {}; it is shown only now:",
                auth::role_name(role),
                path.display()
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
