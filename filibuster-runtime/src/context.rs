//! The task-local context of one incoming request to an instrumented handler.

use std::sync::{Arc, Mutex};

use futures_util::future::Either;

use http::HeaderValue;

use crate::call::CallKey;
use crate::callsite::{Callsite, with_call_hash};
use crate::connection::Connection;
use crate::execution_index::InvocationCounters;
use crate::headers::FilibusterHeaders;
use crate::vclock::ClockText;
use crate::{ExecutionIndex, VectorClock};

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
    /// `vclock`'s wire text around this request's service's count, printed
    /// at its first call: the calls change that count only.
    clock_text: Option<Arc<ClockText>>,
}

/// Everything an outgoing call needs, taken from the context in one step.
#[derive(Debug)]
pub(crate) struct CallStart {
    pub service: &'static str,
    pub connection: Connection,
    /// The `X-Filibuster-Request-Id` header.
    pub request_id: Option<HeaderValue>,
    pub vclock: VectorClock,
    /// `vclock` as its wire text (`None`: print `vclock`).
    pub vclock_text: Option<ClockWire>,
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
                clock_text: None,
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

    /// Starts the outgoing call `key` from `callsite`: advances this
    /// request's clock and counts the call.
    pub(crate) fn start_call(&self, callsite: &'static Callsite, key: &CallKey) -> CallStart {
        let (vclock, vclock_text, execution_index) =
            with_call_hash(callsite, key.module, &key.method, &key.target, |hash, quoted| {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let state = &mut *state;
                let clock_count = state.vclock.incremented(self.service);
                if state.clock_text.is_none() {
                    state.clock_text = state.vclock.wire_around(self.service).map(Arc::new);
                }
                let vclock_text = state
                    .clock_text
                    .as_ref()
                    .map(|text| ClockWire { text: Arc::clone(text), count: clock_count });
                let count = state.counters.next(hash);
                let index = ExecutionIndex::child_wire_quoted(&self.execution_index_wire, quoted, count);
                (state.vclock.clone(), vclock_text, index)
            });
        CallStart {
            service: self.service,
            connection: self.connection.clone(),
            request_id: self.request_id_header.clone(),
            vclock,
            vclock_text,
            origin_vclock: self.origin_vclock.clone(),
            execution_index,
        }
    }
}

/// A call's clock as its wire text: the request's text with the call's count.
#[derive(Debug)]
pub(crate) struct ClockWire {
    text: Arc<ClockText>,
    count: u64,
}

impl ClockWire {
    /// Appends the clock's wire text to `out`.
    pub(crate) fn push_wire(&self, out: &mut String) {
        self.text.push_wire(out, self.count);
    }

    /// About how long the wire text is.
    pub(crate) fn wire_len_hint(&self) -> usize {
        self.text.wire_len_hint()
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
