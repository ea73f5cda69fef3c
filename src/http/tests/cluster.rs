//! A follower forwards commands to the leader and serves reads itself; `GET /v1/cluster`
//! says who is who (src/http/cluster.rs).

use super::*;
use crate::cluster::node::{ClusterView, LeaderView, NodeRole};

fn follower_of(leader: Option<LeaderView>) -> watch::Receiver<ClusterView> {
    let view = ClusterView {
        cluster: Some("test".into()),
        node_id: Some("node-b".into()),
        role: NodeRole::Follower,
        term: None,
        leader,
        log_last: Some(0),
    };
    // The sender may go: the receiver keeps the last value.
    watch::channel(view).1
}

fn leader_at(url: &str) -> Option<LeaderView> {
    Some(LeaderView {
        node_id: "node-a".into(),
        url: url.into(),
        term: 7,
    })
}

#[tokio::test]
async fn a_follower_forwards_commands_to_the_leader_and_reads_from_its_own_log() {
    let leader = api().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = leader.router.clone();
    tokio::spawn(async move { axum::serve(listener, serving).await });
    let follower = api_configured(
        stream::StreamLimits::default(),
        Some(follower_of(leader_at(&url))),
        Some(&leader),
    )
    .await;

    let answer = follower
        .post("crisis_lead", "/v1/incidents", open_body("forwarded"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["x-crisisd-leader"], "node-a");
    assert_eq!(leader.store.head().position, 1, "written by the leader");
    assert_eq!(follower.store.head().position, 0, "not by the follower");
    // The leader's refusals come back as they are.
    let refused = follower
        .post("agent", "/v1/incidents", open_body("not an agent's"))
        .await;
    problem(&refused, StatusCode::FORBIDDEN, "forbidden");
    // Reads are the follower's own.
    let read = follower.get("crisis_lead", "/v1/incidents").await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert!(read.headers.get("x-crisisd-leader").is_none());
    let cluster = follower.get("auditor", "/v1/cluster").await;
    assert_eq!(cluster.body["role"], "follower");
    assert_eq!(cluster.body["leader"]["url"], url.as_str());
    assert_eq!(cluster.body["head"]["position"], 0);
    let single = leader.get("flight_ops", "/v1/cluster").await;
    assert_eq!(single.body["role"], "single", "{}", single.text);
    assert_eq!(single.body["head"]["position"], 1);
}

#[tokio::test]
async fn without_a_reachable_leader_a_follower_says_when_to_retry() {
    let nobody = api_configured(
        stream::StreamLimits::default(),
        Some(follower_of(None)),
        None,
    )
    .await;
    let reply = nobody
        .post("crisis_lead", "/v1/incidents", open_body("x"))
        .await;
    problem(&reply, StatusCode::SERVICE_UNAVAILABLE, "no_leader");
    assert_eq!(reply.headers["retry-after"], "2");

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = api_configured(
        stream::StreamLimits::default(),
        Some(follower_of(leader_at(&gone))),
        None,
    )
    .await;
    let reply = unreachable
        .post("crisis_lead", "/v1/incidents", open_body("x"))
        .await;
    problem(&reply, StatusCode::SERVICE_UNAVAILABLE, "no_leader");
    assert!(reply.body["detail"].as_str().unwrap().contains(&gone));

    // Forwarded once already: never again (two followers naming each other).
    let reply = unreachable
        .call(
            Some("crisis_lead"),
            Method::POST,
            "/v1/incidents",
            &[
                ("content-type", "application/json"),
                ("x-crisisd-forwarded-by", "node-c"),
            ],
            Some(open_body("x")),
        )
        .await;
    problem(&reply, StatusCode::SERVICE_UNAVAILABLE, "no_leader");

    // A leader this node cannot forward to (TLS in front of it): a redirect.
    let tls = api_configured(
        stream::StreamLimits::default(),
        Some(follower_of(leader_at("https://crisis.example.org"))),
        None,
    )
    .await;
    let reply = tls
        .post("crisis_lead", "/v1/incidents?x=1", open_body("x"))
        .await;
    problem(&reply, StatusCode::TEMPORARY_REDIRECT, "not_leader");
    assert_eq!(
        reply.headers["location"],
        "https://crisis.example.org/v1/incidents?x=1"
    );
    assert_eq!(reply.headers["x-crisisd-leader"], "node-a");
    assert_eq!(tls.store.head().position, 0);
}
