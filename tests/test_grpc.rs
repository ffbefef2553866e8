//! gRPC through tonic: the gRPC cinema explored (its counts, its bug found
//! and replayed), the genuine statuses faults become checked against what
//! tonic returns for the real failures, the records on the wire, and
//! servers that stay up under hostile metadata.

mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use filibuster::{Explorer, Report};
use grpc_cinema::{MovieRequest, movies::movies_client::MoviesClient};
use tonic::Code;
use tonic::transport::Endpoint;

/// The gRPC cinema explored under `explorer` with `bug`.
async fn explore_cinema(explorer: &Explorer, bug: grpc_cinema::Bug) -> Report {
    let started = grpc_cinema::start_all(&explorer.connection(), bug).await.unwrap();
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let (http, users) = (&http, &started.users);
            async move { grpc_cinema::check_chris_rivers(http, users, async || ctx.fault_injected()).await }
        })
        .await
}

/// The counts the README reasons: 1 fault-free execution, then the
/// reference's three faults (UNAVAILABLE, DEADLINE_EXCEEDED, the callee's
/// NOT_FOUND) on each of the two RPCs, none pruned: 1 + 3 + 3.
#[tokio::test]
async fn the_grpc_cinema_explores_both_rpcs() {
    let report = explore_cinema(&Explorer::new(), grpc_cinema::Bug::None).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!((report.executions_run, report.executions_pruned), (7, 0), "{}", report.summary());
    let grid = report.grid();
    let calls: Vec<String> = grid.rows.iter().map(|row| row.site.describe()).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("users -> bookings cinema.Bookings/GetBookings"), "{calls:?}");
    assert!(calls[1].starts_with("users -> movies cinema.Movies/GetMovie"), "{calls:?}");
    let table = report.grid_table();
    for code in ["UNAVAILABLE", "DEADLINE_EXCEEDED", "NOT_FOUND"] {
        assert!(table.contains(code), "{code} in {table}");
    }
}

/// With the bug (an unavailable `movies` hidden behind an empty list), the
/// exploration finds it on UNAVAILABLE on `GetMovie`, and the
/// counterexample replays it; without the bug, the replay passes.
#[tokio::test]
async fn the_grpc_cinemas_bug_is_found_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grpc-cinema-counterexample.json");
    let bug = grpc_cinema::Bug::EmptyListOnMoviesUnavailable;
    let report = explore_cinema(&Explorer::new().counterexample_file(&path), bug).await;
    assert!(!report.passed());
    let failed = report.failures().next().expect("a failed execution");
    let faults: Vec<(&str, &str)> =
        failed.faults.iter().map(|f| (f.call.method.as_str(), f.fault.as_str())).collect();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0], ("cinema.Movies/GetMovie", "tonic.Status UNAVAILABLE"));
    assert!(faults[0].1.contains("UNAVAILABLE"), "{faults:?}");

    let counterexample = filibuster::Counterexample::load(&path).unwrap();
    let replay = explore_cinema(&Explorer::new().replay(counterexample.clone()), bug).await;
    assert_eq!(replay.replay, Some(filibuster::ReplayOutcome::Reproduced), "{}", replay.failure_message());
    assert_eq!(replay.executions_run, 1);
    let replay = explore_cinema(&Explorer::new().replay(counterexample), grpc_cinema::Bug::None).await;
    assert_eq!(replay.replay, Some(filibuster::ReplayOutcome::Fixed), "{}", replay.failure_message());
}

// ----- the genuine values faults become -----

/// A server that answers each `create` with the next of `answers` (its
/// `generated_id` added), and records what it was sent.
#[derive(Clone, Default)]
struct Scripted {
    answers: Arc<Mutex<Vec<serde_json::Value>>>,
    records: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Scripted {
    async fn serve(answers: Vec<serde_json::Value>) -> (Self, filibuster::Connection) {
        use axum::Json;
        use axum::routing::{get, post, put};
        let server = Self { answers: Arc::new(Mutex::new(answers)), ..Self::default() };
        let create = |State(s): State<Scripted>, Json(body): Json<serde_json::Value>| async move {
            s.records.lock().unwrap().push(body);
            let mut answer = s.answers.lock().unwrap().remove(0);
            answer["generated_id"] = serde_json::json!(s.records.lock().unwrap().len());
            Json(answer)
        };
        let update = |State(s): State<Scripted>, Json(body): Json<serde_json::Value>| async move {
            s.records.lock().unwrap().push(body);
            Json(serde_json::json!({}))
        };
        let router = Router::new()
            .route("/filibuster/create", put(create))
            .route("/filibuster/update", post(update))
            .route(
                "/filibuster/new-test-execution/{service}",
                get(|| async { Json(serde_json::json!({"new-test-execution": false})) }),
            )
            .with_state(server.clone());
        let connection = filibuster::Connection::http(support::serve(router).await);
        (server, connection)
    }

    fn records(&self, kind: &str) -> Vec<serde_json::Value> {
        self.records.lock().unwrap().iter().filter(|r| r["instrumentation_type"] == kind).cloned().collect()
    }
}

/// The chain of `error`'s sources, as text.
fn sources(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut chain = Vec::new();
    let mut source = error.source();
    while let Some(error) = source {
        chain.push(error.to_string());
        source = error.source();
    }
    chain
}

/// What `users`' handler holds: a client over an instrumented channel, and
/// where it leaves the RPC's status.
#[derive(Clone)]
struct Caller {
    client: MoviesClient<filibuster::grpc::Client<tonic::transport::Channel>>,
    status: Arc<Mutex<Option<Result<grpc_cinema::MovieReply, tonic::Status>>>>,
}

#[filibuster::handler(service = "users")]
async fn call_get_movie(State(mut caller): State<Caller>) -> &'static str {
    let result =
        caller.client.get_movie(MovieRequest { id: "267eedb8-0f5d-42d5-8f43-72426b9fb3e6".into() }).await;
    *caller.status.lock().unwrap() = Some(result.map(tonic::Response::into_inner));
    "called"
}

/// What `GetMovie`, made by a `users` request whose server answered
/// `answer` to the RPC's `create`, through a `ClientLayer` over `channel`,
/// returned; and the server.
async fn faulted(
    answer: serde_json::Value,
    channel: tonic::transport::Channel,
) -> (Result<grpc_cinema::MovieReply, tonic::Status>, Scripted) {
    let (server, connection) = Scripted::serve(vec![answer]).await;
    filibuster::enable();
    let caller = Caller {
        client: MoviesClient::new(tower::Layer::layer(&filibuster::grpc::ClientLayer::new(), channel)),
        status: Arc::default(),
    };
    let router = Router::new()
        .route("/call", axum::routing::get(call_get_movie))
        .with_state(caller.clone())
        .layer(connection.layer());
    let url = support::serve(router).await;
    let answer = reqwest::get(format!("{url}/call")).await.unwrap().text().await.unwrap();
    assert_eq!(answer, "called");
    let result = caller.status.lock().unwrap().take().expect("the handler ran");
    (result, server)
}

/// UNAVAILABLE is what tonic returns when the service is down: a
/// connection refused by a lazily connected channel, its transport error
/// as the source.
#[tokio::test]
async fn an_injected_unavailable_is_a_refused_connection() {
    let closed = support::free_port();
    let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{closed}")).unwrap();
    let mut real = MoviesClient::new(endpoint.connect_lazy());
    let real = real.get_movie(MovieRequest { id: "x".into() }).await.expect_err("refused");

    let answer = serde_json::json!({"forced_exception": {"name": "tonic.Status", "metadata": {"code": "UNAVAILABLE"}}});
    let (injected, server) = faulted(answer, endpoint.connect_lazy()).await;
    let injected = injected.expect_err("a fault");
    assert_eq!(injected.code(), Code::Unavailable);
    assert_eq!((injected.code(), injected.message()), (real.code(), real.message()));
    assert_eq!(sources(&injected), sources(&real));
    assert!(std::error::Error::source(&injected).unwrap().is::<tonic::transport::Error>());
    // Reported as injected: the server's exception.
    let complete = &server.records("invocation_complete")[0];
    assert_eq!(
        complete["exception"],
        serde_json::json!({"name": "tonic.Status", "metadata": {"code": "UNAVAILABLE"}})
    );
}
