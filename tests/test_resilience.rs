//! The instrumentation never breaks a service: an unreachable Filibuster
//! server, a server answering nonsense, malformed Filibuster headers on an
//! incoming request and odd forced-sleep values all leave the service
//! working, un-faulted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::routing::{get, post, put};
use filibuster::ExecutionIndex;
use filibuster::headers::{EXECUTION_INDEX, FORCED_SLEEP, GENERATED_ID, ORIGIN_VCLOCK, REQUEST_ID, VCLOCK};
use serde_json::json;

mod support;
use support::{Downstream, Recorder, call_hash, ei, header, md5, serve};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
}

/// Calls `b` twice and reports what came back.
#[filibuster::handler(service = "a")]
async fn twice(State(app): State<App>) -> String {
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(match fetch_b(&app).await {
            Ok(response) => format!("{} {}", response.status().as_u16(), response.text().await.unwrap()),
            Err(error) => format!("error: {error}"),
        });
    }
    answers.join(", ")
}

#[filibuster::call]
async fn fetch_b(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

const TWO_REAL_ANSWERS: &str = "200 hello from b, 200 hello from b";

/// Serves `a` (handler `twice` at `/start`) calling `b_url`, connected to `connection`.
async fn serve_a(b_url: String, connection: &filibuster::Connection) -> String {
    let app = App { http: reqwest::Client::new(), b_url };
    serve(Router::new().route("/start", get(twice)).with_state(app).layer(connection.layer())).await
}

async fn get_text(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn an_unreachable_server_lets_calls_go_ahead() {
    filibuster::enable();
    // A port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let connection = filibuster::Connection::http(format!("http://127.0.0.1:{port}"));
    let b = Downstream::default();
    let a_url = serve_a(b.serve().await, &connection).await;

    // Twice, so that calls go ahead also once the server is known to be down.
    for _ in 0..2 {
        assert_eq!(get_text(reqwest::Client::new().get(format!("{a_url}/start"))).await, TWO_REAL_ANSWERS);
    }
    let seen = b.seen();
    assert_eq!(seen.len(), 4);
    // Un-faulted and unreported, the calls still carry the request chain's id
    // (one per request to `a`), and nothing the server would have given.
    let ids: Vec<_> = seen.iter().map(|h| h.get(REQUEST_ID).unwrap().to_str().unwrap().to_owned()).collect();
    assert_eq!((ids[0] == ids[1], ids[2] == ids[3], ids[0] != ids[2]), (true, true, true), "{ids:?}");
    assert!(seen.iter().all(|h| h.get(GENERATED_ID).is_none() && h.get(EXECUTION_INDEX).is_none()));
}

/// A stand-in for a Filibuster server that answers `create` and `update`
/// with fixed statuses and bodies, counting the requests to `create`.
struct BadServer {
    creates: Arc<AtomicUsize>,
    url: String,
}

async fn bad_server(create: Answer, update: Answer) -> BadServer {
    let creates = Arc::new(AtomicUsize::new(0));
    let answer = |(status, body): Answer| {
        (status, [(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
    };
    let router = Router::new()
        .route(
            "/filibuster/create",
            put(move |State(creates): State<Arc<AtomicUsize>>| async move {
                creates.fetch_add(1, Ordering::SeqCst);
                answer(create)
            }),
        )
        .route("/filibuster/update", post(move || async move { answer(update) }))
        .with_state(creates.clone());
    BadServer { creates, url: serve(router).await }
}

/// A fault a server means to inject, sent with an error status or without
/// the id that makes the answer valid: neither may be acted on.
const FAULT_503: &str =
    r#"{"generated_id": 1, "failure_metadata": {"return_value": {"status_code": "503"}}}"#;
const FAULT_CONNECT: &str = r#"{"generated_id": 1, "forced_exception": {"name": "reqwest.connect"}}"#;
/// A status and a JSON body.
type Answer = (StatusCode, &'static str);
const OK: Answer = (StatusCode::OK, "{}");

#[tokio::test]
async fn a_server_answering_nonsense_lets_calls_go_ahead_unfaulted() {
    filibuster::enable();
    let cases: [(Answer, Answer); 10] = [
        ((StatusCode::OK, r#"{"generated_id": "#), OK),
        ((StatusCode::OK, "not json"), OK),
        ((StatusCode::OK, "[]"), OK),
        ((StatusCode::OK, r#"{"generated_id": "seven"}"#), OK),
        ((StatusCode::OK, r#"{"failure_metadata": {"return_value": {"status_code": "503"}}}"#), OK),
        ((StatusCode::INTERNAL_SERVER_ERROR, FAULT_503), OK),
        ((StatusCode::INTERNAL_SERVER_ERROR, FAULT_CONNECT), OK),
        ((StatusCode::NOT_FOUND, "{}"), OK),
        // A failure with a status code that is none.
        (
            (
                StatusCode::OK,
                r#"{"generated_id": 1, "failure_metadata": {"return_value": {"status_code": "abc"}}}"#,
            ),
            OK,
        ),
        // A valid create, then an update that fails.
        ((StatusCode::OK, r#"{"generated_id": 1}"#), (StatusCode::INTERNAL_SERVER_ERROR, "oops")),
    ];
    for (create, update) in cases {
        let server = bad_server(create, update).await;
        let connection = filibuster::Connection::http(&server.url);
        let b = Downstream::default();
        let a_url = serve_a(b.serve().await, &connection).await;
        let body = get_text(reqwest::Client::new().get(format!("{a_url}/start"))).await;
        assert_eq!(body, TWO_REAL_ANSWERS, "create answered {create:?}, update {update:?}");
        assert_eq!(server.creates.load(Ordering::SeqCst), 2, "the server was asked: {create:?}");
        assert_eq!(b.seen().len(), 2, "{create:?}");
    }
}

/// One call to `b`.
#[filibuster::handler(service = "a")]
async fn once(State(app): State<App>) -> String {
    fetch_b(&app).await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn malformed_incoming_headers_are_ignored() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let b = Downstream::default();
    let app = App { http: reqwest::Client::new(), b_url: b.serve().await };
    let a_url =
        serve(Router::new().route("/start", get(once)).with_state(app).layer(connection.layer())).await;
    let client = reqwest::Client::new();
    let root_ei = ei(&[(&call_hash(&md5("filibuster:tests/test_resilience.rs:fetch_b#1"), "GET", "/b"), 1)]);

    // Every header malformed: the request is served as one from outside.
    let request = client
        .get(format!("{a_url}/start"))
        .header(EXECUTION_INDEX, "not json")
        .header(VCLOCK, "[1]")
        .header(ORIGIN_VCLOCK, "{")
        .header(GENERATED_ID, "abc")
        .header(REQUEST_ID, "   ")
        .header(FORCED_SLEEP, "soon");
    assert_eq!(get_text(request).await, "hello from b");
    let creates = recorder.creates();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["execution_index"], root_ei);
    assert_eq!(creates[0]["vclock"], json!({"a": 1}));
    assert_eq!(creates[0]["origin_vclock"], json!({}));
    assert!(recorder.updates_of("request_received").is_empty(), "{:#?}", recorder.records());
    let request_id = header(&b.seen()[0], REQUEST_ID).unwrap();
    assert_eq!(request_id.len(), 36, "a fresh UUID: {request_id:?}");

    // A malformed execution index among well-formed headers: the call gets a
    // root index (one pair), the well-formed clocks still count.
    let malformed: [&[u8]; 9] = [
        b"not json",
        b"{}",
        b"{\"x\": 1}",
        b"[[1, 1]]",
        b"[[\"x\"]]",
        b"[[\"x\", 0]]",
        b"[[\"x\", -1]]",
        b"[[\"x\", 1]",
        b"[[\"x\xff\", 1]]",
    ];
    for (n, value) in malformed.into_iter().enumerate() {
        let request = client
            .get(format!("{a_url}/start"))
            .header(EXECUTION_INDEX, HeaderValue::from_bytes(value).unwrap())
            .header(VCLOCK, r#"{"t": 1}"#)
            .header(ORIGIN_VCLOCK, r#"{"t": 1}"#)
            .header(GENERATED_ID, "3");
        assert_eq!(get_text(request).await, "hello from b");
        let creates = recorder.creates();
        assert_eq!(creates.len(), n + 2);
        let create = &creates[n + 1];
        let text = String::from_utf8_lossy(value);
        assert_eq!(create["execution_index"], root_ei, "{text}");
        assert_eq!(ExecutionIndex::parse(create["execution_index"].as_str().unwrap()).unwrap().len(), 1);
        assert_eq!(create["vclock"], json!({"a": 1, "t": 1}), "{text}");
        assert_eq!(create["origin_vclock"], json!({"t": 1}), "{text}");
    }
}

/// Counts its runs.
#[filibuster::handler(service = "c")]
async fn leaf(State(runs): State<Arc<AtomicUsize>>) -> String {
    format!("run {}", runs.fetch_add(1, Ordering::SeqCst) + 1)
}

#[tokio::test]
async fn forced_sleeps_of_zero_or_nonsense_let_the_handler_run() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let url =
        serve(Router::new().route("/leaf", get(leaf)).with_state(runs.clone()).layer(connection.layer()))
            .await;
    let client = reqwest::Client::new();
    let values = [
        "0", "0.0", " 0 ", "0.001", "1e-400", "-0", "-0.0", "-1", "-0.5", "inf", "-inf", "NaN", "1e400", "",
        "soon",
    ];
    for (n, value) in values.into_iter().enumerate() {
        let request = client.get(format!("{url}/leaf")).header(FORCED_SLEEP, value);
        assert_eq!(get_text(request).await, format!("run {}", n + 1), "forced sleep {value:?}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), values.len());
    // Not reached by an instrumented call: nothing to report.
    assert_eq!(recorder.records(), []);
}

/// One call to `b`, from a service named `users`.
#[filibuster::handler(service = "users")]
async fn users_once(State(app): State<App>) -> String {
    fetch_b(&app).await.unwrap().text().await.unwrap()
}

/// A clock whose own entry is already at `u64::MAX` (any client can send
/// one) saturates when the call increments it: no panic in the handler (a
/// debug build overflowed), no wrap to 0 (a release build did), a normal
/// answer, and the call reported with the saturated clock.
#[tokio::test]
async fn a_clock_at_the_largest_count_saturates() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let b = Downstream::default();
    let app = App { http: reqwest::Client::new(), b_url: b.serve().await };
    let url =
        serve(Router::new().route("/start", get(users_once)).with_state(app).layer(connection.layer())).await;
    let client = reqwest::Client::new();
    let max = r#"{"users": 18446744073709551615}"#;
    // Alone, then as an instrumented call's headers.
    let requests = [
        client.get(format!("{url}/start")).header(VCLOCK, max),
        client
            .get(format!("{url}/start"))
            .header(VCLOCK, max)
            .header(ORIGIN_VCLOCK, max)
            .header(EXECUTION_INDEX, r#"[["x", 1]]"#)
            .header(GENERATED_ID, "18446744073709551615"),
    ];
    for (n, request) in requests.into_iter().enumerate() {
        assert_eq!(get_text(request).await, "hello from b");
        let creates = recorder.creates();
        assert_eq!(creates.len(), n + 1);
        assert_eq!(creates[n]["vclock"], json!({"users": u64::MAX}), "{:#?}", creates[n]);
        assert_eq!(header(&b.seen()[n], VCLOCK).as_deref(), Some(max));
    }
    assert_eq!(recorder.creates()[1]["origin_vclock"], json!({"users": u64::MAX}));
    let received = recorder.updates_of("request_received");
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["generated_id"], "18446744073709551615");
}
