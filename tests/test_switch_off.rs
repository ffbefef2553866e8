//! With the instrumentation off (the default: `FILIBUSTER_ENABLED` unset and
//! no `filibuster::enable()`), instrumented handlers and calls behave as if
//! the attributes were absent: no forced sleep, no report to any server, no
//! `X-Filibuster-*` header sent on, whatever the incoming request carried.
//!
//! The switch is process-wide, so this is its own test binary, and nothing
//! here may call `filibuster::enable()`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use filibuster::headers::{EXECUTION_INDEX, FORCED_SLEEP, GENERATED_ID, ORIGIN_VCLOCK, REQUEST_ID, VCLOCK};

mod support;
use support::{Downstream, Recorder, filibuster_headers, serve};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
}

#[filibuster::handler(service = "a")]
async fn start(State(app): State<App>) -> String {
    let first = fetch_b(&app).await.unwrap().text().await.unwrap();
    let second = fetch_b(&app).await.unwrap().text().await.unwrap();
    format!("{first},{second}")
}

#[filibuster::handler(service = "c")]
async fn leaf() -> &'static str {
    "leaf ran"
}

#[filibuster::call]
async fn fetch_b(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/b", app.b_url)).timeout(Duration::from_secs(30)).send().await
}

/// Every Filibuster header, well formed, including a 60 s forced sleep.
fn with_filibuster_headers(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header(FORCED_SLEEP, "60")
        .header(EXECUTION_INDEX, r#"[["x", 1]]"#)
        .header(VCLOCK, r#"{"t": 1}"#)
        .header(ORIGIN_VCLOCK, r#"{"t": 1}"#)
        .header(GENERATED_ID, "3")
        .header(REQUEST_ID, "chain-1")
}

fn assert_off() {
    assert!(
        std::env::var_os("FILIBUSTER_ENABLED").is_none(),
        "this test checks the default; run it without FILIBUSTER_ENABLED"
    );
    assert!(!filibuster::enabled(), "the instrumentation is off by default");
}

#[tokio::test]
async fn instrumented_services_ignore_filibuster_headers_when_off() {
    assert_off();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    // Handlers take the connection from the router, calls outside handlers
    // would take the process default: both lead to the recorder.
    connection.set_process_default();
    let b = Downstream::default();
    let b_url = b.serve().await;
    let app = App { http: reqwest::Client::new(), b_url: b_url.clone() };
    let a_url = serve(
        Router::new()
            .route("/start", get(start))
            .route("/leaf", get(leaf))
            .with_state(app)
            .layer(connection.layer()),
    )
    .await;
    let client = reqwest::Client::new();

    // Served at once: far under the 60 s asked for (and the 30 s cap).
    let began = Instant::now();
    let response = with_filibuster_headers(client.get(format!("{a_url}/start"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello from b,hello from b");
    let began_leaf = Instant::now();
    assert!(began.elapsed() < Duration::from_secs(10), "the forced sleep was honoured");

    let response = with_filibuster_headers(client.get(format!("{a_url}/leaf"))).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "leaf ran");
    assert!(began_leaf.elapsed() < Duration::from_secs(10), "the forced sleep was honoured");

    // An instrumented call outside any handler is a plain call too.
    let app = App { http: reqwest::Client::new(), b_url };
    assert_eq!(fetch_b(&app).await.unwrap().text().await.unwrap(), "hello from b");

    // Nothing reached the server, not even a question.
    assert_eq!(recorder.records(), [], "no create nor update");
    assert_eq!(recorder.others(), Vec::<String>::new(), "no other request");

    // `b` got the three calls, without any Filibuster header.
    let seen = b.seen();
    assert_eq!(seen.len(), 3);
    for headers in &seen {
        assert!(filibuster_headers(headers).is_empty(), "{headers:?}");
    }
}

/// `cinema.Movies` answering one movie.
struct Movies;

#[tonic::async_trait]
impl grpc_cinema::movies::movies_server::Movies for Movies {
    type ListMoviesStream = futures_util::stream::Empty<Result<grpc_cinema::MovieReply, tonic::Status>>;

    async fn list_movies(
        &self,
        _request: tonic::Request<grpc_cinema::ListMoviesRequest>,
    ) -> Result<tonic::Response<Self::ListMoviesStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not here"))
    }

    async fn get_movie(
        &self,
        request: tonic::Request<grpc_cinema::MovieRequest>,
    ) -> Result<tonic::Response<grpc_cinema::MovieReply>, tonic::Status> {
        Ok(tonic::Response::new(grpc_cinema::MovieReply { title: request.into_inner().id, rating: 8.8 }))
    }
}

/// Off, a tonic server with the `ServiceLayer` and a client over the
/// `ClientLayer` are tonic's own: the forced sleep in the metadata is not
/// honoured, nothing is reported, and no `x-filibuster-*` metadata is sent.
#[tokio::test]
async fn tonic_clients_and_servers_are_tonics_own_when_off() {
    assert_off();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(filibuster::ServiceLayer::new("movies").connection(connection.clone()))
        .add_service(grpc_cinema::movies::movies_server::MoviesServer::new(Movies));
    tokio::spawn(server.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{address}")).unwrap().connect_lazy();
    let channel = tower::Layer::layer(&filibuster::grpc::ClientLayer::new(), channel);
    let mut client = grpc_cinema::movies::movies_client::MoviesClient::new(channel);

    let began = Instant::now();
    let mut request = tonic::Request::new(grpc_cinema::MovieRequest { id: "Creed".into() });
    for (name, value) in [(FORCED_SLEEP, "60"), (GENERATED_ID, "3"), (EXECUTION_INDEX, r#"[["x", 1]]"#)] {
        request.metadata_mut().insert(name, value.parse().unwrap());
    }
    let reply = client.get_movie(request).await.unwrap().into_inner();
    assert_eq!(reply.title, "Creed");
    assert!(began.elapsed() < Duration::from_secs(10), "the forced sleep was honoured");
    assert_eq!(recorder.records(), [], "no create nor update");
    assert_eq!(recorder.others(), Vec::<String>::new(), "no other request");
}
