//! The HTTP server: crisisd's own accept loop on hyper, with the bounds a listener on a
//! network needs and `axum::serve` does not offer.
//!
//! - **Heads.** A connection must send a whole request head (request line and headers)
//!   within [`ServerLimits::header_timeout`] of being accepted, or of the first byte of a
//!   later request; a kept-alive connection may wait [`ServerLimits::idle_timeout`] for
//!   that byte. Otherwise it is closed without an answer ([`super::head_timeout`]). Once
//!   the head is in, the request is the router's: [`super::REQUEST_TIMEOUT`] bounds its
//!   answer, and streamed answers (SSE, replay) flow for as long as the client reads.
//! - **Connections.** At most [`ServerLimits::connections_max`] are served at once. One
//!   more is still accepted, answered `503` (`application/problem+json`, `Retry-After`,
//!   `Connection: close`) and closed: its client learns at once that crisisd is full and
//!   when to retry, where an unaccepted one would wait in the kernel's queue until its own
//!   timeout, with nothing to tell a person or a retry policy. Those answers are bounded
//!   too ([`REFUSALS_MAX`] at a time, each under the header timeout); past that a
//!   connection is closed at once, so a flood costs a socket for an instant, not a task.
//! - **Shutdown.** When the shutdown signal turns true the listener closes, idle
//!   connections close, requests in flight finish (SSE streams end themselves on the same
//!   signal) and [`serve`] returns once the last connection is gone; `crisisd serve`
//!   bounds that wait with its shutdown deadline.
//! - **TCP_NODELAY** on every connection: SSE events and small answers leave at once
//!   instead of waiting for the client's delayed ACK of the previous segment.
//!
//! Refused and timed-out connections are logged at debug level only (a flood must not
//! flood the log), and never with the peer's address, which is personal data.

use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::head_timeout::{Arrivals, HeadTimer, Watched};
use super::problem::Problem;

/// Connections answered `503` at a time, beyond [`ServerLimits::connections_max`].
pub const REFUSALS_MAX: usize = 64;
/// What a refused client is told to wait before retrying (connections end within the
/// idle timeout, most much sooner).
const RETRY_AFTER_S: u64 = 1;
/// Pause after the listener fails for another reason than one client (out of file
/// descriptors, say), so that the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Bounds on the HTTP server's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Longest a client may take to send a request head, from being accepted or from the
    /// first byte of a later request on the connection.
    pub header_timeout: Duration,
    /// Longest a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub connections_max: usize,
}

impl Default for ServerLimits {
    /// Headers: 10 s, ample for one small write on a slow link, short enough that a
    /// client trickling them holds a connection briefly. Idle: 75 s, longer than the
    /// 60 s idle timeout common load balancers use, so that they close first. 1,024
    /// connections, as many as the usual default file-descriptor limit.
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            connections_max: 1024,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` turns true, then waits
/// for the connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(
        limits.connections_max.min(Semaphore::MAX_PERMITS),
    ));
    let refusals = Arc::new(Semaphore::new(REFUSALS_MAX));
    let busy = Router::new().fallback(|| async { busy() });
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopping(&mut shutdown) => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                accept_failed(err).await;
                continue;
            }
        };
        let (router, permit) = match permits.clone().try_acquire_owned() {
            Ok(permit) => (router.clone(), permit),
            Err(_) => match refusals.clone().try_acquire_owned() {
                Ok(permit) => {
                    tracing::debug!(
                        connections_max = limits.connections_max,
                        "HTTP connection limit reached; answering 503"
                    );
                    (busy.clone(), permit)
                }
                Err(_) => {
                    tracing::debug!("HTTP connection limit reached; closing a connection");
                    continue;
                }
            },
        };
        let connection = serve_connection(stream, router, limits, shutdown.clone(), permit);
        connections.spawn(connection);
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection until it ends, or until shutdown lets its request finish.
/// `_permit` is its place among the connections served at once.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(cause = %err, "cannot set TCP_NODELAY on an HTTP connection");
    }
    let arrivals = Arc::new(Arrivals::default());
    let io = TokioIo::new(Watched::new(
        stream,
        arrivals.clone(),
        limits.header_timeout,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(HeadTimer::new(arrivals.clone(), &limits))
        .header_read_timeout(limits.header_timeout);
    let mut connection = pin!(http.serve_connection(io, TowerToHyperService::new(router)));
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = stopping(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = ended {
        tracing::debug!(cause = %err, "HTTP connection closed");
    }
}

/// Resolves once shutdown begins (or its sender is gone, which means the same).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The answer to a connection past [`ServerLimits::connections_max`].
fn busy() -> Response {
    let mut response = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_connections",
        format!("crisisd serves as many connections as it may; retry in {RETRY_AFTER_S} s"),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A client that gave up during its handshake costs nothing; anything else (out of file
/// descriptors, say) is the operator's to know, and waits a moment before accepting again.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(cause = %err, "an HTTP client left before its connection was accepted");
        return;
    }
    tracing::warn!(cause = %err, retry_in_s = ACCEPT_RETRY.as_secs(), "cannot accept HTTP connections (out of file descriptors? raise the limit or lower --http-connections-max)");
    tokio::time::sleep(ACCEPT_RETRY).await;
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
