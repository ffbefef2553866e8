//! The records instrumented services send to the server, and its answers
//! (sections 4 and 5 of the protocol notes).
//!
//! Fields that an instrumented call fills from compile-time text (the
//! record's type, the service, the module, the callsite) are
//! `Cow<'static, str>`, so that building a record does not copy them; they
//! print and parse as plain strings.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::VectorClock;

/// Reported to `PUT /filibuster/create` before an outgoing call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// Always `"invocation"`.
    pub instrumentation_type: Cow<'static, str>,
    /// The calling service.
    pub source_service_name: Cow<'static, str>,
    /// The client library: `"reqwest"` here, `"requests"` in the reference.
    pub module: Cow<'static, str>,
    /// The HTTP method (upper case here).
    pub method: Cow<'static, str>,
    /// The normalized target (path and query) as the only element; a
    /// dependency call's dependency. Read from any JSON the other
    /// implementations send: an element that is no string (the Python
    /// reference's gRPC request text is one, Filibuster for Java's `args` is
    /// an object) is kept as its compact JSON text.
    #[serde(deserialize_with = "args_as_text")]
    pub args: Vec<String>,
    /// Always `{}`.
    #[serde(default)]
    pub kwargs: Map<String, Value>,
    /// Source file of the call, for people.
    #[serde(default)]
    pub callsite_file: Cow<'static, str>,
    /// Source line of the call, for people (a decimal string, as the
    /// reference sends it).
    #[serde(default)]
    pub callsite_line: Value,
    /// The callsite id (the reference puts its traceback hash here).
    pub full_traceback: Cow<'static, str>,
    /// `timeout` (seconds) when the call has one; `ssl` for https.
    #[serde(default)]
    pub metadata: InvocationMetadata,
    /// The caller's clock after this call.
    pub vclock: VectorClock,
    /// The clock of the call that reached the caller (`{}` at the root).
    pub origin_vclock: VectorClock,
    /// The call's execution index, as its JSON text.
    pub execution_index: String,
}

impl Invocation {
    /// About how many bytes the record holds: the length of its texts and
    /// clocks, which is what a peer can make large. What bounds the bytes
    /// a server keeps (the explorer's `Limits`).
    pub fn approx_bytes(&self) -> usize {
        let metadata = &self.metadata;
        let faults: usize = metadata.faults.iter().flatten().map(|name| name.len()).sum();
        let other =
            if metadata.other.is_empty() { 0 } else { compact(&Value::Object(metadata.other.clone())).len() };
        self.source_service_name.len()
            + self.module.len()
            + self.method.len()
            + self.args.iter().map(String::len).sum::<usize>()
            + self.callsite_file.len()
            + self.full_traceback.len()
            + self.execution_index.len()
            + self.vclock.approx_bytes()
            + self.origin_vclock.approx_bytes()
            + metadata.dependency.as_ref().map_or(0, |d| d.len())
            + faults
            + other
    }
}

/// The `metadata` of an [`Invocation`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationMetadata {
    /// The call's timeout in seconds, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Whether the call uses TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    /// The dependency a dependency call reaches (`"postgres"`), as
    /// `#[filibuster::dependency]` names it: its target, as the service
    /// called is an HTTP call's (this project's addition to the protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<Cow<'static, str>>,
    /// The faults a dependency call's error type can take
    /// (`"sqlx.PoolTimedOut"`, ...), which the default fault model tries on
    /// it (this project's addition to the protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<Cow<'static, str>>>,
    /// Anything else a client sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An exception: a fault to raise, or an error a call ended with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// Stable fault name, e.g. `"reqwest.connect"` or the reference's
    /// `"requests.exceptions.ConnectionError"`.
    pub name: String,
    /// Extra details; `abort: false` with `sleep` makes a non-aborting fault.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

impl Exception {
    /// Whether the call goes ahead before failing (`"abort": false`): the
    /// callee acts, the caller still gets the error.
    pub fn after_the_callee(&self) -> bool {
        after_the_callee(&self.metadata)
    }

    /// The fault's name, as reports and spans give it ([`exception_fault_name`]).
    pub fn fault_name(&self) -> String {
        exception_fault_name(&self.name, &self.metadata)
    }
}

fn after_the_callee(metadata: &Map<String, Value>) -> bool {
    metadata.get("abort").and_then(Value::as_bool) == Some(false)
}

/// The name of the fault that raises exception `name` with `metadata`:
/// `name` itself, with the status code it carries (`tonic.Status
/// UNAVAILABLE`), and for a non-aborting one (`"abort": false`: the callee
/// acts, the caller still fails) `reqwest.timeout (after the callee)`.
pub fn exception_fault_name(name: &str, metadata: &Map<String, Value>) -> String {
    let mut fault = name.to_owned();
    if let Some(code) = metadata.get("code") {
        fault.push(' ');
        fault.push_str(&code_text(code));
    }
    if after_the_callee(metadata) {
        fault.push_str(" (after the callee)");
    }
    fault
}

/// A status code as names show it: as the gRPC protocol names it
/// (`NOT_FOUND`, however it was written), else a string as it is, anything
/// else as JSON.
fn code_text(code: &Value) -> String {
    match (crate::grpc::code::parse(code).and_then(crate::grpc::code::name), code) {
        (Some(name), _) => name.to_owned(),
        (None, Value::String(code)) => code.clone(),
        (None, other) => compact(other),
    }
}

/// A failure other than an exception, as the fault model wrote it, e.g.
/// `{"return_value": {"status_code": "503"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(expecting = r#"an object such as {"return_value": {"status_code": "503"}}"#)]
pub struct FailureMetadata {
    /// The response to return instead of performing the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_value: Option<ReturnValue>,
    /// Anything else the fault model wrote (kept, not interpreted).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl FailureMetadata {
    /// The key of a latency fault's milliseconds: `{"latency_ms": 300}`
    /// delays the call by 300 ms, then lets it go ahead (this project's
    /// addition to the protocol; the reference's services ignore it).
    pub const LATENCY_MS: &'static str = "latency_ms";

    /// A status-code failure: the call answers `status`, with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            return_value: Some(ReturnValue {
                class: None,
                status_code: Some(status_text(status)),
                text: None,
            }),
            other: Map::new(),
        }
    }

    /// A latency fault: the call is delayed by `millis` milliseconds, then
    /// made as usual.
    pub fn latency(millis: u64) -> Self {
        let mut other = Map::new();
        other.insert(Self::LATENCY_MS.to_owned(), Value::from(millis));
        Self { return_value: None, other }
    }

    /// The key of the callee's own error (the reference's `errors` faults,
    /// gRPC's: `{"exception": {"metadata": {"code": "NOT_FOUND"}}}`): the
    /// call fails as if its callee had answered that error.
    pub const EXCEPTION: &'static str = "exception";

    /// The key of a hang fault: `{"hang": true}` makes the call's answer
    /// never come; only the call's own timeout, or its caller's, ends it
    /// (this project's addition to the protocol).
    pub const HANG: &'static str = "hang";

    /// A hang fault: the call is made, and its answer never comes.
    pub fn hang() -> Self {
        let mut other = Map::new();
        other.insert(Self::HANG.to_owned(), Value::Bool(true));
        Self { return_value: None, other }
    }

    /// Whether this is a hang fault.
    pub fn is_hang(&self) -> bool {
        self.other.get(Self::HANG).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The delay of a latency fault, in milliseconds, as written.
    pub fn latency_ms(&self) -> Option<&Value> {
        self.other.get(Self::LATENCY_MS)
    }

    /// The fault's name, as reports and spans give it: `status 503`, `status
    /// NOT_FOUND` (the callee's gRPC status), `latency 100 ms`, `hang`, or
    /// `failure` for another failure.
    pub fn fault_name(&self) -> String {
        let callee_code =
            self.other.get(Self::EXCEPTION).and_then(|error| error.get("metadata")?.get("code"));
        if let Some(code) = callee_code {
            return callee_error_fault_name(code);
        }
        match (&self.return_value, self.latency_ms()) {
            (Some(ReturnValue { status_code: Some(status), .. }), _) => status_fault_name(status.trim()),
            (Some(value), _) => format!("returns {}", value.outcome()),
            // As the runtime decides it: a hang before a latency.
            (None, _) if self.is_hang() => HANG_FAULT_NAME.to_owned(),
            (None, Some(ms)) => latency_fault_name(compact(ms)),
            (None, None) => "failure".to_owned(),
        }
    }
}

/// The exception `invocation_complete` reports for a call its caller gave
/// up on before it ended (its future dropped): not a fault, the outcome of
/// an abandoned call.
pub const CANCELLED: &str = "cancelled";

/// The name of the fault whose callee answers the error of status `code`
/// (gRPC's `errors`): `status NOT_FOUND`.
pub fn callee_error_fault_name(code: &Value) -> String {
    status_fault_name(code_text(code))
}

/// The name of the fault whose call never answers.
pub const HANG_FAULT_NAME: &str = "hang";

/// The name of the fault that answers `code`: `status 503`.
pub fn status_fault_name(code: impl std::fmt::Display) -> String {
    format!("status {code}")
}

/// The name of the fault that delays a call by `ms` milliseconds:
/// `latency 100 ms`.
pub fn latency_fault_name(ms: impl std::fmt::Display) -> String {
    format!("latency {ms} ms")
}

/// A response, as the protocol describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReturnValue {
    /// `"Response"` in reports of completed calls.
    #[serde(rename = "__class__", default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Cow<'static, str>>,
    /// The status code, as a decimal string (a number is accepted too);
    /// `None` for what is no HTTP response (the `Ok` of a dependency call,
    /// the reference's gRPC replies).
    #[serde(default, deserialize_with = "owned_string_or_number", skip_serializing_if = "Option::is_none")]
    pub status_code: Option<Cow<'static, str>>,
    /// md5 hex of the body (completed calls), or the body to return (faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl ReturnValue {
    /// The return value of a response with `status` and a body of md5 `text`.
    pub fn response(status: u16, text: String) -> Self {
        Self {
            class: Some(Cow::Borrowed("Response")),
            status_code: Some(status_text(status)),
            text: Some(text),
        }
    }

    /// The return value of a dependency call that answered `Ok`:
    /// `{"__class__": "Ok"}`.
    pub fn ok() -> Self {
        Self { class: Some(Cow::Borrowed("Ok")), status_code: None, text: None }
    }

    /// What the call answered, as reports give it: its status code, else
    /// its class (`Ok`).
    pub fn outcome(&self) -> String {
        match (&self.status_code, &self.class) {
            (Some(status), _) => status.to_string(),
            (None, Some(class)) => class.to_string(),
            (None, None) => "returned".to_owned(),
        }
    }
}

/// The server's answer to `PUT /filibuster/create`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateResponse {
    /// The id of the call, sent on in `X-Filibuster-Generated-Id`.
    pub generated_id: u64,
    /// The call's execution index as the server recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_index: Option<String>,
    /// Raise this instead of (or, non-aborting, after) performing the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_exception: Option<Exception>,
    /// Return this response instead of performing the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_metadata: Option<FailureMetadata>,
}

impl CreateResponse {
    /// The server's answer read from its JSON text, as its `Deserialize`
    /// reads it (unknown fields ignored, `null` for an absent option), but
    /// through a [`Value`], whose code services link anyway, rather than
    /// through the derived code of five structs: what an instrumented
    /// service does with the answers of `PUT /filibuster/create`. Only the
    /// wording of the errors differs.
    pub(crate) fn from_json(text: &[u8]) -> Result<Self, serde_json::Error> {
        let mut map = object(serde_json::from_slice(text)?, "struct CreateResponse")?;
        let generated_id = match map.remove("generated_id") {
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or_default(),
            Some(other) => return Err(invalid(&other, "u64")),
            None => return Err(missing("generated_id")),
        };
        let execution_index = optional(map.remove("execution_index"), |v| string(v, "a string"))?;
        let forced_exception = optional(map.remove("forced_exception"), |v| {
            let mut map = object(v, "struct Exception")?;
            let name = string(map.remove("name").ok_or_else(|| missing("name"))?, "a string")?;
            let metadata = match map.remove("metadata") {
                Some(v) => object(v, "a map")?,
                None => Map::new(),
            };
            Ok(Exception { name, metadata })
        })?;
        let failure_metadata = optional(map.remove("failure_metadata"), |v| {
            let mut other = object(v, "struct FailureMetadata")?;
            let return_value = optional(other.remove("return_value"), |v| {
                let mut map = object(v, "struct ReturnValue")?;
                let class = optional(map.remove("__class__"), |v| string(v, "a string"))?.map(Cow::Owned);
                let status_code = match map.remove("status_code") {
                    Some(Value::String(s)) => Some(s),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    None | Some(Value::Null) => None,
                    Some(other) => {
                        return Err(serde::de::Error::custom(format!(
                            "expected a string or a number, found {}",
                            compact(&other)
                        )));
                    }
                };
                let text = optional(map.remove("text"), |v| string(v, "a string"))?;
                Ok(ReturnValue { class, status_code: status_code.map(Cow::Owned), text })
            })?;
            Ok(FailureMetadata { return_value, other })
        })?;
        Ok(Self { generated_id, execution_index, forced_exception, failure_metadata })
    }
}

/// `value`'s map, or the error of a `Deserialize` expecting `expected`.
fn object(value: Value, expected: &str) -> Result<Map<String, Value>, serde_json::Error> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(invalid(&other, expected)),
    }
}

fn string(value: Value, expected: &str) -> Result<String, serde_json::Error> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(invalid(&other, expected)),
    }
}

/// An optional field: absent or `null` is `None`.
fn optional<T>(
    value: Option<Value>,
    read: impl FnOnce(Value) -> Result<T, serde_json::Error>,
) -> Result<Option<T>, serde_json::Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value).map(Some),
    }
}

fn missing(field: &'static str) -> serde_json::Error {
    serde::de::Error::missing_field(field)
}

fn invalid(value: &Value, expected: &str) -> serde_json::Error {
    use serde::de::Unexpected;
    let unexpected = match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    };
    serde::de::Error::invalid_type(unexpected, &expected)
}

/// Reported to `POST /filibuster/update` first thing in an instrumented
/// handler reached by an instrumented call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestReceived {
    /// Always `"request_received"`.
    pub instrumentation_type: Cow<'static, str>,
    /// From `X-Filibuster-Generated-Id` (a decimal string, as the reference
    /// sends it; a number is accepted too).
    #[serde(deserialize_with = "string_or_number")]
    pub generated_id: String,
    /// From `X-Filibuster-Execution-Index`, as its JSON text.
    pub execution_index: String,
    /// The service whose handler was reached.
    pub target_service_name: Cow<'static, str>,
}

/// Reported to `POST /filibuster/update` after an outgoing call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvocationComplete {
    /// Always `"invocation_complete"`.
    pub instrumentation_type: Cow<'static, str>,
    /// The id the server gave the call.
    #[serde(deserialize_with = "number_or_string")]
    pub generated_id: u64,
    /// The call's execution index, as its JSON text.
    pub execution_index: String,
    /// The caller's clock after the call.
    pub vclock: VectorClock,
    /// Set when the call returned a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_value: Option<ReturnValue>,
    /// Set when the call ended with an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Exception>,
}

/// A record for `POST /filibuster/update`, told apart by its
/// `instrumentation_type`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Update {
    /// From a handler.
    RequestReceived(RequestReceived),
    /// From a call.
    InvocationComplete(InvocationComplete),
}

impl Update {
    /// About how many bytes the record adds to its call: its texts and
    /// clock (see [`Invocation::approx_bytes`]).
    pub fn approx_bytes(&self) -> usize {
        match self {
            Update::RequestReceived(r) => {
                r.generated_id.len() + r.execution_index.len() + r.target_service_name.len()
            }
            Update::InvocationComplete(c) => {
                let value = c.return_value.as_ref().map_or(0, |v| {
                    v.class.as_ref().map_or(0, |c| c.len())
                        + v.status_code.as_ref().map_or(0, |s| s.len())
                        + v.text.as_ref().map_or(0, String::len)
                });
                let exception = c.exception.as_ref().map_or(0, |e| {
                    e.name.len()
                        + if e.metadata.is_empty() {
                            0
                        } else {
                            compact(&Value::Object(e.metadata.clone())).len()
                        }
                });
                c.execution_index.len() + c.vclock.approx_bytes() + value + exception
            }
        }
    }
}

impl<'de> Deserialize<'de> for Update {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(deserializer)?;
        match value.get("instrumentation_type").and_then(Value::as_str) {
            Some("request_received") => {
                serde_json::from_value(value).map(Update::RequestReceived).map_err(D::Error::custom)
            }
            Some("invocation_complete") => {
                serde_json::from_value(value).map(Update::InvocationComplete).map_err(D::Error::custom)
            }
            Some(other) => Err(D::Error::custom(format!(
                "instrumentation_type must be \"request_received\" or \"invocation_complete\", got {other:?}"
            ))),
            None => Err(D::Error::custom("missing field `instrumentation_type`")),
        }
    }
}

/// `status` as a decimal string: not allocated for the usual codes, which
/// every instrumented call reports.
fn status_text(status: u16) -> Cow<'static, str> {
    const USUAL: [(u16, &str); 20] = [
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (301, "301"),
        (302, "302"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (501, "501"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    match USUAL.iter().find(|(code, _)| *code == status) {
        Some((_, text)) => Cow::Borrowed(text),
        None => {
            let mut text = String::with_capacity(3);
            crate::wire::push_u64(&mut text, status.into());
            Cow::Owned(text)
        }
    }
}

fn args_as_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let text = |value: Value| match value {
        Value::String(text) => text,
        other => compact(&other),
    };
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(values) => values.into_iter().map(text).collect(),
        Value::Null => Vec::new(),
        other => vec![text(other)],
    })
}

fn owned_string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'static, str>>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(Cow::Owned(s))),
        Value::Number(n) => Ok(Some(Cow::Owned(n.to_string()))),
        other => {
            Err(serde::de::Error::custom(format!("expected a string or a number, found {}", compact(&other))))
        }
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => {
            Err(serde::de::Error::custom(format!("expected a string or a number, found {}", compact(&other))))
        }
    }
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom(format!("expected a non-negative integer, found {n}"))),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, found {s:?}"))),
        other => Err(serde::de::Error::custom(format!("expected an integer, found {}", compact(&other)))),
    }
}

/// `value` as compact JSON, as its `Display` prints it, without the code of
/// `Display` (whose `{:#}` pretty-prints): the one serializer the records
/// use already.
pub(crate) fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// What is wrong with a record sent to the server: why a server refuses
/// it.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The generated id names no call of the current test execution.
    #[error("unknown generated_id {0}: no such call in the current test execution")]
    UnknownGeneratedId(String),
    /// A field has the wrong form.
    #[error("{0}")]
    Invalid(String),
    /// The record contradicts what the server recorded for that call.
    #[error("{0}")]
    Conflict(String),
    /// The record lacks the run's token, which the run's services carry.
    #[error(
        "refused: this run's services carry its token (in FILIBUSTER_URL), this record does not; \
         reference services that cannot carry it need `filibuster test --accept-untokened`"
    )]
    Forbidden,
    /// A limit of the server was reached.
    #[error("{0}")]
    Limit(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-read answer is the derived one, field for field.
    #[test]
    fn create_answers_read_by_hand_as_derived() {
        let answers = [
            r#"{"generated_id": 0}"#,
            r#"{"generated_id": 7, "execution_index": "[[\"a\", 1]]", "extra": [1, 2]}"#,
            r#"{"generated_id": 7, "execution_index": null, "forced_exception": null, "failure_metadata": null}"#,
            r#"{"generated_id": 3, "forced_exception": {"name": "reqwest.connect"}}"#,
            r#"{"generated_id": 3, "forced_exception": {"name": "x", "metadata": {"abort": false, "sleep": 0.5}}}"#,
            r#"{"generated_id": 4, "failure_metadata": {"return_value": {"status_code": "503"}}}"#,
            r#"{"generated_id": 4, "failure_metadata": {"return_value": {"status_code": 404, "text": "no", "__class__": "Response"}, "k": {"v": 1}}}"#,
            r#"{"generated_id": 4, "failure_metadata": {"return_value": null, "other": 1}}"#,
            r#"{"generated_id": 4, "failure_metadata": {}}"#,
            // What is no HTTP response has no status.
            r#"{"generated_id": 5, "failure_metadata": {"return_value": {}}}"#,
            r#"{"generated_id": 6, "failure_metadata": {"return_value": {"__class__": "Ok", "status_code": null}}}"#,
        ];
        for answer in answers {
            let derived: CreateResponse = serde_json::from_str(answer).unwrap();
            assert_eq!(CreateResponse::from_json(answer.as_bytes()).unwrap(), derived, "{answer}");
        }
        let refused = [
            "",
            "[]",
            "{}",
            r#"{"generated_id": -1}"#,
            r#"{"generated_id": 1.5}"#,
            r#"{"generated_id": "7"}"#,
            r#"{"generated_id": 1, "execution_index": 5}"#,
            r#"{"generated_id": 1, "forced_exception": {}}"#,
            r#"{"generated_id": 1, "forced_exception": {"name": "x", "metadata": null}}"#,
            r#"{"generated_id": 1, "failure_metadata": {"return_value": {"status_code": true}}}"#,
            r#"{"generated_id": 1, "failure_metadata": []}"#,
        ];
        for answer in refused {
            assert!(serde_json::from_str::<CreateResponse>(answer).is_err(), "{answer}");
            assert!(CreateResponse::from_json(answer.as_bytes()).is_err(), "{answer}");
        }
    }
}
