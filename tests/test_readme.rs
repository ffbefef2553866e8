//! The README's `Explorer` snippets, compiled and run: each block between a
//! `// README: <name>` line and `// README: end` below is in README.md word
//! for word (after its indentation), which the last test checks, so the
//! code a newcomer copies from the README compiles and passes.
//!
//! The first snippet runs on the cinema example; the second on the app its
//! section describes (`users` looks a user's bookings up in `bookings` and
//! posts an audit record to the same service and path).

#[path = "../examples/cinema/app.rs"]
mod app;
mod support;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::Explorer;

/// The cinema's services, for `explorer`; the URL of Chris Rivers'
/// bookings at `users`.
async fn start_services(explorer: &Explorer) -> String {
    let started = app::start_all(&explorer.connection(), app::Bug::None).await.expect("the cinema starts");
    format!("{}/users/chris_rivers/bookings", started.users)
}

#[tokio::test]
async fn the_explorer_snippet_explores_the_cinema() {
    // README: explorer
    let explorer = filibuster::Explorer::new(); // built-in fault model, dynamic reduction on
    // Your services on 127.0.0.1:0, each router with `.layer(explorer.connection().layer())`:
    let users_url = start_services(&explorer).await;
    let report = explorer
        .run(|ctx| {
            let users_url = users_url.clone(); // the closure runs once per execution
            async move {
                let status = reqwest::get(&users_url).await.map_err(|e| e.to_string())?.status();
                match (ctx.fault_injected(), status.as_u16()) {
                    (false, 200) | (true, 503 | 404) => Ok(()),
                    (injected, status) => Err(format!("fault injected: {injected}, got {status}")),
                }
            }
        })
        .await;
    report.assert_passed();
    // README: end
    assert!(report.executions_run > 1, "{}", report.summary());
}

#[derive(Clone)]
struct Users {
    http: reqwest::Client,
    bookings: String,
}

#[filibuster::call]
async fn fetch_bookings(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
    users.http.get(format!("{}/bookings/{user}", users.bookings)).send().await
}

#[filibuster::call]
async fn post_audit(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
    users.http.post(format!("{}/bookings/{user}", users.bookings)).body("looked up").send().await
}

/// The bookings of `user`, or 503 when they cannot be looked up; the audit
/// record is best effort.
#[filibuster::handler(service = "users")]
async fn user_bookings(State(users): State<Users>, Path(user): Path<String>) -> (StatusCode, String) {
    let _ = post_audit(&users, &user).await;
    match fetch_bookings(&users, &user).await {
        Ok(response) if response.status() == StatusCode::OK => {
            (StatusCode::OK, response.text().await.unwrap_or_default())
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
    }
}

#[filibuster::handler(service = "bookings")]
async fn bookings(Path(user): Path<String>) -> String {
    format!("[\"{user}: Creed\"]")
}

#[tokio::test]
async fn the_snippet_naming_the_call_explores_its_app() {
    let explorer = Explorer::new();
    let layer = explorer.connection().layer();
    let bookings_url = support::serve(
        Router::new().route("/bookings/{user}", get(bookings).post(bookings)).layer(layer.clone()),
    )
    .await;
    let users = Users { http: reqwest::Client::new(), bookings: bookings_url };
    let users_base = support::serve(
        Router::new().route("/users/{user}/bookings", get(user_bookings)).with_state(users).layer(layer),
    )
    .await;
    let users_url = format!("{users_base}/users/chris_rivers/bookings");
    // README: which call
    let report = explorer
        .run(|ctx| {
            let users_url = users_url.clone();
            async move {
                let status = reqwest::get(&users_url).await.map_err(|e| e.to_string())?.status().as_u16();
                // The bookings lookup, by method and axum route ({param}: one segment)...
                let lookup_failed = ctx.fault_injected_on_request("bookings", "GET", "/bookings/{user}");
                // ...or, the same here, by the #[filibuster::call] fn that sends it.
                assert_eq!(lookup_failed, ctx.fault_injected_at("fetch_bookings"));
                // 200 without that fault, 503 with it; the error lists the faults injected.
                ctx.expect_outcome(lookup_failed, status, 200, &[503])
            }
        })
        .await;
    // README: end
    report.assert_passed();
    assert!(report.executions_run > 1, "{}", report.summary());
}

/// Each marked block of this file, in README.md word for word.
#[test]
fn the_readme_shows_these_snippets() {
    let readme = include_str!("../README.md");
    let source = include_str!("test_readme.rs");
    let mut snippets = 0;
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("// README: ") else { continue };
        if name == "end" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "// README: end").collect();
        let indent =
            block.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min();
        let text: String =
            block.iter().map(|l| format!("{}\n", l.get(indent.unwrap_or(0)..).unwrap_or(""))).collect();
        assert!(
            readme.contains(&text),
            "README.md lacks the snippet `{name}`, as it is in tests/test_readme.rs:\n{text}"
        );
        snippets += 1;
    }
    assert_eq!(snippets, 2);
}
