//! What `#[filibuster::handler]` expands to: an extractor for the incoming
//! Filibuster headers and a wrapper that runs the handler's body in a
//! [`RequestContext`]. [`ServiceLayer`](crate::ServiceLayer) does the same
//! for every route of a router, with the same pieces.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Either};
use http::request::Parts;
use http::{Extensions, HeaderMap};
use tracing::{Instrument as _, Span};

use crate::connection::Connection;
use crate::context::RequestContext;
use crate::headers::FilibusterHeaders;
use crate::records::{RequestReceived, Update};
use crate::service_layer::{Instrumented, service_from_env};
use crate::{spans, switch};

/// The Filibuster side of an incoming request, extracted by the parameter
/// that `#[filibuster::handler]` adds in front of a handler's own: its
/// server span (see [`spans`](crate::spans)) and, with the instrumentation
/// on, its Filibuster headers. Empty (and free) when the instrumentation is
/// off and no `tracing` subscriber wants spans, and when a
/// [`ServiceLayer`](crate::ServiceLayer) already instruments the request.
///
/// One pointer: what the handler's future holds when there is nothing to
/// do, so that the futures of handlers do not grow.
#[derive(Debug)]
pub struct Incoming(Option<Box<Traced>>);

/// What [`Incoming`] holds when there is something to do: the request's
/// server span (a disabled one when no subscriber wants it) and, with the
/// instrumentation on, its Filibuster side.
#[derive(Debug)]
struct Traced {
    span: Span,
    request: Option<IncomingRequest>,
}

impl Incoming {
    /// Nothing to do for the request.
    fn none() -> Self {
        Self(None)
    }
}

/// What an instrumented request brings: its Filibuster headers and the
/// connection to report to.
#[derive(Debug)]
pub(crate) struct IncomingRequest {
    headers: FilibusterHeaders,
    connection: Connection,
    /// No connection came with the request: `connection` is the process
    /// default, which nobody chose.
    unlayered: bool,
    /// Who runs it, for the missing-layer error.
    by: By,
    /// `METHOD route` of a request without Filibuster headers (the route
    /// as axum matched it, else the path), to name it if it turns out to
    /// be an uninstrumented call's.
    unmarked: Option<Box<str>>,
}

/// What instruments a request: an attribute on its handler, or a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    Attribute,
    Layer,
}

impl IncomingRequest {
    /// The request with `headers` and `extensions`: its connection is
    /// `connection` if given, else the one in `extensions`
    /// ([`Connection::layer`]), else the process default.
    pub(crate) fn new(
        (method, uri): (&http::Method, &http::Uri),
        headers: &HeaderMap,
        extensions: &Extensions,
        connection: Option<&Connection>,
        by: By,
    ) -> Self {
        let (connection, unlayered) = match connection.or_else(|| extensions.get::<Connection>()) {
            Some(connection) => (connection.clone(), false),
            None => (Connection::process_default(), !Connection::process_default_chosen()),
        };
        let headers = FilibusterHeaders::from_headers(headers);
        // Only a connection that counts its process' requests (an in-process
        // explorer's) can tell them apart.
        let counted = connection.requests_live().is_some();
        let unmarked =
            (counted && headers.execution_index.is_none() && headers.generated_id.is_none()).then(|| {
                let route = extensions.get::<axum::extract::MatchedPath>().map_or(uri.path(), |m| m.as_str());
                format!("{method} {route}").into_boxed_str()
            });
        Self { headers, connection, unlayered, by, unmarked }
    }
}

/// Whether a request needs nothing of an instrumented handler or layer:
/// the instrumentation is off and no subscriber wants server spans.
#[inline]
pub(crate) fn nothing_to_do() -> bool {
    !switch::enabled() && !spans::server_wanted() && !spans::rpc_wanted()
}

/// What an instrumented handler or layer does with a request with this
/// head: its server span, and with the instrumentation on, the incoming
/// request (its trace noted); `None` when there is nothing to do (off, and
/// no subscriber wants the span).
pub(crate) fn server_side(
    method: &http::Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    extensions: &Extensions,
    connection: Option<&Connection>,
    by: By,
) -> Option<(Span, Option<IncomingRequest>)> {
    let span = spans::server(method, uri, headers, extensions);
    let request =
        switch::enabled().then(|| IncomingRequest::new((method, uri), headers, extensions, connection, by));
    if let Some(request) = &request {
        request.note_trace(&span, headers);
    }
    (request.is_some() || !span.is_disabled()).then_some((span, request))
}

impl IncomingRequest {
    /// When the request with `headers` arrived without `traceparent`
    /// (feature `otel`; without it, nothing): makes the span of the
    /// in-process explorer's current test execution, if any, the parent of
    /// `span` (its server span), and notes the trace id on the connection.
    pub(crate) fn note_trace(&self, span: &Span, headers: &HeaderMap) {
        #[cfg(feature = "otel")]
        if !crate::otel::carries_context(headers) {
            if let Some(execution) = self.connection.execution_span() {
                crate::otel::set_parent_span(span, &execution);
            }
            self.connection.note_trace_of(span);
        }
        #[cfg(not(feature = "otel"))]
        let _ = (span, headers);
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Incoming {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // A `ServiceLayer` instrumented the request: its context is the one
        // in scope, its span the current one, and it reported
        // `request_received` already.
        // Checked first, off: two relaxed loads for a request nobody watches.
        if nothing_to_do() || parts.extensions.get::<Instrumented>().is_some() {
            return Ok(Incoming::none());
        }
        let side =
            server_side(&parts.method, &parts.uri, &parts.headers, &parts.extensions, None, By::Attribute);
        Ok(Incoming(side.map(|(span, request)| Box::new(Traced { span, request }))))
    }
}

/// Runs an instrumented handler's `body` for `service`, in the request's
/// server span: reports `request_received` when the request came from an
/// instrumented call, honours a forced sleep (bounded), then runs the body
/// with its [`RequestContext`] in scope. With the instrumentation off and
/// no subscriber wanting the span, the future is `body` itself; else the
/// span and the instrumented work live in one box, so that handlers'
/// futures do not grow.
pub fn run_handler<F: Future>(
    incoming: Incoming,
    service: &'static str,
    body: F,
) -> impl Future<Output = F::Output> {
    match incoming.0 {
        None => Either::Left(body),
        Some(traced) => Either::Right(Box::pin((*traced).run(service, body))),
    }
}

/// [`run_handler`] for a handler of the service named by the environment:
/// `OTEL_SERVICE_NAME`, else `package` (the name of the handler's package),
/// looked up only when the instrumentation is on or the span wanted.
pub fn run_handler_from_env<F: Future>(
    incoming: Incoming,
    package: &'static str,
    body: F,
) -> impl Future<Output = F::Output> {
    match incoming.0 {
        None => Either::Left(body),
        Some(traced) => Either::Right(Box::pin((*traced).run(service_from_env(package), body))),
    }
}

impl Traced {
    /// Runs `body` for `service`, in the span, and instrumented when the
    /// instrumentation is on.
    fn run<F: Future>(self, service: &'static str, body: F) -> impl Future<Output = F::Output> {
        let Traced { span, request } = self;
        spans::record_service(&span, service);
        let inner = span.clone();
        async move {
            match request {
                Some(request) => instrumented(request, service, body, inner).await,
                None => body.await,
            }
        }
        .instrument(span)
    }
}

/// Runs `body` as a request to `service` that arrived as `incoming`.
///
/// Generic over each handler's future, so kept to what must be: the rest,
/// [`start`], is one boxed future that every handler shares.
pub(crate) async fn instrumented<F: Future>(
    incoming: IncomingRequest,
    service: &'static str,
    body: F,
    span: Span,
) -> F::Output {
    match start(incoming, service).await {
        Some(context) => {
            if !context.execution_index().is_empty() {
                spans::record_execution_index(&span, context.execution_index_wire());
            }
            drop(span);
            crate::panic::watch_locations();
            let connection = context.connection().clone();
            let payload = match AssertUnwindSafe(context.scope(body)).catch_unwind().await {
                Ok(output) => return output,
                Err(payload) => payload,
            };
            // Named for the report, then panicking on as it did.
            std::panic::resume_unwind(crate::panic::reported(connection, service, payload).await)
        }
        None => body.await,
    }
}

/// What an instrumented request does before its handler's body: reports
/// `request_received` when the request came from an instrumented call and
/// honours a forced sleep (bounded). Its context, or `None` when the request
/// runs un-instrumented (no layer, while an explorer runs in this process).
fn start(incoming: IncomingRequest, service: &'static str) -> BoxFuture<'static, Option<RequestContext>> {
    Box::pin(async move {
        let IncomingRequest { headers, connection, unlayered, by, unmarked } = incoming;
        if unlayered && crate::watch::unlayered(service, by) {
            return None;
        }
        // Without Filibuster headers while another request is handled in
        // this process: likely sent by a `.send()` without
        // `#[filibuster::call]` (the functional test's own requests come
        // while none is).
        if let Some(route) = unmarked
            && connection.requests_live().is_some_and(|live| live > 0)
        {
            connection.unmarked_request(service, &route);
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
        Some(context)
    })
}
