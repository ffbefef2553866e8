//! Calls made by a task a handler spawns are instrumented when the task runs
//! in the request's context (`filibuster::in_current_request`), and only then;
//! a call outside it says so in a warning, once per callsite.

mod support;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
}

#[filibuster::call]
async fn fetch(app: App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

#[filibuster::handler(service = "a")]
async fn carried(State(app): State<App>) -> &'static str {
    let task = tokio::spawn(filibuster::in_current_request(fetch(app.clone())));
    task.await.unwrap().unwrap();
    fetch(app).await.unwrap();
    "done"
}

#[filibuster::handler(service = "a")]
async fn not_carried(State(app): State<App>) -> &'static str {
    tokio::spawn(fetch(app)).await.unwrap().unwrap();
    "done"
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

#[tokio::test]
async fn spawned_calls_need_the_request_context() {
    filibuster::enable();
    let recorder = support::Recorder::default();
    let connection = recorder.connect().await;
    let b_url = support::serve(Router::new().route("/b", get(b)).layer(connection.layer())).await;
    let app = App { http: reqwest::Client::new(), b_url };
    let a_url = support::serve(
        Router::new()
            .route("/carried", get(carried))
            .route("/not-carried", get(not_carried))
            .with_state(app)
            .layer(connection.layer()),
    )
    .await;

    reqwest::get(format!("{a_url}/carried")).await.unwrap().error_for_status().unwrap();
    let creates = recorder.creates();
    assert_eq!(creates.len(), 2, "{creates:#?}");
    // The spawned call and the handler's own share one clock and counter.
    let clocks: Vec<_> = creates.iter().map(|c| c["vclock"]["a"].as_u64().unwrap()).collect();
    assert_eq!(clocks, [1, 2]);
    assert!(creates[1]["execution_index"].as_str().unwrap().ends_with(", 2]]"));

    reqwest::get(format!("{a_url}/not-carried")).await.unwrap().error_for_status().unwrap();
    assert_eq!(recorder.creates().len(), 2, "a call outside the context is not instrumented");
}

/// What the handler's code can read of its own request context.
#[filibuster::handler(service = "a")]
async fn describe() -> String {
    let inside = filibuster::RequestContext::with_current(|ctx| {
        format!("{} {} {}", ctx.service(), ctx.request_id(), ctx.execution_index())
    });
    let outside = tokio::spawn(async { filibuster::RequestContext::with_current(|_| ()) }).await.unwrap();
    format!("{inside:?} {outside:?}")
}

#[tokio::test]
async fn handlers_can_read_their_context() {
    filibuster::enable();
    let recorder = support::Recorder::default();
    let connection = recorder.connect().await;
    let url = support::serve(Router::new().route("/d", get(describe)).layer(connection.layer())).await;
    let text = reqwest::Client::new()
        .get(format!("{url}/d"))
        .header("x-filibuster-request-id", "chain-1")
        .header("x-filibuster-execution-index", r#"[["x", 2]]"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, r#"Some("a chain-1 [[\"x\", 2]]") None"#);
}

/// Its calls are only ever made outside the request's context.
#[filibuster::call]
async fn fetch_outside(app: App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

#[filibuster::handler(service = "a")]
async fn spawns_twice(State(app): State<App>) -> &'static str {
    for _ in 0..2 {
        tokio::spawn(fetch_outside(app.clone())).await.unwrap().unwrap();
    }
    "done"
}

/// The test runs on one thread (as `#[tokio::test]` does), so the subscriber
/// set for it sees the events of every task, the services' included.
#[tokio::test]
async fn a_call_outside_the_context_warns_once_per_callsite() {
    filibuster::enable();
    let warnings = support::Logs::of_target("filibuster_runtime::call");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let recorder = support::Recorder::default();
    let connection = recorder.connect().await;
    let b_url = support::serve(Router::new().route("/b", get(b)).layer(connection.layer())).await;
    let app = App { http: reqwest::Client::new(), b_url };
    let a_url = support::serve(
        Router::new().route("/spawns-twice", get(spawns_twice)).with_state(app).layer(connection.layer()),
    )
    .await;

    for _ in 0..2 {
        reqwest::get(format!("{a_url}/spawns-twice")).await.unwrap().error_for_status().unwrap();
    }
    assert_eq!(recorder.creates().len(), 0, "the calls went ahead uninstrumented");
    let warnings = warnings.of(tracing::Level::WARN);
    assert_eq!(warnings.len(), 1, "four calls from one callsite, one warning: {warnings:#?}");
    let warning = &warnings[0];
    let line = include_str!("test_spawned_calls.rs")
        .lines()
        .position(|l| l.contains("async fn fetch_outside"))
        .map(|i| i + 2)
        .unwrap();
    for expected in [
        format!(
            "`fetch_outside` at tests/test_spawned_calls.rs:{line} runs outside any instrumented request"
        ),
        "tokio::spawn(filibuster::in_current_request(async move { .. }))".to_owned(),
        "function=\"fetch_outside\"".to_owned(),
    ] {
        assert!(warning.contains(&expected), "{expected} in {warning}");
    }
}
