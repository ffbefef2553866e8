//! The server under load and in hostile hands: bounded memory per call, a run
//! that belongs to its explorer (tokens, no rewriting of recorded calls),
//! limits that fail loudly, JSON errors everywhere, rate-limited logs, and
//! connections that cannot starve it.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use filibuster::records::Invocation;
use filibuster::server::{ServeOptions, bind, serve};
use filibuster::{Explorer, Limits, RunError, Server, Verdict};
use serde_json::{Value, json};

fn invocation(n: usize, timeout: bool) -> Invocation {
    serde_json::from_value(json!({
        "instrumentation_type": "invocation", "source_service_name": "a", "module": "reqwest",
        "method": "GET", "args": [format!("/b/{n}")], "kwargs": {}, "callsite_file": "src/a.rs",
        "callsite_line": "7", "full_traceback": "0123456789abcdef0123456789abcdef",
        "metadata": if timeout { json!({"timeout": 1.0}) } else { json!({}) },
        "vclock": {"a": n + 1}, "origin_vclock": {},
        "execution_index": format!(r#"[["{:032x}", 1]]"#, n),
    }))
    .unwrap()
}

/// Held by the tests that measure the process' resident memory, so that
/// one's allocations are not counted in another's growth.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Resident memory of this process, in bytes (Linux).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// One execution with 3,000 calls, each scheduling faults: scheduling shares
/// the execution's log instead of copying a prefix per call, so the server
/// stays small (it took 2 GB when each call copied the prefix).
#[tokio::test]
async fn three_thousand_calls_in_one_execution_keep_memory_bounded() {
    let explorer = Explorer::new().max_executions(1).repeat_initial_execution(false).grace(Duration::ZERO);
    let connection = explorer.connection();
    let _measuring = MEASURING.lock().await;
    let before = resident();
    let report = explorer
        .run(|_| {
            let connection = connection.clone();
            async move {
                for n in 0..3_000 {
                    connection.create(&invocation(n, true)).await.expect("the server takes it");
                }
            }
        })
        .await;
    let grown = resident().saturating_sub(before);
    assert_eq!(report.executions_run, 1);
    assert_eq!(report.executions_remaining, 6_000, "a connection error and a timeout per call");
    assert!(grown < 100 << 20, "the server grew by {} MB", grown >> 20);
}

/// A server with a run token, served over HTTP (with the bounds of
/// `filibuster test`), and its URL.
async fn tokened(explorer: &Explorer, token: &str) -> String {
    explorer.server().clone().with_token(token, false);
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, explorer.server().router(), ServeOptions::default()));
    url
}

async fn send(http: &reqwest::Client, method: reqwest::Method, url: String, body: Value) -> (u16, Value) {
    let response = http.request(method, url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Once the run's services carry its token, records without it are refused:
/// nobody else on the machine adds calls to the run; an update cannot
/// rewrite a recorded call's target or execution index.
#[tokio::test]
async fn a_run_belongs_to_its_explorer() {
    let explorer = Explorer::new().max_executions(1).repeat_initial_execution(false).grace(Duration::ZERO);
    let base = tokened(&explorer, "s3cret").await;
    let http = reqwest::Client::new();
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    let report = explorer
        .run(|_| {
            let (http, base, seen) = (http.clone(), base.clone(), seen.clone());
            async move {
                let put = reqwest::Method::PUT;
                let post = reqwest::Method::POST;
                let run = format!("{base}/run/s3cret");
                let mut answers = Vec::new();
                // The run's own service.
                let (status, created) =
                    send(&http, put.clone(), format!("{run}/filibuster/create"), json!(invocation(0, true)))
                        .await;
                answers.push(status);
                let id = created["generated_id"].clone();
                let received = |target: &str, ei: String| {
                    json!({"instrumentation_type": "request_received", "generated_id": id.to_string(),
                           "execution_index": ei, "target_service_name": target})
                };
                let ei = format!(r#"[["{:032x}", 1]]"#, 0);
                answers.push(
                    send(&http, post.clone(), format!("{run}/filibuster/update"), received("b", ei.clone()))
                        .await
                        .0,
                );
                // A stranger without the token: refused, whatever it sends.
                answers.push(
                    send(&http, put.clone(), format!("{base}/filibuster/create"), json!(invocation(1, true)))
                        .await
                        .0,
                );
                answers.push(
                    send(
                        &http,
                        post.clone(),
                        format!("{base}/filibuster/update"),
                        received("evil", ei.clone()),
                    )
                    .await
                    .0,
                );
                // A wrong token.
                answers.push(
                    send(
                        &http,
                        put,
                        format!("{base}/run/guess/filibuster/create"),
                        json!(invocation(1, true)),
                    )
                    .await
                    .0,
                );
                // With the token, an update that would rewrite the target or the index.
                answers.push(
                    send(&http, post.clone(), format!("{run}/filibuster/update"), received("c", ei)).await.0,
                );
                let other = format!(r#"[["{:032x}", 9]]"#, 0);
                answers.push(
                    send(&http, post, format!("{run}/filibuster/update"), received("b", other)).await.0,
                );
                *seen.lock().unwrap() = answers;
            }
        })
        .await;
    assert_eq!(*answers.lock().unwrap(), [200, 200, 403, 403, 403, 409, 409]);
    assert_eq!((report.records_refused, report.records_conflicting), (2, 2));
    let calls = &report.executions[0].calls;
    assert_eq!(calls.len(), 1, "the stranger's call was not added: {calls:#?}");
    assert_eq!(calls[0].target.as_deref(), Some("b"));
    assert_eq!(report.executions_remaining, 5, "the faults of the one call, nothing forged");
    assert!(report.summary().contains("Records refused for lacking the run's token: 2"));
}

/// Limits fail loudly: an exploration whose execution outgrows them is
/// untested; a standalone server starts its log anew; too many service
/// names are refused.
#[tokio::test]
async fn limits_fail_loudly() {
    let limits = Limits { calls_per_execution: 10, services: 3, ..Limits::default() };
    let explorer = Explorer::new().grace(Duration::ZERO);
    explorer.server().clone().with_limits(limits.clone());
    let connection = explorer.connection();
    let report = explorer
        .run(|_| {
            let connection = connection.clone();
            async move {
                for n in 0..11 {
                    connection.create(&invocation(n, false)).await;
                }
            }
        })
        .await;
    assert_eq!(report.verdict(), Verdict::Untested);
    assert_eq!(
        report.errors,
        [RunError::LimitReached { limit: "more than 10 calls in one test execution".into() }]
    );

    // Standalone (nobody explores): the log starts anew, ids from 0 again
    // in a new execution; service names are bounded.
    let server = Server::default().with_limits(limits);
    let base = support::serve(server.router()).await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..12 {
        let (status, answer) = send(
            &http,
            reqwest::Method::PUT,
            format!("{base}/filibuster/create"),
            json!(invocation(n, false)),
        )
        .await;
        assert_eq!(status, 200);
        ids.push(answer["generated_id"].as_u64().unwrap());
    }
    assert_eq!(ids[9..], [9, 1_000_000_000, 1_000_000_001]);
    let mut statuses = Vec::new();
    for service in ["x", "y", "z"] {
        let response =
            http.get(format!("{base}/filibuster/new-test-execution/{service}")).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }
    // `a` (the callers) and `x`, `y` fill the three names.
    assert_eq!(statuses, [200, 200, 429]);
    let answer: Value = http
        .get(format!("{base}/filibuster/new-test-execution/w"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["error"], "more than 3 distinct service names: refused `w`");
}

/// Limits count bytes too: an execution whose records outgrow its byte
/// budget (few calls, huge paths) is untested; a standalone server starts
/// its log anew; a record larger than the whole budget is refused.
#[tokio::test]
async fn byte_budgets_bound_what_records_can_hold() {
    let huge = |n: usize| {
        let mut call = invocation(n, false);
        call.args = vec![format!("/b/{}", "x".repeat(400 << 10))];
        call
    };
    let limits = Limits { bytes_per_execution: 1 << 20, ..Limits::default() };
    let explorer = Explorer::new().grace(Duration::ZERO);
    explorer.server().clone().with_limits(limits.clone());
    let connection = explorer.connection();
    let report = explorer
        .run(|_| {
            let connection = connection.clone();
            async move {
                for n in 0..3 {
                    connection.create(&huge(n)).await;
                }
            }
        })
        .await;
    assert_eq!(report.verdict(), Verdict::Untested);
    assert_eq!(
        report.errors,
        [RunError::LimitReached { limit: "more than 1048576 bytes of records in one test execution".into() }]
    );

    // Standalone: the log starts anew when the next record would not fit.
    let server = Server::default().with_limits(limits);
    let base = support::serve(server.router()).await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..5 {
        let (status, answer) =
            send(&http, reqwest::Method::PUT, format!("{base}/filibuster/create"), json!(huge(n))).await;
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["generated_id"].as_u64().unwrap());
    }
    assert_eq!(ids, [0, 1, 1_000_000_000, 1_000_000_001, 2_000_000_000]);

    // A record larger than a whole execution may hold: refused, saying so.
    let server =
        Server::default().with_limits(Limits { bytes_per_execution: 100 << 10, ..Limits::default() });
    let base = support::serve(server.router()).await;
    let (status, answer) =
        send(&http, reqwest::Method::PUT, format!("{base}/filibuster/create"), json!(huge(0))).await;
    assert_eq!(status, 429, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("more than the 102400 bytes one test execution may hold"), "{error}");
}

/// Records a service could not deliver, as its transport says in its next
/// requests: the run is untested, with the count.
#[tokio::test]
async fn records_lost_by_senders_fail_the_run() {
    let explorer = Explorer::new().max_executions(1).grace(Duration::ZERO);
    let base = tokened(&explorer, "t").await;
    let http = reqwest::Client::new();
    let report = explorer
        .run(|_| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                for lost in [2, 3] {
                    http.put(format!("{base}/run/t/filibuster/create"))
                        .header("x-filibuster-sender", "users-1")
                        .header("x-filibuster-lost-records", lost.to_string())
                        .json(&invocation(lost, false))
                        .send()
                        .await
                        .unwrap();
                }
            }
        })
        .await;
    assert!(report.errors.contains(&RunError::RecordsLost { count: 3 }), "{:?}", report.errors);
    assert_eq!(report.verdict().exit_code(), 2);
}

/// Every error is a JSON `{"error"}`: unknown routes, wrong methods,
/// oversized bodies, malformed records.
#[tokio::test]
async fn every_error_is_json() {
    let server = Server::default();
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let options = ServeOptions { max_body: 1024, ..ServeOptions::default() };
    tokio::spawn(serve(listener, server.router(), options));
    let http = reqwest::Client::new();
    let cases = [
        (http.get(format!("{base}/nope")), 404),
        (http.get(format!("{base}/run/x/nope")), 403),
        (http.delete(format!("{base}/filibuster/create")), 405),
        (http.put(format!("{base}/filibuster/create")).body(vec![b' '; 4096]), 413),
        (http.put(format!("{base}/filibuster/create")).body("{"), 400),
        (http.post(format!("{base}/filibuster/update")).body("[]"), 400),
    ];
    for (request, expected) in cases {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, expected, "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{status}: {body}");
    }
}

/// Idle and half-sent connections are closed after the header timeout, and a
/// cap on connections cannot starve the server for longer than that.
#[tokio::test]
async fn idle_and_half_sent_connections_cannot_starve_the_server() {
    let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ServeOptions {
        max_connections: 4,
        header_read_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    tokio::spawn(serve(listener, Server::default().router(), options));
    let held = tokio::task::spawn_blocking(move || {
        let mut sockets = Vec::new();
        for i in 0..8 {
            let mut socket = TcpStream::connect(addr).unwrap();
            if i % 2 == 0 {
                socket.write_all(b"GET /health-check HTTP/1.1\r\nHost: x\r\n").unwrap(); // never ends
            }
            sockets.push(socket);
        }
        // Each is closed by the server within a few timeouts.
        let started = Instant::now();
        for mut socket in sockets {
            socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buffer = [0; 256];
            let closed = socket.read(&mut buffer).is_ok();
            assert!(closed, "a held connection was not closed");
        }
        started.elapsed()
    });
    // Meanwhile the health check gets through once the idle ones are gone.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answer = reqwest::Client::new()
        .get(format!("http://{addr}/health-check"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(held.await.unwrap() < Duration::from_secs(5));
}

/// A flood of bad records is logged a few lines a second, each cut short.
#[tokio::test(flavor = "current_thread")]
async fn rejections_are_logged_rate_limited() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || Writer(sink.clone()))
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = support::set_default(subscriber);
    let base = support::serve(Server::default().router()).await;
    let http = reqwest::Client::new();
    let junk = "x".repeat(100_000);
    for _ in 0..200 {
        http.put(format!("{base}/filibuster/create")).body(junk.clone()).send().await.unwrap();
    }
    let lines = lines.lock().unwrap();
    let rejected = lines.iter().filter(|l| l.contains("rejected a request")).count();
    assert!((1..=15).contains(&rejected), "{rejected} lines");
    assert!(
        lines.iter().all(|l| l.len() < 2_000),
        "a line of {} bytes",
        lines.iter().map(String::len).max().unwrap()
    );
}

struct Writer(Arc<Mutex<Vec<String>>>);

impl Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().push(String::from_utf8_lossy(bytes).into_owned());
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A planned fault keeps a bounded copy of its call's arguments (for
/// people), so that a huge path is not copied into every execution it
/// schedules, nor into the counterexample.
#[tokio::test]
async fn planned_faults_keep_bounded_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counterexample.json");
    let explorer = Explorer::new().grace(Duration::ZERO).counterexample_file(&file);
    let connection = explorer.connection();
    let report = explorer
        .run(|ctx| {
            let connection = connection.clone();
            async move {
                let mut call = invocation(0, false);
                call.args = vec![format!("/b/{}", "x".repeat(100_000))];
                connection.create(&call).await;
                if ctx.fault_injected() { Err("a fault") } else { Ok(()) }
            }
        })
        .await;
    assert_eq!(report.verdict(), Verdict::Failed);
    let counterexample = filibuster::Counterexample::load(&file).unwrap();
    let arg = &counterexample.faults[0].args[0];
    assert!(arg.starts_with("/b/xxx") && arg.len() <= 1024, "{} bytes", arg.len());
}

/// A standalone server sent 200 records with 1.9 MB paths (380 MB) keeps
/// what its byte budgets allow (128 MiB of records, 128 MiB remembered for
/// reports), not all of them (400 once grew it by 1 GB).
#[tokio::test]
async fn huge_records_keep_a_standalone_server_bounded() {
    let base = support::serve(Server::default().router()).await;
    let http = reqwest::Client::new();
    let path = format!("/b/{}", "x".repeat(1_900_000));
    let _measuring = MEASURING.lock().await;
    let before = resident();
    for n in 0..200 {
        let mut call = invocation(n, false);
        call.args = vec![path.clone()];
        let (status, answer) =
            send(&http, reqwest::Method::PUT, format!("{base}/filibuster/create"), json!(call)).await;
        assert_eq!(status, 200, "{answer}");
    }
    let grown = resident().saturating_sub(before);
    assert!(grown < 350 << 20, "{} MB", grown >> 20);
}
