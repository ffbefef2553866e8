//! Fault models: which faults the explorer tries on which calls.
//!
//! A model is built in Rust ([`FaultModel::with`], [`Fault`], [`Calls`]),
//! loaded from an analysis file, or both.
//!
//! The format is the reference's *analysis file*: one entry per instrumented
//! library, each with a `pattern` matched (anchored at the start, like
//! Python's `re.match`) against `"<module>.<method>"`, and `exceptions`
//! (raised on the caller's side, tried when a call is created) and/or
//! `errors` (status codes, tried when the call reached an instrumented
//! service whose name matches `service_name`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::{Map, Value};

use filibuster_runtime::grpc;
use filibuster_runtime::records::{Exception, FailureMetadata, Invocation};

/// A fault model: which faults to try on which calls.
///
/// Loaded from the reference's analysis file ([`FaultModel::load`]), built
/// in ([`FaultModel::reqwest_default`], the default), or written in Rust:
/// start from [`FaultModel::empty`] (or any model) and add rules with
/// [`FaultModel::with`].
///
/// ```
/// use std::time::Duration;
/// use filibuster_explorer::{Calls, Fault, FaultModel};
///
/// let model = FaultModel::empty()
///     // Every call: a connection error, and a timeout on calls that set one.
///     .with(Calls::any(), [Fault::ConnectionError, Fault::Timeout])
///     // Calls to `movies`: 503, and 300 ms of latency on its movie pages.
///     .with(Calls::to("movies"), [Fault::Status(503)])
///     .with(Calls::to("movies").method("GET").path("/movies/{id}"), [Fault::Latency(Duration::from_millis(300))]);
/// # let _ = model;
/// ```
#[derive(Clone, Debug)]
pub struct FaultModel {
    libraries: Vec<Library>,
    rules: Vec<Rule>,
    /// Where it was read from: `<built-in>`, the analysis file's path, or
    /// `<rust>`; with ` + rules in Rust` when rules were added to it.
    source: String,
}

/// One fault of a fault model written in Rust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The connection fails: the caller gets a `reqwest::Error` with
    /// `is_connect()` true (`reqwest.connect`).
    ConnectionError,
    /// The call times out: a `reqwest::Error` with `is_timeout()` true
    /// (`reqwest.timeout`). Tried only on calls with a timeout (set on the
    /// request, or declared with `#[filibuster::call(timeout = ..)]`), as a
    /// call without one would wait rather than time out.
    Timeout,
    /// The call answers this status code, with an empty body.
    Status(u16),
    /// The call's answer comes this long after it was sent (at most 30 s):
    /// what a slow service looks like to a caller, whose own timeout (the
    /// request's or the client's) fires meanwhile with its client's genuine
    /// timeout error when it is shorter. This project's addition
    /// to the protocol (`{"latency_ms": n}`), which the reference's
    /// services ignore.
    Latency(Duration),
    /// The call reaches its callee, which acts on it, and the caller still
    /// times out: a `reqwest::Error` with `is_timeout()` true once the
    /// callee has answered (the reference's non-aborting timeout,
    /// `{"abort": false}`), named `reqwest.timeout (after the callee)`. The
    /// fault that shows a retry repeating a write (a booking made twice).
    /// Tried only on calls with a timeout, when the call is created.
    /// Opt-in.
    TimeoutAfterCallee,
    /// The call is made and its answer never comes: a hung dependency.
    /// Tried only on calls without a timeout (which a hung dependency
    /// hangs), when the call is created, as a connection error is; the
    /// caller's own outer timeout, or the execution's deadline
    /// ([`RunOptions::execution_timeout`](crate::RunOptions::execution_timeout)),
    /// then decides. Opt-in (the built-in model has none), named `hang`
    /// (`{"hang": true}` in the protocol, this project's addition).
    Hang,
    /// A dependency call (`#[filibuster::dependency]`) fails with this fault
    /// of its error type, by its name (`"sqlx.PoolTimedOut"`): the fn
    /// returns the genuine error `InjectFault` makes of it. Tried on the
    /// dependency calls whose error type can take it; on a call of the
    /// crate it names (`sqlx.`) whose error type does not know it (a
    /// misspelling), it makes the run untested
    /// ([`RunError::UnknownFault`](crate::RunError::UnknownFault)); the
    /// calls of other crates are not its.
    DependencyError(String),
    /// Each fault a dependency call's error type can take, one execution
    /// each (`InjectFault::FAULTS`): what the built-in model tries on every
    /// dependency call.
    DependencyErrors,
    /// An RPC's callee answers this gRPC status, by its name
    /// (`"NOT_FOUND"`): the caller gets the genuine `tonic::Status` a server
    /// answering it gives. Tried on RPCs that reached an instrumented
    /// service, as [`Fault::Status`] is on HTTP calls (the reference's
    /// gRPC `errors`); on RPCs only. A name tonic does not know as a
    /// failure makes the run untested
    /// ([`RunError::UnknownFault`](crate::RunError::UnknownFault)).
    ///
    /// On RPCs, [`Fault::ConnectionError`] is `UNAVAILABLE` from a refused
    /// connection and [`Fault::Timeout`] tonic's own timeout (`CANCELLED`
    /// "Timeout expired"), each tonic's genuine status.
    GrpcStatus(String),
}

/// The calls a rule of a fault model applies to: by the service called,
/// the HTTP method and the path, each optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    service: Option<String>,
    method: Option<String>,
    path: Option<String>,
    rpc: Option<String>,
}

impl Calls {
    /// Every call.
    pub fn any() -> Self {
        Self::default()
    }

    /// The calls to `service`: calls that reached its instrumented handler
    /// (`request_received` names the service), so all of the rule's faults
    /// are scheduled once a call has reached it, and none on calls to
    /// services without `#[filibuster::handler]`.
    pub fn to(service: impl Into<String>) -> Self {
        Self { service: Some(service.into()), ..Self::default() }
    }

    /// Only the calls with this HTTP method (`"GET"`, any case).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into().to_ascii_uppercase());
        self
    }

    /// Only the calls whose path matches `pattern`: the path itself, or an
    /// axum route with `{name}` for any one segment and a last `{*rest}` for
    /// the rest (`"/users/{name}/bookings"`); the query is ignored unless
    /// `pattern` has one.
    pub fn path(mut self, pattern: impl Into<String>) -> Self {
        self.path = Some(pattern.into());
        self
    }

    /// Only the RPCs of `rpc` (gRPC through tonic): one method
    /// (`"cinema.Movies/GetMovie"`), or every method of a service
    /// (`"cinema.Movies"`); the leading `/` of a path may be written.
    pub fn rpc(mut self, rpc: impl Into<String>) -> Self {
        self.rpc = Some(rpc.into().trim_start_matches('/').to_owned());
        self
    }

    /// Whether `call`, which reached `target` (when known), is one of them.
    fn matches(&self, call: &Invocation, target: Option<&str>) -> bool {
        // A dependency call has no path: its only argument is its target;
        // nor has an RPC, whose path is its method.
        let is_rpc = call.module == grpc::MODULE;
        if let Some(wanted) = &self.rpc
            && !(is_rpc && grpc::rpc_matches(&call.method, wanted))
        {
            return false;
        }
        let path = call.args.first().filter(|_| call.metadata.dependency.is_none() && !is_rpc);
        self.matches_parts(&call.method, path.map(String::as_str), target)
    }

    /// Whether a call with `method` to `path`, which reached `target` (when
    /// known), is one of them.
    fn matches_parts(&self, method: &str, path: Option<&str>, target: Option<&str>) -> bool {
        self.service.as_deref().is_none_or(|service| target == Some(service))
            && self.method.as_deref().is_none_or(|wanted| method.eq_ignore_ascii_case(wanted))
            && self
                .path
                .as_deref()
                .is_none_or(|pattern| path.is_some_and(|path| super::injected::route_matches(pattern, path)))
    }

    /// Whether it is narrower than every call.
    fn is_scoped(&self) -> bool {
        self.service.is_some() || self.method.is_some() || self.path.is_some() || self.rpc.is_some()
    }
}

impl fmt::Display for Calls {
    /// `calls to movies with GET /movies/{id}`, `every call`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_scoped() {
            return f.write_str("every call");
        }
        f.write_str("calls")?;
        if let Some(service) = &self.service {
            write!(f, " to `{service}`")?;
        }
        if let Some(rpc) = &self.rpc {
            write!(f, " of RPC {rpc}")?;
        }
        match (&self.method, &self.path) {
            (Some(method), Some(path)) => write!(f, " with {method} {path}"),
            (Some(method), None) => write!(f, " with {method}"),
            (None, Some(path)) => write!(f, " on {path}"),
            (None, None) => Ok(()),
        }
    }
}

/// What [`FaultModel::source`] ends with once rules were added.
const RULES_ADDED: &str = " + rules in Rust";

/// A rule of a model written in Rust.
#[derive(Clone, Debug)]
struct Rule {
    calls: Calls,
    faults: Vec<Fault>,
}

impl Rule {
    /// The faults of this rule to try on `call` at `site`: scoped by
    /// service, all of them once the call reached it; else connection errors
    /// and timeouts when the call is created, statuses and latencies once
    /// it reached any instrumented service (as the analysis file's errors).
    fn faults_for(&self, call: &Invocation, site: FaultSite, target: Option<&str>) -> Vec<ProposedFault> {
        if let Some(dependency) = &call.metadata.dependency {
            return self.dependency_faults(call, dependency, site);
        }
        if !self.calls.matches(call, target.filter(|_| site == FaultSite::RequestReceived)) {
            return Vec::new();
        }
        let scoped = self.calls.service.is_some();
        let is_rpc = call.module == grpc::MODULE;
        self.faults
            .iter()
            .filter(|fault| {
                let on_create = matches!(
                    fault,
                    Fault::ConnectionError | Fault::Timeout | Fault::TimeoutAfterCallee | Fault::Hang
                ) && !scoped;
                match site {
                    FaultSite::Invocation => on_create,
                    FaultSite::RequestReceived => !on_create && target.is_some(),
                }
            })
            .filter(|fault| match fault {
                Fault::Timeout | Fault::TimeoutAfterCallee => has_metadata(call, "timeout"),
                Fault::Hang => !has_metadata(call, "timeout"),
                Fault::DependencyError(_) | Fault::DependencyErrors => false,
                Fault::GrpcStatus(_) => is_rpc,
                _ => true,
            })
            .map(|fault| match fault {
                Fault::ConnectionError if is_rpc => {
                    let mut metadata = Map::new();
                    metadata.insert("code".to_owned(), Value::from("UNAVAILABLE"));
                    ProposedFault::Exception(Exception { name: grpc::STATUS.to_owned(), metadata })
                }
                Fault::ConnectionError => ProposedFault::Exception(Exception {
                    name: "reqwest.connect".to_owned(),
                    metadata: Map::new(),
                }),
                Fault::Timeout => ProposedFault::Exception(Exception {
                    name: if is_rpc { grpc::TIMEOUT } else { "reqwest.timeout" }.to_owned(),
                    metadata: Map::new(),
                }),
                Fault::GrpcStatus(code) => {
                    let error = serde_json::json!({"metadata": {"code": code}});
                    let mut other = Map::new();
                    other.insert(FailureMetadata::EXCEPTION.to_owned(), error);
                    ProposedFault::Failure(FailureMetadata { return_value: None, other })
                }
                Fault::Status(code) => ProposedFault::Failure(FailureMetadata::status(*code)),
                Fault::Latency(delay) => {
                    let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                    ProposedFault::Failure(FailureMetadata::latency(millis))
                }
                Fault::Hang => ProposedFault::Failure(FailureMetadata::hang()),
                Fault::TimeoutAfterCallee => {
                    let mut metadata = Map::new();
                    metadata.insert("abort".to_owned(), Value::Bool(false));
                    let name = if is_rpc { grpc::TIMEOUT } else { "reqwest.timeout" };
                    ProposedFault::Exception(Exception { name: name.to_owned(), metadata })
                }
                Fault::DependencyError(_) | Fault::DependencyErrors => unreachable!("filtered out above"),
            })
            .collect()
    }

    /// The faults of this rule to try on a dependency call of
    /// `dependency`: all of them when it is created, its target known then;
    /// its error type's faults, latencies and hangs (nothing of HTTP's).
    fn dependency_faults(&self, call: &Invocation, dependency: &str, site: FaultSite) -> Vec<ProposedFault> {
        if site != FaultSite::Invocation || !self.calls.matches(call, Some(dependency)) {
            return Vec::new();
        }
        let exception =
            |name: &str| ProposedFault::Exception(Exception { name: name.to_owned(), metadata: Map::new() });
        let declared = call.metadata.faults.iter().flatten();
        let mut faults = Vec::new();
        for fault in &self.faults {
            match fault {
                Fault::DependencyErrors => faults.extend(declared.clone().map(|name| exception(name))),
                Fault::DependencyError(name) if declared.clone().any(|known| known == name) => {
                    faults.push(exception(name))
                }
                // A name of the call's crate its error type does not know (a
                // misspelling): proposed, for the explorer to refuse it,
                // naming the known ones. A fault of another crate is not
                // this call's.
                Fault::DependencyError(name) => {
                    if name.strip_prefix(call.module.as_ref()).is_some_and(|rest| rest.starts_with('.')) {
                        faults.push(exception(name));
                    }
                }
                Fault::Latency(delay) => {
                    let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                    faults.push(ProposedFault::Failure(FailureMetadata::latency(millis)));
                }
                Fault::Hang => faults.push(ProposedFault::Failure(FailureMetadata::hang())),
                Fault::ConnectionError
                | Fault::Timeout
                | Fault::Status(_)
                | Fault::TimeoutAfterCallee
                | Fault::GrpcStatus(_) => {}
            }
        }
        faults
    }
}

#[derive(Clone, Debug)]
struct Library {
    pattern: Regex,
    exceptions: Vec<ExceptionFault>,
    errors: Vec<ErrorFault>,
}

/// An entry of a library's `exceptions`.
#[derive(Clone, Debug, Deserialize)]
#[serde(
    expecting = "an object with a string `name`, optional object `metadata` and optional string `restrictions`"
)]
struct ExceptionFault {
    name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    metadata: Map<String, Value>,
    #[serde(default, rename = "restrictions")]
    restriction: Option<String>,
}

/// An object, or `null` as an empty one.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Clone, Debug)]
struct ErrorFault {
    service_name: Regex,
    types: Vec<FailureMetadata>,
}

/// When a fault can be tried: on the caller's side when the call is created,
/// or once the call reached an instrumented service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultSite {
    /// `PUT /filibuster/create`: exceptions.
    Invocation,
    /// `request_received`: status-code errors.
    RequestReceived,
}

/// `fault`, as `call` reports the failure it stands for: on an RPC, its
/// status code as the protocol names it (`StatusCode.NOT_FOUND`, `NotFound`
/// and `5` are `NOT_FOUND`), so that reduction finds the fault in an
/// observed failure of the same code, and reports name it one way.
fn for_call(call: &Invocation, mut fault: ProposedFault) -> ProposedFault {
    if call.module != grpc::MODULE {
        return fault;
    }
    match &mut fault {
        ProposedFault::Exception(exception) => grpc::normalize_code(&mut exception.metadata),
        ProposedFault::Failure(failure) => {
            let metadata =
                failure.other.get_mut(FailureMetadata::EXCEPTION).and_then(|e| e.get_mut("metadata"));
            if let Some(Value::Object(metadata)) = metadata {
                grpc::normalize_code(metadata);
            }
        }
    }
    fault
}

/// A fault the model proposes for one call.
#[derive(Clone, Debug, PartialEq)]
pub enum ProposedFault {
    /// Raise this instead of performing the call.
    Exception(Exception),
    /// Answer this instead of performing the call.
    Failure(FailureMetadata),
}

/// What is wrong with an analysis file.
///
/// The underlying error, when there is one, is the
/// [`source`](std::error::Error::source) and not repeated in the message, so
/// that a printed error chain names it once.
#[derive(Debug, thiserror::Error)]
pub enum FaultModelError {
    /// The file cannot be read.
    #[error("cannot read analysis file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("analysis file {path} is not valid JSON")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A key holds something else than expected.
    #[error("analysis file {path}: at {key}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where, e.g. `http.errors[0].service_name`.
        key: String,
        /// What is wrong there: what was expected, and what was found.
        reason: String,
    },
}

/// The built-in fault model, as an analysis file: on reqwest calls, a
/// connection error on every call, a timeout on calls that set one, and 500,
/// 502 and 503 on calls whose target is an instrumented service; on the
/// dependency calls of the crates filibuster knows (sqlx, redis, std::io),
/// each fault of their error types. [`FaultModel::reqwest_default`] adds
/// the faults of any other error type a dependency call declares.
pub const REQWEST_DEFAULT: &str = r#"{
  "reqwest": {
    "pattern": "reqwest\\.(GET|PUT|POST|HEAD|DELETE|PATCH|OPTIONS)",
    "exceptions": [
      {"name": "reqwest.connect"},
      {"name": "reqwest.timeout", "restrictions": "timeout"}
    ]
  },
  "http": {
    "pattern": "reqwest\\.(GET|PUT|POST|HEAD|DELETE|PATCH|OPTIONS)",
    "errors": [
      {
        "service_name": ".*",
        "types": [
          {"return_value": {"status_code": "500"}},
          {"return_value": {"status_code": "502"}},
          {"return_value": {"status_code": "503"}}
        ]
      }
    ]
  },
  "tonic": {
    "pattern": "tonic\\.",
    "exceptions": [
      {"name": "tonic.Status", "metadata": {"code": "UNAVAILABLE"}},
      {"name": "tonic.Status", "metadata": {"code": "DEADLINE_EXCEEDED"}},
      {"name": "tonic.timeout", "restrictions": "timeout"}
    ]
  },
  "grpc": {
    "pattern": "tonic\\.",
    "errors": [
      {
        "service_name": ".*",
        "types": [
          {"exception": {"metadata": {"code": "NOT_FOUND"}}}
        ]
      }
    ]
  },
  "sqlx": {
    "pattern": "sqlx\\.",
    "exceptions": [
      {"name": "sqlx.PoolTimedOut"},
      {"name": "sqlx.Io.ConnectionRefused"},
      {"name": "sqlx.Io.UnexpectedEof"}
    ]
  },
  "redis": {
    "pattern": "redis\\.",
    "exceptions": [
      {"name": "redis.ConnectionRefused"},
      {"name": "redis.TimedOut"},
      {"name": "redis.BUSY"}
    ]
  },
  "io": {
    "pattern": "io\\.",
    "exceptions": [
      {"name": "io.ConnectionRefused"},
      {"name": "io.ConnectionReset"},
      {"name": "io.TimedOut"}
    ]
  }
}"#;

impl Default for FaultModel {
    fn default() -> Self {
        Self::reqwest_default()
    }
}

impl FaultModel {
    /// The built-in model: [`REQWEST_DEFAULT`], and on every dependency
    /// call each fault its error type declares
    /// ([`Fault::DependencyErrors`]), so that the faults of a service's own
    /// error types are tried too.
    pub fn reqwest_default() -> Self {
        // The built-in text is valid; a test proves it.
        let mut model =
            Self::from_json(REQWEST_DEFAULT, Path::new("<built-in>")).unwrap_or_else(|_| Self::empty());
        model.rules.push(Rule { calls: Calls::any(), faults: vec![Fault::DependencyErrors] });
        model
    }

    /// A model that tries no fault, to add rules to with [`FaultModel::with`].
    pub fn empty() -> Self {
        Self { libraries: Vec::new(), rules: Vec::new(), source: "<rust>".to_owned() }
    }

    /// This model, plus `faults` on `calls`. A fault proposed twice for one
    /// call (by two rules, or by a rule and the analysis file) is tried once.
    /// A rule scoped by service, method or path that matches none of the
    /// calls of a complete exploration makes the run untested
    /// ([`RunError::UnmatchedRule`](crate::RunError::UnmatchedRule)).
    pub fn with(mut self, calls: Calls, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.rules.push(Rule { calls, faults: faults.into_iter().collect() });
        if self.source != "<rust>" && !self.source.ends_with(RULES_ADDED) {
            self.source.push_str(RULES_ADDED);
        }
        self
    }

    /// The rules scoped by service, method or path that match none of
    /// `calls` (each `(target, method, path)`), written as in
    /// [`Calls`]'s `Display`: a misspelled service, method or path, whose
    /// faults were never tried.
    pub(crate) fn unmatched_rules<'a>(
        &self,
        calls: impl Iterator<Item = (Option<&'a str>, &'a str, &'a str)> + Clone,
    ) -> Vec<String> {
        self.rules
            .iter()
            .filter(|rule| rule.calls.is_scoped())
            .filter(|rule| {
                !calls
                    .clone()
                    .any(|(target, method, path)| rule.calls.matches_parts(method, Some(path), target))
            })
            .map(|rule| rule.calls.to_string())
            .collect()
    }

    /// Where the model was read from: `<built-in>` for
    /// [`FaultModel::reqwest_default`], the path given to
    /// [`FaultModel::load`] or [`FaultModel::from_json`], or `<rust>` for
    /// [`FaultModel::empty`]; followed by ` + rules in Rust` when
    /// [`FaultModel::with`] added rules to a model read from a file.
    ///
    /// ```
    /// assert_eq!(filibuster_explorer::FaultModel::default().source(), "<built-in>");
    /// ```
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Loads an analysis file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, FaultModelError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| FaultModelError::Read { path: path.into(), source })?;
        Self::from_json(&text, path)
    }

    /// Parses the text of an analysis file; `path` names it in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, FaultModelError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|source| FaultModelError::Json { path: path.into(), source })?;
        let invalid =
            |key: String, reason: String| FaultModelError::Invalid { path: path.into(), key, reason };
        // Read from the parsed value, serde's errors carry no position, only
        // the path of the bad value (`http.errors[0].types[1]`).
        let entries: BTreeMap<String, LibraryEntry> =
            serde_path_to_error::deserialize(value).map_err(|error| {
                let key = match error.path().to_string() {
                    root if root == "." => "the top level".to_owned(),
                    key => key,
                };
                invalid(key, error.into_inner().to_string())
            })?;
        let required = "expected a string (a regular expression)";
        let mut libraries = Vec::new();
        for (name, entry) in entries {
            let pattern = entry.pattern.ok_or_else(|| invalid(format!("{name}.pattern"), required.into()))?;
            let mut errors = Vec::new();
            for (i, error) in entry.errors.into_iter().enumerate() {
                let key = format!("{name}.errors[{i}]");
                let service_name = error
                    .service_name
                    .ok_or_else(|| invalid(format!("{key}.service_name"), required.into()))?;
                let types = error
                    .types
                    .ok_or_else(|| invalid(format!("{key}.types"), "expected a list of failures".into()))?;
                errors.push(ErrorFault { service_name, types });
            }
            libraries.push(Library { pattern, exceptions: entry.exceptions, errors });
        }
        Ok(Self { libraries, rules: Vec::new(), source: path.display().to_string() })
    }

    /// The faults to try on `call` at `site`, in the model's order.
    /// `target_service` is the service the call reached (for status errors).
    pub fn faults_for(
        &self,
        call: &Invocation,
        site: FaultSite,
        target_service: Option<&str>,
    ) -> Vec<ProposedFault> {
        self.faults_noting_rules(call, site, target_service, |_| {})
    }

    /// [`FaultModel::faults_for`], calling `used` with the index of each
    /// rule (in the order of [`FaultModel::with`]) that proposed a fault.
    pub(crate) fn faults_noting_rules(
        &self,
        call: &Invocation,
        site: FaultSite,
        target_service: Option<&str>,
        mut used: impl FnMut(usize),
    ) -> Vec<ProposedFault> {
        let callsite = format!("{}.{}", call.module, call.method);
        let mut faults = Vec::new();
        for library in self.libraries.iter().filter(|l| l.pattern.is_match(&callsite)) {
            match site {
                FaultSite::Invocation => {
                    for exception in &library.exceptions {
                        if let Some(restriction) = &exception.restriction
                            && !has_metadata(call, restriction)
                        {
                            continue;
                        }
                        faults.push(for_call(
                            call,
                            ProposedFault::Exception(Exception {
                                name: exception.name.clone(),
                                metadata: evaluate_metadata(&exception.metadata, call),
                            }),
                        ));
                    }
                }
                FaultSite::RequestReceived => {
                    let Some(target) = target_service else { continue };
                    for error in library.errors.iter().filter(|e| e.service_name.is_match(target)) {
                        faults.extend(
                            error.types.iter().cloned().map(|f| for_call(call, ProposedFault::Failure(f))),
                        );
                    }
                }
            }
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let proposed = rule.faults_for(call, site, target_service);
            if !proposed.is_empty() {
                used(index);
            }
            for fault in proposed {
                let fault = for_call(call, fault);
                if !faults.contains(&fault) {
                    faults.push(fault);
                }
            }
        }
        faults
    }

    /// How many rules the model has ([`FaultModel::with`]).
    pub(crate) fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The rules scoped by service, method or path that match some of
    /// `calls` (each `(target, method, path)`) but proposed no fault for
    /// them (`used[i]` false for the `i`-th rule): each as its calls and its
    /// faults, written as in [`Calls`]'s `Display` and `Debug`. An HTTP fault
    /// on a dependency call, a dependency's fault on an HTTP call, a
    /// timeout on calls without one: faults that were never tried.
    pub(crate) fn idle_rules<'a>(
        &self,
        calls: impl Iterator<Item = (Option<&'a str>, &'a str, &'a str)> + Clone,
        used: &[bool],
    ) -> Vec<(String, String)> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(index, rule)| rule.calls.is_scoped() && !used.get(*index).copied().unwrap_or(false))
            .filter(|(_, rule)| {
                calls
                    .clone()
                    .any(|(target, method, path)| rule.calls.matches_parts(method, Some(path), target))
            })
            .map(|(_, rule)| (rule.calls.to_string(), format!("{:?}", rule.faults)))
            .collect()
    }
}

/// The longest `pattern` or `service_name` an analysis file may hold, in
/// bytes. Real ones are a few dozen.
const MAX_PATTERN_LEN: usize = 4096;

/// The most memory one compiled pattern may take. The `regex` crate matches
/// in linear time, but compiling a short pathological pattern such as
/// `\w{1000}{1000}` can take long before its default limit (10 MiB) stops
/// it; this one stops it in a tenth of the time, and real patterns take a
/// few KiB.
const MAX_COMPILED_PATTERN: usize = 1 << 20;

/// Python's `re.match` anchors at the start only. `Err` says what was
/// expected instead.
fn anchored(pattern: &str) -> Result<Regex, &'static str> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err("a regular expression of at most 4096 bytes");
    }
    match RegexBuilder::new(&format!("^(?:{pattern})")).size_limit(MAX_COMPILED_PATTERN).build() {
        Ok(regex) => Ok(regex),
        Err(regex::Error::CompiledTooBig(_)) => {
            Err("a regular expression that compiles to at most 1 MiB (this one is too large)")
        }
        Err(_) => Err("a valid regular expression"),
    }
}

/// One library's entry of an analysis file, as serde reads it; `pattern`,
/// and `service_name` and `types` below, are checked present after, so that
/// a missing one is named at its own key.
#[derive(Deserialize)]
#[serde(expecting = "an object with `pattern` and `exceptions` or `errors`")]
struct LibraryEntry {
    #[serde(default, deserialize_with = "pattern")]
    pattern: Option<Regex>,
    #[serde(default)]
    exceptions: Vec<ExceptionFault>,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

/// An entry of a library's `errors`.
#[derive(Deserialize)]
#[serde(expecting = "an object with `service_name` and `types`")]
struct ErrorEntry {
    #[serde(default, deserialize_with = "pattern")]
    service_name: Option<Regex>,
    #[serde(default)]
    types: Option<Vec<FailureMetadata>>,
}

/// A regular expression, anchored at the start (see [`anchored`]).
fn pattern<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Regex>, D::Error> {
    struct Pattern;
    impl serde::de::Visitor<'_> for Pattern {
        type Value = Option<Regex>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string (a regular expression)")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            anchored(text).map(Some).map_err(|expected| E::custom(format_args!("expected {expected}")))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(Pattern)
}

fn has_metadata(call: &Invocation, key: &str) -> bool {
    match key {
        "timeout" => call.metadata.timeout.is_some(),
        "ssl" => call.metadata.ssl.is_some(),
        other => call.metadata.other.get(other).is_some_and(|v| !v.is_null()),
    }
}

/// The reference evaluates three expressions over the call's timeout.
fn evaluate_metadata(metadata: &Map<String, Value>, call: &Invocation) -> Map<String, Value> {
    let timeout = call.metadata.timeout;
    metadata
        .iter()
        .map(|(key, value)| {
            let evaluated = match (value.as_str(), timeout) {
                (Some("@expr(metadata['timeout']-1)"), Some(t)) => number(t - 1.0),
                (Some("@expr(metadata['timeout']+1)"), Some(t)) => number(t + 1.0),
                (Some("@expr(metadata['timeout'])"), Some(t)) => number(t),
                _ => value.clone(),
            };
            (key.clone(), evaluated)
        })
        .collect()
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 { Value::from(n as i64) } else { Value::from(n) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use filibuster_runtime::VectorClock;

    fn call(method: &str, timeout: Option<f64>) -> Invocation {
        Invocation {
            instrumentation_type: "invocation".into(),
            source_service_name: "a".into(),
            module: "reqwest".into(),
            method: method.to_owned().into(),
            args: vec!["/x".into()],
            kwargs: Map::new(),
            callsite_file: "".into(),
            callsite_line: Value::Null,
            full_traceback: "id".into(),
            metadata: filibuster_runtime::records::InvocationMetadata { timeout, ..Default::default() },
            vclock: VectorClock::new(),
            origin_vclock: VectorClock::new(),
            execution_index: "[]".into(),
        }
    }

    #[test]
    fn built_in_model() {
        let model = FaultModel::reqwest_default();
        assert_eq!(model.libraries.len(), 7);
        let with_timeout = model.faults_for(&call("GET", Some(10.0)), FaultSite::Invocation, None);
        assert_eq!(with_timeout.len(), 2);
        assert_eq!(model.faults_for(&call("GET", None), FaultSite::Invocation, None).len(), 1);
        assert_eq!(model.faults_for(&call("GET", None), FaultSite::RequestReceived, Some("b")).len(), 3);
        assert_eq!(model.faults_for(&call("GET", None), FaultSite::RequestReceived, None).len(), 0);
        // An RPC: the reference's two exceptions, tonic's timeout where it
        // has one, and the callee's NOT_FOUND on an instrumented callee.
        let rpc = |timeout| Invocation { module: "tonic".into(), ..call("/cinema.Movies/GetMovie", timeout) };
        assert_eq!(model.faults_for(&rpc(None), FaultSite::Invocation, None).len(), 2);
        assert_eq!(model.faults_for(&rpc(Some(1.0)), FaultSite::Invocation, None).len(), 3);
        let errors = model.faults_for(&rpc(None), FaultSite::RequestReceived, Some("movies"));
        assert_eq!(errors.len(), 1);
        assert!(
            matches!(&errors[0], ProposedFault::Failure(f) if f.fault_name() == "status NOT_FOUND"),
            "{errors:?}"
        );
        assert_eq!(model.faults_for(&rpc(None), FaultSite::RequestReceived, None).len(), 0);
    }

    /// A dependency call of `module` whose error type declares `faults`.
    fn dependency_call(module: &str, faults: &[&str]) -> Invocation {
        let mut call = call("insert_order", None);
        call.module = module.to_owned().into();
        call.args = vec!["postgres".to_owned()];
        call.metadata.dependency = Some("postgres".into());
        call.metadata.faults = Some(faults.iter().map(|name| name.to_string().into()).collect());
        call
    }

    fn names(faults: Vec<ProposedFault>) -> Vec<String> {
        faults
            .into_iter()
            .map(|fault| match fault {
                ProposedFault::Exception(e) => e.name,
                ProposedFault::Failure(f) => f.fault_name(),
            })
            .collect()
    }

    /// The built-in model tries each fault a dependency call's error type
    /// declares, once, whether the analysis file knows its crate or not; a
    /// dependency call reaches no service, so nothing else.
    #[test]
    fn built_in_model_on_dependency_calls() {
        let model = FaultModel::reqwest_default();
        let sqlx = ["sqlx.PoolTimedOut", "sqlx.Io.ConnectionRefused", "sqlx.Io.UnexpectedEof"];
        let proposed = model.faults_for(&dependency_call("sqlx", &sqlx), FaultSite::Invocation, None);
        assert_eq!(names(proposed), sqlx);
        let own = ["blob_store.Unavailable"];
        let proposed = model.faults_for(&dependency_call("blob_store", &own), FaultSite::Invocation, None);
        assert_eq!(names(proposed), own);
        let none = model.faults_for(&dependency_call("blob_store", &[]), FaultSite::Invocation, None);
        assert!(none.is_empty());
        let late = model.faults_for(&dependency_call("sqlx", &sqlx), FaultSite::RequestReceived, Some("b"));
        assert!(late.is_empty());
    }

    /// Typed rules match a dependency call by its dependency and operation,
    /// when it is created, and name its faults.
    #[test]
    fn typed_rules_on_dependency_calls() {
        let sqlx = ["sqlx.PoolTimedOut", "sqlx.Io.ConnectionRefused"];
        let call = dependency_call("sqlx", &sqlx);
        let model = FaultModel::empty()
            .with(
                Calls::to("postgres").method("insert_order"),
                [Fault::DependencyError("sqlx.PoolTimedOut".into())],
            )
            .with(Calls::to("redis"), [Fault::DependencyErrors])
            .with(
                Calls::any(),
                [Fault::ConnectionError, Fault::Status(503), Fault::Latency(Duration::from_millis(5))],
            )
            // Another crate's fault is not this call's; a misspelled one of its
            // own crate is proposed, for the explorer to refuse it loudly.
            .with(
                Calls::any(),
                [Fault::DependencyError("redis.BUSY".into()), Fault::DependencyError("sqlx.Oops".into())],
            );
        let proposed = model.faults_for(&call, FaultSite::Invocation, None);
        assert_eq!(names(proposed), ["sqlx.PoolTimedOut", "latency 5 ms", "sqlx.Oops"]);
    }

    #[test]
    fn errors_name_file_key_and_expectation() {
        let path = Path::new("analysis.json");
        let err = FaultModel::from_json(r#"{"x": {"pattern": 3}}"#, path).unwrap_err().to_string();
        assert_eq!(
            err,
            "analysis file analysis.json: at x.pattern: invalid type: integer `3`, expected a string (a regular \
             expression)"
        );
        // Each bad value is named by its path, what was expected and what was found.
        for (text, message) in [
            ("[]", "at the top level: invalid type: sequence, expected a map"),
            (r#"{"x": 3}"#, "at x: invalid type: integer `3`, expected an object with `pattern` and"),
            (r#"{"x": {}}"#, "at x.pattern: expected a string (a regular expression)"),
            (
                r#"{"x": {"pattern": "a", "exceptions": 3}}"#,
                "at x.exceptions: invalid type: integer `3`, expected a sequence",
            ),
            (
                r#"{"x": {"pattern": "a", "exceptions": [{"name": "e"}, {"name": 1}]}}"#,
                "at x.exceptions[1].name: invalid type: integer `1`, expected a string",
            ),
            (
                r#"{"x": {"pattern": "a", "exceptions": [{"name": "e", "metadata": []}]}}"#,
                "at x.exceptions[0].metadata: invalid type: sequence, expected a map",
            ),
            (
                r#"{"x": {"pattern": "a", "errors": [{"service_name": ".*", "types": [{}, 3]}]}}"#,
                r#"at x.errors[0].types[1]: invalid type: integer `3`, expected an object such as {"return_value""#,
            ),
            (
                r#"{"x": {"pattern": "a", "errors": [{"types": []}]}}"#,
                "at x.errors[0].service_name: expected a string (a regular expression)",
            ),
            (
                r#"{"x": {"pattern": "a", "errors": [{"service_name": "("}]}}"#,
                "at x.errors[0].service_name: expected a valid regular expression",
            ),
            (
                r#"{"x": {"pattern": "a", "errors": [{"service_name": "b"}]}}"#,
                "at x.errors[0].types: expected a list of failures",
            ),
        ] {
            let err = FaultModel::from_json(text, path).unwrap_err().to_string();
            assert!(err.starts_with(&format!("analysis file analysis.json: {message}")), "{text}: {err}");
        }
        let pattern = |p: &str| serde_json::json!({"x": {"pattern": p}}).to_string();
        let err = FaultModel::from_json(&pattern("a("), path).unwrap_err().to_string();
        assert_eq!(err, "analysis file analysis.json: at x.pattern: expected a valid regular expression");
        let err = FaultModel::from_json(&pattern(&"a".repeat(MAX_PATTERN_LEN + 1)), path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "analysis file analysis.json: at x.pattern: expected a regular expression of at most 4096 bytes"
        );
        assert!(FaultModel::from_json(&pattern(&"a".repeat(MAX_PATTERN_LEN)), path).is_ok());
        let err = FaultModel::from_json(&pattern(r"\w{1000}{1000}"), path).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "expected a regular expression that compiles to at most 1 MiB (this one is too large)"
            ),
            "{err}"
        );
        let err = FaultModel::from_json("{", path).unwrap_err().to_string();
        assert!(err.starts_with("analysis file analysis.json is not valid JSON"), "{err}");
    }

    #[test]
    fn reference_expressions_and_anchoring() {
        let text = r#"{"p": {"pattern": "requests\\.(get|post)", "exceptions": [
            {"name": "requests.exceptions.Timeout", "metadata": {"sleep": "@expr(metadata['timeout']+1)", "abort": false}, "restrictions": "timeout"}]}}"#;
        let model = FaultModel::from_json(text, Path::new("a.json")).unwrap();
        let mut c = call("get", Some(10.0));
        c.module = "requests".into();
        let faults = model.faults_for(&c, FaultSite::Invocation, None);
        let ProposedFault::Exception(e) = &faults[0] else { panic!() };
        assert_eq!(e.metadata["sleep"], Value::from(11));
        c.module = "xrequests".into();
        assert!(model.faults_for(&c, FaultSite::Invocation, None).is_empty());
    }

    /// Each message of `error`'s chain, outermost first.
    fn chain(error: &dyn std::error::Error) -> Vec<String> {
        std::iter::successors(Some(error), |e| e.source()).map(|e| e.to_string()).collect()
    }

    #[test]
    fn an_error_chain_prints_each_cause_once() {
        let path = Path::new("analysis.json");
        let error = FaultModel::from_json("{", path).unwrap_err();
        let json = serde_json::from_str::<Value>("{").unwrap_err().to_string();
        assert_eq!(chain(&error), ["analysis file analysis.json is not valid JSON".to_string(), json]);
        let missing = std::env::temp_dir().join(format!("filibuster-no-analysis-{}", std::process::id()));
        let error = FaultModel::load(&missing).unwrap_err();
        let messages = chain(&error);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0], format!("cannot read analysis file {}", missing.display()));
        assert!(!messages[0].contains(&messages[1]), "{messages:?}");
    }
}
