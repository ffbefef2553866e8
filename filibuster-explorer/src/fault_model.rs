//! Fault models: which faults the explorer tries on which calls.
//!
//! The format is the reference's *analysis file*: one entry per instrumented
//! library, each with a `pattern` matched (anchored at the start, like
//! Python's `re.match`) against `"<module>.<method>"`, and `exceptions`
//! (raised on the caller's side, tried when a call is created) and/or
//! `errors` (status codes, tried when the call reached an instrumented
//! service whose name matches `service_name`).

use std::path::{Path, PathBuf};

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use filibuster_runtime::records::{Exception, FailureMetadata, Invocation};

/// A fault model, loaded from an analysis file or built in.
#[derive(Clone, Debug)]
pub struct FaultModel {
    libraries: Vec<Library>,
    /// Where it was read from: `<built-in>`, or the analysis file's path.
    source: String,
}

#[derive(Clone, Debug)]
struct Library {
    pattern: Regex,
    exceptions: Vec<ExceptionFault>,
    errors: Vec<ErrorFault>,
}

#[derive(Clone, Debug)]
struct ExceptionFault {
    name: String,
    metadata: Map<String, Value>,
    restriction: Option<String>,
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
    #[error("analysis file {path}: at {key}: expected {expected}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where, e.g. `http.errors[0].service_name`.
        key: String,
        /// What should be there.
        expected: String,
    },
}

/// The built-in fault model for reqwest, as an analysis file: a connection
/// error on every call, a timeout on calls that set one, and 500, 502 and 503
/// on calls whose target is an instrumented service.
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
  }
}"#;

impl Default for FaultModel {
    fn default() -> Self {
        Self::reqwest_default()
    }
}

impl FaultModel {
    /// The built-in model ([`REQWEST_DEFAULT`]).
    pub fn reqwest_default() -> Self {
        // The built-in text is valid; a test proves it.
        Self::from_json(REQWEST_DEFAULT, Path::new("<built-in>"))
            .unwrap_or(Self { libraries: Vec::new(), source: "<built-in>".to_owned() })
    }

    /// Where the model was read from: `<built-in>` for
    /// [`FaultModel::reqwest_default`], else the path given to
    /// [`FaultModel::load`] or [`FaultModel::from_json`].
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
        let invalid = |key: String, expected: &str| FaultModelError::Invalid {
            path: path.into(),
            key,
            expected: expected.to_owned(),
        };
        let Value::Object(entries) = value else {
            return Err(invalid("the top level".into(), "an object of libraries"));
        };
        let mut libraries = Vec::new();
        for (name, entry) in entries {
            let Value::Object(entry) = entry else {
                return Err(invalid(name, "an object with `pattern` and `exceptions` or `errors`"));
            };
            let pattern = match entry.get("pattern") {
                Some(Value::String(p)) => {
                    anchored(p).map_err(|expected| invalid(format!("{name}.pattern"), expected))?
                }
                _ => return Err(invalid(format!("{name}.pattern"), "a string (a regular expression)")),
            };
            let exceptions = match entry.get("exceptions") {
                None => Vec::new(),
                Some(Value::Array(list)) => list
                    .iter()
                    .enumerate()
                    .map(|(i, e)| exception_fault(e).ok_or_else(|| {
                        invalid(format!("{name}.exceptions[{i}]"), "an object with a string `name`, optional object `metadata` and optional string `restrictions`")
                    }))
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(invalid(format!("{name}.exceptions"), "a list")),
            };
            let errors = match entry.get("errors") {
                None => Vec::new(),
                Some(Value::Array(list)) => {
                    let mut errors = Vec::new();
                    for (i, e) in list.iter().enumerate() {
                        let key = format!("{name}.errors[{i}]");
                        let service_name = match e.get("service_name") {
                            Some(Value::String(s)) => anchored(s)
                                .map_err(|expected| invalid(format!("{key}.service_name"), expected))?,
                            _ => {
                                return Err(invalid(
                                    format!("{key}.service_name"),
                                    "a string (a regular expression)",
                                ));
                            }
                        };
                        let types = match e.get("types") {
                            Some(Value::Array(types)) => types
                                .iter()
                                .enumerate()
                                .map(|(j, t)| {
                                    serde_json::from_value::<FailureMetadata>(t.clone()).map_err(|err| {
                                        invalid(format!("{key}.types[{j}]"), &format!("an object such as {{\"return_value\": {{\"status_code\": \"503\"}}}} ({err})"))
                                    })
                                })
                                .collect::<Result<_, _>>()?,
                            _ => return Err(invalid(format!("{key}.types"), "a list of failures")),
                        };
                        errors.push(ErrorFault { service_name, types });
                    }
                    errors
                }
                Some(_) => return Err(invalid(format!("{name}.errors"), "a list")),
            };
            libraries.push(Library { pattern, exceptions, errors });
        }
        Ok(Self { libraries, source: path.display().to_string() })
    }

    /// The faults to try on `call` at `site`, in the model's order.
    /// `target_service` is the service the call reached (for status errors).
    pub fn faults_for(
        &self,
        call: &Invocation,
        site: FaultSite,
        target_service: Option<&str>,
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
                        faults.push(ProposedFault::Exception(Exception {
                            name: exception.name.clone(),
                            metadata: evaluate_metadata(&exception.metadata, call),
                        }));
                    }
                }
                FaultSite::RequestReceived => {
                    let Some(target) = target_service else { continue };
                    for error in library.errors.iter().filter(|e| e.service_name.is_match(target)) {
                        faults.extend(error.types.iter().cloned().map(ProposedFault::Failure));
                    }
                }
            }
        }
        faults
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

fn exception_fault(value: &Value) -> Option<ExceptionFault> {
    let name = value.get("name")?.as_str()?.to_owned();
    let metadata = match value.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return None,
    };
    let restriction = match value.get("restrictions") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    Some(ExceptionFault { name, metadata, restriction })
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
        assert_eq!(model.libraries.len(), 2);
        let with_timeout = model.faults_for(&call("GET", Some(10.0)), FaultSite::Invocation, None);
        assert_eq!(with_timeout.len(), 2);
        assert_eq!(model.faults_for(&call("GET", None), FaultSite::Invocation, None).len(), 1);
        assert_eq!(model.faults_for(&call("GET", None), FaultSite::RequestReceived, Some("b")).len(), 3);
        assert_eq!(model.faults_for(&call("GET", None), FaultSite::RequestReceived, None).len(), 0);
    }

    #[test]
    fn errors_name_file_key_and_expectation() {
        let path = Path::new("analysis.json");
        let err = FaultModel::from_json(r#"{"x": {"pattern": 3}}"#, path).unwrap_err().to_string();
        assert_eq!(
            err,
            "analysis file analysis.json: at x.pattern: expected a string (a regular expression)"
        );
        let err = FaultModel::from_json(
            r#"{"x": {"pattern": "a", "errors": [{"service_name": ".*", "types": [3]}]}}"#,
            path,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("analysis file analysis.json: at x.errors[0].types[0]: expected an object"),
            "{err}"
        );
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
