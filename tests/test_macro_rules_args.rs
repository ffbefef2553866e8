//! The attributes' arguments may come from a `macro_rules!`: a `$x:literal`
//! arrives wrapped in an invisible group (`Delimiter::None`), which the
//! attributes look through. A macro here stamps out a handler of a named
//! service calling through a `#[filibuster::call(id = ..)]` fn, and the
//! records the services send carry the literals' values.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

mod support;
use support::{Recorder, md5, serve};

/// A service `$service` whose handler `$handler` calls `GET <url>/b` from
/// the fn `$call`, whose calls have the callsite id `$id` (ordinal 1) and
/// report a client timeout of `$timeout` seconds.
macro_rules! calling_service {
    ($service:literal, $id:literal, $timeout:literal, $handler:ident, $call:ident) => {
        #[filibuster::call(id = $id, timeout = $timeout)]
        async fn $call(http: &reqwest::Client, url: &str) -> reqwest::Result<String> {
            http.get(format!("{url}/b")).send().await?.text().await
        }

        #[filibuster::handler(service = $service)]
        async fn $handler(State((http, url)): State<(reqwest::Client, String)>) -> String {
            $call(&http, &url).await.unwrap_or_else(|e| format!("error: {e}"))
        }
    };
}

/// A service `$service` answering `"b"`.
macro_rules! answering_service {
    ($service:literal, $handler:ident) => {
        #[filibuster::handler(service = $service)]
        async fn $handler() -> &'static str {
            "b"
        }
    };
}

calling_service!("front-from-macro", "front-fetch", 10, front, fetch_b);
answering_service!("back-from-macro", back);

#[tokio::test]
async fn service_names_and_callsite_ids_from_macro_rules_literals() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let b_url = serve(Router::new().route("/b", get(back)).layer(connection.layer())).await;
    let a_url = serve(
        Router::new()
            .route("/a", get(front))
            .with_state((reqwest::Client::new(), b_url))
            .layer(connection.layer()),
    )
    .await;

    let body = reqwest::get(format!("{a_url}/a")).await.unwrap().text().await.unwrap();
    assert_eq!(body, "b");

    let creates = recorder.creates();
    assert_eq!(creates.len(), 1, "{creates:#?}");
    assert_eq!(creates[0]["source_service_name"], "front-from-macro");
    // `id = $id`: the id of the fn's first `.send()` is md5("<id>#1").
    assert_eq!(creates[0]["full_traceback"], md5("front-fetch#1"));
    // `timeout = $timeout` is the call's timeout.
    assert_eq!(creates[0]["metadata"]["timeout"], 10.0);
    let received = recorder.updates_of("request_received");
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0]["target_service_name"], "back-from-macro");
}
