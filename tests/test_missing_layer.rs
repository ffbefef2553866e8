//! A router started for an in-process exploration without the explorer's
//! layer used to send its calls quietly to the HTTP default (unreachable,
//! never faulted), and the run passed with fewer executions. Now the run
//! fails, naming the service.
//!
//! Alone in its test binary: a handler without a layer is reported to every
//! exploration running in the process.

mod support;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use filibuster::{Explorer, RunError, Verdict};

#[filibuster::call]
async fn fetch(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

#[filibuster::handler(service = "a")]
async fn a(State((http, b)): State<(reqwest::Client, String)>) -> String {
    match fetch(&http, &b).await {
        Ok(response) => response.status().to_string(),
        Err(error) => error.to_string(),
    }
}

#[filibuster::handler(service = "b")]
async fn b(State((http, c)): State<(reqwest::Client, String)>) -> String {
    match fetch(&http, &c).await {
        Ok(response) => response.status().to_string(),
        Err(error) => error.to_string(),
    }
}

#[filibuster::handler(service = "c")]
async fn c() -> &'static str {
    "c"
}

#[tokio::test]
async fn a_router_without_the_layer_fails_the_run_naming_its_service() {
    let explorer = Explorer::new();
    let layer = explorer.connection().layer();
    let http = reqwest::Client::new();
    let c_url = support::serve(Router::new().route("/c", get(c)).layer(layer.clone())).await;
    // `b`'s router forgot the layer.
    let b_url =
        support::serve(Router::new().route("/b", get(b)).with_state((http.clone(), format!("{c_url}/c"))))
            .await;
    let a_url = support::serve(
        Router::new().route("/a", get(a)).with_state((http, format!("{b_url}/b"))).layer(layer),
    )
    .await;

    let report = explorer.run(|_| async { reqwest::get(format!("{a_url}/a")).await.map(|_| ()) }).await;
    assert_eq!(report.verdict(), Verdict::Untested, "{}", report.summary());
    assert_eq!(report.errors, [RunError::MissingLayer { services: vec!["b".into()] }]);
    assert_eq!(report.executions_run, 1, "the run stops at the first execution");
    let message = report.failure_message();
    assert!(
        message.contains("handlers of `b` ran in a router without the explorer's layer")
            && message.contains(".layer(explorer.connection().layer())"),
        "{message}"
    );
    let panic = std::panic::catch_unwind(|| report.assert_passed()).unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("`b`"));
}
