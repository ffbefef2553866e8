//! Invocation counts, clocks and request ids of repeated calls: three
//! identical calls from one request get execution indices with counts 1, 2,
//! 3 and clocks `{"a": 1}`, `{"a": 2}`, `{"a": 3}`, under the incoming
//! Filibuster headers when there are some; concurrent requests to the same
//! handler never share clocks or counters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use filibuster::headers::{EXECUTION_INDEX, GENERATED_ID, ORIGIN_VCLOCK, REQUEST_ID, VCLOCK};
use filibuster::{ExecutionIndex, VectorClock};
use serde_json::{Value, json};
use tokio::sync::Barrier;

mod support;
use support::{Downstream, Recorder, call_hash, ei, header, md5, serve};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
}

/// Three identical calls to `b`, one after the other.
#[filibuster::handler(service = "a")]
async fn three_calls(State(app): State<App>) -> String {
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(fetch_b(&app).await.unwrap().text().await.unwrap());
    }
    bodies.join(",")
}

/// Two identical calls to `b`, one after the other.
#[filibuster::handler(service = "a")]
async fn two_calls(State(app): State<App>) -> String {
    let mut bodies = Vec::new();
    for _ in 0..2 {
        bodies.push(fetch_b(&app).await.unwrap().text().await.unwrap());
    }
    bodies.join(",")
}

#[filibuster::call]
async fn fetch_b(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

/// The hash every call of `fetch_b` pushes.
fn fetch_b_hash() -> String {
    call_hash(&md5("filibuster:tests/test_invocation_counts.rs:fetch_b#1"), "GET", "/b")
}

/// Serves `a` with `handler` at `/start`, calling `b_url`, connected to `recorder`.
async fn serve_a(
    handler: axum::routing::MethodRouter<App>,
    b_url: String,
    connection: &filibuster::Connection,
) -> String {
    let app = App { http: reqwest::Client::new(), b_url };
    serve(Router::new().route("/start", handler).with_state(app).layer(connection.layer())).await
}

fn vclock(value: &Value) -> VectorClock {
    serde_json::from_value(value.clone()).unwrap()
}

#[tokio::test]
async fn repeated_calls_from_the_first_service_count_up() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let b = Downstream::default();
    let a_url = serve_a(get(three_calls), b.serve().await, &connection).await;

    let body = reqwest::get(format!("{a_url}/start")).await.unwrap().text().await.unwrap();
    assert_eq!(body, "hello from b,hello from b,hello from b");

    let h = fetch_b_hash();
    let expected_eis: Vec<String> = (1..=3).map(|n| ei(&[(&h, n)])).collect();

    let creates = recorder.creates();
    assert_eq!(creates.len(), 3, "{creates:#?}");
    for (n, create) in creates.iter().enumerate() {
        let count = n as u64 + 1;
        assert_eq!(create["source_service_name"], "a");
        assert_eq!(create["execution_index"], expected_eis[n], "call {count}");
        assert_eq!(create["vclock"], json!({"a": count}), "call {count}");
        assert_eq!(create["origin_vclock"], json!({}), "call {count}");
        let parsed = ExecutionIndex::parse(create["execution_index"].as_str().unwrap()).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed.steps()[0].hash, h);
        assert_eq!(parsed.steps()[0].count as u64, count);
    }

    // Each call completes, in order, with the clock it was made with.
    let completes = recorder.updates_of("invocation_complete");
    assert_eq!(completes.len(), 3, "{:#?}", recorder.records());
    for (n, complete) in completes.iter().enumerate() {
        assert_eq!(complete["generated_id"], n as u64 + 1);
        assert_eq!(complete["execution_index"], expected_eis[n]);
        assert_eq!(complete["vclock"], json!({"a": n + 1}));
    }
    // `b` is not instrumented: nothing reports request_received.
    assert!(recorder.updates_of("request_received").is_empty(), "{:#?}", recorder.records());

    // What reached `b`.
    let seen = b.seen();
    assert_eq!(seen.len(), 3);
    let request_ids: Vec<String> = seen.iter().map(|h| header(h, REQUEST_ID).unwrap()).collect();
    for (n, headers) in seen.iter().enumerate() {
        let clock = format!(r#"{{"a": {}}}"#, n + 1);
        assert_eq!(header(headers, EXECUTION_INDEX).as_deref(), Some(expected_eis[n].as_str()));
        assert_eq!(header(headers, VCLOCK).as_deref(), Some(clock.as_str()));
        assert_eq!(header(headers, ORIGIN_VCLOCK).as_deref(), Some(clock.as_str()));
        assert_eq!(header(headers, GENERATED_ID), Some((n + 1).to_string()));
        // One request chain: the id minted for the request to `a` (a UUID).
        assert_eq!(request_ids[n], request_ids[0]);
    }
    assert_eq!(request_ids[0].len(), 36, "a UUID: {}", request_ids[0]);
}

#[tokio::test]
async fn repeated_calls_under_incoming_headers_extend_the_incoming_index() {
    filibuster::enable();
    let recorder = Recorder::starting_at(10);
    let connection = recorder.connect().await;
    let b = Downstream::default();
    let a_url = serve_a(get(three_calls), b.serve().await, &connection).await;

    let response = reqwest::Client::new()
        .get(format!("{a_url}/start"))
        .header(EXECUTION_INDEX, r#"[["x", 1]]"#)
        .header(VCLOCK, r#"{"t": 1}"#)
        .header(ORIGIN_VCLOCK, r#"{"t": 1}"#)
        .header(GENERATED_ID, "3")
        .header(REQUEST_ID, "chain-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello from b,hello from b,hello from b");

    let h = fetch_b_hash();
    let expected_eis: Vec<String> = (1..=3).map(|n| ei(&[("x", 1), (&h, n)])).collect();

    // `a` reports first that it was reached by the call with id 3.
    let records = recorder.records();
    assert_eq!(records.len(), 7, "{records:#?}");
    assert_eq!(records[0].0, "update");
    assert_eq!(
        records[0].1,
        json!({
            "instrumentation_type": "request_received",
            "generated_id": "3",
            "execution_index": r#"[["x", 1]]"#,
            "target_service_name": "a",
        })
    );

    let creates = recorder.creates();
    assert_eq!(creates.len(), 3);
    for (n, create) in creates.iter().enumerate() {
        let count = n as u64 + 1;
        assert_eq!(create["execution_index"], expected_eis[n], "call {count}");
        assert_eq!(create["vclock"], json!({"a": count, "t": 1}), "call {count}");
        assert_eq!(create["origin_vclock"], json!({"t": 1}), "call {count}");
        let parsed = ExecutionIndex::parse(create["execution_index"].as_str().unwrap()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!((parsed.steps()[0].hash.as_str(), parsed.steps()[0].count), ("x", 1));
        assert_eq!(parsed.steps()[1].count as u64, count);
        // The call's clock descends from the incoming one.
        assert!(vclock(&create["vclock"]).descends(&[("t", 1)].into_iter().collect()));
    }

    let seen = b.seen();
    assert_eq!(seen.len(), 3);
    for (n, headers) in seen.iter().enumerate() {
        let clock = format!(r#"{{"a": {}, "t": 1}}"#, n + 1);
        assert_eq!(header(headers, EXECUTION_INDEX).as_deref(), Some(expected_eis[n].as_str()));
        assert_eq!(header(headers, VCLOCK).as_deref(), Some(clock.as_str()));
        // The origin sent onward is the call's own clock.
        assert_eq!(header(headers, ORIGIN_VCLOCK).as_deref(), Some(clock.as_str()));
        assert_eq!(header(headers, GENERATED_ID), Some((n + 10).to_string()));
        assert_eq!(header(headers, REQUEST_ID).as_deref(), Some("chain-42"));
    }
}

/// One request as `b` saw it.
#[derive(Clone, Debug)]
struct Seen {
    request_id: String,
    vclock: String,
    execution_index: String,
}

#[derive(Clone)]
struct Gate {
    barrier: Arc<Barrier>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// `b` answers only when two calls are waiting, so that the two requests to
/// `a` are in flight at once. The deadline only keeps a broken run from
/// hanging: it makes the test fail, with `b`'s answer in the message.
async fn gate(State(gate): State<Gate>, headers: HeaderMap) -> String {
    gate.seen.lock().unwrap().push(Seen {
        request_id: header(&headers, REQUEST_ID).unwrap_or_default(),
        vclock: header(&headers, VCLOCK).unwrap_or_default(),
        execution_index: header(&headers, EXECUTION_INDEX).unwrap_or_default(),
    });
    match tokio::time::timeout(Duration::from_secs(20), gate.barrier.wait()).await {
        Ok(_) => "through".to_owned(),
        Err(_) => "the other request never arrived".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_keep_separate_clocks_and_counters() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let gate_state = Gate { barrier: Arc::new(Barrier::new(2)), seen: Arc::default() };
    let b_url = serve(Router::new().route("/b", get(gate)).with_state(gate_state.clone())).await;
    let a_url = serve_a(get(two_calls), b_url, &connection).await;

    let client = reqwest::Client::new();
    let request =
        || async { client.get(format!("{a_url}/start")).send().await.unwrap().text().await.unwrap() };
    let (first, second) = tokio::join!(request(), request());
    assert_eq!(first, "through,through");
    assert_eq!(second, "through,through");

    let h = fetch_b_hash();
    let seen = gate_state.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:#?}");
    let mut by_request: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    for s in seen {
        by_request.entry(s.request_id.clone()).or_default().push(s);
    }
    assert_eq!(by_request.len(), 2, "two distinct request ids: {by_request:#?}");
    for (request_id, calls) in &by_request {
        assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
        let clocks: Vec<&str> = calls.iter().map(|s| s.vclock.as_str()).collect();
        assert_eq!(clocks, [r#"{"a": 1}"#, r#"{"a": 2}"#], "{request_id}");
        let indices: Vec<&str> = calls.iter().map(|s| s.execution_index.as_str()).collect();
        assert_eq!(indices, [ei(&[(&h, 1)]), ei(&[(&h, 2)])], "{request_id}");
    }

    // The server saw each clock and each index twice, never a third count.
    let mut reported: Vec<(String, String)> = recorder
        .creates()
        .iter()
        .map(|c| (c["vclock"].to_string(), c["execution_index"].as_str().unwrap().to_owned()))
        .collect();
    reported.sort();
    let one = (json!({"a": 1}).to_string(), ei(&[(&h, 1)]));
    let two = (json!({"a": 2}).to_string(), ei(&[(&h, 2)]));
    assert_eq!(reported, [one.clone(), one, two.clone(), two]);
}

/// `a` calls `b` twice; `b`, instrumented too, calls `c` twice per request.
#[filibuster::handler(service = "a")]
async fn chain_a(State(app): State<App>) -> String {
    let first = a_to_b(&app).await.unwrap().text().await.unwrap();
    let second = a_to_b(&app).await.unwrap().text().await.unwrap();
    format!("{first}; {second}")
}

#[filibuster::call]
async fn a_to_b(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

#[filibuster::handler(service = "b")]
async fn chain_b(State(app): State<App>) -> String {
    let first = b_to_c(&app).await.unwrap().text().await.unwrap();
    let second = b_to_c(&app).await.unwrap().text().await.unwrap();
    format!("{first},{second}")
}

#[filibuster::call]
async fn b_to_c(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/c", app.b_url)).send().await
}

#[tokio::test]
async fn a_called_service_counts_its_own_repeated_calls_per_request() {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let c = Downstream::default();
    let c_url = c.serve().await;
    let b_url = serve(
        Router::new()
            .route("/b", get(chain_b))
            .with_state(App { http: reqwest::Client::new(), b_url: c_url })
            .layer(connection.layer()),
    )
    .await;
    let a_url = serve_a(get(chain_a), b_url, &connection).await;

    let body = reqwest::get(format!("{a_url}/start")).await.unwrap().text().await.unwrap();
    assert_eq!(body, "hello from b,hello from b; hello from b,hello from b");

    let ab = call_hash(&md5("filibuster:tests/test_invocation_counts.rs:a_to_b#1"), "GET", "/b");
    let bc = call_hash(&md5("filibuster:tests/test_invocation_counts.rs:b_to_c#1"), "GET", "/c");
    let summary: Vec<(Value, Value, Value, Value)> = recorder
        .creates()
        .iter()
        .map(|c| {
            let ei = c["execution_index"].clone();
            (c["source_service_name"].clone(), ei, c["vclock"].clone(), c["origin_vclock"].clone())
        })
        .collect();
    let s = |text: &str| Value::from(text);
    assert_eq!(
        summary,
        [
            (s("a"), s(&ei(&[(&ab, 1)])), json!({"a": 1}), json!({})),
            (s("b"), s(&ei(&[(&ab, 1), (&bc, 1)])), json!({"a": 1, "b": 1}), json!({"a": 1})),
            (s("b"), s(&ei(&[(&ab, 1), (&bc, 2)])), json!({"a": 1, "b": 2}), json!({"a": 1})),
            (s("a"), s(&ei(&[(&ab, 2)])), json!({"a": 2}), json!({})),
            // A new request to `b`: its counters and clock start afresh.
            (s("b"), s(&ei(&[(&ab, 2), (&bc, 1)])), json!({"a": 2, "b": 1}), json!({"a": 2})),
            (s("b"), s(&ei(&[(&ab, 2), (&bc, 2)])), json!({"a": 2, "b": 2}), json!({"a": 2})),
        ]
    );

    // `b` reports being reached by each of `a`'s calls, with that call's id.
    let received = recorder.updates_of("request_received");
    assert_eq!(
        received,
        [
            json!({"instrumentation_type": "request_received", "generated_id": "1",
                   "execution_index": ei(&[(&ab, 1)]), "target_service_name": "b"}),
            json!({"instrumentation_type": "request_received", "generated_id": "4",
                   "execution_index": ei(&[(&ab, 2)]), "target_service_name": "b"}),
        ]
    );

    // One request chain from `a` to `c`.
    let ids: Vec<String> = c.seen().iter().map(|h| header(h, REQUEST_ID).unwrap()).collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
}
