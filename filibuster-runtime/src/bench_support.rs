//! Hooks for the benchmarks of `benches/`: not part of the API, no stability.
//!
//! - [`send_with`] and [`handle`] run the very code of an instrumented
//!   `.send()` and of `#[filibuster::handler]`, with a stub performing the
//!   request instead of the network, so that the per-call cost of the
//!   instrumentation can be measured without I/O;
//! - [`begin`], [`begin_with_faults`], [`finish`] and [`next`] drive a
//!   [`Server`] by hand, as the [`Explorer`](crate::Explorer) does between
//!   test executions, so that synthetic executions can pile up and the cost
//!   of scheduling and dynamic reduction be measured as history grows.

use axum::extract::FromRequestParts;
use futures_util::future::Either;
use http::request::Parts;
use reqwest::{Request, Response};

use crate::callsite::Callsite;
use crate::handler::{Incoming, run_handler};
use crate::server::{PlannedFault, Server};
use crate::switch;

/// What an instrumented `.send()` of `request` from `callsite` does, with
/// `execute` performing the request in place of the client's `execute`: with
/// the instrumentation off, only `execute`; on, in an instrumented handler,
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
    if !switch::enabled() {
        return Either::Left(execute(request));
    }
    Either::Right(crate::send::send_request(Ok(request), callsite, execute))
}

/// What `#[filibuster::handler(service = ...)]` does around `body` for a
/// request whose head is `parts` (its headers, and the [`Connection`](crate::Connection) a
/// router's [`Connection::layer`](crate::Connection::layer) put in its extensions): the extractor of
/// the incoming Filibuster headers, then `request_received` (when the
/// headers say an instrumented call sent it) and `body` in a fresh request
/// context.
pub async fn handle<F: Future>(service: &'static str, parts: &mut Parts, body: F) -> F::Output {
    let incoming = match Incoming::from_request_parts(parts, &()).await {
        Ok(incoming) => incoming,
        Err(never) => match never {},
    };
    run_handler(incoming, service, body).await
}

/// Starts a test execution with no fault planned, as the explorer starts its
/// initial one; `exploring` says whether new calls schedule executions.
pub fn begin(server: &Server, exploring: bool) {
    let mut state = server.lock();
    state.exploring = exploring;
    state.begin(None);
}

/// Starts a test execution with `faults` planned (sorted by execution
/// index) that schedules nothing, as a replay does.
pub fn begin_with_faults(server: &Server, faults: Vec<PlannedFault>) {
    server.lock().begin_replay(faults, std::iter::empty());
}

/// Ends the current test execution: remembers it as run and adds it to the
/// dynamic reduction's index.
pub fn finish(server: &Server) {
    server.lock().finish();
}

/// What [`next`] did with the execution it took from the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Dynamic reduction showed it redundant.
    Pruned,
    /// It is begun: run its calls, then [`finish`].
    Begun,
}

/// One turn of the explorer's loop: takes the next scheduled execution and
/// prunes it, or begins it. `None` when nothing is scheduled.
pub fn next(server: &Server, dynamic_reduction: bool) -> Option<Next> {
    let mut state = server.lock();
    state.exploring = true;
    let next = state.pop()?;
    if dynamic_reduction && state.should_prune(&next) {
        return Some(Next::Pruned);
    }
    state.begin(Some(next));
    Some(Next::Begun)
}

/// Executions waiting on the stack.
pub fn pending(server: &Server) -> usize {
    server.lock().pending()
}
