//! gRPC through tonic: the gRPC cinema explored (its counts, its bug found
//! and replayed), the genuine statuses faults become checked against what
//! tonic returns for the real failures, the records on the wire, and
//! servers that stay up under hostile metadata.

#[path = "support/grpc_cinema.rs"]
mod grpc_cinema_support;
#[path = "support/scripted.rs"]
mod scripted;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use filibuster::Explorer;
use grpc_cinema::{MovieRequest, movies::movies_client::MoviesClient};
use scripted::Scripted;
use tonic::Code;
use tonic::transport::Endpoint;

/// The counts the README reasons: 1 fault-free execution, then the
/// reference's three faults (UNAVAILABLE, DEADLINE_EXCEEDED, the callee's
/// NOT_FOUND) on each of the two RPCs, none pruned: 1 + 3 + 3.
#[tokio::test]
async fn the_grpc_cinema_explores_both_rpcs() {
    let report = grpc_cinema_support::explore(&Explorer::new(), grpc_cinema::Bug::None).await;
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
    let report = grpc_cinema_support::explore(&Explorer::new().counterexample_file(&path), bug).await;
    assert!(!report.passed());
    let failed = report.failures().next().expect("a failed execution");
    let faults: Vec<(&str, &str)> =
        failed.faults.iter().map(|f| (f.call.method.as_str(), f.fault.as_str())).collect();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0], ("cinema.Movies/GetMovie", "tonic.Status UNAVAILABLE"));
    assert!(faults[0].1.contains("UNAVAILABLE"), "{faults:?}");

    let counterexample = filibuster::Counterexample::load(&path).unwrap();
    let replay = grpc_cinema_support::explore(&Explorer::new().replay(counterexample.clone()), bug).await;
    assert_eq!(replay.replay, Some(filibuster::ReplayOutcome::Reproduced), "{}", replay.failure_message());
    assert_eq!(replay.executions_run, 1);
    let replay =
        grpc_cinema_support::explore(&Explorer::new().replay(counterexample), grpc_cinema::Bug::None).await;
    assert_eq!(replay.replay, Some(filibuster::ReplayOutcome::Fixed), "{}", replay.failure_message());
}

// ----- the genuine values faults become -----

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
    client: Movies,
    status: Arc<Mutex<Option<Result<grpc_cinema::MovieReply, tonic::Status>>>>,
}

/// A movies client over an instrumented channel.
type Movies = MoviesClient<filibuster::grpc::Client<tonic::transport::Channel>>;

/// A movies client over a `ClientLayer` over a channel to `endpoint`.
fn movies_client(endpoint: &Endpoint) -> Movies {
    MoviesClient::new(tower::Layer::layer(&filibuster::grpc::ClientLayer::new(), endpoint.connect_lazy()))
}

impl Caller {
    /// `users` calling with `client`: its base URL, its `/call` reporting to
    /// `connection`, and where it leaves what `GetMovie` returned.
    async fn serve(client: Movies, connection: &filibuster::Connection) -> (String, Self) {
        let caller = Caller { client, status: Arc::default() };
        let router = Router::new()
            .route("/call", axum::routing::get(call_get_movie))
            .with_state(caller.clone())
            .layer(connection.layer());
        (support::serve(router).await, caller)
    }

    /// What the last `GetMovie` returned.
    fn result(&self) -> Result<grpc_cinema::MovieReply, tonic::Status> {
        self.status.lock().unwrap().take().expect("the handler ran")
    }
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
    let (server, connection) = Scripted::connect(vec![answer]).await;
    filibuster::enable();
    let client = MoviesClient::new(tower::Layer::layer(&filibuster::grpc::ClientLayer::new(), channel));
    let (url, caller) = Caller::serve(client, &connection).await;
    let answer = reqwest::get(format!("{url}/call")).await.unwrap().text().await.unwrap();
    assert_eq!(answer, "called");
    (caller.result(), server)
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

/// A `cinema.Movies` that answers `status` (else the movie), after `delay`.
#[derive(Clone)]
struct OtherMovies {
    status: Option<(Code, &'static str)>,
    delay: Duration,
}

#[tonic::async_trait]
impl grpc_cinema::movies::movies_server::Movies for OtherMovies {
    type ListMoviesStream =
        futures_util::stream::Iter<std::vec::IntoIter<Result<grpc_cinema::MovieReply, tonic::Status>>>;

    /// Three movies, then `status` when there is one: an error after the
    /// first messages, in the trailers.
    async fn list_movies(
        &self,
        _request: tonic::Request<grpc_cinema::ListMoviesRequest>,
    ) -> Result<tonic::Response<Self::ListMoviesStream>, tonic::Status> {
        let mut replies: Vec<_> = ["Creed", "Spectre", "The Martian"]
            .map(|title| Ok(grpc_cinema::MovieReply { title: title.into(), rating: 8.0 }))
            .into();
        if let Some((code, message)) = self.status {
            replies.push(Err(tonic::Status::new(code, message)));
        }
        Ok(tonic::Response::new(futures_util::stream::iter(replies)))
    }

    async fn get_movie(
        &self,
        _request: tonic::Request<MovieRequest>,
    ) -> Result<tonic::Response<grpc_cinema::MovieReply>, tonic::Status> {
        tokio::time::sleep(self.delay).await;
        match self.status {
            Some((code, message)) => Err(tonic::Status::new(code, message)),
            None => Ok(tonic::Response::new(grpc_cinema::MovieReply { title: "Creed".into(), rating: 8.8 })),
        }
    }
}

/// Serves `movies` (uninstrumented, or with a `ServiceLayer` reporting to
/// `connection`); answers its endpoint.
async fn serve_movies(movies: OtherMovies, connection: Option<&filibuster::Connection>) -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let layer =
        connection.map(|connection| filibuster::ServiceLayer::new("movies").connection(connection.clone()));
    let router = tonic::transport::Server::builder()
        .layer(tower::util::option_layer(layer))
        .add_service(grpc_cinema::movies::movies_server::MoviesServer::new(movies));
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    Endpoint::from_shared(format!("http://{address}")).unwrap()
}

/// tonic's own timeout is what an injected `tonic.timeout` gives: CANCELLED
/// "Timeout expired", tonic's `TimeoutExpired` in its sources.
#[tokio::test]
async fn an_injected_timeout_is_tonics_own() {
    let slow = serve_movies(OtherMovies { status: None, delay: Duration::from_secs(5) }, None).await;
    let mut real = MoviesClient::new(slow.clone().timeout(Duration::from_millis(50)).connect_lazy());
    let real = real.get_movie(MovieRequest { id: "x".into() }).await.expect_err("timed out");

    let answer = serde_json::json!({"forced_exception": {"name": "tonic.timeout"}});
    let (injected, server) = faulted(answer, slow.connect_lazy()).await;
    let injected = injected.expect_err("a fault");
    assert_eq!(injected.code(), Code::Cancelled);
    assert_eq!((injected.code(), injected.message()), (real.code(), real.message()));
    let has_timeout = |status: &tonic::Status| {
        let mut source = std::error::Error::source(status);
        while let Some(error) = source {
            if error.is::<tonic::TimeoutExpired>() {
                return true;
            }
            source = error.source();
        }
        false
    };
    assert!(has_timeout(&real) && has_timeout(&injected));
    let complete = &server.records("invocation_complete")[0];
    assert_eq!(complete["exception"]["name"], "tonic.timeout");
}

/// A status fault is the status a server answers, trailers-only: an
/// injected NOT_FOUND (as a forced exception, or as the callee's error of
/// the reference's `errors`) has the code of a real server's NOT_FOUND,
/// and the callee's error is reported as the status tonic reads.
#[tokio::test]
async fn an_injected_status_is_a_servers() {
    let not_found = OtherMovies { status: Some((Code::NotFound, "no movie x")), delay: Duration::ZERO };
    let endpoint = serve_movies(not_found, None).await;
    let mut real = MoviesClient::new(endpoint.connect_lazy());
    let real = real.get_movie(MovieRequest { id: "x".into() }).await.expect_err("not found");
    assert_eq!(real.code(), Code::NotFound);

    let forced =
        serde_json::json!({"forced_exception": {"name": "tonic.Status", "metadata": {"code": "NOT_FOUND"}}});
    let callee = serde_json::json!({"failure_metadata": {"exception": {"metadata": {"code": "NOT_FOUND"}}}});
    let python = serde_json::json!({"forced_exception": {"name": "grpc._channel._InactiveRpcError", "metadata": {"code": "StatusCode.NOT_FOUND"}}});
    for answer in [forced, callee, python] {
        let (injected, server) = faulted(answer.clone(), endpoint.connect_lazy()).await;
        let injected = injected.expect_err("a fault");
        assert_eq!(injected.code(), real.code(), "{answer}");
        assert!(std::error::Error::source(&injected).is_none(), "a server's status has no source");
        let complete = &server.records("invocation_complete")[0];
        assert_eq!(
            complete["exception"]["metadata"]["code"],
            answer["forced_exception"]["metadata"]["code"]
                .as_str()
                .map_or("NOT_FOUND".into(), serde_json::Value::from),
            "{answer}"
        );
    }
}

/// An HTTP status (what a proxy answers) is read by tonic as it reads a
/// real proxy's: 503 is UNAVAILABLE, 404 UNIMPLEMENTED.
#[tokio::test]
async fn an_injected_http_status_is_read_as_a_proxys() {
    let proxy =
        support::serve(Router::new().fallback(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }))
            .await;
    let mut real = MoviesClient::new(Endpoint::from_shared(proxy).unwrap().connect_lazy());
    let real = real.get_movie(MovieRequest { id: "x".into() }).await.expect_err("a proxy's 503");

    let endpoint = serve_movies(OtherMovies { status: None, delay: Duration::ZERO }, None).await;
    let answer = serde_json::json!({"failure_metadata": {"return_value": {"status_code": "503"}}});
    let (injected, _) = faulted(answer, endpoint.connect_lazy()).await;
    let injected = injected.expect_err("a fault");
    assert_eq!(injected.code(), Code::Unavailable);
    assert_eq!((injected.code(), injected.message()), (real.code(), real.message()));
}

/// The records of an RPC: `create` names tonic and the RPC's path; its end
/// is reported at its trailers, OK as a `tonic.Response`, a real error as
/// `tonic.Status` with exactly its code; the callee's `ServiceLayer` gets
/// the generated id and reports `request_received`.
#[tokio::test]
async fn rpcs_on_the_wire() {
    let (server, connection) = Scripted::connect(vec![serde_json::json!({}), serde_json::json!({})]).await;
    filibuster::enable();
    let ok = serve_movies(OtherMovies { status: None, delay: Duration::ZERO }, Some(&connection)).await;
    let failing = OtherMovies { status: Some((Code::NotFound, "no movie x")), delay: Duration::ZERO };
    let failing = serve_movies(failing, Some(&connection)).await;
    for (endpoint, expected) in [(ok, None), (failing, Some(Code::NotFound))] {
        let (url, caller) = Caller::serve(movies_client(&endpoint), &connection).await;
        reqwest::get(format!("{url}/call")).await.unwrap();
        assert_eq!(caller.result().err().map(|status| status.code()), expected);
    }
    let creates = server.records("invocation");
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0]["module"], "tonic");
    assert_eq!(creates[0]["method"], "/cinema.Movies/GetMovie");
    assert_eq!(creates[0]["args"], serde_json::json!(["/cinema.Movies/GetMovie"]));
    assert_eq!(creates[0]["full_traceback"], filibuster::md5_hex("grpc:users:/cinema.Movies/GetMovie"));
    let received = server.records("request_received");
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received[0]["target_service_name"], "movies");
    assert_eq!(received[0]["generated_id"], "1");
    let completes = server.records("invocation_complete");
    assert_eq!(completes[0]["return_value"], serde_json::json!({"__class__": "tonic.Response"}));
    assert_eq!(
        completes[1]["exception"],
        serde_json::json!({"name": "tonic.Status", "metadata": {"code": "NOT_FOUND"}})
    );
}

/// A gRPC fault with a code tonic does not know is not injected: the RPC
/// goes ahead, and an error names the code.
#[tokio::test]
async fn a_fault_with_an_unknown_code_is_refused_loudly() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let logs = support::Logs::of_target("filibuster");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let endpoint = serve_movies(OtherMovies { status: None, delay: Duration::ZERO }, None).await;
    let answer =
        serde_json::json!({"forced_exception": {"name": "tonic.Status", "metadata": {"code": "UNAVAILABL"}}});
    let (result, _) = faulted(answer, endpoint.connect_lazy()).await;
    assert_eq!(result.expect("not faulted").title, "Creed");
    let errors = logs.of(tracing::Level::ERROR).join("\n");
    assert!(errors.contains("\"UNAVAILABL\"") && errors.contains("UNAVAILABLE"), "{errors}");
}

/// Hostile `x-filibuster-*` metadata never fails an instrumented tonic
/// server: each malformed value is ignored, and the RPC is answered.
#[tokio::test]
async fn hostile_metadata_never_fails_a_server() {
    let (_server, connection) = Scripted::connect(Vec::new()).await;
    filibuster::enable();
    let endpoint = serve_movies(OtherMovies { status: None, delay: Duration::ZERO }, Some(&connection)).await;
    let mut client = MoviesClient::new(endpoint.connect_lazy());
    let hostile: [(&str, &str); 8] = [
        ("x-filibuster-generated-id", "not a number"),
        ("x-filibuster-vclock", "{not json"),
        ("x-filibuster-origin-vclock", "[1, 2, 3]"),
        ("x-filibuster-execution-index", "[[\"unclosed\", 1]"),
        ("x-filibuster-forced-sleep", "-1e400"),
        ("x-filibuster-request-id", "a\tb"),
        ("x-filibuster-forced-sleep", "NaN"),
        ("x-filibuster-vclock", "{\"a\": 18446744073709551616}"),
    ];
    for (name, value) in hostile {
        let mut request = tonic::Request::new(MovieRequest { id: "x".into() });
        request.metadata_mut().insert(name, value.parse().unwrap());
        let began = std::time::Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(40), client.get_movie(request)).await;
        let reply = reply
            .unwrap_or_else(|_| panic!("{name}: no answer"))
            .unwrap_or_else(|status| panic!("{name}: {status}"));
        assert_eq!(reply.into_inner().title, "Creed", "{name}");
        assert!(began.elapsed() < Duration::from_secs(35), "{name}");
    }
}

/// A `cinema.Movies` that asks another for the movie and passes its status
/// on (`?`): the middle of a chain.
#[derive(Clone)]
struct ProxyMovies {
    next: Movies,
}

#[tonic::async_trait]
impl grpc_cinema::movies::movies_server::Movies for ProxyMovies {
    type ListMoviesStream = futures_util::stream::Empty<Result<grpc_cinema::MovieReply, tonic::Status>>;

    async fn list_movies(
        &self,
        _request: tonic::Request<grpc_cinema::ListMoviesRequest>,
    ) -> Result<tonic::Response<Self::ListMoviesStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not here"))
    }

    async fn get_movie(
        &self,
        request: tonic::Request<MovieRequest>,
    ) -> Result<tonic::Response<grpc_cinema::MovieReply>, tonic::Status> {
        self.next.clone().get_movie(request.into_inner()).await
    }
}

/// `a -> b -> c`, where `b` passes `c`'s status on: the three faults on
/// `b -> c` run first and each makes `a -> b` fail with the same status,
/// so the three planned on `a -> b` are pruned (4 run, 3 pruned); without
/// reduction, 7 run.
#[tokio::test]
async fn statuses_passed_on_prune_the_callers_faults() {
    for (reduction, counts) in [(true, (4, 3)), (false, (7, 0))] {
        let explorer = Explorer::new().dynamic_reduction(reduction);
        let connection = explorer.connection();
        let c = OtherMovies { status: None, delay: Duration::ZERO };
        let c =
            serve_grpc_as("c", grpc_cinema::movies::movies_server::MoviesServer::new(c), &connection).await;
        let b = ProxyMovies { next: movies_client(&c) };
        let b =
            serve_grpc_as("b", grpc_cinema::movies::movies_server::MoviesServer::new(b), &connection).await;
        let (url, caller) = Caller::serve(movies_client(&b), &connection).await;
        let report = explorer
            .run(|ctx| {
                let (url, caller) = (&url, &caller);
                async move {
                    reqwest::get(format!("{url}/call")).await.map_err(|e| e.to_string())?;
                    let result = caller.status.lock().unwrap().take().ok_or("the handler did not run")?;
                    match (result, ctx.fault_injected()) {
                        (Ok(_), false) | (Err(_), true) => Ok(()),
                        (result, injected) => Err(format!("{result:?} with a fault injected: {injected}")),
                    }
                }
            })
            .await;
        assert!(report.passed(), "{}", report.failure_message());
        assert_eq!(
            (report.executions_run, report.executions_pruned),
            counts,
            "reduction {reduction}: {}",
            report.summary()
        );
    }
}

/// Serves `service` as `name`, instrumented, reporting to `connection`.
async fn serve_grpc_as<S>(name: &'static str, service: S, connection: &filibuster::Connection) -> Endpoint
where
    S: tower::Service<
            axum::http::Request<tonic::body::Body>,
            Response = axum::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = tonic::transport::Server::builder()
        .layer(filibuster::ServiceLayer::new(name).connection(connection.clone()))
        .add_service(service);
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    Endpoint::from_shared(format!("http://{address}")).unwrap()
}

// ----- the typed fault model and the questions by RPC -----

/// A typed rule scoped to one RPC: the callee's status on `GetMovie` only
/// (1 + 1 executions), asked about by RPC; on RPCs, a connection error is
/// UNAVAILABLE from a refused connection.
#[tokio::test]
async fn typed_rules_scope_rpcs() {
    use filibuster::{Calls, Fault, FaultModel};
    let model = FaultModel::empty()
        .with(
            Calls::to("movies").rpc("cinema.Movies/GetMovie"),
            [Fault::GrpcStatus("PermissionDenied".into())],
        )
        .with(Calls::any().rpc("/cinema.Bookings"), [Fault::ConnectionError]);
    let explorer = Explorer::with_fault_model(model);
    let started = grpc_cinema::start_all(&explorer.connection(), grpc_cinema::Bug::None).await.unwrap();
    let http = reqwest::Client::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let report = explorer
        .run(|ctx| {
            let (http, users, seen) = (&http, &started.users, seen.clone());
            async move {
                let response = http.get(format!("{users}/users/chris_rivers/bookings")).send().await.unwrap();
                let on_movies = ctx.fault_injected_on_rpc("movies", "cinema.Movies/GetMovie");
                let on_bookings = ctx.fault_injected_on_rpc("bookings", "/cinema.Bookings/GetBookings");
                let body = response.text().await.unwrap();
                seen.lock().unwrap().push((on_movies, on_bookings, body));
                Ok::<(), String>(())
            }
        })
        .await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(
        (report.executions_run, report.executions_pruned),
        (3, 0),
        "{}\n{}",
        report.summary(),
        report.grid_table()
    );
    // The fault-free execution is run twice (the nondeterminism check).
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|(movies, _, body)| *movies && body.contains("does not have permission")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(_, bookings, body)| *bookings && body.contains("tcp connect error")),
        "{seen:?}"
    );
    let table = report.grid_table();
    assert!(table.contains("status PERMISSION_DENIED"), "{table}");
}

/// A gRPC status tonic does not know makes the run untested, naming it and
/// the codes there are.
#[tokio::test]
async fn an_unknown_grpc_code_makes_the_run_untested() {
    use filibuster::{Calls, Fault, FaultModel, Verdict};
    let model = FaultModel::empty().with(Calls::any(), [Fault::GrpcStatus("NOT_FOUNDX".into())]);
    let report =
        grpc_cinema_support::explore(&Explorer::with_fault_model(model), grpc_cinema::Bug::None).await;
    assert_eq!(report.verdict(), Verdict::Untested, "{}", report.failure_message());
    let message = report.failure_message();
    assert!(message.contains("NOT_FOUNDX") && message.contains("PERMISSION_DENIED"), "{message}");
}

// ----- streaming RPCs: faulted at their start, observed until their trailers -----

/// What `users`' streaming handler holds: a client over an instrumented
/// channel, and what it saw.
#[derive(Clone)]
struct Lister {
    client: Movies,
    /// The titles read, and the status the stream ended with (`None`: not
    /// read to its end).
    seen: Arc<Mutex<Option<Listed>>>,
}

/// The titles a stream gave, and the status it ended with (`None`: not
/// read to its end).
type Listed = (Vec<String>, Option<Code>);

/// Reads at most `n` movies of `ListMovies`, then drops the stream.
#[filibuster::handler(service = "users")]
async fn list_some(
    State(lister): State<Lister>,
    axum::extract::Path(n): axum::extract::Path<usize>,
) -> &'static str {
    let mut client = lister.client.clone();
    let mut titles = Vec::new();
    let ended = match client.list_movies(grpc_cinema::ListMoviesRequest {}).await {
        Err(status) => Some(status.code()),
        Ok(stream) => {
            let mut stream = stream.into_inner();
            loop {
                if titles.len() == n {
                    break None;
                }
                match stream.message().await {
                    Ok(Some(movie)) => titles.push(movie.title),
                    Ok(None) => break Some(Code::Ok),
                    Err(status) => break Some(status.code()),
                }
            }
        }
    };
    *lister.seen.lock().unwrap() = Some((titles, ended));
    "listed"
}

/// A server-streaming RPC is reported when its trailers arrive: OK, or the
/// status sent after its first messages; dropped before them, as
/// cancelled. A fault fails it at its start.
#[tokio::test]
async fn streaming_rpcs_are_observed_until_their_trailers() {
    let answers = vec![serde_json::json!({}); 3]
        .into_iter()
        .chain([serde_json::json!({"forced_exception": {"name": "tonic.Status", "metadata": {"code": "UNAVAILABLE"}}})])
        .collect();
    let (server, connection) = Scripted::connect(answers).await;
    filibuster::enable();
    let fine = serve_movies(OtherMovies { status: None, delay: Duration::ZERO }, None).await;
    let breaking = OtherMovies { status: Some((Code::Internal, "the disk broke")), delay: Duration::ZERO };
    let breaking = serve_movies(breaking, None).await;
    let mut seen = Vec::new();
    for (endpoint, n) in [(&fine, 10), (&breaking, 10), (&fine, 1), (&fine, 10)] {
        let lister = Lister { client: movies_client(endpoint), seen: Arc::default() };
        let router = Router::new()
            .route("/list/{n}", axum::routing::get(list_some))
            .with_state(lister.clone())
            .layer(connection.layer());
        let url = support::serve(router).await;
        assert_eq!(reqwest::get(format!("{url}/list/{n}")).await.unwrap().text().await.unwrap(), "listed");
        seen.push(lister.seen.lock().unwrap().take().expect("the handler ran"));
    }
    let all = |titles: &[&str]| titles.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    assert_eq!(seen[0], (all(&["Creed", "Spectre", "The Martian"]), Some(Code::Ok)));
    assert_eq!(seen[1], (all(&["Creed", "Spectre", "The Martian"]), Some(Code::Internal)));
    assert_eq!(seen[2], (all(&["Creed"]), None));
    assert_eq!(seen[3], (Vec::new(), Some(Code::Unavailable)));

    // The dropped stream's report is sent from its drop: waited for.
    let completes = || server.records("invocation_complete");
    for _ in 0..200 {
        if completes().len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut outcomes: Vec<(String, serde_json::Value)> = completes()
        .iter()
        .map(|c| {
            (
                c["generated_id"].to_string(),
                if c["exception"].is_null() { c["return_value"].clone() } else { c["exception"].clone() },
            )
        })
        .collect();
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    let outcomes: Vec<serde_json::Value> = outcomes.into_iter().map(|(_, outcome)| outcome).collect();
    assert_eq!(
        outcomes,
        [
            serde_json::json!({"__class__": "tonic.Response"}),
            serde_json::json!({"name": "tonic.Status", "metadata": {"code": "INTERNAL"}}),
            serde_json::json!({"name": "cancelled", "metadata": {}}),
            serde_json::json!({"name": "tonic.Status", "metadata": {"code": "UNAVAILABLE"}}),
        ]
    );
}

// ----- RPCs made in a #[filibuster::call] fn: the fn's callsites -----

#[filibuster::call]
async fn movie_for_the_page(movies: &mut Movies) -> Result<String, tonic::Status> {
    let movie = movies.get_movie(MovieRequest { id: "x".into() }).await?.into_inner();
    Ok(movie.title)
}

#[filibuster::call(timeout = 2)]
async fn movie_for_the_banner(movies: &mut Movies) -> Result<String, tonic::Status> {
    Ok(movies.get_movie(MovieRequest { id: "x".into() }).await?.into_inner().title)
}

/// A builder returned to the caller, who sends it: nothing here to
/// instrument, said when it runs.
#[filibuster::call]
async fn a_builder(http: &reqwest::Client) -> reqwest::RequestBuilder {
    http.get("http://127.0.0.1:9/nothing")
}

#[filibuster::handler(service = "users")]
async fn two_places(State(caller): State<Caller>) -> String {
    let mut movies = caller.client.clone();
    let page = movie_for_the_page(&mut movies).await;
    let banner = movie_for_the_banner(&mut movies).await;
    let _unsent = a_builder(&reqwest::Client::new()).await;
    format!("{page:?} {banner:?}")
}

/// The same RPC made in two `#[filibuster::call]` fns: two callsites, each
/// the fn's (its file, line and name, its declared timeout), not the
/// service's; a `#[filibuster::call]` fn that made neither a `.send()` nor
/// an RPC is said.
#[tokio::test]
async fn rpcs_in_call_fns_are_the_fns_callsites() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let logs = support::Logs::of_target("filibuster");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let (server, connection) = Scripted::connect(vec![serde_json::json!({}), serde_json::json!({})]).await;
    filibuster::enable();
    let endpoint = serve_movies(OtherMovies { status: None, delay: Duration::ZERO }, None).await;
    let caller = Caller {
        client: MoviesClient::new(tower::Layer::layer(
            &filibuster::grpc::ClientLayer::new().timeout(Duration::from_secs(5)),
            endpoint.connect_lazy(),
        )),
        status: Arc::default(),
    };
    let router = Router::new()
        .route("/two", axum::routing::get(two_places))
        .with_state(caller)
        .layer(connection.layer());
    let url = support::serve(router).await;
    let answer = reqwest::get(format!("{url}/two")).await.unwrap().text().await.unwrap();
    assert_eq!(answer, r#"Ok("Creed") Ok("Creed")"#);
    let creates = server.records("invocation");
    assert_eq!(creates.len(), 2);
    let places: Vec<(&str, &str)> = creates
        .iter()
        .map(|c| (c["callsite_file"].as_str().unwrap(), c["callsite_line"].as_str().unwrap()))
        .collect();
    assert!(places.iter().all(|(file, _)| file.ends_with("test_grpc.rs")), "{places:?}");
    assert_ne!(places[0].1, places[1].1, "{places:?}");
    assert_ne!(creates[0]["full_traceback"], creates[1]["full_traceback"]);
    assert_ne!(creates[0]["full_traceback"], filibuster::md5_hex("grpc:users:/cinema.Movies/GetMovie"));
    assert_eq!(creates[0]["method"], "/cinema.Movies/GetMovie");
    assert_eq!(creates[0]["metadata"]["timeout"], 5.0, "the channel's declared timeout");
    assert_eq!(creates[1]["metadata"]["timeout"], 2.0, "the fn's declared timeout, before the channel's");
    let warnings = logs.of(tracing::Level::WARN).join("\n");
    assert!(warnings.contains("`a_builder`") && warnings.contains("made no RPC"), "{warnings}");
}

/// A non-aborting fault on an RPC (`"abort": false`, the reference's): the
/// RPC is made, its instrumented callee sleeps the forced sleep sent in the
/// metadata before its handler, and the caller still gets the fault.
#[tokio::test]
async fn a_non_aborting_fault_reaches_the_callee_then_fails() {
    let forced = serde_json::json!({"forced_exception": {
        "name": "tonic.Status",
        "metadata": {"code": "DEADLINE_EXCEEDED", "abort": false, "sleep": 1}
    }});
    let (server, connection) = Scripted::connect(vec![forced]).await;
    filibuster::enable();
    let endpoint = serve_movies(OtherMovies { status: None, delay: Duration::ZERO }, Some(&connection)).await;
    let (url, caller) = Caller::serve(movies_client(&endpoint), &connection).await;
    let began = std::time::Instant::now();
    reqwest::get(format!("{url}/call")).await.unwrap();
    let elapsed = began.elapsed();
    assert_eq!(caller.result().expect_err("the fault").code(), Code::DeadlineExceeded);
    assert!(elapsed >= Duration::from_secs(1), "the callee slept the forced sleep: {elapsed:?}");
    let received = server.records("request_received");
    assert_eq!(received.len(), 1, "the callee was reached: {received:?}");
    assert_eq!(received[0]["target_service_name"], "movies");
}

// ----- the user's mistakes, said -----

/// `users` with one RPC over an instrumented channel and one over a channel
/// without the `ClientLayer`.
#[derive(Clone)]
struct HalfLayered {
    layered: Movies,
    plain: MoviesClient<tonic::transport::Channel>,
}

#[filibuster::handler(service = "users")]
async fn half_layered(State(users): State<HalfLayered>) -> String {
    let first = users.layered.clone().get_movie(MovieRequest { id: "x".into() }).await;
    let second = users.plain.clone().get_movie(MovieRequest { id: "x".into() }).await;
    format!("{} {}", first.is_ok(), second.is_ok())
}

/// A channel without the `ClientLayer`, to an instrumented server: its
/// RPCs are never faulted, and the report says so, naming the service and
/// the RPC; with only such RPCs, the run is untested.
#[tokio::test]
async fn an_rpc_without_the_client_layer_is_said() {
    let explorer = Explorer::new();
    let connection = explorer.connection();
    let movies = OtherMovies { status: None, delay: Duration::ZERO };
    let movies =
        serve_grpc_as("movies", grpc_cinema::movies::movies_server::MoviesServer::new(movies), &connection)
            .await;
    let users =
        HalfLayered { layered: movies_client(&movies), plain: MoviesClient::new(movies.connect_lazy()) };
    let router = Router::new()
        .route("/half", axum::routing::get(half_layered))
        .with_state(users)
        .layer(connection.layer());
    let url = support::serve(router).await;
    let report = explorer
        .run(|ctx| {
            let url = &url;
            async move {
                let answer = reqwest::get(format!("{url}/half"))
                    .await
                    .map_err(|e| e.to_string())?
                    .text()
                    .await
                    .unwrap();
                match (answer.as_str(), ctx.fault_injected()) {
                    ("true true", false) | ("false true", true) => Ok(()),
                    (answer, injected) => Err(format!("{answer} with a fault injected: {injected}")),
                }
            }
        })
        .await;
    assert!(report.passed(), "{}", report.failure_message());
    let summary = report.summary();
    assert!(
        summary.contains("without Filibuster headers") && summary.contains("grpc::ClientLayer"),
        "{summary}"
    );
    assert_eq!(report.unmarked_requests.len(), 1, "{summary}");
    assert_eq!(report.unmarked_requests[0].service, "movies", "{summary}");
    assert!(report.unmarked_requests[0].route.contains("cinema.Movies"), "{summary}");
}
