//! `crisisd load` (hidden): appends multi-event, multi-stream batches from several
//! tasks as fast as the store takes them and prints one line per acknowledged append:
//! `ack <group> <id>,<id>,…`. A crash test kills this process at random moments and
//! checks that every printed ack survived and that no append is half-written; with
//! `--project` the projectors run too, and a test checks their models after the kill.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::store::{
    Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig, StreamAppend,
};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Concurrent appending tasks.
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Events per append, split over two streams (2 to 1000, the most one append carries).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub events_per_append: u64,
    /// Stop after this many appends per writer (default: run until killed).
    #[arg(long)]
    pub appends: Option<u64>,
    /// Also run the projectors (as `serve` does), for projection crash tests.
    #[arg(long)]
    pub project: bool,
    /// Append crisis scenarios (valid domain histories, one append per command)
    /// instead of test groups; prints `ack scenario <n> step <k>`.
    #[arg(long)]
    pub scenarios: bool,
}

pub async fn run(config: StoreConfig, args: LoadArgs) -> anyhow::Result<ExitCode> {
    let store = tokio::task::spawn_blocking(move || SledStore::open(config)).await??;
    let (_never_tx, never_rx) = tokio::sync::watch::channel(false);
    if args.project {
        for projection in crate::projection::all(&Default::default()) {
            let projector = crate::projection::Projector::new(store.clone(), projection)?;
            tokio::spawn(projector.run(never_rx.clone()));
        }
    }
    println!("ready {}", store.head().position);
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    if args.scenarios {
        return run_scenarios(store, args, out).await;
    }
    let mut tasks = Vec::new();
    for writer in 0..args.writers {
        let (store, out, per_append, appends) = (
            store.clone(),
            out.clone(),
            args.events_per_append as usize,
            args.appends,
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while appends.is_none_or(|max| n < max) {
                let (group, request) = group_append(writer, n, per_append);
                let ids: Vec<String> = request
                    .streams
                    .iter()
                    .flat_map(|s| s.events.iter().map(|e| e.id.to_string()))
                    .collect();
                store.append(request).await?;
                writeln!(
                    out.lock().expect("stdout lock"),
                    "ack {group} {}",
                    ids.join(",")
                )?;
                n += 1;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Each writer walks its own scenarios, one append per command.
async fn run_scenarios(
    store: SledStore,
    args: LoadArgs,
    out: Arc<std::sync::Mutex<std::io::Stdout>>,
) -> anyhow::Result<ExitCode> {
    let start = Utc::now();
    let mut tasks = Vec::new();
    for writer in 0..args.writers as u64 {
        let (store, out, writers, appends) = (
            store.clone(),
            out.clone(),
            args.writers as u64,
            args.appends,
        );
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut n = writer;
            loop {
                for (k, step) in crate::testing::workload::scenario(n, start)
                    .into_iter()
                    .enumerate()
                {
                    if appends.is_some_and(|max| done >= max) {
                        return anyhow::Ok(());
                    }
                    let request =
                        AppendRequest::single(step.stream, ExpectedVersion::Any, step.events);
                    store.append(request).await?;
                    writeln!(
                        out.lock().expect("stdout lock"),
                        "ack scenario {n} step {k}"
                    )?;
                    done += 1;
                }
                n += writers;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// One append of `size` events over a writer-owned stream and a shared stream, each
/// event naming its group and the group's size.
fn group_append(writer: usize, n: u64, size: usize) -> (Uuid, AppendRequest) {
    let group = Uuid::now_v7();
    let actor = Actor {
        id: format!("load-{writer}"),
        role: "admin".into(),
    };
    let event = |i: usize| {
        NewEvent::new(
            "load.appended",
            json!({"group": group, "group_size": size, "index": i, "writer": writer, "n": n}),
            actor.clone(),
            Utc::now(),
        )
    };
    let half = size / 2;
    let request = AppendRequest {
        streams: vec![
            StreamAppend {
                stream: format!("incident-w{writer}s{}", n % 50),
                expected: ExpectedVersion::Any,
                events: (0..half).map(event).collect(),
            },
            StreamAppend {
                stream: format!("complaint-shared{}", n % 7),
                expected: ExpectedVersion::Any,
                events: (half..size).map(event).collect(),
            },
        ],
        side: Vec::new(),
    };
    (group, request)
}
