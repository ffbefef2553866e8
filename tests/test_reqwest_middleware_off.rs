//! With the instrumentation off, a `.send()` of a
//! `reqwest_middleware::RequestBuilder` in a `#[filibuster::call]` fn is the
//! builder's own: the client's chain runs untouched (its retries, its
//! extensions), `Instrument` passes the requests on, nothing is reported
//! and no `X-Filibuster-*` header is sent.
//!
//! The switch is process-wide, so this is its own test binary, and nothing
//! here may call `filibuster::enable()`.
#![cfg(feature = "reqwest-middleware")]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::Extensions;
use axum::http::{HeaderMap, StatusCode};
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;

use support::{Recorder, filibuster_headers};

/// A value the caller puts in the request's extensions.
#[derive(Clone, Debug, PartialEq)]
struct Tag(&'static str);

/// Records the tag each request it sees carries.
#[derive(Clone, Default)]
struct Spy(Arc<Mutex<Vec<Option<Tag>>>>);

#[async_trait::async_trait]
impl Middleware for Spy {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.0.lock().unwrap().push(extensions.get::<Tag>().cloned());
        next.run(request, extensions).await
    }
}

#[filibuster::call]
async fn fetch(http: &ClientWithMiddleware, url: &str) -> reqwest_middleware::Result<reqwest::Response> {
    http.get(url).with_extension(Tag("mine")).send().await
}

#[filibuster::handler(service = "b")]
async fn flaky_b(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<HeaderMap>>>>,
    headers: HeaderMap,
) -> StatusCode {
    let mut seen = seen.lock().unwrap();
    seen.push(headers);
    if seen.len() == 1 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
}

#[tokio::test]
async fn off_the_chain_runs_untouched() {
    assert!(!filibuster::enabled());
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let b_url = support::serve(
        Router::new()
            .route("/b", axum::routing::get(flaky_b))
            .with_state(seen.clone())
            .layer(connection.layer()),
    )
    .await;
    let (above, below) = (Spy::default(), Spy::default());
    let retries = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(2))
        .build_with_max_retries(2);
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(above.clone())
        .with(RetryTransientMiddleware::new_with_policy(retries))
        .with(below.clone())
        .with(filibuster::middleware::Instrument)
        .build();

    let response = fetch(&http, &format!("{b_url}/b")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(above.0.lock().unwrap().clone(), [Some(Tag("mine"))]);
    assert_eq!(below.0.lock().unwrap().clone(), [Some(Tag("mine")), Some(Tag("mine"))], "retried once");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for headers in &seen {
        assert_eq!(filibuster_headers(headers), Default::default());
    }
    assert_eq!(recorder.records(), []);
}
