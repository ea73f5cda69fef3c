//! `crisisd serve`: opens the store and runs until Ctrl-C or SIGTERM, then closes the
//! store so every acknowledged append is on disk before the process exits.

use std::process::ExitCode;

use crate::store::{EventStore, SledStore, StoreConfig};

pub async fn serve(config: StoreConfig) -> anyhow::Result<ExitCode> {
    let path = config.path.clone();
    let store = tokio::task::spawn_blocking(move || SledStore::open(config)).await??;
    let head = store.head();
    tracing::info!(data_dir = %path.display(), head_position = head.position, head_hash = %head.hash, "crisisd serving; stop with Ctrl-C or SIGTERM");
    shutdown_signal().await;
    tracing::info!("shutting down: finishing queued appends");
    store.close().await;
    tracing::info!(head_position = store.head().position, "event store closed");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on the first Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
