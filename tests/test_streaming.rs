//! An instrumented `.send()` returns as soon as the response's head is in:
//! a body streamed by the server after the caller reacted to the head still
//! reaches the caller, and the call is reported without the body's md5.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use tokio::sync::Notify;

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
    head_seen: Arc<Notify>,
}

#[filibuster::call]
async fn fetch(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/stream", app.b_url)).send().await
}

#[filibuster::handler(service = "a")]
async fn a(State(app): State<App>) -> String {
    let response = fetch(&app).await.unwrap();
    app.head_seen.notify_one();
    response.text().await.unwrap()
}

/// Sends one chunk, then the rest only once `a` has seen the head.
async fn stream(State(app): State<App>) -> Body {
    let chunks = futures_util::stream::unfold(0, move |step| {
        let head_seen = app.head_seen.clone();
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>("first ".to_owned()), 1)),
                1 => {
                    head_seen.notified().await;
                    Some((Ok("second".to_owned()), 2))
                }
                _ => None,
            }
        }
    });
    Body::from_stream(chunks)
}

#[tokio::test]
async fn send_does_not_wait_for_a_streamed_body() {
    filibuster::enable();
    let recorder = support::Recorder::default();
    let connection = recorder.connect().await;
    let app = App { http: reqwest::Client::new(), b_url: String::new(), head_seen: Arc::new(Notify::new()) };
    let b_url = support::serve(Router::new().route("/stream", get(stream)).with_state(app.clone())).await;
    let app = App { b_url, ..app };
    let a_url =
        support::serve(Router::new().route("/a", get(a)).with_state(app).layer(connection.layer())).await;

    let body = tokio::time::timeout(Duration::from_secs(20), async {
        reqwest::get(format!("{a_url}/a")).await.unwrap().text().await.unwrap()
    })
    .await
    .expect("the instrumented send waited for the whole body");
    assert_eq!(body, "first second");

    let complete = recorder.updates_of("invocation_complete");
    assert_eq!(complete.len(), 1);
    assert_eq!(
        complete[0]["return_value"],
        serde_json::json!({"__class__": "Response", "status_code": "200"})
    );
}
