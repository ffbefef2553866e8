//! The cinema's `movies` service as a process.
//!
//! Environment: `PORT` (default 5003), `HOST` (default 127.0.0.1), `RUST_LOG`;
//! the runtime reads `FILIBUSTER_ENABLED` and `FILIBUSTER_URL` itself.
//!
//! `cargo run -p cinema --bin cinema-movies`

use cinema as app;

#[tokio::main]
async fn main() -> Result<(), String> {
    app::run_service("movies", app::movies(), app::MOVIES_PORT).await
}
