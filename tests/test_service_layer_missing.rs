//! A `ServiceLayer` that finds no connection on its requests while an
//! explorer runs (the router has no connection layer, or has it inside the
//! service layer, where it runs too late) fails the run naming the service,
//! as a handler with `#[filibuster::handler]` without a layer does.
//!
//! Alone in its test binary: a request without a connection is reported to
//! every exploration running in the process.

mod support;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use filibuster::{Explorer, RunError, ServiceLayer, Verdict};

#[filibuster::call]
async fn fetch(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

async fn relay(State((http, url)): State<(reqwest::Client, String)>) -> String {
    match fetch(&http, &url).await {
        Ok(response) => response.status().to_string(),
        Err(error) => error.to_string(),
    }
}

async fn leaf() -> &'static str {
    "c"
}

#[derive(Debug, Clone, Copy)]
enum Mistake {
    NoConnectionLayer,
    ConnectionLayerInside,
}

/// a -> b -> c, each instrumented by a `ServiceLayer`; b's router makes `mistake`.
async fn explore(mistake: Mistake) {
    let explorer = Explorer::new();
    let http = reqwest::Client::new();
    let c = support::serve(
        Router::new()
            .route("/c", get(leaf))
            .layer(ServiceLayer::new("c"))
            .layer(explorer.connection().layer()),
    )
    .await;
    let b = Router::new().route("/b", get(relay)).with_state((http.clone(), format!("{c}/c")));
    let b = match mistake {
        Mistake::NoConnectionLayer => b.layer(ServiceLayer::new("b")),
        Mistake::ConnectionLayerInside => {
            b.layer(explorer.connection().layer()).layer(ServiceLayer::new("b"))
        }
    };
    let b = support::serve(b).await;
    let a = support::serve(
        Router::new()
            .route("/a", get(relay))
            .with_state((http, format!("{b}/b")))
            .layer(ServiceLayer::new("a"))
            .layer(explorer.connection().layer()),
    )
    .await;

    let report = explorer.run(|_| async { reqwest::get(format!("{a}/a")).await.map(|_| ()) }).await;
    assert_eq!(report.verdict(), Verdict::Untested, "{mistake:?}: {}", report.summary());
    assert_eq!(report.errors, [RunError::MissingLayer { services: vec!["b".into()] }], "{mistake:?}");
    assert_eq!(report.executions_run, 1, "{mistake:?}: the run stops at the first execution");
}

#[tokio::test]
async fn a_service_layer_without_a_connection_fails_the_run_naming_its_service() {
    // One after the other: each exploration would see the other's mistake.
    explore(Mistake::NoConnectionLayer).await;
    explore(Mistake::ConnectionLayerInside).await;
}
