//! The benchmark's arrival clock: a NATS subscriber that speaks just enough of the
//! protocol to see each message's subject and skip the rest.
//!
//! `async-nats` parses every header of every message it delivers into a map; crisisd's
//! events carry about twenty, and in `bench pipeline` that parsing was the load
//! generator's largest single cost (about 5 % of all CPU, on the cores crisisd and
//! nats-server share). Latency needs only the subject and the moment the bytes arrive,
//! so this reader takes the `MSG`/`HMSG` control line and skips the body unread.

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub struct Arrivals {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    line: Vec<u8>,
    body: Vec<u8>,
}

impl Arrivals {
    /// Connects to `address` (`host:port`) and subscribes to `subject`; returns once the
    /// server has registered the subscription.
    pub async fn subscribe(address: &str, subject: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("connecting to nats-server at {address}"))?;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        let mut arrivals = Arrivals {
            reader: BufReader::with_capacity(256 * 1024, read),
            writer,
            line: Vec::with_capacity(256),
            body: Vec::new(),
        };
        let connect = r#"{"verbose":false,"pedantic":false,"headers":true,"lang":"rust","version":"bench","protocol":1}"#;
        arrivals
            .writer
            .write_all(format!("CONNECT {connect}\r\nSUB {subject} 1\r\nPING\r\n").as_bytes())
            .await?;
        // The PONG answers the PING sent after SUB: the subscription is in place. A
        // message that arrives first is skipped (its body must not pass for a line).
        loop {
            match arrivals.read_op().await? {
                Op::Pong => return Ok(arrivals),
                Op::Eof => {
                    bail!("nats-server closed the connection before the subscription was in place")
                }
                Op::Message(_) | Op::Other => {}
            }
        }
    }

    /// The subject of the next message, or `None` when the server closed the connection.
    /// Not cancel-safe (a line or body read halfway is lost): the benchmark stops
    /// reading when it gives up waiting.
    pub async fn next(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            match self.read_op().await? {
                Op::Message(subject) => return Ok(Some(subject)),
                Op::Eof => return Ok(None),
                Op::Pong | Op::Other => {}
            }
        }
    }

    /// Reads one protocol operation: a message (its body skipped), a PONG, the end of
    /// the connection, or anything else (INFO, +OK; a PING is answered here).
    async fn read_op(&mut self) -> anyhow::Result<Op> {
        let Some(line) = self.read_line().await? else {
            return Ok(Op::Eof);
        };
        // Fields are separated by spaces or tabs, possibly several.
        let fields: Vec<&[u8]> = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|f| !f.is_empty())
            .collect();
        match fields.first().copied() {
            Some(b"MSG" | b"HMSG") => {
                // MSG <subject> <sid> [reply-to] <bytes>; HMSG adds <header bytes> before
                // <total bytes>: the subject is the second field, the body length the last.
                ensure!(fields.len() >= 4, "malformed message line from nats-server");
                let subject = String::from_utf8_lossy(fields[1]).into_owned();
                let total: usize = std::str::from_utf8(fields[fields.len() - 1])?
                    .parse()
                    .context("message length from nats-server")?;
                // The body and its trailing CRLF, skipped.
                self.body.resize(total + 2, 0);
                self.reader.read_exact(&mut self.body).await?;
                Ok(Op::Message(subject))
            }
            Some(b"PING") => {
                self.writer.write_all(b"PONG\r\n").await?;
                Ok(Op::Other)
            }
            Some(b"PONG") => Ok(Op::Pong),
            Some(b"-ERR") => bail!("nats-server: {}", String::from_utf8_lossy(line)),
            _ => Ok(Op::Other),
        }
    }

    /// One control line without its CRLF; `None` when the server closed the connection.
    async fn read_line(&mut self) -> anyhow::Result<Option<&[u8]>> {
        self.line.clear();
        if self.reader.read_until(b'\n', &mut self.line).await? == 0 {
            return Ok(None);
        }
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)))
    }
}

enum Op {
    Message(String),
    Pong,
    Eof,
    Other,
}
