//! Helpers shared by the integration tests: real axum servers on
//! `127.0.0.1:0`, a recording stand-in for the Filibuster server, a
//! downstream service that remembers the headers it was sent, and md5.
//!
//! Every test binary compiles this module and uses only part of it.
#![allow(dead_code, unreachable_pub)] // a module of each test crate: `pub` here is no public API

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

/// Serves `router` on a fresh port of 127.0.0.1 and returns its base URL
/// (`http://127.0.0.1:PORT`, no trailing slash).
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// A port of 127.0.0.1 nothing listens on for now, never handed out twice
/// in this test binary: the tests of one binary run in parallel, and the
/// kernel may give a port just released to the next `bind(0)`.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A URL where no server can ever be listening: port 1 of 127.0.0.1, which
/// only root may bind, so every connection is refused at once.
pub const NOWHERE: &str = "http://127.0.0.1:1";

/// The `tracing` events of the targets under one prefix, each with its level
/// and its fields written `name=value ` (the message first): a layer to set
/// as the test's subscriber, `support::set_default(
/// tracing_subscriber::registry().with(logs.clone()))`. On one thread (as
/// `#[tokio::test]` runs), it sees the events of the services' tasks too.
#[derive(Clone)]
pub struct Logs {
    target: &'static str,
    events: Arc<Mutex<Vec<(tracing::Level, String)>>>,
}

impl Logs {
    /// The events of the targets starting with `target`.
    pub fn of_target(target: &'static str) -> Self {
        Self { target, events: Arc::default() }
    }

    /// The events seen at `level`, in order.
    pub fn of(&self, level: tracing::Level) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, text)| text.clone())
            .collect()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logs {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        let metadata = event.metadata();
        if metadata.target().starts_with(self.target) {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.events.lock().unwrap().push((*metadata.level(), text.0));
        }
    }
}

/// Sets `subscriber` as this thread's default until the guard drops, in a
/// way that holds whichever thread of the binary reaches a `tracing` callsite
/// first. With a single live dispatcher, `tracing` takes a callsite's
/// interest from the default of the thread that hits it first (another
/// test's thread, with no subscriber: never) and caches it, so this test's
/// subscriber would miss the event; a second live dispatcher makes it ask
/// every registered one.
pub fn set_default(subscriber: impl Into<tracing::Dispatch>) -> ScopedSubscriber {
    let second = tracing::Dispatch::new(tracing_subscriber::registry());
    ScopedSubscriber { _default: tracing::dispatcher::set_default(&subscriber.into()), _second: second }
}

/// The guard of [`set_default`].
pub struct ScopedSubscriber {
    _default: tracing::dispatcher::DefaultGuard,
    _second: tracing::Dispatch,
}

/// md5 of `text` as 32 lower-case hex digits.
pub fn md5(text: &str) -> String {
    use md5::{Digest, Md5};
    format!("{:x}", Md5::digest(text.as_bytes()))
}

/// The hash a call from `callsite` (its id) with `method` to `target` (path
/// and query) pushes onto the execution index: md5 of
/// `<callsite>-reqwest-<METHOD>-"<target>"` (section 3 of the protocol notes).
pub fn call_hash(callsite: &str, method: &str, target: &str) -> String {
    md5(&format!("{callsite}-reqwest-{method}-{}", serde_json::to_string(target).unwrap()))
}

/// An execution index in its wire form, spaced as the reference prints it:
/// `[["<hash>", 1], ["<hash>", 2]]`.
pub fn ei(steps: &[(&str, u32)]) -> String {
    let pairs: Vec<String> = steps.iter().map(|(hash, count)| format!(r#"["{hash}", {count}]"#)).collect();
    format!("[{}]", pairs.join(", "))
}

/// A stand-in for the Filibuster server that never injects a fault: it
/// answers `PUT /filibuster/create` with `{"generated_id": N, "execution_index":
/// <echo>}` (N counting up from the first id) and `POST /filibuster/update`
/// with `{}`, and records every body (and its request's headers), in
/// arrival order.
#[derive(Clone)]
pub struct Recorder {
    first_id: u64,
    records: Arc<Mutex<Vec<(String, Value)>>>,
    /// The headers of each record's request, in the order of `records`
    /// (pushed under its lock).
    headers: Arc<Mutex<Vec<HeaderMap>>>,
    others: Arc<Mutex<Vec<String>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

impl Recorder {
    /// A recorder whose first `generated_id` is `first_id`.
    pub fn starting_at(first_id: u64) -> Self {
        Self { first_id, records: Arc::default(), headers: Arc::default(), others: Arc::default() }
    }

    /// The recorder's routes. `GET /filibuster/new-test-execution/<service>`
    /// answers `false`; it and any other request land in [`Recorder::others`].
    pub fn router(&self) -> Router {
        Router::new()
            .route("/filibuster/create", put(create))
            .route("/filibuster/update", post(update))
            .route("/filibuster/new-test-execution/{service}", get(new_test_execution))
            .fallback(other)
            .with_state(self.clone())
    }

    /// Serves the recorder and returns a connection to it.
    pub async fn connect(&self) -> filibuster::Connection {
        filibuster::Connection::http(serve(self.router()).await)
    }

    /// Every `(endpoint, body)` received, endpoint `"create"` or `"update"`.
    pub fn records(&self) -> Vec<(String, Value)> {
        self.records.lock().unwrap().clone()
    }

    /// The headers of the request of each record, in the order of
    /// [`Recorder::records`].
    pub fn record_headers(&self) -> Vec<HeaderMap> {
        let _records = self.records.lock().unwrap();
        self.headers.lock().unwrap().clone()
    }

    /// The bodies sent to `create`, in order.
    pub fn creates(&self) -> Vec<Value> {
        self.of("create")
    }

    /// The bodies sent to `update`, in order.
    pub fn updates(&self) -> Vec<Value> {
        self.of("update")
    }

    /// The `update` bodies with the given `instrumentation_type`.
    pub fn updates_of(&self, instrumentation_type: &str) -> Vec<Value> {
        self.updates().into_iter().filter(|u| u["instrumentation_type"] == instrumentation_type).collect()
    }

    /// `"METHOD /path"` of every other request (new-test-execution, unknown).
    pub fn others(&self) -> Vec<String> {
        self.others.lock().unwrap().clone()
    }

    fn of(&self, endpoint: &str) -> Vec<Value> {
        self.records().into_iter().filter(|(e, _)| e == endpoint).map(|(_, body)| body).collect()
    }
}

async fn create(State(r): State<Recorder>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let mut records = r.records.lock().unwrap();
    let id = r.first_id + records.iter().filter(|(e, _)| e == "create").count() as u64;
    let execution_index = body["execution_index"].clone();
    records.push(("create".into(), body));
    r.headers.lock().unwrap().push(headers);
    Json(json!({"generated_id": id, "execution_index": execution_index}))
}

async fn update(State(r): State<Recorder>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let mut records = r.records.lock().unwrap();
    records.push(("update".into(), body));
    r.headers.lock().unwrap().push(headers);
    Json(json!({}))
}

async fn new_test_execution(State(r): State<Recorder>, Path(service): Path<String>) -> Json<Value> {
    r.others.lock().unwrap().push(format!("GET /filibuster/new-test-execution/{service}"));
    Json(json!({"new-test-execution": false}))
}

async fn other(State(r): State<Recorder>, method: axum::http::Method, uri: Uri) -> &'static str {
    r.others.lock().unwrap().push(format!("{method} {uri}"));
    "not a Filibuster endpoint"
}

/// A downstream service (not instrumented) that answers every request with
/// [`Downstream::BODY`] and remembers the headers of each request, in order.
#[derive(Clone, Default)]
pub struct Downstream {
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Downstream {
    /// What the downstream service answers.
    pub const BODY: &'static str = "hello from b";

    /// Serves it and returns its base URL.
    pub async fn serve(&self) -> String {
        let seen = self.seen.clone();
        serve(Router::new().fallback(move |headers: HeaderMap| async move {
            seen.lock().unwrap().push(headers);
            Self::BODY
        }))
        .await
    }

    /// The headers of every request received, in order.
    pub fn seen(&self) -> Vec<HeaderMap> {
        self.seen.lock().unwrap().clone()
    }
}

/// The `x-filibuster-*` headers of `headers`, by lower-case name.
pub fn filibuster_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-filibuster-"))
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
        .collect()
}

/// The value of header `name`, if present.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// Set in the environment of a test run by [`run_child`].
const CHILD: &str = "FILIBUSTER_TEST_CHILD";

/// Whether this process is a child started by [`run_child`]: tests meant
/// only for children return at once otherwise.
pub fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs the test `name` of this test binary alone (`#[ignore]`d ones too:
/// a test meant only for a child is best ignored in the parent's run, which
/// then does not count it as passed), in a child process whose
/// environment is this one's with `set` set and `unset` removed, and asserts
/// that it passed: for tests of what is read from the environment once per
/// process, which must not race the other tests of the binary.
pub fn run_child(name: &str, set: &[(&str, &str)], unset: &[&str]) {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.args([name, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"]).env(CHILD, "1");
    for (key, value) in set {
        command.env(key, value);
    }
    for key in unset {
        command.env_remove(key);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child `{name}` failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "child `{name}` did not run:\n{stdout}\n{stderr}");
}

/// Explores with the functional test most of these tests use: `GET url`
/// answers 200 without a fault and 503 with one.
pub async fn explore_get(explorer: &filibuster::Explorer, url: &str) -> filibuster::Report {
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let request = http.get(url);
            async move {
                let status = request.send().await.map_err(|e| e.to_string())?.status();
                let expected = if ctx.fault_injected() { 503 } else { 200 };
                if status != expected {
                    return Err(format!("expected {expected}, got {status}"));
                }
                Ok(())
            }
        })
        .await
}

/// The environment variable that makes the tests needing a system package
/// (a browser, a database server) fail when it is missing, instead of
/// skipping: `.ci/run`, which installs them, sets it to 1.
pub const REQUIRE_SYSTEM_PACKAGES: &str = "FILIBUSTER_REQUIRE_SYSTEM_PACKAGES";

/// The first of `names` found on `PATH`, the program of the system package
/// `package`; when none is there, `None` after a line on the terminal
/// saying that `test` skipped and why (written past the test harness'
/// capture, so that it shows in a plain `cargo test`), or a failure when
/// [`REQUIRE_SYSTEM_PACKAGES`] is 1.
pub fn system_program(test: &str, package: &str, names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|program| program.is_file());
    if found.is_none() {
        let why = format!(
            "{} is not on PATH (install the package {package}: `apt-get install -y {package}`)",
            names.join(" or ")
        );
        assert!(
            std::env::var_os(REQUIRE_SYSTEM_PACKAGES).is_none_or(|v| v != "1"),
            "{test}: {why}; {REQUIRE_SYSTEM_PACKAGES}=1 makes it mandatory"
        );
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "test {test} SKIPPED: {why}; {REQUIRE_SYSTEM_PACKAGES}=1 makes it fail instead, as in .ci/run"
        );
    }
    found
}
