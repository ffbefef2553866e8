//! A fault model written in Rust: faults scoped by service, method and path,
//! and latency (the call delayed, then made), on the cinema's services.

use cinema as app;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use filibuster::{Calls, Connection, Explorer, Fault, FaultModel, Report, TestContext};

const CREED: &str = "/movies/267eedb8-0f5d-42d5-8f43-72426b9fb3e6";
const LATENCY: Duration = Duration::from_millis(60);

/// Starts the cinema (no bug), layered with `connection`; the URL of `users`.
async fn cinema(connection: Connection) -> String {
    app::start_all(&connection, app::Bug::None).await.unwrap().users
}

/// What one execution saw: its number, the status `users` answered, how
/// long the request took.
type Seen = Arc<Mutex<Vec<(usize, u16, Duration)>>>;

async fn explore(model: FaultModel) -> (Report, Vec<(usize, u16, Duration)>) {
    let explorer = Explorer::with_fault_model(model);
    let users = &cinema(explorer.connection()).await;
    let seen: Seen = Arc::default();
    let report = explorer
        .run(|ctx: TestContext| {
            let seen = seen.clone();
            async move {
                let started = Instant::now();
                let url = format!("{users}/users/chris_rivers/bookings");
                let status = reqwest::get(url).await.map_err(|e| e.to_string())?.status().as_u16();
                seen.lock().unwrap().push((ctx.execution(), status, started.elapsed()));
                Ok::<(), String>(())
            }
        })
        .await;
    let seen = seen.lock().unwrap().clone();
    (report, seen)
}

/// The (fault, path) of each execution's one fault, in order.
fn faults(report: &Report) -> Vec<Vec<(String, String)>> {
    report
        .executions
        .iter()
        .map(|e| e.faults.iter().map(|f| (f.fault.clone(), f.call.path.clone())).collect())
        .collect()
}

/// 503 and latency on `movies`' movie pages, a connection error on the
/// bookings call only: the fault-free execution, then (depth first) the
/// movies call's latency and 503, then the bookings call's connection
/// error, after which `users` makes no movies call.
#[tokio::test]
async fn rules_scope_faults_by_service_method_and_path() {
    let model = FaultModel::empty()
        .with(
            Calls::to("movies").method("get").path("/movies/{id}"),
            [Fault::Status(503), Fault::Latency(LATENCY)],
        )
        .with(Calls::any().path("/bookings/{user}"), [Fault::ConnectionError, Fault::Timeout]);
    let (report, seen) = explore(model).await;
    assert!(report.passed(), "{}", report.failure_message());
    let no_fault: Vec<(String, String)> = Vec::new();
    let one = |fault: &str, path: &str| vec![(fault.to_owned(), path.to_owned())];
    assert_eq!(
        faults(&report),
        [
            no_fault,
            one(&format!("latency {} ms", LATENCY.as_millis()), CREED),
            one("status 503", CREED),
            // The bookings call sets a 10 s timeout, so both are tried.
            one("reqwest.timeout", "/bookings/chris_rivers"),
            one("reqwest.connect", "/bookings/chris_rivers"),
        ]
    );
    // Under latency the call went ahead: `users` answered 200, late.
    let latency_run = seen.iter().find(|(n, _, _)| *n == 2).expect("execution 2 ran");
    assert_eq!(latency_run.1, 200, "{seen:?}");
    assert!(latency_run.2 >= LATENCY, "the request took {:?}", latency_run.2);
    // The 503 was injected, not made: `users` answered 503.
    assert_eq!(seen.iter().find(|(n, _, _)| *n == 3).map(|s| s.1), Some(503), "{seen:?}");
}

/// The analysis file says the same with `{"latency_ms": n}` among a
/// service's error types.
#[tokio::test]
async fn an_analysis_file_can_ask_for_latency() {
    let text = r#"{"http": {"pattern": "reqwest\\.GET", "errors": [{"service_name": "movies", "types": [{"latency_ms": 60}]}]}}"#;
    let model = FaultModel::from_json(text, std::path::Path::new("latency.json")).unwrap();
    let (report, seen) = explore(model).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(faults(&report)[1..], [vec![("latency 60 ms".to_owned(), CREED.to_owned())]]);
    let (_, status, took) = seen.iter().find(|(n, _, _)| *n == 2).copied().expect("execution 2 ran");
    assert_eq!(status, 200);
    assert!(took >= LATENCY, "the request took {took:?}");
}

/// The built-in model plus a rule: the rule's faults come on top, a fault
/// both propose is tried once.
#[tokio::test]
async fn rules_add_to_a_model() {
    let model =
        FaultModel::reqwest_default().with(Calls::to("movies"), [Fault::Status(503), Fault::Status(504)]);
    let explorer = Explorer::with_fault_model(model);
    let users = &cinema(explorer.connection()).await;
    let report =
        explorer
            .run(|_ctx| async move {
                reqwest::get(format!("{users}/users/chris_rivers/bookings")).await.map(drop)
            })
            .await;
    // 1 + (5 + 504) on movies + 5 on bookings.
    assert_eq!(report.executions_run, 12, "{}", report.summary());
    let movies: Vec<String> = report.executions[1..7].iter().map(|e| e.faults[0].fault.clone()).collect();
    assert_eq!(
        movies,
        ["status 504", "status 503", "status 502", "status 500", "reqwest.timeout", "reqwest.connect"]
    );
}

/// A rule whose service is misspelled never applies: a complete exploration
/// whose other rules found faults to try still says so, and is untested,
/// naming the rule and the services the calls reached. Spelled right, the
/// same model passes.
#[tokio::test]
async fn a_rule_that_matches_no_call_is_reported() {
    let model = |service: &str| {
        FaultModel::empty()
            .with(Calls::to("bookings"), [Fault::Status(503)])
            .with(Calls::to(service).method("GET").path("/movies/{id}"), [Fault::Status(500)])
    };
    let (report, _) = explore(model("movis")).await;
    assert_eq!(report.verdict(), filibuster::Verdict::Untested, "{}", report.summary());
    assert!(report.executions_run > 1, "the other rule's faults were tried: {}", report.summary());
    let unmatched: Vec<_> = report
        .errors
        .iter()
        .filter_map(|error| match error {
            filibuster::RunError::UnmatchedRule { rule, services } => Some((rule.as_str(), services.clone())),
            _ => None,
        })
        .collect();
    // `users` calls `bookings`, then `movies` for each booked movie.
    let reached = ["bookings", "movies"].map(str::to_owned).to_vec();
    assert_eq!(unmatched, [("calls to `movis` with GET /movies/{id}", reached)], "{:#?}", report.errors);
    let message = report.failure_message();
    assert!(message.contains("matched none of the calls"), "{message}");
    assert!(message.contains("the calls reached `bookings`, `movies`"), "{message}");

    let (report, _) = explore(model("movies")).await;
    assert!(report.passed(), "{}", report.failure_message());
}
