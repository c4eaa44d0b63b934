//! The one HTTP listener of `baton api` and `baton standalone`: hyper's HTTP/1.1 server
//! (its header read timeout closes slow and idle connections), optionally over TLS
//! (rustls), with a cap on open connections, the request limits of [`Limits`], the peer's
//! address for the handlers (`ConnectInfo<SocketAddr>`, which the audit log records), and a
//! graceful stop.
//!
//! HTTP/2 is not offered: hyper has no header read timeout for it, so a slow client could
//! hold its connection open.

mod limits;
mod tls;

pub use limits::{LimitError, Limits, MAX_COUNT, TIMEOUT_RANGE};
pub use tls::{Tls, TlsError};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// How long a stop waits for open requests to be answered before it drops them.
const DRAIN: Duration = Duration::from_secs(10);

/// How the listener serves: over TLS or not, and within which limits.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// The certificate and key, when the listener speaks https.
    pub tls: Option<Tls>,
    /// Timeouts and caps.
    pub limits: Limits,
    /// The listener is reached over https through a proxy that ends TLS: the session cookie
    /// is marked `Secure` as it is when the listener speaks https itself.
    pub behind_tls_proxy: bool,
}

impl HttpConfig {
    /// Whether browsers are reached over https (by this listener or by its proxy), so that
    /// the session cookie must be `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.tls.is_some() || self.behind_tls_proxy
    }

    /// `https` or `http`, for the URLs printed at start.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish
/// (for at most ten seconds).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: HttpConfig,
    shutdown: impl Future<Output = ()>,
) {
    let guard = limits::Guard::new(&config.limits);
    let app = app.layer(axum::middleware::from_fn_with_state(guard, limits::guard));
    let connections = Arc::new(Semaphore::new(limits::permits(
        config.limits.max_connections,
    )));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, &connections) => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer, slot) = accepted;
        let connection = Connection {
            app: app.clone(),
            peer,
            limits: config.limits,
            watcher: graceful.watcher(),
            _slot: slot,
        };
        tokio::spawn(connection.run(stream, config.tls.clone()));
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("API: requests still open after {DRAIN:?} were dropped");
    }
}

/// The next connection, once a connection slot is free.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    let Ok(slot) = slots.clone().acquire_owned().await else {
        unreachable!("the connection semaphore is never closed")
    };
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, peer, slot),
            // Out of file descriptors, or a connection reset before it was taken: the
            // listener itself is fine; wait a moment rather than spin.
            Err(e) => {
                tracing::warn!("API: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One accepted connection and what serving it needs.
struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: Limits,
    watcher: Watcher,
    /// Frees the connection's slot when it ends.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<Tls>) {
        let Some(tls) = tls else {
            return self.http(stream).await;
        };
        let timeout = self.limits.header_read_timeout;
        let handshake = async {
            if !starts_tls(&stream).await {
                refuse_plain_http(stream).await;
                return None;
            }
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
            acceptor.accept(stream).await.ok()
        };
        match tokio::time::timeout(timeout, handshake).await {
            Ok(Some(stream)) => self.http(stream).await,
            Ok(None) => {}
            Err(_) => tracing::debug!("API: {} did not finish its TLS handshake", self.peer),
        }
    }

    /// Serves HTTP/1.1 on `io` until the client closes, a limit cuts it off, or the server stops.
    async fn http<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            app,
            peer,
            limits,
            watcher,
            _slot,
        } = self;
        let service = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!("API: connection from {peer}: {e}");
        }
    }
}

/// Whether the client's first byte opens a TLS handshake (a record of type 22).
async fn starts_tls(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16)
}

/// A plain-HTTP request to the TLS port: say so in plain HTTP, then close.
async fn refuse_plain_http(mut stream: TcpStream) {
    // Take in what was sent, so that closing does not reset the connection under the answer.
    let mut head = [0u8; 4096];
    let _ = stream.read(&mut head).await;
    let body = "This port speaks HTTPS: use an https:// URL.\n";
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}
