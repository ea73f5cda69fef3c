//! `crisisd report`: a periodic report from the data directory (offline: stop `serve`
//! first, or ask a running one with `GET /v1/reports`). The reports read model is
//! brought up to the log's head first, so the answer is the one `serve` would give.
//! `crisisd what-if`: the log's history under a candidate crisis policy.

use std::process::ExitCode;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use tokio::sync::watch;

use super::serve::parse_snake;
use crate::projection::reports::{self, By, Period, PeriodKind, Reports};
use crate::projection::{Projector, ReadModel};
use crate::store::{SledStore, StoreConfig};

/// The format of `crisisd report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// day, week (Monday to Sunday) or month.
    #[arg(long, value_parser = parse_snake::<PeriodKind>)]
    pub period: PeriodKind,
    /// Any day of the period, YYYY-MM-DD (UTC): the week or month holding it.
    #[arg(long)]
    pub date: NaiveDate,
    /// all, department, agent, tier, channel or route.
    #[arg(long, default_value = "all", value_parser = parse_snake::<By>)]
    pub by: By,
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
}

pub async fn report(config: StoreConfig, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = SledStore::open_for_inspection(config)?;
    let model = caught_up(&store).await?;
    let period = Period::of(args.period, args.date).map_err(anyhow::Error::msg)?;
    let report = reports::report(&model, period, args.by, Utc::now().date_naive())?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => print!("{}", reports::report_csv(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The reports model, having applied every event up to the log's head.
async fn caught_up(store: &SledStore) -> anyhow::Result<ReadModel> {
    let head = store.head().position;
    let projector = Projector::new(store.clone(), Reports)?;
    let status = projector.status();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(projector.run(stopped));
    loop {
        let now = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(failed) = now.failed {
            anyhow::bail!("the reports model cannot apply the log: {failed}");
        }
        if now.position >= head {
            break;
        }
        if task.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    task.await??;
    Ok(ReadModel::open(store, reports::NAME)?)
}

#[derive(Debug, clap::Args)]
pub struct WhatIfArgs {
    /// The candidate crisis policy (JSON, the format of deploy/crisis-policy.json).
    #[arg(long = "policy")]
    pub candidate: std::path::PathBuf,
    /// The policy in force to compare with (default: the built-in one; give the file
    /// `serve` runs with).
    #[arg(long = "in-force")]
    pub in_force: Option<std::path::PathBuf>,
    /// First log position replayed.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// Last log position replayed (default: the head).
    #[arg(long)]
    pub to: Option<u64>,
}

pub fn what_if(config: StoreConfig, args: WhatIfArgs) -> anyhow::Result<ExitCode> {
    use crate::domain::policy::crisis::CrisisPolicy;
    let candidate =
        super::serve::read_policy(&args.candidate, "crisis policy", CrisisPolicy::parse)?;
    let in_force = match &args.in_force {
        Some(path) => super::serve::read_policy(path, "crisis policy", CrisisPolicy::parse)?,
        None => CrisisPolicy::default(),
    };
    let store = SledStore::open_for_inspection(config)?;
    let report = crate::analysis::what_if::replay(
        &store,
        &in_force,
        &candidate,
        args.from,
        args.to.unwrap_or(u64::MAX),
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
