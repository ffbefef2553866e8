//! Counterexample files: a failing execution, to replay.
//!
//! The format is the reference's: `{"functional_test": "<command>",
//! "TestExecution": "<JSON text>"}` where the text holds `failures` (the
//! planned faults), `log` and `response_log`. Replaying runs only that
//! execution, with those faults.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use super::execution::PlannedFault;
use super::report::CallName;

/// A failing execution, saved to be replayed.
#[derive(Clone, Debug, PartialEq)]
pub struct Counterexample {
    /// The functional test that failed (a command, or a test's name).
    pub functional_test: String,
    /// The faults planned in the failing execution.
    pub faults: Vec<PlannedFault>,
    /// The calls of the failing execution (the reference's filtered log).
    pub log: Vec<Value>,
    /// The calls with their targets and outcomes (the reference's
    /// `response_log`).
    pub response_log: Vec<Value>,
}

/// Why a counterexample file cannot be used.
///
/// The underlying error, when there is one, is the
/// [`source`](std::error::Error::source) and not repeated in the message, so
/// that a printed error chain names it once.
#[derive(Debug, thiserror::Error)]
pub enum CounterexampleError {
    /// It cannot be read.
    #[error("cannot read counterexample file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It does not parse.
    #[error("counterexample file {path} does not parse: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Counterexample {
    /// Reads a counterexample file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CounterexampleError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| CounterexampleError::Read { path: path.into(), source })?;
        Self::parse(&text).map_err(|reason| CounterexampleError::Parse { path: path.into(), reason })
    }

    /// Parses the text of a counterexample file. An error names the path
    /// of the bad value (`TestExecution.failures[0].execution_index`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: FileRepr = typed(&mut serde_json::Deserializer::from_str(text), "")?;
        let execution: ExecutionRepr = match file.execution {
            Some(Value::String(inner)) => {
                typed(&mut serde_json::Deserializer::from_str(&inner), "TestExecution")?
            }
            Some(object @ Value::Object(_)) => typed(object, "TestExecution")?,
            _ => return Err("missing `TestExecution` (a JSON text with `failures` and `log`)".into()),
        };
        let faults = execution.failures.ok_or("`TestExecution` has no `failures`")?;
        Ok(Self {
            functional_test: file.functional_test.unwrap_or_default(),
            faults,
            log: execution.log.unwrap_or_default(),
            response_log: execution.response_log.unwrap_or_default(),
        })
    }

    /// The file's text, readable by the reference implementation too.
    pub fn to_json(&self) -> String {
        let execution = json!({
            "failures": self.faults,
            "_failures": self.faults,
            "log": self.log,
            "_log": self.log,
            "response_log": self.response_log,
        });
        let file = json!({
            "functional_test": self.functional_test,
            "TestExecution": serde_json::to_string_pretty(&execution).unwrap_or_default(),
        });
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }
}

/// A counterexample file as written: the reference's.
#[derive(Deserialize)]
struct FileRepr {
    functional_test: Option<String>,
    /// A JSON text (the reference's), or the object itself.
    #[serde(rename = "TestExecution")]
    execution: Option<Value>,
}

/// What `TestExecution` holds (`_failures` and `_log`, the reference's
/// copies, are not read).
#[derive(Deserialize)]
struct ExecutionRepr {
    failures: Option<Vec<PlannedFault>>,
    log: Option<Vec<Value>>,
    response_log: Option<Vec<Value>>,
}

/// `T` from `input`, or an error naming the path of the bad value below
/// `prefix` (`TestExecution.failures[0]: missing field ...`).
fn typed<'de, T: serde::Deserialize<'de>>(
    input: impl serde::Deserializer<'de, Error = serde_json::Error>,
    prefix: &str,
) -> Result<T, String> {
    serde_path_to_error::deserialize(input).map_err(|error| {
        let inner = error.inner();
        if inner.classify() != serde_json::error::Category::Data {
            return match prefix {
                "" => format!("not JSON: {inner}"),
                prefix => format!("`{prefix}` is not a JSON text: {inner}"),
            };
        }
        let path = error.path().to_string();
        let path = match (prefix, path.as_str()) {
            (prefix, ".") => prefix.to_owned(),
            ("", path) => path.to_owned(),
            (prefix, path) => format!("{prefix}.{path}"),
        };
        format!("`{path}`: {inner}")
    })
}

impl Counterexample {
    /// Where each call of the failing execution came from, by execution
    /// index (from its `log`, and its `response_log` for targets and fns).
    pub(crate) fn sites(&self) -> impl Iterator<Item = (String, CallName, Option<String>)> + '_ {
        self.log.iter().chain(&self.response_log).filter_map(|entry| {
            let index = entry.get("execution_index")?.as_str()?.to_owned();
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
            let line = match entry.get("callsite_line") {
                Some(Value::String(line)) => line.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let method = text("method").unwrap_or_default();
            let dependency = entry.pointer("/metadata/dependency").is_some_and(|d| !d.is_null());
            let first = entry.pointer("/args/0").and_then(Value::as_str);
            let module = text("module").unwrap_or_default();
            let (shown_method, path) = crate::state::operation(&module, &method, first, dependency);
            let site = CallName {
                source: text("source_service_name").unwrap_or_default(),
                target: text("target_service_name").filter(|t| t != "external"),
                method: shown_method,
                path,
                callsite: crate::state::callsite_place(&text("callsite_file").unwrap_or_default(), &line),
                function: text("callsite_function")
                    .or_else(|| crate::state::callsite_function(&text("full_traceback")?, &method)),
            };
            Some((index, site, text("full_traceback")))
        })
    }

    /// The service each call reached, by execution index, as the failing
    /// execution knew it (calls failed before reaching anything included).
    pub(crate) fn targets(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.response_log.iter().filter_map(|entry| {
            let index = entry.get("execution_index")?.as_str()?;
            let target = entry.get("target_service_name")?.as_str()?;
            (target != "external").then(|| (index.to_owned(), target.to_owned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let ce = Counterexample {
            functional_test: "cargo test".into(),
            faults: vec![PlannedFault {
                execution_index: r#"[["a", 1]]"#.into(),
                forced_exception: Some(filibuster_runtime::records::Exception {
                    name: "reqwest.timeout".into(),
                    metadata: Default::default(),
                }),
                failure_metadata: None,
                args: vec!["/x".into()],
            }],
            log: vec![json!({"generated_id": 0})],
            response_log: vec![json!({"generated_id": 0, "target_service_name": "b"})],
        };
        assert_eq!(Counterexample::parse(&ce.to_json()).unwrap(), ce);
        assert!(
            Counterexample::parse("{").unwrap_err().starts_with("not JSON"),
            "{:?}",
            Counterexample::parse("{")
        );
        assert_eq!(
            Counterexample::parse(r#"{"TestExecution": "{}"}"#).unwrap_err(),
            "`TestExecution` has no `failures`"
        );
        assert_eq!(
            Counterexample::parse(r#"{"TestExecution": {"failures": [{"x": 1}]}}"#).unwrap_err(),
            "`TestExecution.failures[0]`: missing field `execution_index`"
        );
        // The path of the bad value, in the JSON text of the reference's form too.
        let text = r#"{"TestExecution": "{\"failures\": [{\"execution_index\": 7}]}"}"#;
        assert_eq!(
            Counterexample::parse(text).unwrap_err(),
            "`TestExecution.failures[0].execution_index`: invalid type: integer `7`, expected a string at \
             line 1 column 35"
        );
        assert_eq!(
            Counterexample::parse(r#"{"functional_test": 3, "TestExecution": {}}"#).unwrap_err(),
            "`functional_test`: invalid type: integer `3`, expected a string at line 1 column 21"
        );
    }

    /// Each message of `error`'s chain, outermost first.
    fn chain(error: &dyn std::error::Error) -> Vec<String> {
        std::iter::successors(Some(error), |e| e.source()).map(|e| e.to_string()).collect()
    }

    #[test]
    fn an_error_chain_prints_each_cause_once() {
        let missing =
            std::env::temp_dir().join(format!("filibuster-no-counterexample-{}", std::process::id()));
        let error = Counterexample::load(&missing).unwrap_err();
        let messages = chain(&error);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0], format!("cannot read counterexample file {}", missing.display()));
        assert!(!messages[0].contains(&messages[1]), "{messages:?}");
    }
}
