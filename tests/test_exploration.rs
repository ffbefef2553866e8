//! Exploration on small topologies of real instrumented axum services, with
//! the built-in fault model: connection error and timeout (timeout only on
//! calls that set one) on every call, 500, 502 and 503 on calls that reach an
//! instrumented service. Each test asserts the exact numbers of executions
//! run and pruned, with and without dynamic reduction.
//!
//! Every service answers 200 when its downstream calls all answered 200, and
//! 503 otherwise; the functional test expects 200 without faults, 503 with.

mod support;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{ExecutionStatus, Explorer, Report};

#[derive(Clone)]
struct Node {
    http: reqwest::Client,
    downstream: Vec<String>,
    timeout: bool,
    /// Stop at the first failing call (else make every call).
    fail_fast: bool,
}

async fn relay(node: &Node) -> (StatusCode, &'static str) {
    let mut ok = true;
    for url in &node.downstream {
        match fetch(&node.http, url, node.timeout).await {
            Ok(response) if response.status() == StatusCode::OK => {}
            _ => {
                ok = false;
                if node.fail_fast {
                    break;
                }
            }
        }
    }
    if ok { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "a call failed") }
}

#[filibuster::call]
async fn fetch(http: &reqwest::Client, url: &str, timeout: bool) -> reqwest::Result<reqwest::Response> {
    let mut request = http.get(url);
    if timeout {
        request = request.timeout(Duration::from_secs(10));
    }
    request.send().await
}

#[filibuster::handler(service = "a")]
async fn a(State(node): State<Node>) -> (StatusCode, &'static str) {
    relay(&node).await
}

#[filibuster::handler(service = "b")]
async fn b(State(node): State<Node>) -> (StatusCode, &'static str) {
    relay(&node).await
}

#[filibuster::handler(service = "c")]
async fn c(State(node): State<Node>) -> (StatusCode, &'static str) {
    relay(&node).await
}

/// A service that is not instrumented.
async fn plain() -> &'static str {
    "plain"
}

#[derive(Clone, Copy)]
enum Service {
    A,
    B,
    C,
}

struct Topology {
    explorer: Explorer,
}

impl Topology {
    fn new(dynamic_reduction: bool) -> Self {
        Self { explorer: Explorer::new().dynamic_reduction(dynamic_reduction) }
    }

    /// Starts `service`, calling each of `downstream` in turn.
    async fn node(&self, service: Service, downstream: &[&str], timeout: bool, fail_fast: bool) -> String {
        let node = Node {
            http: reqwest::Client::new(),
            downstream: downstream.iter().map(|s| s.to_string()).collect(),
            timeout,
            fail_fast,
        };
        let route = match service {
            Service::A => get(a),
            Service::B => get(b),
            Service::C => get(c),
        };
        let router =
            Router::new().route("/", route).with_state(node).layer(self.explorer.connection().layer());
        format!("{}/", support::serve(router).await)
    }

    async fn explore(&self, entry: &str) -> Report {
        support::explore_get(&self.explorer, entry).await
    }
}

fn assert_counts(report: &Report, run: usize, pruned: usize) {
    assert!(report.passed(), "{:#?}", report.failures().collect::<Vec<_>>());
    assert_eq!((report.executions_run, report.executions_pruned), (run, pruned), "{}", report.summary());
    assert_eq!(report.executions_remaining, 0);
}

// Both modes give the same numbers where nothing can be pruned; `cases`
// lists (dynamic reduction, executions run, executions pruned).

/// a -> b. The call gets 2 exceptions on create and 3 statuses once it
/// reached b: 1 initial + 5 = 6 runs. Nothing to prune: no execution run
/// before had the call end like that.
#[tokio::test]
async fn one_call() {
    for (reduction, run, pruned) in [(false, 6, 0), (true, 6, 0)] {
        let t = Topology::new(reduction);
        let b = t.node(Service::B, &[], true, true).await;
        let a = t.node(Service::A, &[&b], true, true).await;
        assert_counts(&t.explore(&a).await, run, pruned);
    }
}

/// a -> b -> c. 5 faults on a->b and 5 on b->c: 1 + 10 = 11 runs; failing
/// a->b means b->c never happens, so no combination. With reduction, the
/// executions faulting b->c run first (depth first: the latest call's faults
/// are on top of the stack) and each makes b answer a 503; then "503 on
/// a->b" cannot show anything new (a already saw a->b end with 503) and is
/// pruned: 10 runs, 1 pruned.
#[tokio::test]
async fn chain() {
    for (reduction, run, pruned) in [(false, 11, 0), (true, 10, 1)] {
        let t = Topology::new(reduction);
        let c = t.node(Service::C, &[], true, true).await;
        let b = t.node(Service::B, &[&c], true, true).await;
        let a = t.node(Service::A, &[&b], true, true).await;
        let report = t.explore(&a).await;
        assert_counts(&report, run, pruned);
        if reduction {
            assert_pruned_and_reported(&report);
        }
    }
}

/// The pruned execution of `chain` names the one that covered it: the
/// first run after the initial one (a fault on b->c, so that a->b answered
/// 503); and the JSON report holds typed fields.
fn assert_pruned_and_reported(report: &Report) {
    let pruned =
        report.executions.iter().find(|e| matches!(e.status, ExecutionStatus::Pruned { .. })).unwrap();
    assert_eq!(pruned.status, ExecutionStatus::Pruned { covered_by: vec![2] });
    let covering = &report.executions[1];
    assert_eq!(covering.number, 2);
    assert!(
        covering.calls.iter().any(|c| c.target.as_deref() == Some("c") && c.fault.is_some()),
        "{covering:?}"
    );
    let description = pruned.describe();
    assert!(
        description.starts_with(&format!(
            "execution {} pruned (what it would show, execution 2 showed) with these faults:\n  a -> b GET / (",
            pruned.number
        )),
        "{description}"
    );
    assert!(description.ends_with("): status 503\n"), "{description}");

    let path = std::env::temp_dir().join(format!("filibuster-exploration-{}.json", std::process::id()));
    report.write_json(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    let options = &json["options"];
    assert_eq!(options["fault_model"], "<built-in>");
    assert_eq!(
        (&options["dynamic_reduction"], &options["max_executions"]),
        (&true.into(), &serde_json::Value::Null)
    );
    assert_eq!((&options["grace"], &options["replay"]), (&5.0.into(), &false.into()));
    let executions = json["executions"].as_array().unwrap();
    assert_eq!(executions[0]["number"], 1);
    assert_eq!(executions[0]["status"], "passed");
    let pruned = executions.iter().find(|e| e["status"] == "pruned").unwrap();
    assert_eq!(pruned["covered_by"], serde_json::json!([2]));
    let fault = &pruned["faults"][0];
    assert_eq!(
        (&fault["source"], &fault["target"], &fault["method"]),
        (&"a".into(), &"b".into(), &"GET".into())
    );
    assert_eq!(
        (&fault["path"], &fault["function"], &fault["fault"]),
        (&"/".into(), &"fetch".into(), &"status 503".into())
    );
    assert!(fault["callsite"].as_str().unwrap().starts_with("tests/test_exploration.rs:"), "{fault}");
    // Execution indices are JSON lists of [hash, count] pairs, not strings.
    let index = fault["execution_index"].as_array().unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(index[0][1], 1);
    let call = &executions[1]["calls"][1];
    assert_eq!(call["execution_index"].as_array().unwrap().len(), 2, "{call}");
}

/// a -> {b, c}, a making both calls whatever happens. 5 faults on a->c, 5 on
/// a->b; with a->b failed, a->c is a call its scheduling execution (whose log
/// ended at a->b) had not seen, so each of the 5 schedules 5 combinations:
/// 1 + 5 + 5 * (1 + 5) = 36 runs. Nothing to prune: no earlier execution had
/// both calls end that way.
#[tokio::test]
async fn fan_out() {
    for (reduction, run, pruned) in [(false, 36, 0), (true, 36, 0)] {
        let t = Topology::new(reduction);
        let c = t.node(Service::C, &[], true, false).await;
        let b = t.node(Service::B, &[], true, false).await;
        let a = t.node(Service::A, &[&b, &c], true, false).await;
        assert_counts(&t.explore(&a).await, run, pruned);
    }
}

/// a -> an uninstrumented service: no request_received, so no status
/// faults; connection error and timeout only: 1 + 2 = 3 runs.
#[tokio::test]
async fn uninstrumented_target() {
    for (reduction, run, pruned) in [(false, 3, 0), (true, 3, 0)] {
        let t = Topology::new(reduction);
        let plain = format!("{}/", support::serve(Router::new().route("/", get(plain))).await);
        let a = t.node(Service::A, &[&plain], true, true).await;
        assert_counts(&t.explore(&a).await, run, pruned);
    }
}

/// a -> b without a timeout: no timeout fault; connection error, 500, 502,
/// 503: 1 + 4 = 5 runs.
#[tokio::test]
async fn call_without_timeout() {
    for (reduction, run, pruned) in [(false, 5, 0), (true, 5, 0)] {
        let t = Topology::new(reduction);
        let b = t.node(Service::B, &[], false, true).await;
        let a = t.node(Service::A, &[&b], false, true).await;
        assert_counts(&t.explore(&a).await, run, pruned);
    }
}

/// a -> b three times in one request (execution indices with counts 1, 2,
/// 3), a stopping at the first failure. 5 faults on each call, the later
/// calls vanishing when an earlier one fails: 1 + 15 = 16 runs, none
/// prunable (each fault is the first of its kind on its call).
#[tokio::test]
async fn repeated_call() {
    for (reduction, run, pruned) in [(false, 16, 0), (true, 16, 0)] {
        let t = Topology::new(reduction);
        let b = t.node(Service::B, &[], true, true).await;
        let a = t.node(Service::A, &[&b, &b, &b], true, true).await;
        assert_counts(&t.explore(&a).await, run, pruned);
    }
}

/// A limit counts the initial execution and pruned ones, as `--max-tests`.
#[tokio::test]
async fn max_executions() {
    let t = Topology { explorer: Explorer::new().max_executions(3) };
    let b = t.node(Service::B, &[], true, true).await;
    let a = t.node(Service::A, &[&b], true, true).await;
    let report = t.explore(&a).await;
    assert_eq!((report.executions_run, report.executions_remaining), (3, 3));
}

/// Two explorations at once in one process (as parallel tests are) do not
/// see each other's calls: each keeps its own counts and calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_explorations_are_separate() {
    let chain = Topology::new(false);
    let c = chain.node(Service::C, &[], true, true).await;
    let b = chain.node(Service::B, &[&c], true, true).await;
    let chain_entry = chain.node(Service::A, &[&b], true, true).await;
    let single = Topology::new(false);
    let b = single.node(Service::B, &[], false, true).await;
    let single_entry = single.node(Service::A, &[&b], false, true).await;

    let (chain_report, single_report) =
        tokio::join!(chain.explore(&chain_entry), single.explore(&single_entry));
    assert_counts(&chain_report, 11, 0);
    assert_counts(&single_report, 5, 0);
    for execution in &single_report.executions {
        assert!(execution.calls.iter().all(|call| call.source == "a"), "{execution:#?}");
    }
}
