//! The cinema over gRPC: `bookings` and `movies` are tonic services, and
//! `users` answers `GET /users/{name}/bookings` over HTTP by calling
//! `cinema.Bookings/GetBookings`, then `cinema.Movies/GetMovie` for each
//! booked movie.
//!
//! Every service is instrumented: the tonic servers take filibuster's
//! [`ServiceLayer`](filibuster::ServiceLayer) (`Server::builder().layer(..)`),
//! `users`' handler has `#[filibuster::handler]`, and its tonic clients
//! run over a [`filibuster::grpc::ClientLayer`]. The messages are
//! hand-written prost structs and the stubs come from
//! `tonic_build::manual` (`build.rs`): no `.proto`, no protoc.
//!
//! This crate (package `grpc-cinema`, not published) is what the
//! `grpc-cinema` example explores (`examples/grpc-cinema.rs`) and
//! `tests/test_grpc.rs` checks. The data is the HTTP cinema's.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Status};

pub use cinema::check_chris_rivers;

/// Default port of `users` (HTTP).
pub const USERS_PORT: u16 = 5011;
/// Default port of `bookings` (gRPC).
pub const BOOKINGS_PORT: u16 = 5012;
/// Default port of `movies` (gRPC).
pub const MOVIES_PORT: u16 = 5013;

/// The stubs of `cinema.Bookings`.
#[allow(missing_docs, clippy::all, unreachable_pub)]
pub mod bookings {
    include!(concat!(env!("OUT_DIR"), "/cinema.Bookings.rs"));
}

/// The stubs of `cinema.Movies`.
#[allow(missing_docs, clippy::all, unreachable_pub)]
pub mod movies {
    include!(concat!(env!("OUT_DIR"), "/cinema.Movies.rs"));
}

/// `GetBookings`' request: whose bookings.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BookingsRequest {
    /// The user's name.
    #[prost(string, tag = "1")]
    pub user: String,
}

/// The movies a user booked on one date.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DateBookings {
    /// `YYYYMMDD`.
    #[prost(string, tag = "1")]
    pub date: String,
    /// The booked movies' ids.
    #[prost(string, repeated, tag = "2")]
    pub movie_ids: Vec<String>,
}

/// `GetBookings`' reply.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BookingsReply {
    /// By date.
    #[prost(message, repeated, tag = "1")]
    pub dates: Vec<DateBookings>,
}

/// `GetMovie`'s request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MovieRequest {
    /// The movie's id.
    #[prost(string, tag = "1")]
    pub id: String,
}

/// `GetMovie`'s reply.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MovieReply {
    /// The title.
    #[prost(string, tag = "1")]
    pub title: String,
    /// The rating, out of 10.
    #[prost(double, tag = "2")]
    pub rating: f64,
}

/// `ListMovies`' request: every movie, one message each (a server stream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListMoviesRequest {}

/// A bug that can be planted in `users`, for Filibuster to find.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bug {
    /// No bug: every failed RPC makes `users` answer 503 (or 404).
    #[default]
    None,
    /// When `movies` is unavailable, `users` answers 200 with an empty list
    /// for that date instead of failing: a resilience bug.
    EmptyListOnMoviesUnavailable,
}

// ----- bookings and movies: tonic services ---------------------------------

/// The `cinema.Bookings` service.
#[derive(Debug, Default)]
pub struct BookingsService;

#[tonic::async_trait]
impl bookings::bookings_server::Bookings for BookingsService {
    async fn get_bookings(
        &self,
        request: Request<BookingsRequest>,
    ) -> Result<tonic::Response<BookingsReply>, Status> {
        let user = request.into_inner().user;
        let Some(booked) = cinema::data().bookings.get(&user) else {
            return Err(Status::not_found(format!("no bookings for {user}")));
        };
        let dates = booked
            .iter()
            .map(|(date, ids)| DateBookings { date: date.clone(), movie_ids: ids.clone() })
            .collect();
        Ok(tonic::Response::new(BookingsReply { dates }))
    }
}

/// The `cinema.Movies` service.
#[derive(Debug, Default)]
pub struct MoviesService;

#[tonic::async_trait]
impl movies::movies_server::Movies for MoviesService {
    type ListMoviesStream = futures_util::stream::Iter<std::vec::IntoIter<Result<MovieReply, Status>>>;

    async fn list_movies(
        &self,
        _request: Request<ListMoviesRequest>,
    ) -> Result<tonic::Response<Self::ListMoviesStream>, Status> {
        let movies: Vec<Result<MovieReply, Status>> = cinema::data()
            .movies
            .values()
            .map(|movie| Ok(MovieReply { title: movie.title.clone(), rating: movie.rating }))
            .collect();
        Ok(tonic::Response::new(futures_util::stream::iter(movies)))
    }

    async fn get_movie(&self, request: Request<MovieRequest>) -> Result<tonic::Response<MovieReply>, Status> {
        let id = request.into_inner().id;
        match cinema::data().movies.get(&id) {
            Some(movie) => {
                Ok(tonic::Response::new(MovieReply { title: movie.title.clone(), rating: movie.rating }))
            }
            None => Err(Status::not_found(format!("no movie {id}"))),
        }
    }
}

// ----- users: the HTTP front -----------------------------------------------

/// A tonic channel with filibuster's client layer over it.
pub type InstrumentedChannel = filibuster::grpc::Client<Channel>;

/// What `users` needs: a client of each gRPC service, and the bug.
#[derive(Clone, Debug)]
pub struct Users {
    bookings: bookings::bookings_client::BookingsClient<InstrumentedChannel>,
    movies: movies::movies_client::MoviesClient<InstrumentedChannel>,
    bug: Bug,
}

impl Users {
    /// `users`, calling `bookings` and `movies` at these base URLs
    /// (`http://127.0.0.1:50051`), lazily connected.
    pub fn new(bookings_url: &str, movies_url: &str, bug: Bug) -> Result<Self, String> {
        let channel = |url: &str| -> Result<InstrumentedChannel, String> {
            let endpoint =
                Endpoint::from_shared(url.to_owned()).map_err(|e| format!("invalid URL {url}: {e}"))?;
            Ok(tower::Layer::layer(&filibuster::grpc::ClientLayer::new(), endpoint.connect_lazy()))
        };
        Ok(Self {
            bookings: bookings::bookings_client::BookingsClient::new(channel(bookings_url)?),
            movies: movies::movies_client::MoviesClient::new(channel(movies_url)?),
            bug,
        })
    }

    /// The HTTP front: `GET /users/{name}/bookings`.
    pub fn router(self) -> Router {
        Router::new().route("/users/{name}/bookings", get(user_bookings)).with_state(self)
    }
}

/// An error of `users`, answered as `{"error": message}`: 404 for a status
/// NOT_FOUND, 503 for any other failed RPC.
#[derive(Debug)]
pub struct Failed(Status);

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        let status = match self.0.code() {
            Code::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(json!({ "error": self.0.to_string() }))).into_response()
    }
}

/// A booked movie, as the HTTP cinema answers it.
#[derive(serde::Serialize)]
struct BookedMovie {
    title: String,
    rating: f64,
    uri: String,
}

#[filibuster::handler(service = "users")]
async fn user_bookings(
    State(mut users): State<Users>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, Vec<BookedMovie>>>, Failed> {
    let booked = users.bookings.get_bookings(BookingsRequest { user: name }).await.map_err(Failed)?;
    let mut result = BTreeMap::new();
    for DateBookings { date, movie_ids } in booked.into_inner().dates {
        let mut movies = Vec::with_capacity(movie_ids.len());
        for id in movie_ids {
            let movie = match users.movies.get_movie(MovieRequest { id: id.clone() }).await {
                Ok(movie) => movie.into_inner(),
                Err(status)
                    if status.code() == Code::Unavailable
                        && users.bug == Bug::EmptyListOnMoviesUnavailable =>
                {
                    tracing::info!(%date, %id, "movies is unavailable; answering an empty list for the day");
                    movies.clear();
                    break;
                }
                Err(status) => return Err(Failed(status)),
            };
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

// ----- starting it ---------------------------------------------------------

/// Serves the tonic service `service` (`bookings` or `movies`) on `addr`,
/// reporting to `connection` (the process's default, from the environment,
/// when `None`); answers the bound address and the server's task.
pub async fn serve_grpc(
    service: &'static str,
    connection: Option<&filibuster::Connection>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let mut layer = filibuster::ServiceLayer::new(service);
    if let Some(connection) = connection {
        layer = layer.connection(connection.clone());
    }
    let mut server = Server::builder().layer(layer);
    let router = match service {
        "bookings" => server.add_service(bookings::bookings_server::BookingsServer::new(BookingsService)),
        _ => server.add_service(movies::movies_server::MoviesServer::new(MoviesService)),
    };
    let task = tokio::spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        if let Err(error) = router.serve_with_incoming(incoming).await {
            tracing::error!(%error, %bound, "gRPC server stopped");
        }
    });
    Ok((bound, task))
}

/// Runs the tonic service `service` as a process: logs, binds
/// [`cinema::listen_addr`] (`HOST`, `PORT`, else `default_port`), serves
/// until the server stops or Ctrl-C.
pub async fn run_grpc_service(service: &'static str, default_port: u16) -> Result<(), String> {
    cinema::init_tracing("info", std::io::stderr, None)?;
    let addr = cinema::listen_addr(default_port)?;
    let served = serve_grpc(service, None, addr).await;
    let (bound, task) = served.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(service, %bound, filibuster = filibuster::enabled(), "gRPC cinema service listening");
    tokio::select! {
        served = task => served.map_err(|e| format!("the server task failed: {e}")),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// The base URLs of the started services.
#[derive(Debug)]
pub struct Started {
    /// `users`' HTTP front.
    pub users: String,
    /// `bookings`' gRPC endpoint.
    pub bookings: String,
    /// `movies`' gRPC endpoint.
    pub movies: String,
}

/// Starts the three services on ephemeral ports of 127.0.0.1, reporting to
/// `connection`.
pub async fn start_all(connection: &filibuster::Connection, bug: Bug) -> Result<Started, String> {
    let any_port: SocketAddr = ([127, 0, 0, 1], 0).into();
    let start = |service| serve_grpc(service, Some(connection), any_port);
    let (bookings, _) = start("bookings").await.map_err(|e| format!("cannot start bookings: {e}"))?;
    let (movies, _) = start("movies").await.map_err(|e| format!("cannot start movies: {e}"))?;
    let (bookings, movies) = (format!("http://{bookings}"), format!("http://{movies}"));
    let router = Users::new(&bookings, &movies, bug)?.router().layer(connection.layer());
    let (users, _task) =
        cinema::serve(router, any_port).await.map_err(|e| format!("cannot start users: {e}"))?;
    Ok(Started { users: format!("http://{users}"), bookings, movies })
}
