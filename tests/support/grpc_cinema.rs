//! The gRPC cinema explored, as the tests that look at it from different
//! sides (its counts, its spans, its traces) run it. Included with
//! `#[path = "support/grpc_cinema.rs"] mod grpc_cinema_support;` by the test
//! binaries that link the `grpc-cinema` package.
#![allow(dead_code, unreachable_pub)] // a module of each test crate: `pub` here is no public API

/// Starts the gRPC cinema's services with `bug`, reporting to `explorer`,
/// and runs the cinema's functional test under it.
pub async fn explore(explorer: &filibuster::Explorer, bug: grpc_cinema::Bug) -> filibuster::Report {
    let started = grpc_cinema::start_all(&explorer.connection(), bug).await.unwrap();
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let (http, users) = (&http, &started.users);
            async move { grpc_cinema::check_chris_rivers(http, users, async || ctx.fault_injected()).await }
        })
        .await
}
