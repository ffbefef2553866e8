//! The gRPC cinema's `movies` service (tonic) as a process.
//!
//! Environment: `PORT` (default 5013), `HOST` (default 127.0.0.1),
//! `RUST_LOG`; the runtime reads `FILIBUSTER_ENABLED` and `FILIBUSTER_URL`
//! itself.
//!
//! `cargo run -p grpc-cinema --bin grpc-cinema-movies`

use grpc_cinema as app;

#[tokio::main]
async fn main() -> Result<(), String> {
    app::run_grpc_service("movies", app::MOVIES_PORT).await
}
