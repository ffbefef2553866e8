//! The protocol's endpoints (section 4 of the protocol notes), with axum.
//!
//! Bad input gets a 400 (malformed JSON, a missing field) or a 404 (an
//! unknown generated id) with `{"error": "..."}`, and leaves the state as it
//! was.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::Server;
use super::state::RecordError;
use crate::records::{Invocation, Update};

pub(super) fn router(server: Server) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health-check", get(|| async { axum::Json(json!({"status": "OK"})) }))
        .route("/filibuster/new-test-execution/{service}", get(new_test_execution))
        .route("/filibuster/create", put(create))
        .route("/filibuster/update", post(update))
        .route("/filibuster/fault-injected", get(fault_injected))
        .route("/filibuster/fault-injected/{service}", get(fault_injected_on))
        .route("/filibuster/fault-injected/service/{service}", get(fault_injected_on))
        .with_state(server)
        .layer(axum::middleware::map_response(json_errors))
}

/// Gives the answers axum makes itself (an unknown path, a wrong method, a
/// service name that is not UTF-8, a body over its limit) the same
/// `{"error": "..."}` body as the endpoints' own.
async fn json_errors(response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let json = response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t == "application/json");
    if json || response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message = match String::from_utf8_lossy(&text).trim() {
        "" => parts.status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    // The head is kept (`Allow` of a 405, say), the body replaced.
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json!({"error": message}).to_string()))
}

async fn index() -> axum::Json<Value> {
    axum::Json(json!({
        "uri": "/",
        "subresource_uris": {"create": "filibuster/create", "update": "filibuster/update"},
    }))
}

async fn new_test_execution(State(server): State<Server>, Path(service): Path<String>) -> axum::Json<Value> {
    let first = server.lock().new_test_execution(&service);
    axum::Json(json!({"new-test-execution": first}))
}

async fn create(State(server): State<Server>, body: Bytes) -> Response {
    let invocation: Invocation = match parse(&body, "an invocation record") {
        Ok(invocation) => invocation,
        Err(message) => return bad(StatusCode::BAD_REQUEST, message),
    };
    let answer = server.lock().create(invocation);
    axum::Json(answer).into_response()
}

async fn update(State(server): State<Server>, body: Bytes) -> Response {
    let record: Update = match parse(&body, "a request_received or invocation_complete record") {
        Ok(record) => record,
        Err(message) => return bad(StatusCode::BAD_REQUEST, message),
    };
    match server.lock().update(record) {
        Ok(()) => axum::Json(json!({})).into_response(),
        Err(error @ RecordError::UnknownGeneratedId(_)) => bad(StatusCode::NOT_FOUND, error.to_string()),
        Err(error) => bad(StatusCode::BAD_REQUEST, error.to_string()),
    }
}

async fn fault_injected(State(server): State<Server>) -> axum::Json<Value> {
    axum::Json(json!({"result": server.fault_injected()}))
}

async fn fault_injected_on(State(server): State<Server>, Path(service): Path<String>) -> axum::Json<Value> {
    axum::Json(json!({"result": server.fault_injected_on(&service)}))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|error| format!("expected {what} as JSON: {error}"))
}

fn bad(status: StatusCode, message: String) -> Response {
    tracing::warn!(%status, %message, "rejected a record");
    (status, axum::Json(json!({"error": message}))).into_response()
}
