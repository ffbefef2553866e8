//! A timeout set on the client (`ClientBuilder::timeout`) does not show on
//! the request. `#[filibuster::call(timeout = <seconds>)]` declares it: the
//! calls then report it as their timeout (unless the request sets its own,
//! which wins), and the built-in fault model tries `reqwest.timeout` on them
//! as it does on calls that set `RequestBuilder::timeout`.

mod support;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{Explorer, Report};

#[derive(Clone)]
struct Node {
    /// Built with `ClientBuilder::timeout`.
    http: reqwest::Client,
    b_url: String,
    /// Whether a's call declares the client's timeout.
    declared: bool,
}

fn client_with_timeout() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

#[filibuster::call(timeout = 5)]
async fn fetch_declared(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

#[filibuster::call]
async fn fetch_undeclared(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

/// The request's own timeout wins over the declared one.
#[filibuster::call(id = "own-timeout", timeout = 5)]
async fn fetch_own_timeout(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).timeout(Duration::from_millis(2500)).send().await
}

#[filibuster::handler(service = "a")]
async fn a(State(node): State<Node>) -> (StatusCode, &'static str) {
    let result = if node.declared {
        fetch_declared(&node.http, &node.b_url).await
    } else {
        fetch_undeclared(&node.http, &node.b_url).await
    };
    match result {
        Ok(response) if response.status() == StatusCode::OK => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "the call failed"),
    }
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

/// Explores a -> b, a's call going through a client with a timeout.
async fn explore(declared: bool) -> Report {
    let explorer = Explorer::new();
    let b_url = support::serve(Router::new().route("/", get(b)).layer(explorer.connection().layer())).await;
    let node = Node { http: client_with_timeout(), b_url: format!("{b_url}/"), declared };
    let a_url = support::serve(
        Router::new().route("/", get(a)).with_state(node).layer(explorer.connection().layer()),
    )
    .await;
    support::explore_get(&explorer, &a_url).await
}

fn faults_tried(report: &Report) -> Vec<String> {
    report.executions.iter().flat_map(|e| e.faults.iter().map(|f| f.fault.clone())).collect()
}

/// Declared: connection error, timeout, 500, 502, 503 on the call: 1 + 5
/// runs. Undeclared: the model cannot know of the timeout, so no timeout
/// fault: 1 + 4 runs.
#[tokio::test]
async fn a_declared_client_timeout_gets_the_timeout_fault() {
    let report = explore(true).await;
    assert!(report.passed(), "{}", report.summary());
    assert_eq!((report.executions_run, report.executions_pruned), (6, 0), "{}", report.summary());
    assert_eq!(faults_tried(&report).iter().filter(|f| *f == "reqwest.timeout").count(), 1);

    let report = explore(false).await;
    assert!(report.passed(), "{}", report.summary());
    assert_eq!((report.executions_run, report.executions_pruned), (5, 0), "{}", report.summary());
    assert!(!faults_tried(&report).iter().any(|f| f.contains("timeout")), "{:?}", faults_tried(&report));
}

#[filibuster::handler(service = "a")]
async fn all_three(State(node): State<Node>) -> &'static str {
    fetch_declared(&node.http, &node.b_url).await.unwrap();
    fetch_own_timeout(&node.http, &node.b_url).await.unwrap();
    fetch_undeclared(&node.http, &node.b_url).await.unwrap();
    "done"
}

/// What the invocation records say: the declared timeout, the request's own
/// when it has one, nothing when neither is known.
#[tokio::test]
async fn the_request_timeout_wins_over_the_declared_one() {
    filibuster::enable();
    let recorder = support::Recorder::default();
    let connection = recorder.connect().await;
    let b_url = support::Downstream::default().serve().await;
    let node = Node { http: client_with_timeout(), b_url, declared: true };
    let a_url =
        support::serve(Router::new().route("/", get(all_three)).with_state(node).layer(connection.layer()))
            .await;
    reqwest::get(&a_url).await.unwrap().error_for_status().unwrap();
    let timeouts: Vec<_> = recorder.creates().iter().map(|c| c["metadata"].get("timeout").cloned()).collect();
    assert_eq!(timeouts, [Some(5.0.into()), Some(2.5.into()), None]);
}
