//! Conformance: service `a` calls `b` through a `#[filibuster::call]`; a
//! recording endpoint stands where the Filibuster server would be and checks,
//! field by field, every record and the headers that reach `b`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::json;

mod support;
use support::{Recorder, md5, serve};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
    seen_by_b: Arc<Mutex<Option<HeaderMap>>>,
}

#[filibuster::handler(service = "a")]
async fn start(State(app): State<App>) -> String {
    match fetch_b(&app).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("error: {error}"),
    }
}

#[filibuster::call]
async fn fetch_b(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http
        .get(format!("{}/hello", app.b_url))
        .timeout(Duration::from_secs(10))
        .send() // SEND-MARKER
        .await
}

#[filibuster::handler(service = "b")]
async fn hello(State(app): State<App>, headers: HeaderMap) -> &'static str {
    *app.seen_by_b.lock().unwrap() = Some(headers);
    "hello from b"
}

#[tokio::test]
async fn records_and_headers_match_the_protocol() {
    filibuster::enable();
    let recorder = Recorder::starting_at(7);
    let connection = recorder.connect().await;

    let seen_by_b = Arc::new(Mutex::new(None));
    let app = App { http: reqwest::Client::new(), b_url: String::new(), seen_by_b: seen_by_b.clone() };
    let b_url =
        serve(Router::new().route("/hello", get(hello)).with_state(app.clone()).layer(connection.layer()))
            .await;
    let a_url = serve(
        Router::new().route("/start", get(start)).with_state(App { b_url, ..app }).layer(connection.layer()),
    )
    .await;

    let body = reqwest::get(format!("{a_url}/start")).await.unwrap().text().await.unwrap();
    assert_eq!(body, "hello from b");

    // The callsite id: md5 of "<package>:<file relative to the package>:<fn>#<ordinal>".
    let callsite = md5("filibuster:tests/test_conformance.rs:fetch_b#1");
    assert_eq!(callsite, "c72da5b9dc37738b74990b0c6f71b2d3");
    let call_hash = md5(&format!(r#"{callsite}-reqwest-GET-"/hello""#));
    let ei = format!(r#"[["{call_hash}", 1]]"#);
    let send_line = include_str!("test_conformance.rs")
        .lines()
        .position(|l| l.ends_with("// SEND-MARKER"))
        .map(|i| (i + 1).to_string())
        .unwrap();

    let records = recorder.records();
    assert_eq!(records.len(), 3, "{records:#?}");

    let (endpoint, create) = &records[0];
    assert_eq!(endpoint, "create");
    let callsite_file = create["callsite_file"].as_str().unwrap();
    assert!(callsite_file.ends_with("test_conformance.rs"), "{callsite_file}");
    assert_eq!(
        create,
        &json!({
            "instrumentation_type": "invocation",
            "source_service_name": "a",
            "module": "reqwest",
            "method": "GET",
            "args": ["/hello"],
            "kwargs": {},
            "callsite_file": callsite_file,
            "callsite_line": send_line,
            "full_traceback": callsite,
            "metadata": {"timeout": 10.0},
            "vclock": {"a": 1},
            "origin_vclock": {},
            "execution_index": ei,
        })
    );

    let (endpoint, received) = &records[1];
    assert_eq!(endpoint, "update");
    assert_eq!(
        received,
        &json!({
            "instrumentation_type": "request_received",
            "generated_id": "7",
            "execution_index": ei,
            "target_service_name": "b",
        })
    );

    let (endpoint, complete) = &records[2];
    assert_eq!(endpoint, "update");
    assert_eq!(
        complete,
        &json!({
            "instrumentation_type": "invocation_complete",
            "generated_id": 7,
            "execution_index": ei,
            "vclock": {"a": 1},
            "return_value": {"__class__": "Response", "status_code": "200", "text": md5("hello from b")},
        })
    );

    let headers = seen_by_b.lock().unwrap().clone().unwrap();
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("x-filibuster-generated-id").as_deref(), Some("7"));
    assert_eq!(header("x-filibuster-vclock").as_deref(), Some(r#"{"a": 1}"#));
    assert_eq!(header("x-filibuster-origin-vclock").as_deref(), Some(r#"{"a": 1}"#));
    assert_eq!(header("x-filibuster-execution-index"), Some(ei.clone()));
    let request_id = header("x-filibuster-request-id").unwrap();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    assert_eq!(header("x-filibuster-forced-sleep"), None);
}
