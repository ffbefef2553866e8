//! The cinema example explored in-process, as `cargo run --example cinema`
//! does: the four services of `examples/cinema/app.rs` on ephemeral ports,
//! connected to the explorer's server, and its functional test (`GET
//! /users/chris_rivers/bookings`: Chris Rivers' one booking without faults,
//! 503 or 404 with one).
//!
//! The topology: the test client (not instrumented) calls `users`, which
//! makes two instrumented calls, both with a 10 s timeout:
//!
//! - c1: `users -> bookings GET /bookings/chris_rivers`;
//! - c2: `users -> movies GET /movies/267eedb8-0f5d-42d5-8f43-72426b9fb3e6`
//!   (Chris Rivers booked one movie, Creed), made only when c1 answered 200.
//!
//! The default fault model tries 5 faults on each call: `reqwest.connect`
//! and `reqwest.timeout` (the call sets a timeout), scheduled when the call
//! is created, then 500, 502 and 503, scheduled once the call reached an
//! instrumented service (`request_received`). So:
//!
//! - 1 fault-free execution, which schedules 5 faults on c1, then 5 on c2;
//! - 5 executions with one fault on c2 (on top of the stack: depth first,
//!   the latest call's faults run first, 503, 502, 500, timeout, connect);
//! - 5 executions with one fault on c1, which then never makes c2: no call
//!   is new, nothing more is scheduled.
//!
//! 1 + 5 + 5 = 11 executions, as the reference Filibuster runs. Dynamic
//! reduction prunes none of them: an execution is pruned when each of its
//! calls already ended the same way (same fault, or same status) in some
//! execution run before. Every fault here is the first of its kind on its
//! call, and no fault makes another call end differently: a fault on c2
//! changes only what `users` answers the test client, and that request is
//! not a call in the log. (In `test_exploration.rs`'s chain a -> b -> c, by
//! contrast, a fault on b -> c makes b answer 503 to a -> b, and "503 on a ->
//! b" is then pruned.) So 11 run, 0 pruned, with and without reduction.
//!
//! With [`app::Bug::EmptyListOnMoviesTimeout`], `users` answers 200 with an
//! empty list for the day when c2 times out: the depth-first order runs the
//! fault-free execution, then 503, 502 and 500 on c2 (all pass), then the
//! timeout on c2, which fails: 5 run, 0 pruned, 6 left on the stack (the
//! connection error on c2 and the 5 faults on c1), with and without
//! reduction. Replaying its counterexample runs 1 execution, which fails
//! again.

#[path = "../examples/cinema/app.rs"]
mod app;

use std::path::PathBuf;

use filibuster::ExecutionStatus;
use filibuster::{Counterexample, Explorer, ReplayOutcome, Report, Verdict};

/// The path of the one movie Chris Rivers booked.
const CREED: &str = "/movies/267eedb8-0f5d-42d5-8f43-72426b9fb3e6";
/// The path `users` asks `bookings` for.
const BOOKINGS: &str = "/bookings/chris_rivers";

/// Starts the four services on ephemeral ports of 127.0.0.1, connected to
/// `explorer`, `users` with `bug`; answers the base URL of `users`.
async fn start(explorer: &Explorer, bug: app::Bug) -> String {
    let any_port = "127.0.0.1:0".parse().unwrap();
    let layer = explorer.connection().layer();
    let (bookings, _) = app::serve(app::bookings().layer(layer.clone()), any_port).await.unwrap();
    let (movies, _) = app::serve(app::movies().layer(layer.clone()), any_port).await.unwrap();
    app::serve(app::showtimes().layer(layer.clone()), any_port).await.unwrap();
    let peers = app::Peers { bookings: format!("http://{bookings}"), movies: format!("http://{movies}") };
    let users = app::users(peers, bug, reqwest::Client::new()).layer(layer);
    let (users, _) = app::serve(users, any_port).await.unwrap();
    format!("http://{users}")
}

/// Runs the cinema's functional test under `explorer`, against fresh
/// services.
async fn explore(explorer: &Explorer, bug: app::Bug) -> Report {
    let users_url = start(explorer, bug).await;
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let (http, users_url) = (http.clone(), users_url.clone());
            async move { app::check_chris_rivers(&http, &users_url, async || ctx.fault_injected()).await }
        })
        .await
}

/// The cinema's services as `#[filibuster::test]` starts them: once, given
/// the explorer's connection.
struct Cinema {
    users_url: String,
}

async fn cinema(connection: filibuster::Connection) -> Cinema {
    let any_port = "127.0.0.1:0".parse().unwrap();
    let layer = connection.layer();
    let (bookings, _) = app::serve(app::bookings().layer(layer.clone()), any_port).await.unwrap();
    let (movies, _) = app::serve(app::movies().layer(layer.clone()), any_port).await.unwrap();
    app::serve(app::showtimes().layer(layer.clone()), any_port).await.unwrap();
    let peers = app::Peers { bookings: format!("http://{bookings}"), movies: format!("http://{movies}") };
    let users = app::users(peers, app::Bug::None, reqwest::Client::new()).layer(layer);
    let (users, _) = app::serve(users, any_port).await.unwrap();
    Cinema { users_url: format!("http://{users}") }
}

/// The cinema's functional test as users write it: every execution passes
/// (the counts are asserted above and in `test_attribute.rs`).
#[filibuster::test(services = cinema, regressions = false)]
async fn chris_rivers_sees_his_booking_or_a_clean_error(
    ctx: filibuster::TestContext,
    cinema: &Cinema,
) -> Result<(), String> {
    app::check_chris_rivers(&reqwest::Client::new(), &cinema.users_url, async || ctx.fault_injected()).await
}

/// The (fault, path) planned for each execution of `report`, in order.
fn faults(report: &Report) -> Vec<Vec<(String, String)>> {
    report
        .executions
        .iter()
        .map(|e| e.faults.iter().map(|f| (f.fault.clone(), f.call.path.clone())).collect())
        .collect()
}

/// One fault, `fault` on `path`.
fn one(fault: &str, path: &str) -> Vec<(String, String)> {
    vec![(fault.to_owned(), path.to_owned())]
}

/// A fresh path for a counterexample file.
fn counterexample_path(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("filibuster-cinema-{}", std::process::id()))
        .join(format!("{name}.json"))
}

#[tokio::test]
async fn correct_app_passes_all_11_executions() {
    let order = [
        vec![],
        one("status 503", CREED),
        one("status 502", CREED),
        one("status 500", CREED),
        one("reqwest.timeout", CREED),
        one("reqwest.connect", CREED),
        one("status 503", BOOKINGS),
        one("status 502", BOOKINGS),
        one("status 500", BOOKINGS),
        one("reqwest.timeout", BOOKINGS),
        one("reqwest.connect", BOOKINGS),
    ];
    // (dynamic reduction, executions run, executions pruned)
    for (reduction, run, pruned) in [(false, 11, 0), (true, 11, 0)] {
        let explorer = Explorer::new().dynamic_reduction(reduction);
        let report = explore(&explorer, app::Bug::None).await;
        assert!(report.passed(), "{:#?}", report.failures().collect::<Vec<_>>());
        assert_eq!(
            (report.executions_run, report.executions_pruned, report.executions_remaining),
            (run, pruned, 0),
            "reduction {reduction}: {}",
            report.summary()
        );
        assert_eq!(faults(&report), order, "reduction {reduction}");
        // A fault on c1 (bookings) means c2 (movies) is never made.
        for execution in &report.executions {
            let calls: Vec<(&str, Option<&str>, &str)> = execution
                .calls
                .iter()
                .map(|c| (c.source.as_str(), c.target.as_deref(), c.path.as_str()))
                .collect();
            let expected: &[_] = match execution.faults.first() {
                Some(fault) if fault.call.path == BOOKINGS => &[("users", Some("bookings"), BOOKINGS)],
                _ => &[("users", Some("bookings"), BOOKINGS), ("users", Some("movies"), CREED)],
            };
            assert_eq!(calls, expected, "execution {}", execution.number);
        }
    }
}

#[tokio::test]
async fn buggy_app_fails_on_a_movies_timeout_and_the_counterexample_replays() {
    for (reduction, run, pruned, remaining) in [(false, 5, 0, 6), (true, 5, 0, 6)] {
        let path = counterexample_path(&format!("reduction-{reduction}"));
        let explorer = Explorer::new()
            .dynamic_reduction(reduction)
            .counterexample_file(&path)
            .functional_test_name("cinema");
        let report = explore(&explorer, app::Bug::EmptyListOnMoviesTimeout).await;
        assert_eq!(
            (report.executions_run, report.executions_pruned, report.executions_remaining),
            (run, pruned, remaining),
            "reduction {reduction}: {}",
            report.summary()
        );
        assert_eq!(
            faults(&report),
            [
                vec![],
                one("status 503", CREED),
                one("status 502", CREED),
                one("status 500", CREED),
                one("reqwest.timeout", CREED)
            ]
        );

        // The failing execution: a timeout on users -> movies, and users
        // answered 200 with an empty day.
        let failures: Vec<_> = report.failures().collect();
        assert_eq!(failures.len(), 1);
        let failure = failures[0];
        assert_eq!(failure.number, 5);
        assert_eq!(faults(&report)[4], one("reqwest.timeout", CREED));
        let movies = &failure.calls[1];
        assert_eq!(
            (movies.source.as_str(), movies.target.as_deref(), movies.method.as_str(), movies.path.as_str()),
            ("users", Some("movies"), "GET", CREED)
        );
        assert_eq!(movies.fault.as_deref(), Some("reqwest.timeout"));
        assert_eq!(movies.outcome.as_deref(), Some("reqwest.timeout"));
        let ExecutionStatus::Failed { message } = &failure.status else { unreachable!() };
        assert!(message.ends_with(r#"it answered 200 OK: {"20151201":[]}"#), "{message}");
        let described = failure.describe();
        assert!(
            described.starts_with("execution 5 FAILED")
                && described.contains(&format!(
                    "users -> movies GET {CREED} (tests/../examples/cinema/app.rs:271, fn get_movie): \
                     reqwest.timeout"
                )),
            "{described}"
        );

        // The counterexample holds that one fault.
        assert_eq!(report.counterexample_file.as_deref(), Some(path.as_path()));
        let counterexample = Counterexample::load(&path).unwrap();
        assert_eq!(counterexample.functional_test, "cinema");
        let planned: Vec<(String, Vec<String>)> =
            counterexample.faults.iter().map(|f| (f.name(), f.args.clone())).collect();
        assert_eq!(planned, [("reqwest.timeout".to_owned(), vec![CREED.to_owned()])]);

        // Replayed on fresh services: one execution, which fails again.
        let replayer = Explorer::new().replay(counterexample.clone());
        let replay = explore(&replayer, app::Bug::EmptyListOnMoviesTimeout).await;
        assert_eq!((replay.executions_run, replay.executions_pruned, replay.executions_remaining), (1, 0, 0));
        let failures: Vec<_> = replay.failures().collect();
        assert_eq!(failures.len(), 1);
        assert_eq!(faults(&replay), [one("reqwest.timeout", CREED)]);
        assert_eq!(failures[0].calls[1].fault.as_deref(), Some("reqwest.timeout"));
        assert_eq!(replay.replay, Some(ReplayOutcome::Reproduced));
        assert_eq!((replay.verdict(), replay.verdict().exit_code()), (Verdict::Failed, 1));

        // Replayed on the fixed app: the one execution passes.
        let replayer = Explorer::new().replay(counterexample);
        let replay = explore(&replayer, app::Bug::None).await;
        assert_eq!(replay.executions_run, 1);
        assert!(replay.passed(), "{:#?}", replay.failures().collect::<Vec<_>>());
        assert_eq!(replay.executions[0].calls[1].fault.as_deref(), Some("reqwest.timeout"));
        assert_eq!(replay.replay, Some(ReplayOutcome::Fixed));
        assert_eq!(replay.verdict().exit_code(), 0);

        std::fs::remove_file(&path).unwrap();
    }
    let _ = std::fs::remove_dir(counterexample_path("x").parent().unwrap());
}
