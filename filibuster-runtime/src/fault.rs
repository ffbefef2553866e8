//! Faults, and the genuine reqwest values they become.
//!
//! An injected connection error is a real [`reqwest::Error`] with
//! `is_connect()` true, made by connecting to a loopback port that refuses;
//! an injected timeout is a real one with `is_timeout()` true, made by
//! calling, with a 1 ms timeout, a host whose name never resolves (reqwest's
//! own request timeout, without a socket); an
//! injected status is a real [`reqwest::Response`] with that status. Their
//! URL is the URL of the call they replace.
//!
//! Errors are made ahead of time, off the calls' path: a small pool per
//! kind, refilled in the background by concurrent attempts, so that an
//! injected timeout costs what a status fault costs rather than the timer's
//! ~2 ms. A call that finds its pool empty makes its error itself, as it
//! did before pools.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::ResponseBuilderExt;
use url::Url;

/// Name of the connection-error fault of the built-in fault model.
pub const CONNECT: &str = "reqwest.connect";
/// Name of the timeout fault of the built-in fault model.
pub const TIMEOUT: &str = "reqwest.timeout";

/// Name reported for a call that ended with any other reqwest error.
pub const OTHER: &str = "reqwest.error";

/// The reference's name for a connection error, also understood.
pub const REFERENCE_CONNECT: &str = "requests.exceptions.ConnectionError";
/// The reference's name for a timeout, also understood.
pub const REFERENCE_TIMEOUT: &str = "requests.exceptions.Timeout";

/// Which genuine reqwest error a forced exception becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `is_connect()` is true.
    Connect,
    /// `is_timeout()` is true.
    Timeout,
}

impl ErrorKind {
    /// The kind of error an exception name stands for: a timeout for
    /// [`TIMEOUT`] and any name mentioning a timeout (`requests.exceptions.
    /// ReadTimeout`, ...), a connection error for everything else.
    pub fn from_name(name: &str) -> Self {
        // "timeout" in any case, without lower-casing a copy of the name.
        if name == TIMEOUT || name.as_bytes().windows(7).any(|w| w.eq_ignore_ascii_case(b"timeout")) {
            ErrorKind::Timeout
        } else {
            ErrorKind::Connect
        }
    }

    /// The stable name of this kind in the built-in fault model.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => CONNECT,
            ErrorKind::Timeout => TIMEOUT,
        }
    }

    /// The kind of a real error, as it is reported to the server.
    pub fn of(error: &reqwest::Error) -> Option<Self> {
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
    client: reqwest::Client,
    /// `http://<the refusing socket>/`, parsed once.
    refusing: Url,
    // Held for the life of the process: bound but not listening, so that
    // connections are refused.
    _refusing: tokio::net::TcpSocket,
    /// Its requests wait for a name forever, until their timeout.
    unresolving: reqwest::Client,
}

/// A resolver that never answers: a request waits in it until its timeout,
/// without opening a socket.
struct NeverResolves;

impl reqwest::dns::Resolve for NeverResolves {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
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
                    client: reqwest::Client::builder().no_proxy().build().map_err(std::io::Error::other)?,
                    refusing: Url::parse(&format!("http://{}/", refusing_socket.local_addr()?))
                        .map_err(std::io::Error::other)?,
                    _refusing: refusing_socket,
                    unresolving: reqwest::Client::builder()
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
pub async fn error(kind: ErrorKind, url: &Url) -> reqwest::Error {
    let pool = Pool::of(kind);
    let ready = pool.take();
    pool.refill_if_low(kind);
    match ready {
        Some(error) => error.with_url(url.clone()),
        None => make(kind).await.with_url(url.clone()),
    }
}

/// Makes a genuine reqwest error of `kind` (its URL is the socket's).
/// Boxed: one state machine for the calls and the pools' refills.
fn make(kind: ErrorKind) -> futures_util::future::BoxFuture<'static, reqwest::Error> {
    Box::pin(async move {
        let mut request = match (fabricator(), kind) {
            (Some(f), ErrorKind::Connect) => f.client.get(f.refusing.clone()),
            (Some(f), ErrorKind::Timeout) => {
                f.unresolving.get("http://filibuster-timeout.invalid/").timeout(Duration::from_millis(1))
            }
            (None, _) => reqwest::Client::new().get("filibuster://no-sockets"),
        };
        let mut answered = false;
        loop {
            match request.send().await {
                Err(error) => return error,
                // Cannot happen with the sockets above; still an error, never a panic.
                Ok(_) if !answered => {
                    answered = true;
                    request = reqwest::Client::new().get("filibuster://unexpected-answer");
                }
                Ok(_) => unreachable!("reqwest sent a request with an unsupported scheme"),
            }
        }
    })
}

/// Errors of one kind made ahead of time.
struct Pool {
    ready: Mutex<Vec<reqwest::Error>>,
    /// A refill task is running.
    refilling: AtomicBool,
}

impl Pool {
    /// Errors a pool holds when full.
    const CAPACITY: usize = 64;
    /// A pool is refilled when it holds fewer than this.
    const LOW: usize = Self::CAPACITY / 2;

    fn of(kind: ErrorKind) -> &'static Pool {
        static CONNECT_POOL: Pool = Pool::new();
        static TIMEOUT_POOL: Pool = Pool::new();
        match kind {
            ErrorKind::Connect => &CONNECT_POOL,
            ErrorKind::Timeout => &TIMEOUT_POOL,
        }
    }

    const fn new() -> Self {
        Self { ready: Mutex::new(Vec::new()), refilling: AtomicBool::new(false) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<reqwest::Error>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Option<reqwest::Error> {
        self.lock().pop()
    }

    /// Starts a background refill, on the current tokio runtime, when the
    /// pool is low and no refill runs.
    fn refill_if_low(&'static self, kind: ErrorKind) {
        if self.lock().len() >= Self::LOW || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refilling.store(false, Ordering::Release);
            return;
        };
        /// Clears `refilling` when the task ends or is dropped with its
        /// runtime, so that the next runtime refills.
        struct Refilling(&'static Pool);
        impl Drop for Refilling {
            fn drop(&mut self) {
                self.0.refilling.store(false, Ordering::Release);
            }
        }
        let guard = Refilling(self);
        runtime.spawn(async move {
            use futures_util::StreamExt;
            let missing = Self::CAPACITY.saturating_sub(guard.0.lock().len());
            // Made concurrently, each pooled as soon as it is ready.
            let mut making: futures_util::stream::FuturesUnordered<_> =
                (0..missing).map(|_| make(kind)).collect();
            while let Some(error) = making.next().await {
                let mut ready = guard.0.lock();
                if ready.len() < Self::CAPACITY {
                    ready.push(error);
                }
            }
        });
    }
}

/// A genuine response with `status`, `body`, and `url` as its URL.
pub fn response(status: http::StatusCode, url: &Url, body: impl Into<reqwest::Body>) -> reqwest::Response {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html"));
    let head = Head { status, version: http::Version::HTTP_11, headers, extensions: http::Extensions::new() };
    response_with(head, url.clone(), body)
}

/// The head of a response: what [`response_with`] puts around a body.
pub(crate) struct Head {
    pub status: http::StatusCode,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub extensions: http::Extensions,
}

/// A genuine response with the head `head`, `body`, and `url` as its URL.
pub(crate) fn response_with(head: Head, url: Url, body: impl Into<reqwest::Body>) -> reqwest::Response {
    let Head { status, version, headers, extensions } = head;
    let mut builder = http::Response::builder().status(status).version(version);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    if let Some(e) = builder.extensions_mut() {
        *e = extensions;
    }
    match builder.url(url).body(body.into()) {
        Ok(response) => reqwest::Response::from(response),
        Err(_) => reqwest::Response::from(http::Response::new(reqwest::Body::from(Vec::new()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_mentioning_a_timeout_in_any_case_are_timeouts() {
        for name in [TIMEOUT, REFERENCE_TIMEOUT, "requests.exceptions.ReadTimeout", "TIMEOUT", "a.timeOut.b"]
        {
            assert_eq!(ErrorKind::from_name(name), ErrorKind::Timeout, "{name}");
        }
        for name in [CONNECT, REFERENCE_CONNECT, OTHER, "", "time out", "timeou", "élan"] {
            assert_eq!(ErrorKind::from_name(name), ErrorKind::Connect, "{name}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pooled_errors_are_genuine_and_carry_the_calls_url() {
        for kind in [ErrorKind::Timeout, ErrorKind::Connect] {
            let url = Url::parse("http://bookings:5002/bookings/chris").unwrap();
            // The first call of a kind may find its pool empty and make its
            // error itself; it starts the refill.
            let first = error(kind, &url).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while Pool::of(kind).lock().len() < Pool::LOW {
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
