//! The HTTP transport: a plain HTTP/1.0 client, one request per connection (crisisd
//! answers on loopback in a millisecond or two; a real client library is not worth its
//! weight here), `POST /v1/ingest/<kind>` with the token of the role the kind needs.

use std::time::Duration;

use anyhow::bail;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bus::connection::Backoff;
use crate::testing::day::{IngestKind, Planned};

use super::report::Tally;
use super::{ATTEMPTS_MAX, SimulateArgs};

/// One HTTP request, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// An `http://host:port/prefix` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HttpTarget {
    pub(super) url: String,
    pub(super) authority: String,
    pub(super) prefix: String,
}

impl HttpTarget {
    pub(super) fn parse(url: &str) -> anyhow::Result<HttpTarget> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!(
                "--url {url:?}: simulate speaks plain http:// (crisisd serves it; put a TLS proxy's backend address here, or send over NATS with --via nats)"
            );
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            bail!("--url {url:?} names no host: e.g. http://127.0.0.1:8080");
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            && !authority.ends_with(']')
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let prefix = prefix.trim_end_matches('/');
        Ok(HttpTarget {
            url: url.trim_end_matches('/').to_owned(),
            authority,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            },
        })
    }

    /// One request: (status, body).
    pub(super) async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(self.authority.as_str()).await?;
            let mut head = format!(
                "{method} {}{path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                self.prefix,
                self.authority,
                body.len()
            );
            if let Some(token) = token {
                head.push_str(&format!("Authorization: Bearer {token}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let response = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 15 s")
            })??;
        let status = response
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer")
            })?;
        let body = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or_else(Vec::new, |at| response[at + 4..].to_vec());
        Ok((status, body))
    }
}

/// A problem+json answer's `code`, `field` and `detail`.
pub(super) fn problem(body: &[u8]) -> (String, String, String) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let detail = if value["detail"].is_string() {
        text("detail")
    } else {
        String::from_utf8_lossy(body).chars().take(200).collect()
    };
    (text("code"), text("field"), detail)
}

/// The role an ingest kind needs, the flag and variable that carry its token.
fn role_of(kind: IngestKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        IngestKind::Feedback => ("channel", "--channel-token", "CRISISD_CHANNEL_TOKEN"),
        _ => (
            "flight_ops",
            "--flight-ops-token",
            "CRISISD_FLIGHT_OPS_TOKEN",
        ),
    }
}

pub(super) struct HttpSender {
    pub(super) target: HttpTarget,
    flight_ops_token: String,
    channel_token: String,
}

impl HttpSender {
    pub(super) async fn connect(args: &SimulateArgs) -> anyhow::Result<HttpSender> {
        let target = HttpTarget::parse(&args.url)?;
        let pick = |specific: &Option<String>, kind| {
            specific.clone().or_else(|| args.token.clone()).ok_or_else(|| {
                let (role, flag, env) = role_of(kind);
                anyhow::anyhow!(
                    "over HTTP, {} messages need a token with role {role}: make one where crisisd runs (same --data-dir as serve) with `crisisd token add --role {role} --actor sim`, then pass it as {flag} TOKEN or in {env} (an admin token in --token / CRISISD_TOKEN serves every kind)",
                    kind.token()
                )
            })
        };
        let flight_ops_token = pick(&args.flight_ops_token, IngestKind::FlightOps)?;
        let channel_token = pick(&args.channel_token, IngestKind::Feedback)?;
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        for attempt in 1..=3 {
            match target.request("GET", "/healthz", None, b"").await {
                Ok(_) => break,
                Err(err) if attempt == 3 => bail!(unreachable(&target.url, &err)),
                Err(_) => tokio::time::sleep(backoff.next_delay()).await,
            }
        }
        Ok(HttpSender {
            target,
            flight_ops_token,
            channel_token,
        })
    }

    pub(super) async fn send(&self, message: &Planned, tally: &mut Tally) -> anyhow::Result<()> {
        let token = match message.kind {
            IngestKind::Feedback => &self.channel_token,
            _ => &self.flight_ops_token,
        };
        let path = format!("/v1/ingest/{}", message.kind.token());
        let mut backoff = Backoff::default();
        for attempt in 1..=ATTEMPTS_MAX {
            let last = attempt == ATTEMPTS_MAX;
            match self
                .target
                .request("POST", &path, Some(token), &message.body)
                .await
            {
                Ok((200..=299, _)) => return Ok(()),
                Ok((401, body)) => bail!(self.unauthorized(message.kind, &problem(&body).2)),
                Ok((403, body)) => bail!(self.forbidden(message.kind, &problem(&body).2)),
                Ok((status @ (400 | 413 | 415 | 422), body)) => {
                    let (code, field, detail) = problem(&body);
                    let code = if code.is_empty() {
                        status.to_string()
                    } else {
                        code
                    };
                    tally.reject(&code, &field, &detail);
                    return Ok(());
                }
                Ok((status @ (429 | 500..=599), body)) if !last => {
                    tracing::debug!(status, detail = %problem(&body).2, "crisisd asks to retry");
                }
                Ok((status, body)) => bail!(
                    "crisisd at {} answered {status} to POST {path}: {}",
                    self.target.url,
                    problem(&body).2
                ),
                Err(err) if last => bail!(unreachable(&self.target.url, &err)),
                Err(err) => tracing::debug!(cause = %err, "crisisd did not answer; retrying"),
            }
            tally.retries += 1;
            tokio::time::sleep(backoff.next_delay()).await;
        }
        unreachable!("the last attempt returns")
    }

    fn unauthorized(&self, kind: IngestKind, detail: &str) -> String {
        let (role, flag, env) = role_of(kind);
        format!(
            "crisisd at {} does not know the token sent with {} messages (401: {detail}). Make one where crisisd runs (same --data-dir as serve): `crisisd token add --role {role} --actor sim`, and pass it as {flag} TOKEN or in {env}",
            self.target.url,
            kind.token()
        )
    }

    fn forbidden(&self, kind: IngestKind, detail: &str) -> String {
        let (role, flag, env) = role_of(kind);
        format!(
            "the token sent with {} messages may not post to /v1/ingest/{} (403: {detail}): that needs role {role} (or admin). Make one: `crisisd token add --role {role} --actor sim`, and pass it as {flag} TOKEN or in {env}",
            kind.token(),
            kind.token()
        )
    }
}

fn unreachable(url: &str, err: &std::io::Error) -> String {
    format!(
        "crisisd is not answering at {url} ({err}). Start it in another terminal with `crisisd serve` (it listens on 127.0.0.1:8080; --http-addr changes that, and add --nats-url nats://127.0.0.1:4222 for NATS ingest), or point --url / CRISISD_URL at it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_its_code_field_and_detail() {
        let body = br#"{"code":"out_of_range","title":"Unprocessable Entity","detail":"received_at is in the future","field":"/received_at"}"#;
        assert_eq!(
            problem(body),
            (
                "out_of_range".into(),
                "/received_at".into(),
                "received_at is in the future".into()
            )
        );
    }
}
