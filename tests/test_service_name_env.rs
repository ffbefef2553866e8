//! The service's name from the environment: `#[filibuster::handler]`
//! without `service = ".."` and `ServiceLayer::from_env(env!("CARGO_PKG_NAME"))`
//! take `OTEL_SERVICE_NAME` (read once per process), else the package's
//! name; `service = ".."` and `ServiceLayer::new` keep theirs.
//!
//! Each case runs in a child process of this test binary, with its own
//! environment.

mod support;

use axum::Router;
use axum::routing::get;
use filibuster::{Connection, RequestContext, ServiceLayer};

/// The name of the service of the current request context, if any.
fn current_service() -> String {
    RequestContext::with_current(|context| context.service().to_owned()).unwrap_or_else(|| "none".into())
}

#[filibuster::handler]
async fn unnamed() -> String {
    current_service()
}

#[filibuster::handler(service = "users")]
async fn named() -> String {
    current_service()
}

async fn plain() -> String {
    current_service()
}

/// Run by the tests below in a child process: checks that the names are
/// `EXPECTED_SERVICE`.
#[tokio::test]
#[ignore = "run in a child process by its parent test (support::run_child)"]
async fn child_names() {
    let expected = std::env::var("EXPECTED_SERVICE").unwrap();
    filibuster::enable();
    // Never asked: no request here comes from an instrumented call.
    let connection = Connection::http(support::NOWHERE);
    let layer = ServiceLayer::from_env(env!("CARGO_PKG_NAME"));
    assert_eq!(layer.service(), expected);
    let url = support::serve(
        Router::new()
            .route("/unnamed", get(unnamed))
            .route("/named", get(named))
            .merge(Router::new().nest("/layered", Router::new().route("/x", get(plain)).layer(layer)))
            .merge(Router::new().route("/fixed", get(plain)).layer(ServiceLayer::new("bookings")))
            .layer(connection.layer()),
    )
    .await;
    for (path, service) in [
        ("/unnamed", expected.as_str()),
        ("/named", "users"),
        ("/layered/x", expected.as_str()),
        ("/fixed", "bookings"),
    ] {
        let body = reqwest::get(format!("{url}{path}")).await.unwrap().text().await.unwrap();
        assert_eq!(body, service, "{path}");
    }
}

#[test]
fn from_otel_service_name() {
    support::run_child(
        "child_names",
        &[("OTEL_SERVICE_NAME", " orders "), ("EXPECTED_SERVICE", "orders")],
        &[],
    );
}

#[test]
fn from_the_package_name() {
    // `filibuster`: the package of this test.
    support::run_child("child_names", &[("EXPECTED_SERVICE", "filibuster")], &["OTEL_SERVICE_NAME"]);
    support::run_child(
        "child_names",
        &[("OTEL_SERVICE_NAME", "  "), ("EXPECTED_SERVICE", "filibuster")],
        &[],
    );
}
