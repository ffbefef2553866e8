//! W3C trace context across instrumented calls (feature `otel`): the
//! `traceparent` and `tracestate` headers injected into every instrumented
//! call from its client span's OpenTelemetry context, and extracted by every
//! instrumented handler (or [`ServiceLayer`](crate::ServiceLayer)) into its
//! server span's parent, so that a request through several services is one
//! trace.
//!
//! The contexts are those `tracing-opentelemetry` keeps for the spans
//! ([`OpenTelemetrySpanExt`]): with no `tracing_opentelemetry::layer()` in
//! the subscriber, the spans have none, and nothing is injected. The format
//! is always W3C trace context, with OpenTelemetry's own
//! [`TraceContextPropagator`], whatever text-map propagator
//! `opentelemetry::global` holds.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Writes the trace context of `span` (a client span) into `headers`, when
/// it has one. A client span that a subscriber takes but that has no
/// context means that `otel` cannot work as the user meant: it is said,
/// once per process.
pub(crate) fn inject(span: &Span, headers: &mut HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    if !context.span().span_context().is_valid() {
        warn_no_context();
        return;
    }
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// The environment variable of the collector's base URL, for every signal
/// (`/v1/traces` is appended).
pub const ENV_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The environment variable of the full URL the traces are sent to.
pub const ENV_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

/// Says, once per process, that instrumented calls send no trace context:
/// their client spans are recorded, but by no `tracing-opentelemetry`
/// layer. A warning when the process was given a collector to export to
/// ([`ENV_ENDPOINT`] or [`ENV_TRACES_ENDPOINT`]), so that traces were
/// wanted; else at debug level: a service built with the feature that
/// exports only when told where (as the cinema's do) is not wrong.
#[cold]
fn warn_no_context() {
    const MESSAGE: &str = "filibuster's `otel` feature is on, but the client spans of instrumented calls \
                           have no OpenTelemetry context: no `traceparent` is sent, and a request through \
                           several services is not one trace. Add a `tracing_opentelemetry` layer that \
                           takes the spans of target `filibuster::http` to the subscriber \
                           (`filibuster::otlp::init`, or `filibuster::otlp::Otlp::layer()` in one of your \
                           own), or turn the feature off (said once)";
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        if traces_wanted() {
            tracing::warn!("{MESSAGE}");
        } else {
            tracing::debug!("{MESSAGE}");
        }
    });
}

/// Whether the environment names a collector for the traces.
fn traces_wanted() -> bool {
    [ENV_ENDPOINT, ENV_TRACES_ENDPOINT]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Makes the trace context of `headers` (an incoming request's), when they
/// carry a valid one, the parent of `span` (its server span). Returns
/// whether they did.
pub(crate) fn extract(span: &Span, headers: &HeaderMap) -> bool {
    if span.is_disabled() {
        return false;
    }
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if !context.span().span_context().is_valid() {
        return false;
    }
    let _ = span.set_parent(context);
    true
}

/// Makes `parent` the parent of `span` (a server span not entered yet),
/// when both have an OpenTelemetry context.
pub(crate) fn set_parent_span(span: &Span, parent: &Span) {
    if span.is_disabled() || parent.is_disabled() {
        return;
    }
    let context = parent.context();
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// The trace id of `span`, as 32 hex digits, when it has an OpenTelemetry
/// context.
pub(crate) fn trace_id(span: &Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

/// Whether `headers` carry a trace context.
pub(crate) fn carries_context(headers: &HeaderMap) -> bool {
    headers.contains_key("traceparent")
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::try_from(value))
        {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}
