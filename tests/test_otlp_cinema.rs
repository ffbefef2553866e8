//! The cinema example explored with its spans exported over OTLP/HTTP to a
//! real receiver on loopback, as `cargo run --example cinema -- --otlp URL`
//! does: every execution is one trace whose root is the explorer's
//! `filibuster execution` span, with the server spans of `users`,
//! `bookings` and `movies` and the client spans of `users`' calls in it,
//! all with the example's resource.
//!
//! Its own binary: the export installs the process's global subscriber.

use cinema as app;
#[path = "support/otlp.rs"]
mod otlp;
mod support;

use std::collections::BTreeSet;

use filibuster::{ExecutionStatus, Explorer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_execution_of_the_cinema_is_one_trace_at_the_collector() {
    let receiver = otlp::Receiver::start();
    let guard = receiver.export_as("cinema");
    // Not run twice, so that each execution of the report is one trace.
    let explorer = Explorer::new().repeat_initial_execution(false);
    let users = app::start_all(&explorer.connection(), app::Bug::None).await.unwrap().users;
    let http = reqwest::Client::new();
    let report = explorer
        .run(|ctx| {
            let (http, users) = (http.clone(), users.clone());
            async move { app::check_chris_rivers(&http, &users, async || ctx.fault_injected()).await }
        })
        .await;
    report.assert_passed();
    otlp::shut_down(guard).await;
    assert!(receiver.refused().is_empty(), "{:?}", receiver.refused());

    let spans = receiver.spans();
    for span in &spans {
        assert_eq!(span.resource.get("service.name").map(String::as_str), Some("cinema"), "{span:#?}");
        assert_eq!(span.resource.get("deployment.environment.name").map(String::as_str), Some("test"));
    }
    let executions: Vec<&otlp::ReceivedSpan> =
        spans.iter().filter(|s| s.name == "filibuster execution").collect();
    let run = report.executions.iter().filter(|e| !matches!(e.status, ExecutionStatus::Pruned { .. }));
    assert_eq!(executions.len(), run.clone().count(), "one execution span per execution run");
    assert!(executions.iter().all(|e| e.parent_span_id.is_none()), "roots: {executions:#?}");
    let traces: BTreeSet<&str> = executions.iter().map(|e| e.trace_id.as_str()).collect();
    assert_eq!(traces.len(), executions.len(), "a trace each");
    for span in &spans {
        assert!(traces.contains(span.trace_id.as_str()), "in an execution's trace: {span:#?}");
    }
    // The report points at them.
    let noted: BTreeSet<&str> = run.flat_map(|e| &e.trace_ids).map(String::as_str).collect();
    assert_eq!(noted, traces);

    // The fault-free execution: users' server span under the execution's,
    // its two calls, and the server spans of bookings and movies under them.
    let first =
        executions.iter().find(|e| e.attributes.get("filibuster.execution").map(String::as_str) == Some("1"));
    let first = first.expect("execution 1 exported");
    let in_first: Vec<&otlp::ReceivedSpan> = spans.iter().filter(|s| s.trace_id == first.trace_id).collect();
    let server_of = |service: &str| {
        let found: Vec<&&otlp::ReceivedSpan> = in_first
            .iter()
            .filter(|s| {
                s.kind == "SPAN_KIND_SERVER"
                    && s.attributes.get("filibuster.service").map(String::as_str) == Some(service)
            })
            .collect();
        assert_eq!(found.len(), 1, "one server span of {service}: {in_first:#?}");
        *found[0]
    };
    let users_server = server_of("users");
    assert_eq!(users_server.parent_span_id.as_deref(), Some(first.span_id.as_str()));
    let clients: Vec<&&otlp::ReceivedSpan> =
        in_first.iter().filter(|s| s.kind == "SPAN_KIND_CLIENT").collect();
    assert_eq!(clients.len(), 2, "users calls bookings, then movies: {in_first:#?}");
    for (client, service) in clients.iter().zip(["bookings", "movies"]) {
        assert_eq!(client.parent_span_id.as_deref(), Some(users_server.span_id.as_str()));
        let server = server_of(service);
        assert_eq!(server.parent_span_id.as_deref(), Some(client.span_id.as_str()), "traceparent sent");
    }
}
