//! `crisisd token add --role <role> --actor <id>`: issues a bearer token for the HTTP
//! API. The token is printed once; the tokens file keeps only its hash. `token list`
//! shows the entries, `token revoke <id>` removes one; a running `serve` picks both up.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::domain::common::Role;
use crate::http::auth;

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once) on stdout.
    Add {
        /// flight_ops, channel, agent, crisis_lead, auditor or admin.
        #[arg(long, value_parser = super::serve::parse_snake::<Role>)]
        role: Role,
        /// Who uses the token: recorded as the actor of every event it causes.
        #[arg(long)]
        actor: String,
        /// Let an auditor see personal data unredacted.
        #[arg(long)]
        personal_data: bool,
        /// Days the token is valid (default: until revoked).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        file: TokensFileArg,
    },
    /// List the tokens: id, actor, role, when issued, when they expire.
    List {
        #[command(flatten)]
        file: TokensFileArg,
    },
    /// Revoke a token by its id (or its first 6 or more digits) from `token list`.
    Revoke {
        id: String,
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
            expires_in_days,
            file,
        } => {
            let path = file.path(data_dir);
            let expires_at = expires_in_days
                .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let token = auth::add_token(&path, &actor, role, personal_data, expires_at)
                .map_err(anyhow::Error::msg)?;
            eprintln!(
                "token for {actor} ({}) added to {}; it is shown only now:",
                auth::role_name(role),
                path.display()
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { file } => {
            let path = file.path(data_dir);
            let now = chrono::Utc::now();
            let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(
                    || "-".to_owned(),
                    |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                )
            };
            println!(
                "id            role         actor                created               expires"
            );
            for entry in auth::list_tokens(&path).map_err(anyhow::Error::msg)? {
                let expired = entry.expires_at.is_some_and(|t| t <= now);
                println!(
                    "{:<13} {:<12} {:<20} {:<21} {}{}{}",
                    entry.id(),
                    auth::role_name(entry.role),
                    entry.actor,
                    at(entry.created_at),
                    at(entry.expires_at),
                    if expired { " (expired)" } else { "" },
                    if entry.personal_data {
                        " personal data"
                    } else {
                        ""
                    },
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id, file } => {
            let path = file.path(data_dir);
            let removed = auth::revoke_token(&path, &id).map_err(anyhow::Error::msg)?;
            eprintln!(
                "token {} of {} ({}) revoked in {}; a running serve refuses it within seconds",
                removed.id(),
                removed.actor,
                auth::role_name(removed.role),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
