//! Serving the protocol over HTTP with bounded resources: a deep listen
//! backlog, a cap on open connections, and timeouts on reading a request, so
//! that idle or half-sent requests cannot starve the server.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

/// How the server bounds what clients can make it hold.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Connections open at once; past it, new ones wait in the listen
    /// backlog. Once three quarters are taken, new connections are not kept
    /// alive.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (idle keep-alive
    /// connections included).
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body, and the server to answer.
    pub request_timeout: Duration,
    /// Largest request body taken.
    pub max_body: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_body: 2 << 20,
        }
    }
}

/// The listen backlog: bursts of connections from many services wait here
/// rather than being refused.
const BACKLOG: u32 = 4096;

/// Binds `addr` with a deep listen backlog.
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `router` on `listener` within `options`, until the task is
/// dropped or the listener fails.
pub async fn serve(listener: TcpListener, router: Router, options: ServeOptions) -> io::Result<()> {
    let router = router
        .layer(axum::extract::DefaultBodyLimit::max(options.max_body))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(options.request_timeout))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ));
    let max_connections = options.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max_connections));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else { return Ok(()) };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::debug!(%error, "Filibuster server: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let header_read_timeout = options.header_read_timeout;
        // Near the cap, connections are not kept alive: idle ones cannot
        // hold the places that new ones wait for.
        let keep_alive = permits.available_permits() >= max_connections / 4;
        tokio::spawn(async move {
            let _permit = permit;
            let service = TowerToHyperService::new(router);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .keep_alive(keep_alive)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "Filibuster server: connection closed");
            }
        });
    }
}
