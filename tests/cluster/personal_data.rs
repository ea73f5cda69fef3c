//! Personal data on a cluster (docs/cluster.md, "Personal data on a cluster"): what one
//! node seals every node opens, before and after a failover, and an erasure on the leader
//! destroys the key on every node.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::nats_cluster::NatsCluster;
use crate::nodes::{self, Nodes, Start, Tally, runtime};

const WITHIN: Duration = Duration::from_secs(60);

/// Registers `passenger` with `name` through any node; the position of its event.
fn register(nodes: &Nodes, first: usize, passenger: &str, name: &str) -> u64 {
    let body = json!({"tier": "gold",
        "contact": {"name": name, "email": "x@example.org", "phone": null, "language": "en-GB"},
        "consent": {"email": true, "sms": false, "phone": false, "app_push": false}});
    let acked = nodes::post(
        &nodes.ports(),
        first,
        &format!("/v1/passengers/{passenger}/register_passenger"),
        &nodes.tokens.admin,
        &[("Idempotency-Key", &format!("register-{passenger}"))],
        &body.to_string(),
        WITHIN,
        &Tally::default(),
    )
    .unwrap_or_else(|why| panic!("registering {passenger}: {why}"));
    acked.answer.json()["position"].as_u64().unwrap()
}

/// `GET /v1/passengers/{passenger}` on node `i`, once it has applied `after`.
fn passenger(nodes: &Nodes, i: usize, passenger: &str, after: u64) -> Value {
    let answer = nodes::http(
        nodes.port(i),
        "GET",
        &format!("/v1/passengers/{passenger}?after={after}"),
        &nodes.tokens.admin,
        &[],
        "",
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(
        answer.status,
        200,
        "{} on {}: {answer:?}",
        passenger,
        nodes.id(i)
    );
    answer.json()
}

#[test]
fn what_one_node_sealed_opens_on_every_node_and_an_erasure_reaches_them_all() {
    let _turn = nodes::serial();
    let rt = runtime();
    let nats = rt.block_on(NatsCluster::start());
    let mut nodes = Nodes::start(&nats, 3, Start::OneByOne);
    let leader = nodes.wait_leader(WITHIN);
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();

    // Sealed on the leader (sent to a follower, which forwards), opened everywhere.
    register(&nodes, others[0], "FFKEEP", "Ada Keeper");
    let at = register(&nodes, leader, "FFGONE", "Bob Gone");
    for i in 0..3 {
        assert_eq!(
            passenger(&nodes, i, "FFKEEP", at)["contact"]["name"],
            "Ada Keeper",
            "{}",
            nodes.id(i)
        );
        assert_eq!(
            passenger(&nodes, i, "FFGONE", at)["contact"]["name"],
            "Bob Gone",
            "{}",
            nodes.id(i)
        );
    }

    // Erased on the leader: erased on every node, the others' data intact.
    let erased = nodes::post(
        &nodes.ports(),
        leader,
        "/v1/passengers/FFGONE/erase",
        &nodes.tokens.admin,
        &[],
        r#"{"reason": "erasure request 2026-301"}"#,
        WITHIN,
        &Tally::default(),
    )
    .unwrap();
    let at = erased.answer.json()["position"].as_u64().unwrap();
    for i in 0..3 {
        let gone = passenger(&nodes, i, "FFGONE", at);
        assert_eq!(
            (&gone["contact"], &gone["erased"]),
            (&Value::Null, &json!(true)),
            "{}: {gone}",
            nodes.id(i)
        );
        assert_eq!(
            passenger(&nodes, i, "FFKEEP", at)["contact"]["name"],
            "Ada Keeper"
        );
        let audit = nodes.revealed_replay(i, &nodes.tokens.admin);
        assert!(
            audit.contains("Ada Keeper")
                && !audit.contains("Bob Gone")
                && audit.contains("[erased]")
                && !audit.contains("[unavailable]"),
            "{} reveals what it holds: {}",
            nodes.id(i),
            audit
        );
    }

    // The leader dies: the new one opens what the old one sealed and seals anew.
    nodes.kill(leader);
    let successor = nodes.wait_leader(WITHIN);
    assert_ne!(successor, leader);
    let at = register(&nodes, successor, "FFNEW", "Cy New");
    for i in others.iter().copied() {
        assert_eq!(
            passenger(&nodes, i, "FFKEEP", at)["contact"]["name"],
            "Ada Keeper"
        );
        assert_eq!(
            passenger(&nodes, i, "FFNEW", at)["contact"]["name"],
            "Cy New"
        );
    }
    // The old leader comes back and follows: it opens what was sealed while it was down.
    nodes.restart(leader);
    nodes.wait_following(leader, successor, "after its restart");
    assert_eq!(
        passenger(&nodes, leader, "FFNEW", at)["contact"]["name"],
        "Cy New"
    );
    for i in 0..3 {
        let log = nodes.log_tail(i, 100_000);
        assert!(
            !log.contains("Ada Keeper") && !log.contains("Bob Gone"),
            "{} logs no personal data",
            nodes.id(i)
        );
    }
    drop(nodes);
}

/// A single node's history, personal data and an erasure included, seeds an empty
/// cluster: the other node opens what the single node sealed, and the erased passenger
/// reads erased there too.
#[test]
fn a_single_nodes_history_seeds_a_cluster_with_its_keys() {
    let _turn = nodes::serial();
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (seed, other) = (dir.path().join("seed"), dir.path().join("other"));
    let master = dir.path().join("master.key");
    let key = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["keys", "new-master"])
        .output()
        .unwrap();
    std::fs::write(&master, &key.stdout).unwrap();
    let admin = nodes::token(&seed, "admin", "privacy-officer");
    let port = nodes::free_port().unwrap();
    let mut single = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", seed.to_str().unwrap(), "serve"])
        .args(["--http-addr", &format!("127.0.0.1:{port}")])
        .args(["--master-key-file", master.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let ask = |method: &str, path: &str, body: &str| {
        nodes::http(
            port,
            method,
            path,
            &admin,
            &[],
            body,
            Duration::from_secs(10),
        )
    };
    while ask("GET", "/v1/cluster", "").is_err() {
        assert!(started.elapsed() < WITHIN, "the single node serves");
        std::thread::sleep(Duration::from_millis(100));
    }
    let contact = |name: &str| {
        json!({"tier": "gold",
            "contact": {"name": name, "email": "x@example.org", "phone": null, "language": "en-GB"},
            "consent": {"email": true, "sms": false, "phone": false, "app_push": false}})
        .to_string()
    };
    for (id, name) in [("FFOLD", "Dora Old"), ("FFWENT", "Eli Went")] {
        let answer = ask(
            "POST",
            &format!("/v1/passengers/{id}/register_passenger"),
            &contact(name),
        )
        .unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let erased = ask(
        "POST",
        "/v1/passengers/FFWENT/erase",
        r#"{"reason": "erasure request 2026-302"}"#,
    )
    .unwrap();
    assert_eq!(erased.status, 200, "{erased:?}");
    let at = erased.json()["position"].as_u64().unwrap();
    single.kill().unwrap();
    single.wait().unwrap();

    let nats = rt.block_on(NatsCluster::start());
    let nodes = Nodes::start_with_master(&nats, &[seed, other], Start::OneByOne, &master);
    let head = nodes.wait_converged(WITHIN, Duration::from_millis(500));
    assert!(
        head.position >= at,
        "the history is in the cluster: {head:?}"
    );
    for i in 0..2 {
        assert_eq!(
            passenger(&nodes, i, "FFOLD", at)["contact"]["name"],
            "Dora Old",
            "{}",
            nodes.id(i)
        );
        let went = passenger(&nodes, i, "FFWENT", at);
        assert_eq!(went["erased"], json!(true), "{}: {went}", nodes.id(i));
        let audit = nodes.revealed_replay(i, &nodes.tokens.admin);
        assert!(
            audit.contains("Dora Old")
                && !audit.contains("Eli Went")
                && audit.contains("[erased]")
                && !audit.contains("[unavailable]"),
            "{} reveals the seeded history: {}",
            nodes.id(i),
            audit
        );
    }
    drop(nodes);
}
