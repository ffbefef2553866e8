//! The genuine reqwest values faults become. An injected connection error
//! is a real [`::reqwest::Error`] with `is_connect()` true, made by connecting
//! to a loopback port that refuses; an injected timeout is a real one with
//! `is_timeout()` true, made by calling, with a 1 ms timeout, a host whose
//! name never resolves (reqwest's own request timeout, without a socket);
//! an injected status is a real [`::reqwest::Response`] with that status.
//! Their URL is the URL of the call they replace.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use ::reqwest::ResponseBuilderExt;
use futures_util::future::BoxFuture;
use url::Url;

use super::{ErrorKind, Pool};

impl ErrorKind {
    /// The kind of a real error, as it is reported to the server.
    pub fn of(error: &::reqwest::Error) -> Option<Self> {
        if error.is_timeout() {
            Some(ErrorKind::Timeout)
        } else if error.is_connect() {
            Some(ErrorKind::Connect)
        } else {
            None
        }
    }
}

/// What produces genuine errors: a loopback socket that refuses
/// connections, and a client whose names never resolve.
struct Fabricator {
    client: ::reqwest::Client,
    /// `http://<the refusing socket>/`, parsed once.
    refusing: Url,
    // Held for the life of the process: bound but not listening, so that
    // connections are refused.
    _refusing: tokio::net::TcpSocket,
    /// Its requests wait for a name forever, until their timeout.
    unresolving: ::reqwest::Client,
}

/// A resolver that never answers: a request waits in it until its timeout,
/// without opening a socket.
struct NeverResolves;

impl ::reqwest::dns::Resolve for NeverResolves {
    fn resolve(&self, _name: ::reqwest::dns::Name) -> ::reqwest::dns::Resolving {
        Box::pin(std::future::pending())
    }
}

fn fabricator() -> Option<&'static Fabricator> {
    static FABRICATOR: OnceLock<Option<Fabricator>> = OnceLock::new();
    FABRICATOR
        .get_or_init(|| {
            let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
            let make = || -> std::io::Result<Fabricator> {
                let refusing_socket = tokio::net::TcpSocket::new_v4()?;
                refusing_socket.bind(loopback)?;
                Ok(Fabricator {
                    client: ::reqwest::Client::builder().no_proxy().build().map_err(std::io::Error::other)?,
                    refusing: Url::parse(&format!("http://{}/", refusing_socket.local_addr()?))
                        .map_err(std::io::Error::other)?,
                    _refusing: refusing_socket,
                    unresolving: ::reqwest::Client::builder()
                        .no_proxy()
                        .dns_resolver(std::sync::Arc::new(NeverResolves))
                        .build()
                        .map_err(std::io::Error::other)?,
                })
            };
            make().map_err(|error| tracing::error!(%error, "cannot prepare loopback sockets for faults")).ok()
        })
        .as_ref()
}

/// A genuine reqwest error of `kind` whose URL is `url`: from the pool of
/// its kind when one is ready (then refilled in the background), else made
/// now.
pub async fn error(kind: ErrorKind, url: &Url) -> ::reqwest::Error {
    let pool = pool(kind);
    let ready = pool.take();
    pool.refill_if_low(match kind {
        ErrorKind::Connect => || make(ErrorKind::Connect),
        ErrorKind::Timeout => || make(ErrorKind::Timeout),
    });
    match ready {
        Some(error) => error.with_url(url.clone()),
        None => make(kind).await.with_url(url.clone()),
    }
}

/// Makes a genuine reqwest error of `kind` (its URL is the socket's).
/// Boxed: one state machine for the calls and the pools' refills.
fn make(kind: ErrorKind) -> BoxFuture<'static, ::reqwest::Error> {
    Box::pin(async move {
        let mut request = match (fabricator(), kind) {
            (Some(f), ErrorKind::Connect) => f.client.get(f.refusing.clone()),
            (Some(f), ErrorKind::Timeout) => {
                f.unresolving.get("http://filibuster-timeout.invalid/").timeout(Duration::from_millis(1))
            }
            (None, _) => ::reqwest::Client::new().get("filibuster://no-sockets"),
        };
        let mut answered = false;
        loop {
            match request.send().await {
                Err(error) => return error,
                // Cannot happen with the sockets above; still an error, never a panic.
                Ok(_) if !answered => {
                    answered = true;
                    request = ::reqwest::Client::new().get("filibuster://unexpected-answer");
                }
                Ok(_) => unreachable!("reqwest sent a request with an unsupported scheme"),
            }
        }
    })
}

/// The pool of reqwest errors of `kind`.
fn pool(kind: ErrorKind) -> &'static Pool<::reqwest::Error> {
    static CONNECT: Pool<::reqwest::Error> = Pool::new();
    static TIMEOUT: Pool<::reqwest::Error> = Pool::new();
    match kind {
        ErrorKind::Connect => &CONNECT,
        ErrorKind::Timeout => &TIMEOUT,
    }
}

/// A genuine response with `status`, `body`, and `url` as its URL.
pub fn response(
    status: http::StatusCode,
    url: &Url,
    body: impl Into<::reqwest::Body>,
) -> ::reqwest::Response {
    let builder = http::Response::builder()
        .status(status)
        .version(http::Version::HTTP_11)
        .header(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html"));
    match builder.url(url.clone()).body(body.into()) {
        Ok(response) => ::reqwest::Response::from(response),
        Err(_) => ::reqwest::Response::from(http::Response::new(::reqwest::Body::from(Vec::new()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pooled_errors_are_genuine_and_carry_the_calls_url() {
        for kind in [ErrorKind::Timeout, ErrorKind::Connect] {
            let url = Url::parse("http://bookings:5002/bookings/chris").unwrap();
            // The first call of a kind may find its pool empty and make its
            // error itself; it starts the refill.
            let first = error(kind, &url).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while pool(kind).len() < Pool::<::reqwest::Error>::LOW {
                assert!(std::time::Instant::now() < deadline, "the {kind:?} pool was never refilled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let pooled = error(kind, &url).await;
            for made in [first, pooled] {
                assert_eq!(ErrorKind::of(&made), Some(kind), "{made:?}");
                assert_eq!(made.url(), Some(&url));
            }
        }
    }
}
