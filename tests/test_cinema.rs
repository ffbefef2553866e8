//! The cinema example explored in-process, as `cargo run --example cinema`
//! does: the four services of `examples/cinema/src/lib.rs` on ephemeral ports,
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

use cinema as app;
mod support;

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
    app::start_all(&explorer.connection(), bug).await.unwrap().users
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
    Cinema { users_url: app::start_all(&connection, app::Bug::None).await.unwrap().users }
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
                    "users -> movies GET {CREED} (examples/cinema/src/lib.rs:271, fn get_movie): \
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

/// A row of the grid as the HTML says it: the call, then each cell's
/// `class` and label.
type GridRowText = (String, Vec<(String, String)>);

/// The grid of an HTML report, as its table says it: the faults of the
/// header, then each row's call (its text, tags dropped) and cells
/// (`class` and label).
fn html_grid(html: &str) -> (Vec<String>, Vec<GridRowText>) {
    let start = html.find("<table class=\"grid\">").expect("the HTML has a grid");
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    let between = |text: &str, open: &str, close: &str| -> Vec<String> {
        text.split(open).skip(1).map(|part| part[..part.find(close).unwrap()].to_owned()).collect()
    };
    let faults = between(table, "<th scope=\"col\">", "</th>").into_iter().skip(1).collect();
    let text = |html: &str| {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&gt;", ">")
    };
    let rows = between(table, "<tr><th scope=\"row\">", "</tr>")
        .iter()
        .map(|row| {
            let call = text(&row[..row.find("</th>").unwrap()]);
            let cells = between(row, "<td class=\"cell ", "</td>")
                .iter()
                .map(|cell| {
                    let (class, label) = cell.split_once("\">").unwrap();
                    (class.to_owned(), label.to_owned())
                })
                .collect();
            (call, cells)
        })
        .collect();
    (faults, rows)
}

/// `(class, label)` of grid cells.
fn cells(labels: &[&str]) -> Vec<(String, String)> {
    labels.iter().map(|l| (l.replace(' ', "-"), (*l).to_owned())).collect()
}

/// A fresh directory for reports.
fn report_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("filibuster-cinema-html-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The buggy cinema's report: 5 executions, the last failing on a timeout
/// of the `movies` call; the 6 left unexplored are not in it.
async fn buggy_report(name: &str) -> Report {
    let explorer = Explorer::new()
        .counterexample_file(counterexample_path(name))
        .replay_command("cargo run --example cinema -- --bug --replay x.json")
        .functional_test_name("cinema");
    let report = explore(&explorer, app::Bug::EmptyListOnMoviesTimeout).await;
    assert_eq!((report.executions_run, report.executions_remaining), (5, 6), "{}", report.summary());
    report
}

#[tokio::test]
async fn the_html_report_of_the_buggy_app_holds_the_grid_the_failure_and_the_call_trees() {
    let report = buggy_report("html").await;
    let dir = report_dir("bug");
    let path = dir.join("nested").join("report.html");
    report.write_html(&path).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    assert_eq!(html, report.to_html());

    // Self-contained: nothing fetched, no script.
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for outside in ["<script", "<link", "src=", "http://", "https://", "@import"] {
        let found = html.find(outside).map(|at| &html[at.saturating_sub(80)..(at + 80).min(html.len())]);
        assert!(
            found.is_none() || (outside == "http://" && found.unwrap().contains("127.0.0.1")),
            "{outside}: {found:?}"
        );
    }

    let (faults, rows) = html_grid(&html);
    // The connection error on movies was still scheduled when the run
    // stopped: a column, not explored.
    assert_eq!(faults, ["reqwest.connect", "reqwest.timeout", "status 500", "status 502", "status 503"]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0].0,
        format!("users -> bookings GET {BOOKINGS} (examples/cinema/src/lib.rs:261, fn get_bookings)")
    );
    assert_eq!(rows[0].1, cells(&["not explored"; 5]), "no fault on bookings ran");
    assert_eq!(
        rows[1].0,
        format!("users -> movies GET {CREED} (examples/cinema/src/lib.rs:271, fn get_movie)")
    );
    assert_eq!(rows[1].1, cells(&["not explored", "failed", "passed", "passed", "passed"]));

    // The failure, how to replay it, and where the counterexample is.
    assert!(html.contains("<h2>Failing executions</h2>"), "{html}");
    assert!(html.contains("execution 5 FAILED with these faults:"), "{html}");
    assert!(html.contains("<pre><code>cargo run --example cinema -- --bug --replay x.json</code></pre>"));
    let counterexample = counterexample_path("html").display().to_string();
    assert!(html.contains(&format!("Counterexample: <code>{counterexample}</code>")), "{html}");
    assert!(html.contains("<span class=\"badge failed\">FAILED</span>"), "{html}");
    assert!(html.contains("<dt>Executions run</dt><dd>5</dd>"), "{html}");

    // Each execution's calls: the failing one open, its movies call marked
    // with the fault.
    assert_eq!(html.matches("<details class=\"execution\"").count(), 5);
    let failing = &html[html.find("<details class=\"execution\" id=\"execution-5\" open>").unwrap()..];
    let failing = &failing[..failing.find("</details>").unwrap()];
    let movies = failing.rfind(CREED).unwrap();
    assert!(
        failing[movies..].contains("<span class=\"badge failed\">fault injected: reqwest.timeout</span>"),
        "{failing}"
    );
    assert!(failing.find(BOOKINGS).unwrap() < movies, "calls in the order they were made: {failing}");

    // The same grid in text.
    let table = report.grid_table();
    let lines: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(
        lines[0], "          reqwest.connect  reqwest.timeout  status 500    status 502    status 503",
        "{table}"
    );
    assert_eq!(
        lines[1], "  call 1  not explored     not explored     not explored  not explored  not explored",
        "{table}"
    );
    assert_eq!(
        lines[2], "  call 2  not explored     failed           passed        passed        passed",
        "{table}"
    );
    std::fs::remove_dir_all(dir).unwrap();
    let _ = std::fs::remove_file(counterexample_path("html"));
}

#[tokio::test]
async fn the_html_report_shows_what_the_app_said_as_text() {
    let explorer = Explorer::new().functional_test_name("<b>cinema</b> & co");
    let users_url = start(&explorer, app::Bug::None).await;
    let http = reqwest::Client::new();
    let report = explorer
        .run(|ctx| {
            let (http, users_url) = (http.clone(), users_url.clone());
            async move {
                let status = http.get(format!("{users_url}/users/chris_rivers/bookings")).send().await;
                match (ctx.fault_injected(), status) {
                    (false, Ok(_)) => Ok(()),
                    _ => Err("<script>alert('x')</script> & \"quoted\"".to_owned()),
                }
            }
        })
        .await;
    assert_eq!(report.verdict(), Verdict::Failed);
    let html = report.to_html();
    assert!(!html.contains("<script") && !html.contains("<b>cinema"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"),
        "{html}"
    );
    assert!(html.contains("<title>Filibuster report: &lt;b&gt;cinema&lt;/b&gt; &amp; co</title>"), "{html}");
}

/// The DOM headless `chromium` renders from the file at `path`.
fn rendered_dom(chromium: &std::path::Path, path: &std::path::Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", path.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn chromium_renders_the_grid_of_the_html_report() {
    let test = "chromium_renders_the_grid_of_the_html_report";
    let Some(chromium) = support::system_program(test, "chromium", &["chromium", "chromium-browser"]) else {
        return;
    };
    let report = buggy_report("browser").await;
    let dir = report_dir("browser");
    let path = dir.join("report.html");
    report.write_html(&path).unwrap();
    let dom = rendered_dom(&chromium, &path);
    // The browser parsed the table as written: the movies row's cells in
    // order, under the faults of the header, and no element from the app.
    let (faults, rows) = html_grid(&dom.replace("<tbody>", ""));
    assert_eq!(
        faults,
        ["reqwest.connect", "reqwest.timeout", "status 500", "status 502", "status 503"],
        "{dom}"
    );
    assert_eq!(rows.len(), 2, "{dom}");
    assert_eq!(rows[1].1, cells(&["not explored", "failed", "passed", "passed", "passed"]), "{dom}");
    assert_eq!(rows[0].1, cells(&["not explored"; 5]), "{dom}");
    assert!(dom.contains("execution 5 FAILED with these faults:"), "{dom}");
    assert!(!dom.contains("<script"), "{dom}");
    std::fs::remove_dir_all(dir).unwrap();
    let _ = std::fs::remove_file(counterexample_path("browser"));
}
