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

/// Service `a` calling `b` with the reqwest crate `$reqwest`: its state
/// `$app`, its `#[filibuster::call]` fn `$fetch` and its handler `$a`, which
/// writes down exactly what the call returned, as the application sees it.
macro_rules! service_a {
    ($reqwest:ident, $app:ident, $fetch:ident, $a:ident, $router:ident) => {
        /// Its router, writing what it saw to `seen`.
        fn $router(b_url: String, seen: Arc<Mutex<Vec<String>>>) -> Router {
            let app = $app { http: $reqwest::Client::new(), b_url, seen };
            Router::new().route("/a", get($a)).with_state(app)
        }

        #[derive(Clone)]
        struct $app {
            http: $reqwest::Client,
            b_url: String,
            seen: Arc<Mutex<Vec<String>>>,
        }

        #[filibuster::call]
        async fn $fetch(app: &$app) -> $reqwest::Result<$reqwest::Response> {
            app.http.get(format!("{}/b", app.b_url)).timeout(Duration::from_secs(10)).send().await
        }

        #[filibuster::handler(service = "a")]
        async fn $a(State(app): State<$app>) -> &'static str {
            let seen = match $fetch(&app).await {
                Ok(response) => {
                    format!("response {} from {}", response.status().as_u16(), response.url().path())
                }
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
    };
}

service_a!(reqwest, App, fetch, a, router_a);
// The same with reqwest 0.12 (filibuster's `reqwest-0_12` feature): an app
// midway through the upgrade has both in one build.
service_a!(reqwest_0_12, App012, fetch_with_0_12, a_with_0_12, router_a_0_12);

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

/// Each fault reaches `a`'s code as its reqwest's own genuine value, with
/// reqwest 0.13 and with reqwest 0.12 (the same calls, the same faults).
#[tokio::test]
async fn faults_are_genuine_reqwest_values() {
    type Start = fn(String, Arc<Mutex<Vec<String>>>) -> Router;
    for router in [router_a as Start, router_a_0_12] {
        let explorer = Explorer::new();
        let layer = explorer.connection().layer();
        let b_url = support::serve(Router::new().route("/b", get(b)).layer(layer.clone())).await;
        let seen = Arc::default();
        let a_url = support::serve(router(b_url, Arc::clone(&seen)).layer(layer)).await;

        let report = explorer.run(|_| async { reqwest::get(format!("{a_url}/a")).await.map(|_| ()) }).await;
        assert!(report.passed(), "{}", report.failure_message());
        assert_eq!(report.executions_run, 6);
        let faults: Vec<&str> =
            report.executions.iter().flat_map(|e| &e.faults).map(|f| f.fault.as_str()).collect();
        assert_eq!(faults.len(), 5, "{faults:?}");
        for fault in ["reqwest.connect", "reqwest.timeout", "status 500", "status 502", "status 503"] {
            assert!(faults.contains(&fault), "{fault}: {faults:?}");
        }

        // The fault-free execution runs twice (the second run checks that it
        // makes the same calls, and is not counted), then one per fault.
        let mut seen = seen.lock().unwrap().clone();
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
}

/// Service `a` calling `b` through a reqwest-middleware 0.4 client (on
/// reqwest 0.12), `Instrument` last: what it saw.
#[derive(Clone)]
struct AppMiddleware04 {
    http: reqwest_middleware_0_4::ClientWithMiddleware,
    b_url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

#[filibuster::call]
async fn fetch_through_middleware_0_4(
    app: &AppMiddleware04,
) -> reqwest_middleware_0_4::Result<reqwest_0_12::Response> {
    app.http.get(format!("{}/b", app.b_url)).timeout(Duration::from_secs(10)).send().await
}

#[filibuster::handler(service = "a")]
async fn a_through_middleware_0_4(State(app): State<AppMiddleware04>) -> &'static str {
    let seen = match fetch_through_middleware_0_4(&app).await {
        Ok(response) => format!("response {} from {}", response.status().as_u16(), response.url().path()),
        Err(reqwest_middleware_0_4::Error::Reqwest(error)) => format!(
            "error connect={} timeout={} url={}",
            error.is_connect(),
            error.is_timeout(),
            error.url().map(|u| u.path()).unwrap_or("-"),
        ),
        Err(other) => format!("middleware error {other}"),
    };
    app.seen.lock().unwrap().push(seen);
    "done"
}

/// reqwest-middleware 0.4 (filibuster's `reqwest-middleware-0_4` feature):
/// the same exploration, the same genuine reqwest 0.12 values, through
/// the one `Instrument`.
#[tokio::test]
async fn faults_through_reqwest_middleware_0_4_are_genuine() {
    let explorer = Explorer::new();
    let layer = explorer.connection().layer();
    let b_url = support::serve(Router::new().route("/b", get(b)).layer(layer.clone())).await;
    let seen = Arc::default();
    let http = reqwest_middleware_0_4::ClientBuilder::new(reqwest_0_12::Client::new())
        .with(filibuster::middleware::Instrument)
        .build();
    let app = AppMiddleware04 { http, b_url, seen: Arc::clone(&seen) };
    let router = Router::new().route("/a", get(a_through_middleware_0_4)).with_state(app).layer(layer);
    let a_url = support::serve(router).await;
    let report = explorer.run(|_| async { reqwest::get(format!("{a_url}/a")).await.map(|_| ()) }).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.executions_run, 6);
    let mut seen = seen.lock().unwrap().clone();
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

/// An injected reqwest 0.12 connection error is the one a closed port
/// gives: same kind, same `Display`; an injected timeout is a timeout, as a
/// silent server's is.
#[tokio::test]
async fn injected_reqwest_0_12_errors_are_the_real_ones() {
    use filibuster::fault::ErrorKind;
    use filibuster::fault::reqwest_0_12 as fault_0_12;
    let closed = format!("http://127.0.0.1:{}/b", support::free_port());
    let real = fault_0_12::error_kind;
    let refused = fault_0_12::error(ErrorKind::Connect, &closed.parse().unwrap()).await;
    let genuine = reqwest_0_12::Client::new().get(&closed).send().await.unwrap_err();
    assert_eq!((real(&refused), real(&genuine)), (Some(ErrorKind::Connect), Some(ErrorKind::Connect)));
    assert_eq!(refused.to_string(), genuine.to_string());

    // A server that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/b", silent.local_addr().unwrap());
    let genuine =
        reqwest_0_12::Client::new().get(&url).timeout(Duration::from_millis(50)).send().await.unwrap_err();
    let injected = fault_0_12::error(ErrorKind::Timeout, &url.parse().unwrap()).await;
    assert!(genuine.is_timeout() && injected.is_timeout(), "{genuine:?} {injected:?}");
    assert_eq!((real(&injected), real(&genuine)), (Some(ErrorKind::Timeout), Some(ErrorKind::Timeout)));
    assert_eq!(injected.to_string(), genuine.to_string());
    drop(silent);
}
