//! `crisisd serve`: opens the store, starts the projectors and, when NATS is configured,
//! the NATS publisher and ingest consumer, and runs until Ctrl-C or SIGTERM. Shutdown is one signal fanned out to every task:
//! the publisher collects its in-flight acks and saves its checkpoint, then the store
//! finishes the queued appends, all within [`SHUTDOWN_DEADLINE`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::app::Journal;
use crate::app::deadlines::{DeadlineConfig, DeadlineTask};
use crate::app::entitlements::EntitlementReaction;
use crate::app::ingest::CrisisIngest;
use crate::app::reactor::{self, ReactorConfig};
use crate::app::settlements::SettlementReaction;
use crate::app::spikes::SpikeReaction;
use crate::bus::ingest::{IngestConfig, IngestConsumer};
use crate::bus::{NatsConfig, Publisher, PublisherConfig, connection};
use crate::cluster::node::{ClusterOptions, ClusterView, LeaderDuties};
use crate::domain::compensation::input::CarrierProfile;
use crate::domain::ingest::{CLOCK_SKEW_S_DEFAULT, CLOCK_SKEW_S_MAX};
use crate::domain::policy::compensation::{CarrierHome, CarrierSize};
use crate::domain::policy::compensation_policy::CompensationPolicy;
use crate::domain::policy::crisis::CrisisPolicy;
use crate::domain::policy::goodwill::GoodwillPolicy;
use crate::http::AppState;
use crate::http::auth::Tokens;
use crate::http::server::ServerLimits;
use crate::projection::{ProjectionStatus, Projector};
use crate::store::{SledStore, StoreConfig};

/// How long shutdown may take before the process exits anyway.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(20);
/// How often projection lag is checked.
const LAG_REPORT_INTERVAL: Duration = Duration::from_secs(30);
/// A projection whose oldest unapplied event is this old is reported as behind.
const LAG_WARN_SECONDS: f64 = 10.0;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// NATS server URL(s), e.g. nats://127.0.0.1:4222. Without it crisisd serves without
    /// publishing (and catches up once started with it).
    #[arg(long, env = "CRISISD_NATS_URL")]
    pub nats_url: Option<String>,
    /// NATS credentials file (.creds), if the server requires one.
    #[arg(long, env = "CRISISD_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// NATS user, for a server with users in its configuration (deploy/nats/); its
    /// password is read from --nats-password-file.
    #[arg(long, env = "CRISISD_NATS_USER", requires = "nats_password_file")]
    pub nats_user: Option<String>,
    /// A file holding the NATS user's password (one line).
    #[arg(long, env = "CRISISD_NATS_PASSWORD_FILE", requires = "nats_user")]
    pub nats_password_file: Option<PathBuf>,
    /// Where a carrier not in the compensation policy's carrier table is based, for
    /// the compensation rules: eu, uk, canada, us, china or other.
    #[arg(long, env = "CRISISD_CARRIER_HOME", default_value = "eu", value_parser = parse_snake::<CarrierHome>)]
    pub carrier_home: CarrierHome,
    /// The size under Canada's APPR of a carrier not in the carrier table: large or small.
    #[arg(long, env = "CRISISD_CARRIER_SIZE", default_value = "large", value_parser = parse_snake::<CarrierSize>)]
    pub carrier_size: CarrierSize,
    /// Compensation policy: carriers, exchange rates, goodwill (JSON, see
    /// deploy/compensation-policy.json); default: the built-in policy, which is that file.
    #[arg(long, env = "CRISISD_COMPENSATION_POLICY")]
    pub compensation_policy: Option<PathBuf>,
    /// A goodwill policy file of its own (the `goodwill` section's format), replacing
    /// the compensation policy's goodwill section.
    #[arg(long, env = "CRISISD_GOODWILL_POLICY")]
    pub goodwill_policy: Option<PathBuf>,
    /// Address of the HTTP API.
    #[arg(long, env = "CRISISD_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: std::net::SocketAddr,
    /// Longest an HTTP client may take to send a request's headers, from connecting or
    /// from the first byte of a later request on the connection (milliseconds).
    #[arg(long, env = "CRISISD_HTTP_HEADER_TIMEOUT_MS", value_parser = limit(3_600_000),
        default_value_t = ServerLimits::default().header_timeout.as_millis() as u64)]
    pub http_header_timeout_ms: u64,
    /// Longest a kept-alive HTTP connection may wait for its next request (seconds); keep
    /// it above the idle timeout of a load balancer in front of crisisd.
    #[arg(long, env = "CRISISD_HTTP_IDLE_TIMEOUT_S", value_parser = limit(86_400),
        default_value_t = ServerLimits::default().idle_timeout.as_secs())]
    pub http_idle_timeout_s: u64,
    /// HTTP connections served at once; one more is answered 503 with Retry-After (keep
    /// it below the open-files limit).
    #[arg(long, env = "CRISISD_HTTP_CONNECTIONS_MAX", value_parser = limit(1_000_000),
        default_value_t = ServerLimits::default().connections_max as u64)]
    pub http_connections_max: u64,
    /// How far ahead of this machine's clock a sender's clock may run (seconds, 0 to
    /// 3600): a time in an ingest message that says when something happened (received,
    /// notified, departed, arrived) up to this far in the future is taken as now; later
    /// ones are refused as out_of_range.
    #[arg(long, env = "CRISISD_CLOCK_SKEW_S", value_parser = clock_skew_s,
        default_value_t = CLOCK_SKEW_S_DEFAULT)]
    pub clock_skew_s: u64,
    #[command(flatten)]
    pub tokens: super::token::TokensFileArg,
    #[command(flatten)]
    pub policy: PolicyFileArg,
    #[command(flatten)]
    pub master: super::keys::MasterKeyArg,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Cluster mode (docs/cluster.md): several nodes on one NATS JetStream cluster, one
/// leader at a time. Needs `--nats-url`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Join the cluster of this name (its lease bucket is `CRISIS_LEADER_<NAME>`, its
    /// log the `CRISIS_LOG` stream); without it, this node runs on its own
    #[arg(long, env = "CRISISD_CLUSTER", requires = "node_id", value_parser = cluster_name)]
    pub cluster: Option<String>,
    /// This node's id in the cluster, unique among its nodes
    #[arg(long, env = "CRISISD_NODE_ID", requires = "cluster", value_parser = cluster_name)]
    pub node_id: Option<String>,
    /// Where clients reach this node's HTTP API; followers redirect commands to the
    /// leader's (default: http://<--http-addr>)
    #[arg(long, env = "CRISISD_ADVERTISE_URL", requires = "cluster")]
    pub advertise_url: Option<String>,
}

/// A cluster or node name: 1 to 64 of A-Z, a-z, 0-9, '-' and '_' (it goes into NATS
/// bucket names).
fn cluster_name(text: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(text.to_owned())
    } else {
        Err("give 1 to 64 of A-Z, a-z, 0-9, '-' and '_'".into())
    }
}

impl ServeArgs {
    pub fn server_limits(&self) -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_millis(self.http_header_timeout_ms),
            idle_timeout: Duration::from_secs(self.http_idle_timeout_s),
            connections_max: self.http_connections_max as usize,
        }
    }
}

/// How often the tokens file is checked for changes.
const TOKENS_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Puts the tokens file in force again whenever it changes (`token add`, `token revoke`,
/// an edit), without a restart; open SSE streams keep going. A file that does not parse
/// leaves the tokens in force as they were, and says so.
async fn reload_tokens(path: PathBuf, state: AppState, mut shutdown: watch::Receiver<bool>) {
    let stamp = |path: &std::path::Path| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    let mut seen = stamp(&path);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TOKENS_CHECK_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        let now = stamp(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match Tokens::load(&path) {
            Ok(tokens) => {
                tracing::info!(tokens_file = %path.display(), "tokens file changed; its tokens are in force");
                state.replace_tokens(tokens);
            }
            Err(err) => {
                tracing::warn!(cause = %err, "the tokens file changed but cannot be read; the tokens in force stay");
            }
        }
    }
}

/// Parses an HTTP limit, from 1 to `max`.
fn limit(max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |text| match text.parse::<u64>() {
        Ok(value @ 1..) if value <= max => Ok(value),
        Ok(0) => Err(format!(
            "0 would close or refuse every connection; give 1 to {max}"
        )),
        _ => Err(format!("give a whole number from 1 to {max}")),
    }
}

/// Parses the clock-skew tolerance: 0 (sender clocks must not run ahead) to an hour.
fn clock_skew_s(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(seconds) if seconds <= CLOCK_SKEW_S_MAX => Ok(seconds),
        _ => Err(format!(
            "give whole seconds from 0 to {CLOCK_SKEW_S_MAX}; a sender's clock further off needs fixing (NTP), not tolerating"
        )),
    }
}

/// The crisis policy file, shared by `serve` and `rebuild` (a rebuild derives deadlines
/// and spikes under the policy it is given, so give it the one `serve` runs with).
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyFileArg {
    /// Severity thresholds, spike detection and SLA targets with their calendar (JSON,
    /// see deploy/crisis-policy.json; fields left out keep that file's values). Default:
    /// the built-in policy, which is that file.
    #[arg(long = "policy", env = "CRISISD_POLICY")]
    pub policy_file: Option<PathBuf>,
}

impl PolicyFileArg {
    pub fn load(&self) -> anyhow::Result<CrisisPolicy> {
        match &self.policy_file {
            Some(path) => read_policy(path, "crisis policy", CrisisPolicy::parse),
            None => Ok(CrisisPolicy::default()),
        }
    }
}

/// Reads and parses a policy file, naming the file in any error.
pub(crate) fn read_policy<T, E: std::fmt::Display>(
    path: &std::path::Path,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| anyhow::anyhow!("cannot read the {what} {}: {err}", path.display()))?;
    parse(&text).map_err(|err| anyhow::anyhow!("{what} {}: {err}; fix the file", path.display()))
}

/// Parses a snake_case enum value the way its JSON form is written.
pub fn parse_snake<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|err| format!("{text:?}: {err}"))
}

/// The compensation policy `serve` runs with: the configured file or the built-in one,
/// with the goodwill policy if one is given.
pub fn compensation_policy(args: &ServeArgs) -> anyhow::Result<CompensationPolicy> {
    let mut compensation = match &args.compensation_policy {
        Some(path) => read_policy(path, "compensation policy", CompensationPolicy::parse)?,
        None => CompensationPolicy::default_policy(),
    };
    if let Some(path) = &args.goodwill_policy {
        let goodwill = read_policy(path, "goodwill policy", GoodwillPolicy::parse)?;
        compensation = compensation.with_goodwill(goodwill).map_err(|err| {
            anyhow::anyhow!(
                "goodwill policy {} with the compensation policy: {err}; fix either file",
                path.display()
            )
        })?;
    }
    Ok(compensation)
}

pub async fn serve(config: StoreConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let policy = args.policy.load()?;
    let tokens_path = args.tokens.path(&config.path);
    let tokens = Tokens::load(&tokens_path).map_err(anyhow::Error::msg)?;
    if tokens.is_empty() {
        tracing::warn!(tokens_file = %tokens_path.display(), "no HTTP API tokens: every request is refused; create one with `crisisd token add --role admin --actor <you>`");
    }
    let compensation = compensation_policy(&args)?;
    let carrier = CarrierProfile {
        home: args.carrier_home,
        size: args.carrier_size,
        listed: false,
    };
    let nats = |name: &str| {
        args.nats_url.as_ref().map(|url| NatsConfig {
            url: url.clone(),
            credentials: args.nats_creds.clone(),
            user: args.nats_user.clone().zip(args.nats_password_file.clone()),
            name: name.into(),
        })
    };
    // A cluster node first reconciles its data directory with the cluster's log.
    let mut key_sharing = None;
    let joined = match (&args.cluster.cluster, &args.cluster.node_id) {
        (Some(name), Some(node_id)) => {
            let Some(nats_config) = nats("crisisd-cluster") else {
                anyhow::bail!(
                    "--cluster needs NATS: give --nats-url (the JetStream cluster's servers, comma-separated)"
                );
            };
            if let Some(url) = &args.cluster.advertise_url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                anyhow::bail!(
                    "--advertise-url {url:?}: give the URL other nodes reach this one's HTTP API at, e.g. http://10.0.0.5:8080"
                );
            }
            let options = ClusterOptions {
                name: name.clone(),
                node_id: node_id.clone(),
                advertise_url: args
                    .cluster
                    .advertise_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}", args.http_addr)),
            };
            if args.master.master_key_file.is_none() {
                anyhow::bail!(
                    "--cluster needs --master-key-file: every node seals personal data under the same master key, kept apart from the data (`crisisd keys new-master > FILE` writes one; give each node the same file)"
                );
            }
            let client = connection::connect(&nats_config).await?;
            tracing::info!(cluster = %options.name, node_id = %options.node_id, "joining the cluster");
            key_sharing = Some((
                client.clone(),
                options.name.clone(),
                options.node_id.clone(),
            ));
            Some(crate::cluster::node::join(options, client, &config).await?)
        }
        _ => None,
    };
    let path = config.path.clone();
    let store = tokio::task::spawn_blocking(move || SledStore::open(config)).await??;
    let head = store.head();
    tracing::info!(data_dir = %path.display(), head_position = head.position, head_hash = %head.hash, "event store open");
    let privacy = super::keys::open_privacy(&store, &args.master)?;
    if key_sharing.is_some() {
        privacy.keys().require_sharing();
    }
    let journal = Journal::new(store.clone(), privacy);
    let cluster = joined.map(|joined| joined.node(store.clone()));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let clustered = key_sharing.is_some();
    // In a cluster an erasure needs its fresh epoch held by another node: the key
    // store's sharing runs first.
    if let Some((client, cluster_name, node_id)) = key_sharing {
        tasks.spawn(crate::cluster::keys::share(
            client,
            cluster_name,
            node_id,
            journal.privacy().keys().clone(),
            shutdown_rx.clone(),
        ));
    }
    // An erasure a crash interrupted (its event stored, its key not yet destroyed) is
    // finished before anything is served; on a cluster, where that may wait for the
    // other nodes, the erasure follower below finishes it if it cannot be done now.
    match crate::app::erasures::catch_up(&journal).await {
        Ok(0) => {}
        Ok(finished) => tracing::info!(erasures = finished, "erasures finished from the log"),
        Err(err) if clustered => {
            tracing::warn!(cause = %err, "an erasure cannot be finished yet; the erasure follower retries it")
        }
        Err(err) => return Err(err.into()),
    }
    let ingest = CrisisIngest::new(journal.clone())
        .with_severity(policy.severity.clone())
        .with_clock_skew(Duration::from_secs(args.clock_skew_s));
    let mut statuses = Vec::new();
    let mut by_name = BTreeMap::new();
    for projection in crate::projection::all(&policy) {
        let name = projection.name();
        let projector = Projector::new(store.clone(), projection)?;
        statuses.push(projector.status());
        by_name.insert(name, projector.status());
        let projector_shutdown = shutdown_rx.clone();
        tasks.spawn(async move {
            if let Err(err) = projector.run(projector_shutdown).await {
                tracing::error!(projection = name, cause = %err, "a projection stopped; fix the cause, then `crisisd rebuild {name}`");
            }
        });
    }
    tasks.spawn(report_lag(store.clone(), statuses, shutdown_rx.clone()));
    let cluster_view = match &cluster {
        Some(node) => node.view(),
        None => watch::channel(ClusterView::single()).1,
    };
    let http_state = AppState::new(journal.clone(), tokens, by_name, shutdown_rx.clone())
        .with_cluster(cluster_view)
        .with_ingest(ingest.clone())
        .with_policy(policy.clone())
        .with_compensation_policy(compensation.clone());
    tasks.spawn(reload_tokens(
        tokens_path.clone(),
        http_state.clone(),
        shutdown_rx.clone(),
    ));
    let http_shutdown = shutdown_rx.clone();
    let http_addr = args.http_addr;
    let http_limits = args.server_limits();
    let listener = crate::http::bind(http_addr).await?;
    tasks.spawn(async move {
        if let Err(err) = crate::http::serve(listener, http_state, http_limits, http_shutdown).await
        {
            tracing::error!(cause = %err, "the HTTP API stopped");
        }
    });
    tasks.spawn(crate::app::erasures::follow(
        journal.clone(),
        shutdown_rx.clone(),
    ));
    let duties = LeaderTasks {
        store: store.clone(),
        journal: journal.clone(),
        ingest: ingest.clone(),
        publishing: nats("crisisd-publisher"),
        consuming: nats("crisisd-ingest"),
        carrier,
        compensation,
        // A cluster's streams outlive the loss of a NATS server, as its log does.
        stream_replicas: if cluster.is_some() { 3 } else { 1 },
    };
    match cluster {
        Some(node) => {
            let start: LeaderDuties = Box::new(move |shutdown| Box::pin(duties.start(shutdown)));
            tasks.spawn(node.run(start, shutdown_rx.clone()));
        }
        None => {
            let mut leading = duties.start(shutdown_rx.clone()).await?;
            tasks.spawn(async move { while leading.join_next().await.is_some() {} });
        }
    }
    tracing::info!("crisisd serving; stop with Ctrl-C or SIGTERM");
    shutdown_signal().await;
    tracing::info!("shutting down");
    crate::cluster::node::shutting_down();
    let _ = shutdown_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_DEADLINE, async {
        while tasks.join_next().await.is_some() {}
        store.close().await;
    })
    .await;
    if drained.is_err() {
        tracing::error!(
            deadline_s = SHUTDOWN_DEADLINE.as_secs(),
            "shutdown deadline passed; exiting (acknowledged events are durable)"
        );
        return Ok(ExitCode::from(1));
    }
    tracing::info!(head_position = store.head().position, "event store closed");
    Ok(ExitCode::SUCCESS)
}

/// The tasks only one node may run: the publisher to `CRISIS_EVENTS`, the ingest
/// consumer, the deadline task and the reactors. A single node starts them at once; a
/// cluster node when it becomes leader.
struct LeaderTasks {
    store: SledStore,
    journal: Journal,
    ingest: CrisisIngest,
    publishing: Option<NatsConfig>,
    consuming: Option<NatsConfig>,
    carrier: CarrierProfile,
    compensation: CompensationPolicy,
    /// Replicas of the NATS streams the publisher and the consumer create.
    stream_replicas: usize,
}

impl LeaderTasks {
    async fn start(
        self,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<tokio::task::JoinSet<()>> {
        let LeaderTasks {
            store,
            journal,
            ingest,
            publishing,
            consuming,
            carrier,
            compensation,
            stream_replicas,
        } = self;
        let mut tasks = tokio::task::JoinSet::new();
        match publishing.zip(consuming) {
            Some((publishing, consuming)) => {
                // One connection each: a connection is one task reading and writing its
                // socket, so the publisher's traffic and the ingest's run on both cores
                // and neither queues behind the other.
                let url = connection::without_secrets(&publishing.url);
                let publishing = connection::connect(&publishing).await?;
                let publisher = Publisher::new(
                    store.clone(),
                    publishing,
                    PublisherConfig {
                        replicas: stream_replicas,
                        ..PublisherConfig::default()
                    },
                );
                tasks.spawn(publisher.run(shutdown.clone()));
                let consuming = connection::connect(&consuming).await?;
                let consumer = IngestConsumer::new(
                    consuming,
                    ingest.clone(),
                    IngestConfig {
                        replicas: stream_replicas,
                        ..IngestConfig::default()
                    },
                );
                tasks.spawn(consumer.run(shutdown.clone()));
                tracing::info!(nats_url = %url, "publishing to JetStream CRISIS_EVENTS and consuming CRISIS_INGEST (both wait for NATS if it is not reachable yet)");
            }
            None => tracing::warn!(
                "no NATS configured (--nats-url / CRISISD_NATS_URL): events are stored but not published"
            ),
        }
        let deadlines = DeadlineTask::new(journal.clone(), DeadlineConfig::default())?;
        tasks.spawn(deadlines.run(shutdown.clone()));
        let spikes = SpikeReaction::new(journal.clone())?;
        let reactor_config = ReactorConfig::default();
        tasks.spawn(reactor::run(
            spikes,
            store.clone(),
            reactor_config.clone(),
            shutdown.clone(),
        ));
        tracing::info!(carriers = compensation.carriers.len(), default_carrier_home = ?carrier.home, default_carrier_size = ?carrier.size, "computing compensation entitlements for disrupted flights");
        let entitlements = EntitlementReaction::new(journal.clone(), carrier, compensation)?;
        tasks.spawn(reactor::run(
            entitlements,
            store.clone(),
            reactor_config.clone(),
            shutdown.clone(),
        ));
        let settlements = SettlementReaction::new(journal)?;
        tasks.spawn(reactor::run(settlements, store, reactor_config, shutdown));
        Ok(tasks)
    }
}

/// Logs projections that fall behind or stopped, every [`LAG_REPORT_INTERVAL`].
async fn report_lag(
    store: SledStore,
    statuses: Vec<Arc<Mutex<ProjectionStatus>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LAG_REPORT_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        for status in &statuses {
            let status = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match status.lag(&store, chrono::Utc::now()) {
                Ok(lag) if lag.failed.is_some() => tracing::error!(
                    projection = lag.name,
                    position = lag.position,
                    lag_events = lag.lag_events,
                    "projection stopped; fix the cause, then `crisisd rebuild {}`",
                    lag.name
                ),
                Ok(lag) if lag.lag_seconds >= LAG_WARN_SECONDS => tracing::warn!(
                    projection = lag.name,
                    lag_events = lag.lag_events,
                    lag_seconds = lag.lag_seconds,
                    "projection is behind the log"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(cause = %err, "cannot measure projection lag"),
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn clock_skew(args: &[&str]) -> Result<u64, String> {
        let argv = ["crisisd", "serve"].iter().chain(args);
        match Cli::try_parse_from(argv)
            .map_err(|err| err.to_string())?
            .command
        {
            Command::Serve(serve) => Ok(serve.clock_skew_s),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// The tolerance defaults to 5 minutes, takes 0 to an hour, and refuses the rest at
    /// startup with the fix.
    #[test]
    fn clock_skew_is_validated_at_startup() {
        assert_eq!(clock_skew(&[]), Ok(300));
        assert_eq!(clock_skew(&["--clock-skew-s", "0"]), Ok(0));
        assert_eq!(clock_skew(&["--clock-skew-s", "3600"]), Ok(3600));
        for bad in ["3601", "-1", "5m", ""] {
            let refused = clock_skew(&[&format!("--clock-skew-s={bad}")]).unwrap_err();
            assert!(refused.contains("from 0 to 3600"), "{bad}: {refused}");
        }
    }
}
