//! A handler without `#[filibuster::handler]` (and no `ServiceLayer` on its
//! router) used to make its calls quietly un-instrumented, never faulted,
//! and the run passed, though the app mishandled the faults it never saw.
//! Now the run fails, naming the calls. The functional test's own calls
//! through `#[filibuster::call]` fns, and a service's background work in
//! `filibuster::outside_requests`, are outside requests on purpose: nothing
//! is said of them.
//!
//! Alone in its test binary: a call outside requests is reported to every
//! exploration running in the process.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{Explorer, RunError, Verdict};

#[filibuster::call]
async fn fetch(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

/// a answers b's status, or 503 when b cannot be reached.
#[filibuster::handler(service = "a")]
async fn a(State((http, b)): State<(reqwest::Client, String)>) -> StatusCode {
    match fetch(&http, &b).await {
        Ok(response) => response.status(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// `b` forgot its attribute, and mishandles a failure of `c` with a 500: a
/// fault on its call would show it.
async fn b_without_attribute(State((http, c)): State<(reqwest::Client, String)>) -> StatusCode {
    match fetch(&http, &c).await {
        Ok(response) if response.status().is_success() => StatusCode::OK,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[filibuster::handler(service = "c")]
async fn c() -> &'static str {
    "c"
}

/// Starts c, then b (without the attribute when `forgotten`), then a; all
/// with the explorer's layer. a's URL.
async fn start(explorer: &Explorer, forgotten: bool) -> String {
    #[filibuster::handler(service = "b")]
    async fn b(state: State<(reqwest::Client, String)>) -> StatusCode {
        b_without_attribute(state).await
    }
    let layer = explorer.connection().layer();
    let http = reqwest::Client::new();
    let c_url = support::serve(Router::new().route("/c", get(c)).layer(layer.clone())).await;
    let b_router = match forgotten {
        true => Router::new().route("/b", get(b_without_attribute)),
        false => Router::new().route("/b", get(b)),
    };
    let b_url =
        support::serve(b_router.with_state((http.clone(), format!("{c_url}/c"))).layer(layer.clone())).await;
    support::serve(Router::new().route("/a", get(a)).with_state((http, format!("{b_url}/b"))).layer(layer))
        .await
}

/// The functional test: a's answer is 200 or 503, never a 500.
async fn get_a(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let status = fetch(http, url).await.map_err(|e| e.to_string())?.status();
    match status.as_u16() {
        200 | 503 => Ok(()),
        other => Err(format!("a answered {other}")),
    }
}

/// In one test, one exploration after the other: a call outside requests
/// is told to every exploration running in the process.
#[tokio::test]
async fn a_handler_without_the_attribute_fails_the_run_naming_its_calls() {
    let explorer = Explorer::new();
    let a_url = format!("{}/a", start(&explorer, true).await);
    let http = reqwest::Client::new();
    // The test calls a through a `#[filibuster::call]` fn: on the test's
    // side, not a call outside requests.
    let report = explorer.run(|_| get_a(&http, &a_url)).await;
    assert_eq!(report.verdict(), Verdict::Untested, "{}", report.summary());
    let [RunError::CallsOutsideRequests { calls }] = &report.errors[..] else {
        panic!("{:?}", report.errors)
    };
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].starts_with("`fetch` at tests/test_missing_handler.rs:"), "{calls:?}");
    assert_eq!(report.executions_run, 1, "the run stops at the first execution");
    let message = report.failure_message();
    assert!(message.contains("#[filibuster::handler]") && message.contains("`fetch` at"), "{message}");

    // With the attribute, the same app is explored and its bug found.
    let explorer = Explorer::new();
    let a_url = format!("{}/a", start(&explorer, false).await);
    let report = explorer.run(|_| get_a(&http, &a_url)).await;
    assert_eq!(report.errors, []);
    assert_eq!(report.verdict(), Verdict::Failed, "{}", report.summary());

    // A service's background job, spawned while the test runs, in
    // `outside_requests`: nothing said, the run goes on.
    let explorer = Explorer::new().keep_going(true);
    let a_url = format!("{}/a", start(&explorer, false).await);
    let c_url = a_url.replace("/a", "/c");
    let background = Arc::new(AtomicUsize::new(0));
    let report = explorer
        .run(|_| {
            let (http, a_url, c_url, background) =
                (http.clone(), a_url.clone(), c_url.clone(), background.clone());
            async move {
                let job = tokio::spawn(filibuster::outside_requests(async move {
                    let response = fetch(&reqwest::Client::new(), &c_url).await;
                    background.fetch_add(1, Ordering::SeqCst);
                    response
                }));
                job.await.expect("the job ends").map_err(|e| e.to_string())?;
                get_a(&http, &a_url).await
            }
        })
        .await;
    assert_eq!(report.errors, [], "{}", report.summary());
    assert_eq!(background.load(Ordering::SeqCst), report.executions_run + 1, "one job per run of the test");
}
