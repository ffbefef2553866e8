//! `#[filibuster::call]` on an impl block: the callsite ids of its methods
//! are md5 of `<package>:<file>:<SelfType>::<method>#<n>` (`<<SelfType> as
//! <Trait>>::<method>` in a trait impl), so that same-named methods of two
//! impl blocks of one file get distinct ids and the exploration tells their
//! calls apart; fn-level ids are unchanged; and two different callsites that
//! share an id (same-named methods, each with its own fn-level attribute) are
//! a collision the runtime reports.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use filibuster::{Explorer, Report};
use serde_json::Value;
use support::{Downstream, Recorder, md5, serve};
use tracing_subscriber::layer::SubscriberExt;

/// The key prefix of every callsite of this file.
const FILE: &str = "filibuster:tests/test_impl_callsites.rs";

#[derive(Clone)]
struct BookingsClient {
    http: reqwest::Client,
    base: String,
}

#[derive(Clone)]
struct MoviesClient {
    http: reqwest::Client,
    base: String,
}

#[filibuster::call]
impl BookingsClient {
    /// No `.send()`: left as written.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(self.url(path))
            .timeout(Duration::from_secs(10))
            .send() // CALLSITE BookingsClient::get#1
            .await
    }
}

/// The block's timeout applies to all its methods, but to one that gives its
/// own; a method with its own attribute gets its own arguments.
#[filibuster::call(timeout = 10)]
impl MoviesClient {
    async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}{path}", self.base))
            .send() // CALLSITE MoviesClient::get#1
            .await
    }

    #[filibuster::call(id = "movies-recommended", timeout = 2)]
    async fn recommended(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}/recommended", self.base))
            .send() // CALLSITE movies-recommended#1
            .await
    }

    #[filibuster::call]
    async fn showtimes(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}/showtimes", self.base))
            .send() // CALLSITE MoviesClient::showtimes#1
            .await
    }
}

trait Fetch {
    async fn fetch(&self) -> reqwest::Result<reqwest::Response>;
}

#[filibuster::call]
impl Fetch for BookingsClient {
    async fn fetch(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(self.url("/fetch"))
            .send() // CALLSITE <BookingsClient as Fetch>::fetch#1
            .await
    }
}

/// Fn-level attributes, as before: the key holds the fn's name only.
#[filibuster::call]
async fn fetch_plain(http: &reqwest::Client, base: &str) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{base}/plain"))
        .send() // CALLSITE fetch_plain#1
        .await
}

/// Two same-named methods with fn-level attributes: one id for both, the
/// collision the runtime reports.
#[derive(Clone)]
struct LegacyBookings {
    http: reqwest::Client,
    base: String,
}

#[derive(Clone)]
struct LegacyMovies {
    http: reqwest::Client,
    base: String,
}

impl LegacyBookings {
    #[filibuster::call]
    async fn lookup(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}/legacy/bookings", self.base))
            .send() // CALLSITE LegacyBookings lookup#1
            .await
    }
}

impl LegacyMovies {
    #[filibuster::call]
    async fn lookup(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}/legacy/movies", self.base))
            .send() // CALLSITE LegacyMovies lookup#1
            .await
    }
}

/// The line of the `.send()` marked `// CALLSITE <marker>`.
fn line_of(marker: &str) -> u32 {
    let suffix = format!("// CALLSITE {marker}");
    let lines: Vec<usize> = include_str!("test_impl_callsites.rs")
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(".send()") && l.ends_with(&suffix))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "one marker {marker}");
    lines[0] as u32
}

#[derive(Clone)]
struct Peers {
    http: reqwest::Client,
    base: String,
    bookings: BookingsClient,
    movies: MoviesClient,
    legacy_bookings: LegacyBookings,
    legacy_movies: LegacyMovies,
}

impl Peers {
    fn new(base: String) -> Self {
        let http = reqwest::Client::new();
        Self {
            bookings: BookingsClient { http: http.clone(), base: base.clone() },
            movies: MoviesClient { http: http.clone(), base: base.clone() },
            legacy_bookings: LegacyBookings { http: http.clone(), base: base.clone() },
            legacy_movies: LegacyMovies { http: http.clone(), base: base.clone() },
            http,
            base,
        }
    }
}

#[filibuster::handler(service = "a")]
async fn all_calls(State(peers): State<Peers>) -> String {
    let responses = [
        peers.bookings.get("/bookings").await,
        peers.movies.get("/movies").await,
        peers.movies.recommended().await,
        peers.movies.showtimes().await,
        peers.bookings.fetch().await,
        fetch_plain(&peers.http, &peers.base).await,
    ];
    let mut bodies = Vec::new();
    for response in responses {
        bodies.push(response.unwrap().text().await.unwrap());
    }
    bodies.join(" ")
}

#[filibuster::handler(service = "a")]
async fn legacy_calls(State(peers): State<Peers>) -> String {
    let bookings = peers.legacy_bookings.lookup().await.unwrap().text().await.unwrap();
    let movies = peers.legacy_movies.lookup().await.unwrap().text().await.unwrap();
    format!("{bookings} {movies}")
}

/// Serves `a` (with the recorder's connection) in front of a downstream
/// service, and returns `a`'s URL and the recorder.
async fn start_a() -> (String, Recorder) {
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let peers = Peers::new(Downstream::default().serve().await);
    let router = Router::new()
        .route("/all", get(all_calls))
        .route("/legacy", get(legacy_calls))
        .with_state(peers)
        .layer(connection.layer());
    (serve(router).await, recorder)
}

/// Every call `all_calls` makes, in order: (key of its callsite id, marker,
/// target, timeout it reports).
const EXPECTED: [(&str, &str, &str, Option<f64>); 6] = [
    ("BookingsClient::get#1", "BookingsClient::get#1", "/bookings", Some(10.0)),
    ("MoviesClient::get#1", "MoviesClient::get#1", "/movies", Some(10.0)),
    ("", "movies-recommended#1", "/recommended", Some(2.0)),
    ("MoviesClient::showtimes#1", "MoviesClient::showtimes#1", "/showtimes", Some(10.0)),
    ("<BookingsClient as Fetch>::fetch#1", "<BookingsClient as Fetch>::fetch#1", "/fetch", None),
    ("fetch_plain#1", "fetch_plain#1", "/plain", None),
];

/// The full key of an entry of [`EXPECTED`]: an explicit id is its own key.
fn key(entry: &(&str, &str, &str, Option<f64>)) -> String {
    match entry.0 {
        "" => entry.1.to_owned(),
        key => format!("{FILE}:{key}"),
    }
}

#[tokio::test]
async fn impl_block_ids_are_md5_of_file_self_type_and_method() {
    filibuster::enable();
    let (a_url, recorder) = start_a().await;
    let body = reqwest::get(format!("{a_url}/all")).await.unwrap().text().await.unwrap();
    assert_eq!(body, [Downstream::BODY; 6].join(" "));
    let creates = recorder.creates();
    assert_eq!(creates.len(), EXPECTED.len(), "{creates:#?}");
    for (create, entry) in creates.iter().zip(EXPECTED) {
        let (_, marker, target, timeout) = entry;
        assert_eq!(create["full_traceback"], md5(&key(&entry)), "{marker}");
        assert_eq!(create["args"], serde_json::json!([target]), "{marker}");
        assert_eq!(create["callsite_line"], line_of(marker).to_string(), "{marker}");
        assert_eq!(create["metadata"].get("timeout").and_then(Value::as_f64), timeout, "{marker}");
    }
    // The literal values (from `echo -n '<key>' | md5sum`), so that a change
    // of the scheme, which would break recorded counterexamples, fails here.
    assert_eq!(md5(&format!("{FILE}:BookingsClient::get#1")), "04af38c9018775495d1709b65cb838c3");
    assert_eq!(md5(&format!("{FILE}:MoviesClient::get#1")), "6e3f6d63791d1eb0334d08758899cb98");
    // Distinct from each other and from a fn-level `get` of this file.
    let ids: BTreeSet<&str> = creates.iter().map(|c| c["full_traceback"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), EXPECTED.len());
    assert!(!ids.contains(md5(&format!("{FILE}:get#1")).as_str()));
    // No collision among them.
    let collisions = filibuster_runtime::__explorer::collisions();
    assert!(collisions.iter().all(|c| !ids.contains(c.id())), "{collisions:#?}");
}

/// Fn-level attributes on same-named methods of two impl blocks give both
/// the id of `<file>:lookup#1`: the runtime says so when both have made calls,
/// as a `tracing` error (once) and in `known_callsites::collisions()`.
#[tokio::test]
async fn same_named_methods_with_fn_level_attributes_collide_and_it_is_reported() {
    filibuster::enable();
    let events = support::Logs::of_target("filibuster_runtime");
    // One thread (as `#[tokio::test]` runs): the subscriber sees the services' events.
    let _subscriber = support::set_default(tracing_subscriber::registry().with(events.clone()));
    let (a_url, recorder) = start_a().await;
    for _ in 0..2 {
        let body = reqwest::get(format!("{a_url}/legacy")).await.unwrap().text().await.unwrap();
        assert_eq!(body, [Downstream::BODY; 2].join(" "));
    }
    // Fn-level ids are as they always were: the fn's name only.
    let id = md5(&format!("{FILE}:lookup#1"));
    let creates = recorder.creates();
    assert_eq!(creates.len(), 4);
    assert!(creates.iter().all(|c| c["full_traceback"] == id), "{creates:#?}");

    let collisions: Vec<_> =
        filibuster_runtime::__explorer::collisions().into_iter().filter(|c| c.id() == id).collect();
    assert_eq!(collisions.len(), 1, "{collisions:#?}");
    let collision = collisions[0];
    let lines = [collision.first.line, collision.second.line];
    assert_eq!(lines, [line_of("LegacyBookings lookup#1"), line_of("LegacyMovies lookup#1")]);
    assert_eq!([collision.first.function, collision.second.function], ["lookup", "lookup"]);
    assert!(collision.first.file.ends_with("test_impl_callsites.rs"));

    let events = events.of(tracing::Level::ERROR);
    assert_eq!(events.len(), 1, "one error for the id: {events:#?}");
    let (first, second) = (line_of("LegacyBookings lookup#1"), line_of("LegacyMovies lookup#1"));
    for expected in [
        format!("two callsites have the same id {id}"),
        format!("`lookup` at tests/test_impl_callsites.rs:{first}"),
        format!("`lookup` at tests/test_impl_callsites.rs:{second}"),
        "#[filibuster::call] on each impl block".to_owned(),
        "#[filibuster::call(id = \"...\")]".to_owned(),
    ] {
        assert!(events[0].contains(&expected), "{expected} in {}", events[0]);
    }
}

// Exploration: `a` serves `/bookings` and `/movies`, each making one call to
// `/` of an uninstrumented service, through `BookingsClient::get` and
// `MoviesClient::get` (both with a timeout) or, for reference, through two
// fn-level fns of distinct names. Had the two methods one id, the two calls
// (same target, each the first of its request) would be one to the explorer
// (with `id = "same"` on both reference fns, it runs 5 executions, not 9).

#[filibuster::call]
async fn reference_bookings(http: &reqwest::Client, base: &str) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{base}/")).timeout(Duration::from_secs(10)).send().await
}

#[filibuster::call(timeout = 10)]
async fn reference_movies(http: &reqwest::Client, base: &str) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{base}/")).send().await
}

#[derive(Clone)]
struct Node {
    peers: Peers,
    reference: bool,
}

fn status(response: reqwest::Result<reqwest::Response>) -> StatusCode {
    match response {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::handler(service = "a")]
async fn bookings_route(State(node): State<Node>) -> StatusCode {
    let peers = &node.peers;
    status(match node.reference {
        true => reference_bookings(&peers.http, &peers.base).await,
        false => peers.bookings.get("/").await,
    })
}

#[filibuster::handler(service = "a")]
async fn movies_route(State(node): State<Node>) -> StatusCode {
    let peers = &node.peers;
    status(match node.reference {
        true => reference_movies(&peers.http, &peers.base).await,
        false => peers.movies.get("/").await,
    })
}

async fn explore(reference: bool, dynamic_reduction: bool) -> Report {
    let explorer = Explorer::new().dynamic_reduction(dynamic_reduction);
    let plain = serve(Router::new().route("/", get(|| async { "plain" }))).await;
    let node = Node { peers: Peers::new(plain), reference };
    let router = Router::new()
        .route("/bookings", get(bookings_route))
        .route("/movies", get(movies_route))
        .with_state(node)
        .layer(explorer.connection().layer());
    let a = serve(router).await;
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let requests = [http.get(format!("{a}/bookings")), http.get(format!("{a}/movies"))];
            async move {
                let mut failed = 0;
                for request in requests {
                    let status = request.send().await.map_err(|e| e.to_string())?.status();
                    match status.as_u16() {
                        200 => {}
                        503 => failed += 1,
                        other => return Err(format!("status {other}")),
                    }
                }
                match (ctx.fault_injected(), failed) {
                    (false, 0) | (true, 1 | 2) => Ok(()),
                    (injected, failed) => Err(format!("fault injected: {injected}, {failed} failed")),
                }
            }
        })
        .await
}

#[tokio::test]
async fn the_exploration_tells_the_methods_calls_apart() {
    for reduction in [false, true] {
        let report = explore(false, reduction).await;
        assert!(report.passed(), "{}", report.failure_message());
        let reference = explore(true, reduction).await;
        assert!(reference.passed(), "{}", reference.failure_message());
        // Two calls with 2 faults each (connection error, timeout), both made
        // whatever happens: 1 + 2 + 2 * (1 + 2) runs.
        assert_eq!((report.executions_run, report.executions_pruned), (9, 0), "{}", report.summary());
        assert_eq!(
            (report.executions_run, report.executions_pruned),
            (reference.executions_run, reference.executions_pruned)
        );
        let functions: Vec<Option<String>> =
            report.executions[0].calls.iter().map(|call| call.function.clone()).collect();
        assert_eq!(
            functions,
            [Some("BookingsClient::get".to_owned()), Some("MoviesClient::get".to_owned())],
            "{:#?}",
            report.executions[0]
        );
    }
}

/// Two more same-named methods with fn-level attributes, for the exploration
/// below alone (a collision is logged once per process, so the test above
/// keeps its own).
#[derive(Clone)]
struct OldBookings(reqwest::Client, String);

#[derive(Clone)]
struct OldMovies(reqwest::Client, String);

impl OldBookings {
    #[filibuster::call]
    async fn find(&self) -> reqwest::Result<reqwest::Response> {
        self.0
            .get(format!("{}/old/bookings", self.1))
            .send() // CALLSITE OldBookings find#1
            .await
    }
}

impl OldMovies {
    #[filibuster::call]
    async fn find(&self) -> reqwest::Result<reqwest::Response> {
        self.0
            .get(format!("{}/old/movies", self.1))
            .send() // CALLSITE OldMovies find#1
            .await
    }
}

#[filibuster::handler(service = "a")]
async fn old_calls(State((bookings, movies)): State<(OldBookings, OldMovies)>) -> StatusCode {
    match (status(bookings.find().await), status(movies.find().await)) {
        (StatusCode::OK, StatusCode::OK) => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// An exploration whose calls go through colliding callsites is untested,
/// with the collision named; the explorations of the other tests of this
/// binary, running alongside, are not affected.
#[tokio::test]
async fn an_exploration_through_colliding_callsites_is_untested_and_says_why() {
    let explorer = Explorer::new();
    let downstream = Downstream::default().serve().await;
    let http = reqwest::Client::new();
    let state = (OldBookings(http.clone(), downstream.clone()), OldMovies(http.clone(), downstream));
    let router =
        Router::new().route("/old", get(old_calls)).with_state(state).layer(explorer.connection().layer());
    let a = serve(router).await;
    let report = explorer
        .run(|_| {
            let request = http.get(format!("{a}/old"));
            async move { request.send().await.map(drop).map_err(|e| e.to_string()) }
        })
        .await;
    assert_eq!(report.verdict(), filibuster::Verdict::Untested, "{}", report.summary());
    let id = md5(&format!("{FILE}:find#1"));
    let collision = report.errors.iter().find_map(|error| match error {
        filibuster::RunError::CallsiteCollision { id: found, first, second } if *found == id => {
            Some((first.clone(), second.clone()))
        }
        _ => None,
    });
    let (first, second) = collision.unwrap_or_else(|| panic!("no collision reported: {:#?}", report.errors));
    let places = [line_of("OldBookings find#1"), line_of("OldMovies find#1")]
        .map(|line| format!("`find` at tests/test_impl_callsites.rs:{line}"));
    assert_eq!([first, second], places);
    let message = report.failure_message();
    assert!(message.contains("two callsites have the same id"), "{message}");
    assert!(message.contains("#[filibuster::call] on each impl block"), "{message}");
}
