//! `crisisd simulate`: drives a realistic day of operations against a running crisisd.
//! (Being built: see issue 22.)

use std::process::ExitCode;

/// What to simulate, and where to send it.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

/// Runs the simulation to its end.
pub async fn run(_args: SimulateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("crisisd simulate is not built yet")
}
