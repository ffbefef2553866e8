//! `filibuster::otlp::Otlp::init` exports the spans of a process to a real
//! OTLP/HTTP receiver on loopback, each with the resource of the service
//! (`service.name`, `service.version`, `deployment.environment.name`), the
//! parent of a span being the span it was created in, and shutting the
//! guard down sends the last of them; the HTTP stack's own spans are not
//! exported by default.
//!
//! The export installs the process's global subscriber, which can be done
//! once: this binary holds one test (the runtime's own spans are checked
//! in `test_otlp_runtime_spans.rs`).

#[path = "support/otlp.rs"]
mod otlp;
mod support;

use tracing::Instrument;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_with_the_resource_of_the_service() {
    let receiver = otlp::Receiver::start();
    let guard = receiver.export_as("users");
    assert_eq!(guard.endpoint(), format!("{}/v1/traces", receiver.endpoint()));
    let users = otlp::start_services(true).await;

    let check = tracing::info_span!("check chris_rivers", user = "chris_rivers");
    let (status, body) = async {
        let response = reqwest::get(format!("{users}/users/chris_rivers/bookings"))
            .instrument(tracing::info_span!("ask users"))
            .await
            .expect("users answers");
        (response.status(), response.text().await.unwrap())
    }
    .instrument(check)
    .await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "[\"chris_rivers: Creed\"]"));
    // A span of the HTTP stack the exporter runs on is not exported by
    // default; the service's own at DEBUG are.
    tracing::debug_span!(target: "hyper::proto::h1", "hyper's own").in_scope(|| {});
    tracing::debug_span!("the service's debug span").in_scope(|| {});

    // Sends what is left, waiting for the receiver's answer.
    otlp::shut_down(guard).await;

    assert_eq!(
        receiver.refused(),
        Vec::<String>::new(),
        "every export was protobuf the receiver could decode"
    );
    receiver.span("the service's debug span");
    assert!(receiver.spans().iter().all(|span| span.name != "hyper's own"), "{:?}", receiver.spans());
    let check = receiver.span("check chris_rivers");
    let ask = receiver.span("ask users");
    let fetch = receiver.span("users: fetch bookings");
    assert_eq!(check.parent_span_id, None, "the test's span is the root of its trace");
    assert_eq!(check.attributes.get("user").map(String::as_str), Some("chris_rivers"));
    assert_eq!(check.trace_id.len(), 32, "a 16-byte trace id: {check:?}");
    assert_eq!(ask.trace_id, check.trace_id, "a child span is in its parent's trace");
    assert_eq!(ask.parent_span_id.as_deref(), Some(check.span_id.as_str()));
    assert_eq!(fetch.attributes.get("user").map(String::as_str), Some("chris_rivers"));
    for span in [&check, &ask, &fetch] {
        assert_eq!(span.resource.get("service.name").map(String::as_str), Some("users"), "{span:?}");
        assert_eq!(
            span.resource.get("service.version").map(String::as_str),
            Some(env!("CARGO_PKG_VERSION")),
            "{span:?}"
        );
        assert_eq!(
            span.resource.get("deployment.environment.name").map(String::as_str),
            Some("test"),
            "{span:?}"
        );
        assert_eq!(span.resource.get("telemetry.sdk.language").map(String::as_str), Some("rust"), "{span:?}");
    }
}
