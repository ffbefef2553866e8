//! The questions a functional test asks of its [`TestContext`] name the
//! call a fault was injected into, not only the service: real axum services
//! on loopback, the explorer's own server, the built-in fault model.
//!
//! `users` answers `GET /users/{user}/bookings` by looking the bookings up
//! (`GET bookings /bookings/{user}`, from `fetch_bookings`) and then sending
//! an audit record to the same service and path (`POST bookings
//! /bookings/{user}`, from `audit_booking`, whose failure it ignores). Its
//! answer is 200, or 503 when the lookup failed: a fault on the audit
//! changes nothing, which `fault_injected_on("bookings")` cannot tell.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{
    Counterexample, Explorer, FaultKind, InjectedFault, ReplayOutcome, Report, TestContext, Verdict,
};

#[derive(Clone)]
struct Users {
    http: reqwest::Client,
    bookings_url: String,
}

#[filibuster::call]
async fn fetch_bookings(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
    let url = format!("{}/bookings/{user}?limit=5", users.bookings_url);
    users.http.get(url).timeout(Duration::from_secs(10)).send().await // SEND fetch_bookings
}

#[filibuster::call(id = "audit")]
async fn audit_booking(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
    users.http.post(format!("{}/bookings/{user}", users.bookings_url)).send().await // SEND audit_booking
}

#[filibuster::handler(service = "users")]
async fn user_bookings(State(users): State<Users>, Path(user): Path<String>) -> StatusCode {
    let lookup = fetch_bookings(&users, &user).await;
    // The audit is best effort: its failure does not change the answer.
    let _ = audit_booking(&users, &user).await;
    match lookup {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::handler(service = "bookings")]
async fn lookup(Path(_user): Path<String>) -> &'static str {
    "[]"
}

#[filibuster::handler(service = "bookings")]
async fn audit(Path(_user): Path<String>) -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Starts `bookings` and `users` with the explorer's layer; answers the URL
/// of chris's bookings at `users`.
async fn start(explorer: &Explorer) -> String {
    let layer = explorer.connection().layer();
    let bookings_url =
        support::serve(Router::new().route("/bookings/{user}", get(lookup).post(audit)).layer(layer.clone()))
            .await;
    let users = Users { http: reqwest::Client::new(), bookings_url };
    let users_url = support::serve(
        Router::new().route("/users/{user}/bookings", get(user_bookings)).with_state(users).layer(layer),
    )
    .await;
    format!("{users_url}/users/chris/bookings")
}

async fn status(url: &str) -> Result<u16, String> {
    Ok(reqwest::get(url).await.map_err(|e| e.to_string())?.status().as_u16())
}

/// The line of this file holding `marker`.
fn line_of(marker: &str) -> u32 {
    let source = include_str!("test_assertions.rs");
    let found = source.lines().position(|l| l.ends_with(marker)).expect("marker in the source");
    u32::try_from(found).unwrap() + 1
}

/// What the functional test saw in one execution.
#[derive(Clone, Debug)]
struct Seen {
    faults: Vec<InjectedFault>,
    on_service: bool,
    on_get: bool,
    on_post: bool,
    on_get_route: bool,
    on_post_route: bool,
    on_get_exact: bool,
    on_other_route: bool,
    at_fetch_fn: bool,
    at_fetch_id: bool,
    at_audit_fn: bool,
    at_audit_id: bool,
}

impl Seen {
    fn of(ctx: &TestContext) -> Self {
        // The id of `fetch_bookings`'s `.send()`, computed here (see
        // tests/test_callsite_ids.rs).
        let fetch_id = support::md5("filibuster:tests/test_assertions.rs:fetch_bookings#1");
        Self {
            faults: ctx.faults(),
            on_service: ctx.fault_injected_on("bookings"),
            on_get: ctx.fault_injected_on_method("bookings", "GET"),
            on_post: ctx.fault_injected_on_method("bookings", "post"),
            on_get_route: ctx.fault_injected_on_request("bookings", "GET", "/bookings/{user}"),
            on_post_route: ctx.fault_injected_on_request("bookings", "POST", "/bookings/{user}"),
            on_get_exact: ctx.fault_injected_on_request("bookings", "GET", "/bookings/chris?limit=5"),
            on_other_route: ctx.fault_injected_on_request("bookings", "GET", "/users/{user}/bookings"),
            at_fetch_fn: ctx.fault_injected_at("fetch_bookings"),
            at_fetch_id: ctx.fault_injected_at(&fetch_id),
            at_audit_fn: ctx.fault_injected_at("audit_booking"),
            at_audit_id: ctx.fault_injected_at(&support::md5("audit#1")),
        }
    }
}

/// Explores with `explorer` and `oracle` (the test fails when it returns an
/// error); every execution's observations, in order.
async fn explore(
    explorer: Explorer,
    oracle: fn(&TestContext, u16) -> Result<(), String>,
) -> (Report, Vec<Seen>) {
    let url = start(&explorer).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let report = explorer
        .run(|ctx| {
            let (url, seen) = (url.clone(), seen.clone());
            async move {
                let status = status(&url).await?;
                seen.lock().unwrap().push(Seen::of(&ctx));
                oracle(&ctx, status)
            }
        })
        .await;
    let seen = seen.lock().unwrap().clone();
    (report, seen)
}

/// The precise oracle passes every execution; each question answers for
/// the call it names, and the listed faults say which call got what.
#[tokio::test]
async fn precise_assertions_tell_two_calls_to_one_service_apart() {
    let (report, seen) = explore(Explorer::new(), |ctx, status| {
        let lookup_failed = ctx.fault_injected_on_request("bookings", "GET", "/bookings/{user}");
        ctx.expect_outcome(lookup_failed, status, 200, &[503])
    })
    .await;
    report.assert_passed();
    assert!(report.executions_run > 4, "{}", report.summary());

    let get_line = line_of("// SEND fetch_bookings");
    let post_line = line_of("// SEND audit_booking");
    let (mut audit_only, mut lookup_only) = (0, 0);
    for s in &seen {
        // The fault-free execution (and its repetition) sees none.
        if s.faults.is_empty() {
            assert!(!(s.on_service || s.on_get || s.on_post || s.at_fetch_fn || s.at_audit_id), "{s:?}");
            continue;
        }
        for fault in &s.faults {
            assert_eq!(
                (fault.source.as_str(), fault.target.as_deref()),
                ("users", Some("bookings")),
                "{s:?}"
            );
            assert!(fault.file.ends_with("test_assertions.rs"), "{fault:?}");
            match fault.method.as_str() {
                "GET" => {
                    assert_eq!(fault.path, "/bookings/chris?limit=5");
                    assert_eq!(
                        (fault.line, fault.function.as_deref()),
                        (Some(get_line), Some("fetch_bookings"))
                    );
                }
                "POST" => {
                    assert_eq!(fault.path, "/bookings/chris");
                    assert_eq!(
                        (fault.line, fault.function.as_deref()),
                        (Some(post_line), Some("audit_booking"))
                    );
                    assert_eq!(fault.callsite_id, support::md5("audit#1"));
                }
                other => panic!("unexpected method {other}: {fault:?}"),
            }
            // Every fault of the built-in model, by name.
            assert!(
                matches!(&fault.fault, FaultKind::Exception { name, .. } if name == "reqwest.connect" || name == "reqwest.timeout")
                    || matches!(fault.fault, FaultKind::Status { code: 500 | 502 | 503 }),
                "{fault:?}"
            );
        }
        let get = s.faults.iter().any(|f| f.method == "GET");
        let post = s.faults.iter().any(|f| f.method == "POST");
        assert!(s.on_service);
        assert_eq!(
            [s.on_get, s.on_get_route, s.on_get_exact, s.at_fetch_fn, s.at_fetch_id],
            [get; 5],
            "{s:?}"
        );
        assert_eq!([s.on_post, s.on_post_route, s.at_audit_fn, s.at_audit_id], [post; 4], "{s:?}");
        assert!(!s.on_other_route, "{s:?}");
        audit_only += usize::from(post && !get);
        lookup_only += usize::from(get && !post);
    }
    // Both kinds of execution were explored: where the service-wide question
    // says yes, the precise ones differ.
    assert!(audit_only > 0 && lookup_only > 0, "{seen:#?}");
}

/// The service-wide question relaxes the oracle when only the audit failed:
/// the test then expects 503, gets 200, and fails on an audit fault.
#[tokio::test]
async fn the_service_wide_question_raises_a_false_alarm() {
    fn service_wide(ctx: &TestContext, status: u16) -> Result<(), String> {
        ctx.expect_outcome(ctx.fault_injected_on("bookings"), status, 200, &[503])
    }
    let counterexample =
        std::env::temp_dir().join(format!("filibuster-assertions-{}.json", std::process::id()));
    let (report, _) = explore(Explorer::new().counterexample_file(&counterexample), service_wide).await;
    assert_eq!(report.verdict(), Verdict::Failed, "{}", report.summary());
    let failed = report.failures().next().unwrap();
    assert!(failed.faults.iter().all(|f| f.call.method == "POST"), "{}", failed.describe());
    let message = report.failure_message();
    // The oracle's message names what it expected, what came, and the fault.
    assert!(message.contains("expected 503 (the fault asked about was injected), got 200"), "{message}");
    assert!(message.contains("users -> bookings POST /bookings/chris ("), "{message}");
    assert!(message.contains(", fn audit_booking): "), "{message}");

    // Replaying the counterexample, the context lists the planned fault on
    // the audit, named as in the exploration.
    let replay = Counterexample::load(&counterexample).unwrap();
    let _ = std::fs::remove_file(&counterexample);
    let (replayed, seen) = explore(Explorer::new().replay(replay), service_wide).await;
    assert_eq!(replayed.replay, Some(ReplayOutcome::Reproduced), "{}", replayed.failure_message());
    let faults = &seen[0].faults;
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!((faults[0].method.as_str(), faults[0].path.as_str()), ("POST", "/bookings/chris"));
    assert_eq!(faults[0].callsite_id, support::md5("audit#1"));
    assert!(seen[0].at_audit_fn && seen[0].on_post_route && !seen[0].on_get, "{:?}", seen[0]);
}

/// `GET $FILIBUSTER_URL/filibuster/faults` answers what `ctx.faults()`
/// does, as JSON; the reference's endpoints answer as before.
#[tokio::test]
async fn the_faults_endpoint_lists_the_injected_faults() {
    let explorer = Explorer::new();
    let url = start(&explorer).await;
    // As `filibuster test` serves it: `FILIBUSTER_URL` is `<server>/run/<token>`.
    explorer.server().clone().with_token("t0ken", true);
    let server = format!("{}/run/t0ken", support::serve(explorer.server().router()).await);
    let compared = Arc::new(Mutex::new(0));
    let shapes = Arc::new(Mutex::new(0));
    let report = explorer
        .run(|ctx| {
            let (url, server, compared, shapes) =
                (url.clone(), server.clone(), compared.clone(), shapes.clone());
            async move {
                status(&url).await?;
                let get = |path: &'static str| {
                    let url = format!("{server}{path}");
                    async move { reqwest::get(url).await?.json::<serde_json::Value>().await }
                };
                let listed = get("/filibuster/faults").await.map_err(|e| e.to_string())?;
                let faults: Vec<InjectedFault> =
                    serde_json::from_value(listed["faults"].clone()).map_err(|e| e.to_string())?;
                assert_eq!(faults, ctx.faults());
                let any = get("/filibuster/fault-injected").await.map_err(|e| e.to_string())?;
                assert_eq!(any, serde_json::json!({"result": !faults.is_empty()}));
                let on = get("/filibuster/fault-injected/bookings").await.map_err(|e| e.to_string())?;
                assert_eq!(on, serde_json::json!({"result": ctx.fault_injected_on("bookings")}));
                if let Some(fault) = faults.first() {
                    // The JSON form, field by field.
                    let first = &listed["faults"][0];
                    assert_eq!(first["target"], "bookings");
                    assert_eq!(first["method"], fault.method.as_str());
                    assert_eq!(first["line"], fault.line.unwrap());
                    assert!(first["fault"]["kind"] == "exception" || first["fault"]["kind"] == "status");
                    *shapes.lock().unwrap() += 1;
                }
                *compared.lock().unwrap() += 1;
                Ok::<(), String>(())
            }
        })
        .await;
    report.assert_passed();
    assert_eq!(*compared.lock().unwrap(), report.executions_run + 1, "every execution and the repetition");
    // Every execution but the fault-free one injected a fault, whose JSON
    // form was checked.
    assert!(report.executions_run > 1, "{}", report.summary());
    assert_eq!(*shapes.lock().unwrap(), report.executions_run - 1, "{}", report.summary());
}

/// What one execution's calls were, as the oracle saw them: the calls to
/// each route, and (fault, outcome) of every call with a fault.
type CallsSeen = (usize, usize, Vec<(String, Option<String>)>);

/// The oracle sees the calls of its execution: the audit is sent once in
/// every execution, even when the lookup before it failed (a failed call
/// mapped to a default must not skip the next one), the lookup is never
/// retried, and each faulted call ended with its fault.
#[tokio::test]
async fn the_oracle_counts_the_calls_of_its_execution() {
    let explorer = Explorer::new();
    let url = start(&explorer).await;
    let seen: Arc<Mutex<Vec<CallsSeen>>> = Arc::default();
    let report = explorer
        .run(|ctx| {
            let (url, seen) = (url.clone(), seen.clone());
            async move {
                status(&url).await?;
                let lookups = ctx.count_calls("bookings", "GET", "/bookings/{user}");
                let audits = ctx.count_calls("bookings", "post", "/bookings/chris");
                let faulted = ctx
                    .calls()
                    .into_iter()
                    .filter(|c| c.fault.is_some())
                    .map(|c| (c.fault.unwrap(), c.outcome))
                    .collect();
                seen.lock().unwrap().push((lookups, audits, faulted));
                if audits != 1 {
                    return Err(format!("{audits} audits: {:?}", ctx.calls()));
                }
                Ok::<(), String>(())
            }
        })
        .await;
    assert!(report.passed(), "{}", report.failure_message());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), report.executions_run + 1, "the repeated fault-free execution too");
    for (lookups, audits, faulted) in &seen {
        assert_eq!((*lookups, *audits), (1, 1), "{seen:?}");
        for (fault, outcome) in faulted {
            let expected = fault.strip_prefix("status ").unwrap_or(fault);
            assert_eq!(outcome.as_deref(), Some(expected), "{seen:?}");
        }
    }
    // Connection error, timeout, 500, 502, 503 on the lookup; connection
    // error, 500, 502, 503 on the audit (no timeout set): one each.
    assert_eq!(seen.iter().filter(|(_, _, faulted)| faulted.len() == 1).count(), 9, "{seen:?}");
}
