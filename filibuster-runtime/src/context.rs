//! The task-local context of one incoming request to an instrumented handler.

use std::sync::{Arc, Mutex};

use futures_util::future::Either;

use http::HeaderValue;
use url::Url;

use crate::callsite::{Callsite, normalized_target, with_call_hash};
use crate::connection::Connection;
use crate::execution_index::InvocationCounters;
use crate::headers::FilibusterHeaders;
use crate::{ExecutionIndex, VectorClock};

/// The module name calls report: the client library.
pub(crate) const MODULE: &str = "reqwest";

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// What an instrumented handler knows while it runs: which service it
/// belongs to, the server connection, what the incoming Filibuster headers
/// said, and this request's own clock and invocation counters.
///
/// Every incoming request gets its own context, so concurrent requests to the
/// same handler, and several services in one process, never share clocks or
/// counters.
#[derive(Debug)]
pub struct RequestContext {
    service: &'static str,
    connection: Connection,
    request_id: String,
    /// `request_id` as the header of outgoing calls (`None` if it cannot be one).
    request_id_header: Option<HeaderValue>,
    execution_index: ExecutionIndex,
    /// `execution_index` as its wire text, printed once per request.
    execution_index_wire: String,
    origin_vclock: VectorClock,
    state: Mutex<RequestState>,
}

#[derive(Debug)]
struct RequestState {
    vclock: VectorClock,
    counters: InvocationCounters,
}

/// Everything an outgoing call needs, taken from the context in one step.
#[derive(Debug)]
pub(crate) struct CallStart {
    pub service: &'static str,
    pub connection: Connection,
    /// The `X-Filibuster-Request-Id` header.
    pub request_id: Option<HeaderValue>,
    pub target: String,
    pub vclock: VectorClock,
    pub origin_vclock: VectorClock,
    /// The call's execution index, as its wire text.
    pub execution_index: String,
}

impl RequestContext {
    /// The context of a request to `service` that arrived with `headers`.
    pub(crate) fn new(service: &'static str, connection: Connection, headers: FilibusterHeaders) -> Self {
        let request_id = headers.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let execution_index = headers.execution_index.unwrap_or_default();
        connection.request_started();
        Self {
            service,
            connection,
            request_id_header: HeaderValue::from_str(&request_id).ok(),
            request_id,
            execution_index_wire: execution_index.to_wire(),
            execution_index,
            origin_vclock: headers.origin_vclock.unwrap_or_default(),
            state: Mutex::new(RequestState {
                vclock: headers.vclock.unwrap_or_default(),
                counters: InvocationCounters::default(),
            }),
        }
    }

    /// Runs `f` with the context of the current request, if the current task
    /// is serving an instrumented handler with the instrumentation on.
    pub fn with_current<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
        CURRENT.try_with(|context| f(context)).ok()
    }

    /// Runs `body` with `self` as the current context.
    pub(crate) async fn scope<F: Future>(self, body: F) -> F::Output {
        CURRENT.scope(Arc::new(self), body).await
    }

    /// The service the handler belongs to.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The id of the request chain (`X-Filibuster-Request-Id`).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The execution index of the call that reached this handler (`[]` when
    /// it was not reached by an instrumented call).
    pub fn execution_index(&self) -> &ExecutionIndex {
        &self.execution_index
    }

    /// The connection to the server.
    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// [`RequestContext::execution_index`] as its wire text.
    pub(crate) fn execution_index_wire(&self) -> &str {
        &self.execution_index_wire
    }

    /// Starts an outgoing call from `callsite` with `method` to `url`:
    /// advances this request's clock and counts the call.
    pub(crate) fn start_call(&self, callsite: &'static Callsite, method: &str, url: &Url) -> CallStart {
        let target = normalized_target(url);
        let (vclock, execution_index) = with_call_hash(callsite, MODULE, method, &target, |hash| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.vclock.increment(self.service);
            let count = state.counters.next(hash);
            (state.vclock.clone(), ExecutionIndex::child_wire(&self.execution_index_wire, hash, count))
        });
        CallStart {
            service: self.service,
            connection: self.connection.clone(),
            request_id: self.request_id_header.clone(),
            target,
            vclock,
            origin_vclock: self.origin_vclock.clone(),
            execution_index,
        }
    }
}

impl Drop for RequestContext {
    fn drop(&mut self) {
        self.connection.request_ended();
    }
}

/// Carries the current request's context into `future`, for work a handler
/// spawns: `tokio::spawn(filibuster::in_current_request(async move { ... }))`.
///
/// The context is task-local, so calls made by a spawned task are not
/// instrumented unless the task runs in it. The spawned calls share the
/// request's clock and invocation counters. Outside an instrumented handler
/// (or with the instrumentation off) `future` runs as it is.
pub fn in_current_request<F: Future>(future: F) -> impl Future<Output = F::Output> {
    match CURRENT.try_with(Arc::clone) {
        Ok(context) => Either::Left(CURRENT.scope(context, future)),
        Err(_) => Either::Right(future),
    }
}
