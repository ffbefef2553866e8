//! The spans the runtime makes, exported over OTLP: one trace from the
//! functional test through `users` to `bookings`. The test's span is the
//! parent of `users`' server span (the request carries its `traceparent`),
//! which is the ancestor of the client span of the `#[filibuster::call]`,
//! which is the parent of `bookings`' server span (the instrumented call
//! sends `traceparent`); each with the HTTP semantic-convention attributes.
//!
//! Its own binary: the export installs the process's global subscriber.

#[path = "support/otlp.rs"]
mod otlp;
mod support;

use std::collections::HashMap;

use opentelemetry::propagation::Injector;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Headers to inject a context into.
struct Headers(HashMap<String, String>);

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// Whether `span` is `ancestor` or one of its descendants in `spans`.
fn descends_from(
    spans: &[otlp::ReceivedSpan],
    span: &otlp::ReceivedSpan,
    ancestor: &otlp::ReceivedSpan,
) -> bool {
    let mut current = Some(span);
    while let Some(span) = current {
        if span.span_id == ancestor.span_id {
            return true;
        }
        current = span.parent_span_id.as_ref().and_then(|parent| spans.iter().find(|s| &s.span_id == parent));
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_spans_make_one_trace_across_services() {
    let receiver = otlp::Receiver::start();
    let guard = receiver.export_as("cinema");
    let users = otlp::start_services(false).await;

    let test = tracing::info_span!("functional test");
    let status = async {
        // The test's request is not a `#[filibuster::call]`: it sends its
        // context itself.
        let mut headers = Headers(HashMap::new());
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&tracing::Span::current().context(), &mut headers)
        });
        let mut request = reqwest::Client::new().get(format!("{users}/users/chris_rivers/bookings"));
        for (name, value) in headers.0 {
            request = request.header(name, value);
        }
        request.send().await.expect("users answers").status()
    }
    .instrument(test)
    .await;
    assert_eq!(status, 200);
    otlp::shut_down(guard).await;

    let spans = receiver.spans();
    let test = receiver.span("functional test");
    let server = |route: &str| {
        let found: Vec<&otlp::ReceivedSpan> = spans
            .iter()
            .filter(|s| {
                s.kind == "SPAN_KIND_SERVER"
                    && s.attributes.get("http.route").map(String::as_str) == Some(route)
            })
            .collect();
        assert_eq!(found.len(), 1, "one server span of {route}: {spans:#?}");
        found[0].clone()
    };
    let users_server = server("/users/{user}/bookings");
    let bookings_server = server("/bookings/{user}");
    let clients: Vec<&otlp::ReceivedSpan> = spans.iter().filter(|s| s.kind == "SPAN_KIND_CLIENT").collect();
    assert_eq!(clients.len(), 1, "one client span, the call to bookings: {spans:#?}");
    let client = clients[0];

    for span in [&users_server, &bookings_server, client] {
        assert_eq!(span.trace_id, test.trace_id, "one trace: {span:#?}");
        assert_eq!(span.attributes.get("http.request.method").map(String::as_str), Some("GET"), "{span:#?}");
    }
    assert!(
        client.attributes.values().any(|value| value.contains("/bookings/chris_rivers")),
        "the client span names what it asked for: {client:#?}"
    );
    assert_eq!(users_server.parent_span_id.as_deref(), Some(test.span_id.as_str()), "traceparent taken in");
    assert!(descends_from(&spans, client, &users_server), "the call made while serving: {spans:#?}");
    assert_eq!(bookings_server.parent_span_id.as_deref(), Some(client.span_id.as_str()), "traceparent sent");
}
