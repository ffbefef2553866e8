//! `.send()`s of `reqwest_middleware::RequestBuilder` in `#[filibuster::call]`
//! fns (feature `reqwest-middleware`): the client's chain runs on the real
//! call, and each attempt of a retry middleware is an instrumented call of
//! its own, with its own execution index, which the exploration can fail.
//! An injected fault ends its attempt with a genuine reqwest value, which the
//! retry middleware retries.
//!
//! With the instrumentation off, the chain runs untouched:
//! `test_reqwest_middleware_off.rs` (the switch is process-wide).
#![cfg(feature = "reqwest-middleware")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{ExecutionStatus, Explorer, Report};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use tracing_subscriber::layer::SubscriberExt;

use support::{Recorder, call_hash, ei, md5};

/// Where the middleware of filibuster goes in the client.
#[derive(Clone, Copy, PartialEq)]
enum Instrument {
    Last,
    Missing,
    /// Before the retries: a mistake.
    First,
}

/// A client retrying transient failures (connection errors, timeouts, 5xx)
/// twice, at once.
fn client(instrument: Instrument) -> ClientWithMiddleware {
    let retries = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(2))
        .build_with_max_retries(2);
    let mut builder = ClientBuilder::new(reqwest::Client::new());
    if instrument == Instrument::First {
        builder = builder.with(filibuster::middleware::Instrument);
    }
    builder = builder.with(RetryTransientMiddleware::new_with_policy(retries));
    if instrument == Instrument::Last {
        builder = builder.with(filibuster::middleware::Instrument);
    }
    builder.build()
}

#[derive(Clone)]
struct A {
    http: ClientWithMiddleware,
    b_url: String,
}

/// 200 when `b` finally answered 200, 503 otherwise.
#[filibuster::handler(service = "a")]
async fn a(State(app): State<A>) -> StatusCode {
    match fetch_b(&app).await {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::call(id = "fetch-b")]
async fn fetch_b(app: &A) -> reqwest_middleware::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

/// As `a`, from other callsites (the warnings are said once per callsite).
#[filibuster::handler(service = "a")]
async fn a_without_instrument(State(app): State<A>) -> StatusCode {
    match fetch_b_without_instrument(&app).await {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::call(id = "fetch-b-without-instrument")]
async fn fetch_b_without_instrument(app: &A) -> reqwest_middleware::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

#[filibuster::handler(service = "a")]
async fn a_instrument_first(State(app): State<A>) -> StatusCode {
    match fetch_b_instrument_first(&app).await {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::call(id = "fetch-b-instrument-first")]
async fn fetch_b_instrument_first(app: &A) -> reqwest_middleware::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

/// Service `b`, answering its first `failures` requests with a genuine 503.
#[filibuster::handler(service = "b")]
async fn flaky_b(State(failures): State<Arc<AtomicUsize>>) -> (StatusCode, &'static str) {
    let failing = failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if failing { (StatusCode::SERVICE_UNAVAILABLE, "not yet") } else { (StatusCode::OK, "b") }
}

/// Serves `a` (one of the handlers above, at `/a`) calling `b_url` through
/// a client with `instrument`.
async fn serve_a(
    handler: axum::routing::MethodRouter<A>,
    instrument: Instrument,
    b_url: String,
    connection: &filibuster::Connection,
) -> String {
    let app = A { http: client(instrument), b_url };
    let router = Router::new().route("/a", handler).with_state(app).layer(connection.layer());
    format!("{}/a", support::serve(router).await)
}

/// Explores `a -> b` without dynamic reduction; the functional test accepts
/// 200 and 503, and records which it got in each execution.
async fn explore(explorer: Explorer, a_url: &str) -> (Report, Vec<(usize, u16)>) {
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let http = reqwest::Client::new();
    let report = explorer
        .run(|ctx| {
            let request = http.get(a_url);
            let statuses = statuses.clone();
            async move {
                let status = request.send().await.map_err(|e| e.to_string())?.status().as_u16();
                statuses.lock().unwrap().push((ctx.execution(), status));
                match (ctx.fault_injected(), status) {
                    (false, 200) | (true, 200 | 503) => Ok(()),
                    (injected, status) => Err(format!("fault injected: {injected}, status {status}")),
                }
            }
        })
        .await;
    let statuses = statuses.lock().unwrap().clone();
    (report, statuses)
}

/// Asserts that every execution of `report` made its attempts as calls of
/// their own from callsite `id`: the k-th attempt has execution index
/// `[[h, k]]`; an attempt is made when the one before was faulted, up to 3;
/// `a` answered 503 exactly when all three were. Returns the number of
/// executions by number of attempts.
fn assert_attempts_are_calls(report: &Report, statuses: &[(usize, u16)], id: &str) -> [usize; 3] {
    let h = call_hash(&md5(&format!("{id}#1")), "GET", "/b");
    let mut by_attempts = [0; 3];
    for execution in &report.executions {
        assert_eq!(execution.status, ExecutionStatus::Passed, "{}", report.summary());
        let calls = &execution.calls;
        assert!((1..=3).contains(&calls.len()), "{calls:#?}");
        for (k, call) in calls.iter().enumerate() {
            assert_eq!(call.execution_index, ei(&[(&h, k as u32 + 1)]), "{calls:#?}");
            assert_eq!(
                (call.source.as_str(), call.target.as_deref(), call.path.as_str()),
                ("a", Some("b"), "/b")
            );
            if k + 1 < calls.len() {
                assert!(call.fault.is_some(), "only a faulted attempt is retried: {calls:#?}");
            }
        }
        let all_faulted = calls.len() == 3 && calls[2].fault.is_some();
        let status = statuses.iter().find(|(n, _)| *n == execution.number).map(|&(_, s)| s);
        assert_eq!(status, Some(if all_faulted { 503 } else { 200 }), "{calls:#?}");
        by_attempts[calls.len() - 1] += 1;
    }
    by_attempts
}

/// a -> b through a client retrying twice, `Instrument` last. The first
/// attempt gets 4 faults (connection error, 500, 502, 503: no timeout, the
/// request has none); each is retried, and the retry is a new call, with 4
/// faults of its own, and so is the third attempt: 1 + 4 + 4 * 4 + 4 * 4 * 4
/// = 85 executions, and `a` recovers in all but the 64 whose three attempts
/// all failed.
#[tokio::test]
async fn each_retry_is_a_call_of_its_own() {
    let explorer = Explorer::new().dynamic_reduction(false);
    let connection = explorer.connection();
    let b_url = support::serve(Router::new().route("/b", get(b)).layer(connection.layer())).await;
    let a_url = serve_a(get(a), Instrument::Last, b_url, &connection).await;

    let (report, statuses) = explore(explorer, &a_url).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!((report.executions_run, report.executions_pruned), (85, 0), "{}", report.summary());
    assert_eq!(assert_attempts_are_calls(&report, &statuses, "fetch-b"), [1, 4, 80]);
    // Every fault kind reached the retry middleware as the genuine value it
    // retries: each of the 4 faults of the first attempt led to a second.
    let retried: std::collections::BTreeSet<_> = report
        .executions
        .iter()
        .filter(|e| e.calls.len() == 2)
        .map(|e| e.calls[0].fault.clone().unwrap())
        .collect();
    assert_eq!(retried.len(), 4, "{retried:?}");
}

/// The same client without `Instrument`: filibuster's own end of the chain
/// instruments each attempt in its place (the same 85 executions), and a
/// warning says, once, to add it.
#[tokio::test]
async fn without_instrument_the_attempts_are_still_calls_and_a_warning_says_so() {
    let logs = support::Logs::of_target("filibuster_runtime::middleware");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let explorer = Explorer::new().dynamic_reduction(false);
    let connection = explorer.connection();
    let b_url = support::serve(Router::new().route("/b", get(b)).layer(connection.layer())).await;
    let a_url = serve_a(get(a_without_instrument), Instrument::Missing, b_url, &connection).await;

    let (report, statuses) = explore(explorer, &a_url).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!((report.executions_run, report.executions_pruned), (85, 0), "{}", report.summary());
    assert_eq!(assert_attempts_are_calls(&report, &statuses, "fetch-b-without-instrument"), [1, 4, 80]);

    let warnings = logs.of(tracing::Level::WARN);
    assert_eq!(warnings.len(), 1, "one callsite, one warning: {warnings:#?}");
    let line = line_of("async fn fetch_b_without_instrument");
    for expected in [
        format!("`fetch_b_without_instrument` at tests/test_reqwest_middleware.rs:{line} has no"),
        "add `.with(filibuster::middleware::Instrument)` last".to_owned(),
    ] {
        assert!(warnings[0].contains(&expected), "{expected} in {}", warnings[0]);
    }
    assert_eq!(logs.of(tracing::Level::ERROR), Vec::<String>::new());
}

/// Each attempt of a real retry is its own call: the server sees two
/// invocations with execution indices `[[h, 1]]` and `[[h, 2]]`, and `b`
/// receives each with its own headers.
#[tokio::test]
async fn a_real_retry_is_a_second_invocation() {
    filibuster::enable();
    let logs = support::Logs::of_target("filibuster_runtime::middleware");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let b_url = support::serve(
        Router::new()
            .route("/b", get(flaky_b))
            .with_state(Arc::new(AtomicUsize::new(1)))
            .layer(connection.layer()),
    )
    .await;
    let a_url = serve_a(get(a), Instrument::Last, b_url, &connection).await;

    assert_eq!(reqwest::get(&a_url).await.unwrap().status(), StatusCode::OK);
    let h = call_hash(&md5("fetch-b#1"), "GET", "/b");
    let creates = recorder.creates();
    let indices: Vec<_> = creates.iter().map(|c| c["execution_index"].as_str().unwrap().to_owned()).collect();
    assert_eq!(indices, [ei(&[(&h, 1)]), ei(&[(&h, 2)])]);
    let received: Vec<_> = recorder
        .updates_of("request_received")
        .iter()
        .map(|u| u["execution_index"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received, indices, "b received each attempt with its own execution index");
    let completed: Vec<_> = recorder
        .updates_of("invocation_complete")
        .iter()
        .map(|u| u["return_value"]["status_code"].clone())
        .collect();
    assert_eq!(completed, ["503", "200"]);
    assert_eq!((logs.of(tracing::Level::WARN), logs.of(tracing::Level::ERROR)), (vec![], vec![]));
}

/// `Instrument` before the retry middleware: the retry of a real 503 is
/// hidden inside the one instrumented call, and an error says so, once.
#[tokio::test]
async fn instrument_before_the_retries_is_an_error() {
    filibuster::enable();
    let logs = support::Logs::of_target("filibuster_runtime::middleware");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let failures = Arc::new(AtomicUsize::new(0));
    let b_url = support::serve(
        Router::new().route("/b", get(flaky_b)).with_state(failures.clone()).layer(connection.layer()),
    )
    .await;
    let a_url = serve_a(get(a_instrument_first), Instrument::First, b_url, &connection).await;

    for _ in 0..2 {
        failures.store(1, Ordering::SeqCst);
        assert_eq!(reqwest::get(&a_url).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(recorder.creates().len(), 2, "one call per `.send()`, its retry hidden");
    assert_eq!(recorder.updates_of("request_received").len(), 4);
    let errors = logs.of(tracing::Level::ERROR);
    assert_eq!(errors.len(), 1, "one callsite, one error: {errors:#?}");
    let line = line_of("async fn fetch_b_instrument_first");
    for expected in [
        format!("`fetch_b_instrument_first` at tests/test_reqwest_middleware.rs:{line} repeated a request"),
        "add `.with(filibuster::middleware::Instrument)` last".to_owned(),
    ] {
        assert!(errors[0].contains(&expected), "{expected} in {}", errors[0]);
    }
}

/// The line of the `.send()` of the fn whose declaration contains `marker`
/// (the line after it).
fn line_of(marker: &str) -> usize {
    include_str!("test_reqwest_middleware.rs").lines().position(|l| l.contains(marker)).unwrap() + 2
}
