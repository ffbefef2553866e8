//! `filibuster::otlp::Otlp::init` in a process whose global `tracing`
//! subscriber is already set fails, saying to add `Otlp::layer()` to that
//! one instead, and changes nothing: no W3C propagator is installed.
//!
//! Its own binary: it sets the process's global subscriber.

use filibuster::otlp::{Otlp, OtlpError};
use tracing_subscriber::util::SubscriberInitExt;

#[test]
fn init_fails_cleanly_when_a_global_subscriber_is_set() {
    tracing_subscriber::registry().init();
    let error = Otlp::new("users").endpoint("http://127.0.0.1:1").init().unwrap_err();
    assert!(matches!(error, OtlpError::SubscriberAlreadySet(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "a global tracing subscriber is already set in this process: add `Otlp::layer()` to it instead of calling `init`"
    );
    let fields: Vec<String> = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.fields().map(str::to_owned).collect()
    });
    assert_eq!(fields, Vec::<String>::new(), "the global propagator is still the no-op one");

    // What `layer()` does install: W3C Trace Context.
    let (_layer, guard) =
        Otlp::new("users").endpoint("http://127.0.0.1:1").layer::<tracing_subscriber::Registry>().unwrap();
    let fields: Vec<String> = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.fields().map(str::to_owned).collect()
    });
    assert_eq!(fields, ["traceparent", "tracestate"]);
    guard.shutdown().expect("nothing to send");
}
