//! `#[filibuster::test]`: an async fn that explores, with its services
//! started once, its failing executions saved and replayed first; and the
//! explorer's search strategies and keep-going mode under it.
//!
//! The exploring tests whose outcome or counts matter are `#[ignore]`d and
//! called by plain tests, which count the executions their bodies ran (the
//! fault-free execution runs twice: it is checked for repeatability) and
//! catch their panics.

use cinema as app;
mod support;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{Connection, Explorer, Report, Strategy, TestContext, Verdict};

/// Starts the cinema's four services, layered with `connection`, `users`
/// with `bug`; answers the URL of `users`.
async fn cinema_with(connection: Connection, bug: app::Bug) -> String {
    app::start_all(&connection, bug).await.unwrap().users
}

/// What the tests reach of the cinema's services.
struct Cinema {
    /// The base URL of `users`.
    users: String,
}

async fn cinema(connection: Connection) -> Cinema {
    Cinema { users: cinema_with(connection, app::Bug::None).await }
}

async fn cinema_with_bug(connection: Connection) -> Cinema {
    Cinema { users: cinema_with(connection, app::Bug::EmptyListOnMoviesTimeout).await }
}

async fn check(ctx: &TestContext, users: &str) -> Result<(), String> {
    app::check_chris_rivers(&reqwest::Client::new(), users, async || ctx.fault_injected()).await
}

// ----- a passing exploration -------------------------------------------------

static CINEMA_RUNS: AtomicUsize = AtomicUsize::new(0);

#[filibuster::test(services = cinema, regressions = false)]
#[ignore = "run by `every_combination_is_explored`, which counts its executions"]
async fn cinema_passes(ctx: TestContext, cinema: &Cinema) -> Result<(), String> {
    CINEMA_RUNS.fetch_add(1, Ordering::SeqCst);
    check(&ctx, &cinema.users).await
}

#[test]
fn every_combination_is_explored() {
    cinema_passes();
    // 11 executions, as the reference runs, plus the fault-free one run
    // again to check that it repeats.
    assert_eq!(CINEMA_RUNS.load(Ordering::SeqCst), 12);
}

// ----- failing explorations --------------------------------------------------

/// The panic message of `test`, which must panic.
fn panic_of(test: fn()) -> String {
    let panic = std::panic::catch_unwind(AssertUnwindSafe(test)).expect_err("the test should fail");
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => panic.downcast::<&str>().map(|m| (*m).to_owned()).unwrap_or_default(),
    }
}

#[filibuster::test(services = cinema_with_bug, regressions = false)]
#[should_panic(
    expected = "replay it with: cargo test -p filibuster --test test_attribute a_failing_execution_fails_the_test -- --exact\n"
)]
async fn a_failing_execution_fails_the_test(ctx: TestContext, cinema: &Cinema) -> Result<(), String> {
    check(&ctx, &cinema.users).await
}

/// A test with no instrumented call is not green.
#[filibuster::test(regressions = false)]
#[should_panic(expected = "no instrumented call was seen")]
async fn nothing_tested_fails_the_test(_ctx: TestContext) {}

/// Unless allowed: then the same test passes.
#[filibuster::test(allow_no_calls = true, regressions = false)]
async fn nothing_tested_passes_when_allowed(ctx: TestContext) {
    assert!(!ctx.fault_injected());
}

/// `front` calls `back` with no timeout: a hung `back` hangs it.
#[filibuster::call]
async fn fetch_back(url: &str) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new().get(url).send().await
}

#[filibuster::handler(service = "front")]
async fn hanging_front(State(back): State<String>) -> StatusCode {
    match fetch_back(&back).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::handler(service = "back")]
async fn hanging_back() -> &'static str {
    "back"
}

/// Starts `back` and `front`; answers the URL of `front`.
async fn front_and_back(connection: Connection) -> String {
    let back = support::serve(Router::new().route("/", get(hanging_back)).layer(connection.layer())).await;
    let front = Router::new().route("/", get(hanging_front)).with_state(format!("{back}/"));
    support::serve(front.layer(connection.layer())).await
}

/// `execution_timeout` is the execution's deadline: a hang fault on a call
/// without a timeout fails the test there.
#[filibuster::test(
    services = front_and_back,
    fault_model = filibuster::FaultModel::empty().with(filibuster::Calls::any(), [filibuster::Fault::Hang]),
    execution_timeout = 0.3,
    regressions = false,
    report = false
)]
#[should_panic(expected = "did not return within 0.300 s, the execution's deadline (`execution_timeout`)")]
async fn a_hung_call_meets_the_execution_timeout(_ctx: TestContext, front: &String) -> Result<(), String> {
    reqwest::get(front).await.map_err(|e| e.to_string())?;
    Ok(())
}

// ----- reports ---------------------------------------------------------------

/// Where `#[filibuster::test]` writes the JSON report of test `function` of
/// this file by default: `target/filibuster/<crate>/<fn>.json`.
fn default_report(function: &str) -> PathBuf {
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    target.join(format!("filibuster/test_attribute/{function}.json"))
}

const CUSTOM_REPORT: &str = "target/filibuster-test-reports/test_attribute/custom.json";

#[filibuster::test(
    allow_no_calls = true,
    regressions = false,
    report = "target/filibuster-test-reports/test_attribute/custom.json"
)]
#[ignore = "run by `a_test_writes_its_report_where_report_says`"]
async fn custom_report(_ctx: TestContext) {}

#[filibuster::test(allow_no_calls = true, regressions = false, report = false)]
#[ignore = "run by `a_test_writes_its_report_where_report_says`"]
async fn no_report(_ctx: TestContext) {}

#[test]
fn a_test_writes_its_report_where_report_says() {
    let custom = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(CUSTOM_REPORT);
    let html = custom.with_extension("html");
    let _ = (std::fs::remove_file(&custom), std::fs::remove_file(&html));
    custom_report();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&custom).unwrap()).unwrap();
    assert_eq!(written["report_file"], custom.display().to_string(), "{written}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("<html"));

    let none = default_report("no_report");
    let _ = std::fs::remove_file(&none);
    no_report();
    assert!(!none.exists(), "`report = false` writes none");
}

// ----- saved regressions -----------------------------------------------------

const BUG_REGRESSIONS: &str = "target/filibuster-test-regressions/test_attribute/bug.json";
static BUG_RUNS: AtomicUsize = AtomicUsize::new(0);

#[filibuster::test(services = cinema_with_bug, regressions = "target/filibuster-test-regressions/test_attribute/bug.json")]
#[ignore = "run by `a_failing_execution_is_saved_and_replayed_first`"]
async fn bug_with_regressions(ctx: TestContext, cinema: &Cinema) -> Result<(), String> {
    BUG_RUNS.fetch_add(1, Ordering::SeqCst);
    check(&ctx, &cinema.users).await
}

#[test]
fn a_failing_execution_is_saved_and_replayed_first() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BUG_REGRESSIONS);
    let _ = std::fs::remove_file(&file);

    // The exploration finds the movies timeout at execution 5 (plus the
    // repeated fault-free one), and saves it.
    let report = default_report("bug_with_regressions");
    let _ = std::fs::remove_file(&report);
    let first = panic_of(bug_with_regressions);
    assert_eq!(BUG_RUNS.swap(0, Ordering::SeqCst), 6, "{first}");
    assert!(first.contains("execution 5 FAILED"), "{first}");
    assert!(first.contains(&format!("saved to {}", file.display())), "{first}");
    // The command runs this test alone, in its package's test target.
    assert!(
        first.contains(
            "replay it with: cargo test -p filibuster --test test_attribute bug_with_regressions -- --exact"
        ),
        "{first}"
    );
    // The grid, and the report's files.
    assert!(
        first.contains(
            "  call 2  not explored     failed           passed        passed        passed\n\
             \x20 call 1: users -> bookings GET /bookings/chris_rivers"
        ),
        "{first}"
    );
    let html = report.with_extension("html");
    assert!(
        first.ends_with(&format!("\nReport: {} (HTML: {})\n", report.display(), html.display())),
        "{first}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(written["executions_run"], 5, "{written}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("execution 5 FAILED"));
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["regressions"].as_array().map(Vec::len), Some(1), "{saved}");

    // The next run replays it first, once, and fails at once.
    let second = panic_of(bug_with_regressions);
    assert_eq!(BUG_RUNS.swap(0, Ordering::SeqCst), 1, "{second}");
    assert!(second.contains("saved regression 1 of"), "{second}");
    assert!(second.contains("failed again"), "{second}");
    assert!(
        second
            .contains("replay it with: cargo test -p filibuster --test test_attribute bug_with_regressions"),
        "{second}"
    );
    assert!(second.contains("reqwest.timeout"), "{second}");
    assert!(second.contains("Executions run: 0\nExecutions pruned: 0\nTotal: 0\n"), "{second}");
    assert!(second.contains("Saved regressions replayed: 1"), "{second}");
    let again: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(again, saved, "replaying does not change the file");
}

/// The explorer's side of the same, with the fixed app: a fixed regression
/// passes and is kept; then the exploration runs as if it had not run (the
/// same 11 executions).
#[tokio::test]
async fn a_fixed_regression_passes_and_the_exploration_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regressions.json");
    let buggy = Explorer::new().regressions(&file);
    let report = explore(&buggy, cinema_with_bug).await;
    assert_eq!(report.verdict(), Verdict::Failed);
    assert_eq!(report.regressions_saved, 1);

    let fixed = Explorer::new().regressions(&file);
    let report = explore(&fixed, cinema).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.regressions.len(), 1);
    assert_eq!(report.regressions[0].outcome, filibuster::ReplayOutcome::Fixed);
    assert_eq!((report.executions_run, report.executions_pruned), (11, 0));
    assert_eq!(report.regressions_saved, 0);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["regressions"].as_array().map(Vec::len), Some(1), "a fixed regression is kept");
}

/// A saved regression whose calls the app no longer makes is stale: the run
/// says so and is not green; the file is left as it is. (Here the app
/// replaced: the cinema's failing execution replayed against another app.)
#[tokio::test]
async fn a_stale_regression_is_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regressions.json");
    let report = explore(&Explorer::new().regressions(&file), cinema_with_bug).await;
    assert_eq!(report.regressions_saved, 1);
    let saved = std::fs::read_to_string(&file).unwrap();

    let explorer = Explorer::new().regressions(&file);
    let front = fan_out(explorer.connection()).await;
    let report = explorer
        .run(|_ctx| {
            let front = front.clone();
            async move { reqwest::get(front).await.map(drop) }
        })
        .await;
    assert!(
        matches!(report.regressions[0].outcome, filibuster::ReplayOutcome::Stale { .. }),
        "{:?}",
        report.regressions[0].outcome
    );
    assert_eq!(report.verdict(), Verdict::Stale, "{}", report.failure_message());
    let message = report.failure_message();
    assert!(message.contains("saved regression 1 of"), "{message}");
    assert!(message.contains("is stale: 1 of its planned faults matched no call"), "{message}");
    assert!(message.contains("users -> movies"), "{message}");
    assert!(message.contains("Saved regressions replayed: 1"), "{message}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), saved, "the file is left as it is");
}

/// A regressions file that does not parse makes the run untested, and is
/// not overwritten.
#[tokio::test]
async fn an_unreadable_regressions_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regressions.json");
    std::fs::write(&file, "{ not json").unwrap();
    let report = explore(&Explorer::new().regressions(&file), cinema_with_bug).await;
    assert_eq!(report.verdict(), Verdict::Untested);
    assert!(
        report.failure_message().contains("cannot be used: it is not JSON"),
        "{}",
        report.failure_message()
    );
    assert_eq!(report.executions_run, 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ not json");
}

async fn explore<S: Future<Output = Cinema>>(
    explorer: &Explorer,
    start: impl FnOnce(Connection) -> S,
) -> Report {
    let users = &start(explorer.connection()).await.users;
    explorer.run(|ctx| async move { check(&ctx, users).await }).await
}

// ----- strategies -----------------------------------------------------------

/// Breadth first, the single faults of the fault-free execution run in the
/// order they were scheduled: the five on the bookings call (made first)
/// before the five on the movies call. The same 11 executions.
#[tokio::test]
async fn breadth_first_takes_the_earliest_scheduled_first() {
    let explorer = Explorer::new().strategy(Strategy::BreadthFirst);
    let report = explore(&explorer, cinema).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.executions_run, 11);
    let targets: Vec<String> = report.executions[1..]
        .iter()
        .map(|e| e.faults[0].call.path.split('/').nth(1).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(targets, [vec!["bookings"; 5], vec!["movies"; 5]].concat());

    let depth_first = explore(&Explorer::new(), cinema).await;
    let targets: Vec<String> = depth_first.executions[1..]
        .iter()
        .map(|e| e.faults[0].call.path.split('/').nth(1).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(targets, [vec!["movies"; 5], vec!["bookings"; 5]].concat());
}

// ----- keep going -----------------------------------------------------------

/// `front` calls `left` and `right`, both always, and answers which failed.
#[derive(Clone)]
struct Front {
    http: reqwest::Client,
    left: String,
    right: String,
}

#[filibuster::call]
async fn fetch(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

#[filibuster::handler(service = "front")]
async fn front(State(front): State<Front>) -> String {
    let left = fetch(&front.http, &front.left).await.is_ok_and(|r| r.status() == StatusCode::OK);
    let right = fetch(&front.http, &front.right).await.is_ok_and(|r| r.status() == StatusCode::OK);
    format!("left {}, right {}", if left { "ok" } else { "failed" }, if right { "ok" } else { "failed" })
}

#[filibuster::handler(service = "side")]
async fn side() -> &'static str {
    "ok"
}

async fn fan_out(connection: Connection) -> String {
    let layer = connection.layer();
    let side = || Router::new().route("/", get(side)).layer(layer.clone());
    let (left, right) = (support::serve(side()).await, support::serve(side()).await);
    let state = Front { http: reqwest::Client::new(), left: format!("{left}/"), right: format!("{right}/") };
    support::serve(Router::new().route("/", get(front)).with_state(state).layer(layer)).await
}

/// The functional test fails whenever the left call failed: keeping going,
/// every such execution fails; the single faults on `left` are the smallest
/// failing fault sets, each with the executions that add a fault on `right`.
#[tokio::test]
async fn keep_going_reports_every_failure_grouped_by_smallest_fault_set() {
    let explorer = Explorer::new().keep_going(true).dynamic_reduction(false);
    let front = fan_out(explorer.connection()).await;
    let report = explorer
        .run(|_ctx| {
            let front = front.clone();
            async move {
                let body = reqwest::get(&front)
                    .await
                    .map_err(|e| e.to_string())?
                    .text()
                    .await
                    .map_err(|e| e.to_string())?;
                if body.starts_with("left failed") { Err(body) } else { Ok(()) }
            }
        })
        .await;
    assert_eq!(report.verdict(), Verdict::Failed);
    // 1 + 4 on right + 4 on left, each with 4 more on right (4 faults a
    // call: connection error, 500, 502, 503; no timeout, as the calls set
    // none): 1 + 4 + 4 + 16 = 25.
    assert_eq!(report.executions_run, 25, "{}", report.summary());
    assert_eq!(report.failures().count(), 20);
    let groups = report.failure_groups();
    assert_eq!(groups.len(), 4, "{groups:?}");
    for group in &groups {
        assert_eq!(group.supersets.len(), 4, "{groups:?}");
        let minimal = report.executions.iter().find(|e| e.number == group.minimal).unwrap();
        assert_eq!(minimal.faults.len(), 1);
    }
    let message = report.failure_message();
    assert!(message.contains("20 failing executions, 4 smallest failing fault sets"), "{message}");
}
