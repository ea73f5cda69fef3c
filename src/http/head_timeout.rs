//! How long a connection may wait for the head (request line and headers) of a request:
//! the header timeout on a new connection, and on a kept-alive one the idle timeout until
//! the next request's first byte, then the header timeout from that byte.
//!
//! hyper has one such bound, `header_read_timeout`, and arms it whenever it starts
//! waiting for a head: on a new connection, and again as soon as a kept-alive connection
//! goes idle (hyper 1.12, `src/proto/h1/conn.rs`: `poll_read_head` arms it, `State::idle`
//! wakes the reader so that it does). With tokio's plain timer the idle wait therefore
//! gets the header bound. An operator wants the two apart: a head is sent in one go, so a
//! few seconds stop clients that trickle it (slowloris), while a kept-alive connection
//! behind a load balancer must outlive the balancer's own idle timeout, or the balancer
//! sends requests on connections crisisd is closing.
//!
//! So each connection's socket is wrapped in [`Watched`], which notes when bytes arrive
//! in its [`Arrivals`], and hyper gets a [`HeadTimer`] for `header_read_timeout`. On a
//! kept-alive connection the wait that timer arms lasts the idle timeout unless a byte
//! arrives first; from the first byte on, the header timeout runs. The first byte starts
//! that clock, not the latest: a client sending a byte at a time still gets only the
//! header timeout. When the wait ends hyper closes the connection without an answer; if
//! part of a head had arrived, [`Watched`] answers `408` as hyper drops it.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::server::ServerLimits;

/// When bytes came in on one connection, as far as the wait for a head cares.
#[derive(Debug, Default)]
pub(super) struct Arrivals(Mutex<ArrivalState>);

#[derive(Debug, Default)]
struct ArrivalState {
    /// A byte arrived since the connection was accepted: the next wait is a kept-alive one.
    any: bool,
    /// The first byte since the last wait began.
    first_since_armed: Option<Instant>,
    /// A wait for a head ran out: hyper is closing the connection.
    expired: bool,
}

impl Arrivals {
    fn note(&self) {
        let mut state = self.lock();
        state.any = true;
        state.first_since_armed.get_or_insert_with(Instant::now);
    }

    /// Begins a wait for a head; true when the connection is a kept-alive one.
    fn arm(&self) -> bool {
        let mut state = self.lock();
        state.first_since_armed = None;
        state.any
    }

    /// Whether a wait for a head ran out after part of the head had arrived: the
    /// connection is closing on a request, not while idle.
    fn expired_mid_head(&self) -> bool {
        let state = self.lock();
        state.expired && state.first_since_armed.is_some()
    }

    fn expire(&self) {
        self.lock().expired = true;
    }

    fn first_since_armed(&self) -> Option<Instant> {
        self.lock().first_since_armed
    }

    fn lock(&self) -> MutexGuard<'_, ArrivalState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A socket that can take a few last bytes without waiting, as it is dropped.
pub(super) trait LastWords {
    fn try_write_now(&self, bytes: &[u8]) -> io::Result<usize>;
}

impl LastWords for tokio::net::TcpStream {
    fn try_write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        self.try_write(bytes)
    }
}

/// A connection's socket that notes in [`Arrivals`] when bytes come in, answers
/// hyper's own empty-bodied refusals with a problem ([`super::refusals`]), and, when a
/// request head did not arrive in time, says so as it is dropped (hyper closes such a
/// connection without a word).
pub(super) struct Watched<T: LastWords> {
    io: T,
    arrivals: Arc<Arrivals>,
    header_timeout: Duration,
    /// A problem answer going out in place of one of hyper's refusals, and how much of
    /// it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<T: LastWords> Watched<T> {
    pub(super) fn new(io: T, arrivals: Arc<Arrivals>, header_timeout: Duration) -> Self {
        Watched {
            io,
            arrivals,
            header_timeout,
            replacement: None,
        }
    }
}

impl<T: LastWords> Drop for Watched<T> {
    fn drop(&mut self) {
        // A few hundred bytes into a send buffer nothing else is using: written at once,
        // or (a client that stopped reading) not at all, which costs nothing.
        if self.arrivals.expired_mid_head() {
            let _ = self
                .io
                .try_write_now(&super::refusals::head_timeout(self.header_timeout));
        }
    }
}

impl<T: AsyncWrite + LastWords + Unpin> Watched<T> {
    /// Writes what is left of a replacement answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            match ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*written..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => *written += n,
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `head` as written when it is one of hyper's refusals, sending a problem
    /// answer in its place (now, or from the next write, flush or shutdown on).
    fn replace(&mut self, cx: &mut Context<'_>, head: &[u8]) -> Option<Poll<io::Result<usize>>> {
        let answer = super::refusals::as_problem(head)?;
        self.replacement = Some((answer, 0));
        Some(match self.drain(cx) {
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            _ => Poll::Ready(Ok(head.len())),
        })
    }
}

impl<T: AsyncRead + LastWords + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.arrivals.note();
        }
        read
    }
}

impl<T: AsyncWrite + LastWords + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(replaced) = self.replace(cx, buf) {
            return replaced;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        let first = bufs.iter().find(|b| !b.is_empty());
        if first.is_some_and(|b| b.starts_with(b"HTTP/1.1 4")) {
            let whole: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(replaced) = self.replace(cx, &whole) {
                return replaced;
            }
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The timer hyper arms for `header_read_timeout`, one per connection.
pub(super) struct HeadTimer {
    arrivals: Arc<Arrivals>,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl HeadTimer {
    pub(super) fn new(arrivals: Arc<Arrivals>, limits: &ServerLimits) -> Self {
        HeadTimer {
            arrivals,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
        }
    }
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let (idle_deadline, deadline) = if self.arrivals.arm() {
            let idle_deadline = Instant::now() + self.idle_timeout;
            (Some(idle_deadline), idle_deadline)
        } else {
            (None, Instant::from_std(deadline))
        };
        Box::pin(HeadWait {
            arrivals: self.arrivals.clone(),
            header_timeout: self.header_timeout,
            idle_deadline,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
        })
    }

    /// tokio's clock, so that a paused test clock drives the deadlines hyper computes.
    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }
}

/// One wait for a head.
struct HeadWait {
    arrivals: Arc<Arrivals>,
    header_timeout: Duration,
    /// On a kept-alive connection, the end of the wait if no byte arrives.
    idle_deadline: Option<Instant>,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl std::future::Future for HeadWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(idle_deadline) = self.idle_deadline {
            let deadline = self
                .arrivals
                .first_since_armed()
                .map_or(idle_deadline, |first| first + self.header_timeout);
            if self.sleep.deadline() != deadline {
                self.sleep.as_mut().reset(deadline);
            }
        }
        ready!(self.sleep.as_mut().poll(cx));
        self.arrivals.expire();
        Poll::Ready(())
    }
}

impl hyper::rt::Sleep for HeadWait {}

#[cfg(test)]
mod tests {
    use hyper::rt::Timer;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_waits_the_idle_timeout_then_the_header_timeout_from_its_first_byte()
     {
        let arrivals = Arc::new(Arrivals::default());
        let limits = ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..ServerLimits::default()
        };
        let timer = HeadTimer::new(arrivals.clone(), &limits);
        let waited = |start: Instant| start.elapsed().as_secs();

        let start = Instant::now();
        timer.sleep(limits.header_timeout).await;
        assert_eq!(
            waited(start),
            10,
            "a new connection gets the header timeout"
        );

        arrivals.note();
        let start = Instant::now();
        timer.sleep(limits.header_timeout).await;
        assert_eq!(waited(start), 60, "a kept-alive one the idle timeout");

        let start = Instant::now();
        let wait = timer.sleep(limits.header_timeout);
        tokio::time::advance(Duration::from_secs(30)).await;
        arrivals.note();
        tokio::time::advance(Duration::from_secs(5)).await;
        arrivals.note();
        wait.await;
        assert_eq!(
            waited(start),
            40,
            "the header timeout runs from the first byte, not the latest"
        );
    }
}
