//! The `X-Filibuster-*` headers that travel with every instrumented call.

use std::time::Duration;

use http::{HeaderMap, HeaderName};

use crate::{ExecutionIndex, VectorClock};

/// `X-Filibuster-Generated-Id`: the id the server gave the call (decimal).
pub const GENERATED_ID: &str = "x-filibuster-generated-id";
/// `X-Filibuster-VClock`: the caller's vector clock after the call, JSON.
pub const VCLOCK: &str = "x-filibuster-vclock";
/// `X-Filibuster-Origin-VClock`: the vector clock of the call, JSON.
pub const ORIGIN_VCLOCK: &str = "x-filibuster-origin-vclock";
/// `X-Filibuster-Execution-Index`: the execution index of the call, JSON.
pub const EXECUTION_INDEX: &str = "x-filibuster-execution-index";
/// `X-Filibuster-Request-Id`: one id for a whole chain of requests.
pub const REQUEST_ID: &str = "x-filibuster-request-id";
/// `X-Filibuster-Forced-Sleep`: seconds the receiving handler sleeps first.
pub const FORCED_SLEEP: &str = "x-filibuster-forced-sleep";

/// `X-Filibuster-Lost-Records`: on a request from instrumented services to
/// the Filibuster server (not between services), how many records (`create`,
/// `update`) the sender could not deliver to the server so far, cumulative,
/// as a decimal number: connecting failed, no answer came in time (the
/// server may have taken the record anyway), or the sender's circuit breaker
/// left the server alone. Sent on every request once not 0, with
/// [`SENDER`]; absent, the sender has lost none (or predates this header).
/// Not part of the reference protocol.
pub const LOST_RECORDS: &str = "x-filibuster-lost-records";
/// `X-Filibuster-Sender`: on a request from instrumented services to the
/// Filibuster server, a random id (a UUID v4) of the sending transport (one
/// per [`HttpTransport`](crate::transport::HttpTransport) and its clones,
/// typically one per process), so that [`LOST_RECORDS`] counts can be told
/// apart per sender. Sent on every request. Not part of the reference
/// protocol.
pub const SENDER: &str = "x-filibuster-sender";

/// The same headers as [`HeaderName`]s, named at compile time: a name given
/// as a string is parsed at each use.
pub mod name {
    use http::HeaderName;

    /// [`GENERATED_ID`](super::GENERATED_ID).
    pub const GENERATED_ID: HeaderName = HeaderName::from_static(super::GENERATED_ID);
    /// [`VCLOCK`](super::VCLOCK).
    pub const VCLOCK: HeaderName = HeaderName::from_static(super::VCLOCK);
    /// [`ORIGIN_VCLOCK`](super::ORIGIN_VCLOCK).
    pub const ORIGIN_VCLOCK: HeaderName = HeaderName::from_static(super::ORIGIN_VCLOCK);
    /// [`EXECUTION_INDEX`](super::EXECUTION_INDEX).
    pub const EXECUTION_INDEX: HeaderName = HeaderName::from_static(super::EXECUTION_INDEX);
    /// [`REQUEST_ID`](super::REQUEST_ID).
    pub const REQUEST_ID: HeaderName = HeaderName::from_static(super::REQUEST_ID);
    /// [`FORCED_SLEEP`](super::FORCED_SLEEP).
    pub const FORCED_SLEEP: HeaderName = HeaderName::from_static(super::FORCED_SLEEP);
    /// [`LOST_RECORDS`](super::LOST_RECORDS).
    pub const LOST_RECORDS: HeaderName = HeaderName::from_static(super::LOST_RECORDS);
    /// [`SENDER`](super::SENDER).
    pub const SENDER: HeaderName = HeaderName::from_static(super::SENDER);
}

/// The longest forced sleep a handler honours; longer requests are cut to it.
pub const MAX_FORCED_SLEEP: Duration = Duration::from_secs(30);

/// What the Filibuster headers of an incoming request say. Each field is
/// `None` when its header is absent or malformed (a malformed header is
/// logged with `tracing::warn!` and otherwise ignored).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilibusterHeaders {
    /// The id the server gave the call that reached this handler.
    pub generated_id: Option<u64>,
    /// The caller's clock.
    pub vclock: Option<VectorClock>,
    /// The clock of the call that reached this handler.
    pub origin_vclock: Option<VectorClock>,
    /// The execution index of the call that reached this handler.
    pub execution_index: Option<ExecutionIndex>,
    /// The request chain's id.
    pub request_id: Option<String>,
    /// How long to sleep before running the handler, already bounded by
    /// [`MAX_FORCED_SLEEP`].
    pub forced_sleep: Option<Duration>,
}

impl FilibusterHeaders {
    /// Reads the Filibuster headers of `headers`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            generated_id: read(headers, name::GENERATED_ID, |s| s.trim().parse::<u64>().ok()),
            vclock: read(headers, name::VCLOCK, |s| VectorClock::parse(s).ok()),
            origin_vclock: read(headers, name::ORIGIN_VCLOCK, |s| VectorClock::parse(s).ok()),
            execution_index: read(headers, name::EXECUTION_INDEX, |s| ExecutionIndex::parse(s).ok()),
            request_id: read(headers, name::REQUEST_ID, |s| {
                let s = s.trim();
                (!s.is_empty()).then(|| s.to_owned())
            }),
            forced_sleep: read(headers, name::FORCED_SLEEP, parse_sleep),
        }
    }

    /// Whether the request came from an instrumented call (it carries the
    /// execution index the call was given).
    pub fn is_instrumented_call(&self) -> bool {
        self.execution_index.is_some()
    }
}

fn parse_sleep(s: &str) -> Option<Duration> {
    let seconds: f64 = s.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(seconds.min(MAX_FORCED_SLEEP.as_secs_f64())))
}

fn read<T>(headers: &HeaderMap, name: HeaderName, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let value = headers.get(&name)?;
    let parsed = value.to_str().ok().and_then(parse);
    if parsed.is_none() {
        tracing::warn!(header = name.as_str(), value = ?value, "ignoring malformed Filibuster header");
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn reads_well_formed_and_ignores_malformed() {
        let mut h = HeaderMap::new();
        h.insert(GENERATED_ID, HeaderValue::from_static("7"));
        h.insert(VCLOCK, HeaderValue::from_static(r#"{"a": 1}"#));
        h.insert(ORIGIN_VCLOCK, HeaderValue::from_static("not json"));
        h.insert(EXECUTION_INDEX, HeaderValue::from_static(r#"[["x", 1]]"#));
        h.insert(FORCED_SLEEP, HeaderValue::from_static("3600"));
        let f = FilibusterHeaders::from_headers(&h);
        assert_eq!(f.generated_id, Some(7));
        assert_eq!(f.vclock.unwrap().get("a"), 1);
        assert_eq!(f.origin_vclock, None);
        assert_eq!(f.execution_index.unwrap().len(), 1);
        assert_eq!(f.forced_sleep, Some(MAX_FORCED_SLEEP));
        assert_eq!(f.request_id, None);
        assert!(!FilibusterHeaders::from_headers(&HeaderMap::new()).is_instrumented_call());
    }
}
