//! gRPC through tonic (feature `tonic`; without it, the names of its faults
//! and codes, which the explorer reads, and what `#[filibuster::call]`
//! expands to): [`ClientLayer`] makes every RPC of
//! a tonic client an instrumented call, whose faults are tonic's genuine
//! statuses; a tonic server takes the [`ServiceLayer`](crate::ServiceLayer)
//! as it is (`Server::builder().layer(..)`).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! # use filibuster_runtime as filibuster;
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let channel = tower::ServiceBuilder::new().layer(filibuster::grpc::ClientLayer::new()).service(channel);
//! // `MoviesClient::new(channel)`: a generated client takes any `GrpcService`.
//! # let _ = channel;
//! # Ok(())
//! # }
//! ```
//!
//! An RPC is reported as `module` `tonic`, its `method` and target being
//! its path (`/cinema.Movies/GetMovie`); its callsite is the calling
//! service and that path, the same on every build. Its faults are the
//! exceptions [`STATUS`] with a `code` in their metadata
//! (`{"name": "tonic.Status", "metadata": {"code": "NOT_FOUND"}}`: the
//! callee's status, trailers-only, as a server answers it; `UNAVAILABLE`:
//! the connection refused, as a down service gives it), [`TIMEOUT`]
//! (tonic's own timeout, `CANCELLED` "Timeout expired", tried only on RPCs
//! with one), the reference's `errors` (`{"exception": {"metadata":
//! {"code": ..}}}`, the callee's status), HTTP statuses (what a proxy
//! answers, read by tonic as it reads them) and latencies. An RPC's status
//! comes in its trailers: its end is reported when they arrive, or as
//! cancelled when its response is dropped first. A streaming RPC is faulted
//! at its start, and observed until its trailers.

#[cfg(feature = "tonic")]
mod body;
mod caller;
#[cfg(feature = "tonic")]
mod client;
pub mod code;
#[cfg(feature = "tonic")]
mod fault;

#[doc(hidden)]
pub use caller::rpc_scope;
#[cfg(feature = "tonic")]
pub use client::{Client, ClientLayer};

/// What a tonic client's service fails with: any error, as tonic reads it
/// (`tonic::Status::from_error`).
#[cfg(feature = "tonic")]
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The module of tonic RPCs' records.
pub const MODULE: &str = "tonic";

/// The exception of an RPC that failed with a status (its `code` in the
/// metadata); the fault of one.
pub const STATUS: &str = "tonic.Status";
/// The exception of an RPC whose own timeout expired (tonic's `CANCELLED`
/// "Timeout expired"); the fault of one.
pub const TIMEOUT: &str = "tonic.timeout";
/// The reference's (Python grpcio) name for a failed RPC, also understood.
pub const REFERENCE_PYTHON: &str = "grpc._channel._InactiveRpcError";
/// Filibuster for Java's name for a failed RPC, also understood.
pub const REFERENCE_JAVA: &str = "io.grpc.StatusRuntimeException";

/// Every exception an RPC can be failed with: [`STATUS`] and the other
/// implementations' names for it (each with a `code`), and [`TIMEOUT`].
pub const EXCEPTIONS: &[&str] = &[STATUS, TIMEOUT, REFERENCE_PYTHON, REFERENCE_JAVA];

/// Whether an RPC can be failed with the exception `name` whose metadata is
/// `metadata`: [`TIMEOUT`], or a status name with a `code` tonic knows as a
/// failure (not `OK`).
pub fn can_fail(name: &str, metadata: &serde_json::Map<String, serde_json::Value>) -> bool {
    name == TIMEOUT || (is_status_name(name) && failure_code(metadata).is_some())
}

/// Whether `name` is an exception of a failed RPC with a status code:
/// [`STATUS`], or the other implementations' name for it.
pub fn is_status_name(name: &str) -> bool {
    matches!(name, STATUS | REFERENCE_PYTHON | REFERENCE_JAVA)
}

/// The failure code `metadata` names (`{"code": "NOT_FOUND"}`), written
/// any way [`code::parse`] reads; `None` for none, or `OK`.
pub fn failure_code(metadata: &serde_json::Map<String, serde_json::Value>) -> Option<i32> {
    metadata.get("code").and_then(code::parse).filter(|code| *code != 0)
}

/// `metadata` with its `code` written as the protocol names it
/// (`StatusCode.NOT_FOUND`, `NotFound` and `5` all become `NOT_FOUND`), so
/// that a fault and an observed failure of the same code are equal; a code
/// no one knows is left as it is, to be refused by name.
pub fn normalize_code(metadata: &mut serde_json::Map<String, serde_json::Value>) {
    if let Some(name) = metadata.get("code").and_then(code::parse).and_then(code::name) {
        metadata.insert("code".to_owned(), serde_json::Value::from(name));
    }
}

/// `cinema.Movies` and `GetMovie` of the path `/cinema.Movies/GetMovie` (the
/// leading `/` optional); the whole path and no method without a `/`.
pub fn split_path(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.rsplit_once('/').unwrap_or((path, ""))
}

/// Whether the RPC of `path` is one of `wanted`: that method
/// (`cinema.Movies/GetMovie`) or every method of that service
/// (`cinema.Movies`), a leading `/` optional on either.
pub fn rpc_matches(path: &str, wanted: &str) -> bool {
    let (path, wanted) = (path.trim_start_matches('/'), wanted.trim_start_matches('/'));
    path == wanted || split_path(path).0 == wanted
}
