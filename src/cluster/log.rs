//! The replicated log: in cluster mode the source of truth for committed records, a
//! JetStream stream (default `CRISIS_LOG`, one subject `crisis.log.<cluster>`, file
//! storage, R3, no limits, delete and purge denied).
//!
//! - **Records are opaque.** Each message is one record's bytes (the caller puts a committed
//!   event's canonical bytes, position and hashes in it). The stream starts empty and only
//!   ever grows, so stream sequence n is the n-th record ever appended. Side records that
//!   travel with a record (the key store's wrapped data keys) ride in its message, ahead
//!   of the record's bytes, their length in the header [`SIDE_HEADER`] (a header could
//!   not hold them: JetStream caps headers at 64 KiB), so they take no sequence of their
//!   own.
//! - **Fencing.** [`ReplicatedLog::append_batch`] names the stream's last sequence it
//!   expects (`Nats-Expected-Last-Sequence`). The stream leader checks it under its lock at
//!   commit time and refuses otherwise: [`LogError::Fenced`]. So a deposed leader, which
//!   cannot know the sequence its successor appended up to, cannot add a single record.
//!   The expected sequence is the fencing token; the lease only makes fencing rare.
//! - **All or nothing.** A batch is one JetStream atomic batch (ADR-50, nats-server ≥ 2.12,
//!   stream setting `allow_atomic`): headers `Nats-Batch-Id`, `Nats-Batch-Sequence` on every
//!   message, `Nats-Batch-Commit: 1` on the last. The server stages the messages and stores
//!   all of them on commit, or none (a lost message, a refused check, 10 s without traffic).
//!   At most [`BATCH_RECORDS_MAX`] records per batch (the server's limit).
//! - **Acknowledged = replicated.** The commit's answer arrives after the stream's Raft
//!   group stored the batch on a quorum; with `sync_interval: always` on every server, on
//!   their disks.
//! - **Unknown outcomes.** Failing before the commit message was sent stores nothing
//!   ([`LogError::Unavailable`], retry as is). Failing after it ([`LogError::Unacknowledged`])
//!   may or may not have stored the batch: read from `expected + 1` to learn, and never
//!   append anything else at `expected` until you know (a retry at `expected` would be
//!   refused as fenced if the first attempt landed, so nothing is ever stored twice).
//!
//! The typed stream configuration of async-nats lacks `allow_atomic` unless its
//! `server_2_12` feature is on (this crate builds without it), so the stream is created
//! with a raw `$JS.API.STREAM.CREATE` request and checked with `$JS.API.STREAM.INFO`.

use std::pin::Pin;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;

/// The server's limit on messages in one atomic batch (its default `max_msgs`): the
/// store refuses an append of more events, so one append always fits one batch.
pub const BATCH_RECORDS_MAX: usize = crate::store::APPEND_EVENTS_MAX;
/// The header saying that a message carries side records ahead of its record: the
/// length in bytes of that side chunk (each side record length-prefixed).
pub const SIDE_HEADER: &str = "Crisis-Side-Bytes";
/// Wrong `Nats-Expected-Last-Sequence` (server error code).
const ERR_WRONG_LAST_SEQUENCE: u64 = 10071;
/// A stream with this name exists with another configuration.
const ERR_STREAM_NAME_IN_USE: u64 = 10058;

/// Log stream settings. [`LogConfig::for_cluster`] gives the defaults.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub stream: String,
    /// The one subject records are published on.
    pub subject: String,
    /// 3 on a three-server NATS cluster.
    pub replicas: usize,
    /// Longest wait for one answer from NATS (a commit waits for a quorum's disks).
    pub request_timeout: Duration,
}

impl LogConfig {
    /// Stream `CRISIS_LOG`, subject `crisis.log.<cluster>`, R3, 5 s requests.
    pub fn for_cluster(cluster: &str) -> LogConfig {
        LogConfig {
            stream: "CRISIS_LOG".to_owned(),
            subject: format!("crisis.log.{cluster}"),
            replicas: 3,
            request_timeout: Duration::from_secs(5),
        }
    }

    pub fn validate(&self) -> Result<(), LogError> {
        let fail = |why: String| Err(LogError::InvalidConfig(why));
        let token_ok = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !token_ok(&self.stream) {
            return fail(format!(
                "log stream name {:?} must be non-empty letters, digits, '_' or '-'",
                self.stream
            ));
        }
        if !self.subject.split('.').all(token_ok) {
            return fail(format!(
                "log subject {:?} must be dot-separated tokens of letters, digits, '_' or '-' (no wildcards; the cluster name is its last token)",
                self.subject
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return fail(format!(
                "log stream replicas {} must be 1 to 5 (3 on a three-server NATS cluster)",
                self.replicas
            ));
        }
        if self.request_timeout.is_zero() {
            return fail("log request timeout must be above zero".to_owned());
        }
        Ok(())
    }
}

/// One record read back: its stream sequence, the bytes appended and the side records
/// that travelled with it (a side chunk; empty if none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub payload: Bytes,
    pub side: Bytes,
}

/// Why an append or a read failed; each variant says how the caller handles it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("invalid log configuration: {0}")]
    InvalidConfig(String),
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// The stream's last sequence is not the one expected: another writer appended. A
    /// leader that gets this has been deposed: stop writing and follow.
    #[error(
        "the log stream's last sequence is {}, not the expected {expected}: another node appended, so this one no longer leads; step down and follow",
        actual.map_or("unknown".to_owned(), |a| a.to_string())
    )]
    Fenced { expected: u64, actual: Option<u64> },
    /// Nothing was committed: retry the same batch at the same expected sequence.
    #[error("the log stream is unavailable ({0}); nothing was stored: retry")]
    Unavailable(String),
    /// The commit was sent but not answered: the batch may be stored. Read from
    /// `expected + 1` before appending anything else.
    #[error(
        "the log stream did not answer the commit of a batch after sequence {expected} ({cause}); it may be stored: read the stream from {} before appending again",
        expected + 1
    )]
    Unacknowledged { expected: u64, cause: String },
    /// The server refused the batch for another reason; nothing was stored.
    #[error("the log stream refused the batch (error {code}: {description}); nothing was stored")]
    Refused { code: u64, description: String },
    #[error(
        "cannot create or open the log stream {stream}: {cause}; check that NATS runs with JetStream (nats-server 2.12 or later, for atomic batches) and that the cluster has enough JetStream servers for the replicas"
    )]
    Stream { stream: String, cause: String },
    #[error(
        "the log stream {stream} exists with other settings ({found}); wanted {wanted}: fix the configuration, or (only for a cluster without data) delete the stream"
    )]
    StreamMismatch {
        stream: String,
        found: String,
        wanted: String,
    },
    #[error("reading the log stream failed ({0}); open the reader again from the next sequence")]
    Read(String),
}

/// An answer of the JetStream API or a publish: an error, or fields of a success.
#[derive(Debug, Deserialize)]
struct ApiAnswer {
    error: Option<ApiError>,
    seq: Option<u64>,
    count: Option<u64>,
    config: Option<serde_json::Value>,
    state: Option<StreamState>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(default)]
    err_code: u64,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
struct StreamState {
    last_seq: u64,
}

/// The opened log stream.
#[derive(Clone)]
pub struct ReplicatedLog {
    client: async_nats::Client,
    js: jetstream::Context,
    config: LogConfig,
}

impl ReplicatedLog {
    /// Creates the stream if missing, or checks that the existing one has these settings.
    pub async fn open(client: async_nats::Client, config: LogConfig) -> Result<Self, LogError> {
        config.validate()?;
        let log = ReplicatedLog {
            js: jetstream::new(client.clone()),
            client,
            config,
        };
        let wanted = serde_json::json!({
            "name": log.config.stream,
            "description": "crisisd replicated log",
            "subjects": [log.config.subject],
            "retention": "limits",
            "storage": "file",
            "num_replicas": log.config.replicas,
            "discard": "new",
            "deny_delete": true,
            "deny_purge": true,
            "allow_atomic": true,
        });
        let stream_error = |cause: String| LogError::Stream {
            stream: log.config.stream.clone(),
            cause,
        };
        let create = log
            .api(&format!("STREAM.CREATE.{}", log.config.stream), &wanted)
            .await
            .map_err(stream_error)?;
        match create.error {
            None => {}
            Some(error) if error.err_code == ERR_STREAM_NAME_IN_USE => {}
            Some(error) => {
                return Err(stream_error(format!(
                    "error {}: {}",
                    error.err_code, error.description
                )));
            }
        }
        let info = log
            .api(
                &format!("STREAM.INFO.{}", log.config.stream),
                &serde_json::json!({}),
            )
            .await
            .map_err(stream_error)?;
        let found = info.config.unwrap_or_default();
        let keys = [
            "subjects",
            "storage",
            "num_replicas",
            "allow_atomic",
            "deny_delete",
            "deny_purge",
        ];
        let differs = keys.iter().any(|key| {
            let default = serde_json::Value::Bool(false);
            found.get(*key).unwrap_or(&default) != &wanted[*key]
        });
        if differs {
            let pick = |value: &serde_json::Value| {
                keys.iter()
                    .map(|key| {
                        format!(
                            "{key} {}",
                            value.get(*key).unwrap_or(&serde_json::Value::Null)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(LogError::StreamMismatch {
                stream: log.config.stream.clone(),
                found: pick(&found),
                wanted: pick(&wanted),
            });
        }
        Ok(log)
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// One JetStream API request (`$JS.API.<what>`), answered by the stream's leader.
    async fn api(&self, what: &str, body: &serde_json::Value) -> Result<ApiAnswer, String> {
        let payload = Bytes::from(serde_json::to_vec(body).expect("JSON serializes"));
        let request = self.client.request(format!("$JS.API.{what}"), payload);
        let answer = tokio::time::timeout(self.config.request_timeout, request)
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|err| err.to_string())?;
        serde_json::from_slice(&answer.payload)
            .map_err(|err| format!("unreadable answer to {what}: {err}"))
    }

    /// The stream's last sequence (0 while empty): what the next append expects.
    pub async fn last_sequence(&self) -> Result<u64, LogError> {
        let info = self
            .api(
                &format!("STREAM.INFO.{}", self.config.stream),
                &serde_json::json!({}),
            )
            .await
            .map_err(LogError::Unavailable)?;
        if let Some(error) = info.error {
            return Err(LogError::Unavailable(format!(
                "error {}: {}",
                error.err_code, error.description
            )));
        }
        info.state
            .map(|state| state.last_seq)
            .ok_or_else(|| LogError::Unavailable("stream info without a state".to_owned()))
    }

    /// Appends `records` as one atomic batch if the stream's last sequence is
    /// `expected_last_seq`; returns the sequence of the batch's last record (the first is
    /// `expected_last_seq + 1`).
    pub async fn append_batch(
        &self,
        expected_last_seq: u64,
        records: &[Bytes],
    ) -> Result<u64, LogError> {
        self.append_batch_with_sides(expected_last_seq, records, &[])
            .await
    }

    /// [`ReplicatedLog::append_batch`], with side chunks: `(index of the record in
    /// records, side chunk)`, each carried in that record's message, ahead of it.
    pub async fn append_batch_with_sides(
        &self,
        expected_last_seq: u64,
        records: &[Bytes],
        sides: &[(usize, Bytes)],
    ) -> Result<u64, LogError> {
        if records.is_empty() || records.len() > BATCH_RECORDS_MAX {
            return Err(LogError::InvalidBatch(format!(
                "{} records; a batch holds 1 to {BATCH_RECORDS_MAX} (split larger ones: each part is atomic on its own)",
                records.len()
            )));
        }
        let batch_id = uuid::Uuid::new_v4().simple().to_string();
        let last = records.len();
        for (index, record) in records.iter().enumerate() {
            let number = index + 1;
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Batch-Id", batch_id.as_str());
            headers.insert("Nats-Batch-Sequence", number.to_string().as_str());
            let message = match sides.iter().find(|(at, _)| *at == index) {
                Some((_, side)) => {
                    headers.insert(SIDE_HEADER, side.len().to_string().as_str());
                    let mut message = Vec::with_capacity(side.len() + record.len());
                    message.extend_from_slice(side);
                    message.extend_from_slice(record);
                    Bytes::from(message)
                }
                None => record.clone(),
            };
            if number == 1 {
                // Only the first message may carry it; checked at commit, under lock.
                headers.insert(
                    async_nats::header::NATS_EXPECTED_LAST_SEQUENCE,
                    expected_last_seq.to_string().as_str(),
                );
            }
            if number == last {
                headers.insert("Nats-Batch-Commit", "1");
                return self.commit(expected_last_seq, headers, message, last).await;
            }
            if number == 1 {
                // The first message is answered (empty, or an error such as "not enabled").
                self.stage_first(headers, message).await?;
            } else {
                self.client
                    .publish_with_headers(self.config.subject.clone(), headers, message)
                    .await
                    .map_err(|err| LogError::Unavailable(err.to_string()))?;
            }
        }
        unreachable!("the last record commits")
    }

    async fn request(
        &self,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<async_nats::Message, String> {
        let request =
            self.client
                .request_with_headers(self.config.subject.clone(), headers, payload);
        tokio::time::timeout(self.config.request_timeout, request)
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|err| err.to_string())
    }

    async fn stage_first(&self, headers: HeaderMap, payload: Bytes) -> Result<(), LogError> {
        let answer = self
            .request(headers, payload)
            .await
            .map_err(LogError::Unavailable)?;
        if answer.payload.is_empty() {
            return Ok(());
        }
        match serde_json::from_slice::<ApiAnswer>(&answer.payload) {
            Ok(ApiAnswer {
                error: Some(error), ..
            }) => Err(LogError::Refused {
                code: error.err_code,
                description: error.description,
            }),
            _ => Ok(()),
        }
    }

    async fn commit(
        &self,
        expected: u64,
        headers: HeaderMap,
        payload: Bytes,
        count: usize,
    ) -> Result<u64, LogError> {
        let answer = self
            .request(headers, payload)
            .await
            .map_err(|cause| LogError::Unacknowledged { expected, cause })?;
        let ack: ApiAnswer =
            serde_json::from_slice(&answer.payload).map_err(|err| LogError::Unacknowledged {
                expected,
                cause: format!("unreadable commit answer: {err}"),
            })?;
        match ack {
            ApiAnswer {
                error: Some(error), ..
            } if error.err_code == ERR_WRONG_LAST_SEQUENCE => Err(LogError::Fenced {
                expected,
                actual: actual_last_sequence(&error.description),
            }),
            ApiAnswer {
                error: Some(error), ..
            } => Err(LogError::Refused {
                code: error.err_code,
                description: error.description,
            }),
            ApiAnswer {
                seq: Some(seq),
                count: stored,
                ..
            } => {
                // A commit that stored anything but the whole batch right after `expected`
                // would break the log's one invariant: no gap, no partial batch.
                assert_eq!(
                    (seq, stored),
                    (expected + count as u64, Some(count as u64)),
                    "the log stream acknowledged a batch of {count} after {expected} at an unexpected place"
                );
                Ok(seq)
            }
            ApiAnswer { .. } => Err(LogError::Unacknowledged {
                expected,
                cause: "commit answer without a sequence".to_owned(),
            }),
        }
    }

    /// The record at `seq`, read straight from the stream (no consumer: an ordered
    /// consumer that restarts before its first delivery starts again from record 1).
    pub async fn record(&self, seq: u64) -> Result<LogRecord, LogError> {
        let stream = self
            .js
            .get_stream_no_info(&self.config.stream)
            .await
            .map_err(|err| LogError::Read(err.to_string()))?;
        let message = stream
            .get_raw_message(seq)
            .await
            .map_err(|err| LogError::Read(format!("record {seq}: {err}")))?;
        split_side(
            seq,
            message.headers.get(SIDE_HEADER).map(|v| v.as_str()),
            message.payload,
        )
    }

    /// Records from `seq` on, in order, then live as they are appended (the stream does
    /// not end). Each is delivered once it is committed by the stream's quorum. A read
    /// error ends nothing by itself: the caller reopens from its next sequence.
    pub async fn read_from(
        &self,
        seq: u64,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<LogRecord, LogError>> + Send>>, LogError> {
        assert!(seq >= 1, "log sequences start at 1");
        let stream = self
            .js
            .get_stream_no_info(&self.config.stream)
            .await
            .map_err(|err| LogError::Read(err.to_string()))?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: self.config.subject.clone(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: seq,
                },
                ..Default::default()
            })
            .await
            .map_err(|err| LogError::Read(err.to_string()))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|err| LogError::Read(err.to_string()))?;
        let mut next = seq;
        Ok(Box::pin(messages.map(move |message| {
            let message = message.map_err(|err| LogError::Read(err.to_string()))?;
            let record_seq = message
                .info()
                .map_err(|err| LogError::Read(err.to_string()))?
                .stream_sequence;
            // The stream never loses records (deny_delete, deny_purge, no limits); an
            // ordered consumer that restarts after a server's loss may still deliver out
            // of turn. The caller reopens from the record it needs next.
            if record_seq != next {
                return Err(LogError::Read(format!(
                    "the log stream delivered {record_seq} where {next} was next; reopen the reader from {next}"
                )));
            }
            let side = message
                .headers
                .as_ref()
                .and_then(|headers| headers.get(SIDE_HEADER))
                .map(|value| value.as_str());
            let record = split_side(record_seq, side, message.payload.clone())?;
            next += 1;
            Ok(record)
        })))
    }
}

/// Record `seq` read from its message: the side chunk its [`SIDE_HEADER`] says comes
/// first (none without one), then the record.
fn split_side(seq: u64, header: Option<&str>, mut message: Bytes) -> Result<LogRecord, LogError> {
    let side_len = match header {
        None => 0,
        Some(value) => value
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|len| *len <= message.len())
            .ok_or_else(|| {
                LogError::Read(format!(
                    "record {seq} has a {SIDE_HEADER} header of {value:?} for a message of {} bytes; was it written by crisisd?",
                    message.len()
                ))
            })?,
    };
    let side = message.split_to(side_len);
    Ok(LogRecord {
        seq,
        payload: message,
        side,
    })
}

/// The actual last sequence in "wrong last sequence: 17".
fn actual_last_sequence(description: &str) -> Option<u64> {
    description.rsplit(':').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actual_sequence_is_read_from_the_servers_refusal() {
        assert_eq!(actual_last_sequence("wrong last sequence: 17"), Some(17));
        assert_eq!(actual_last_sequence("wrong last sequence"), None);
    }

    #[test]
    fn defaults_are_valid_and_wildcards_are_refused() {
        LogConfig::for_cluster("prod").validate().unwrap();
        let mut wild = LogConfig::for_cluster("prod");
        wild.subject = "crisis.log.>".to_owned();
        assert!(wild.validate().is_err());
    }
}
