//! The seam between instrumented services and a Filibuster server: over HTTP
//! across processes, or a direct call when the server lives in the process.
//!
//! # When the server is slow or gone
//!
//! A server that cannot be reached must never break a service: its calls go
//! ahead un-faulted. [`HttpTransport`] also makes sure such a server costs
//! the services little:
//!
//! - each request waits at most [`TransportOptions::timeout`] (default 1 s,
//!   `FILIBUSTER_SERVER_TIMEOUT_MS` for [`Connection::from_env`](crate::Connection::from_env))
//!   for the server's answer once connected; setting up a connection may take
//!   up to [`TransportOptions::connect_timeout`] (default 2.5 s, enough for a
//!   dropped SYN to be sent again when the server's listen backlog overflows
//!   in a burst), and the answer still gets its full timeout after it;
//! - a connection refused or reset while connecting (the request was not
//!   sent) is tried again after 10, 50 and 200 ms
//!   ([`TransportOptions::connect_retries`]); nothing else is retried, since
//!   the server may have taken a record whose answer was lost;
//! - answers are read chunk by chunk and given up past 1 MiB
//!   ([`TransportOptions::max_answer_bytes`]): [`TransportError::TooLarge`];
//! - a circuit breaker: after 3 failures in a row
//!   ([`TransportOptions::breaker_threshold`]), the server is not asked for
//!   5 s ([`TransportOptions::breaker_pause`]), then one call probes it; in
//!   between, requests fail at once with [`TransportError::CircuitOpen`] (the
//!   calls go ahead un-faulted without waiting). Opening is logged once with
//!   `tracing::warn!`. A failure here is a request that got no answer in time
//!   or an answer that could not be read; a server that answers, even with
//!   an error status, is reachable;
//! - every record (`create`, `update`) that did not reach the server as far
//!   as the sender knows (connecting failed, no answer came in time, or the
//!   breaker was open) is counted ([`HttpTransport::records_lost`]), and every
//!   later request to the server carries the cumulative count in
//!   [`headers::LOST_RECORDS`](crate::headers::LOST_RECORDS), with the
//!   transport's random id in [`headers::SENDER`](crate::headers::SENDER)
//!   (sent on every request).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method};
use reqwest::{Request, Response, Url};

use crate::headers::name::{LOST_RECORDS, SENDER};
use crate::records::{CreateResponse, Invocation, Update};

/// Environment variable read by [`TransportOptions::from_env`] (and so by
/// [`Connection::from_env`](crate::Connection::from_env)): how many
/// milliseconds a request waits for the server's answer (a positive whole
/// number; default 1000).
pub const ENV_SERVER_TIMEOUT: &str = "FILIBUSTER_SERVER_TIMEOUT_MS";

/// What went wrong talking to a Filibuster server.
///
/// The message of each variant says what happened in this crate's terms; the
/// underlying error, when there is one, is its [`source`](StdError::source)
/// and not repeated in the message, so that a printed error chain names it
/// once.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request got no answer: refused, reset, or the connection broke.
    #[error("no answer from the Filibuster server at {url}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// What reqwest said.
        source: reqwest::Error,
    },
    /// The server did not answer in time.
    #[error("the Filibuster server at {url} did not answer {endpoint} within {timeout:?}")]
    TimedOut {
        /// The server's base URL.
        url: String,
        /// The endpoint called.
        endpoint: &'static str,
        /// How long the answer was waited for.
        timeout: Duration,
    },
    /// The server's answer is longer than the transport reads.
    #[error("the Filibuster server's answer to {endpoint} is longer than {limit} bytes; not read further")]
    TooLarge {
        /// The endpoint called.
        endpoint: &'static str,
        /// The most the transport reads ([`TransportOptions::max_answer_bytes`]).
        limit: usize,
    },
    /// The server was not asked: it failed too often in a row, and the
    /// circuit breaker leaves it alone for a while.
    #[error("the Filibuster server at {url} is not asked for now: it failed {failures} times in a row")]
    CircuitOpen {
        /// The server's base URL.
        url: String,
        /// Its failures in a row.
        failures: u32,
    },
    /// The server answered with an error status.
    #[error("Filibuster server answered {endpoint} with {status}: {body}")]
    Status {
        /// The endpoint called.
        endpoint: &'static str,
        /// The status it answered.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The server's answer is not what the protocol says.
    #[error("Filibuster server answered {endpoint} with an unexpected body")]
    Malformed {
        /// The endpoint called.
        endpoint: &'static str,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// An in-process server rejected the record.
    #[error("Filibuster server rejected the record")]
    Rejected {
        /// Why.
        #[from]
        source: crate::records::RecordError,
    },
    /// The record cannot be written as JSON.
    #[error("the record does not serialize")]
    Unserializable {
        /// Why.
        source: serde_json::Error,
    },
    /// The server's URL, with the endpoint's path, is not a URL.
    #[error("the Filibuster server's URL {url:?} is not a URL")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why it does not parse.
        source: url::ParseError,
    },
}

/// How instrumented services reach a Filibuster server.
///
/// [`HttpTransport`] speaks the protocol's HTTP endpoints; the server of this
/// crate implements the trait directly so that services living in the same
/// process reach it with no HTTP hop.
pub trait Transport: Send + Sync + 'static {
    /// `GET /filibuster/new-test-execution/<service>`.
    fn new_test_execution<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<bool, TransportError>>;
    /// `PUT /filibuster/create`.
    fn create<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<CreateResponse, TransportError>>;
    /// `POST /filibuster/update`.
    fn update<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<(), TransportError>>;
    /// The answer to [`Transport::create`] at once, without a future, from
    /// a transport that has it without waiting (the in-process server):
    /// instrumented calls ask this first, and await `create` only on
    /// `None`, the default.
    fn create_now(&self, invocation: &Invocation) -> Option<Result<CreateResponse, TransportError>> {
        let _ = invocation;
        None
    }
    /// [`Transport::update`] at once, as [`Transport::create_now`].
    fn update_now(&self, update: &Update) -> Option<Result<(), TransportError>> {
        let _ = update;
        None
    }
    /// `POST /filibuster/panic` (this project's addition): a handler
    /// panicked. Not a record of the reference's protocol, so not counted
    /// lost when it does not arrive; by default, not sent.
    fn handler_panicked<'a>(
        &'a self,
        panic: &'a crate::panic::HandlerPanic,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        let _ = panic;
        Box::pin(std::future::ready(Ok(())))
    }
    /// A request without Filibuster headers reached `service`'s `route`
    /// (`GET /movies/{id}`) while other requests were handled in the
    /// process: likely an uninstrumented call's. Told only to an in-process
    /// server (which counts the requests its process handles); by default,
    /// nothing.
    fn unmarked_request(&self, service: &str, route: &str) {
        let _ = (service, route);
    }
    /// How many records did not reach the server so far, as far as the
    /// transport knows (see [`HttpTransport::records_lost`]). A transport
    /// that cannot lose records, such as the in-process server, answers 0.
    fn records_lost(&self) -> u64 {
        0
    }
}

/// How an [`HttpTransport`] waits for, retries and gives up on its server.
/// `TransportOptions::default()` holds the defaults named on each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportOptions {
    /// How long a request waits for the server's answer (its head and body)
    /// once connected. Default 1 s; [`ENV_SERVER_TIMEOUT`] in
    /// [`TransportOptions::from_env`].
    pub timeout: Duration,
    /// How long setting up a connection to the server may take (a request
    /// that waited for a connection still gets [`TransportOptions::timeout`]
    /// for its answer after it). Default 2.5 s: a SYN dropped by a full
    /// listen backlog is sent again after 1 s.
    pub connect_timeout: Duration,
    /// The pauses before connecting again when connecting failed at once
    /// (refused, reset: the request was not sent), one retry per entry.
    /// Default 10, 50 and 200 ms. A connection that timed out is not tried
    /// again.
    pub connect_retries: Vec<Duration>,
    /// The longest answer read; a longer one fails with
    /// [`TransportError::TooLarge`]. Default 1 MiB.
    pub max_answer_bytes: usize,
    /// Failures in a row after which the server is left alone for
    /// [`TransportOptions::breaker_pause`]. Default 3; 0 never leaves it alone.
    pub breaker_threshold: u32,
    /// How long the server is left alone before one request probes it.
    /// Default 5 s.
    pub breaker_pause: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(2500),
            connect_retries: vec![
                Duration::from_millis(10),
                Duration::from_millis(50),
                Duration::from_millis(200),
            ],
            max_answer_bytes: 1 << 20,
            breaker_threshold: 3,
            breaker_pause: Duration::from_secs(5),
        }
    }
}

impl TransportOptions {
    /// The defaults, with [`TransportOptions::timeout`] read from
    /// [`ENV_SERVER_TIMEOUT`] when it is set. A value that is not a positive
    /// whole number of milliseconds is ignored with a `tracing` warning.
    pub fn from_env() -> Self {
        let mut options = Self::default();
        let value = std::env::var(ENV_SERVER_TIMEOUT).ok();
        match parse_timeout_ms(value.as_deref()) {
            Ok(Some(timeout)) => options.timeout = timeout,
            Ok(None) => {}
            Err(value) => tracing::warn!(
                variable = ENV_SERVER_TIMEOUT,
                value,
                default = ?options.timeout,
                "ignoring a server timeout that is not a positive whole number of milliseconds"
            ),
        }
        options
    }
}

/// A timeout in milliseconds: `Ok(None)` when not set, `Err(value)` when not
/// a positive whole number.
fn parse_timeout_ms(value: Option<&str>) -> Result<Option<Duration>, &str> {
    let Some(value) = value else { return Ok(None) };
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
        _ => Err(value),
    }
}

/// The protocol over HTTP, to a server such as `filibuster server` or the
/// reference implementation. Clones share their connections, circuit
/// breaker, lost-record count and sender id.
///
/// See the [module docs](self) for how it behaves when the server is slow or
/// gone.
#[derive(Clone)]
pub struct HttpTransport {
    base: String,
    client: reqwest::Client,
    shared: Arc<Shared>,
}

/// What clones of a transport share.
struct Shared {
    options: TransportOptions,
    create_url: Result<Url, BadUrl>,
    update_url: Result<Url, BadUrl>,
    panic_url: Result<Url, BadUrl>,
    /// `X-Filibuster-Sender`, built once.
    sender: HeaderValue,
    lost: AtomicU64,
    breaker: Breaker,
    connects: Arc<Connects>,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

impl HttpTransport {
    /// A transport to the server at `base_url` (e.g. `http://127.0.0.1:5005`)
    /// with the default [`TransportOptions`].
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_options(base_url, TransportOptions::default())
    }

    /// A transport to the server at `base_url` with `options`.
    pub fn with_options(base_url: impl Into<String>, options: TransportOptions) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        let connects = Arc::new(Connects::new());
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(options.connect_timeout)
            .connector_layer(ConnectWatch(connects.clone()))
            .build()
            .unwrap_or_default();
        let url = |path: &str| parse_url(format!("{base}{path}"));
        let sender =
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a uuid is a header value");
        let shared = Shared {
            create_url: url("/filibuster/create"),
            update_url: url("/filibuster/update"),
            panic_url: url("/filibuster/panic"),
            sender,
            lost: AtomicU64::new(0),
            breaker: Breaker::new(options.breaker_threshold, options.breaker_pause),
            connects,
            options,
        };
        Self { base, client, shared: Arc::new(shared) }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The transport's options.
    pub fn options(&self) -> &TransportOptions {
        &self.shared.options
    }

    /// The id this transport sends in `X-Filibuster-Sender`: a random UUID
    /// (v4), one per transport and its clones.
    pub fn sender_id(&self) -> &str {
        self.shared.sender.to_str().unwrap_or_default()
    }

    /// How many records (`create`, `update`) did not reach the server so
    /// far, as far as this transport knows: connecting failed (after the
    /// retries), no answer came in time (the server may still have taken
    /// it), or the circuit breaker was open. Cumulative; sent to the server
    /// in `X-Filibuster-Lost-Records` on every later request once not 0.
    pub fn records_lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }

    /// [`HttpTransport::call`], boxed: one state machine that the three
    /// endpoints share, not one copy of it in each.
    fn call_boxed<'a>(
        &'a self,
        endpoint: &'static str,
        method: Method,
        url: &'a Result<Url, BadUrl>,
        body: Option<Bytes>,
        record: bool,
    ) -> BoxFuture<'a, Result<Bytes, TransportError>> {
        Box::pin(self.call(endpoint, method, url, body, record))
    }

    /// `answer`, the body of a successful answer to `endpoint`, parsed.
    /// Not parsing counts as an answer for the circuit breaker (the server is
    /// reachable), and is logged as the other failures are.
    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        answer: &[u8],
    ) -> Result<T, TransportError> {
        serde_json::from_slice(answer).map_err(|source| self.malformed(endpoint, source))
    }

    #[cold]
    fn malformed(&self, endpoint: &'static str, source: serde_json::Error) -> TransportError {
        let error = TransportError::Malformed { endpoint, source };
        tracing::debug!(
            server = %self.base,
            error = &error as &(dyn StdError + 'static),
            "Filibuster server request failed"
        );
        error
    }

    /// One request to the server through the circuit breaker; `record`: it
    /// carries a record, to be counted if lost. The answer's body, unparsed.
    async fn call(
        &self,
        endpoint: &'static str,
        method: Method,
        url: &Result<Url, BadUrl>,
        body: Option<Bytes>,
        record: bool,
    ) -> Result<Bytes, TransportError> {
        let shared = &*self.shared;
        let url = match url {
            Ok(url) => url,
            Err(BadUrl { url, reason }) => {
                if record {
                    shared.lost.fetch_add(1, Ordering::Relaxed);
                }
                return Err(TransportError::InvalidUrl { url: url.clone(), source: *reason });
            }
        };
        let probe = match shared.breaker.admit() {
            Admission::Closed => false,
            Admission::Probe => true,
            Admission::Refused => {
                if record {
                    shared.lost.fetch_add(1, Ordering::Relaxed);
                }
                let failures = shared.breaker.failures.load(Ordering::Relaxed);
                return Err(TransportError::CircuitOpen { url: self.base.clone(), failures });
            }
        };
        // A probe whose caller gives up (its future dropped) lets the next call probe.
        let _probing = probe.then_some(ProbeSlot(&shared.breaker));
        match self.exchange(endpoint, method, url, body).await {
            Ok(answer) => {
                shared.breaker.answered(probe);
                Ok(answer)
            }
            Err(Failure { error, lost, counts }) => {
                if lost && record {
                    shared.lost.fetch_add(1, Ordering::Relaxed);
                }
                if !counts {
                    shared.breaker.answered(probe);
                } else {
                    self.failed(probe, &error);
                }
                Err(error)
            }
        }
    }

    /// The server failed to answer `error`'s request: counted by the
    /// breaker, and said (at `warn` when this opened the breaker). Out of
    /// [`HttpTransport::call`]'s state machine: cold.
    #[cold]
    #[inline(never)]
    fn failed(&self, probe: bool, error: &TransportError) {
        let shared = &*self.shared;
        if let Some(failures) = shared.breaker.failed(probe) {
            tracing::warn!(
                server = %self.base,
                failures,
                pause = ?shared.options.breaker_pause,
                records_lost = self.records_lost(),
                error = error as &(dyn StdError + 'static),
                "the Filibuster server failed {failures} times in a row: not asking it for {:?}, \
                 then one call probes it; meanwhile instrumented calls go ahead without faults and \
                 their records are counted as lost",
                shared.options.breaker_pause,
            );
        } else {
            tracing::debug!(
                server = %self.base,
                error = error as &(dyn StdError + 'static),
                "Filibuster server request failed"
            );
        }
    }

    /// Sends the request (connecting again after a fast connect failure) and
    /// reads the answer, within the timeouts and the size cap.
    async fn exchange(
        &self,
        endpoint: &'static str,
        method: Method,
        url: &Url,
        body: Option<Bytes>,
    ) -> Result<Bytes, Failure> {
        let options = &self.shared.options;
        let mut retries = options.connect_retries.iter();
        let unreachable = |source| TransportError::Unreachable { url: self.base.clone(), source };
        let timed_out =
            || TransportError::TimedOut { url: self.base.clone(), endpoint, timeout: options.timeout };
        let (mut response, mut deadline) = loop {
            let mut deadline = Deadline::new(&self.shared.connects, options);
            let request = self.request(method.clone(), url, body.clone());
            match deadline.run(self.client.execute(request)).await {
                None => return Err(Failure::no_answer(timed_out())),
                Some(Ok(response)) => break (response, deadline),
                Some(Err(error)) if error.is_connect() && !error.is_timeout() => match retries.next() {
                    Some(pause) => {
                        tracing::debug!(server = %self.base, ?pause, "connecting to the Filibuster server failed; trying again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => return Err(Failure::no_answer(unreachable(error))),
                },
                Some(Err(error)) => return Err(Failure::no_answer(unreachable(error))),
            }
        };
        // The server answered: what follows did reach it.
        let status = response.status();
        let body = match deadline.run(read_capped(&mut response, options.max_answer_bytes)).await {
            None => return Err(Failure::bad_answer(timed_out())),
            Some(Err(ReadError::TooLarge)) => {
                return Err(Failure::bad_answer(TransportError::TooLarge {
                    endpoint,
                    limit: options.max_answer_bytes,
                }));
            }
            Some(Err(ReadError::Broken(error))) => return Err(Failure::bad_answer(unreachable(error))),
            Some(Ok(body)) => body,
        };
        if !status.is_success() {
            let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(Failure::answered(TransportError::Status {
                endpoint,
                status: status.as_u16(),
                body,
            }));
        }
        Ok(body)
    }

    /// A request with the sender's headers and, once records were lost,
    /// their count.
    fn request(&self, method: Method, url: &Url, body: Option<Bytes>) -> Request {
        let mut request = Request::new(method, url.clone());
        let headers = request.headers_mut();
        headers.insert(SENDER, self.shared.sender.clone());
        let lost = self.records_lost();
        if lost > 0 {
            headers.insert(LOST_RECORDS, HeaderValue::from(lost));
        }
        if let Some(body) = body {
            headers.insert(http::header::CONTENT_TYPE, JSON);
            *request.body_mut() = Some(body.into());
        }
        request
    }
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base", &self.base)
            .field("options", &self.shared.options)
            .field("sender", &self.sender_id())
            .field("records_lost", &self.records_lost())
            .finish_non_exhaustive()
    }
}

/// A failed exchange: the error, whether the record is lost (it did not
/// reach the server as far as the sender knows), and whether it counts as a
/// failure of the server for the circuit breaker.
struct Failure {
    error: TransportError,
    lost: bool,
    counts: bool,
}

impl Failure {
    /// No answer came: the record is lost, the server failed.
    fn no_answer(error: TransportError) -> Self {
        Self { error, lost: true, counts: true }
    }

    /// An answer came that could not be read: the server failed.
    fn bad_answer(error: TransportError) -> Self {
        Self { error, lost: false, counts: true }
    }

    /// The server answered, with an error: it is reachable.
    fn answered(error: TransportError) -> Self {
        Self { error, lost: false, counts: false }
    }
}

enum ReadError {
    TooLarge,
    Broken(reqwest::Error),
}

/// The body of `response`, read chunk by chunk, given up past `limit` bytes
/// (at once when its `Content-Length` says so). A body of one chunk (the
/// usual case) is not copied.
async fn read_capped(response: &mut Response, limit: usize) -> Result<Bytes, ReadError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut length = 0usize;
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Broken)? {
        length = length.saturating_add(chunk.len());
        if length > limit {
            return Err(ReadError::TooLarge);
        }
        match first.take() {
            None if joined.is_empty() => first = Some(chunk),
            None => joined.extend_from_slice(&chunk),
            Some(earlier) => {
                joined.reserve(length);
                joined.extend_from_slice(&earlier);
                joined.extend_from_slice(&chunk);
            }
        }
    }
    Ok(match first {
        Some(only) => only,
        None => Bytes::from(joined),
    })
}

/// When a request stops waiting: [`TransportOptions::timeout`] after it
/// started, or after the connection it may have waited for was set up
/// (at most [`TransportOptions::connect_timeout`] later).
struct Deadline<'a> {
    connects: &'a Connects,
    timeout: Duration,
    started: Instant,
    at: Instant,
    latest: Instant,
}

impl<'a> Deadline<'a> {
    fn new(connects: &'a Connects, options: &TransportOptions) -> Self {
        let started = Instant::now();
        Self {
            connects,
            timeout: options.timeout,
            started,
            at: started + options.timeout,
            latest: started + options.connect_timeout + options.timeout,
        }
    }

    /// `future`'s output, or `None` when the deadline passed first.
    async fn run<F: Future>(&mut self, future: F) -> Option<F::Output> {
        let mut future = std::pin::pin!(future);
        loop {
            if let Ok(output) = tokio::time::timeout_at(self.at.into(), future.as_mut()).await {
                return Some(output);
            }
            self.at = self.extended()?;
        }
    }

    /// A later deadline when a connection to the server is being set up, or
    /// was set up since the request started: the answer then gets its full
    /// timeout counted from the connection.
    fn extended(&self) -> Option<Instant> {
        let now = Instant::now();
        let at = if self.connects.in_flight() {
            now + self.timeout
        } else {
            self.connects.last_done().filter(|done| *done > self.started)? + self.timeout
        };
        let at = at.min(self.latest);
        (at > now).then_some(at)
    }
}

/// Connections to the server being set up, and when the last one was.
struct Connects {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Microseconds from `epoch` to the end of the last connection set up,
    /// plus 1; 0 for none yet.
    last_done: AtomicU64,
}

impl Connects {
    fn new() -> Self {
        Self { epoch: Instant::now(), in_flight: AtomicUsize::new(0), last_done: AtomicU64::new(0) }
    }

    fn in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    fn last_done(&self) -> Option<Instant> {
        match self.last_done.load(Ordering::Acquire) {
            0 => None,
            micros => Some(self.epoch + Duration::from_micros(micros - 1)),
        }
    }
}

/// Marks a connection being set up, until dropped (done, failed or given up).
struct Connecting(Arc<Connects>);

impl Connecting {
    fn start(connects: Arc<Connects>) -> Self {
        connects.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(connects)
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        let micros = u64::try_from(self.0.epoch.elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1;
        self.0.last_done.fetch_max(micros, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A layer on the client's connector that keeps [`Connects`] up to date.
#[derive(Clone)]
struct ConnectWatch(Arc<Connects>);

impl<S> tower_layer::Layer<S> for ConnectWatch {
    type Service = Watched<S>;

    fn layer(&self, inner: S) -> Watched<S> {
        Watched { inner, connects: self.0.clone() }
    }
}

/// The connector, watched.
#[derive(Clone)]
struct Watched<S> {
    inner: S,
    connects: Arc<Connects>,
}

impl<S, R> tower_service::Service<R> for Watched<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = Connecting::start(self.connects.clone());
        let connect = self.inner.call(request);
        Box::pin(async move {
            let connection = connect.await;
            drop(connecting);
            connection
        })
    }
}

/// Whether a request may go to the server.
enum Admission {
    /// Yes: the breaker is closed.
    Closed,
    /// Yes, as the one probe after a pause.
    Probe,
    /// No: the server is left alone.
    Refused,
}

/// The circuit breaker of a transport. Lock-free; while closed, admitting a
/// request is one relaxed load.
struct Breaker {
    threshold: u32,
    pause: Duration,
    epoch: Instant,
    /// Failures in a row.
    failures: AtomicU32,
    /// Microseconds from `epoch` until which the server is left alone, plus
    /// 1; 0 while closed.
    open_until: AtomicU64,
    /// A probe is under way.
    probing: AtomicBool,
}

/// Frees the breaker's probe slot when dropped, however its request ended.
struct ProbeSlot<'a>(&'a Breaker);

impl Drop for ProbeSlot<'_> {
    fn drop(&mut self) {
        self.0.probing.store(false, Ordering::Release);
    }
}

impl Breaker {
    fn new(threshold: u32, pause: Duration) -> Self {
        Self {
            threshold,
            pause,
            epoch: Instant::now(),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        }
    }

    /// Microseconds from `epoch` to `pause` from now, plus 1.
    fn reopen_at(&self) -> u64 {
        let at = self.epoch.elapsed().saturating_add(self.pause);
        u64::try_from(at.as_micros()).unwrap_or(u64::MAX - 1) + 1
    }

    fn admit(&self) -> Admission {
        let until = self.open_until.load(Ordering::Relaxed);
        if until == 0 {
            return Admission::Closed;
        }
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1;
        if now < until {
            return Admission::Refused;
        }
        match self.probing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => Admission::Probe,
            Err(_) => Admission::Refused,
        }
    }

    /// The server answered: the breaker closes. Writes nothing while it was
    /// closed with no failure.
    fn answered(&self, probe: bool) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.open_until.load(Ordering::Relaxed) != 0 {
            self.open_until.store(0, Ordering::Relaxed);
        }
        if probe {
            self.probing.store(false, Ordering::Release);
        }
    }

    /// The server failed; `Some(failures in a row)` when this opened the
    /// breaker (a failed probe opens it again, silently).
    fn failed(&self, probe: bool) -> Option<u32> {
        let failures = self
            .failures
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_add(1)))
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        if probe {
            self.open_until.store(self.reopen_at(), Ordering::Relaxed);
            self.probing.store(false, Ordering::Release);
            return None;
        }
        let opens = self.threshold > 0
            && failures >= self.threshold
            && self
                .open_until
                .compare_exchange(0, self.reopen_at(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        opens.then_some(failures)
    }
}

#[derive(serde::Deserialize)]
struct NewTestExecution {
    #[serde(rename = "new-test-execution")]
    new_test_execution: bool,
}

/// A URL that does not parse, and why.
#[derive(Debug)]
struct BadUrl {
    url: String,
    reason: url::ParseError,
}

/// `url` parsed.
fn parse_url(url: String) -> Result<Url, BadUrl> {
    Url::parse(&url).map_err(|reason| BadUrl { url, reason })
}

/// A record as a JSON body.
fn json_body(record: &impl serde::Serialize) -> Result<Bytes, TransportError> {
    serde_json::to_vec(record).map(Bytes::from).map_err(|source| TransportError::Unserializable { source })
}

impl Transport for HttpTransport {
    fn new_test_execution<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async move {
            let url = parse_url(format!("{}/filibuster/new-test-execution/{service}", self.base));
            let answer = self.call_boxed("new-test-execution", Method::GET, &url, None, false).await?;
            let answer: NewTestExecution = self.parse("new-test-execution", &answer)?;
            Ok(answer.new_test_execution)
        })
    }

    fn create<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<CreateResponse, TransportError>> {
        let call = match json_body(invocation) {
            Ok(body) => self.call_boxed("create", Method::PUT, &self.shared.create_url, Some(body), true),
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        Box::pin(async move {
            let answer = call.await?;
            CreateResponse::from_json(&answer).map_err(|source| self.malformed("create", source))
        })
    }

    fn update<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<(), TransportError>> {
        let call = match json_body(update) {
            Ok(body) => self.call_boxed("update", Method::POST, &self.shared.update_url, Some(body), true),
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        Box::pin(async move {
            // Any JSON: checked, not kept.
            let _: serde::de::IgnoredAny = self.parse("update", &call.await?)?;
            Ok(())
        })
    }

    fn handler_panicked<'a>(
        &'a self,
        panic: &'a crate::panic::HandlerPanic,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        match json_body(panic) {
            Ok(body) => {
                let call = self.call_boxed("panic", Method::POST, &self.shared.panic_url, Some(body), false);
                Box::pin(async move { call.await.map(drop) })
            }
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn records_lost(&self) -> u64 {
        HttpTransport::records_lost(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timeouts_from_the_environment() {
        assert_eq!(parse_timeout_ms(None), Ok(None));
        assert_eq!(parse_timeout_ms(Some("250")), Ok(Some(Duration::from_millis(250))));
        assert_eq!(parse_timeout_ms(Some(" 1500 ")), Ok(Some(Duration::from_millis(1500))));
        for bad in ["", "0", "-5", "1.5", "soon", "1s"] {
            assert_eq!(parse_timeout_ms(Some(bad)), Err(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_probes_once_after_its_pause() {
        let breaker = Breaker::new(3, Duration::from_millis(30));
        assert!(matches!(breaker.admit(), Admission::Closed));
        assert_eq!(breaker.failed(false), None);
        assert_eq!(breaker.failed(false), None);
        breaker.answered(false);
        assert_eq!((breaker.failed(false), breaker.failed(false)), (None, None), "counted afresh");
        assert_eq!(breaker.failed(false), Some(3));
        assert_eq!(breaker.failed(false), None, "said once");
        assert!(matches!(breaker.admit(), Admission::Refused));
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(breaker.admit(), Admission::Probe));
        assert!(matches!(breaker.admit(), Admission::Refused), "one probe at a time");
        assert_eq!(breaker.failed(true), None, "a failed probe opens it again, silently");
        assert!(matches!(breaker.admit(), Admission::Refused));
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(breaker.admit(), Admission::Probe));
        breaker.answered(true);
        assert!(matches!(breaker.admit(), Admission::Closed));
        assert_eq!(breaker.failed(false), None);

        // A probe given up half-way (its future dropped) frees the slot.
        let breaker = Breaker::new(1, Duration::ZERO);
        assert_eq!(breaker.failed(false), Some(1));
        assert!(matches!(breaker.admit(), Admission::Probe));
        drop(ProbeSlot(&breaker));
        assert!(matches!(breaker.admit(), Admission::Probe), "probed again");

        let never = Breaker::new(0, Duration::from_secs(5));
        assert!((0..10).all(|_| never.failed(false).is_none()));
        assert!(matches!(never.admit(), Admission::Closed));
    }
}
