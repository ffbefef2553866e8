//! A functional test that fails under one particular fault yields a
//! counterexample file; replaying it runs that execution alone and fails
//! again; the report names the fault.

mod support;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{Counterexample, Explorer};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
}

#[filibuster::call]
async fn fetch(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).timeout(Duration::from_secs(10)).send().await
}

/// The bug: a timeout is taken for success.
#[filibuster::handler(service = "a")]
async fn a(State(app): State<App>) -> StatusCode {
    match fetch(&app).await {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        Err(error) if error.is_timeout() => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

async fn start(explorer: &Explorer) -> String {
    let layer = explorer.connection().layer();
    let b_url = support::serve(Router::new().route("/b", get(b)).layer(layer.clone())).await;
    let app = App { http: reqwest::Client::new(), b_url };
    format!("{}/a", support::serve(Router::new().route("/a", get(a)).with_state(app).layer(layer)).await)
}

async fn functional_test(ctx: filibuster::TestContext, url: String) -> Result<(), String> {
    let status = reqwest::get(url).await.map_err(|e| e.to_string())?.status();
    let expected = if ctx.fault_injected_on("b") { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    if status != expected {
        return Err(format!("expected {expected}, got {status}"));
    }
    Ok(())
}

#[tokio::test]
async fn failure_yields_a_counterexample_that_replays() {
    let dir = std::env::temp_dir().join(format!("filibuster-ce-{}", std::process::id()));
    let path = dir.join("counterexample.json");
    let explorer = Explorer::new().counterexample_file(&path).functional_test_name("a calls b");
    let url = start(&explorer).await;
    let report = explorer.run(|ctx| functional_test(ctx, url.clone())).await;

    // Depth first: 503, 502, 500 pass, then the timeout fails; the
    // connection error is never tried.
    assert_eq!((report.executions_run, report.executions_pruned, report.executions_remaining), (5, 0, 1));
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1);
    let failure = failures[0];
    assert_eq!(failure.faults.len(), 1);
    assert_eq!(failure.faults[0].fault, "reqwest.timeout");
    assert_eq!(failure.faults[0].call.path, "/b");
    assert!(failure.describe().contains("a -> b GET /b"), "{}", failure.describe());
    assert_eq!(report.counterexample_file.as_deref(), Some(path.as_path()));

    let counterexample = Counterexample::load(&path).unwrap();
    assert_eq!(counterexample.functional_test, "a calls b");
    assert_eq!(counterexample.faults.len(), 1);

    // Replay with fresh services and ports: the same execution fails again.
    let replayer = Explorer::new().replay(counterexample);
    let url = start(&replayer).await;
    let replay = replayer.run(|ctx| functional_test(ctx, url.clone())).await;
    assert_eq!(replay.executions_run, 1);
    let failures: Vec<_> = replay.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].faults[0].fault, "reqwest.timeout");
    assert_eq!(failures[0].calls[0].fault.as_deref(), Some("reqwest.timeout"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unparsable_counterexample_says_why() {
    let path = std::env::temp_dir().join(format!("filibuster-bad-ce-{}.json", std::process::id()));
    std::fs::write(&path, r#"{"TestExecution": "{\"failures\": 3}"}"#).unwrap();
    let error = Counterexample::load(&path).unwrap_err().to_string();
    assert!(
        error.contains(
            "does not parse: `TestExecution.failures`: invalid type: integer `3`, expected a sequence"
        ),
        "{error}"
    );
    std::fs::remove_file(&path).unwrap();
    let error = Counterexample::load(&path).unwrap_err().to_string();
    assert!(error.starts_with("cannot read counterexample file"), "{error}");
}
