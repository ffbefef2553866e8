//! Callsite ids are computed at compile time and are stable: md5 of
//! `<package>:<file relative to the package>:<fn>#<ordinal of the .send()>`,
//! or of `<id>#<ordinal>` with `#[filibuster::call(id = "...")]`. The values
//! below are literals (from `echo -n '<key>' | md5sum`), so that a change of
//! the scheme, which would break recorded counterexamples, fails here.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

mod support;
use support::{Downstream, Recorder, call_hash, ei, serve};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
    movies: MoviesClient,
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.b_url)
    }
}

#[filibuster::call]
async fn fetch_one(app: &App) -> reqwest::Result<String> {
    app.http
        .get(app.url("/one"))
        .send() // CALLSITE fetch_one#1
        .await?
        .text()
        .await
}

#[filibuster::call]
async fn fetch_two(app: &App) -> reqwest::Result<String> {
    let first = app
        .http
        .get(app.url("/two/first"))
        .send() // CALLSITE fetch_two#1
        .await?
        .text()
        .await?;
    app.http
        .post(app.url("/two/second"))
        .body(first)
        .send() // CALLSITE fetch_two#2
        .await?
        .text()
        .await
}

/// Ordinals are positions in the source, whichever branch runs.
#[filibuster::call]
async fn fetch_either(app: &App, first: bool) -> reqwest::Result<String> {
    let response = if first {
        app.http
            .get(app.url("/either/first"))
            .send() // CALLSITE fetch_either#1
            .await?
    } else {
        app.http
            .get(app.url("/either/second"))
            .send() // CALLSITE fetch_either#2
            .await?
    };
    response.text().await
}

/// A `.send()` inside the arguments of another comes first in the source.
#[filibuster::call]
async fn fetch_nested(app: &App) -> reqwest::Result<String> {
    app.http
        .post(app.url("/nested/outer"))
        .body(
            app.http
                .get(app.url("/nested/inner"))
                .send() // CALLSITE fetch_nested#1
                .await?
                .text()
                .await?,
        )
        .send() // CALLSITE fetch_nested#2
        .await?
        .text()
        .await
}

#[filibuster::call(id = "bookings-fetch")]
async fn fetch_bookings(app: &App, user: &str) -> reqwest::Result<String> {
    let first = app
        .http
        .get(app.url(&format!("/bookings/{user}")))
        .send() // CALLSITE bookings-fetch#1
        .await?
        .text()
        .await?;
    let second = app
        .http
        .get(app.url(&format!("/bookings/{user}?page=2")))
        .send() // CALLSITE bookings-fetch#2
        .await?
        .text()
        .await?;
    Ok(format!("{first}+{second}"))
}

#[derive(Clone)]
struct MoviesClient {
    http: reqwest::Client,
    base: String,
}

impl MoviesClient {
    #[filibuster::call]
    async fn movie(&self, id: &str) -> reqwest::Result<String> {
        self.http
            .get(format!("{}/movies/{id}", self.base))
            .send() // CALLSITE movie#1
            .await?
            .text()
            .await
    }
}

#[filibuster::handler(service = "a")]
async fn start(State(app): State<App>) -> String {
    let results = [
        fetch_one(&app).await,
        fetch_two(&app).await,
        fetch_either(&app, true).await,
        fetch_either(&app, false).await,
        fetch_nested(&app).await,
        fetch_bookings(&app, "chris").await,
        app.movies.movie("m1").await,
    ];
    results.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>().join(" ")
}

/// Every call, in the order `start` makes them: (callsite id, marker in the
/// source, method, target).
const EXPECTED: [(&str, &str, &str, &str); 10] = [
    ("55c7124e64029a335440b779e0ee3f8a", "fetch_one#1", "GET", "/one"),
    ("333ce46f08cad9c90901453d45db891d", "fetch_two#1", "GET", "/two/first"),
    ("c6f8442344a7246a2780dc99afcfa367", "fetch_two#2", "POST", "/two/second"),
    ("bec13a64e448064204b943c77f2b75a1", "fetch_either#1", "GET", "/either/first"),
    ("2316ec3e2b12ef9e44e652a01a6578e0", "fetch_either#2", "GET", "/either/second"),
    ("55058b0f8d6f2dcf13888d7ffdf105f5", "fetch_nested#1", "GET", "/nested/inner"),
    ("e9706093d019dde2e76a0c46b78016e0", "fetch_nested#2", "POST", "/nested/outer"),
    ("ea7745b7800be98e1fc147e5b8154435", "bookings-fetch#1", "GET", "/bookings/chris"),
    ("0242c7c55a8d92ea8c5cadd13d5be715", "bookings-fetch#2", "GET", "/bookings/chris?page=2"),
    ("561db468480f09d81a3c0cd55f238624", "movie#1", "GET", "/movies/m1"),
];

/// The line of the `.send()` marked `// CALLSITE <marker>`.
fn line_of(marker: &str) -> String {
    let suffix = format!("// CALLSITE {marker}");
    let lines: Vec<usize> = include_str!("test_callsite_ids.rs")
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(".send()") && l.ends_with(&suffix))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "one marker {marker}");
    lines[0].to_string()
}

/// Runs `start` of a fresh `a` against a fresh `b` and returns the create records.
async fn run() -> Vec<Value> {
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let b_url = Downstream::default().serve().await;
    let http = reqwest::Client::new();
    let movies = MoviesClient { http: http.clone(), base: b_url.clone() };
    let app = App { http, b_url, movies };
    let a_url =
        serve(Router::new().route("/start", get(start)).with_state(app).layer(connection.layer())).await;
    let body = reqwest::get(format!("{a_url}/start")).await.unwrap().text().await.unwrap();
    let b = "hello from b";
    assert_eq!(body, format!("{b} {b} {b} {b} {b} {b}+{b} {b}"));
    recorder.creates()
}

#[tokio::test]
async fn callsite_ids_are_md5_of_package_file_fn_and_ordinal() {
    filibuster::enable();
    let creates = run().await;
    assert_eq!(creates.len(), EXPECTED.len(), "{creates:#?}");
    for (create, (id, marker, method, target)) in creates.iter().zip(EXPECTED) {
        assert_eq!(create["full_traceback"], id, "{marker}");
        assert_eq!(create["method"], method, "{marker}");
        assert_eq!(create["args"], serde_json::json!([target]), "{marker}");
        assert_eq!(create["callsite_line"], line_of(marker), "{marker}");
        let file = create["callsite_file"].as_str().unwrap();
        assert!(file.ends_with("test_callsite_ids.rs"), "{marker}: {file}");
        // The execution index pushes the hash of that callsite, method and target.
        let h = call_hash(id, method, target);
        assert_eq!(create["execution_index"], ei(&[(&h, 1)]), "{marker}");
    }
}

#[tokio::test]
async fn callsite_ids_and_indices_do_not_depend_on_ports() {
    filibuster::enable();
    let identity = |creates: Vec<Value>| -> Vec<(Value, Value)> {
        creates.into_iter().map(|c| (c["full_traceback"].clone(), c["execution_index"].clone())).collect()
    };
    // Two runs against services on other ports.
    let first = identity(run().await);
    let second = identity(run().await);
    assert_eq!(first.len(), EXPECTED.len());
    assert_eq!(first, second);
}
