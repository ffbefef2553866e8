//! The task-local context of one incoming request to an instrumented handler.

use std::sync::Mutex;

use url::Url;

use crate::callsite::{Callsite, call_hash, normalized_target};
use crate::connection::Connection;
use crate::execution_index::InvocationCounters;
use crate::headers::FilibusterHeaders;
use crate::{ExecutionIndex, VectorClock};

/// The module name calls report: the client library.
pub(crate) const MODULE: &str = "reqwest";

tokio::task_local! {
    static CURRENT: RequestContext;
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
    execution_index: ExecutionIndex,
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
    pub request_id: String,
    pub target: String,
    pub vclock: VectorClock,
    pub origin_vclock: VectorClock,
    pub execution_index: ExecutionIndex,
}

impl RequestContext {
    /// The context of a request to `service` that arrived with `headers`.
    pub(crate) fn new(service: &'static str, connection: Connection, headers: FilibusterHeaders) -> Self {
        Self {
            service,
            connection,
            request_id: headers.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            execution_index: headers.execution_index.unwrap_or_default(),
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
        CURRENT.try_with(f).ok()
    }

    /// Runs `body` with `self` as the current context.
    pub(crate) async fn scope<F: Future>(self, body: F) -> F::Output {
        CURRENT.scope(self, body).await
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

    /// Starts an outgoing call from `callsite` with `method` to `url`:
    /// advances this request's clock and counts the call.
    pub(crate) fn start_call(&self, callsite: &Callsite, method: &str, url: &Url) -> CallStart {
        let target = normalized_target(url);
        let hash = call_hash(callsite.id, MODULE, method, &target);
        let (vclock, count) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.vclock.increment(self.service);
            let count = state.counters.next(&hash);
            (state.vclock.clone(), count)
        };
        CallStart {
            service: self.service,
            connection: self.connection.clone(),
            request_id: self.request_id.clone(),
            target,
            vclock,
            origin_vclock: self.origin_vclock.clone(),
            execution_index: self.execution_index.child_owned(hash, count),
        }
    }
}
