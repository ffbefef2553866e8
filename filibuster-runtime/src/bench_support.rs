//! Hooks for the benchmarks of `benches/` (feature `bench-hooks`, which only
//! the benchmarks turn on): not part of the API, no stability.
//!
//! [`send_with`] and [`handle`] run the very code of an instrumented
//! `.send()` and of `#[filibuster::handler]`, with a stub performing the
//! request instead of the network, so that the per-call cost of the
//! instrumentation can be measured without I/O.

use axum::extract::FromRequestParts;
use futures_util::future::Either;
use http::request::Parts;
use reqwest::{Request, Response};

use crate::callsite::Callsite;
use crate::handler::{Incoming, run_handler};

/// What an instrumented `.send()` of `request` from `callsite` does, with
/// `execute` performing the request in place of the client's `execute`: with
/// the instrumentation off and no subscriber wanting spans, only `execute`;
/// with a subscriber, the client span around it; on, in an instrumented handler,
/// the clock, the execution index, the `create` through the handler's
/// connection, the decision, the headers and `invocation_complete`.
pub fn send_with<F, Fut>(
    request: Request,
    callsite: &'static Callsite,
    execute: F,
) -> impl Future<Output = reqwest::Result<Response>>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = reqwest::Result<Response>>,
{
    if crate::send::plain() {
        return Either::Left(execute(request));
    }
    Either::Right(crate::reqwest_adapter::v0_13::traced_send(Ok(request), callsite, execute))
}

/// What `#[filibuster::handler(service = ...)]` does around the future
/// `body` makes, for a request whose head is `parts` (its headers, and the
/// [`Connection`](crate::Connection) a router's
/// [`Connection::layer`](crate::Connection::layer) put in its extensions):
/// the extractor of the incoming Filibuster headers, then the future made
/// and pinned in place, as the attribute's expansion does, then
/// `request_received` (when the headers say an instrumented call sent it)
/// and the future in a fresh request context.
pub async fn handle<F: Future>(
    service: &'static str,
    parts: &mut Parts,
    body: impl FnOnce() -> F,
) -> F::Output {
    let incoming = match Incoming::from_request_parts(parts, &()).await {
        Ok(incoming) => incoming,
        Err(never) => match never {},
    };
    let body = std::pin::pin!(body());
    run_handler(incoming, service, body).await
}
