//! The cinema's `bookings` service as a process.
//!
//! Environment: `PORT` (default 5002), `HOST` (default 127.0.0.1), `RUST_LOG`;
//! the runtime reads `FILIBUSTER_ENABLED` and `FILIBUSTER_URL` itself.
//!
//! `cargo run -p cinema --bin cinema-bookings`

use cinema as app;

#[tokio::main]
async fn main() -> Result<(), String> {
    app::run_service("bookings", app::bookings(), app::BOOKINGS_PORT).await
}
