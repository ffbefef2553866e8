//! A timeout set on the client (`ClientBuilder::timeout`) does not show on
//! the request. `#[filibuster::call(timeout = <seconds>)]` declares it: the
//! calls then report it as their timeout (unless the request sets its own,
//! which wins), and the built-in fault model tries `reqwest.timeout` on them
//! as it does on calls that set `RequestBuilder::timeout`.

mod support;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{Explorer, Report};

#[derive(Clone)]
struct Node {
    /// Built with `ClientBuilder::timeout`.
    http: reqwest::Client,
    b_url: String,
    /// Whether a's call declares the client's timeout.
    declared: bool,
}

fn client_with_timeout() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

#[filibuster::call(timeout = 5)]
async fn fetch_declared(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

#[filibuster::call]
async fn fetch_undeclared(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

/// The request's own timeout wins over the declared one.
#[filibuster::call(id = "own-timeout", timeout = 5)]
async fn fetch_own_timeout(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).timeout(Duration::from_millis(2500)).send().await
}

#[filibuster::handler(service = "a")]
async fn a(State(node): State<Node>) -> (StatusCode, &'static str) {
    let result = if node.declared {
        fetch_declared(&node.http, &node.b_url).await
    } else {
        fetch_undeclared(&node.http, &node.b_url).await
    };
    match result {
        Ok(response) if response.status() == StatusCode::OK => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "the call failed"),
    }
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

/// Explores a -> b, a's call going through a client with a timeout.
async fn explore(declared: bool) -> Report {
    let explorer = Explorer::new();
    let b_url = support::serve(Router::new().route("/", get(b)).layer(explorer.connection().layer())).await;
    let node = Node { http: client_with_timeout(), b_url: format!("{b_url}/"), declared };
    let a_url = support::serve(
        Router::new().route("/", get(a)).with_state(node).layer(explorer.connection().layer()),
    )
    .await;
    support::explore_get(&explorer, &a_url).await
}

fn faults_tried(report: &Report) -> Vec<String> {
    report.executions.iter().flat_map(|e| e.faults.iter().map(|f| f.fault.clone())).collect()
}

/// Declared: connection error, timeout, 500, 502, 503 on the call: 1 + 5
/// runs. Undeclared: the model cannot know of the timeout, so no timeout
/// fault: 1 + 4 runs.
#[tokio::test]
async fn a_declared_client_timeout_gets_the_timeout_fault() {
    let report = explore(true).await;
    assert!(report.passed(), "{}", report.summary());
    assert_eq!((report.executions_run, report.executions_pruned), (6, 0), "{}", report.summary());
    assert_eq!(faults_tried(&report).iter().filter(|f| *f == "reqwest.timeout").count(), 1);
    assert!(report.calls_without_timeout.is_empty(), "{}", report.summary());

    let report = explore(false).await;
    assert!(report.passed(), "{}", report.summary());
    assert_eq!((report.executions_run, report.executions_pruned), (5, 0), "{}", report.summary());
    assert!(!faults_tried(&report).iter().any(|f| f.contains("timeout")), "{:?}", faults_tried(&report));
    // The call without a known timeout is said, in text and JSON.
    let listed: Vec<String> = report.calls_without_timeout.iter().map(|c| c.describe()).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].starts_with("a -> b GET /"), "{listed:?}");
    assert!(listed[0].contains("fn fetch_undeclared"), "{listed:?}");
    let summary = report.summary();
    assert!(summary.contains("Calls without a timeout (a hung dependency hangs their caller"), "{summary}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["calls_without_timeout"][0]["source"], "a", "{json}");
}

#[filibuster::handler(service = "a")]
async fn all_three(State(node): State<Node>) -> &'static str {
    fetch_declared(&node.http, &node.b_url).await.unwrap();
    fetch_own_timeout(&node.http, &node.b_url).await.unwrap();
    fetch_undeclared(&node.http, &node.b_url).await.unwrap();
    "done"
}

/// What the invocation records say: the declared timeout, the request's own
/// when it has one, nothing when neither is known.
#[tokio::test]
async fn the_request_timeout_wins_over_the_declared_one() {
    filibuster::enable();
    let recorder = support::Recorder::default();
    let connection = recorder.connect().await;
    let b_url = support::Downstream::default().serve().await;
    let node = Node { http: client_with_timeout(), b_url, declared: true };
    let a_url =
        support::serve(Router::new().route("/", get(all_three)).with_state(node).layer(connection.layer()))
            .await;
    reqwest::get(&a_url).await.unwrap().error_for_status().unwrap();
    let timeouts: Vec<_> = recorder.creates().iter().map(|c| c["metadata"].get("timeout").cloned()).collect();
    assert_eq!(timeouts, [Some(5.0.into()), Some(2.5.into()), None]);
}

/// A call with a 300 ms timeout, as `slow_front` makes it.
#[filibuster::call]
async fn fetch_within_300ms(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).timeout(Duration::from_millis(300)).send().await
}

/// Answers whether its call to b answered, timed out or failed otherwise.
#[filibuster::handler(service = "a")]
async fn slow_front(State(node): State<Node>) -> (StatusCode, &'static str) {
    match fetch_within_300ms(&node.http, &node.b_url).await {
        Ok(response) if response.status() == StatusCode::OK => (StatusCode::OK, "answered"),
        Ok(_) => (StatusCode::BAD_GATEWAY, "error status"),
        Err(error) if error.is_timeout() => (StatusCode::GATEWAY_TIMEOUT, "timed out"),
        Err(_) => (StatusCode::BAD_GATEWAY, "failed"),
    }
}

/// A latency fault is a slow service: a latency past the call's own
/// timeout makes reqwest's timeout fire (the caller gets the genuine
/// timeout error, `is_timeout()`), a shorter one only delays the answer.
/// Before, the latency was slept before the request, outside its timeout,
/// and both answered 200.
#[tokio::test]
async fn a_latency_past_the_calls_timeout_times_it_out() {
    let model = filibuster::FaultModel::empty().with(
        filibuster::Calls::to("b"),
        [
            filibuster::Fault::Latency(Duration::from_secs(3)),
            filibuster::Fault::Latency(Duration::from_millis(20)),
        ],
    );
    let explorer = Explorer::with_fault_model(model);
    let b_url = support::serve(Router::new().route("/", get(b)).layer(explorer.connection().layer())).await;
    let node = Node { http: reqwest::Client::new(), b_url: format!("{b_url}/"), declared: false };
    let a_url = support::serve(
        Router::new().route("/", get(slow_front)).with_state(node).layer(explorer.connection().layer()),
    )
    .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = explorer
        .run(|ctx| {
            let (a_url, seen) = (a_url.clone(), seen.clone());
            async move {
                let response = reqwest::get(&a_url).await.map_err(|e| e.to_string())?;
                let faults: Vec<String> = ctx.faults().iter().map(|f| f.fault.to_string()).collect();
                let status = response.status().as_u16();
                let text = response.text().await.map_err(|e| e.to_string())?;
                seen.lock().unwrap().push((faults, status, text));
                Ok::<(), String>(())
            }
        })
        .await;
    assert!(report.passed(), "{}", report.summary());
    let seen = seen.lock().unwrap().clone();
    let status_under = |fault: &str| {
        let found = seen.iter().find(|(faults, _, _)| faults.len() == 1 && faults[0] == fault);
        found.map(|(_, status, text)| (*status, text.clone())).unwrap_or_else(|| panic!("{fault}: {seen:?}"))
    };
    assert_eq!(status_under("latency 3000 ms"), (504, "timed out".to_owned()));
    assert_eq!(status_under("latency 20 ms"), (200, "answered".to_owned()));
    // The report says how the call under the long latency ended.
    let timed_out = report
        .executions
        .iter()
        .flat_map(|e| &e.calls)
        .find(|c| c.fault.as_deref() == Some("latency 3000 ms"));
    assert_eq!(
        timed_out.and_then(|c| c.outcome.as_deref()),
        Some("reqwest.timeout"),
        "{:?}",
        report.executions
    );
}

/// A hang fault makes a call without a timeout hang, as a hung dependency
/// does: the caller waits, the execution's deadline fails it, and the
/// report has the counterexample. Calls with a timeout are not tried with
/// it (their timeout is the timeout fault's business).
#[tokio::test]
async fn a_hang_fault_fails_a_caller_without_timeout() {
    let model = filibuster::FaultModel::empty().with(filibuster::Calls::any(), [filibuster::Fault::Hang]);
    let explorer = Explorer::with_fault_model(model)
        .execution_timeout(Duration::from_millis(500))
        .grace(Duration::from_secs(2));
    let b_url = support::serve(Router::new().route("/", get(b)).layer(explorer.connection().layer())).await;
    let node = Node { http: reqwest::Client::new(), b_url: format!("{b_url}/"), declared: false };
    let a_url = support::serve(
        Router::new().route("/", get(a)).with_state(node).layer(explorer.connection().layer()),
    )
    .await;
    let report = support::explore_get(&explorer, &a_url).await;
    assert_eq!(report.verdict(), filibuster::Verdict::Failed, "{}", report.summary());
    let failing = report.failures().next().expect("a failing execution");
    let faults: Vec<&str> = failing.faults.iter().map(|f| f.fault.as_str()).collect();
    assert_eq!(faults, ["hang"]);
    let message = report.failure_message();
    assert!(
        message.contains("did not return within 0.500 s, the execution's deadline (`execution_timeout`)"),
        "{message}"
    );
    // The hung call, abandoned when the test's request was dropped, was
    // reported cancelled: the execution did not wait for it.
    let outcomes: Vec<Option<&str>> = failing.calls.iter().map(|c| c.outcome.as_deref()).collect();
    assert_eq!(outcomes, [Some("cancelled")], "{:?}", failing.calls);
    assert!(failing.unfinished.is_empty(), "{:?}", failing.unfinished);

    // The same call with a timeout is not hung.
    let model = filibuster::FaultModel::empty().with(filibuster::Calls::any(), [filibuster::Fault::Hang]);
    let explorer = Explorer::with_fault_model(model);
    let b_url = support::serve(Router::new().route("/", get(b)).layer(explorer.connection().layer())).await;
    let node = Node { http: client_with_timeout(), b_url: format!("{b_url}/"), declared: true };
    let a_url = support::serve(
        Router::new().route("/", get(a)).with_state(node).layer(explorer.connection().layer()),
    )
    .await;
    let report = support::explore_get(&explorer, &a_url).await;
    assert_eq!(report.errors, [filibuster::RunError::NoFaultToTry { calls: 1 }]);
}

/// The bookings `b2` made, for the double-booking test.
#[derive(Clone, Default)]
struct Ledger(std::sync::Arc<std::sync::atomic::AtomicUsize>);

#[filibuster::handler(service = "b2")]
async fn book(State(ledger): State<Ledger>) -> StatusCode {
    ledger.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    StatusCode::CREATED
}

#[filibuster::call]
async fn post_booking(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.post(url).timeout(Duration::from_secs(5)).send().await
}

/// Books through `b2`, retrying once on a timeout: the retry is the bug
/// when the first attempt had reached `b2`.
#[filibuster::handler(service = "a2")]
async fn book_with_retry(State(node): State<Node>) -> StatusCode {
    let mut attempt = post_booking(&node.http, &node.b_url).await;
    if matches!(&attempt, Err(error) if error.is_timeout()) {
        attempt = post_booking(&node.http, &node.b_url).await;
    }
    match attempt {
        Ok(response) if response.status().is_success() => StatusCode::CREATED,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A timeout after the callee acted (the reference's non-aborting
/// timeout) is a fault of the typed model: with it, the exploration finds
/// that a retry on timeout books twice; with the aborting timeout alone
/// (the request never arrives) every execution books once.
#[tokio::test]
async fn a_timeout_after_the_callee_finds_a_double_booking() {
    for after_the_callee in [false, true] {
        let fault =
            if after_the_callee { filibuster::Fault::TimeoutAfterCallee } else { filibuster::Fault::Timeout };
        let explorer = Explorer::with_fault_model(
            filibuster::FaultModel::empty().with(filibuster::Calls::any(), [fault]),
        );
        let ledger = Ledger::default();
        let b_url = support::serve(
            Router::new()
                .route("/bookings", axum::routing::post(book))
                .with_state(ledger.clone())
                .layer(explorer.connection().layer()),
        )
        .await;
        let node = Node { http: reqwest::Client::new(), b_url: format!("{b_url}/bookings"), declared: false };
        let a_url = support::serve(
            Router::new()
                .route("/", axum::routing::post(book_with_retry))
                .with_state(node)
                .layer(explorer.connection().layer()),
        )
        .await;
        let report = explorer
            .run(|_ctx| {
                let (a_url, ledger) = (a_url.clone(), ledger.clone());
                async move {
                    let before = ledger.0.load(std::sync::atomic::Ordering::SeqCst);
                    reqwest::Client::new().post(&a_url).send().await.map_err(|e| e.to_string())?;
                    let booked = ledger.0.load(std::sync::atomic::Ordering::SeqCst) - before;
                    if booked > 1 { Err(format!("booked {booked} times")) } else { Ok(()) }
                }
            })
            .await;
        if !after_the_callee {
            assert!(report.passed(), "{}", report.failure_message());
            continue;
        }
        assert_eq!(report.verdict(), filibuster::Verdict::Failed, "{}", report.summary());
        let failing = report.failures().next().unwrap();
        let faults: Vec<&str> = failing.faults.iter().map(|f| f.fault.as_str()).collect();
        assert_eq!(faults, ["reqwest.timeout (after the callee)"]);
        assert!(report.failure_message().contains("booked 2 times"), "{}", report.failure_message());
    }
}

/// `b`, answering a streamed body (no `Content-Length`): the call hands the
/// response back without reading it.
#[filibuster::handler(service = "b")]
async fn b_streamed() -> axum::body::Body {
    axum::body::Body::from_stream(futures_util::stream::once(async { Ok::<_, std::io::Error>("b") }))
}

/// A client timeout nobody declared (`ClientBuilder::timeout`, not
/// `#[filibuster::call(timeout = ..)]`) still fires under a latency fault:
/// the instrumented callee waits the latency (the forced sleep), and the
/// client's own timer runs over it. Before, the answer's head came at once
/// and the caller saw a 200.
#[tokio::test]
async fn an_undeclared_client_timeout_fires_under_latency() {
    let model = filibuster::FaultModel::empty()
        .with(filibuster::Calls::to("b"), [filibuster::Fault::Latency(Duration::from_secs(3))]);
    let explorer = Explorer::with_fault_model(model);
    let b_url =
        support::serve(Router::new().route("/", get(b_streamed)).layer(explorer.connection().layer())).await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let node = Node { http, b_url: format!("{b_url}/"), declared: false };
    let a_url = support::serve(
        Router::new().route("/", get(a)).with_state(node).layer(explorer.connection().layer()),
    )
    .await;
    let statuses = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = explorer
        .run(|ctx| {
            let (a_url, statuses) = (a_url.clone(), statuses.clone());
            async move {
                let status = reqwest::get(&a_url).await.map_err(|e| e.to_string())?.status().as_u16();
                statuses.lock().unwrap().push((ctx.fault_injected(), status));
                Ok::<(), String>(())
            }
        })
        .await;
    assert!(report.passed(), "{}", report.failure_message());
    let statuses = statuses.lock().unwrap().clone();
    assert!(statuses.contains(&(true, 503)), "{statuses:?}");
    assert!(!statuses.contains(&(true, 200)), "{statuses:?}");
}
