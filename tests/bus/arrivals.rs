//! The benchmark's minimal subscriber against a real nats-server: it sees every
//! subject, with and without headers, whatever the body holds, and a server PING is
//! answered so the connection stays up.

use std::time::Duration;

use crisisd::tools::arrivals::Arrivals;

use crate::nats_server::NatsServer;

#[tokio::test]
async fn arrivals_sees_every_subject_and_skips_bodies() {
    let server = NatsServer::start();
    let url = server.url();
    let mut arrivals = Arrivals::subscribe(url.trim_start_matches("nats://"), "a.*.b")
        .await
        .unwrap();
    let client = async_nats::connect(&url).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("ce-id", "x");
    headers.insert("ce-type", "signal.recorded");
    // Bodies that look like protocol lines, and an empty one.
    client
        .publish_with_headers("a.1.b", headers.clone(), "MSG a.9.b 1 5\r\nhello".into())
        .await
        .unwrap();
    client.publish("a.2.b", "".into()).await.unwrap();
    client.publish("a.other", "x".into()).await.unwrap();
    client
        .publish_with_headers("a.3.b", headers, "PING\r\n".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let subject = tokio::time::timeout(Duration::from_secs(60), arrivals.next())
            .await
            .expect("a message within 10 s")
            .unwrap()
            .expect("connection open");
        seen.push(subject);
    }
    assert_eq!(seen, ["a.1.b", "a.2.b", "a.3.b"]);
}

#[tokio::test]
async fn arrivals_ends_when_the_server_goes_away() {
    let mut server = NatsServer::start();
    let url = server.url();
    let mut arrivals = Arrivals::subscribe(url.trim_start_matches("nats://"), "x")
        .await
        .unwrap();
    server.stop();
    let next = tokio::time::timeout(Duration::from_secs(60), arrivals.next())
        .await
        .expect("the reader notices within 10 s");
    assert!(matches!(next, Ok(None)), "{next:?}");
}
