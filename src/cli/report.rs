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
    /// all, department, agent, tier, channel, route or root_cause.
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
#[command(group(clap::ArgGroup::new("candidates").required(true).multiple(true).args(["candidate", "compensation_candidate"])))]
pub struct WhatIfArgs {
    /// A candidate crisis policy: service levels, spike rules (JSON, the format of
    /// deploy/crisis-policy.json).
    #[arg(long = "policy")]
    pub candidate: Option<std::path::PathBuf>,
    /// The crisis policy in force to compare with (default: the built-in one; give the
    /// file `serve` runs with).
    #[arg(long = "in-force")]
    pub in_force: Option<std::path::PathBuf>,
    /// A candidate compensation policy: goodwill, exchange rates (the format of
    /// deploy/compensation-policy.json).
    #[arg(long = "compensation-policy")]
    pub compensation_candidate: Option<std::path::PathBuf>,
    /// The compensation policy in force (default: the built-in one).
    #[arg(long = "in-force-compensation")]
    pub compensation_in_force: Option<std::path::PathBuf>,
    /// First log position replayed.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// Last log position replayed (default: the head).
    #[arg(long)]
    pub to: Option<u64>,
}

pub fn what_if(config: StoreConfig, args: WhatIfArgs) -> anyhow::Result<ExitCode> {
    use crate::domain::policy::compensation_policy::CompensationPolicy;
    use crate::domain::policy::crisis::CrisisPolicy;
    let crisis = |path: &Option<std::path::PathBuf>| match path {
        Some(path) => super::serve::read_policy(path, "crisis policy", CrisisPolicy::parse),
        None => Ok(CrisisPolicy::default()),
    };
    let compensation = |path: &Option<std::path::PathBuf>| match path {
        Some(path) => {
            super::serve::read_policy(path, "compensation policy", CompensationPolicy::parse)
        }
        None => Ok(CompensationPolicy::default_policy()),
    };
    let in_force = crisis(&args.in_force)?;
    // A side given no candidate is compared with itself.
    let candidate = match &args.candidate {
        Some(_) => crisis(&args.candidate)?,
        None => in_force.clone(),
    };
    let comp_in_force = compensation(&args.compensation_in_force)?;
    let comp_candidate = match &args.compensation_candidate {
        Some(_) => compensation(&args.compensation_candidate)?,
        None => comp_in_force.clone(),
    };
    let store = SledStore::open_for_inspection(config)?;
    let policies = crate::analysis::what_if::Policies {
        crisis: (&in_force, &candidate),
        compensation: (&comp_in_force, &comp_candidate),
    };
    let report = crate::analysis::what_if::replay(
        &store,
        &policies,
        args.from,
        args.to.unwrap_or(u64::MAX),
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
