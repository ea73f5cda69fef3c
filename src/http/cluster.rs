//! `GET /v1/cluster` (what this node knows of its cluster) and, on a follower, the
//! redirect of every command to the leader (docs/cluster.md).
//!
//! A follower forwards a write (any method but GET, HEAD and OPTIONS under `/v1/`) to
//! the leader's advertised URL — same method, path, query, headers and body, one
//! connection per request — and relays its answer, adding `X-Crisisd-Leader` with the
//! leader's node id: a client can write to any node and keep its token (browsers and
//! curl drop `Authorization` on a redirect to another origin). A leader URL that is not
//! plain `http://host:port` is answered with `307 Temporary Redirect` there instead.
//! With no leader known (an election in progress), or when the leader cannot be reached,
//! the answer is `503 no_leader` with `Retry-After`. A request already forwarded once is
//! never forwarded again. Reads are served by every node from its own copy of the log;
//! use `?after=<position>` to read your own writes.

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
    let mut answer = match leader.url.strip_prefix("http://") {
        Some(authority) if !authority.trim_end_matches('/').contains('/') => {
            match forward(authority.trim_end_matches('/'), &node_id, request).await {
                Ok(answer) => answer,
                Err(cause) => {
                    tracing::warn!(%cause, leader = %leader.node_id, "could not forward a command to the leader");
                    return no_leader(format!(
                        "this node follows {} at {}, which did not answer ({cause}): retry shortly",
                        leader.node_id, leader.url
                    ));
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

/// Sends `request` to the leader at `authority` (`host:port`) and returns its answer.
async fn forward(authority: &str, node_id: &str, request: Request) -> Result<Response, String> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|err| err.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|err| err.to_string())?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(cause = %err, "forwarding connection ended");
        }
    });
    let (mut parts, body) = request.into_parts();
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|err: axum::http::uri::InvalidUri| err.to_string())?;
    if let Ok(host) = HeaderValue::from_str(authority) {
        parts.headers.insert(header::HOST, host);
    }
    if let Ok(me) = HeaderValue::from_str(node_id) {
        parts.headers.insert(FORWARDED_HEADER, me);
    }
    parts.headers.remove(header::CONNECTION);
    let answer = sender
        .send_request(Request::from_parts(parts, body))
        .await
        .map_err(|err| err.to_string())?;
    Ok(answer.map(axum::body::Body::new))
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
