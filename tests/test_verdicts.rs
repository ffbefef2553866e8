//! A green run means the faults were tried: each case here used to end in a
//! green (or misleading) verdict on the previous main, and now says what
//! happened. Real axum services on loopback, the explorer's own server.
//!
//! The services: `a` calls `b` (instrumented, a 10 s timeout on the call)
//! or `plain` (not instrumented); `b` answers 200.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{CallName, Counterexample, Explorer, FaultModel, ReplayOutcome, Report, RunError, Verdict};

/// What `a` does on each request.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Calls `b` through `fetch`.
    Call,
    /// Calls `b` through `fetch_renamed` (as if `fetch` had been renamed).
    CallRenamed,
    /// Calls `b` on every other request only (a nondeterministic app).
    EveryOther,
    /// Spawns the call and answers at once (fire and forget).
    FireAndForget,
    /// Calls `b` through `fetch`, then again through `fetch_plain`, a fn
    /// whose `#[filibuster::call]` was forgotten.
    CallAndForget,
}

#[derive(Clone)]
struct A {
    http: reqwest::Client,
    target: String,
    mode: Mode,
    requests: Arc<AtomicUsize>,
}

#[filibuster::call]
async fn fetch(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).timeout(Duration::from_secs(10)).send().await
}

/// No `#[filibuster::call]`: its requests carry no Filibuster headers.
async fn fetch_plain(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).timeout(Duration::from_secs(10)).send().await
}

#[filibuster::call]
async fn fetch_renamed(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).timeout(Duration::from_secs(10)).send().await
}

fn status(result: reqwest::Result<reqwest::Response>) -> StatusCode {
    match result {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::handler(service = "a")]
async fn a(State(app): State<A>) -> StatusCode {
    let n = app.requests.fetch_add(1, Ordering::SeqCst);
    match app.mode {
        Mode::Call => status(fetch(&app.http, &app.target).await),
        Mode::CallRenamed => status(fetch_renamed(&app.http, &app.target).await),
        Mode::EveryOther if n % 2 == 0 => status(fetch(&app.http, &app.target).await),
        Mode::EveryOther => StatusCode::OK,
        Mode::CallAndForget => {
            let answer = status(fetch(&app.http, &app.target).await);
            let _ = fetch_plain(&app.http, &app.target).await;
            answer
        }
        Mode::FireAndForget => {
            tokio::spawn(filibuster::in_current_request(async move {
                // A little jitter, so that the call ends at various times
                // after the answer went out.
                tokio::time::sleep(Duration::from_micros(n as u64 * 397 % 3000)).await;
                let _ = fetch(&app.http, &app.target).await;
            }));
            StatusCode::OK
        }
    }
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

async fn plain() -> &'static str {
    "plain"
}

/// Starts `b` (or the uninstrumented `plain`) and `a` with the explorer's
/// layer; answers `a`'s URL.
async fn start(explorer: &Explorer, mode: Mode, instrumented_target: bool) -> String {
    let layer = explorer.connection().layer();
    let target = if instrumented_target {
        format!("{}/b", support::serve(Router::new().route("/b", get(b)).layer(layer.clone())).await)
    } else {
        format!("{}/plain", support::serve(Router::new().route("/plain", get(plain))).await)
    };
    let app = A { http: reqwest::Client::new(), target, mode, requests: Arc::default() };
    format!("{}/a", support::serve(Router::new().route("/a", get(a)).with_state(app).layer(layer)).await)
}

/// The functional test: 200 without a fault, 503 with one.
async fn explore(explorer: &Explorer, a_url: &str) -> Report {
    explorer
        .run(|ctx| async move {
            let status = reqwest::get(a_url).await.map_err(|e| e.to_string())?.status();
            let expected = if ctx.fault_injected() { 503 } else { 200 };
            if status != expected {
                return Err(format!("expected {expected}, got {status}"));
            }
            Ok(())
        })
        .await
}

/// A functional test that only asks `a` (its answer is not checked).
async fn ask(url: String) -> reqwest::Result<()> {
    reqwest::get(url).await.map(drop)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("filibuster-verdicts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The fault-free execution saw no instrumented call (the test never
/// reached the services): untested, with the likely causes; allowed, it
/// passes.
#[tokio::test]
async fn no_instrumented_call_is_untested() {
    for allow in [false, true] {
        let explorer = Explorer::new().allow_no_calls(allow);
        let _a = start(&explorer, Mode::Call, true).await;
        let report = explorer.run(|_| async {}).await;
        if allow {
            assert_eq!(report.verdict(), Verdict::Passed);
            continue;
        }
        assert_eq!(report.verdict(), Verdict::Untested);
        assert_eq!((report.verdict().exit_code(), report.executions_run), (2, 1));
        assert_eq!(report.errors, [RunError::NoInstrumentedCalls]);
        let message = report.failure_message();
        for cause in
            ["FILIBUSTER_ENABLED", "explorer.connection().layer()", "FILIBUSTER_URL", "allow_no_calls"]
        {
            assert!(message.contains(cause), "{cause}: {message}");
        }
    }
}

/// A fault model that proposes no fault for any call: untested.
#[tokio::test]
async fn a_fault_model_that_matches_nothing_is_untested() {
    let model = FaultModel::from_json(
        r#"{"none": {"pattern": "nothing\\.at\\.all", "exceptions": [{"name": "reqwest.connect"}]}}"#,
        std::path::Path::new("none.json"),
    )
    .unwrap();
    let explorer = Explorer::with_fault_model(model);
    let a = start(&explorer, Mode::Call, true).await;
    let report = explore(&explorer, &a).await;
    assert_eq!(report.errors, [RunError::NoFaultToTry { calls: 1 }]);
    assert_eq!(report.verdict(), Verdict::Untested);
    assert!(report.failure_message().contains("proposes no fault for any of the 1 call(s)"));
}

/// The app fails under any fault: the report's failure message says it all
/// once, and the counterexample replays strictly.
#[tokio::test]
async fn a_failure_says_everything_and_replays_strictly() {
    let path = scratch("counterexample.json");
    let explorer = Explorer::new().counterexample_file(&path).functional_test_name("verdicts");
    let a = start(&explorer, Mode::Call, true).await;
    let report = explorer
        .run(|ctx| {
            let a = a.clone();
            async move {
                let status = reqwest::get(&a).await.map_err(|e| e.to_string())?.status();
                if ctx.fault_injected() { Err(format!("a answered {status} under a fault")) } else { Ok(()) }
            }
        })
        .await;
    assert_eq!(report.verdict(), Verdict::Failed);
    let panic = std::panic::catch_unwind(|| report.assert_passed()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    let failure = report.failures().next().unwrap();
    let fault = &failure.faults[0];
    for expected in [
        format!("execution {} FAILED with these faults:", failure.number),
        format!("a -> b GET /b (tests/test_verdicts.rs:{}, fn fetch): {}", line_of("fetch"), fault.fault),
        "the functional test failed: a answered 503 Service Unavailable under a fault".to_owned(),
        format!("counterexample: {}", path.display()),
        format!(
            "replay it with: Explorer::new().replay(Counterexample::load({:?})?)",
            path.display().to_string()
        ),
        "Executions run: 2".to_owned(),
    ] {
        assert!(message.contains(&expected), "{expected}\n---\n{message}");
    }

    // Replayed on the same app with the right oracle (503 under a fault):
    // every planned fault injected and the test passes, i.e. fixed.
    let counterexample = Counterexample::load(&path).unwrap();
    let replayer = Explorer::new().replay(counterexample.clone());
    let a = start(&replayer, Mode::Call, true).await;
    let replay = explore(&replayer, &a).await;
    assert_eq!(replay.replay, Some(ReplayOutcome::Fixed), "{}", replay.failure_message());

    // The `fetch` fn renamed: the planned fault meets no call. Stale, with
    // the fault named by callsite, fn, method and path; not "fixed".
    let replayer = Explorer::new().replay(counterexample.clone());
    let a = start(&replayer, Mode::CallRenamed, true).await;
    let replay = explore(&replayer, &a).await;
    let Some(ReplayOutcome::Stale { unmatched, .. }) = &replay.replay else {
        panic!("not stale: {:?}\n{}", replay.replay, replay.failure_message())
    };
    assert_eq!((replay.verdict(), replay.verdict().exit_code()), (Verdict::Stale, 3));
    assert_eq!(unmatched.len(), 1);
    assert_eq!(
        unmatched[0].call,
        CallName {
            source: "a".into(),
            target: Some("b".into()),
            method: "GET".into(),
            path: "/b".into(),
            callsite: format!("tests/test_verdicts.rs:{}", line_of("fetch")),
            function: Some("fetch".into()),
        }
    );
    let message = replay.failure_message();
    assert!(
        message.contains("the counterexample is stale: 1 of its planned faults matched no call"),
        "{message}"
    );
    assert!(message.contains(&format!("fn fetch): {}", fault.fault)), "{message}");
    let _ = std::fs::remove_file(&path);
}

/// The line of the `.send()` in fn `name` of this file.
fn line_of(name: &str) -> usize {
    let source = include_str!("test_verdicts.rs");
    let start = source.find(&format!("async fn {name}(")).unwrap();
    source[..start].lines().count() + 2
}

/// Replaying with services that inject faults themselves (the reference's
/// local mode: they never call `create`): `fault-injected` answers from the
/// planned faults, as the reference does; with no call reaching the server,
/// the run needs `allow_no_calls` and is "unverified".
#[tokio::test]
async fn a_replay_answers_fault_injected_from_the_plan() {
    let path = scratch("local-mode.json");
    let explorer = Explorer::new().counterexample_file(&path);
    let a = start(&explorer, Mode::Call, true).await;
    let report = explorer
        .run(|ctx| {
            let a = a.clone();
            async move {
                reqwest::get(&a).await.map_err(|e| e.to_string())?;
                if ctx.fault_injected() { Err("fails under any fault".to_owned()) } else { Ok(()) }
            }
        })
        .await;
    assert_eq!(report.verdict(), Verdict::Failed);
    let counterexample = Counterexample::load(&path).unwrap();
    let _ = std::fs::remove_file(&path);

    for allow in [false, true] {
        let replayer = Explorer::new().replay(counterexample.clone()).allow_no_calls(allow);
        let server = support::serve(replayer.server().router()).await;
        let report = replayer
            .run(|ctx| {
                let server = server.clone();
                async move {
                    let ask = |path: &'static str| {
                        let url = format!("{server}{path}");
                        async move { reqwest::get(url).await?.json::<serde_json::Value>().await }
                    };
                    let any = ask("/filibuster/fault-injected").await.map_err(|e| e.to_string())?;
                    let on_b = ask("/filibuster/fault-injected/b").await.map_err(|e| e.to_string())?;
                    let on_c = ask("/filibuster/fault-injected/c").await.map_err(|e| e.to_string())?;
                    let answers = (any["result"].clone(), on_b["result"].clone(), on_c["result"].clone());
                    let expected = (true.into(), true.into(), false.into());
                    if answers != expected || !ctx.fault_injected() {
                        return Err(format!("fault-injected answered {answers:?}"));
                    }
                    Ok(())
                }
            })
            .await;
        if allow {
            assert_eq!(report.replay, Some(ReplayOutcome::Unverified { test_failed: false }));
            assert!(report.passed(), "{}", report.failure_message());
        } else {
            assert_eq!(report.errors, [RunError::NoInstrumentedCalls]);
            assert_eq!(report.verdict(), Verdict::Untested);
        }
    }
}

/// A fire-and-forget call that ends after the functional test returned:
/// each execution waits for it, so ten explorations give ten identical
/// reports, and no record arrives late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_and_forget_calls_give_repeatable_counts() {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let explorer = Explorer::new();
        let a = start(&explorer, Mode::FireAndForget, true).await;
        let report = explorer.run(|_| ask(a.clone())).await;
        let report = match report.verdict() {
            Verdict::Passed => report,
            _ => panic!("{}", report.failure_message()),
        };
        assert_eq!(report.late_records, 0);
        assert!(report.executions.iter().all(|e| e.unfinished.is_empty() && e.not_injected.is_empty()));
        let faults: Vec<Vec<String>> =
            report.executions.iter().map(|e| e.faults.iter().map(|f| f.fault.clone()).collect()).collect();
        seen.push((report.executions_run, report.executions_pruned, faults));
    }
    assert_eq!(seen[0].0, 6, "{:?}", seen[0]);
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:#?}");
}

/// An app whose fault-free execution makes a call only every other time:
/// running it twice shows it, and the run fails naming the call; allowed,
/// the exploration goes on and lists the faults that met no call.
#[tokio::test]
async fn nondeterminism_is_caught_and_missed_faults_listed() {
    let explorer = Explorer::new();
    let a = start(&explorer, Mode::EveryOther, true).await;
    let report = explore(&explorer, &a).await;
    assert_eq!(report.verdict(), Verdict::Untested);
    let [RunError::Nondeterministic(difference)] = &report.errors[..] else { panic!("{:?}", report.errors) };
    assert_eq!(difference.only_second, []);
    assert_eq!(difference.only_first.len(), 1);
    assert_eq!(
        difference.only_first[0].describe(),
        format!("a -> b GET /b (tests/test_verdicts.rs:{}, fn fetch)", line_of("fetch"))
    );
    assert!(report.failure_message().contains("only in the first run: a -> b GET /b"));

    let explorer = Explorer::new().allow_nondeterminism(true);
    let a = start(&explorer, Mode::EveryOther, true).await;
    let report = explore(&explorer, &a).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert!(report.nondeterminism.is_some());
    let missed: usize = report.executions.iter().map(|e| e.not_injected.len()).sum();
    assert!(missed > 0, "{report:#?}");
    assert!(report.summary().contains(&format!("Planned, not injected: {missed}")), "{}", report.summary());
}

/// Calls to a service without `#[filibuster::handler]` get no 500/502/503:
/// the report says which, with the hint.
#[tokio::test]
async fn calls_whose_target_never_reported_are_listed() {
    let explorer = Explorer::new();
    let a = start(&explorer, Mode::Call, false).await;
    let report = explorer.run(|_| ask(a.clone())).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.executions_run, 3, "no status faults: connection error and timeout only");
    assert_eq!(report.unreported_targets.len(), 1);
    let call = &report.unreported_targets[0];
    assert_eq!((call.source.as_str(), call.method.as_str(), call.path.as_str()), ("a", "GET", "/plain"));
    assert_eq!(call.function.as_deref(), Some("fetch"));
    assert!(report.summary().contains("No 500/502/503 tried on 1 call(s)"), "{}", report.summary());

    // Calls to an instrumented service are not listed.
    let explorer = Explorer::new();
    let a = start(&explorer, Mode::Call, true).await;
    let report = explorer.run(|_| ask(a.clone())).await;
    assert!(report.passed() && report.unreported_targets.is_empty(), "{}", report.summary());
}

/// A fault no reqwest call can have (a misspelled name) is refused, never
/// injected as another fault: the fault model's is not tried and the run is
/// untested, naming it and the names reqwest calls can be failed with; a
/// counterexample's is not injected, and its replay is untested too, where
/// it once replayed as a connection error ("fixed", exit 0). The reference's
/// names work through their aliases.
#[tokio::test]
async fn a_fault_no_client_knows_is_refused() {
    let model = FaultModel::from_json(
        r#"{"r": {"pattern": "reqwest\\.", "exceptions": [{"name": "reqwest.nonsense"}, {"name": "requests.exceptions.ConnectionError"}]}}"#,
        std::path::Path::new("misspelled.json"),
    )
    .unwrap();
    let path = scratch("unknown-fault.json");
    let explorer = Explorer::with_fault_model(model).counterexample_file(&path);
    let a = start(&explorer, Mode::Call, true).await;
    let report = explore(&explorer, &a).await;
    let tried: Vec<&str> =
        report.executions.iter().flat_map(|e| &e.faults).map(|f| f.fault.as_str()).collect();
    assert_eq!(tried, ["requests.exceptions.ConnectionError"], "{}", report.summary());
    let unknown = RunError::UnknownFault {
        client: "reqwest".into(),
        name: "reqwest.nonsense".into(),
        known: filibuster::fault::REQWEST_EXCEPTIONS.iter().map(|(name, _)| name.to_string()).collect(),
    };
    assert_eq!(report.errors, std::slice::from_ref(&unknown));
    assert_eq!(report.verdict(), Verdict::Untested);
    let message = report.failure_message();
    for part in ["`reqwest.nonsense`", "reqwest.connect, reqwest.timeout"] {
        assert!(message.contains(part), "{part}: {message}");
    }

    // A counterexample whose fault is misspelled.
    let connect = FaultModel::empty().with(filibuster::Calls::any(), [filibuster::Fault::ConnectionError]);
    let explorer = Explorer::with_fault_model(connect).counterexample_file(&path);
    let a = start(&explorer, Mode::Call, true).await;
    let report = explorer.run(|ctx| ask_and_fail_under_faults(a.clone(), ctx)).await;
    assert_eq!(report.verdict(), Verdict::Failed, "{}", report.summary());
    let mut counterexample = Counterexample::load(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let exception = counterexample.faults[0].forced_exception.as_mut().expect("a connection error");
    exception.name = "reqwest.nonsense".into();
    let replayer = Explorer::new().replay(counterexample);
    let a = start(&replayer, Mode::Call, true).await;
    let report = explore(&replayer, &a).await;
    assert_eq!(report.errors, [unknown]);
    assert_eq!(report.verdict(), Verdict::Untested);
    assert!(matches!(report.replay, Some(ReplayOutcome::Stale { .. })), "{:?}", report.replay);
}

/// Asks `a` and fails when a fault was injected.
async fn ask_and_fail_under_faults(a: String, ctx: filibuster::TestContext) -> Result<(), String> {
    reqwest::get(&a).await.map_err(|e| e.to_string())?;
    if ctx.fault_injected() { Err("fails under any fault".to_owned()) } else { Ok(()) }
}

/// A handler that panics, as `b` does on `/boom`.
#[filibuster::handler(service = "b")]
async fn boom() -> &'static str {
    panic!("Failed to forward request") // PANIC boom
}

/// A handler's panic is named on its execution (service, message,
/// `file:line`), in the failure message and the JSON, in-process and over
/// HTTP to the server: the caller only sees a connection closed ("error
/// sending request"). The service behaves as before: the panic goes on.
#[tokio::test]
async fn a_handlers_panic_is_named_on_its_execution() {
    let line =
        include_str!("test_verdicts.rs").lines().position(|l| l.ends_with("// PANIC boom")).unwrap() + 1;
    for over_http in [false, true] {
        let explorer = Explorer::new();
        let connection = if over_http {
            filibuster::Connection::http(support::serve(explorer.server().router()).await)
        } else {
            explorer.connection()
        };
        let target = format!(
            "{}/boom",
            support::serve(Router::new().route("/boom", get(boom)).layer(connection.layer())).await
        );
        let app = A { http: reqwest::Client::new(), target, mode: Mode::Call, requests: Arc::default() };
        let a = format!(
            "{}/a",
            support::serve(Router::new().route("/a", get(a)).with_state(app).layer(connection.layer())).await
        );
        let report = explore(&explorer, &a).await;
        assert_eq!(report.verdict(), Verdict::Failed, "{}", report.summary());
        let named =
            format!("service `b` panicked at tests/test_verdicts.rs:{line}: Failed to forward request");
        let first = &report.executions[0];
        assert_eq!(
            first.panics.iter().map(|p| p.describe()).collect::<Vec<_>>(),
            std::slice::from_ref(&named),
            "over HTTP: {over_http}"
        );
        let message = report.failure_message();
        assert!(message.contains(&named), "{message}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["executions"][0]["panics"][0]["service"], "b", "{json}");
    }
}

/// A `.send()` in a fn without `#[filibuster::call]`: its requests reach
/// `b`'s instrumented handler without Filibuster headers while `a`'s request
/// is handled, and the report names the route and the count, with the fix
/// (before, nothing said the call was never faulted).
#[tokio::test]
async fn a_forgotten_call_attribute_is_said() {
    let explorer = Explorer::new();
    let a = start(&explorer, Mode::CallAndForget, true).await;
    let report = explore(&explorer, &a).await;
    assert!(report.passed(), "{}", report.failure_message());
    // Every execution, and the repeat of the fault-free one.
    let expected = filibuster::UnmarkedRequests {
        service: "b".into(),
        route: "GET /b".into(),
        count: report.executions_run + 1,
    };
    assert_eq!(report.unmarked_requests, [expected]);
    let summary = report.summary();
    assert!(summary.contains("without #[filibuster::call], or an RPC"), "{summary}");
    assert!(summary.contains(&format!("  b GET /b: {}", report.executions_run + 1)), "{summary}");

    // The functional test's own requests are not counted.
    let explorer = Explorer::new();
    let a = start(&explorer, Mode::Call, true).await;
    let report = explore(&explorer, &a).await;
    assert!(report.unmarked_requests.is_empty(), "{:?}", report.unmarked_requests);
}
