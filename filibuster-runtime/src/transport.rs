//! The seam between instrumented services and a Filibuster server: over HTTP
//! across processes, or a direct call when the server lives in the process.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::records::{CreateResponse, Invocation, Update};

/// What went wrong talking to a Filibuster server.
///
/// The message of each variant says what happened in this crate's terms; the
/// underlying error, when there is one, is its
/// [`source`](std::error::Error::source) and not repeated in the message, so
/// that a printed error chain names it once.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request did not get an answer (unreachable, refused, timed out).
    #[error("Filibuster server at {url} is unreachable")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// What reqwest said.
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("Filibuster server answered {endpoint} with {status}: {body}")]
    Status {
        /// The endpoint called.
        endpoint: &'static str,
        /// The status it answered.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The server's answer is not what the protocol says.
    #[error("Filibuster server answered {endpoint} with an unexpected body: {reason}")]
    Malformed {
        /// The endpoint called.
        endpoint: &'static str,
        /// Why it does not parse.
        reason: String,
    },
    /// An in-process server rejected the record.
    #[error("Filibuster server rejected the record: {0}")]
    Rejected(String),
}

/// How instrumented services reach a Filibuster server.
///
/// [`HttpTransport`] speaks the protocol's HTTP endpoints; the server of this
/// crate implements the trait directly so that services living in the same
/// process reach it with no HTTP hop.
pub trait Transport: Send + Sync + 'static {
    /// `GET /filibuster/new-test-execution/<service>`.
    fn new_test_execution<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<bool, TransportError>>;
    /// `PUT /filibuster/create`.
    fn create<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<CreateResponse, TransportError>>;
    /// `POST /filibuster/update`.
    fn update<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<(), TransportError>>;
}

/// The protocol over HTTP, to a server such as `filibuster server` or the
/// reference implementation.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    base: String,
    client: reqwest::Client,
}

/// How long an instrumented call waits for the server before going ahead.
const SERVER_TIMEOUT: Duration = Duration::from_secs(5);

impl HttpTransport {
    /// A transport to the server at `base_url` (e.g. `http://127.0.0.1:5005`).
    pub fn new(base_url: impl Into<String>) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(SERVER_TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        Self { base, client }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, TransportError> {
        let unreachable = |source| TransportError::Unreachable { url: self.base.clone(), source };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(TransportError::Status { endpoint, status: status.as_u16(), body });
        }
        serde_json::from_slice(&body)
            .map_err(|e| TransportError::Malformed { endpoint, reason: e.to_string() })
    }
}

#[derive(serde::Deserialize)]
struct NewTestExecution {
    #[serde(rename = "new-test-execution")]
    new_test_execution: bool,
}

impl Transport for HttpTransport {
    fn new_test_execution<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async move {
            let url = format!("{}/filibuster/new-test-execution/{service}", self.base);
            let answer: NewTestExecution = self.call("new-test-execution", self.client.get(url)).await?;
            Ok(answer.new_test_execution)
        })
    }

    fn create<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<CreateResponse, TransportError>> {
        Box::pin(async move {
            let url = format!("{}/filibuster/create", self.base);
            self.call("create", self.client.put(url).json(invocation)).await
        })
    }

    fn update<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let url = format!("{}/filibuster/update", self.base);
            let _: serde_json::Value = self.call("update", self.client.post(url).json(update)).await?;
            Ok(())
        })
    }
}
