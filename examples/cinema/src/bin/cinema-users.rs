//! The cinema's `users` service as a process.
//!
//! Environment: `PORT` (default 5001), `HOST` (default 127.0.0.1),
//! `BOOKINGS_URL` (default `http://127.0.0.1:5002`), `MOVIES_URL` (default
//! `http://127.0.0.1:5003`), `CINEMA_BUG=1` to plant the bug
//! [`cinema::Bug::EmptyListOnMoviesTimeout`], `RUST_LOG`; the runtime reads
//! `FILIBUSTER_ENABLED` and `FILIBUSTER_URL` itself.
//!
//! `cargo run -p cinema --bin cinema-users`

use cinema as app;

#[tokio::main]
async fn main() -> Result<(), String> {
    let peers = app::Peers {
        bookings: app::env_or("BOOKINGS_URL", &format!("http://127.0.0.1:{}", app::BOOKINGS_PORT)),
        movies: app::env_or("MOVIES_URL", &format!("http://127.0.0.1:{}", app::MOVIES_PORT)),
    };
    let bug = match app::env_or("CINEMA_BUG", "0").trim() {
        "1" | "true" => app::Bug::EmptyListOnMoviesTimeout,
        _ => app::Bug::None,
    };
    let router = app::users(peers, bug, reqwest::Client::new());
    app::run_service("users", router, app::USERS_PORT).await
}
