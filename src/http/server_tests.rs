//! The server on a real listener, driven by raw TCP clients. Waits have generous
//! deadlines so that a loaded machine passes; the limits under test are far shorter, and
//! the limits that must not act are far longer than any deadline.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::*;

/// Longest any test waits for something that must happen.
const DEADLINE: Duration = Duration::from_secs(60); // generous: only ever waited on for what must happen
/// A limit that must not act within a test.
const LONG: Duration = Duration::from_secs(600);
const SHORT_HEADERS: Duration = Duration::from_millis(200);
const SHORT_IDLE: Duration = Duration::from_millis(300);
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

struct Server {
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
    /// `/hold` answers once this is notified; `held` is notified when it is entered.
    release: Arc<Notify>,
    held: Arc<Notify>,
}

async fn start(header_timeout: Duration, idle_timeout: Duration, connections_max: usize) -> Server {
    let (release, held) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (hold_release, hold_held) = (release.clone(), held.clone());
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/hold",
            get(move || async move {
                hold_held.notify_one();
                hold_release.notified().await;
                "released"
            }),
        );
    let limits = ServerLimits {
        header_timeout,
        idle_timeout,
        connections_max,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, router, limits, shutdown_rx));
    Server {
        addr,
        shutdown_tx,
        task,
        release,
        held,
    }
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr).await.unwrap()
}

/// Reads one response (its head and a `Content-Length` body); returns the head, lower
/// case, and the body.
async fn response(stream: &mut TcpStream) -> (String, String) {
    let read = async {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&bytes[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |n| n.trim().parse().unwrap());
                if bytes.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]);
                    return (head, body.into_owned());
                }
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&bytes)
            );
            bytes.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("no response")
}

async fn get_healthz(stream: &mut TcpStream) -> (String, String) {
    stream.write_all(HEALTHZ).await.unwrap();
    response(stream).await
}

/// Whether the server closes `stream` within [`DEADLINE`] (bytes before the end are
/// ignored).
async fn closed(stream: &mut TcpStream) -> bool {
    let until_end = async {
        let mut chunk = [0u8; 1024];
        while matches!(stream.read(&mut chunk).await, Ok(1..)) {}
    };
    tokio::time::timeout(DEADLINE, until_end).await.is_ok()
}

#[tokio::test]
async fn a_client_that_does_not_finish_a_request_head_in_time_is_disconnected() {
    let server = start(SHORT_HEADERS, LONG, 16).await;

    let mut silent = connect(&server).await;
    let mut half = connect(&server).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed(&mut silent).await,
        "a silent new connection stays open"
    );
    let mut nothing = Vec::new();
    silent.read_to_end(&mut nothing).await.unwrap();
    assert!(nothing.is_empty(), "no request, no answer: {nothing:?}");
    assert_timed_out(&mut half).await;

    // On a kept-alive connection the idle timeout (long here) ends with the first byte.
    let mut kept = connect(&server).await;
    assert!(get_healthz(&mut kept).await.0.starts_with("http/1.1 200"));
    kept.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    for _ in 0..3 {
        kept.write_all(b"X-Trickle: 1\r\n").await.unwrap();
    }
    assert_timed_out(&mut kept).await;
}

/// `stream`'s request head took too long: it is told so (`408`, a problem) and closed.
async fn assert_timed_out(stream: &mut TcpStream) {
    let (head, body) = response(stream).await;
    assert!(head.starts_with("http/1.1 408"), "{head}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "request_timeout", "{body}");
    assert!(closed(stream).await, "the connection ends after the answer");
}

#[tokio::test]
async fn requests_hyper_refuses_before_any_handler_are_answered_as_problems() {
    let server = start(LONG, LONG, 16).await;
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let not_http = "GET / HTTP/1.1\r\nHost x\r\n\r\n".to_owned();
    for (request, status, code) in [
        (long_uri, "414", "uri_too_long"),
        (not_http, "400", "invalid_request"),
    ] {
        let mut stream = connect(&server).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        let (head, body) = response(&mut stream).await;
        assert!(head.starts_with(&format!("http/1.1 {status}")), "{head}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["code"], code, "{body}");
        assert!(
            closed(&mut stream).await,
            "the connection ends after a refusal"
        );
    }
    // What crisisd answers itself is untouched.
    let mut stream = connect(&server).await;
    assert_eq!(get_healthz(&mut stream).await.1, "ok");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_and_a_busy_one_is_not() {
    let server = start(LONG, SHORT_IDLE, 16).await;

    let mut idle = connect(&server).await;
    let (head, body) = get_healthz(&mut idle).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "ok");
    assert!(closed(&mut idle).await, "an idle connection stays open");

    // A request in flight is not idle, however long it takes.
    let mut busy = connect(&server).await;
    busy.write_all(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    server.held.notified().await;
    tokio::time::sleep(SHORT_IDLE * 3).await;
    server.release.notify_one();
    let (head, body) = response(&mut busy).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "released");
}

#[tokio::test]
async fn past_the_connection_limit_a_client_is_told_to_retry_and_is_served_once_one_closes() {
    let server = start(LONG, LONG, 2).await;
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    for stream in [&mut first, &mut second] {
        assert!(get_healthz(stream).await.0.starts_with("http/1.1 200"));
    }

    let mut third = connect(&server).await;
    let (head, body) = get_healthz(&mut third).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    for expected in [
        "content-type: application/problem+json",
        "retry-after: 1",
        "connection: close",
    ] {
        assert!(head.contains(expected), "{expected} missing in {head}");
    }
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "too_many_connections", "{body}");
    assert!(closed(&mut third).await, "a refused connection stays open");
    assert!(get_healthz(&mut second).await.0.starts_with("http/1.1 200"));

    drop(first);
    let served_again = async {
        loop {
            let mut next = connect(&server).await;
            if get_healthz(&mut next).await.0.starts_with("http/1.1 200") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, served_again)
        .await
        .expect("no connection served after one closed");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_lets_a_request_in_flight_finish() {
    let server = start(LONG, LONG, 16).await;
    let mut kept = connect(&server).await;
    assert!(get_healthz(&mut kept).await.0.starts_with("http/1.1 200"));
    let mut in_flight = connect(&server).await;
    in_flight
        .write_all(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    server.held.notified().await;

    server.shutdown_tx.send(true).unwrap();
    assert!(
        closed(&mut kept).await,
        "a kept-alive connection stays open"
    );
    let refused = async {
        while TcpStream::connect(server.addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, refused)
        .await
        .expect("still accepting after shutdown");
    assert!(
        !server.task.is_finished(),
        "returned with a request in flight"
    );

    server.release.notify_one();
    let (head, body) = response(&mut in_flight).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "released");
    assert!(closed(&mut in_flight).await);
    tokio::time::timeout(DEADLINE, server.task)
        .await
        .expect("shutdown did not complete")
        .unwrap()
        .unwrap();
}
