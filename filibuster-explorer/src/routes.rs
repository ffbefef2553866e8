//! The protocol's endpoints (section 4 of the protocol notes), with axum.
//!
//! They are served at the root and, for records that carry the run's token,
//! under `/run/<token>/` (see [`super::origin`]). Bad input gets a 4xx with
//! `{"error": "..."}` — every error does, unknown routes and oversized bodies
//! included — and leaves the state as it was. Rejections are logged at most
//! a few times a second, each message cut short.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::Server;
use super::origin::Origin;
use super::state::{RecordError, truncated};

pub(super) fn router(server: Server) -> Router {
    let api = || {
        Router::new()
            .route("/", get(index))
            .route("/health-check", get(|| async { axum::Json(json!({"status": "OK"})) }))
            .route("/filibuster/new-test-execution/{service}", get(new_test_execution))
            .route("/filibuster/create", put(create))
            .route("/filibuster/update", post(update))
            .route("/filibuster/panic", post(handler_panicked))
            .route("/filibuster/fault-injected", get(fault_injected))
            .route("/filibuster/fault-injected/{service}", get(fault_injected_on))
            .route("/filibuster/fault-injected/service/{service}", get(fault_injected_on))
            .route("/filibuster/faults", get(faults))
            .fallback(not_found)
    };
    Router::new()
        .merge(api().layer(axum::Extension(Origin::Untokened)))
        .nest("/run/{token}", api().layer(middleware::from_fn_with_state(server.clone(), check_token)))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(server.clone(), json_errors))
        .with_state(server)
}

/// Lets through requests under `/run/<token>/` whose token is the run's,
/// marked [`Origin::Tokened`].
async fn check_token(
    State(server): State<Server>,
    OriginalUri(uri): OriginalUri,
    mut request: Request,
    next: Next,
) -> Response {
    let token = uri.path().strip_prefix("/run/").and_then(|rest| rest.split('/').next()).unwrap_or("");
    if !server.token_matches(token) {
        return bad(
            &server,
            StatusCode::FORBIDDEN,
            "unknown run token: these records belong to no run of this server".into(),
        );
    }
    request.extensions_mut().insert(Origin::Tokened);
    next.run(request).await
}

/// Gives the answers axum makes itself (an unknown path, a wrong method, a
/// service name that is not UTF-8, a body over its limit) the same
/// `{"error": "..."}` body as the endpoints' own, keeping their head (the
/// `Allow` of a 405, say), and logs them like the others.
async fn json_errors(State(server): State<Server>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.status().is_success() || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message = match String::from_utf8_lossy(&text).trim() {
        "" => parts.status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    server.rejections.note(parts.status, &message);
    parts.headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    let message = truncated(&message, 2000);
    Response::from_parts(parts, axum::body::Body::from(json!({"error": message}).to_string()))
}

async fn not_found(State(server): State<Server>, OriginalUri(uri): OriginalUri) -> Response {
    bad(&server, StatusCode::NOT_FOUND, format!("no such endpoint: {}", truncated(uri.path(), 200)))
}

async fn index() -> axum::Json<Value> {
    axum::Json(json!({
        "uri": "/",
        "subresource_uris": {"create": "filibuster/create", "update": "filibuster/update"},
    }))
}

fn origin(extension: Option<axum::Extension<Origin>>) -> Origin {
    extension.map_or(Origin::Untokened, |axum::Extension(origin)| origin)
}

async fn new_test_execution(
    State(server): State<Server>,
    extension: Option<axum::Extension<Origin>>,
    Path(params): Path<std::collections::HashMap<String, String>>,
) -> Response {
    let service = params.get("service").map(String::as_str).unwrap_or_default();
    let mut state = server.lock();
    let answer = state.admit(origin(extension)).and_then(|()| state.new_test_execution(service));
    drop(state);
    match answer {
        Ok(first) => axum::Json(json!({"new-test-execution": first})).into_response(),
        Err(error) => rejected(&server, error),
    }
}

async fn create(
    State(server): State<Server>,
    extension: Option<axum::Extension<Origin>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    take_record(
        &server,
        origin(extension),
        &headers,
        &body,
        "an invocation record",
        |state, record, origin| {
            state.create_from(record, origin).map(|answer| axum::Json(answer).into_response())
        },
    )
}

async fn update(
    State(server): State<Server>,
    extension: Option<axum::Extension<Origin>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let what = "a request_received or invocation_complete record";
    take_record(&server, origin(extension), &headers, &body, what, |state, record, origin| {
        state.update_from(record, origin).map(|()| axum::Json(json!({})).into_response())
    })
}

/// What `create` and `update` share: the sender's count of lost records,
/// the record parsed (a 400 if it does not), applied to the state under its
/// lock (the state's error as its status).
fn take_record<T: serde::de::DeserializeOwned>(
    server: &Server,
    origin: Origin,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
    apply: impl FnOnce(&mut super::state::State, T, Origin) -> Result<Response, RecordError>,
) -> Response {
    note_lost(server, headers);
    let record: T = match parse(body, what) {
        Ok(record) => record,
        Err(message) => return bad(server, StatusCode::BAD_REQUEST, message),
    };
    let answer = apply(&mut server.lock(), record, origin);
    answer.unwrap_or_else(|error| rejected(server, error))
}

/// `POST /filibuster/panic` (not the reference's): a handler panicked.
async fn handler_panicked(
    State(server): State<Server>,
    extension: Option<axum::Extension<Origin>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    take_record(&server, origin(extension), &headers, &body, "a handler's panic", |state, panic, origin| {
        state.admit(origin)?;
        state.note_panic(panic);
        Ok(axum::Json(json!({})).into_response())
    })
}

/// Takes what a sender says of the records it could not deliver.
fn note_lost(server: &Server, headers: &HeaderMap) {
    let lost = headers
        .get(filibuster_runtime::headers::name::LOST_RECORDS)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if let Some(lost) = lost.filter(|n| *n > 0) {
        let sender = headers
            .get(filibuster_runtime::headers::name::SENDER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unnamed");
        server.lock().note_lost(sender, lost);
    }
}

async fn fault_injected(State(server): State<Server>) -> axum::Json<Value> {
    axum::Json(json!({"result": server.fault_injected()}))
}

async fn fault_injected_on(
    State(server): State<Server>,
    Path(params): Path<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let service = params.get("service").map(String::as_str).unwrap_or_default();
    axum::Json(json!({"result": server.fault_injected_on(service)}))
}

/// `GET /filibuster/faults` (not the reference's): `{"faults": [...]}`, the
/// faults injected in the current test execution, each an
/// [`InjectedFault`](super::InjectedFault) as JSON.
async fn faults(State(server): State<Server>) -> axum::Json<Value> {
    axum::Json(json!({"faults": server.faults()}))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|error| format!("expected {what} as JSON: {error}"))
}

fn rejected(server: &Server, error: RecordError) -> Response {
    let status = match error {
        RecordError::UnknownGeneratedId(_) => StatusCode::NOT_FOUND,
        RecordError::Invalid(_) => StatusCode::BAD_REQUEST,
        RecordError::Conflict(_) => StatusCode::CONFLICT,
        RecordError::Forbidden => StatusCode::FORBIDDEN,
        RecordError::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
    };
    bad(server, status, error.to_string())
}

/// Rejections logged per second, at most.
const LOGGED_PER_SECOND: u64 = 5;

/// The server's log of rejected requests, rate-limited: a flood of bad
/// records costs a few lines a second and a count, not a line each.
#[derive(Debug, Default)]
pub(crate) struct RejectionLog {
    /// The second of the last rejection, how many were logged in it, and how
    /// many were not.
    second: AtomicU64,
    logged: AtomicU64,
    silenced: AtomicU64,
}

impl RejectionLog {
    fn note(&self, status: StatusCode, message: &str) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.logged.store(0, Ordering::Relaxed);
            let silenced = self.silenced.swap(0, Ordering::Relaxed);
            if silenced > 0 {
                tracing::warn!(silenced, "Filibuster server: more rejected requests were not logged");
            }
        }
        if self.logged.fetch_add(1, Ordering::Relaxed) < LOGGED_PER_SECOND {
            tracing::warn!(%status, message = truncated(message, 300), "Filibuster server rejected a request");
        } else {
            self.silenced.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// An error answer: logged (rate-limited), and `{"error": message}`.
fn bad(server: &Server, status: StatusCode, message: String) -> Response {
    server.rejections.note(status, &message);
    let message = truncated(&message, 2000).to_owned();
    (status, axum::Json(json!({"error": message}))).into_response()
}
