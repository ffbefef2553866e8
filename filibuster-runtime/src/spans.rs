//! The `tracing` spans of instrumented handlers and calls: a server span
//! per request to an instrumented handler (or [`ServiceLayer`](crate::ServiceLayer)),
//! a client span per instrumented `.send()`, named and attributed after
//! OpenTelemetry's HTTP semantic conventions, whether Filibuster is on or
//! off.
//!
//! Both are at level [`LEVEL`] (INFO) with target [`TARGET`]
//! (`filibuster::http`), so that a subscriber can take or leave them:
//! `RUST_LOG=filibuster::http=off`, or `filibuster::http=info`. Their
//! `tracing` names are [`SERVER_SPAN`] and [`CLIENT_SPAN`]; the names
//! OpenTelemetry gives them (`GET /users/{name}/bookings`, `GET`) are their
//! `otel.name` field, which `tracing-opentelemetry` uses.
//!
//! With no subscriber interested, a span costs a load of the max level
//! `tracing` keeps (and, past it, the callsite's cached interest): no name
//! is formatted and nothing is allocated.
//!
//! The fields of a span are fixed by its callsite, so the callsites are made
//! here at run time, once per [`Capture`] (the captured headers are fields
//! of their own): kept for the life of the process and registered with
//! `tracing` as the macros' are.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{OnceLock, RwLock};

use http::{Extensions, HeaderMap, HeaderName, Method, Uri};
use tracing::field::Value;
use tracing::{Level, Metadata, Span};
use tracing_core::callsite::{Callsite as TracingCallsite, Identifier};
use tracing_core::field::FieldSet;
use tracing_core::metadata::Kind;
use tracing_core::subscriber::Interest;

use crate::callsite::Callsite;
use crate::capture::Capture;

/// The target of the spans and of their events.
pub const TARGET: &str = "filibuster::http";
/// The level of the spans and of their events.
pub const LEVEL: Level = Level::INFO;
/// The `tracing` name of the server span of a request (its OpenTelemetry
/// name, `<METHOD> <route>`, is its field `otel.name`).
pub const SERVER_SPAN: &str = "http.server";
/// The `tracing` name of the client span of a call (its OpenTelemetry name,
/// the method, is its field `otel.name`).
pub const CLIENT_SPAN: &str = "http.client";
/// The message of the event an injected fault adds to its client span; its
/// field `filibuster.fault` names the fault (`connection_error`, `timeout`,
/// `status 503`, `latency 100ms`).
pub const FAULT_EVENT: &str = "filibuster.fault";

/// The fields of every server span, in the order of its callsite.
const SERVER_FIELDS: [&str; 13] = [
    "otel.name",
    "otel.kind",
    "otel.status_code",
    "http.request.method",
    "http.route",
    "url.path",
    "url.scheme",
    "server.address",
    "server.port",
    "http.response.status_code",
    "error.type",
    "filibuster.service",
    "filibuster.execution_index",
];

/// The fields of every client span, in the order of its callsite.
const CLIENT_FIELDS: [&str; 16] = [
    "otel.name",
    "otel.kind",
    "otel.status_code",
    "http.request.method",
    "url.full",
    "server.address",
    "server.port",
    "http.response.status_code",
    "error.type",
    "filibuster.execution_index",
    "filibuster.callsite.id",
    "filibuster.callsite.file",
    "filibuster.callsite.line",
    "filibuster.callsite.fn",
    "filibuster.fault",
    "http.request.resend_count",
];

/// The capture in force, and the callsites of the spans it makes.
#[derive(Debug)]
struct Shape {
    capture: Capture,
    callsites: &'static Callsites,
}

/// The span callsites for one set of captured fields: they depend on the
/// captured headers' names and on whether bodies are captured, not on the
/// rest of a [`Capture`].
#[derive(Debug)]
struct Callsites {
    server: &'static SpanCallsite,
    client: &'static SpanCallsite,
    /// `http.request.header.<name>` of each captured request header, in the
    /// order of [`Capture::request_header_names`].
    request_fields: Vec<&'static str>,
    /// `http.response.header.<name>` of each captured response header.
    response_fields: Vec<&'static str>,
    /// Whether the client callsite has the body fields.
    bodies: bool,
}

/// The shape in force: `None` until the first span or install.
static SHAPE: RwLock<Option<&'static Shape>> = RwLock::new(None);

fn shape() -> &'static Shape {
    if let Some(shape) = *SHAPE.read().unwrap_or_else(|e| e.into_inner()) {
        return shape;
    }
    let mut slot = SHAPE.write().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| Shape::of(Capture::from_env()))
}

/// Makes `capture` the capture of the spans made from now on.
pub(crate) fn install(capture: Capture) {
    let shape = Shape::of(capture);
    *SHAPE.write().unwrap_or_else(|e| e.into_inner()) = Some(shape);
}

/// The capture in force.
pub(crate) fn capture() -> &'static Capture {
    &shape().capture
}

impl Shape {
    /// The shape of `capture`: the one made for an equal capture before, or
    /// a new one. Shapes and span callsites live as long as the process, so
    /// that installing the same capture again (in a loop, or once per test)
    /// makes nothing new: what is kept grows with the distinct captures
    /// installed, not with the installs, and the callsites with the distinct
    /// sets of captured fields.
    fn of(capture: Capture) -> &'static Self {
        static MADE: std::sync::Mutex<Vec<&'static Shape>> = std::sync::Mutex::new(Vec::new());
        let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shape) = made.iter().find(|shape| shape.capture == capture) {
            return shape;
        }
        let shape: &'static Shape =
            Box::leak(Box::new(Shape { callsites: Callsites::of(&capture), capture }));
        made.push(shape);
        shape
    }

    /// Records the captured headers of `headers` into `span`: `fields` are
    /// their field names, in the order of `names`.
    fn record_headers(
        &self,
        span: &Span,
        fields: &[&'static str],
        names: &[HeaderName],
        headers: &HeaderMap,
    ) {
        for (field, name) in fields.iter().zip(names) {
            if let Some(value) = self.capture.header_value(name, headers) {
                span.record(*field, value.as_ref());
            }
        }
    }

    fn record_request_headers(&self, span: &Span, headers: &HeaderMap) {
        self.record_headers(
            span,
            &self.callsites.request_fields,
            self.capture.request_header_names(),
            headers,
        );
    }

    fn record_response_headers(&self, span: &Span, headers: &HeaderMap) {
        self.record_headers(
            span,
            &self.callsites.response_fields,
            self.capture.response_header_names(),
            headers,
        );
    }
}

impl Callsites {
    /// The callsites for the fields `capture` records: made for the same
    /// fields before, or new.
    fn of(capture: &Capture) -> &'static Self {
        static MADE: std::sync::Mutex<Vec<&'static Callsites>> = std::sync::Mutex::new(Vec::new());
        let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
        let same = |callsites: &&&'static Callsites| {
            callsites.bodies == capture.captures_bodies()
                && fields_are(
                    &callsites.request_fields,
                    "http.request.header.",
                    capture.request_header_names(),
                )
                && fields_are(
                    &callsites.response_fields,
                    "http.response.header.",
                    capture.response_header_names(),
                )
        };
        if let Some(callsites) = made.iter().find(same) {
            return callsites;
        }
        let callsites = Self::leak(capture);
        made.push(callsites);
        callsites
    }

    /// The callsites for `capture`, made, leaked and registered.
    fn leak(capture: &Capture) -> &'static Self {
        let field = |prefix: &str, name: &HeaderName| &*String::leak(format!("{prefix}{}", name.as_str()));
        let request_fields: Vec<&'static str> =
            capture.request_header_names().iter().map(|n| field("http.request.header.", n)).collect();
        let response_fields: Vec<&'static str> =
            capture.response_header_names().iter().map(|n| field("http.response.header.", n)).collect();
        let headers = || request_fields.iter().chain(&response_fields).copied();
        let server = SERVER_FIELDS.into_iter().chain(headers()).collect();
        let bodies = capture.captures_bodies();
        let body_fields: &[&'static str] =
            if bodies { &["http.request.body", "http.response.body"] } else { &[] };
        let client = CLIENT_FIELDS.into_iter().chain(headers()).chain(body_fields.iter().copied()).collect();
        Box::leak(Box::new(Callsites {
            server: SpanCallsite::leak(SERVER_SPAN, server),
            client: SpanCallsite::leak(CLIENT_SPAN, client),
            request_fields,
            response_fields,
            bodies,
        }))
    }
}

/// Whether `fields` are the field names of the headers `names`, `prefix`ed.
fn fields_are(fields: &[&str], prefix: &str, names: &[HeaderName]) -> bool {
    fields.len() == names.len()
        && fields.iter().zip(names).all(|(field, name)| field.strip_prefix(prefix) == Some(name.as_str()))
}

/// A span callsite made at run time: its metadata, set once right after it
/// is leaked, and the interest `tracing` gives it.
#[derive(Debug)]
struct SpanCallsite {
    metadata: OnceLock<Metadata<'static>>,
    interest: AtomicU8,
}

const NEVER: u8 = 0;
const SOMETIMES: u8 = 1;
const ALWAYS: u8 = 2;

impl SpanCallsite {
    /// A callsite of spans named `name` with `fields`, registered.
    fn leak(name: &'static str, fields: Vec<&'static str>) -> &'static Self {
        let fields: &'static [&'static str] = fields.leak();
        let callsite: &'static Self =
            Box::leak(Box::new(Self { metadata: OnceLock::new(), interest: AtomicU8::new(SOMETIMES) }));
        let metadata = Metadata::new(
            name,
            TARGET,
            LEVEL,
            Some(file!()),
            Some(line!()),
            Some(module_path!()),
            FieldSet::new(fields, Identifier(callsite)),
            Kind::SPAN,
        );
        let _ = callsite.metadata.set(metadata);
        tracing_core::callsite::register(callsite);
        callsite
    }

    /// Whether the subscriber of this thread wants its spans, as the
    /// `span!` macro asks: the cached interest, then the subscriber when it
    /// is "sometimes".
    fn enabled(&'static self) -> bool {
        match self.interest.load(Ordering::Relaxed) {
            NEVER => false,
            ALWAYS => true,
            _ => tracing::dispatcher::get_default(|dispatch| dispatch.enabled(self.metadata())),
        }
    }

    /// A new span of this callsite with `values` (one per field, `None`
    /// for the fields recorded later), if this thread's subscriber wants it.
    fn span(&'static self, values: &[Option<&dyn Value>]) -> Span {
        let metadata = self.metadata();
        Span::new(metadata, &metadata.fields().value_set_all(values))
    }
}

impl TracingCallsite for SpanCallsite {
    fn set_interest(&self, interest: Interest) {
        let interest = if interest.is_never() {
            NEVER
        } else if interest.is_always() {
            ALWAYS
        } else {
            SOMETIMES
        };
        self.interest.store(interest, Ordering::Relaxed);
    }

    fn metadata(&self) -> &Metadata<'_> {
        self.metadata.get().unwrap_or(&PLACEHOLDER_METADATA)
    }
}

/// The metadata of a callsite not yet set up (never seen: the metadata is
/// set before the callsite is registered).
struct Placeholder;

static PLACEHOLDER: Placeholder = Placeholder;
static PLACEHOLDER_METADATA: Metadata<'static> = Metadata::new(
    "filibuster placeholder",
    TARGET,
    Level::TRACE,
    None,
    None,
    None,
    FieldSet::new(&[], Identifier(&PLACEHOLDER)),
    Kind::SPAN,
);

impl TracingCallsite for Placeholder {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        &PLACEHOLDER_METADATA
    }
}

/// Whether a subscriber may want the spans at all: a load of `tracing`'s
/// max level. The cheap check in front of everything else here.
#[inline]
fn level_enabled() -> bool {
    tracing::level_enabled!(LEVEL)
}

/// Whether this thread's subscriber wants server spans.
#[inline]
pub(crate) fn server_wanted() -> bool {
    level_enabled() && shape().callsites.server.enabled()
}

/// Whether this thread's subscriber wants client spans.
#[inline]
pub(crate) fn client_wanted() -> bool {
    level_enabled() && shape().callsites.client.enabled()
}

/// The server span of a request with this head, or a disabled span when no
/// subscriber wants it. The route is axum's [`MatchedPath`](axum::extract::MatchedPath),
/// when routing found one.
pub(crate) fn server(method: &Method, uri: &Uri, headers: &HeaderMap, extensions: &Extensions) -> Span {
    if !level_enabled() {
        return Span::none();
    }
    if is_grpc(headers) {
        return rpc_server(uri.path(), headers);
    }
    let shape = shape();
    if !shape.callsites.server.enabled() {
        return Span::none();
    }
    let route = extensions.get::<axum::extract::MatchedPath>().map(|path| path.as_str());
    let method = method.as_str();
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let authority = headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(|authority| authority.as_str()));
    let (host, port) = split_authority(authority);
    let scheme = uri.scheme_str().unwrap_or("http");
    let path = uri.path();
    let (name, kind) = (name.as_str(), "server");
    let mut values: [Option<&dyn Value>; SERVER_FIELDS.len()] = [None; SERVER_FIELDS.len()];
    values[0] = Some(&name);
    values[1] = Some(&kind);
    values[3] = Some(&method);
    values[4] = route.as_ref().map(|route| route as &dyn Value);
    values[5] = Some(&path);
    values[6] = Some(&scheme);
    values[7] = host.as_ref().map(|host| host as &dyn Value);
    values[8] = port.as_ref().map(|port| port as &dyn Value);
    let span = shape.callsites.server.span(&with_capture_fields(&values, shape.callsites.server));
    #[cfg(feature = "otel")]
    crate::otel::extract(&span, headers);
    shape.record_request_headers(&span, headers);
    span
}

/// `values`, then `None` for each field of `callsite` past them (the
/// captured headers and bodies, recorded later): `values` itself, not a
/// copy, when nothing is captured.
fn with_capture_fields<'v, 'a>(
    values: &'v [Option<&'a dyn Value>],
    callsite: &'static SpanCallsite,
) -> std::borrow::Cow<'v, [Option<&'a dyn Value>]> {
    let fields = callsite.metadata().fields().len();
    if fields == values.len() {
        return std::borrow::Cow::Borrowed(values);
    }
    let mut all = values.to_vec();
    all.resize(fields, None);
    std::borrow::Cow::Owned(all)
}

/// The host and port of an authority (`host:port`, `[v6]:port`, `host`).
fn split_authority(authority: Option<&str>) -> (Option<&str>, Option<u16>) {
    let Some(authority) = authority else { return (None, None) };
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => match port.parse() {
            Ok(port) => (Some(host.trim_start_matches('[').trim_end_matches(']')), Some(port)),
            Err(_) => (Some(authority), None),
        },
        _ => (Some(authority.trim_start_matches('[').trim_end_matches(']')), None),
    }
}

/// Writes the trace context of a client span into the headers of its call
/// (feature `otel`; without it, nothing).
#[inline]
pub(crate) fn propagate(span: &Span, headers: &mut HeaderMap) {
    #[cfg(feature = "otel")]
    crate::otel::inject(span, headers);
    #[cfg(not(feature = "otel"))]
    let _ = (span, headers);
}

/// Records the service a server span's request is for.
pub(crate) fn record_service(span: &Span, service: &str) {
    span.record("filibuster.service", service);
}

/// Records, on the client span of a resent request (a retry of a
/// reqwest-middleware client), how many times it was sent before.
#[cfg(feature = "reqwest-middleware")]
pub(crate) fn record_resend_count(span: &Span, resends: u32) {
    span.record("http.request.resend_count", resends);
}

/// Records the execution index of a request or call.
pub(crate) fn record_execution_index(span: &Span, execution_index: &str) {
    span.record("filibuster.execution_index", execution_index);
}

/// Records the response a server span's request got: its status (a 5xx is
/// an error) and captured headers.
pub(crate) fn server_response(span: &Span, status: http::StatusCode, headers: &HeaderMap) {
    if span.is_disabled() {
        return;
    }
    if span.metadata().is_some_and(|metadata| metadata.name() == RPC_SERVER_SPAN) {
        return rpc_server_response(span, status, headers);
    }
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("error.type", status.as_str());
        span.record("otel.status_code", "ERROR");
    }
    shape().record_response_headers(span, headers);
}

/// Records that a server span's request got no response: the service
/// failed.
pub(crate) fn server_failed(span: &Span) {
    span.record("error.type", "_OTHER");
    span.record("otel.status_code", "ERROR");
}

/// What the client span of an HTTP call shows of its request, whatever
/// the client (each reqwest version, reqwest-middleware) that sends it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientRequest<'a> {
    /// The method, upper case.
    pub(crate) method: &'a str,
    pub(crate) url: &'a url::Url,
    pub(crate) headers: &'a HeaderMap,
    /// The body, when it is in memory.
    pub(crate) body: Option<&'a [u8]>,
}

/// The client span of a call from `callsite` sending `request`, or a
/// disabled span when no subscriber wants it. Captures the request's
/// headers, and its body when it is in memory.
pub(crate) fn client(request: ClientRequest<'_>, callsite: &'static Callsite) -> Span {
    if !level_enabled() {
        return Span::none();
    }
    let shape = shape();
    if !shape.callsites.client.enabled() {
        return Span::none();
    }
    let method = request.method;
    let url = request.url;
    let full = without_credentials(url);
    let full = full.as_str();
    let host = url.host_str();
    let port = url.port_or_known_default();
    let kind = "client";
    let mut values: [Option<&dyn Value>; CLIENT_FIELDS.len()] = [None; CLIENT_FIELDS.len()];
    values[0] = Some(&method);
    values[1] = Some(&kind);
    values[3] = Some(&method);
    values[4] = Some(&full);
    values[5] = host.as_ref().map(|host| host as &dyn Value);
    values[6] = port.as_ref().map(|port| port as &dyn Value);
    values[10] = Some(&callsite.id);
    values[11] = Some(&callsite.file);
    values[12] = Some(&callsite.line);
    values[13] = Some(&callsite.function);
    let span = shape.callsites.client.span(&with_capture_fields(&values, shape.callsites.client));
    if !span.is_disabled() {
        shape.record_request_headers(&span, request.headers);
        let content_type = request.headers.get(http::header::CONTENT_TYPE);
        if let Some(text) = request.body.and_then(|body| shape.capture.body_text(content_type, body)) {
            span.record("http.request.body", text.as_ref());
        }
    }
    span
}

/// `url` as `url.full` shows it: without user name and password.
fn without_credentials(url: &url::Url) -> Cow<'_, url::Url> {
    if url.username().is_empty() && url.password().is_none() {
        return Cow::Borrowed(url);
    }
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Cow::Owned(url)
}

/// Records how a call ended: the response (its status: a 4xx or 5xx is an
/// error; its captured headers), or the error, as its `error.type`
/// (`timeout`, `connect`, ... or `_OTHER`), which the client's adapter
/// names.
pub(crate) fn client_end(span: &Span, result: Result<(http::StatusCode, &HeaderMap), &'static str>) {
    if span.is_disabled() {
        return;
    }
    match result {
        Ok((status, headers)) => {
            span.record("http.response.status_code", status.as_u16());
            if status.is_client_error() || status.is_server_error() {
                span.record("error.type", status.as_str());
                span.record("otel.status_code", "ERROR");
            }
            shape().record_response_headers(span, headers);
        }
        Err(error_type) => {
            span.record("error.type", error_type);
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// Records the body of a call's response, read by the instrumentation
/// anyway, when bodies are captured.
pub(crate) fn client_response_body(span: &Span, headers: &HeaderMap, body: &[u8]) {
    if span.is_disabled() {
        return;
    }
    let content_type = headers.get(http::header::CONTENT_TYPE);
    if let Some(text) = shape().capture.body_text(content_type, body) {
        span.record("http.response.body", text.as_ref());
    }
}

/// The target of the spans of dependency calls (`#[filibuster::dependency]`).
pub const DEPENDENCY_TARGET: &str = "filibuster::dependency";
/// The `tracing` name of the client span of a dependency call (its
/// OpenTelemetry name, `<operation> <dependency>`, is its field
/// `otel.name`).
pub const DEPENDENCY_SPAN: &str = "dependency.client";

/// Whether a subscriber wants the spans of dependency calls.
pub(crate) fn dependency_wanted() -> bool {
    tracing::enabled!(target: DEPENDENCY_TARGET, Level::INFO)
}

/// The client span of a dependency call from `callsite`: `operation` on
/// `dependency`, after OpenTelemetry's database conventions (`db.system`,
/// `db.operation.name`).
pub(crate) fn dependency(dependency: &str, operation: &str, callsite: &'static Callsite) -> Span {
    tracing::info_span!(
        target: DEPENDENCY_TARGET,
        DEPENDENCY_SPAN,
        otel.name = %format_args!("{operation} {dependency}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system = dependency,
        db.operation.name = operation,
        error.type = tracing::field::Empty,
        filibuster.execution_index = tracing::field::Empty,
        filibuster.callsite.id = callsite.id,
        filibuster.callsite.file = callsite.file,
        filibuster.callsite.line = callsite.line,
        filibuster.callsite.fn = callsite.function,
        filibuster.fault = tracing::field::Empty,
    )
}

/// Records how a dependency call ended: its error's fault name as its
/// `error.type` (`_OTHER` for another error), or nothing for `Ok`.
pub(crate) fn dependency_end(span: &Span, error_type: Option<&str>) {
    if let Some(error_type) = error_type {
        span.record("error.type", error_type);
        span.record("otel.status_code", "ERROR");
    }
}

/// The target of the spans of gRPC calls ([`grpc`](crate::grpc)).
pub const GRPC_TARGET: &str = "filibuster::grpc";
/// The `tracing` name of the client span of an RPC (its OpenTelemetry name,
/// `<service>/<method>`, is its field `otel.name`).
pub const RPC_CLIENT_SPAN: &str = "rpc.client";

/// The `tracing` name of the server span of an RPC (its OpenTelemetry
/// name, `<service>/<method>`, is its field `otel.name`).
pub const RPC_SERVER_SPAN: &str = "rpc.server";

/// Whether a request with `headers` is an RPC: its content type is gRPC's
/// (`application/grpc`, `application/grpc+proto`, ...).
fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == "application/grpc" || value.starts_with("application/grpc+"))
}

/// The server span of an RPC to `path` (`/cinema.Movies/GetMovie`), after
/// OpenTelemetry's RPC conventions, or a disabled span when no subscriber
/// wants the spans of RPCs.
fn rpc_server(path: &str, headers: &HeaderMap) -> Span {
    if !rpc_wanted() {
        return Span::none();
    }
    let (service, method) = crate::grpc::split_path(path);
    let span = tracing::info_span!(
        target: GRPC_TARGET,
        RPC_SERVER_SPAN,
        otel.name = %format_args!("{service}/{method}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        filibuster.service = tracing::field::Empty,
        filibuster.execution_index = tracing::field::Empty,
    );
    #[cfg(feature = "otel")]
    crate::otel::extract(&span, headers);
    #[cfg(not(feature = "otel"))]
    let _ = headers;
    span
}

/// Records the status of an RPC's answer on its server span: the
/// `grpc-status` of a trailers-only answer (an error a handler returned),
/// else OK, the status of an answer whose messages came (its trailers are
/// sent after the span ends). A status whose code is a server's fault
/// (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
/// DATA_LOSS) is an error, as OpenTelemetry's conventions have it.
fn rpc_server_response(span: &Span, status: http::StatusCode, headers: &HeaderMap) {
    let code = match headers.get("grpc-status").and_then(|value| value.to_str().ok()) {
        // As tonic reads it: a code it does not know is UNKNOWN.
        Some(code) => code
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|code| crate::grpc::code::name(*code).is_some())
            .unwrap_or(2),
        None if status == http::StatusCode::OK => 0,
        // No gRPC status: what tonic reads from the HTTP one, UNKNOWN here.
        None => 2,
    };
    span.record("rpc.grpc.status_code", code);
    if matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
        span.record("error.type", crate::grpc::code::name(code).unwrap_or("_OTHER"));
        span.record("otel.status_code", "ERROR");
    }
}

/// Whether a subscriber wants the spans of RPCs.
#[inline]
pub(crate) fn rpc_wanted() -> bool {
    level_enabled() && tracing::enabled!(target: GRPC_TARGET, Level::INFO)
}

/// The client span of an RPC of `method` on `service` from `callsite`, after
/// OpenTelemetry's RPC conventions (`rpc.system`, `rpc.service`,
/// `rpc.method`, `rpc.grpc.status_code`).
#[cfg(feature = "tonic")]
pub(crate) fn rpc_client(service: &str, method: &str, callsite: &'static Callsite) -> Span {
    tracing::info_span!(
        target: GRPC_TARGET,
        RPC_CLIENT_SPAN,
        otel.name = %format_args!("{service}/{method}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        filibuster.execution_index = tracing::field::Empty,
        filibuster.callsite.id = callsite.id,
        filibuster.callsite.file = callsite.file,
        filibuster.callsite.line = callsite.line,
        filibuster.callsite.fn = callsite.function,
        filibuster.fault = tracing::field::Empty,
    )
}

/// Records how an RPC ended: its status code, and the code's name as its
/// `error.type` when it failed.
#[cfg(feature = "tonic")]
pub(crate) fn rpc_end(span: &Span, code: i32, error_type: Option<&str>) {
    span.record("rpc.grpc.status_code", code);
    if let Some(error_type) = error_type {
        span.record("error.type", error_type);
        span.record("otel.status_code", "ERROR");
    }
}

/// Notes on a call's span the fault injected into it: the field
/// `filibuster.fault`, and an event [`FAULT_EVENT`] with the same field.
pub(crate) fn fault(span: &Span, fault: &str) {
    if span.is_disabled() {
        return;
    }
    span.record("filibuster.fault", fault);
    tracing::event!(target: TARGET, parent: span, Level::INFO, { filibuster.fault = fault }, "filibuster.fault");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_a_capture_again_makes_no_new_callsites() {
        let capture = || Capture::new().request_headers(["x-shape-test"]).bodies(true);
        let first = Shape::of(capture());
        assert!(std::ptr::eq(first, Shape::of(capture())), "the same capture, the same callsites");
        let other = Shape::of(capture().max_body_bytes(7));
        assert!(!std::ptr::eq(first, other), "another capture, its own shape");
        assert!(std::ptr::eq(other, Shape::of(capture().max_body_bytes(7))));
        assert!(std::ptr::eq(first.callsites, other.callsites), "the same fields, the same callsites");
        let more = Shape::of(capture().response_headers(["x-shape-test"]));
        assert!(!std::ptr::eq(first.callsites, more.callsites), "other fields, other callsites");
        let no_bodies = Shape::of(capture().bodies(false));
        assert!(!std::ptr::eq(first.callsites, no_bodies.callsites), "no body fields, other callsites");
    }

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(split_authority(Some("users:5001")), (Some("users"), Some(5001)));
        assert_eq!(split_authority(Some("users")), (Some("users"), None));
        assert_eq!(split_authority(Some("[::1]:80")), (Some("::1"), Some(80)));
        assert_eq!(split_authority(Some("[::1]")), (Some("::1"), None));
        assert_eq!(split_authority(None), (None, None));
    }
}
