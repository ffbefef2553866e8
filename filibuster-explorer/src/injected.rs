//! The faults injected in a test execution, as a functional test asks about
//! them: which call (source, target, method, path, callsite) got which fault.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use filibuster_runtime::records::{FailureMetadata, Invocation};

use super::execution::PlannedFault;

/// A fault injected into one call of the current test execution (see
/// [`TestContext::faults`](super::TestContext::faults)), with the call it
/// was injected into. Its JSON form is what `GET /filibuster/faults` lists.
///
/// ```
/// use filibuster_explorer::{FaultKind, InjectedFault};
///
/// let fault = InjectedFault {
///     source: "users".into(),
///     target: Some("bookings".into()),
///     method: "GET".into(),
///     path: "/bookings/chris?limit=5".into(),
///     callsite_id: "0d3c6a4e8f1b2a7c9e5d4f3a2b1c0d9e".into(),
///     file: "src/users.rs".into(),
///     line: Some(42),
///     function: Some("fetch_bookings".into()),
///     fault: FaultKind::Status { code: 503 },
/// };
/// assert!(fault.is_on_request("bookings", "GET", "/bookings/{user}"));
/// assert!(!fault.is_on_request("bookings", "POST", "/bookings/{user}"));
/// assert!(fault.is_at("fetch_bookings"));
/// assert_eq!(fault.fault.name(), "status 503");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InjectedFault {
    /// The calling service.
    pub source: String,
    /// The service called, when known: it reported `request_received` (in
    /// this execution or, for a call failed before it reached anything, in
    /// an earlier one).
    pub target: Option<String>,
    /// The HTTP method, upper case (`GET`).
    pub method: String,
    /// The path and query, as requested (`/bookings/chris?limit=5`).
    pub path: String,
    /// The callsite id: 32 hex digits (see
    /// [`#[filibuster::call]`](https://docs.rs/filibuster/latest/filibuster/attr.call.html)).
    /// Empty when not known (replaying a counterexample, before the call).
    pub callsite_id: String,
    /// The source file of the `.send()`, for people.
    pub file: String,
    /// The line of the `.send()`, for people.
    pub line: Option<u32>,
    /// The fn holding the `.send()` (`fetch_bookings`, or
    /// `BookingsClient::get` in an impl block with `#[filibuster::call]`),
    /// when known: for calls made in this process, or named by a
    /// counterexample.
    pub function: Option<String>,
    /// The fault.
    pub fault: FaultKind,
}

/// A fault, as the fault model wrote it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// The call failed with this error instead of being performed:
    /// `reqwest.connect`, `reqwest.timeout` (the built-in model), or a
    /// fault model's own name.
    Exception {
        /// The fault's name.
        name: String,
        /// Its details (`abort`, `sleep`, ...), as the fault model wrote them.
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        metadata: Map<String, Value>,
    },
    /// The call got a response with this status instead of the callee's.
    Status {
        /// The status code (`503`).
        code: u16,
    },
    /// Another failure, as the fault model wrote it.
    Failure {
        /// What the fault model wrote.
        failure_metadata: FailureMetadata,
    },
}

impl FaultKind {
    /// The fault of a planned fault.
    pub(crate) fn of(fault: &PlannedFault) -> Self {
        if let Some(exception) = &fault.forced_exception {
            return Self::Exception { name: exception.name.clone(), metadata: exception.metadata.clone() };
        }
        let failure = fault
            .failure_metadata
            .clone()
            .unwrap_or(FailureMetadata { return_value: None, other: Map::new() });
        match failure
            .return_value
            .as_ref()
            .and_then(|rv| rv.status_code.as_ref())
            .map(|code| code.trim().parse::<u16>())
        {
            Some(Ok(code)) if failure.other.is_empty() => Self::Status { code },
            _ => Self::Failure { failure_metadata: failure },
        }
    }

    /// A short name, as reports and spans give it: the exception's name
    /// (`reqwest.timeout`), `status 503`, `latency 100 ms`, or `failure`.
    pub fn name(&self) -> String {
        match self {
            Self::Exception { name, metadata } => {
                filibuster_runtime::records::exception_fault_name(name, metadata)
            }
            Self::Status { code } => filibuster_runtime::records::status_fault_name(code),
            Self::Failure { failure_metadata } => failure_metadata.fault_name(),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl InjectedFault {
    /// `fault`, injected into the call of `invocation` to `target`.
    pub(crate) fn of(fault: &PlannedFault, invocation: &Invocation, target: Option<String>) -> Self {
        let line = match &invocation.callsite_line {
            Value::String(line) => line.trim().parse().ok(),
            Value::Number(line) => line.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        };
        let (method, path) = crate::state::operation_of(invocation);
        Self {
            source: invocation.source_service_name.to_string(),
            target,
            method,
            path,
            callsite_id: invocation.full_traceback.to_string(),
            file: invocation.callsite_file.to_string(),
            // Line 0: a callsite that is no line (an RPC's, the client layer).
            line: line.filter(|line| *line != 0),
            function: crate::state::function_of(invocation),
            fault: FaultKind::of(fault),
        }
    }

    /// Whether the call went to `service`.
    pub fn is_on(&self, service: &str) -> bool {
        call_matches(self.target.as_deref(), &self.method, &self.path, service, None, None)
    }

    /// Whether the call was an RPC of `rpc` to `service`: that method
    /// (`"cinema.Movies/GetMovie"`) or any of that gRPC service
    /// (`"cinema.Movies"`), as [`Calls::rpc`](crate::Calls::rpc) takes it.
    pub fn is_on_rpc(&self, service: &str, rpc: &str) -> bool {
        self.path.is_empty()
            && self.target.as_deref() == Some(service)
            && filibuster_runtime::grpc::rpc_matches(&self.method, rpc)
    }

    /// Whether the call went to `service` with the HTTP `method` (any case:
    /// `"GET"` or `"get"`).
    pub fn is_on_method(&self, service: &str, method: &str) -> bool {
        call_matches(self.target.as_deref(), &self.method, &self.path, service, Some(method), None)
    }

    /// Whether the call went to `service` with `method` and a path `route`
    /// matches: the path as requested (`/bookings/chris?limit=5`), or an
    /// axum route pattern, where a `{param}` segment matches any one
    /// non-empty segment and a last `{*rest}` the rest (`/bookings/{user}`).
    /// A `route` without `?` ignores the query of the path.
    pub fn is_on_request(&self, service: &str, method: &str, route: &str) -> bool {
        call_matches(self.target.as_deref(), &self.method, &self.path, service, Some(method), Some(route))
    }

    /// Whether the call was made at `callsite`: the name of the
    /// `#[filibuster::call]` fn holding the `.send()` (`fetch_bookings`, or
    /// `BookingsClient::get` for a method of an impl block with
    /// `#[filibuster::call]`), or its full callsite id (32 hex digits).
    pub fn is_at(&self, callsite: &str) -> bool {
        (!self.callsite_id.is_empty() && self.callsite_id == callsite)
            || self.function.as_deref() == Some(callsite)
    }

    /// `source -> target METHOD path (file:line, fn): fault`, with `?` for
    /// what is not known.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} -> {} {} ({}",
            self.source,
            self.target.as_deref().unwrap_or("?"),
            crate::report::operation(&self.method, &self.path),
            if self.file.is_empty() { "?" } else { &self.file },
        );
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        if let Some(function) = &self.function {
            out.push_str(&format!(", fn {function}"));
        }
        out.push_str(&format!("): {}", self.fault));
        out
    }
}

/// Whether `path` (path and query, as requested) matches `route`: equal, or
/// an axum route pattern whose `{param}` segments match one non-empty
/// segment each and a last `{*rest}` segment the rest. Without `?` in
/// `route`, the query of `path` is ignored.
/// Whether a call to `target` with `method` on `path` went to `service`,
/// with `wanted_method` (any case) and a path `route` matches, when given:
/// what [`InjectedFault`] and [`CallReport`](crate::CallReport) are asked.
pub(crate) fn call_matches(
    target: Option<&str>,
    method: &str,
    path: &str,
    service: &str,
    wanted_method: Option<&str>,
    route: Option<&str>,
) -> bool {
    target == Some(service)
        && wanted_method.is_none_or(|wanted| method.eq_ignore_ascii_case(wanted))
        && route.is_none_or(|route| route_matches(route, path))
}

pub(crate) fn route_matches(route: &str, path: &str) -> bool {
    if route == path {
        return true;
    }
    let path = if route.contains('?') { path } else { path.split('?').next().unwrap_or(path) };
    let mut route_segments = route.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (route_segments.next(), path_segments.next()) {
            (None, None) => return true,
            (Some(pattern), Some(_)) if pattern.starts_with("{*") && pattern.ends_with('}') => {
                return route_segments.next().is_none();
            }
            (Some(pattern), Some(segment)) if pattern.starts_with('{') && pattern.ends_with('}') => {
                if segment.is_empty() {
                    return false;
                }
            }
            (Some(pattern), Some(segment)) if pattern == segment => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::route_matches;

    #[test]
    fn routes_match_like_axum_segments() {
        for (route, path) in [
            ("/bookings/chris", "/bookings/chris"),
            ("/bookings/chris?limit=5", "/bookings/chris?limit=5"),
            ("/bookings/chris", "/bookings/chris?limit=5"),
            ("/bookings/{user}", "/bookings/chris"),
            ("/bookings/{user}", "/bookings/chris?limit=5"),
            ("/users/{user}/bookings/{id}", "/users/chris/bookings/7"),
            ("/files/{*rest}", "/files/a/b/c"),
            ("/", "/"),
        ] {
            assert!(route_matches(route, path), "{route} should match {path}");
        }
        for (route, path) in [
            ("/bookings/{user}", "/bookings"),
            ("/bookings/{user}", "/bookings/"),
            ("/bookings/{user}", "/bookings/chris/audit"),
            ("/bookings/{user}", "/audit/chris"),
            ("/bookings/chris?limit=5", "/bookings/chris"),
            ("/bookings/chris?limit=5", "/bookings/chris?limit=6"),
            ("/bookings", "/bookings/chris"),
            ("/files/{*rest}/x", "/files/a/x"),
        ] {
            assert!(!route_matches(route, path), "{route} should not match {path}");
        }
    }
}
