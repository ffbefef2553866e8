//! The genuine values a tonic client gets for the failures faults stand
//! for: a refused connection is the error of a real channel whose
//! connection was refused (tonic reads it as `UNAVAILABLE`, with the
//! transport error as its source, as for a down service); a timeout is
//! tonic's own `TimeoutExpired` (`CANCELLED` "Timeout expired"); a status is
//! a trailers-only answer, as a server sends it.

use std::net::SocketAddr;
use std::sync::OnceLock;

use futures_util::future::BoxFuture;
use tower_service::Service;

use super::BoxError;
use crate::fault::Pool;

/// A fault an RPC can be failed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The connection is refused: `UNAVAILABLE`, from the transport.
    Refused,
    /// The RPC's own timeout expires.
    Timeout,
    /// The callee answers this status.
    Status(tonic::Code),
}

/// The genuine error of a refused connection: from the pool when one is
/// ready (then refilled in the background), else made now.
pub(crate) async fn refused() -> BoxError {
    static POOL: Pool<BoxError> = Pool::new();
    let ready = POOL.take();
    POOL.refill_if_low(make_refused);
    match ready {
        Some(error) => error,
        None => make_refused().await,
    }
}

/// The error of tonic's own timeout.
pub(crate) fn timeout() -> BoxError {
    Box::new(tonic::TimeoutExpired(()))
}

/// A loopback address whose connections are refused: a socket bound, and
/// held for the life of the process, but not listening.
fn refusing_address() -> Option<SocketAddr> {
    static REFUSING: OnceLock<Option<(SocketAddr, tokio::net::TcpSocket)>> = OnceLock::new();
    let make = || -> std::io::Result<(SocketAddr, tokio::net::TcpSocket)> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(([127, 0, 0, 1], 0).into())?;
        Ok((socket.local_addr()?, socket))
    };
    REFUSING
        .get_or_init(|| {
            make()
                .map_err(|error| tracing::error!(%error, "cannot prepare a loopback socket for faults"))
                .ok()
        })
        .as_ref()
        .map(|(address, _)| *address)
}

/// Makes the error of an RPC over a channel whose connection is refused.
fn make_refused() -> BoxFuture<'static, BoxError> {
    Box::pin(async {
        let Some(address) = refusing_address() else {
            return Box::<dyn std::error::Error + Send + Sync>::from(
                "no loopback socket to refuse a connection",
            );
        };
        let endpoint = match tonic::transport::Endpoint::from_shared(format!("http://{address}")) {
            Ok(endpoint) => endpoint,
            Err(error) => return Box::new(error) as BoxError,
        };
        // Lazily connected: the refusal is the RPC's error, as for a
        // service that went down.
        let mut channel = endpoint.connect_lazy();
        if let Err(error) = std::future::poll_fn(|cx| channel.poll_ready(cx)).await {
            return Box::new(error);
        }
        match channel.call(http::Request::new(tonic::body::Body::empty())).await {
            Err(error) => Box::new(error),
            Ok(_) => Box::<dyn std::error::Error + Send + Sync>::from("a refusing socket answered"),
        }
    })
}
