//! The HTTP transport when the Filibuster server is slow, gone, answers too
//! much or comes back. Real axum servers on 127.0.0.1, real reqwest.

use std::error::Error as _;

use filibuster::records::Invocation;
use filibuster::transport::{HttpTransport, Transport, TransportError};
use serde_json::json;

/// A port of 127.0.0.1 nothing listens on (for now).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An invocation record, as a call would report it.
fn invocation() -> Invocation {
    serde_json::from_value(json!({
        "instrumentation_type": "invocation",
        "source_service_name": "a",
        "module": "reqwest",
        "method": "GET",
        "args": ["/b"],
        "kwargs": {},
        "callsite_file": "tests/test_transport.rs",
        "callsite_line": "1",
        "full_traceback": "0123456789abcdef0123456789abcdef",
        "metadata": {},
        "vclock": {"a": 1},
        "origin_vclock": {},
        "execution_index": "[[\"0123456789abcdef0123456789abcdef\", 1]]",
    }))
    .unwrap()
}

#[tokio::test]
async fn transport_errors_keep_their_cause_as_source_not_in_their_message() {
    let port = free_port();
    let transport = HttpTransport::new(format!("http://127.0.0.1:{port}"));
    let error = transport.create(&invocation()).await.unwrap_err();
    assert!(matches!(error, TransportError::Unreachable { .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("Filibuster server at http://127.0.0.1:{port} is unreachable"));
    let source = error.source().expect("the cause is the source");
    assert!(source.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_connect));
}
