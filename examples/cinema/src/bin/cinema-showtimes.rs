//! The cinema's `showtimes` service as a process.
//!
//! Environment: `PORT` (default 5004), `HOST` (default 127.0.0.1), `RUST_LOG`;
//! the runtime reads `FILIBUSTER_ENABLED` and `FILIBUSTER_URL` itself.
//!
//! `cargo run -p cinema --bin cinema-showtimes`

use cinema as app;

#[tokio::main]
async fn main() -> Result<(), String> {
    app::run_service("showtimes", app::showtimes(), app::SHOWTIMES_PORT).await
}
