//! The cinema: the classic Filibuster example application, four services.
//!
//! - `users` knows the users and, for `GET /users/{name}/bookings`, asks
//!   `bookings` for a user's bookings and then `movies` for each booked movie;
//! - `bookings` knows which movies each user booked, by date;
//! - `movies` knows the movies;
//! - `showtimes` knows which movies are shown each day.
//!
//! Every handler is instrumented with `#[filibuster::handler]` and every call
//! to another service goes through a `#[filibuster::call]` fn, so that a
//! Filibuster server can inject faults into the calls `users` makes. The
//! `/health-check` endpoints are not instrumented.
//!
//! This crate (package `cinema`, not published) is the app that the
//! `cinema` example explores (`examples/cinema.rs`) and that the tests and
//! benchmarks start; its bins run each service as a process, on its default
//! port:
//!
//! ```text
//! cargo run -p cinema --bin cinema-users       # PORT 5001, BOOKINGS_URL, MOVIES_URL, CINEMA_BUG=1
//! cargo run -p cinema --bin cinema-bookings    # PORT 5002
//! cargo run -p cinema --bin cinema-movies      # PORT 5003
//! cargo run -p cinema --bin cinema-showtimes   # PORT 5004
//! cargo run -p cinema --bin cinema-check       # USERS_URL, FILIBUSTER_URL (server on 5005)
//! ```
//!
//! Set `FILIBUSTER_ENABLED=1` on the services to instrument them. The
//! callsites the reports show are in this file, `examples/cinema/src/lib.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Default port of `users`.
pub const USERS_PORT: u16 = 5001;
/// Default port of `bookings`.
pub const BOOKINGS_PORT: u16 = 5002;
/// Default port of `movies`.
pub const MOVIES_PORT: u16 = 5003;
/// Default port of `showtimes`.
pub const SHOWTIMES_PORT: u16 = 5004;

/// One movie of `movies.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Movie {
    /// The title.
    pub title: String,
    /// The rating, out of 10.
    pub rating: f64,
    /// The director.
    pub director: String,
    /// The movie's id (a UUID).
    pub id: String,
}

/// The cinema's data, embedded from `examples/cinema/data/*.json`.
#[derive(Debug)]
pub struct Data {
    /// User records by user name.
    pub users: BTreeMap<String, Value>,
    /// By user name, then by date (`YYYYMMDD`): the ids of the movies booked.
    pub bookings: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Movies by id.
    pub movies: BTreeMap<String, Movie>,
    /// By date (`YYYYMMDD`): the ids of the movies shown.
    pub showtimes: BTreeMap<String, Vec<String>>,
}

/// The cinema's data, parsed once.
pub fn data() -> &'static Data {
    static DATA: LazyLock<Data> = LazyLock::new(|| {
        fn parse<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> T {
            serde_json::from_str(text).unwrap_or_else(|error| panic!("invalid embedded {name}: {error}"))
        }
        Data {
            users: parse("users.json", include_str!("../data/users.json")),
            bookings: parse("bookings.json", include_str!("../data/bookings.json")),
            movies: parse("movies.json", include_str!("../data/movies.json")),
            showtimes: parse("showtimes.json", include_str!("../data/showtimes.json")),
        }
    });
    &DATA
}

/// Base URLs (`http://host:port`, no trailing slash needed) of the services
/// that `users` calls.
#[derive(Clone, Debug)]
pub struct Peers {
    /// Base URL of `bookings`.
    pub bookings: String,
    /// Base URL of `movies`.
    pub movies: String,
}

/// A bug that can be planted in `users`, for Filibuster to find.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bug {
    /// No bug: every failed call makes `users` answer 503 (or 404).
    #[default]
    None,
    /// When a call to `movies` times out, `users` answers 200 with an empty
    /// list for that date instead of failing: a resilience bug.
    EmptyListOnMoviesTimeout,
}

/// An error of a cinema handler, answered as `{"error": message}`.
#[derive(Debug)]
pub enum Error {
    /// 404: no such user, movie or date.
    NotFound(String),
    /// 503: a service that was needed failed.
    Unavailable(String),
}

impl Error {
    /// The error for a failed call to `service`.
    fn call(service: &str, error: &reqwest::Error) -> Self {
        let what = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "is unreachable"
        } else {
            "failed"
        };
        Error::Unavailable(format!("the {service} service {what}: {error}"))
    }

    /// The error for an answer of `service` with an unexpected status.
    fn status(service: &str, status: StatusCode) -> Self {
        Error::Unavailable(format!("the {service} service answered {status}"))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Error::NotFound(message) => (StatusCode::NOT_FOUND, message),
            Error::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, message),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

async fn health_check() -> Json<Value> {
    Json(json!({ "status": "OK" }))
}

// ----- users ---------------------------------------------------------------

#[derive(Clone)]
struct UsersState {
    peers: Arc<Peers>,
    bug: Bug,
    http: reqwest::Client,
}

/// The `users` service: `GET /users/{name}`, `GET /users/{name}/bookings`
/// and `GET /health-check`. It calls `bookings` and `movies` at `peers`
/// with `http`; `bug` plants a bug.
pub fn users(peers: Peers, bug: Bug, http: reqwest::Client) -> Router {
    let peers = Peers {
        bookings: peers.bookings.trim_end_matches('/').to_owned(),
        movies: peers.movies.trim_end_matches('/').to_owned(),
    };
    Router::new()
        .route("/health-check", get(health_check))
        .route("/users/{name}", get(user))
        .route("/users/{name}/bookings", get(user_bookings))
        .with_state(UsersState { peers: Arc::new(peers), bug, http })
}

#[filibuster::handler(service = "users")]
async fn user(Path(name): Path<String>) -> Result<Json<Value>, Error> {
    match data().users.get(&name) {
        Some(record) => Ok(Json(record.clone())),
        None => Err(Error::NotFound(format!("no user {name}"))),
    }
}

/// A movie as `movies` answers it, as far as `users` needs it.
#[derive(Deserialize)]
struct MovieAnswer {
    title: String,
    rating: f64,
}

/// A booked movie in the answer of `GET /users/{name}/bookings`.
#[derive(Serialize)]
struct BookedMovie {
    title: String,
    rating: f64,
    uri: String,
}

#[filibuster::handler(service = "users")]
async fn user_bookings(
    State(state): State<UsersState>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, Vec<BookedMovie>>>, Error> {
    if !data().users.contains_key(&name) {
        return Err(Error::NotFound(format!("no user {name}")));
    }
    let response = get_bookings(&state, &name).await.map_err(|e| Error::call("bookings", &e))?;
    match response.status() {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => return Err(Error::NotFound(format!("no bookings for {name}"))),
        status => return Err(Error::status("bookings", status)),
    }
    let booked: BTreeMap<String, Vec<String>> = response
        .json()
        .await
        .map_err(|e| Error::Unavailable(format!("the bookings service answered nonsense: {e}")))?;

    let mut result = BTreeMap::new();
    for (date, ids) in booked {
        let mut movies = Vec::with_capacity(ids.len());
        for id in ids {
            let response = match get_movie(&state, &id).await {
                Ok(response) => response,
                Err(error) if error.is_timeout() && state.bug == Bug::EmptyListOnMoviesTimeout => {
                    // The planted bug: a timeout silently empties the day.
                    tracing::info!(%date, %id, "movies timed out; answering an empty list for the day");
                    movies.clear();
                    break;
                }
                Err(error) => return Err(Error::call("movies", &error)),
            };
            if response.status() != StatusCode::OK {
                return Err(Error::status("movies", response.status()));
            }
            let movie: MovieAnswer = response
                .json()
                .await
                .map_err(|e| Error::Unavailable(format!("the movies service answered nonsense: {e}")))?;
            movies.push(BookedMovie {
                title: movie.title,
                rating: movie.rating,
                uri: format!("/movies/{id}"),
            });
        }
        result.insert(date, movies);
    }
    Ok(Json(result))
}

#[filibuster::call]
async fn get_bookings(state: &UsersState, name: &str) -> reqwest::Result<reqwest::Response> {
    state
        .http
        .get(format!("{}/bookings/{name}", state.peers.bookings))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

#[filibuster::call]
async fn get_movie(state: &UsersState, id: &str) -> reqwest::Result<reqwest::Response> {
    state
        .http
        .get(format!("{}/movies/{id}", state.peers.movies))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

// ----- bookings ------------------------------------------------------------

/// The `bookings` service: `GET /bookings/{name}` (date -> movie ids) and
/// `GET /health-check`.
pub fn bookings() -> Router {
    Router::new().route("/health-check", get(health_check)).route("/bookings/{name}", get(user_booked))
}

#[filibuster::handler(service = "bookings")]
async fn user_booked(Path(name): Path<String>) -> Result<Json<BTreeMap<String, Vec<String>>>, Error> {
    match data().bookings.get(&name) {
        Some(booked) => Ok(Json(booked.clone())),
        None => Err(Error::NotFound(format!("no bookings for {name}"))),
    }
}

// ----- movies --------------------------------------------------------------

/// The `movies` service: `GET /movies/{id}` (`{title, rating, director, id,
/// uri}`) and `GET /health-check`.
pub fn movies() -> Router {
    Router::new().route("/health-check", get(health_check)).route("/movies/{id}", get(movie))
}

#[filibuster::handler(service = "movies")]
async fn movie(Path(id): Path<String>) -> Result<Json<Value>, Error> {
    match data().movies.get(&id) {
        Some(movie) => Ok(Json(json!({
            "title": movie.title,
            "rating": movie.rating,
            "director": movie.director,
            "id": movie.id,
            "uri": format!("/movies/{id}"),
        }))),
        None => Err(Error::NotFound(format!("no movie {id}"))),
    }
}

// ----- showtimes -----------------------------------------------------------

/// The `showtimes` service: `GET /showtimes/{date}` (movie ids) and
/// `GET /health-check`.
pub fn showtimes() -> Router {
    Router::new().route("/health-check", get(health_check)).route("/showtimes/{date}", get(shown))
}

#[filibuster::handler(service = "showtimes")]
async fn shown(Path(date): Path<String>) -> Result<Json<Vec<String>>, Error> {
    match data().showtimes.get(&date) {
        Some(ids) => Ok(Json(ids.clone())),
        None => Err(Error::NotFound(format!("no showtimes on {date}"))),
    }
}

// ----- running and checking ------------------------------------------------

/// Serves `router` on a tokio listener bound to `addr` (port 0 picks a free
/// port), in a spawned task; answers the bound address and the task.
pub async fn serve(
    router: Router,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, %bound, "server stopped");
        }
    });
    Ok((bound, task))
}

/// The functional test of the cinema: `GET /users/chris_rivers/bookings` on
/// `users_url` answers 200 with exactly Chris Rivers' one booking when no
/// fault was injected, and 503 or 404 when one was. The error says what was
/// seen instead.
///
/// `fault_injected` is asked once the answer is in: the faults of a test
/// execution are injected while the request is served, so a Filibuster
/// server asked before the request would always say no.
pub async fn check_chris_rivers(
    http: &reqwest::Client,
    users_url: &str,
    fault_injected: impl AsyncFnOnce() -> bool,
) -> Result<(), String> {
    let url = format!("{}/users/chris_rivers/bookings", users_url.trim_end_matches('/'));
    let response = http
        .get(&url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|error| format!("GET {url} failed: {error}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|error| format!("GET {url}: cannot read the body: {error}"))?;
    if fault_injected().await {
        return match status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::NOT_FOUND => Ok(()),
            _ => Err(format!(
                "a fault was injected, so GET {url} should answer 503 or 404; it answered {status}: {body}"
            )),
        };
    }
    if status != StatusCode::OK {
        return Err(format!(
            "no fault was injected, so GET {url} should answer 200; it answered {status}: {body}"
        ));
    }
    let expected = json!({
        "20151201": [{
            "title": "Creed",
            "rating": 8.8,
            "uri": "/movies/267eedb8-0f5d-42d5-8f43-72426b9fb3e6",
        }],
    });
    match serde_json::from_str::<Value>(&body) {
        Ok(seen) if seen == expected => Ok(()),
        Ok(_) => Err(format!("GET {url} answered 200 with {body}; expected {expected}")),
        Err(error) => Err(format!("GET {url} answered 200 with a body that is not JSON ({error}): {body}")),
    }
}

// ----- running the example: the explorer's side, the processes' set-up ----
// (scripts/footprint.sh builds the users service from what is above.)

/// The base URLs (`http://127.0.0.1:PORT`) of the four services started by
/// [`start_all`].
#[derive(Debug)]
pub struct Started {
    /// `users`, which the functional test calls.
    pub users: String,
    /// `bookings`.
    pub bookings: String,
    /// `movies`.
    pub movies: String,
    /// `showtimes` (which `users` does not call).
    pub showtimes: String,
}

/// Starts the four services on ephemeral ports of 127.0.0.1, each router
/// layered with `connection`'s layer, `users` with `bug`; the error names
/// the service that could not start.
pub async fn start_all(connection: &filibuster::Connection, bug: Bug) -> Result<Started, String> {
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("a valid socket address");
    let layer = connection.layer();
    let start = |name: &'static str, router: Router| {
        let router = router.layer(layer.clone());
        async move {
            let (addr, _task) =
                serve(router, any_port).await.map_err(|e| format!("cannot start {name}: {e}"))?;
            Ok::<String, String>(format!("http://{addr}"))
        }
    };
    let bookings = start("bookings", bookings()).await?;
    let movies = start("movies", movies()).await?;
    let showtimes = start("showtimes", showtimes()).await?;
    let peers = Peers { bookings: bookings.clone(), movies: movies.clone() };
    let users = start("users", users(peers, bug, reqwest::Client::new())).await?;
    Ok(Started { users, bookings, movies, showtimes })
}

/// Logs with `tracing-subscriber` to `writer` (stderr, or above the
/// explorer's spinner if one is drawn: `filibuster::progress_writer`, which
/// the `explorer` feature brings), filtered by `RUST_LOG` (default
/// `default_filter`), in colour when stderr is a terminal only; and, with
/// `otlp`, exports the spans over OTLP/HTTP. Answers the guard that sends
/// the last spans when shut down.
pub fn init_tracing<W>(
    default_filter: &str,
    writer: W,
    otlp: Option<filibuster::otlp::Otlp>,
) -> Result<Option<filibuster::otlp::OtlpGuard>, String>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    let (export, guard) = match otlp {
        Some(otlp) => {
            let (layer, guard) = otlp.layer().map_err(|error| with_causes(&error))?;
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry().with(export).with(logs).init();
    Ok(guard)
}

/// `error` and its sources, `: `-separated.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The address a service process listens on: `HOST` (default `127.0.0.1`)
/// and `PORT` (default `default_port`).
pub fn listen_addr(default_port: u16) -> Result<SocketAddr, String> {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let port = match std::env::var("PORT") {
        Ok(port) => port.trim().parse::<u16>().map_err(|e| format!("invalid PORT {port:?}: {e}"))?,
        Err(_) => default_port,
    };
    let text = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    text.parse().map_err(|e| format!("invalid HOST {host:?}: {e}"))
}

/// The environment variable `name`, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// Runs one service process: logs (and, when `OTEL_EXPORTER_OTLP_ENDPOINT`
/// or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, exports its spans there
/// as service `service`), binds [`listen_addr`], serves `router` until the
/// server stops or Ctrl-C.
pub async fn run_service(service: &str, router: Router, default_port: u16) -> Result<(), String> {
    use filibuster::otlp::{ENV_ENDPOINT, ENV_TRACES_ENDPOINT, Otlp};
    let export = [ENV_ENDPOINT, ENV_TRACES_ENDPOINT].iter().any(|name| std::env::var_os(name).is_some());
    let otlp = export.then(|| Otlp::new(service).service_version(env!("CARGO_PKG_VERSION")));
    let guard = init_tracing("info", std::io::stderr, otlp)?;
    let addr = listen_addr(default_port)?;
    let (bound, task) = serve(router, addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(
        service,
        %bound,
        filibuster = filibuster::enabled(),
        otlp = guard.as_ref().map(|guard| guard.endpoint()),
        "cinema service listening"
    );
    let served = tokio::select! {
        served = task => served.map_err(|e| format!("the server task failed: {e}")),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    if let Some(guard) = guard {
        // The last spans, sent from a thread that may block.
        let shutdown = tokio::task::spawn_blocking(move || guard.shutdown()).await;
        if let Ok(Err(error)) = shutdown {
            tracing::warn!(error = with_causes(&error), "the last spans may be lost");
        }
    }
    served
}
