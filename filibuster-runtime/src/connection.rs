//! A connection of instrumented services to one Filibuster server.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::records::{CreateResponse, Invocation, Update};
use crate::transport::{HttpTransport, Transport, TransportError, TransportOptions};

/// Environment variable holding the run's token (`filibuster test --token`).
pub const ENV_TOKEN: &str = "FILIBUSTER_TOKEN";

/// The server's URL from the environment: `FILIBUSTER_URL` (or the default),
/// under `/run/<token>` when `FILIBUSTER_TOKEN` is set.
fn url_from_env() -> String {
    server_url(std::env::var(ENV_URL).ok(), std::env::var(ENV_TOKEN).ok())
}

/// The server's URL from the values of `FILIBUSTER_URL` and `FILIBUSTER_TOKEN`.
fn server_url(url: Option<String>, token: Option<String>) -> String {
    let url = url.unwrap_or_else(|| DEFAULT_URL.to_owned());
    match token {
        Some(token) if !token.trim().is_empty() => {
            format!("{}/run/{}", url.trim_end_matches('/'), token.trim())
        }
        _ => url,
    }
}

/// Environment variable naming the server's URL.
pub const ENV_URL: &str = "FILIBUSTER_URL";
/// The server's URL when [`ENV_URL`] is not set.
pub const DEFAULT_URL: &str = "http://127.0.0.1:5005";

/// How the instrumented handlers and calls of a service reach a Filibuster
/// server. Cheap to clone.
///
/// Handlers use the connection found in the request's extensions (add it to
/// a router with [`Connection::layer`]) or else the process default
/// ([`Connection::process_default`]): HTTP to `FILIBUSTER_URL`, by default
/// `http://127.0.0.1:5005`.
///
/// # When the server is slow or gone
///
/// A server that cannot be reached or answers nonsense never breaks a
/// service: the call goes ahead un-faulted. The first failure after the
/// server last answered is logged with `tracing::warn!` (the error and its
/// sources, once), the next ones at `debug`, and `tracing::info!` says when
/// it answers again.
///
/// Over HTTP ([`Connection::http`], [`Connection::http_with`],
/// [`Connection::from_env`]) such a server costs the services little (see
/// [`transport`](crate::transport) for the details and
/// [`TransportOptions`] for the knobs):
///
/// - a request waits at most 1 s for the server's answer
///   ([`TransportOptions::timeout`]; `FILIBUSTER_SERVER_TIMEOUT_MS` for
///   [`Connection::from_env`]), after a connection that may take up to 2.5 s
///   to set up; a connection refused or reset is tried again after 10, 50
///   and 200 ms;
/// - an answer longer than 1 MiB is not read further;
/// - a circuit breaker: after 3 failures in a row the server is left alone
///   for 5 s, then one call probes it; meanwhile calls go ahead un-faulted at
///   once. Its opening is logged once with `tracing::warn!`;
/// - records that did not reach the server are counted
///   ([`Connection::records_lost`]) and the count is sent to the server on
///   every later request, in `X-Filibuster-Lost-Records`, with the sender's
///   id in `X-Filibuster-Sender` ([`headers`](crate::headers)).
///
/// The in-process connection of a `Server` (of `filibuster-explorer`) never fails
/// that way: it calls the server directly.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Arc<dyn Transport>,
    failing: AtomicBool,
    /// Counts the requests its handlers are handling, for a server that
    /// waits for them (an in-process explorer).
    live_requests: Option<Arc<AtomicUsize>>,
    /// What an in-process explorer shares about traces (feature `otel`):
    /// the current execution's span, and where the trace ids of the
    /// requests that start a trace are noted for its report.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    traces: Option<Arc<crate::__explorer::Traces>>,
}

/// The most trace ids a connection keeps until its explorer takes them.
#[cfg(feature = "otel")]
const MAX_TRACE_IDS: usize = 1024;

static DEFAULT: OnceLock<RwLock<Connection>> = OnceLock::new();
/// Whether the process default was chosen: set with
/// [`Connection::set_process_default`] or named by `FILIBUSTER_URL`.
static DEFAULT_CHOSEN: AtomicBool = AtomicBool::new(false);

impl Connection {
    /// A connection through `transport`.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                failing: AtomicBool::new(false),
                live_requests: None,
                traces: None,
            }),
        }
    }

    /// A connection through `transport` that counts the requests being
    /// handled in `live_requests`, and shares `traces` with its handlers
    /// (feature `otel`).
    pub(crate) fn tracked(
        transport: Arc<dyn Transport>,
        live_requests: Arc<AtomicUsize>,
        traces: Arc<crate::__explorer::Traces>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                failing: AtomicBool::new(false),
                live_requests: Some(live_requests),
                traces: Some(traces),
            }),
        }
    }

    /// The span of the test execution under way, when an in-process
    /// explorer set one.
    #[cfg(feature = "otel")]
    pub(crate) fn execution_span(&self) -> Option<tracing::Span> {
        let traces = self.inner.traces.as_ref()?;
        traces.execution.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Notes the trace id of `span`, the server span of a request that
    /// started a trace, once, when the connection keeps them (the in-process
    /// explorer's; at most [`MAX_TRACE_IDS`] until taken). Other connections
    /// do not even print the id.
    #[cfg(feature = "otel")]
    pub(crate) fn note_trace_of(&self, span: &tracing::Span) {
        let Some(traces) = &self.inner.traces else { return };
        let Some(trace_id) = crate::otel::trace_id(span) else { return };
        let mut trace_ids = traces.ids.lock().unwrap_or_else(|e| e.into_inner());
        if trace_ids.len() < MAX_TRACE_IDS && !trace_ids.contains(&trace_id) {
            trace_ids.push(trace_id);
        }
    }

    /// The requests in-process handlers are handling, for a connection
    /// that counts them (an in-process explorer's); `None` otherwise.
    pub(crate) fn requests_live(&self) -> Option<usize> {
        self.inner.live_requests.as_ref().map(|live| live.load(Ordering::Acquire))
    }

    /// Tells the server that a request without Filibuster headers reached
    /// `service`'s `route` while other requests were handled.
    pub(crate) fn unmarked_request(&self, service: &str, route: &str) {
        self.inner.transport.unmarked_request(service, route);
    }

    /// An instrumented handler started handling a request.
    pub(crate) fn request_started(&self) {
        if let Some(live) = &self.inner.live_requests {
            live.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// ... and is done with it (its spawned work included).
    pub(crate) fn request_ended(&self) {
        if let Some(live) = &self.inner.live_requests {
            live.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Whether the process default was chosen ([`Connection::set_process_default`],
    /// or `FILIBUSTER_URL` in the environment) rather than fallen back on.
    pub(crate) fn process_default_chosen() -> bool {
        DEFAULT_CHOSEN.load(Ordering::Relaxed) || std::env::var_os(ENV_URL).is_some()
    }

    /// A connection over HTTP to the server at `base_url`, with the default
    /// [`TransportOptions`].
    pub fn http(base_url: impl Into<String>) -> Self {
        Self::new(Arc::new(HttpTransport::new(base_url)))
    }

    /// A connection over HTTP to the server at `base_url`, with `options`:
    /// `Connection::http_with(url, TransportOptions { timeout, ..Default::default() })`.
    pub fn http_with(base_url: impl Into<String>, options: TransportOptions) -> Self {
        Self::new(Arc::new(HttpTransport::with_options(base_url, options)))
    }

    /// A connection over HTTP to `FILIBUSTER_URL`, or `http://127.0.0.1:5005`,
    /// waiting `FILIBUSTER_SERVER_TIMEOUT_MS` milliseconds for each answer
    /// (default 1000; [`TransportOptions::from_env`]). With
    /// `FILIBUSTER_TOKEN`, records go under `/run/<token>/` of that URL, so
    /// that they carry the run's token (`filibuster test --token`).
    pub fn from_env() -> Self {
        Self::http_with(url_from_env(), TransportOptions::from_env())
    }

    /// How many records (`create`, `update`) did not reach the server so
    /// far, cumulative: over HTTP, connecting failed after its retries, no
    /// answer came in time (the server may have taken the record anyway), or
    /// the circuit breaker left the server alone. A lost `create` also means
    /// its call goes unreported (it goes ahead un-faulted, and its
    /// `invocation_complete` is not sent). Always 0 in-process.
    pub fn records_lost(&self) -> u64 {
        self.inner.transport.records_lost()
    }

    /// The connection used by handlers whose request carries none: the one
    /// set with [`Connection::set_process_default`], else [`Connection::from_env`].
    pub fn process_default() -> Connection {
        let lock = DEFAULT.get_or_init(|| RwLock::new(Connection::from_env()));
        lock.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `self` the connection of handlers whose request carries none.
    pub fn set_process_default(&self) {
        DEFAULT_CHOSEN.store(true, Ordering::Relaxed);
        let lock = DEFAULT.get_or_init(|| RwLock::new(self.clone()));
        *lock.write().unwrap_or_else(|e| e.into_inner()) = self.clone();
    }

    /// A layer that hands this connection to the instrumented handlers of a
    /// router: `Router::new().route(..).layer(connection.layer())`.
    pub fn layer(&self) -> axum::Extension<Connection> {
        axum::Extension(self.clone())
    }

    /// Asks whether `service` is the first to ask in this test execution.
    pub async fn new_test_execution(&self, service: &str) -> Option<bool> {
        self.outcome(self.inner.transport.new_test_execution(service).await)
    }

    /// Reports an invocation; `None` when the server could not be asked.
    pub async fn create(&self, invocation: &Invocation) -> Option<CreateResponse> {
        let transport = &self.inner.transport;
        let answer = match transport.create_now(invocation) {
            Some(answer) => answer,
            None => transport.create(invocation).await,
        };
        self.outcome(answer)
    }

    /// Reports a `request_received` or `invocation_complete` record.
    pub async fn update(&self, update: &Update) {
        if !self.update_now(update) {
            self.outcome(self.inner.transport.update(update).await);
        }
    }

    /// Reports a `request_received` or `invocation_complete` record if the
    /// transport answers at once (the in-process server): `false` when it
    /// must be sent with [`Connection::update`].
    pub(crate) fn update_now(&self, update: &Update) -> bool {
        match self.inner.transport.update_now(update) {
            Some(answer) => {
                self.outcome(answer);
                true
            }
            None => false,
        }
    }

    /// Reports a handler's panic; a server that does not know the record
    /// (the reference's answers 404) is not counted as failing.
    pub async fn handler_panicked(&self, panic: &crate::panic::HandlerPanic) {
        if let Err(error) = self.inner.transport.handler_panicked(panic).await {
            tracing::debug!(
                error = &error as &(dyn std::error::Error + 'static),
                "a handler's panic was not reported"
            );
        }
    }

    fn outcome<T>(&self, result: Result<T, TransportError>) -> Option<T> {
        self.answered(result.as_ref().err());
        result.ok()
    }

    /// Logs the server answering again, or not answering: `error`. Not
    /// generic, unlike [`Connection::outcome`], so in the binary once.
    fn answered(&self, error: Option<&TransportError>) {
        match error {
            None => {
                if self.inner.failing.load(Ordering::Relaxed) {
                    self.inner.failing.store(false, Ordering::Relaxed);
                    tracing::info!(records_lost = self.records_lost(), "Filibuster server answers again");
                }
            }
            Some(error) => {
                // The message leaves the source out; the subscriber prints the chain.
                let error = error as &(dyn std::error::Error + 'static);
                if !self.inner.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error, "Filibuster server unavailable; calls go ahead without faults");
                } else {
                    tracing::debug!(error, "Filibuster server still unavailable");
                }
            }
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_under_run() {
        assert_eq!(server_url(None, None), DEFAULT_URL);
        assert_eq!(server_url(Some("http://h:1/".into()), Some(" t ".into())), "http://h:1/run/t");
        assert_eq!(server_url(Some("http://h:1".into()), Some("".into())), "http://h:1");
    }
}
