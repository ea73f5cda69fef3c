//! Connecting to NATS and the bounded exponential backoff used by every retry.

use std::path::PathBuf;
use std::time::Duration;

/// Where NATS is and who we are there.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// e.g. `nats://127.0.0.1:4222` (several comma-separated URLs allowed).
    pub url: String,
    /// A `.creds` file (JWT + NKey seed), if the server requires one.
    pub credentials: Option<PathBuf>,
    /// A user and a file holding its password, for a server with users in its
    /// configuration (`deploy/nats/nats-server.conf`). The connection's reply inboxes
    /// are then `_INBOX_<user>.…`, the only inboxes that configuration lets the user
    /// subscribe to, so no other user can read replies meant for it.
    pub user: Option<(String, PathBuf)>,
    /// Connection name shown by the server.
    pub name: String,
}

/// Connects in the background: returns at once even when NATS is unreachable, and the
/// client keeps reconnecting (forever, with its own backoff) until it succeeds.
pub async fn connect(config: &NatsConfig) -> anyhow::Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name(&config.name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("connected to NATS"),
                async_nats::Event::Disconnected => {
                    tracing::warn!("disconnected from NATS; publishing and NATS ingest wait for it")
                }
                other => tracing::debug!(event = %other, "NATS connection event"),
            }
        });
    if let Some(path) = &config.credentials {
        options = options.credentials_file(path).await.map_err(|err| {
            anyhow::anyhow!("cannot read NATS credentials {}: {err}", path.display())
        })?;
    }
    if let Some((user, password_file)) = &config.user {
        let password = std::fs::read_to_string(password_file).map_err(|err| {
            anyhow::anyhow!(
                "cannot read the NATS password file {}: {err}",
                password_file.display()
            )
        })?;
        let password = password.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            anyhow::bail!(
                "the NATS password file {} is empty: write the password of NATS user {user:?} in it",
                password_file.display()
            );
        }
        options = options
            .user_and_password(user.clone(), password.to_owned())
            .custom_inbox_prefix(inbox_prefix(user));
    }
    // Several servers, comma-separated: the client picks one and moves on to the others.
    let servers = config
        .url
        .split(',')
        .map(|url| url.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            anyhow::anyhow!(
                "invalid NATS URL {:?}: {err}; give nats://host:port, several separated by commas",
                without_secrets(&config.url)
            )
        })?;
    let client = options.connect(servers).await.map_err(|err| {
        anyhow::anyhow!(
            "cannot connect to NATS at {:?}: {err}",
            without_secrets(&config.url)
        )
    })?;
    Ok(client)
}

/// The reply-inbox prefix of a NATS user: `_INBOX_<user>`.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// NATS URLs as they may be logged: a user and password written in one
/// (`nats://user:secret@host`) become `***@`.
pub fn without_secrets(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***{}", &url[..scheme + 3], &url[at..])
            }
            (None, Some(at)) => format!("***{}", &url[at..]),
            _ => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Bounded exponential backoff: doubles from `first` up to `max`, resets on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The delay before the next attempt (and doubles the one after).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_logged_without_their_passwords() {
        assert_eq!(
            without_secrets("nats://crisisd:s3cret@a:4222,tls://b:4222,u:p@c:4222"),
            "nats://***@a:4222,tls://b:4222,***@c:4222"
        );
        assert_eq!(
            without_secrets("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_bound_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
