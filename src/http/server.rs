//! The accept loop. lift serves connections itself (hyper-util, HTTP/1.1 and h2c, WebSocket
//! upgrades) instead of `axum::serve`, so it can bound what clients hold:
//! - a connection cap (`LIFT_MAX_CONNECTIONS`): at the cap a new connection is closed as soon as it
//!   is accepted, rather than left waiting in the kernel's backlog where a client cannot tell a
//!   full server from a slow one; the slot of an upgraded WebSocket is held until it closes;
//! - a header-read timeout (`LIFT_HEADER_READ_TIMEOUT_SECONDS`): a connection that does not send its
//!   first bytes in time is closed; hyper then gives HTTP/1 requests the same time for their headers;
//! - shutdown: when the token is cancelled the loop stops accepting, asks every connection to
//!   finish its request and close, and returns once every task it tracks has ended (connections,
//!   upgraded WebSockets, audit tails, the PostgreSQL listener). A socket still open
//!   `LIFT_SHUTDOWN_GRACE_SECONDS` later fails its reads and writes, so a peer that never answers
//!   a WebSocket close (or a request that runs on) cannot hold the shutdown.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::tasks::{TaskToken, Tasks};
use crate::telemetry::Metrics;

/// The first bytes of every HTTP/2 connection without TLS (h2c with prior knowledge).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How many connections may be open at once, and how many are.
#[derive(Debug, Clone)]
pub struct ConnectionSlots {
    slots: Arc<Semaphore>,
    max: usize,
}

impl ConnectionSlots {
    pub fn new(max: usize) -> Self {
        ConnectionSlots {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }

    fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}

/// What the accept loop needs: the listener, the router, the limits, and the shutdown token and
/// task tracker it shares with the rest of the application.
pub struct Server {
    pub listener: TcpListener,
    pub router: Router,
    pub slots: ConnectionSlots,
    pub header_read_timeout: Duration,
    /// How long connections may run on after shutdown begins.
    pub shutdown_grace: Duration,
    pub shutdown: CancellationToken,
    pub tasks: Tasks,
    pub metrics: Metrics,
}

impl Server {
    /// Accepts until `shutdown` is cancelled, then waits for every tracked task to end.
    pub async fn serve(self) {
        let Server {
            listener,
            router,
            slots,
            header_read_timeout,
            shutdown_grace,
            shutdown,
            tasks,
            metrics,
        } = self;
        let mut builder = auto::Builder::new(TrackedExecutor(tasks.clone()));
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!(error = %err, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            let Some(slot) = slots.take() else {
                metrics.connection_refused();
                tracing::debug!("connection refused: LIFT_MAX_CONNECTIONS reached");
                drop(stream);
                continue;
            };
            metrics.connection_accepted();
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                builder: builder.clone(),
                router: router.clone(),
                header_read_timeout,
                shutdown_grace,
                shutdown: shutdown.clone(),
                metrics: metrics.clone(),
                hold: Hold {
                    _slot: slot,
                    _task: tasks.token(),
                },
            };
            tasks.spawn(connection.serve(stream));
        }
        drop(listener);
        tasks.wait().await;
    }
}

/// What a connection keeps until its socket is dropped, also after a WebSocket upgrade (hyper
/// hands the socket to the WebSocket task): its slot under the cap, and a place in the tracker.
struct Hold {
    _slot: OwnedSemaphorePermit,
    _task: TaskToken,
}

struct Connection {
    builder: Arc<auto::Builder<TrackedExecutor>>,
    router: Router,
    header_read_timeout: Duration,
    shutdown_grace: Duration,
    shutdown: CancellationToken,
    metrics: Metrics,
    hold: Hold,
}

impl Connection {
    async fn serve(self, mut stream: TcpStream) {
        let deadline = Instant::now() + self.header_read_timeout;
        // hyper-util reads the first bytes to tell HTTP/2 from HTTP/1 without a timeout of its
        // own; reading them here bounds that wait.
        let prefix = tokio::select! {
            prefix = tokio::time::timeout_at(deadline, read_preface(&mut stream)) => match prefix {
                Ok(Ok(prefix)) => prefix,
                Ok(Err(_)) => return,
                Err(_) => {
                    self.metrics.connection_timed_out();
                    return;
                }
            },
            _ = self.shutdown.cancelled() => return,
        };
        let io = TokioIo::new(Replay {
            prefix,
            read: 0,
            stream,
            shutdown: Box::pin(self.shutdown.clone().cancelled_owned()),
            grace: self.shutdown_grace,
            cut_off: None,
            _hold: self.hold,
        });
        let service = TowerToHyperService::new(self.router);
        let connection = self.builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            _ = self.shutdown.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(err) = result {
            let timed_out = err
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout);
            if timed_out {
                self.metrics.connection_timed_out();
            }
            tracing::debug!(error = %err, "connection ended with an error");
        }
    }
}

/// Reads until the bytes read cannot be the HTTP/2 preface, or are all of it (at most 24 bytes;
/// an HTTP/1 request is told apart within its first two).
async fn read_preface(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(H2_PREFACE.len());
    let mut chunk = [0u8; 24];
    loop {
        let want = H2_PREFACE.len() - prefix.len();
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Ok(prefix);
        }
        prefix.extend_from_slice(&chunk[..n]);
        if prefix.len() == H2_PREFACE.len() || !H2_PREFACE.starts_with(&prefix) {
            return Ok(prefix);
        }
    }
}

/// The client's socket with the bytes already read in front of it, which fails once the
/// shutdown grace has passed.
struct Replay {
    prefix: Vec<u8>,
    read: usize,
    stream: TcpStream,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    grace: Duration,
    /// Armed when shutdown begins.
    cut_off: Option<Pin<Box<tokio::time::Sleep>>>,
    _hold: Hold,
}

impl Replay {
    /// Whether the grace after shutdown has passed; registers the task to be woken when
    /// shutdown begins and when the grace ends, so an idle socket notices too.
    fn past_grace(&mut self, cx: &mut Context<'_>) -> bool {
        if self.cut_off.is_none() {
            if self.shutdown.as_mut().poll(cx).is_pending() {
                return false;
            }
            self.cut_off = Some(Box::pin(tokio::time::sleep(self.grace)));
        }
        self.cut_off
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }
}

fn shut_down() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the server has shut down")
}

impl AsyncRead for Replay {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.past_grace(cx) {
            return Poll::Ready(Err(shut_down()));
        }
        if this.read < this.prefix.len() {
            let rest = &this.prefix[this.read..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.past_grace(cx) {
            return Poll::Ready(Err(shut_down()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.past_grace(cx) {
            return Poll::Ready(Err(shut_down()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.past_grace(cx) {
            return Poll::Ready(Err(shut_down()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Runs hyper's background tasks (HTTP/2 streams) in the server's tracker.
#[derive(Clone)]
struct TrackedExecutor(Tasks);

impl<F> hyper::rt::Executor<F> for TrackedExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        self.0.spawn(future);
    }
}

#[cfg(test)]
mod tests {
    use super::H2_PREFACE;

    #[test]
    fn http1_requests_differ_from_the_h2_preface_within_two_bytes() {
        for request in ["GET /", "POST /", "PUT /", "PATCH /", "OPTIONS *"] {
            let bytes = request.as_bytes();
            let differs_at = (1..=bytes.len()).find(|n| !H2_PREFACE.starts_with(&bytes[..*n]));
            assert!(differs_at.is_some_and(|n| n <= 2), "{request}");
        }
    }
}
