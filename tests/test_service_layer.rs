//! `filibuster::ServiceLayer`: every route of a router instrumented for a
//! service without an attribute on each handler, on real axum services.
//!
//! - an exploration of an app instrumented by layers finds the same
//!   executions as the same app instrumented by attributes;
//! - a request behind a layer and an attribute (or two layers) is
//!   instrumented once, by the outermost layer;
//! - the layer honours the forced sleep, and given its connection it does
//!   not mind the order of the layers.
//!
//! A layer without the explorer's connection is in `test_service_layer_missing.rs`
//! (missing-layer detection is process-wide), and the names taken from the
//! environment in `test_service_name_env.rs`.

mod support;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use filibuster::{Explorer, Report, RequestContext, ServiceLayer};
use support::{Recorder, serve};

#[filibuster::call]
async fn fetch(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).timeout(Duration::from_secs(10)).send().await
}

/// Calls each of `urls` whatever happens: 200 when all answered 200, else 503.
async fn relay(http: &reqwest::Client, urls: &[String]) -> (StatusCode, &'static str) {
    let mut ok = true;
    for url in urls {
        ok &= matches!(fetch(http, url).await, Ok(response) if response.status() == StatusCode::OK);
    }
    if ok { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "a call failed") }
}

#[derive(Clone)]
struct Peers {
    http: reqwest::Client,
    /// b's `/one` and `/two`.
    calls: Vec<String>,
}

// The app without attributes: `a` has an entry that calls b's `/one` and
// `/two`, and two routes the test does not use; `b` has three routes.

async fn entry(State(peers): State<Peers>) -> (StatusCode, &'static str) {
    relay(&peers.http, &peers.calls).await
}

async fn health() -> &'static str {
    "ok"
}

async fn submit() -> StatusCode {
    StatusCode::CREATED
}

async fn one() -> &'static str {
    "one"
}

async fn two() -> &'static str {
    "two"
}

async fn three() -> &'static str {
    "three"
}

// The same app with an attribute on every handler.

#[filibuster::handler(service = "a")]
async fn entry_attr(State(peers): State<Peers>) -> (StatusCode, &'static str) {
    relay(&peers.http, &peers.calls).await
}

#[filibuster::handler(service = "a")]
async fn health_attr() -> &'static str {
    "ok"
}

#[filibuster::handler(service = "a")]
async fn submit_attr() -> StatusCode {
    StatusCode::CREATED
}

#[filibuster::handler(service = "b")]
async fn one_attr() -> &'static str {
    "one"
}

#[filibuster::handler(service = "b")]
async fn two_attr() -> &'static str {
    "two"
}

#[filibuster::handler(service = "b")]
async fn three_attr() -> &'static str {
    "three"
}

#[derive(Clone, Copy, Debug)]
enum By {
    Layer,
    Attribute,
}

/// Starts `a` and `b` instrumented `by` layers or attributes, for
/// `explorer`; returns the URL of a's entry.
async fn start_app(explorer: &Explorer, by: By) -> String {
    let b = match by {
        By::Layer => Router::new()
            .route("/one", get(one))
            .route("/two", get(two))
            .route("/three", get(three))
            .layer(ServiceLayer::new("b")),
        By::Attribute => Router::new()
            .route("/one", get(one_attr))
            .route("/two", get(two_attr))
            .route("/three", get(three_attr)),
    };
    let b = serve(b.layer(explorer.connection().layer())).await;
    let peers = Peers { http: reqwest::Client::new(), calls: vec![format!("{b}/one"), format!("{b}/two")] };
    let a = match by {
        By::Layer => Router::new()
            .route("/entry", get(entry))
            .route("/health", get(health))
            .route("/submit", post(submit))
            .with_state(peers)
            .layer(ServiceLayer::new("a")),
        By::Attribute => Router::new()
            .route("/entry", get(entry_attr))
            .route("/health", get(health_attr))
            .route("/submit", post(submit_attr))
            .with_state(peers),
    };
    format!("{}/entry", serve(a.layer(explorer.connection().layer())).await)
}

/// A call as an exploration reports it: source, target, path, fault.
type Call = (String, Option<String>, String, Option<String>);

/// a -> b twice (`/one`, `/two`), a making both calls whatever happens: 5
/// faults on each call (connection error, timeout, and 500, 502, 503 since
/// b reports `request_received`), each fault on the first call scheduling
/// the 5 of the second: 1 + 5 + 5 * (1 + 5) = 36 executions, by layers as by
/// attributes, with the same calls.
#[tokio::test]
async fn layers_explore_like_attributes() {
    let mut reports = Vec::new();
    for by in [By::Layer, By::Attribute] {
        let explorer = Explorer::new();
        let entry = start_app(&explorer, by).await;
        let report = support::explore_get(&explorer, &entry).await;
        assert!(report.passed(), "{by:?}: {:#?}", report.failures().collect::<Vec<_>>());
        assert_eq!(
            (report.executions_run, report.executions_pruned),
            (36, 0),
            "{by:?}: {}",
            report.summary()
        );
        reports.push(report);
    }
    let calls = |report: &Report| -> Vec<Vec<Call>> {
        report
            .executions
            .iter()
            .map(|execution| {
                execution
                    .calls
                    .iter()
                    .map(|c| (c.source.clone(), c.target.clone(), c.path.clone(), c.fault.clone()))
                    .collect()
            })
            .collect()
    };
    assert_eq!(calls(&reports[0]), calls(&reports[1]));
    for execution in &reports[0].executions {
        assert!(execution.calls.iter().all(|call| call.source == "a"), "{execution:#?}");
    }
    let statuses: usize = reports[0]
        .executions
        .iter()
        .flat_map(|e| &e.faults)
        .filter(|fault| fault.fault.starts_with("status "))
        .count();
    assert!(statuses > 0, "b, instrumented by its layer, got status faults");
}

/// The name of the service of the current request context, if any.
fn current_service() -> String {
    RequestContext::with_current(|context| context.service().to_owned()).unwrap_or_else(|| "none".into())
}

#[filibuster::handler(service = "attribute")]
async fn with_attribute() -> String {
    current_service()
}

async fn plain() -> String {
    current_service()
}

/// Calls the URL of its state and answers with the body it got.
async fn caller(State((http, url)): State<(reqwest::Client, String)>) -> String {
    match fetch(&http, &url).await {
        Ok(response) => response.text().await.unwrap_or_else(|e| e.to_string()),
        Err(error) => error.to_string(),
    }
}

/// Behind a layer, a handler with `#[filibuster::handler]` runs in the
/// layer's context and reports nothing more: one `request_received`, for
/// the layer's service. Two layers (one on a nested router): the outer one.
#[tokio::test]
async fn one_instrumentation_per_request() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let inner = Router::new().route("/plain", get(plain)).layer(ServiceLayer::new("inner"));
    let b = serve(
        Router::new()
            .route("/both", get(with_attribute))
            .route("/plain", get(plain))
            .nest("/nested", inner)
            .layer(ServiceLayer::new("layer"))
            .layer(connection.layer()),
    )
    .await;
    let http = reqwest::Client::new();
    for (path, service) in [("/both", "layer"), ("/plain", "layer"), ("/nested/plain", "layer")] {
        let before = recorder.updates_of("request_received").len();
        let a = serve(
            Router::new()
                .route("/", get(caller))
                .with_state((http.clone(), format!("{b}{path}")))
                .layer(ServiceLayer::new("a"))
                .layer(connection.layer()),
        )
        .await;
        let body = reqwest::get(format!("{a}/")).await.unwrap().text().await.unwrap();
        assert_eq!(body, service, "{path}");
        let received = recorder.updates_of("request_received");
        assert_eq!(received.len(), before + 1, "{path}: {:#?}", recorder.records());
        assert_eq!(received[before]["target_service_name"], service, "{path}");
    }
    let creates = recorder.creates();
    assert_eq!(creates.len(), 3);
    assert!(creates.iter().all(|create| create["source_service_name"] == "a"), "{creates:#?}");

    // Without a layer, the attribute instruments the handler itself.
    let alone = serve(Router::new().route("/", get(with_attribute)).layer(connection.layer())).await;
    assert_eq!(reqwest::get(format!("{alone}/")).await.unwrap().text().await.unwrap(), "attribute");
}

/// The forced sleep an injected timeout asks for is honoured by the layer
/// before the handler runs.
#[tokio::test]
async fn the_layer_honours_the_forced_sleep() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let url = serve(
        Router::new().route("/", get(plain)).layer(ServiceLayer::new("slow")).layer(connection.layer()),
    )
    .await;
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(format!("{url}/"))
        .header(filibuster::headers::FORCED_SLEEP, "0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "slow");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
}

/// Given its connection, the layer does not mind where the connection's
/// layer is, or whether there is one: the exploration is complete.
#[tokio::test]
async fn a_layer_given_its_connection_needs_no_order() {
    let explorer = Explorer::new();
    let b = serve(
        Router::new()
            .route("/one", get(one))
            .route("/two", get(two))
            .layer(ServiceLayer::new("b").connection(explorer.connection())),
    )
    .await;
    let peers = Peers { http: reqwest::Client::new(), calls: vec![format!("{b}/one"), format!("{b}/two")] };
    let a = serve(
        Router::new()
            .route("/entry", get(entry))
            .with_state(peers)
            // The connection's layer first: inside, too late for the service
            // layer, which has its own.
            .layer(explorer.connection().layer())
            .layer(ServiceLayer::new("a").connection(explorer.connection())),
    )
    .await;
    let report = support::explore_get(&explorer, &format!("{a}/entry")).await;
    assert!(report.passed(), "{:#?}", report.failures().collect::<Vec<_>>());
    assert_eq!((report.executions_run, report.executions_pruned), (36, 0), "{}", report.summary());
}
