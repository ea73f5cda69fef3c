//! `GET /v1/cluster` (what this node knows of its cluster) and, on a follower, the
//! redirect of every command to the leader (docs/cluster.md).
//!
//! A follower forwards a write (any method but GET, HEAD and OPTIONS under `/v1/`) to
//! the leader's advertised URL — same method, path, query, headers and body, over
//! connections kept open between commands — and relays its answer, adding
//! `X-Crisisd-Leader` with the leader's node id: a client can write to any node and keep
//! its token (browsers and curl drop `Authorization` on a redirect to another origin). A
//! leader URL that is not plain `http://host:port` is answered with `307 Temporary
//! Redirect` there instead. With no leader known (an election in progress), or when the
//! leader cannot be reached, the answer is `503 no_leader` with `Retry-After`; when the
//! leader took the command but did not answer within [`FORWARD_TIMEOUT`] (a paused or
//! cut-off leader), `503 leader_no_answer`: the command may or may not be stored, and a
//! retry with the same `Idempotency-Key` stores it once. A request already forwarded once
//! is never forwarded again. Reads are served by every node from its own copy of the
//! log; use `?after=<position>` to read your own writes.

use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;

use super::AppState;
use super::problem::Problem;
use super::routes::{Routes, op, schema};
use crate::cluster::node::{ClusterView, LeaderView, NodeRole};
use crate::domain::common::Role;

/// The header naming the leader a follower redirects to.
pub const LEADER_HEADER: &str = "x-crisisd-leader";

/// Everyone with a token may ask where to write.
const ANY_ROLE: &[Role] = &[
    Role::FlightOps,
    Role::Channel,
    Role::Agent,
    Role::CrisisLead,
    Role::Auditor,
    Role::Admin,
];

pub(super) fn routes(routes: Routes) -> Routes {
    routes.get(
        "/v1/cluster",
        op("This node in its cluster: its role, the leader it follows, its log's head and the cluster log's last position (a single node says `single`)")
            .roles(ANY_ROLE)
            .response(schema::<ClusterAnswer>),
        cluster,
    )
}

/// `GET /v1/cluster`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ClusterAnswer {
    #[serde(flatten)]
    pub view: ClusterView,
    /// This node's durable head.
    pub head: HeadAnswer,
}

/// A log's head: its last position and that record's hash.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HeadAnswer {
    pub position: u64,
    pub hash: String,
}

async fn cluster(State(state): State<AppState>) -> Json<ClusterAnswer> {
    Json(ClusterAnswer {
        view: state.cluster().borrow().clone(),
        head: {
            let head = state.store().head();
            HeadAnswer {
                position: head.position,
                hash: head.hash.to_hex(),
            }
        },
    })
}

/// On a follower, sends writes to the leader (see the module docs).
pub(super) async fn writes_to_leader(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let reading = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if reading || !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let view = state.cluster().borrow().clone();
    if view.role != NodeRole::Follower {
        return next.run(request).await;
    }
    let no_leader = |detail: String| {
        let mut answer =
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "no_leader", detail).into_response();
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        answer
    };
    let Some(leader) = view.leader else {
        return no_leader("this node follows, and the cluster has no leader right now (an election takes a few seconds): retry shortly; GET /v1/cluster shows when one leads".into());
    };
    if request.headers().contains_key(FORWARDED_HEADER) {
        return no_leader(format!(
            "forwarded here as to the leader, but this node follows {}: the cluster is changing leader; retry shortly",
            leader.node_id
        ));
    }
    let node_id = view.node_id.unwrap_or_default();
    let forwarder = &state.inner.forwarder;
    let mut answer = match leader.url.strip_prefix("http://") {
        Some(authority) if !authority.trim_end_matches('/').contains('/') => {
            let authority = authority.trim_end_matches('/');
            let forwarded = tokio::time::timeout(
                FORWARD_TIMEOUT,
                forwarder.forward(authority, &node_id, request),
            )
            .await
            .unwrap_or_else(|_| {
                Err(ForwardError::Unanswered(format!(
                    "no answer within {FORWARD_TIMEOUT:?}"
                )))
            });
            match forwarded {
                Ok(answer) => answer,
                Err(ForwardError::NotSent(cause)) => {
                    tracing::warn!(%cause, leader = %leader.node_id, "could not forward a command to the leader");
                    return no_leader(format!(
                        "this node follows {} at {}, which did not answer ({cause}): nothing was stored; retry shortly",
                        leader.node_id, leader.url
                    ));
                }
                Err(ForwardError::Unanswered(cause)) => {
                    tracing::warn!(%cause, leader = %leader.node_id, "a command forwarded to the leader got no answer");
                    let mut answer = Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "leader_no_answer",
                        format!(
                            "this node forwarded the command to the leader {} at {}, which did not answer ({cause}): it may or may not be stored; retry with the same Idempotency-Key to store it once",
                            leader.node_id, leader.url
                        ),
                    )
                    .into_response();
                    answer
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
                    return answer;
                }
            }
        }
        _ => redirect(&leader, &request),
    };
    if let Ok(node) = HeaderValue::from_str(&leader.node_id) {
        answer.headers_mut().insert(LEADER_HEADER, node);
    }
    answer
}

/// Marks a request a follower forwarded (with its node id).
const FORWARDED_HEADER: &str = "x-crisisd-forwarded-by";

/// How long connecting to the leader may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a forwarded command may take in all. A live leader answers within its lease
/// (its writes give up on a log that does not confirm), so only a leader that stopped
/// (paused, cut off) reaches this.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections to the leader kept open between forwarded commands.
const IDLE_CONNECTIONS_MAX: usize = 16;
/// Largest answer relayed (a command's answer is a small JSON document).
const ANSWER_BYTES_MAX: usize = 8 << 20;

type Sender = hyper::client::conn::http1::SendRequest<axum::body::Body>;

/// Why a command did not reach the leader, or got no answer from it.
enum ForwardError {
    /// Not sent: nothing can have been stored.
    NotSent(String),
    /// Sent, and no whole answer came back: it may or may not be stored.
    Unanswered(String),
}

/// A follower's connections to the leader, kept open between the commands it forwards
/// (a new TCP connection per command cost a round trip each).
#[derive(Default)]
pub(super) struct Forwarder {
    idle: Mutex<Vec<(String, Sender)>>,
}

impl Forwarder {
    /// Sends `request` to the leader at `authority` (`host:port`) — on an open connection
    /// when one is idle, else on a new one — and returns its answer, read whole.
    async fn forward(
        &self,
        authority: &str,
        node_id: &str,
        request: Request,
    ) -> Result<Response, ForwardError> {
        let (mut parts, body) = request.into_parts();
        parts.uri = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|err: axum::http::uri::InvalidUri| ForwardError::NotSent(err.to_string()))?;
        if let Ok(host) = HeaderValue::from_str(authority) {
            parts.headers.insert(header::HOST, host);
        }
        if let Ok(me) = HeaderValue::from_str(node_id) {
            parts.headers.insert(FORWARDED_HEADER, me);
        }
        parts.headers.remove(header::CONNECTION);
        let mut request = Request::from_parts(parts, body);
        if let Some(mut sender) = self.take(authority).await {
            match sender.try_send_request(request).await {
                Ok(answer) => return self.relay(authority, sender, answer).await,
                // The leader had closed it (idle, or restarted): send on a new one.
                Err(mut err) => match err.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(ForwardError::Unanswered(err.into_error().to_string())),
                },
            }
        }
        let mut sender = connect(authority).await.map_err(ForwardError::NotSent)?;
        match sender.try_send_request(request).await {
            Ok(answer) => self.relay(authority, sender, answer).await,
            Err(mut err) => match err.take_message() {
                Some(_) => Err(ForwardError::NotSent(err.into_error().to_string())),
                None => Err(ForwardError::Unanswered(err.into_error().to_string())),
            },
        }
    }

    /// Reads the leader's answer whole, keeps the connection for the next command, and
    /// returns the answer.
    async fn relay(
        &self,
        authority: &str,
        sender: Sender,
        answer: Response<hyper::body::Incoming>,
    ) -> Result<Response, ForwardError> {
        let (parts, body) = answer.into_parts();
        let body = axum::body::to_bytes(axum::body::Body::new(body), ANSWER_BYTES_MAX)
            .await
            .map_err(|err| ForwardError::Unanswered(err.to_string()))?;
        self.put(authority, sender);
        Ok(Response::from_parts(parts, axum::body::Body::from(body)))
    }

    /// An idle connection to `authority` that can take a request (a connection whose
    /// last answer was just read may take a moment to say so).
    async fn take(&self, authority: &str) -> Option<Sender> {
        loop {
            let mut sender = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                let i = idle.iter().rposition(|(a, _)| a == authority)?;
                idle.swap_remove(i).1
            };
            let ready = tokio::time::timeout(Duration::from_millis(50), sender.ready()).await;
            if matches!(ready, Ok(Ok(()))) {
                return Some(sender);
            }
        }
    }

    fn put(&self, authority: &str, sender: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(_, s)| !s.is_closed());
        if idle.len() < IDLE_CONNECTIONS_MAX && !sender.is_closed() {
            idle.push((authority.to_owned(), sender));
        }
    }
}

/// A new HTTP/1.1 connection to `authority`.
async fn connect(authority: &str) -> Result<Sender, String> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(authority))
        .await
        .map_err(|_| format!("no connection within {CONNECT_TIMEOUT:?}"))?
        .map_err(|err| err.to_string())?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|err| err.to_string())?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(cause = %err, "forwarding connection ended");
        }
    });
    Ok(sender)
}

/// `307` to the same path on the leader (a leader URL this node cannot forward to).
fn redirect(leader: &LeaderView, request: &Request) -> Response {
    let target = format!(
        "{}{}",
        leader.url.trim_end_matches('/'),
        request
            .uri()
            .path_and_query()
            .map_or(request.uri().path(), |p| p.as_str())
    );
    let mut answer = Problem::new(
        StatusCode::TEMPORARY_REDIRECT,
        "not_leader",
        format!(
            "this node follows; send writes to the leader {} at {}",
            leader.node_id, leader.url
        ),
    )
    .into_response();
    if let Ok(location) = HeaderValue::from_str(&target) {
        answer.headers_mut().insert(header::LOCATION, location);
    }
    answer
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A stand-in leader on a free loopback port: answers every request `201` with its
    /// path, keeping connections open or not; counts the connections it accepted.
    async fn leader(keep_alive: bool) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        let app = axum::Router::new().fallback(|request: Request| async move {
            (StatusCode::CREATED, request.uri().path().to_owned())
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .keep_alive(keep_alive)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        (authority, accepted)
    }

    fn command(path: &str) -> Request {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .body(axum::body::Body::from("{}"))
            .unwrap()
    }

    /// Forwards `count` commands one after another to a stand-in leader, checks each
    /// answer, and returns how many connections the leader accepted.
    async fn forward_in_turn(keep_alive: bool, count: usize) -> usize {
        let (authority, accepted) = leader(keep_alive).await;
        let forwarder = Forwarder::default();
        for n in 0..count {
            let path = format!("/v1/incidents/{n}");
            let Ok(answer) = forwarder
                .forward(&authority, "node-2", command(&path))
                .await
            else {
                panic!("command {n} was not forwarded");
            };
            assert_eq!(answer.status(), StatusCode::CREATED);
            let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
                .await
                .unwrap();
            assert_eq!(bytes, path.as_bytes());
        }
        accepted.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn commands_forwarded_one_after_another_share_one_connection() {
        assert_eq!(forward_in_turn(true, 5).await, 1);
    }

    #[tokio::test]
    async fn a_connection_the_leader_closed_is_replaced_without_losing_the_command() {
        assert_eq!(forward_in_turn(false, 3).await, 3);
    }

    #[tokio::test]
    async fn a_leader_not_listening_means_nothing_was_sent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        drop(listener);
        let forwarded = Forwarder::default()
            .forward(&authority, "node-2", command("/v1/incidents"))
            .await;
        assert!(matches!(forwarded, Err(ForwardError::NotSent(_))));
    }

    #[tokio::test]
    async fn a_leader_that_reads_a_command_and_hangs_up_leaves_it_unanswered() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            // Dropped: the connection closes without an answer.
        });
        let forwarded = Forwarder::default()
            .forward(&authority, "node-2", command("/v1/incidents"))
            .await;
        assert!(matches!(forwarded, Err(ForwardError::Unanswered(_))));
    }
}
