//! The `tracing` spans of instrumented handlers and calls, on real axum
//! services and reqwest clients, recorded by a `tracing_subscriber` layer:
//!
//! - a request to an instrumented handler that makes an instrumented call
//!   gives a server span named after its route, with the OpenTelemetry HTTP
//!   attributes and the service's name, and a client span, its child, with
//!   the call's URL, status and callsite; a `ServiceLayer` gives the callee
//!   a server span with the response's status;
//! - under the explorer, each injected fault is a `filibuster.fault` event on
//!   its client span, which records `error.type` and `otel.status_code`;
//! - the spans exist with Filibuster off too, for reqwest-middleware
//!   clients as well;
//! - capture: allowed headers are recorded, `authorization` redacted, bodies
//!   cut at the configured size, from a builder or from the environment;
//!   nothing is captured by default.
//!
//! The switch and the capture are process-wide, so the tests that need them
//! off, or a capture installed, run alone in a child process.

#[path = "support/grpc_cinema.rs"]
mod grpc_cinema_support;
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use filibuster::{Capture, Explorer, ServiceLayer};
use support::{run_child, serve};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

// ----- a subscriber layer that records the spans -------------------------------

/// One recorded span of target `filibuster::http`, `filibuster::dependency`
/// or `filibuster::grpc`.
#[derive(Clone, Debug, Default)]
struct Recorded {
    name: String,
    fields: BTreeMap<String, String>,
    /// The index of the nearest recorded ancestor.
    parent: Option<usize>,
    /// The fields of each event in the span.
    events: Vec<BTreeMap<String, String>>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Records the spans of `filibuster::http`, `filibuster::dependency` and
/// `filibuster::grpc`, and their events.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Recorded>>>);

/// The index of a recorded span, in its extensions.
struct Index(usize);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let target = attrs.metadata().target();
        if ![filibuster::spans::TARGET, filibuster::spans::DEPENDENCY_TARGET, filibuster::spans::GRPC_TARGET]
            .contains(&target)
        {
            return;
        }
        let span = ctx.span(id).expect("a new span");
        let parent = span.scope().skip(1).find_map(|s| s.extensions().get::<Index>().map(|i| i.0));
        let mut recorded =
            Recorded { name: attrs.metadata().name().to_owned(), parent, ..Recorded::default() };
        attrs.record(&mut Fields(&mut recorded.fields));
        let mut spans = self.0.lock().unwrap();
        span.extensions_mut().insert(Index(spans.len()));
        spans.push(recorded);
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(&Index(index)) = span.extensions().get::<Index>() else { return };
        values.record(&mut Fields(&mut self.0.lock().unwrap()[index].fields));
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if ![filibuster::spans::TARGET, filibuster::spans::GRPC_TARGET].contains(&event.metadata().target()) {
            return;
        }
        let Some(span) = ctx.event_span(event) else { return };
        let Some(&Index(index)) = span.extensions().get::<Index>() else { return };
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap()[index].events.push(fields);
    }
}

impl Spans {
    /// Sets a registry with this layer as the test's subscriber.
    fn install(&self) -> support::ScopedSubscriber {
        support::set_default(tracing_subscriber::registry().with(self.clone()))
    }

    fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    /// The spans whose `otel.name` is `name`.
    fn named(&self, name: &str) -> Vec<(usize, Recorded)> {
        self.all().into_iter().enumerate().filter(|(_, s)| s.field("otel.name") == Some(name)).collect()
    }

    /// The client spans, with their index.
    fn clients(&self) -> Vec<(usize, Recorded)> {
        self.all().into_iter().enumerate().filter(|(_, s)| s.name == filibuster::spans::CLIENT_SPAN).collect()
    }
}

// ----- the app: users -> bookings ------------------------------------------

#[derive(Clone)]
struct Users {
    http: reqwest::Client,
    bookings: String,
}

#[filibuster::call]
async fn get_bookings(users: &Users, name: &str) -> reqwest::Result<reqwest::Response> {
    users
        .http
        .get(format!("{}/bookings/{name}", users.bookings))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

#[filibuster::call]
async fn post_note(users: &Users, note: String) -> reqwest::Result<reqwest::Response> {
    users
        .http
        .post(format!("{}/notes", users.bookings))
        .header("x-user", "chris")
        .header("authorization", "Bearer s3cret")
        .header("content-type", "application/json")
        .body(note)
        .send()
        .await
}

#[filibuster::call]
async fn via_middleware(
    http: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
) -> reqwest_middleware::Result<reqwest::Response> {
    http.get(url).send().await
}

/// users' handler for GET /users/{name}/bookings: 200 with bookings' body,
/// 503 when the call failed.
#[filibuster::handler(service = "users")]
async fn user_bookings(State(users): State<Users>, Path(name): Path<String>) -> (StatusCode, String) {
    match get_bookings(&users, &name).await {
        Ok(response) if response.status() == StatusCode::OK => {
            (StatusCode::OK, response.text().await.unwrap())
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, "bookings failed".into()),
    }
}

/// The note users posts to bookings: 40 bytes of JSON.
const NOTE: &str = r#"{"note": "a note of exactly forty bytes"}"#;
/// What bookings answers a note with: 40 bytes of JSON.
const NOTED: &str = r#"{"noted": "an answer of forty bytes ..."}"#;

#[filibuster::handler(service = "users")]
async fn user_note(State(users): State<Users>) -> StatusCode {
    match post_note(&users, NOTE.to_owned()).await {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn bookings_of(Path(name): Path<String>) -> String {
    format!("[\"bookings of {name}\"]")
}

async fn take_note(headers: HeaderMap) -> ([(&'static str, &'static str); 2], &'static str) {
    assert_eq!(headers["authorization"], "Bearer s3cret", "the header itself is sent as it is");
    // No OpenTelemetry layer in these tests' subscribers: the spans have no
    // context, and no `traceparent` is sent (even with the `otel` feature).
    assert!(headers.get("traceparent").is_none(), "{headers:?}");
    ([("x-served-by", "bookings"), ("content-type", "application/json")], NOTED)
}

/// Starts bookings (a `ServiceLayer`) and users (attributes), layered with
/// `explorer`'s connection when given; returns users' base URL.
async fn start(explorer: Option<&Explorer>) -> String {
    let mut bookings = Router::new()
        .route("/bookings/{name}", get(bookings_of))
        .route("/notes", post(take_note))
        .layer(ServiceLayer::new("bookings"));
    if let Some(explorer) = explorer {
        bookings = bookings.layer(explorer.connection().layer());
    }
    let users_state = Users { http: reqwest::Client::new(), bookings: serve(bookings).await };
    let mut users = Router::new()
        .route("/users/{name}/bookings", get(user_bookings))
        .route("/users/{name}/notes", post(user_note))
        .with_state(users_state);
    if let Some(explorer) = explorer {
        users = users.layer(explorer.connection().layer());
    }
    serve(users).await
}

/// The port of a base URL `http://127.0.0.1:PORT`.
fn port(url: &str) -> String {
    url.rsplit(':').next().unwrap().to_owned()
}

// ----- the tests -------------------------------------------------------------

/// A request through users' handler and its call to bookings, Filibuster
/// off: users' server span, its client span (a child), bookings' server
/// span, with their attributes.
#[tokio::test]
async fn spans_exist_with_filibuster_off() {
    run_child("spans_exist_with_filibuster_off_child", &[], &["FILIBUSTER_ENABLED"]);
}

#[tokio::test]
#[ignore = "run in a child process by its parent test (support::run_child)"]
async fn spans_exist_with_filibuster_off_child() {
    assert!(!filibuster::enabled());
    let spans = Spans::default();
    let _guard = spans.install();
    let users = start(None).await;
    let answer = reqwest::get(format!("{users}/users/chris/bookings")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    let server = spans.named("GET /users/{name}/bookings");
    assert_eq!(server.len(), 1, "{:#?}", spans.all());
    let (server_index, server) = &server[0];
    assert_eq!(server.name, filibuster::spans::SERVER_SPAN);
    for (field, value) in [
        ("otel.kind", "server"),
        ("http.request.method", "GET"),
        ("http.route", "/users/{name}/bookings"),
        ("url.path", "/users/chris/bookings"),
        ("url.scheme", "http"),
        ("server.address", "127.0.0.1"),
        ("server.port", &port(&users)),
        ("filibuster.service", "users"),
    ] {
        assert_eq!(server.field(field), Some(value), "{field}: {server:#?}");
    }
    assert_eq!(server.field("filibuster.execution_index"), None, "off: no execution index");
    assert_eq!(server.field("otel.status_code"), None);

    let clients = spans.clients();
    assert_eq!(clients.len(), 1, "{:#?}", spans.all());
    let (client_index, client) = &clients[0];
    assert_eq!(client.parent, Some(*server_index), "the client span is the server span's child");
    let bookings = &spans.named("GET /bookings/{name}")[0];
    let bookings_url = format!("http://127.0.0.1:{}", bookings.1.field("server.port").unwrap());
    for (field, value) in [
        ("otel.name", "GET"),
        ("otel.kind", "client"),
        ("http.request.method", "GET"),
        ("url.full", &format!("{bookings_url}/bookings/chris")),
        ("server.address", "127.0.0.1"),
        ("server.port", &port(&bookings_url)),
        ("http.response.status_code", "200"),
        ("filibuster.callsite.fn", "get_bookings"),
        ("filibuster.callsite.file", "tests/test_spans.rs"),
    ] {
        assert_eq!(client.field(field), Some(value), "{field}: {client:#?}");
    }
    assert_eq!(client.field("filibuster.callsite.id").map(str::len), Some(32));
    assert!(client.field("filibuster.callsite.line").unwrap().parse::<u32>().unwrap() > 0);
    for absent in ["error.type", "otel.status_code", "filibuster.fault", "filibuster.execution_index"] {
        assert_eq!(client.field(absent), None, "{absent}: {client:#?}");
    }
    assert!(client.events.is_empty());

    // bookings' layer: a server span of its own, with the response's status.
    let (bookings_index, bookings) = bookings;
    assert_ne!(bookings_index, client_index);
    for (field, value) in [
        ("otel.kind", "server"),
        ("http.route", "/bookings/{name}"),
        ("filibuster.service", "bookings"),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(bookings.field(field), Some(value), "{field}: {bookings:#?}");
    }
    // A reqwest-middleware `.send()`: a client span too.
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(filibuster::middleware::Instrument)
        .build();
    let response = via_middleware(&http, &format!("{bookings_url}/bookings/ann")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let clients = spans.clients();
    assert_eq!(clients.len(), 2, "{clients:#?}");
    let (_, middleware) = &clients[1];
    for (field, value) in [
        ("otel.name", "GET"),
        ("url.full", &format!("{bookings_url}/bookings/ann")),
        ("http.response.status_code", "200"),
        ("filibuster.callsite.fn", "via_middleware"),
    ] {
        assert_eq!(middleware.field(field), Some(value), "{field}: {middleware:#?}");
    }
    assert_eq!(middleware.parent, None, "called outside any request");

    // Nothing captured by default.
    for span in spans.all() {
        assert!(
            span.fields.keys().all(|k| !k.starts_with("http.request.header")
                && !k.starts_with("http.response.header")
                && !k.ends_with(".body")),
            "{span:#?}"
        );
    }
}

/// With the `otel` feature on (as in these tests), a subscriber that takes
/// the spans but has no OpenTelemetry layer means no `traceparent` is sent:
/// said once per process, however many calls, as a warning where a
/// collector is named (`test_otel` has the other case).
#[tokio::test]
async fn otel_without_an_opentelemetry_layer_is_said_once() {
    run_child(
        "otel_without_an_opentelemetry_layer_is_said_once_child",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")],
        &["FILIBUSTER_ENABLED"],
    );
}

#[tokio::test]
#[ignore = "run in a child process by its parent test (support::run_child)"]
async fn otel_without_an_opentelemetry_layer_is_said_once_child() {
    let spans = Spans::default();
    let logs = support::Logs::of_target("filibuster_runtime::otel");
    let _guard = support::set_default(tracing_subscriber::registry().with(spans.clone()).with(logs.clone()));
    let users = start(None).await;
    for _ in 0..3 {
        let answer = reqwest::get(format!("{users}/users/chris/bookings")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    assert_eq!(spans.clients().len(), 3, "{:#?}", spans.all());
    let warnings = logs.of(tracing::Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("no `traceparent` is sent"), "{}", warnings[0]);
    assert!(warnings[0].contains("tracing_opentelemetry"), "{}", warnings[0]);
}

/// users -> bookings under the explorer (the default fault model): every
/// injected fault is a `filibuster.fault` event on its client span, which
/// records the error as OpenTelemetry does; the spans carry the execution
/// indices.
#[tokio::test]
async fn injected_faults_show_on_client_spans() {
    let spans = Spans::default();
    let _guard = spans.install();
    // The fault-free execution run once, so that each call is one span.
    let explorer = Explorer::new().repeat_initial_execution(false);
    let users = start(Some(&explorer)).await;
    let url = format!("{users}/users/chris/bookings");
    let report = support::explore_get(&explorer, &url).await;
    report.assert_passed();
    // The fault-free execution, then connection error, timeout, 500, 502,
    // 503 on users' one call: the same exploration with spans as without.
    assert_eq!(report.executions_run, 6, "{}", report.summary());

    let clients = spans.clients();
    assert_eq!(clients.len(), 6, "{clients:#?}");
    let faulted = |name: &str| -> Recorded {
        let found: Vec<_> = clients
            .iter()
            .filter(|(_, s)| {
                s.events.iter().any(|e| e.get("filibuster.fault").map(String::as_str) == Some(name))
            })
            .collect();
        assert_eq!(found.len(), 1, "{name}: {clients:#?}");
        found[0].1.clone()
    };
    for (fault, error_type, status) in [
        ("reqwest.connect", "connect", None),
        ("reqwest.timeout", "timeout", None),
        ("status 500", "500", Some("500")),
        ("status 502", "502", Some("502")),
        ("status 503", "503", Some("503")),
    ] {
        let span = faulted(fault);
        assert_eq!(span.field("error.type"), Some(error_type), "{fault}: {span:#?}");
        assert_eq!(span.field("otel.status_code"), Some("ERROR"), "{fault}: {span:#?}");
        assert_eq!(span.field("filibuster.fault"), Some(fault), "{fault}: {span:#?}");
        assert_eq!(span.field("http.response.status_code"), status, "{fault}: {span:#?}");
        assert_eq!(span.events[0].get("message").map(String::as_str), Some(filibuster::spans::FAULT_EVENT));
    }
    for (index, client) in &clients {
        let parent = &spans.all()[client.parent.expect("a parent")];
        assert_eq!(parent.field("filibuster.service"), Some("users"), "{index}");
        let ei = client.field("filibuster.execution_index").expect("an execution index");
        assert!(ei.starts_with("[[\"") && ei.ends_with("\", 1]]"), "{ei}");
    }
    // The fault-free call reached bookings, whose server span has the call's
    // execution index.
    let clean: Vec<_> = clients.iter().filter(|(_, s)| s.events.is_empty()).collect();
    assert_eq!(clean.len(), 1, "{clients:#?}");
    assert_eq!(clean[0].1.field("http.response.status_code"), Some("200"));
    let bookings = spans.named("GET /bookings/{name}");
    assert!(!bookings.is_empty());
    assert_eq!(
        bookings[0].1.field("filibuster.execution_index"),
        clean[0].1.field("filibuster.execution_index"),
        "{bookings:#?}"
    );
}

/// A capture installed with the builder: the allowed headers of requests
/// and responses, `authorization` redacted, bodies cut at 16 bytes.
#[tokio::test]
async fn capture_records_allowed_headers_and_capped_bodies() {
    run_child("capture_records_allowed_headers_and_capped_bodies_child", &[], &[]);
}

#[tokio::test]
#[ignore = "run in a child process by its parent test (support::run_child)"]
async fn capture_records_allowed_headers_and_capped_bodies_child() {
    Capture::new()
        .request_headers(["X-User", "authorization"])
        .response_headers(["x-served-by"])
        .bodies(true)
        .max_body_bytes(16)
        .install();
    let (client, users_span, bookings_span) = note_spans().await;
    for (field, value) in [
        ("http.request.header.x-user", "chris"),
        ("http.request.header.authorization", filibuster::capture::REDACTED),
        ("http.response.header.x-served-by", "bookings"),
        ("http.request.body", &NOTE[..16]),
        // Read by the instrumentation (on, under the explorer): captured.
        ("http.response.body", &NOTED[..16]),
    ] {
        assert_eq!(client.field(field), Some(value), "{field}: {client:#?}");
    }
    // The incoming request's headers on users' server span.
    assert_eq!(users_span.field("http.request.header.x-user"), Some("test"), "{users_span:#?}");
    assert_eq!(
        users_span.field("http.request.header.authorization"),
        Some(filibuster::capture::REDACTED),
        "{users_span:#?}"
    );
    // bookings' layer sees its response.
    assert_eq!(
        bookings_span.field("http.response.header.x-served-by"),
        Some("bookings"),
        "{bookings_span:#?}"
    );
    assert_eq!(bookings_span.field("http.request.header.x-user"), Some("chris"), "{bookings_span:#?}");
}

/// The same capture from the environment: `FILIBUSTER_CAPTURE_HEADERS`,
/// `FILIBUSTER_CAPTURE_BODIES` and `FILIBUSTER_CAPTURE_MAX_BODY`.
#[tokio::test]
async fn capture_from_the_environment() {
    run_child(
        "capture_from_the_environment_child",
        &[
            ("FILIBUSTER_CAPTURE_HEADERS", "x-user, authorization,x-served-by"),
            ("FILIBUSTER_CAPTURE_BODIES", "1"),
            ("FILIBUSTER_CAPTURE_MAX_BODY", "8"),
        ],
        &[],
    );
}

#[tokio::test]
#[ignore = "run in a child process by its parent test (support::run_child)"]
async fn capture_from_the_environment_child() {
    let (client, _, _) = note_spans().await;
    for (field, value) in [
        ("http.request.header.x-user", "chris"),
        ("http.request.header.authorization", filibuster::capture::REDACTED),
        ("http.response.header.x-served-by", "bookings"),
        ("http.request.body", &NOTE[..8]),
        ("http.response.body", &NOTED[..8]),
    ] {
        assert_eq!(client.field(field), Some(value), "{field}: {client:#?}");
    }
}

/// users' POST /users/{name}/notes under the explorer's fault-free first
/// execution: the client span of its call to bookings, users' server span
/// and bookings' server span.
async fn note_spans() -> (Recorded, Recorded, Recorded) {
    let spans = Spans::default();
    let _guard = spans.install();
    let explorer = Explorer::new().max_executions(1).repeat_initial_execution(false);
    let users = start(Some(&explorer)).await;
    let url = format!("{users}/users/chris/notes");
    let http = reqwest::Client::new();
    let report = explorer
        .run(|_| {
            let request = http.post(&url).header("x-user", "test").header("authorization", "Basic dGVzdA==");
            async move {
                let status = request.send().await.map_err(|e| e.to_string())?.status();
                if status != 200 {
                    return Err(format!("expected 200, got {status}"));
                }
                Ok(())
            }
        })
        .await;
    report.assert_passed();
    let clients = spans.clients();
    assert_eq!(clients.len(), 1, "{:#?}", spans.all());
    let users_span = spans.named("POST /users/{name}/notes");
    let bookings_span = spans.named("POST /notes");
    assert_eq!((users_span.len(), bookings_span.len()), (1, 1), "{:#?}", spans.all());
    (clients[0].1.clone(), users_span[0].1.clone(), bookings_span[0].1.clone())
}

/// On/off variables with a value that is neither are said, and count as
/// off: `FILIBUSTER_ENABLED` and `FILIBUSTER_CAPTURE_BODIES`; so is a
/// header in `FILIBUSTER_CAPTURE_UNREDACTED` that is never redacted.
#[tokio::test]
async fn mistyped_switches_are_said() {
    run_child(
        "mistyped_switches_are_said_child",
        &[
            ("FILIBUSTER_ENABLED", "enable"),
            ("FILIBUSTER_CAPTURE_BODIES", "maybe"),
            ("FILIBUSTER_CAPTURE_UNREDACTED", "cookie,x-token"),
        ],
        &[],
    );
}

#[tokio::test]
#[ignore = "run in a child process by its parent test (support::run_child)"]
async fn mistyped_switches_are_said_child() {
    let logs = support::Logs::of_target("filibuster_runtime");
    let _guard = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    assert!(!filibuster::enabled());
    assert_eq!(Capture::from_env(), Capture::new().unredacted(["cookie"]), "bodies off, x-token left out");
    let warnings = logs.of(tracing::Level::WARN);
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    let said = |words: [&str; 2]| warnings.iter().any(|w| words.iter().all(|word| w.contains(word)));
    assert!(said(["FILIBUSTER_ENABLED", "enable"]), "{warnings:#?}");
    assert!(said(["FILIBUSTER_CAPTURE_BODIES", "maybe"]), "{warnings:#?}");
    assert!(said(["not a redacted header", "x-token"]), "{warnings:#?}");
}

/// A header named as unredacted that is not one of the redacted ones is a
/// mistake (it is captured as it is anyway): said, and left out.
#[test]
fn unredacting_a_header_that_is_not_redacted_is_said() {
    let logs = support::Logs::of_target("filibuster_runtime");
    let _guard = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let capture = Capture::new().unredacted(["Cookie", "x-api-key"]);
    let warnings = logs.of(tracing::Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("not a redacted header") && warnings[0].contains("x-api-key"),
        "{}",
        warnings[0]
    );
    assert_eq!(capture, Capture::new().unredacted(["cookie"]), "x-api-key left out");
    assert_eq!(logs.of(tracing::Level::WARN).len(), 1, "cookie is a redacted header");
}

/// A reqwest-middleware client that retries: each attempt is a client span
/// of its own, the resends counted (`http.request.resend_count`), as
/// OpenTelemetry's HTTP conventions have it. Filibuster off.
#[tokio::test]
async fn each_attempt_of_a_retrying_client_is_a_client_span() {
    run_child("each_attempt_of_a_retrying_client_is_a_client_span_child", &[], &["FILIBUSTER_ENABLED"]);
}

#[tokio::test]
#[ignore = "run in a child process by its parent test (support::run_child)"]
async fn each_attempt_of_a_retrying_client_is_a_client_span_child() {
    use reqwest_retry::RetryTransientMiddleware;
    use reqwest_retry::policies::ExponentialBackoff;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let spans = Spans::default();
    let _guard = spans.install();
    // Fails twice with a 503, then answers.
    async fn flaky(State(failures): State<Arc<AtomicUsize>>) -> StatusCode {
        match failures.fetch_sub(1, Ordering::SeqCst) {
            0 => StatusCode::OK,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
    let url =
        serve(Router::new().route("/flaky", get(flaky)).with_state(Arc::new(AtomicUsize::new(2)))).await;
    let retries = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(2))
        .build_with_max_retries(2);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(retries))
        .with(filibuster::middleware::Instrument)
        .build();
    let response = via_middleware(&http, &format!("{url}/flaky")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let clients = spans.clients();
    let field = |name: &str| clients.iter().map(|(_, span)| span.field(name)).collect::<Vec<_>>();
    assert_eq!(field("http.response.status_code"), [Some("503"), Some("503"), Some("200")], "{clients:#?}");
    assert_eq!(field("http.request.resend_count"), [None, Some("1"), Some("2")], "{clients:#?}");
    assert_eq!(field("filibuster.callsite.fn"), [Some("via_middleware"); 3]);
    assert!(clients.iter().all(|(_, span)| span.parent.is_none()), "siblings, not nested: {clients:#?}");
}

/// A dependency call's span, a child of its request's server span, after
/// OpenTelemetry's database conventions; under a fault, the fault and the
/// error's fault name as its `error.type`.
#[tokio::test]
async fn dependency_calls_have_database_spans() {
    let spans = Spans::default();
    let _subscriber = spans.install();
    let explorer = Explorer::new();
    let started = shop::start(&explorer.connection(), shop::Bug::None).await.unwrap();
    let http = reqwest::Client::new();
    let report = explorer
        .run(|ctx| {
            let (http, started) = (&http, &started);
            async move {
                shop::check_order(http, &started.orders, &started.orders_db, async || ctx.fault_injected())
                    .await
            }
        })
        .await;
    assert!(report.passed(), "{}", report.failure_message());
    let all = spans.all();
    let inserts: Vec<&Recorded> = all
        .iter()
        .filter(|s| {
            s.name == filibuster::spans::DEPENDENCY_SPAN
                && s.field("db.operation.name") == Some("insert_order")
        })
        .collect();
    assert!(inserts.len() >= 4, "{inserts:#?}");
    for span in &inserts {
        for (field, value) in
            [("otel.name", "insert_order sqlite"), ("otel.kind", "client"), ("db.system", "sqlite")]
        {
            assert_eq!(span.field(field), Some(value), "{span:#?}");
        }
        assert!(
            span.field("filibuster.callsite.file").is_some_and(|f| f.ends_with("shop/src/lib.rs")),
            "{span:#?}"
        );
        let parent = &all[span.parent.expect("a parent")];
        assert_eq!(
            (parent.name.as_str(), parent.field("filibuster.service")),
            (filibuster::spans::SERVER_SPAN, Some("orders"))
        );
    }
    let faulted: Vec<(Option<&str>, Option<&str>)> = inserts
        .iter()
        .filter(|s| s.field("filibuster.fault").is_some())
        .map(|s| (s.field("filibuster.fault"), s.field("error.type")))
        .collect();
    assert_eq!(faulted.len(), 3, "{inserts:#?}");
    for (fault, error_type) in faulted {
        assert_eq!(fault, error_type, "the injected error is reported under its fault's name");
    }
    let clean = inserts.iter().find(|s| s.field("filibuster.fault").is_none()).unwrap();
    assert_eq!((clean.field("error.type"), clean.field("otel.status_code")), (None, None));
}

/// RPCs have client and server spans after OpenTelemetry's RPC conventions:
/// the client's a child of its request's server span, with its status code
/// and, when injected, its fault; the server's named by the service.
#[tokio::test]
async fn rpcs_have_rpc_spans() {
    let spans = Spans::default();
    let _subscriber = spans.install();
    let explorer = Explorer::new();
    let report = grpc_cinema_support::explore(&explorer, grpc_cinema::Bug::None).await;
    assert!(report.passed(), "{}", report.failure_message());
    let all = spans.all();
    let clients: Vec<&Recorded> = all
        .iter()
        .filter(|s| s.name == filibuster::spans::RPC_CLIENT_SPAN && s.field("rpc.method") == Some("GetMovie"))
        .collect();
    // The fault-free execution twice, the three faults on GetMovie.
    assert_eq!(clients.len(), 5, "{clients:#?}");
    for span in &clients {
        for (field, value) in [
            ("otel.name", "cinema.Movies/GetMovie"),
            ("otel.kind", "client"),
            ("rpc.system", "grpc"),
            ("rpc.service", "cinema.Movies"),
        ] {
            assert_eq!(span.field(field), Some(value), "{span:#?}");
        }
        let parent = &all[span.parent.expect("a parent")];
        assert_eq!(
            (parent.name.as_str(), parent.field("filibuster.service")),
            (filibuster::spans::SERVER_SPAN, Some("users"))
        );
    }
    let mut outcomes: Vec<(Option<&str>, Option<&str>, Option<&str>)> = clients
        .iter()
        .map(|s| (s.field("filibuster.fault"), s.field("rpc.grpc.status_code"), s.field("error.type")))
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            (None, Some("0"), None),
            (None, Some("0"), None),
            (Some("status NOT_FOUND"), Some("5"), Some("NOT_FOUND")),
            (Some("tonic.Status DEADLINE_EXCEEDED"), Some("4"), Some("DEADLINE_EXCEEDED")),
            (Some("tonic.Status UNAVAILABLE"), Some("14"), Some("UNAVAILABLE")),
        ]
    );
    let servers: Vec<&Recorded> = all
        .iter()
        .filter(|s| s.name == filibuster::spans::RPC_SERVER_SPAN && s.field("rpc.method") == Some("GetMovie"))
        .collect();
    // Reached in the two fault-free executions only: a fault on GetMovie
    // is injected without the RPC, and after one on GetBookings it is not made.
    assert_eq!(servers.len(), 2, "{servers:#?}");
    for span in servers {
        assert_eq!(span.field("filibuster.service"), Some("movies"), "{span:#?}");
        assert_eq!(span.field("rpc.grpc.status_code"), Some("0"), "{span:#?}");
        assert_eq!(span.field("otel.kind"), Some("server"), "{span:#?}");
    }
}
