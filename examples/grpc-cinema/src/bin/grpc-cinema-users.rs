//! The gRPC cinema's `users` service (HTTP) as a process.
//!
//! Environment: `PORT` (default 5011), `HOST` (default 127.0.0.1),
//! `BOOKINGS_URL` (default `http://127.0.0.1:5012`), `MOVIES_URL` (default
//! `http://127.0.0.1:5013`), `CINEMA_BUG=1` to plant the bug
//! [`grpc_cinema::Bug::EmptyListOnMoviesUnavailable`], `RUST_LOG`; the
//! runtime reads `FILIBUSTER_ENABLED` and `FILIBUSTER_URL` itself. Its
//! functional test is the cinema's: `USERS_URL=http://127.0.0.1:5011 cargo
//! run -p cinema --bin cinema-check`.
//!
//! `cargo run -p grpc-cinema --bin grpc-cinema-users`

use grpc_cinema as app;

#[tokio::main]
async fn main() -> Result<(), String> {
    let bookings = cinema::env_or("BOOKINGS_URL", &format!("http://127.0.0.1:{}", app::BOOKINGS_PORT));
    let movies = cinema::env_or("MOVIES_URL", &format!("http://127.0.0.1:{}", app::MOVIES_PORT));
    let bug = match cinema::env_or("CINEMA_BUG", "0").trim() {
        "1" | "true" => app::Bug::EmptyListOnMoviesUnavailable,
        _ => app::Bug::None,
    };
    let router = app::Users::new(&bookings, &movies, bug)?.router();
    cinema::run_service("users", router, app::USERS_PORT).await
}
