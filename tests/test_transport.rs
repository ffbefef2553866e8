//! The HTTP transport when the Filibuster server is slow, gone, answers too
//! much or comes back: each request waits a bounded time, a circuit breaker
//! stops asking a failing server, answers are read up to a cap, connecting
//! is retried, lost records are counted and reported with the next request
//! that gets through. Real axum servers on 127.0.0.1, real reqwest.

use std::convert::Infallible;
use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::routing::{any, get};
use filibuster::Connection;
use filibuster::headers::{GENERATED_ID, LOST_RECORDS, SENDER};
use filibuster::records::Invocation;
use filibuster::transport::{ENV_SERVER_TIMEOUT, HttpTransport, Transport, TransportError, TransportOptions};
use serde_json::json;

mod support;
use support::{Downstream, Recorder, free_port, header, serve};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
}

/// One instrumented call to `b`.
#[filibuster::handler(service = "a")]
async fn once(State(app): State<App>) -> String {
    fetch_b(&app).await.unwrap().text().await.unwrap()
}

#[filibuster::call]
async fn fetch_b(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).send().await
}

/// Serves `a` (handler `once` at `/start`) calling `b_url`, connected to
/// `connection`; returns the URL of `/start`.
async fn serve_a(b_url: String, connection: &Connection) -> String {
    let app = App { http: reqwest::Client::new(), b_url };
    let url = serve(Router::new().route("/start", get(once)).with_state(app).layer(connection.layer())).await;
    format!("{url}/start")
}

/// `a` answers what `b` answered: the call went ahead.
async fn call_a(a_url: &str) {
    let response = reqwest::get(a_url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), Downstream::BODY);
}

/// A server that accepts connections and holds them, never reading or
/// answering; counts the connections.
async fn holding_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// A server that answers every request after a minute; counts them.
async fn slow_server() -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .fallback(any(|State(requests): State<Arc<AtomicUsize>>| async move {
            requests.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(60)).await;
            "{}"
        }))
        .with_state(requests.clone());
    (serve(router).await, requests)
}

/// An invocation record, as a call would report it.
fn invocation() -> Invocation {
    serde_json::from_value(json!({
        "instrumentation_type": "invocation",
        "source_service_name": "a",
        "module": "reqwest",
        "method": "GET",
        "args": ["/b"],
        "kwargs": {},
        "callsite_file": "tests/test_transport.rs",
        "callsite_line": "1",
        "full_traceback": "0123456789abcdef0123456789abcdef",
        "metadata": {},
        "vclock": {"a": 1},
        "origin_vclock": {},
        "execution_index": "[[\"0123456789abcdef0123456789abcdef\", 1]]",
    }))
    .unwrap()
}

/// 20 sequential instrumented calls through `a`, its connection to a
/// server at `url` that never answers in time: the first three wait for
/// the timeout, then the breaker opens and the rest go ahead at once.
async fn twenty_calls_to_a_server_that_does_not_answer(url: &str) -> Connection {
    filibuster::enable();
    let timeout = Duration::from_millis(300);
    let connection = Connection::http_with(url, TransportOptions { timeout, ..Default::default() });
    let b = Downstream::default();
    let a_url = serve_a(b.serve().await, &connection).await;

    let started = Instant::now();
    for _ in 0..20 {
        call_a(&a_url).await;
    }
    let elapsed = started.elapsed();
    // A bound, not a benchmark: 3 timeouts, not 20.
    assert!(elapsed >= 3 * timeout, "each of the first three waited for its timeout: {elapsed:?}");
    assert!(elapsed < 5 * timeout, "20 calls took {elapsed:?}, more than 5 timeouts of {timeout:?}");
    let seen = b.seen();
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|h| h.get(GENERATED_ID).is_none()), "un-faulted, unreported");
    assert_eq!(connection.records_lost(), 20, "3 timed out, 17 not sent");
    connection
}

#[tokio::test]
async fn a_server_that_never_answers_costs_three_timeouts_not_one_per_call() {
    let (url, accepted) = holding_server().await;
    twenty_calls_to_a_server_that_does_not_answer(&url).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "the server was asked three times");
}

#[tokio::test]
async fn a_slow_server_costs_three_timeouts_not_one_per_call() {
    let (url, requests) = slow_server().await;
    twenty_calls_to_a_server_that_does_not_answer(&url).await;
    assert_eq!(requests.load(Ordering::SeqCst), 3, "the server was asked three times");
}

#[tokio::test]
async fn answers_past_the_cap_are_not_read() {
    let endless = || {
        Body::from_stream(futures_util::stream::repeat(Ok::<_, Infallible>(Bytes::from(vec![
            b' ';
            64 << 10
        ]))))
    };
    let router = Router::new()
        // Claims 2 GB (and would send them).
        .route(
            "/filibuster/create",
            any(move || async move { ([(CONTENT_LENGTH, "2000000000")], endless()) }),
        )
        // Streams forever, chunked, claiming nothing.
        .route("/filibuster/update", any(move || async move { endless() }));
    let url = serve(router).await;
    // A timeout far longer than reading 1 MiB takes: the cap, not the
    // timeout, ends each request.
    let timeout = Duration::from_secs(20);
    let transport = HttpTransport::with_options(&url, TransportOptions { timeout, ..Default::default() });
    let limit = 1 << 20;
    assert_eq!(transport.options().max_answer_bytes, limit, "the default cap");

    let started = Instant::now();
    let error = transport.create(&invocation()).await.unwrap_err();
    assert!(matches!(error, TransportError::TooLarge { endpoint: "create", limit: 1048576 }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the Filibuster server's answer to create is longer than 1048576 bytes; not read further"
    );

    let complete = serde_json::from_value(json!({
        "instrumentation_type": "invocation_complete",
        "generated_id": 1,
        "execution_index": "[]",
        "vclock": {"a": 1},
        "return_value": {"__class__": "Response", "status_code": "200"},
    }))
    .unwrap();
    let error = transport.update(&complete).await.unwrap_err();
    assert!(matches!(error, TransportError::TooLarge { endpoint: "update", limit: 1048576 }), "{error:?}");
    let elapsed = started.elapsed();
    assert!(elapsed < timeout, "both returned at the cap: {elapsed:?}");
    // The server answered: the records reached it.
    assert_eq!(transport.records_lost(), 0);

    // Through a connection, the call would go ahead un-faulted.
    let connection = Connection::new(Arc::new(transport));
    assert_eq!(connection.create(&invocation()).await, None);
}

/// Everything logged at INFO and above, as the fmt subscriber prints it.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_owned).collect()
    }

    fn matching(&self, level: &str, text: &str) -> Vec<String> {
        self.lines().into_iter().filter(|l| l.contains(level) && l.contains(text)).collect()
    }
}

/// Serves `recorder` on `port` of 127.0.0.1 until `stop` is sent; the task
/// ends once every connection is closed.
async fn serve_on(
    port: u16,
    recorder: &Recorder,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = recorder.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    (stop, task)
}

/// The test runs on one thread (as `#[tokio::test]` does), so the subscriber
/// set for it sees the events of every task, the services' included.
#[tokio::test]
async fn the_breaker_opens_once_and_closes_when_the_server_comes_back() {
    filibuster::enable();
    // With a single scoped subscriber in the process, `tracing` caches a
    // callsite's interest from the thread that reaches it first (another
    // test's, with no subscriber: never). A second live dispatcher makes it
    // ask every registered one.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _subscriber = tracing::subscriber::set_default(subscriber);

    let port = free_port();
    let pause = Duration::from_millis(1500);
    let options = TransportOptions { breaker_pause: pause, ..Default::default() };
    let transport = HttpTransport::with_options(format!("http://127.0.0.1:{port}"), options);
    let connection = Connection::new(Arc::new(transport.clone()));
    let b = Downstream::default();
    let a_url = serve_a(b.serve().await, &connection).await;

    // Refused: three calls try to connect (with retries), then the breaker
    // opens and the next ones do not try.
    for _ in 0..6 {
        call_a(&a_url).await;
    }
    let opened = Instant::now();
    assert_eq!(connection.records_lost(), 6);

    // The server comes back; while the breaker is open it is not asked.
    let recorder = Recorder::default();
    let _server = serve_on(port, &recorder).await;
    call_a(&a_url).await;
    assert_eq!(recorder.records(), [], "asked while the breaker is open");
    assert!(opened.elapsed() < pause, "the test was too slow to see the breaker open");
    assert_eq!(connection.records_lost(), 7);

    // After the pause, one call probes it: it answers, the breaker closes.
    tokio::time::sleep_until((opened + pause + Duration::from_millis(100)).into()).await;
    for _ in 0..2 {
        call_a(&a_url).await;
    }
    let records = recorder.records();
    let kinds: Vec<_> = records.iter().map(|(endpoint, _)| endpoint.as_str()).collect();
    assert_eq!(kinds, ["create", "update", "create", "update"]);
    assert_eq!(connection.records_lost(), 7);
    assert!(b.seen()[7..].iter().all(|h| h.get(GENERATED_ID).is_some()), "instrumented again");
    // The lost records (refused after retries, and skipped) are reported.
    for headers in recorder.record_headers() {
        assert_eq!(header(&headers, LOST_RECORDS).as_deref(), Some("7"));
        assert_eq!(header(&headers, SENDER).as_deref(), Some(transport.sender_id()));
    }

    // Said once each: the first failure (with its cause, once), the
    // breaker opening, the server answering again.
    let lines = logs.lines();
    let first = logs.matching("WARN", "Filibuster server unavailable");
    assert_eq!(first.len(), 1, "{lines:#?}");
    assert_eq!(first[0].matches("Connection refused").count(), 1, "the cause once: {}", first[0]);
    assert_eq!(first[0].matches(&format!("127.0.0.1:{port}")).count(), 2, "{}", first[0]);
    let opening = logs.matching("WARN", "failed 3 times in a row");
    assert_eq!(opening.len(), 1, "{lines:#?}");
    // Nothing else (but `otel`'s own warning, once per process, that the
    // spans of this test's calls are recorded by no OpenTelemetry layer).
    let warnings = logs.matching("WARN", "");
    let others: Vec<_> = warnings.iter().filter(|l| !l.contains("filibuster_runtime::otel")).collect();
    assert_eq!(others.len(), 2, "{lines:#?}");
    let again = logs.matching("INFO", "Filibuster server answers again");
    assert_eq!(again.len(), 1, "{lines:#?}");
    assert!(again[0].contains("records_lost=7"), "{}", again[0]);
}

#[tokio::test]
async fn lost_records_are_counted_and_reported_with_the_next_request() {
    filibuster::enable();
    let port = free_port();
    // No breaker and no retries: every call asks, and fails at once.
    let options = TransportOptions { connect_retries: vec![], breaker_threshold: 0, ..Default::default() };
    let transport = HttpTransport::with_options(format!("http://127.0.0.1:{port}"), options);
    let connection = Connection::new(Arc::new(transport.clone()));
    let b = Downstream::default();
    let a_url = serve_a(b.serve().await, &connection).await;
    let recorder = Recorder::default();

    // Up: delivered, nothing lost.
    let (stop, server) = serve_on(port, &recorder).await;
    call_a(&a_url).await;
    assert_eq!(connection.records_lost(), 0);
    // Down: three calls go ahead, their records are lost.
    stop.send(()).unwrap();
    server.await.unwrap();
    for _ in 0..3 {
        call_a(&a_url).await;
    }
    assert_eq!(connection.records_lost(), 3);
    assert_eq!(recorder.records().len(), 2);
    // Up again: the next records say how many were lost before them.
    let _server = serve_on(port, &recorder).await;
    call_a(&a_url).await;
    assert_eq!(connection.records_lost(), 3);

    let headers = recorder.record_headers();
    assert_eq!(headers.len(), 4, "{:#?}", recorder.records());
    let sender = transport.sender_id();
    assert_eq!(uuid_version(sender), Some('4'), "{sender}");
    let seen: Vec<_> = headers.iter().map(|h| (header(h, SENDER), header(h, LOST_RECORDS))).collect();
    let with = |lost: Option<&str>| (Some(sender.to_owned()), lost.map(str::to_owned));
    assert_eq!(seen, [with(None), with(None), with(Some("3")), with(Some("3"))]);
    // Another transport is another sender.
    assert_ne!(HttpTransport::new("http://127.0.0.1:1").sender_id(), sender);
}

/// The version digit of a hyphenated UUID.
fn uuid_version(id: &str) -> Option<char> {
    let groups: Vec<_> = id.split('-').map(str::len).collect();
    (groups == [8, 4, 4, 4, 12]).then(|| id.as_bytes()[14] as char)
}

#[tokio::test]
async fn a_refused_connection_is_tried_again() {
    let port = free_port();
    let recorder = Recorder::default();
    let transport = HttpTransport::new(format!("http://127.0.0.1:{port}"));
    // The server starts listening between the retries (after 10, 60, 260 ms).
    let later = recorder.clone();
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        serve_on(port, &later).await
    });
    let started = Instant::now();
    let answer = transport.create(&invocation()).await.unwrap();
    assert_eq!(answer.generated_id, 1);
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(recorder.creates().len(), 1);
    assert_eq!(transport.records_lost(), 0);
    drop(server);
}

#[tokio::test]
async fn waiting_for_a_connection_does_not_eat_the_answers_timeout() {
    // A listen backlog of 1, full: the kernel drops the next SYN, and the
    // client sends it again after about 1 s, as in a burst of connections.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..2 {
        fillers.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let recorder = Recorder::default();
    let router = recorder.router();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        axum::serve(listener, router).await.unwrap()
    });
    let timeout = Duration::from_millis(200);
    let transport = HttpTransport::with_options(
        format!("http://{addr}"),
        TransportOptions { timeout, ..Default::default() },
    );

    let started = Instant::now();
    let answer = transport.create(&invocation()).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.unwrap().generated_id, 1, "after {elapsed:?}");
    assert!(elapsed > 2 * timeout, "the connection did wait: {elapsed:?}");
    assert_eq!(transport.records_lost(), 0);
}

#[tokio::test]
async fn transport_errors_keep_their_cause_as_source_not_in_their_message() {
    let port = free_port();
    let options = TransportOptions { connect_retries: vec![], ..Default::default() };
    let transport = HttpTransport::with_options(format!("http://127.0.0.1:{port}"), options);
    let error = transport.create(&invocation()).await.unwrap_err();
    assert!(matches!(error, TransportError::Unreachable { .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("no answer from the Filibuster server at http://127.0.0.1:{port}"));
    let source = error.source().expect("the cause is the source");
    assert!(source.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_connect));
    assert_eq!(transport.records_lost(), 1);
}

#[tokio::test]
async fn the_server_timeout_comes_from_the_environment() {
    let (url, accepted) = holding_server().await;
    let exe = std::env::current_exe().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .args([
                "env_child_reads_the_server_timeout",
                "--exact",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(filibuster::ENV_URL, url)
            .env(ENV_SERVER_TIMEOUT, "150")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran: {text}");
    assert!(text.contains("child: timed out after"), "{text}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// Run by [`the_server_timeout_comes_from_the_environment`] only.
#[tokio::test]
#[ignore = "run in a child process by `the_server_timeout_comes_from_the_environment`"]
async fn env_child_reads_the_server_timeout() {
    let connection = Connection::from_env();
    let started = Instant::now();
    assert_eq!(connection.new_test_execution("a").await, None);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(900), "not the default of 1 s: {elapsed:?}");
    println!("child: timed out after {elapsed:?}");
}

/// An in-process server's rejection keeps the server's error as its source,
/// printed once along the chain.
#[tokio::test]
async fn an_in_process_rejection_keeps_the_servers_error_as_its_source() {
    use filibuster::records::{InvocationComplete, Update};
    use filibuster::transport::Transport as _;
    let server = filibuster::Server::default();
    let update = Update::InvocationComplete(InvocationComplete {
        instrumentation_type: "invocation_complete".into(),
        generated_id: 42,
        execution_index: "[]".into(),
        vclock: Default::default(),
        return_value: None,
        exception: None,
    });
    let error = server.update(&update).await.unwrap_err();
    let source = std::error::Error::source(&error).expect("a source").to_string();
    assert_eq!(error.to_string(), "Filibuster server rejected the record");
    assert!(source.contains("unknown generated_id 42"), "{source}");
}
