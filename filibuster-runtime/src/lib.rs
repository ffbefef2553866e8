//! Runtime of [filibuster](https://docs.rs/filibuster): what an
//! instrumented service links and runs, in production too, inert unless
//! switched on. Vector clocks, execution indices, callsite ids, the request
//! context of instrumented handlers, the protocol's headers and records, the
//! client side of the transport to a Filibuster server, and the genuine
//! reqwest values faults become. Also, on or off, the `tracing` spans of
//! instrumented handlers and calls ([`spans`]), with opt-in capture of
//! headers and bodies ([`Capture`]).
//!
//! Every instrumented call runs one protocol, the call core (`call.rs`:
//! the `Call` trait and the one state machine `drive`); each client is an
//! adapter implementing `Call` in a module of its own (`reqwest_adapter/`
//! for reqwest, 0.13 and with the `reqwest-0_12` feature 0.12, one source
//! compiled against each; `middleware/` for reqwest-middleware, 0.5 and
//! with the `reqwest-middleware-0_4` feature 0.4, likewise;
//! `dependency.rs` for `#[filibuster::dependency]` fns, whose error types
//! say their faults through [`InjectFault`]).
//!
//! The server, the explorer and the reports, which only tests link, are the
//! `filibuster-explorer` crate. Users depend on the `filibuster` crate,
//! which re-exports what is public here.

#[cfg(feature = "bench-hooks")]
#[doc(hidden)]
pub mod bench_support;
mod call;
mod callsite;
pub mod capture;
mod connection;
mod context;
mod decision;
mod dependency;
mod execution_index;
pub mod fault;
pub mod grpc;
mod handler;
pub mod headers;
mod known_callsites;
#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "otlp")]
pub mod otlp;
mod outgoing;
pub mod panic;
pub mod records;
mod reqwest_adapter;
mod send;
pub mod service_layer;
pub mod spans;
pub mod switch;
pub mod transport;
mod vclock;
mod watch;
mod wire;

pub use callsite::{Callsite, call_hash, normalized_target};
pub use capture::Capture;
pub use connection::{Connection, DEFAULT_URL, ENV_TOKEN, ENV_URL};
pub use context::{RequestContext, in_current_request};
pub use dependency::{DependencyResult, dependency};
pub use execution_index::{ExecutionIndex, InvocationCounters, Step};
pub use fault::InjectFault;
pub use handler::{Incoming, run_handler, run_handler_from_env};
pub use send::{Instrumentable, send};
pub use service_layer::{ENV_SERVICE_NAME, ServiceLayer};
pub use switch::{disable, enable, enabled};
pub use vclock::VectorClock;
pub use watch::outside_requests;
pub use wire::md5_hex;

/// What the `filibuster-explorer` crate, which drives the server side of
/// the protocol, needs from the runtime beyond its API: not for users, no
/// stability.
#[doc(hidden)]
pub mod __explorer {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};

    pub use crate::known_callsites::{CallsiteCollision, collisions, function_of};
    pub use crate::watch::Watch;

    /// A connection through `transport` that counts, in `live_requests`,
    /// the requests its instrumented handlers are handling, and shares
    /// `traces` with them (feature `otel`).
    pub fn tracked_connection(
        transport: Arc<dyn crate::transport::Transport>,
        live_requests: Arc<AtomicUsize>,
        traces: Arc<Traces>,
    ) -> crate::Connection {
        crate::Connection::tracked(transport, live_requests, traces)
    }

    /// What an in-process explorer and its connection's instrumented
    /// handlers share about traces (feature `otel`; without it, unused).
    #[derive(Debug, Default)]
    pub struct Traces {
        /// The span of the test execution under way: the parent of the
        /// server span of a request that arrives without `traceparent`, so
        /// that an execution is one trace.
        pub execution: Mutex<Option<tracing::Span>>,
        /// The trace ids of the requests that arrived without
        /// `traceparent`, once each, since the explorer last took them.
        pub ids: Mutex<Vec<String>>,
    }
}
