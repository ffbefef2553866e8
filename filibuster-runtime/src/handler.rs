//! What `#[filibuster::handler]` expands to: an extractor for the incoming
//! Filibuster headers and a wrapper that runs the handler's body in a
//! [`RequestContext`].

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use futures_util::future::Either;
use http::request::Parts;

use crate::connection::Connection;
use crate::context::RequestContext;
use crate::headers::FilibusterHeaders;
use crate::records::{RequestReceived, Update};
use crate::switch;

/// The Filibuster side of an incoming request, extracted by the parameter
/// that `#[filibuster::handler]` adds in front of a handler's own. Empty
/// (and free) when the instrumentation is off.
#[derive(Debug)]
pub struct Incoming(Option<Box<IncomingRequest>>);

#[derive(Debug)]
struct IncomingRequest {
    headers: FilibusterHeaders,
    connection: Connection,
    /// No connection came with the request: `connection` is the process
    /// default, which nobody chose.
    unlayered: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Incoming {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if !switch::enabled() {
            return Ok(Incoming(None));
        }
        let (connection, unlayered) = match parts.extensions.get::<Connection>() {
            Some(connection) => (connection.clone(), false),
            None => (Connection::process_default(), !Connection::process_default_chosen()),
        };
        let headers = FilibusterHeaders::from_headers(&parts.headers);
        Ok(Incoming(Some(Box::new(IncomingRequest { headers, connection, unlayered }))))
    }
}

/// Runs an instrumented handler's `body` for `service`: reports
/// `request_received` when the request came from an instrumented call,
/// honours a forced sleep (bounded), then runs the body with its
/// [`RequestContext`] in scope. With the instrumentation off it only runs the
/// body: the future is `body` itself, and on, the instrumented work lives in
/// one box, so that handlers' futures do not grow.
pub fn run_handler<F: Future>(
    incoming: Incoming,
    service: &'static str,
    body: F,
) -> impl Future<Output = F::Output> {
    match incoming.0 {
        None => Either::Left(body),
        Some(incoming) => Either::Right(Box::pin(instrumented(*incoming, service, body))),
    }
}

async fn instrumented<F: Future>(incoming: IncomingRequest, service: &'static str, body: F) -> F::Output {
    let IncomingRequest { headers, connection, unlayered } = incoming;
    if unlayered && crate::unlayered::report(service) {
        return body.await;
    }
    let reached_by = headers.generated_id.filter(|_| headers.execution_index.is_some());
    let forced_sleep = headers.forced_sleep;
    let context = RequestContext::new(service, connection, headers);
    if let Some(generated_id) = reached_by {
        let mut id = String::with_capacity(20);
        crate::wire::push_u64(&mut id, generated_id);
        let record = RequestReceived {
            instrumentation_type: "request_received".into(),
            generated_id: id,
            execution_index: context.execution_index_wire().to_owned(),
            target_service_name: service.into(),
        };
        context.connection().update(&Update::RequestReceived(record)).await;
    }
    if let Some(sleep) = forced_sleep {
        tracing::debug!(service, ?sleep, "forced sleep before the handler");
        tokio::time::sleep(sleep).await;
    }
    context.scope(body).await
}
