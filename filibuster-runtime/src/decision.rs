//! What the server's answer to `create` decides for one call: proceed,
//! fail with an error, answer a status, or wait first. Client-agnostic:
//! each adapter says which exceptions its calls can be failed with (its
//! `Call::Fault`, a reqwest `ErrorKind` or a dependency's own error), and
//! turns them and the status into its client's genuine values.

use std::borrow::Cow;

use serde_json::Value;

use crate::records::{CreateResponse, Exception, latency_fault_name, status_fault_name};

/// What the server decided for one call, whose faults are `F`s.
pub(crate) enum Decision<F> {
    Proceed,
    Fail(F, Exception),
    /// Fail as the callee's own error would (an `errors` fault: a gRPC
    /// status), reported as this exception.
    CalleeError(F, Exception),
    /// Perform the call with a forced sleep downstream, then fail.
    DelayThenFail(F, Exception, f64),
    Status(http::StatusCode),
    /// Perform the call, its answer coming this long after it was sent, its
    /// own timeout firing meanwhile (a latency fault:
    /// failure metadata `{"latency_ms": <n>}`, bounded by
    /// [`MAX_FORCED_SLEEP`](crate::headers::MAX_FORCED_SLEEP)).
    DelayThenProceed(std::time::Duration),
    /// Perform the call, its answer never coming; its own timeout, or its
    /// caller's, ends it (a hang fault: failure metadata `{"hang": true}`).
    Hang,
    /// The server asked for an exception this call cannot be failed with
    /// (named here): it goes ahead un-faulted, said loudly by the caller
    /// ([`unknown_exception`]), rather than failing with another fault.
    Unknown(String),
}

impl<F> Decision<F> {
    /// What `answer` decides, `fault` naming the fault an exception stands
    /// for on this call, and `callee_error` the fault the callee's own
    /// error stands for and how it is reported (`None`: one it cannot take).
    pub(crate) fn of(
        answer: CreateResponse,
        fault: impl FnOnce(&Exception) -> Option<F>,
        callee_error: impl FnOnce(&serde_json::Map<String, Value>) -> Option<(F, Exception)>,
    ) -> Self {
        let error = answer
            .failure_metadata
            .as_ref()
            .and_then(|f| f.other.get(crate::records::FailureMetadata::EXCEPTION))
            .and_then(Value::as_object);
        if let (None, Some(error)) = (&answer.forced_exception, error) {
            return match callee_error(error) {
                Some((fault, exception)) => Decision::CalleeError(fault, exception),
                None => {
                    let error = crate::records::compact(&Value::Object(error.clone()));
                    Decision::Unknown(format!("the callee's error {error}"))
                }
            };
        }
        if let Some(exception) = answer.forced_exception {
            let Some(fault) = fault(&exception) else {
                return Decision::Unknown(exception.name);
            };
            if !exception.after_the_callee() {
                return Decision::Fail(fault, exception);
            }
            let sleep = exception.metadata.get("sleep").and_then(json_number).unwrap_or(0.0);
            return Decision::DelayThenFail(fault, exception, sleep_seconds(sleep));
        }
        let status = answer
            .failure_metadata
            .as_ref()
            .and_then(|f| f.return_value.as_ref())
            .and_then(|value| value.status_code.as_ref());
        if let Some(status_code) = status {
            match status_code.trim().parse::<u16>().ok().and_then(|c| http::StatusCode::from_u16(c).ok()) {
                Some(status) => return Decision::Status(status),
                None => {
                    tracing::warn!(status = %status_code, "ignoring a failure with an invalid status code")
                }
            }
        }
        if answer.failure_metadata.as_ref().is_some_and(crate::records::FailureMetadata::is_hang) {
            return Decision::Hang;
        }
        let latency = answer
            .failure_metadata
            .as_ref()
            .and_then(|f| f.other.get(crate::records::FailureMetadata::LATENCY_MS));
        if let Some(latency) = latency {
            match json_number(latency).filter(|ms| ms.is_finite() && *ms >= 0.0) {
                Some(ms) => {
                    let max = crate::headers::MAX_FORCED_SLEEP;
                    let delay = std::time::Duration::from_secs_f64((ms / 1000.0).min(max.as_secs_f64()));
                    return Decision::DelayThenProceed(delay);
                }
                None => {
                    let latency = crate::records::compact(latency);
                    tracing::warn!(%latency, "ignoring a latency fault with an invalid number of milliseconds")
                }
            }
        }
        Decision::Proceed
    }

    /// The name of the fault the decision injects, as the client span's
    /// `filibuster.fault` shows it and the reports do: the exception's name
    /// (`reqwest.timeout`), `status 503`, `latency 100 ms`; `None` to
    /// proceed as usual.
    pub(crate) fn fault_name(&self) -> Option<Cow<'static, str>> {
        match self {
            Decision::Proceed | Decision::Unknown(_) => None,
            Decision::Fail(_, exception) | Decision::DelayThenFail(_, exception, _) => {
                Some(Cow::Owned(exception.fault_name()))
            }
            Decision::CalleeError(_, exception) => {
                let code = exception.metadata.get("code").cloned().unwrap_or_default();
                Some(Cow::Owned(crate::records::callee_error_fault_name(&code)))
            }
            Decision::Status(status) => Some(Cow::Owned(status_fault_name(status.as_u16()))),
            Decision::DelayThenProceed(delay) => Some(Cow::Owned(latency_fault_name(delay.as_millis()))),
            Decision::Hang => Some(Cow::Borrowed(crate::records::HANG_FAULT_NAME)),
        }
    }
}

/// The server asked for an exception no call of `module` can be failed
/// with (`known` are the names it can): the call goes ahead un-faulted
/// rather than with another fault, said loudly. (This project's explorer
/// never asks for one: it refuses such a fault model or counterexample;
/// another server might.)
#[cold]
pub(crate) fn unknown_exception(module: &str, name: &str, known: &[&str]) {
    // Bounded: the name comes from the server.
    let shown: String = name.chars().take(200).collect();
    tracing::error!(
        exception = ?shown,
        module,
        "the server asked for an exception no {module} call can be failed with, so none is injected \
         and the call goes ahead: the known names are {}",
        known.join(", ")
    );
}

/// The server asked for a status on a call that answers no status (a
/// dependency call): it goes ahead un-faulted, said loudly.
#[cold]
pub(crate) fn status_on_a_call_without_one(module: &str, status: http::StatusCode) {
    tracing::error!(
        module,
        status = status.as_u16(),
        "the server asked for a status on a {module} call, which answers no status, so none is injected \
         and the call goes ahead: fault a dependency call with one of the faults its error type names"
    );
}

fn json_number(value: &Value) -> Option<f64> {
    value.as_f64().or_else(|| value.as_str()?.trim().parse().ok())
}

/// The forced sleep of a non-aborting fault, in seconds: a negative, NaN or
/// infinite one (`"sleep": "-1"`, `"NaN"`, `"1e400"`) is no sleep, said
/// with a warning; any other is passed on as it is (the receiving handler
/// bounds it).
fn sleep_seconds(seconds: f64) -> f64 {
    if seconds.is_finite() && seconds >= 0.0 {
        // -0.0 as 0.
        return seconds + 0.0;
    }
    tracing::warn!(sleep = seconds, "ignoring the invalid forced sleep of a non-aborting fault");
    0.0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Map;

    use super::*;
    use crate::fault::ErrorKind;
    use crate::headers;
    use crate::outgoing::format_seconds;
    use crate::records::ReturnValue;

    /// The answer of a server that asks for a non-aborting fault sleeping
    /// `sleep`.
    fn non_aborting(sleep: Value) -> CreateResponse {
        let mut metadata = Map::new();
        metadata.insert("abort".into(), Value::Bool(false));
        metadata.insert("sleep".into(), sleep);
        CreateResponse {
            generated_id: 1,
            forced_exception: Some(Exception { name: "reqwest.timeout".into(), metadata }),
            ..CreateResponse::default()
        }
    }

    /// The forced sleep a decision sends downstream, as the header's text.
    fn sleep_header(answer: &CreateResponse) -> Option<String> {
        match reqwest_decision(answer.clone()) {
            Decision::DelayThenFail(_, _, sleep) => Some(format_seconds(sleep)),
            _ => None,
        }
    }

    /// What `answer` decides for a reqwest call.
    fn reqwest_decision(answer: CreateResponse) -> Decision<ErrorKind> {
        Decision::of(answer, |exception| ErrorKind::from_name(&exception.name), |_| None)
    }

    /// What the receiving handler makes of a forced-sleep header.
    fn received_sleep(text: &str) -> Option<std::time::Duration> {
        let mut map = http::HeaderMap::new();
        map.insert(headers::name::FORCED_SLEEP, http::HeaderValue::from_str(text).ok()?);
        headers::FilibusterHeaders::from_headers(&map).forced_sleep
    }

    #[test]
    fn faults_are_named_for_their_spans() {
        let exception = |name: &str| Exception { name: name.into(), metadata: Map::new() };
        let names = [
            (Decision::Proceed, None),
            (Decision::Fail(ErrorKind::Connect, exception("reqwest.connect")), Some("reqwest.connect")),
            (Decision::Fail(ErrorKind::Timeout, exception("reqwest.timeout")), Some("reqwest.timeout")),
            (
                Decision::DelayThenFail(ErrorKind::Timeout, exception("reqwest.timeout"), 1.0),
                Some("reqwest.timeout"),
            ),
            (Decision::Status(http::StatusCode::SERVICE_UNAVAILABLE), Some("status 503")),
            (Decision::DelayThenProceed(std::time::Duration::from_millis(100)), Some("latency 100 ms")),
            (Decision::Hang, Some("hang")),
        ];
        for (decision, name) in names {
            assert_eq!(decision.fault_name().as_deref(), name);
        }
    }

    /// An exception no reqwest call can be failed with is no fault: the
    /// call goes ahead, rather than failing with a connection error as any
    /// unknown name once did.
    #[test]
    fn unknown_exceptions_are_not_injected() {
        for name in ["reqwest.nonsense", "requests.exceptions.HTTPError", "Timeout!"] {
            let answer = CreateResponse {
                generated_id: 1,
                forced_exception: Some(Exception { name: name.into(), metadata: Map::new() }),
                ..CreateResponse::default()
            };
            assert!(matches!(reqwest_decision(answer), Decision::Unknown(ref n) if n == name), "{name}");
        }
        let answer = CreateResponse {
            generated_id: 1,
            forced_exception: Some(Exception {
                name: "requests.exceptions.Timeout".into(),
                metadata: Map::new(),
            }),
            ..CreateResponse::default()
        };
        assert!(matches!(reqwest_decision(answer), Decision::Fail(ErrorKind::Timeout, _)));
    }

    #[test]
    fn invalid_forced_sleeps_are_no_sleep() {
        for sleep in ["-1", "-0", "NaN", "inf", "-inf", "1e400", "-1e400"] {
            assert_eq!(sleep_header(&non_aborting(Value::from(sleep))).as_deref(), Some("0"), "{sleep}");
        }
        assert_eq!(sleep_header(&non_aborting(Value::from(-2.5))).as_deref(), Some("0"));
        assert_eq!(sleep_header(&non_aborting(Value::from(i64::MIN))).as_deref(), Some("0"));
        assert_eq!(sleep_header(&non_aborting(Value::from("soon"))).as_deref(), Some("0"));
        assert_eq!(sleep_header(&non_aborting(Value::Null)).as_deref(), Some("0"));
    }

    #[test]
    fn forced_sleeps_print_as_the_reference_parses_them() {
        for (sleep, text) in [
            (Value::from(3), "3"),
            (Value::from(3.0), "3"),
            (Value::from(0.25), "0.25"),
            (Value::from(" 11 "), "11"),
            (Value::from(u64::MAX), "18446744073709552000"),
            // Past i64: whole digits, not the saturated i64::MAX.
            (Value::from(1e20), "100000000000000000000"),
        ] {
            assert_eq!(sleep_header(&non_aborting(sleep.clone())).as_deref(), Some(text), "{sleep}");
        }
        assert_eq!(received_sleep("100000000000000000000"), Some(headers::MAX_FORCED_SLEEP));
    }

    /// JSON values a server may put in a fault's `sleep`.
    fn sleep_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<f64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| Value::from(f.to_string())),
            "[-+ ]?(inf|infinity|NaN|nan|[0-9]{0,400}(\\.[0-9]{0,20})?(e[-+]?[0-9]{1,4})?) ?"
                .prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
            Just(Value::Null),
            Just(Value::Bool(true)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whatever a server asks for, a decision is made without a panic,
        /// and a forced sleep is sent as a header the receiving handler
        /// reads back, bounded, as the same number of seconds.
        #[test]
        fn any_answer_makes_a_decision(
            sleep in sleep_value(),
            abort in prop_oneof![Just(Value::Bool(false)), Just(Value::Bool(true)), Just(Value::Null), ".{0,5}".prop_map(Value::from)],
            name in ".{0,40}",
            status in prop_oneof![any::<u16>().prop_map(|c| c.to_string()), ".{0,8}"],
        ) {
            let mut answer = non_aborting(sleep);
            if let Some(exception) = &mut answer.forced_exception {
                exception.name = name;
                exception.metadata.insert("abort".into(), abort);
            }
            if let Some(text) = sleep_header(&answer) {
                let seconds: f64 = text.parse().unwrap();
                prop_assert!(seconds.is_finite() && seconds >= 0.0, "{text}");
                let expected = std::time::Duration::from_secs_f64(seconds.min(headers::MAX_FORCED_SLEEP.as_secs_f64()));
                prop_assert_eq!(received_sleep(&text), Some(expected), "{}", text);
            }
            let status_only = CreateResponse {
                generated_id: 0,
                failure_metadata: Some(crate::records::FailureMetadata {
                    return_value: Some(ReturnValue { class: None, status_code: Some(status.clone().into()), text: None }),
                    other: Map::new(),
                }),
                ..CreateResponse::default()
            };
            match reqwest_decision(status_only) {
                Decision::Status(code) => prop_assert_eq!(code.as_u16(), status.trim().parse::<u16>().unwrap()),
                Decision::Proceed => prop_assert!(status.trim().parse::<u16>().ok().and_then(|c| http::StatusCode::from_u16(c).ok()).is_none()),
                _ => prop_assert!(false, "a status became an exception"),
            }
        }
    }
}
