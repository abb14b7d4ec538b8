//! Accepting connections. hyper holds a connection for as long as the peer keeps it open, so
//! left alone a few thousand clients that send half a request and then nothing hold the
//! server's memory forever. Here each connection has a watchdog: its request head must arrive
//! within the header-read timeout of its first byte, it may sit idle between requests for the
//! keep-alive timeout, and at most `max_connections` are served at once (the rest wait in the
//! listen queue). A request under way is bounded by the request timeout instead.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests under way
/// finish (idle connections close at once) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // pause rather than spin, and go on.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(ActivityStream {
            stream,
            activity: activity.clone(),
        });
        let service = TowerToHyperService::new(per_request(app.clone(), peer, activity.clone()));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            // The watchdog bounds the head; hyper's own timer would also count idle time.
            .header_read_timeout(None)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                () = activity.expired(limits) => {
                    tracing::debug!(%peer, "closing a connection that was idle or too slow");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The router as one connection's service: each request learns its peer and is counted as
/// under way until its answer is ready.
fn per_request(
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl tower::Service<
    Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let under_way = activity.begin_request();
        let answer = app.clone().oneshot(request);
        async move {
            let response = answer.await;
            drop(under_way);
            response
        }
    })
}

/// What a connection did last, in milliseconds since it was accepted.
struct Activity {
    accepted: Instant,
    last_io: AtomicU64,
    /// When the first byte of a request head arrived, or `NO_HEAD` between requests.
    head_started: AtomicU64,
    requests_under_way: AtomicUsize,
}

const NO_HEAD: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            last_io: AtomicU64::new(0),
            head_started: AtomicU64::new(NO_HEAD),
            requests_under_way: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.requests_under_way.load(Ordering::Relaxed) == 0 {
            let _ = (self.head_started).compare_exchange(
                NO_HEAD,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    fn begin_request(self: &Arc<Self>) -> InFlightRequest {
        self.requests_under_way.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NO_HEAD, Ordering::Relaxed);
        InFlightRequest(self.clone())
    }

    /// How long the connection may go on as it is; None when it must close now.
    fn time_left(&self, limits: ConnectionLimits) -> Option<Duration> {
        if self.requests_under_way.load(Ordering::Relaxed) > 0 {
            return Some(limits.keep_alive_timeout);
        }
        let now = self.now();
        let (since, limit) = match self.head_started.load(Ordering::Relaxed) {
            NO_HEAD => (
                self.last_io.load(Ordering::Relaxed),
                limits.keep_alive_timeout,
            ),
            started => (started, limits.header_read_timeout),
        };
        let spent = Duration::from_millis(now.saturating_sub(since));
        limit.checked_sub(spent).filter(|left| !left.is_zero())
    }

    /// Completes when the connection has been idle, or slow to send a head, for too long.
    async fn expired(&self, limits: ConnectionLimits) {
        while let Some(left) = self.time_left(limits) {
            tokio::time::sleep(left).await;
        }
    }
}

/// A request under way on a connection, until dropped.
struct InFlightRequest(Arc<Activity>);

impl Drop for InFlightRequest {
    fn drop(&mut self) {
        self.0.requests_under_way.fetch_sub(1, Ordering::Relaxed);
        self.0.head_started.store(NO_HEAD, Ordering::Relaxed);
        self.0.wrote();
    }
}

/// A TCP stream that tells its `Activity` when bytes move.
struct ActivityStream {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for ActivityStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        poll
    }
}

impl AsyncWrite for ActivityStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
