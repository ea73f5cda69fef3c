//! The leader lease against a three-server NATS cluster: election, takeover after a silent
//! leader, step-down on a refused renewal and on the deadline alone, resignation, and a
//! NATS server's death.

use std::time::Duration;

use crisisd::cluster::{LeaseBucket, LeaseConfig, LeaseHandle, NodeIdentity, Role};
use tokio::sync::watch;
use tokio::time::{Instant, timeout};

use crate::nats_cluster::{NatsCluster, stream_leader};
use crate::proxy::FreezableProxy;

fn node(id: &str) -> NodeIdentity {
    NodeIdentity {
        node_id: id.to_owned(),
        http_addr: format!("http://{id}.test:8080"),
    }
}

/// A contender with its own NATS connection, to `url`.
async fn contender(
    url: &str,
    config: &LeaseConfig,
    id: &str,
) -> (LeaseHandle, watch::Sender<bool>) {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let lease = bucket(url, config).await.campaign(node(id), shutdown_rx);
    (lease, shutdown_tx)
}

/// The lease bucket, over a NATS connection of its own to `url`.
async fn bucket(url: &str, config: &LeaseConfig) -> LeaseBucket {
    let client = async_nats::ConnectOptions::new()
        .ignore_discovered_servers()
        .connect(url)
        .await
        .unwrap();
    LeaseBucket::open(async_nats::jetstream::new(client), config.clone())
        .await
        .unwrap()
}

/// Waits (bounded) until `handle`'s role satisfies `want`; returns that role.
async fn wait_role(
    handle: &LeaseHandle,
    within: Duration,
    what: &str,
    want: impl Fn(&Role) -> bool,
) -> Role {
    let mut roles = handle.roles();
    let found = timeout(within, async {
        loop {
            let role = roles.borrow_and_update().clone();
            if want(&role) {
                return role;
            }
            roles.changed().await.expect("campaign task runs");
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("not {what} within {within:?}; role is {:?}", handle.role()))
}

fn is_leader(role: &Role) -> bool {
    matches!(role, Role::Leader { .. })
}

fn term_of(role: &Role) -> u64 {
    match role {
        Role::Leader { term, .. } => *term,
        other => panic!("not leader: {other:?}"),
    }
}

fn follows(role: &Role, leader_id: &str) -> bool {
    matches!(role, Role::Follower { leader: Some(info) } if info.node_id == leader_id)
}

fn config(cluster: &str) -> LeaseConfig {
    LeaseConfig::for_cluster(cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_contenders_leads_and_the_other_names_it_with_a_stable_term() {
    let cluster = NatsCluster::start().await;
    let config = config("elect");
    let (a, _sa) = contender(&cluster.url(0), &config, "a").await;
    let (b, _sb) = contender(&cluster.url(1), &config, "b").await;
    let within = Duration::from_secs(20);
    let deadline = Instant::now() + within;
    let (leader, follower, leader_id) = loop {
        match (a.role(), b.role()) {
            (Role::Leader { .. }, Role::Follower { leader: Some(_) }) => break (&a, &b, "a"),
            (Role::Follower { leader: Some(_) }, Role::Leader { .. }) => break (&b, &a, "b"),
            (Role::Leader { .. }, Role::Leader { .. }) => panic!("two leaders at once"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no leader within {within:?}: a {:?}, b {:?}",
            a.role(),
            b.role()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let term = term_of(&leader.role());
    assert_eq!(leader.valid_term(), Some(term));
    assert_eq!(follower.valid_term(), None);
    let Role::Follower { leader: Some(info) } = follower.role() else {
        unreachable!()
    };
    assert_eq!((info.node_id.as_str(), info.term), (leader_id, term));
    assert_eq!(info.http_addr, format!("http://{leader_id}.test:8080"));

    // Renewals keep the lease and its term across several TTLs; the follower stays put.
    tokio::time::sleep(config.ttl * 3).await;
    assert_eq!(term_of(&leader.role()), term, "the leader kept its term");
    assert_eq!(leader.valid_term(), Some(term));
    assert!(
        follows(&follower.role(), leader_id),
        "{:?}",
        follower.role()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_leader_steps_down_on_its_deadline_and_a_follower_takes_over_with_a_higher_term() {
    let cluster = NatsCluster::start().await;
    // Requests may wait longer than the TTL: only the deadline rule can end `a`'s lead in time.
    let mut config = config("silent");
    config.request_timeout = Duration::from_secs(30);
    let proxy = FreezableProxy::start(cluster.port(0)).await;
    let (a, _sa) = contender(&proxy.url(), &config, "a").await;
    let first = wait_role(&a, Duration::from_secs(20), "leader", is_leader).await;
    let (b, _sb) = contender(&cluster.url(1), &config, "b").await;
    wait_role(&b, Duration::from_secs(20), "following a", |r| {
        follows(r, "a")
    })
    .await;

    // No renewal reaches NATS and no answer comes back: `a` must step down on its own clock.
    proxy.freeze();
    let frozen_at = Instant::now();
    wait_role(&a, config.ttl + Duration::from_secs(2), "follower", |r| {
        !is_leader(r)
    })
    .await;
    assert_eq!(a.valid_term(), None);
    assert!(
        frozen_at.elapsed() <= config.ttl + Duration::from_secs(2),
        "stepped down by the deadline rule, not by an answer"
    );

    let second = wait_role(
        &b,
        config.ttl + Duration::from_secs(20),
        "leader",
        is_leader,
    )
    .await;
    assert!(
        term_of(&second) > term_of(&first),
        "{second:?} after {first:?}"
    );

    // Its renewal, once delivered, is refused: `a` follows `b` and never leads again.
    proxy.thaw();
    wait_role(&a, Duration::from_secs(20), "following b", |r| {
        follows(r, "b")
    })
    .await;
    assert_eq!(term_of(&b.role()), term_of(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_renewal_is_refused_steps_down_before_its_deadline() {
    let cluster = NatsCluster::start().await;
    // A long TTL: stepping down well before it can only come from the refused renewal.
    let mut config = config("refused");
    config.ttl = Duration::from_secs(12);
    let (a, _sa) = contender(&cluster.url(0), &config, "a").await;
    let first = wait_role(&a, Duration::from_secs(20), "leader", is_leader).await;

    // Another writer replaces the value (as a holder that took an expired lease would).
    let js = async_nats::jetstream::new(cluster.client().await);
    let intruder = br#"{"node_id":"intruder","http_addr":"http://intruder.test:8080"}"#;
    js.publish(
        format!("$KV.{}.leader", config.bucket),
        intruder.as_slice().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let overwritten_at = Instant::now();
    let after = wait_role(&a, Duration::from_secs(20), "following the intruder", |r| {
        follows(r, "intruder")
    })
    .await;
    assert!(
        overwritten_at.elapsed() < Duration::from_secs(6),
        "stepped down {:?} after the overwrite: later than a refused renewal explains (deadline is ~12 s)",
        overwritten_at.elapsed()
    );
    assert_eq!(a.valid_term(), None);
    let Role::Follower { leader: Some(info) } = after else {
        unreachable!()
    };
    assert!(
        info.term > term_of(&first),
        "the intruder's write has a later revision"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resigning_leader_hands_over_before_the_ttl() {
    let cluster = NatsCluster::start().await;
    let mut config = config("resign");
    config.ttl = Duration::from_secs(12);
    let (a, _sa) = contender(&cluster.url(0), &config, "a").await;
    let first = wait_role(&a, Duration::from_secs(20), "leader", is_leader).await;
    let (b, _sb) = contender(&cluster.url(2), &config, "b").await;
    wait_role(&b, Duration::from_secs(20), "following a", |r| {
        follows(r, "a")
    })
    .await;

    let resigned_at = Instant::now();
    assert!(
        a.resign().await.unwrap(),
        "a held the lease and released it"
    );
    let second = wait_role(&b, Duration::from_secs(20), "leader", is_leader).await;
    assert!(
        resigned_at.elapsed() < Duration::from_secs(8),
        "took over {:?} after the resignation: the key was not released (TTL 12 s)",
        resigned_at.elapsed()
    );
    assert!(term_of(&second) > term_of(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_still_catching_up_lets_a_ready_one_lead_and_campaigns_once_it_is_ready() {
    let cluster = NatsCluster::start().await;
    let config = config("ready");
    let (ready_tx, ready) = watch::channel(false);
    let (_shutdown_a, shutdown) = watch::channel(false);
    let a = bucket(&cluster.url(0), &config)
        .await
        .campaign_when_ready(node("a"), shutdown, ready);
    // The lease is free, but `a` is catching up: it leaves it.
    tokio::time::sleep(config.campaign_every * 3).await;
    assert_eq!(a.role(), Role::Follower { leader: None });
    let (b, _sb) = contender(&cluster.url(1), &config, "b").await;
    wait_role(&b, Duration::from_secs(20), "leader", is_leader).await;
    wait_role(&a, Duration::from_secs(20), "following b", |r| {
        follows(r, "b")
    })
    .await;

    // `b` resigns: `a`, still not ready, does not take the lease …
    assert!(b.resign().await.unwrap());
    tokio::time::sleep(config.campaign_every * 3).await;
    assert!(!is_leader(&a.role()), "{:?}", a.role());
    // … until it has caught up.
    ready_tx.send_replace(true);
    wait_role(&a, Duration::from_secs(20), "leader", is_leader).await;
}

/// Kills a NATS server: runs alone, not beside the node tests (tests/cluster/nodes.rs).
#[test]
fn the_holder_keeps_the_lease_when_a_nats_server_other_than_the_buckets_leader_is_killed() {
    let _serial = crate::nodes::serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(the_holder_keeps_the_lease_when_a_nats_server_other_than_the_buckets_leader_is_killed_alone());
}

async fn the_holder_keeps_the_lease_when_a_nats_server_other_than_the_buckets_leader_is_killed_alone()
 {
    let mut cluster = NatsCluster::start().await;
    let config = config("quorum");
    let js = async_nats::jetstream::new(cluster.client().await);
    // Create the bucket, then connect the contenders to its Raft leader's server, so the
    // killed server carries neither the bucket's leader nor a contender's connection.
    LeaseBucket::open(js.clone(), config.clone()).await.unwrap();
    let leader_server =
        cluster.index_of(&stream_leader(&js, &format!("KV_{}", config.bucket)).await);
    let (a, _sa) = contender(&cluster.url(leader_server), &config, "a").await;
    let first = wait_role(&a, Duration::from_secs(20), "leader", is_leader).await;
    let (b, _sb) = contender(&cluster.url(leader_server), &config, "b").await;
    wait_role(&b, Duration::from_secs(20), "following a", |r| {
        follows(r, "a")
    })
    .await;

    let victim = (leader_server + 1) % crate::nats_cluster::SIZE;
    let mut roles = a.roles();
    roles.borrow_and_update();
    cluster.kill(victim);
    // Renewals still reach a quorum (two of three): across three TTLs `a` never wavers.
    let changed = timeout(config.ttl * 3, roles.changed()).await;
    assert!(
        changed.is_err(),
        "a's role changed with one NATS server down: {:?}",
        a.role()
    );
    assert_eq!(term_of(&a.role()), term_of(&first));
    assert!(follows(&b.role(), "a"));

    cluster.restart(victim);
    tokio::time::sleep(config.ttl).await;
    assert_eq!(term_of(&a.role()), term_of(&first));
}

/// Kills a NATS server: runs alone, not beside the node tests (tests/cluster/nodes.rs).
#[test]
fn after_the_buckets_nats_leader_is_killed_a_leader_is_elected_again() {
    let _serial = crate::nodes::serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(after_the_buckets_nats_leader_is_killed_a_leader_is_elected_again_alone());
}

async fn after_the_buckets_nats_leader_is_killed_a_leader_is_elected_again_alone() {
    // With a 3 s TTL and NATS's 4–9 s Raft election timeout, losing the bucket's Raft
    // leader costs the lease; what must hold is that some node leads again, with a term
    // no lower than before.
    let mut cluster = NatsCluster::start().await;
    let config = config("bucketleader");
    let js = async_nats::jetstream::new(cluster.client().await);
    LeaseBucket::open(js.clone(), config.clone()).await.unwrap();
    let bucket_leader =
        cluster.index_of(&stream_leader(&js, &format!("KV_{}", config.bucket)).await);
    let others: Vec<usize> = (0..crate::nats_cluster::SIZE)
        .filter(|i| *i != bucket_leader)
        .collect();
    let (a, _sa) = contender(&cluster.url(others[0]), &config, "a").await;
    let first = wait_role(&a, Duration::from_secs(20), "leader", is_leader).await;
    let (b, _sb) = contender(&cluster.url(others[1]), &config, "b").await;
    wait_role(&b, Duration::from_secs(20), "following a", |r| {
        follows(r, "a")
    })
    .await;

    cluster.kill(bucket_leader);
    let killed_at = Instant::now();
    // Past one full Raft election (at most 9 s) and a TTL: the outcome has settled.
    let settled = Duration::from_secs(15);
    let mut leaderless = Duration::ZERO;
    loop {
        let terms: Vec<u64> = [&a, &b].iter().filter_map(|h| h.valid_term()).collect();
        assert!(terms.len() <= 1, "two valid leaders at once");
        match terms.first() {
            Some(term) => assert!(*term >= term_of(&first)),
            None => leaderless += Duration::from_millis(100),
        }
        if killed_at.elapsed() >= settled && terms.len() == 1 {
            break;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(60),
            "no leader 60 s after the bucket's NATS leader died"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("about {leaderless:?} without a leader after the bucket's NATS leader was killed");
    cluster.restart(bucket_leader);
}
