//! Runtime of [filibuster](https://docs.rs/filibuster): vector clocks,
//! execution indices, callsite ids, the request context of instrumented
//! handlers, the protocol's headers and records, the transport to a
//! Filibuster server, and the genuine reqwest values faults become.
//!
//! Users depend on the `filibuster` crate, which re-exports what is public
//! here.

#[doc(hidden)]
pub mod bench_support;
mod callsite;
mod connection;
mod context;
mod execution_index;
pub mod fault;
mod handler;
pub mod headers;
#[doc(hidden)]
pub mod known_callsites;
pub mod records;
mod send;
pub mod server;
pub mod switch;
pub mod transport;
mod unlayered;
mod vclock;
mod wire;

pub use callsite::{Callsite, call_hash, normalized_target};
pub use connection::{Connection, DEFAULT_URL, ENV_TOKEN, ENV_URL};
pub use context::{RequestContext, in_current_request};
pub use execution_index::{ExecutionIndex, InvocationCounters, Step};
pub use handler::{Incoming, run_handler};
pub use send::send;
pub use server::{Counterexample, Explorer, FaultModel, Report, Server, TestContext};
pub use switch::{disable, enable, enabled};
pub use vclock::VectorClock;
pub use wire::md5_hex;
