//! What only tests link: the Filibuster server of
//! [filibuster](https://docs.rs/filibuster) (the protocol's endpoints over
//! the exploration state, served with axum or called directly in-process),
//! the [`Explorer`] that runs a functional test once per fault combination,
//! dynamic reduction, fault models, reports and counterexamples.
//!
//! Services link only `filibuster-runtime`. Users reach this crate through
//! the `filibuster` crate's `explorer` feature, turned on in
//! `[dev-dependencies]`, so that a service's release build does not carry
//! it.
//!
//! Inside: `state/` is the server's state under one lock (the current
//! execution's log and planned faults in `mod.rs`, with `intake.rs` for
//! tokens, limits and refused records, `schedule.rs` for the executions
//! scheduled and run, `known_calls.rs` for what every execution learned of
//! each call); `routes.rs` and `in_process.rs` its two ways in (HTTP, a
//! direct call); `reduction.rs` dynamic reduction; `explorer.rs` the loop
//! that runs the functional test, with `options.rs` its options;
//! `fault_model.rs` the faults tried; `report.rs`, `grid.rs` and `html.rs`
//! what a run says; `counterexample.rs` and `regressions.rs` what replays it.

#[cfg(feature = "bench-hooks")]
#[doc(hidden)]
pub mod bench_support;
mod counterexample;
mod execution;
mod explorer;
mod fault_model;
mod grid;
mod html;
mod in_process;
mod injected;
mod options;
mod origin;
mod progress;
mod reduction;
mod regressions;
mod report;
mod routes;
mod serve;
mod state;
#[doc(hidden)]
pub mod test_attribute;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

pub use counterexample::{Counterexample, CounterexampleError};
pub use execution::PlannedFault;
pub use explorer::{Explorer, HANG_DEADLINE, TestContext, TestOutcome};
pub use fault_model::{Calls, Fault, FaultModel, FaultModelError, FaultSite, ProposedFault, REQWEST_DEFAULT};
pub use grid::{Grid, GridCell, GridRow};
pub use injected::{FaultKind, InjectedFault};
pub use options::{DEFAULT_GRACE, RunOptions, Strategy};
pub use origin::Origin;
pub use progress::{ProgressWriter, progress_writer};
#[allow(deprecated)]
pub use report::CallSite;
pub use report::{
    CallName, CallReport, ExecutionReport, ExecutionStatus, FailureGroup, FaultReport, MAX_LISTED_NOT_RUN,
    Nondeterminism, RegressionReplay, ReplayOutcome, Report, RunError, UnmarkedRequests, Verdict,
};
pub use serve::{ServeOptions, bind, serve};
pub use state::{Limits, RecordError};

use filibuster_runtime::Connection;
use state::State;

/// A Filibuster server: takes the records of instrumented services, answers
/// them with the faults planned for the current test execution, and
/// schedules new executions as new calls show up.
///
/// Serve it over HTTP with [`Server::router`] (`filibuster server`,
/// `filibuster test`), or hand [`Server::connection`] to services in the same
/// process, which then call it directly. An [`Explorer`] drives it.
#[derive(Clone, Debug)]
pub struct Server {
    state: Arc<Mutex<State>>,
    /// Requests being handled by instrumented handlers that reach this
    /// server in-process (through [`Server::connection`]): an execution is
    /// over only when none is left.
    live_requests: Arc<AtomicUsize>,
    /// Shared with in-process instrumented handlers (services built with
    /// the runtime's `otel` feature): the current execution's span, the
    /// parent of requests that start a trace, and their trace ids since the
    /// explorer last took them.
    traces: Arc<filibuster_runtime::__explorer::Traces>,
    /// Rejected requests, logged rate-limited.
    rejections: Arc<routes::RejectionLog>,
}

impl Default for Server {
    fn default() -> Self {
        Self::new(FaultModel::default())
    }
}

impl Server {
    /// A server trying the faults of `model`. Until an [`Explorer`] drives
    /// it, it records calls and injects nothing.
    pub fn new(model: FaultModel) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new(model))),
            live_requests: Arc::default(),
            traces: Arc::default(),
            rejections: Arc::default(),
        }
    }

    /// Gives the server a run token: records under `/run/<token>/` carry
    /// it, and once one has arrived, records without it are refused unless
    /// `accept_untokened` (see [`Origin`]).
    pub fn with_token(self, token: impl Into<String>, accept_untokened: bool) -> Self {
        self.lock().intake_mut().set_token(token.into(), accept_untokened);
        self
    }

    /// Sets the bounds of what the server keeps.
    pub fn with_limits(self, limits: Limits) -> Self {
        self.lock().intake_mut().set_limits(limits);
        self
    }

    /// Whether `token` is this server's run token.
    pub(crate) fn token_matches(&self, token: &str) -> bool {
        self.lock().intake().token_matches(token)
    }

    /// A connection for services in this process: records reach the server
    /// by a direct call, with no HTTP hop.
    pub fn connection(&self) -> Connection {
        filibuster_runtime::__explorer::tracked_connection(
            Arc::new(self.clone()),
            self.live_requests.clone(),
            self.traces.clone(),
        )
    }

    /// The protocol's HTTP endpoints.
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// Whether a fault was injected in the current test execution (while
    /// replaying a counterexample: whether one is planned, as the reference
    /// answers).
    pub fn fault_injected(&self) -> bool {
        self.lock().injected()
    }

    /// Whether a fault was injected in the current test execution on a call
    /// to `service`.
    pub fn fault_injected_on(&self, service: &str) -> bool {
        self.lock().injected_on(service)
    }

    /// The faults injected in the current test execution, in the order of
    /// their calls, each with the call it was injected into (while
    /// replaying a counterexample: the faults planned, as
    /// [`Server::fault_injected`] answers). `GET /filibuster/faults` answers
    /// them as JSON.
    pub fn faults(&self) -> Vec<InjectedFault> {
        self.lock().injected_faults()
    }

    /// The calls of the current test execution, in the order they were
    /// made, each with its fault and how it ended.
    pub fn calls(&self) -> Vec<CallReport> {
        let state = self.lock();
        state.log().iter().map(|e| state.call_report(e)).collect()
    }

    /// Requests that in-process instrumented handlers are still handling.
    pub(crate) fn live_requests(&self) -> usize {
        self.live_requests.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes the trace ids noted since the last time.
    pub(crate) fn take_trace_ids(&self) -> Vec<String> {
        std::mem::take(&mut *self.traces.ids.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sets (or, with `None`, clears) the span of the test execution under
    /// way, which requests that start a trace in in-process handlers take
    /// as their parent.
    pub(crate) fn set_execution_span(&self, span: Option<tracing::Span>) {
        *self.traces.execution.lock().unwrap_or_else(|e| e.into_inner()) = span;
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent state: every
        // operation is a few statements with no await.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
