//! The master key and the key store from the command line: where `serve` finds the
//! master key, `crisisd keys new-master` and `crisisd keys rotate`, and
//! `crisisd erase-passenger`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::app::Journal;
use crate::domain::common::{Actor, PassengerId, Role};
use crate::privacy::Privacy;
use crate::privacy::keys::{create_master_key, read_master_key};
use crate::privacy::sealed::SecretKey;
use crate::store::{SledStore, StoreConfig};

/// The default master key file inside the data directory (created when none is given).
pub const DEFAULT_MASTER_KEY_FILE: &str = "master.key";

#[derive(Debug, Clone, clap::Args)]
pub struct MasterKeyArg {
    /// The master key that wraps the data keys of personal data (64 hex digits; keep it
    /// apart from the data directory, e.g. a mounted secret). Default: master.key in
    /// the data directory, created on first start, which protects nothing against theft
    /// of the disk.
    #[arg(long, env = "CRISISD_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl MasterKeyArg {
    /// The master key: the configured file, or the data directory's own (created if
    /// missing, with a warning).
    pub fn load(&self, data_dir: &Path) -> anyhow::Result<SecretKey> {
        if let Some(path) = &self.master_key_file {
            return Ok(read_master_key(path)?);
        }
        let path = data_dir.join(DEFAULT_MASTER_KEY_FILE);
        let key = if path.exists() {
            read_master_key(&path)?
        } else {
            std::fs::create_dir_all(data_dir)?;
            create_master_key(&path)?
        };
        tracing::warn!(
            master_key_file = %path.display(),
            "no --master-key-file: personal data is sealed under a master key kept beside the data, which protects nothing against theft of the disk; move it elsewhere and pass --master-key-file (docs/personal-data.md)"
        );
        Ok(key)
    }
}

/// Opens the key store of `store` under the configured master key.
pub fn open_privacy(store: &SledStore, master: &MasterKeyArg) -> anyhow::Result<Privacy> {
    let key = master.load(store.path())?;
    Ok(Privacy::open(store, key)?)
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Print a new random master key (64 hex digits) for a key file or a secret.
    NewMaster,
    /// Re-wrap every key under a new master key, rewriting no event (offline: stop
    /// `serve` first; `POST /v1/admin/keys/rotate` does it while serving).
    Rotate {
        #[command(flatten)]
        master: MasterKeyArg,
        /// The new master key file; give it as --master-key-file from now on.
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
}

pub fn run(config: StoreConfig, command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::NewMaster => {
            println!("{}", hex::encode(SecretKey::random().0));
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Rotate {
            master,
            new_master_key_file,
        } => {
            let new = read_master_key(&new_master_key_file)?;
            let store = SledStore::open(config)?;
            let privacy = open_privacy(&store, &master)?;
            privacy.keys().rotate(new)?;
            eprintln!(
                "every key is now wrapped under {}; start crisisd with --master-key-file {} and destroy the old master key",
                new_master_key_file.display(),
                new_master_key_file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The actor recorded on erasures done from the command line.
fn operator() -> Actor {
    Actor {
        id: "crisisd-cli".into(),
        role: Role::Admin,
    }
}

/// `crisisd erase-passenger ID --reason R`.
pub async fn erase_passenger_command(
    config: StoreConfig,
    passenger: String,
    reason: String,
    master: MasterKeyArg,
) -> anyhow::Result<ExitCode> {
    let passenger = PassengerId::parse(&passenger).map_err(anyhow::Error::msg)?;
    let store = SledStore::open(config).context(
        "stop `crisisd serve` first, or erase over HTTP (POST /v1/passengers/{id}/erase)",
    )?;
    let privacy = open_privacy(&store, &master)?;
    let journal = Journal::new(store.clone(), privacy);
    let executed =
        crate::app::erasures::erase_passenger(&journal, &passenger, &reason, operator()).await?;
    store.close().await;
    eprintln!(
        "passenger {passenger} erased (position {}): every personal value sealed with their key now reads as erased",
        executed.position
    );
    Ok(ExitCode::SUCCESS)
}
