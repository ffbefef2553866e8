//! A real OTLP/HTTP receiver on loopback, for the tests of the `otlp`
//! export: an axum server taking `POST /v1/traces` with protobuf bodies
//! (`application/x-protobuf`), decoding them with `opentelemetry-proto`, and
//! keeping each span with its resource; plus two instrumented services,
//! `users` calling `bookings`, that make spans of their own.
//!
//! Included with `#[path]` by the tests that use it, beside `mod support`.
#![allow(dead_code, unreachable_pub)] // a module of each test crate: `pub` here is no public API

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

/// A span as the collector received it.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The attributes of the resource it came with (`service.name`, ...).
    pub resource: BTreeMap<String, String>,
    pub name: String,
    /// `SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, `SPAN_KIND_INTERNAL`, ...
    pub kind: String,
    /// Hex, as Jaeger shows it.
    pub trace_id: String,
    pub span_id: String,
    /// `None` for the root of a trace.
    pub parent_span_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// The OTLP/HTTP receiver, serving on a thread of its own (so that a test
/// may block its own threads, shutting an export down, while this one
/// answers).
#[derive(Debug)]
pub struct Receiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    /// What was refused, and why.
    refused: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    /// Starts serving on a fresh port of 127.0.0.1.
    pub fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let app =
            Router::new().route("/v1/traces", post(traces)).with_state((spans.clone(), refused.clone()));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { endpoint, spans, refused }
    }

    /// Its base URL, `http://127.0.0.1:PORT` (the traces go to
    /// `/v1/traces` under it).
    /// Starts the process's export to this receiver, as `service` of this
    /// package's version in environment `test`, with `Otlp::init`.
    pub fn export_as(&self, service: &str) -> filibuster::otlp::OtlpGuard {
        filibuster::otlp::Otlp::new(service)
            .service_version(env!("CARGO_PKG_VERSION"))
            .environment("test")
            .endpoint(self.endpoint())
            .init()
            .expect("the export starts")
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far, in order of arrival.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// The one span named `name`; panics listing those received otherwise.
    pub fn span(&self, name: &str) -> ReceivedSpan {
        let spans = self.spans();
        let found: Vec<&ReceivedSpan> = spans.iter().filter(|span| span.name == name).collect();
        match found.as_slice() {
            [span] => (*span).clone(),
            _ => panic!(
                "{} spans named {name:?}; received: {:?}; refused: {:?}",
                found.len(),
                spans.iter().map(|span| &span.name).collect::<Vec<_>>(),
                self.refused.lock().unwrap()
            ),
        }
    }

    /// The requests refused (wrong content type, undecodable body).
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

type Store = (Arc<Mutex<Vec<ReceivedSpan>>>, Arc<Mutex<Vec<String>>>);

/// `POST /v1/traces`: as a collector answers, an empty
/// `ExportTraceServiceResponse` when every span was taken.
async fn traces(State((spans, refused)): State<Store>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type != "application/x-protobuf" {
        refused.lock().unwrap().push(format!("content type {content_type:?}"));
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
    }
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(error) => {
            refused.lock().unwrap().push(format!("undecodable body: {error}"));
            return (StatusCode::BAD_REQUEST, Vec::new());
        }
    };
    let mut received = spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = attributes(&resource_spans.resource.map(|r| r.attributes).unwrap_or_default());
        for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
            received.push(ReceivedSpan {
                resource: resource.clone(),
                kind: SpanKind::try_from(span.kind)
                    .map_or_else(|_| span.kind.to_string(), |k| k.as_str_name().to_owned()),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
                attributes: attributes(&span.attributes),
                name: span.name,
            });
        }
    }
    (StatusCode::OK, ExportTraceServiceResponse { partial_success: None }.encode_to_vec())
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map(text).unwrap_or_default())).collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ----- two instrumented services ---------------------------------------------

/// `bookings`: `GET /bookings/{user}` answers the user's bookings.
#[filibuster::handler(service = "bookings")]
async fn bookings_of(Path(user): Path<String>) -> String {
    format!("[\"{user}: Creed\"]")
}

#[derive(Clone)]
struct Users {
    http: reqwest::Client,
    bookings: String,
}

#[filibuster::call]
async fn fetch_bookings(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
    users.http.get(format!("{}/bookings/{user}", users.bookings)).send().await
}

/// `users`: `GET /users/{user}/bookings` asks `bookings`, in a span of its
/// own named `users: fetch bookings` when `span_in_handler`.
#[filibuster::handler(service = "users")]
async fn user_bookings(
    State((users, span)): State<(Users, bool)>,
    Path(user): Path<String>,
) -> (StatusCode, String) {
    let fetch = async {
        match fetch_bookings(&users, &user).await {
            Ok(response) => (response.status(), response.text().await.unwrap_or_default()),
            Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        }
    };
    if span {
        tracing::Instrument::instrument(fetch, tracing::info_span!("users: fetch bookings", user = %user))
            .await
    } else {
        fetch.await
    }
}

/// Starts `bookings` and `users` on ports of 127.0.0.1, `users` making the
/// span of its own when `span_in_handler`; answers the URL of `users`.
pub async fn start_services(span_in_handler: bool) -> String {
    let bookings = crate::support::serve(Router::new().route("/bookings/{user}", get(bookings_of))).await;
    let users = Users { http: reqwest::Client::new(), bookings };
    crate::support::serve(
        Router::new()
            .route("/users/{user}/bookings", get(user_bookings))
            .with_state((users, span_in_handler)),
    )
    .await
}

/// Ends the export of `guard`, off the runtime's threads (it blocks), and
/// waits until the receiver answered for what was left.
pub async fn shut_down(guard: filibuster::otlp::OtlpGuard) {
    tokio::task::spawn_blocking(move || guard.shutdown()).await.unwrap().expect("a clean shutdown");
}
