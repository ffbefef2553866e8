//! Injected faults reach the caller's code as the genuine reqwest values:
//! a `reqwest::Error` with `is_connect()` or `is_timeout()`, or a
//! `reqwest::Response` with the injected status. The application's own error
//! handling runs unchanged.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use filibuster::Explorer;

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

#[filibuster::call]
async fn fetch(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).timeout(Duration::from_secs(10)).send().await
}

/// Writes down exactly what the call returned, as the application sees it.
#[filibuster::handler(service = "a")]
async fn a(State(app): State<App>) -> &'static str {
    let seen = match fetch(&app).await {
        Ok(response) => format!("response {} from {}", response.status().as_u16(), response.url().path()),
        Err(error) => format!(
            "error connect={} timeout={} url={}",
            error.is_connect(),
            error.is_timeout(),
            error.url().map(|u| u.path()).unwrap_or("-"),
        ),
    };
    app.seen.lock().unwrap().push(seen);
    "done"
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

#[tokio::test]
async fn faults_are_genuine_reqwest_values() {
    let explorer = Explorer::new();
    let layer = explorer.connection().layer();
    let b_url = support::serve(Router::new().route("/b", get(b)).layer(layer.clone())).await;
    let app = App { http: reqwest::Client::new(), b_url, seen: Arc::default() };
    let a_url = support::serve(Router::new().route("/a", get(a)).with_state(app.clone()).layer(layer)).await;

    let report = explorer.run(|_| async { reqwest::get(format!("{a_url}/a")).await.map(|_| ()) }).await;
    assert!(report.passed());
    assert_eq!(report.executions_run, 6);

    // The fault-free execution runs twice (the second run checks that it
    // makes the same calls, and is not counted), then one per fault.
    let mut seen = app.seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            "error connect=false timeout=true url=/b",
            "error connect=true timeout=false url=/b",
            "response 200 from /b",
            "response 200 from /b",
            "response 500 from /b",
            "response 502 from /b",
            "response 503 from /b",
        ]
    );
}
