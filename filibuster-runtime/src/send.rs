//! The reqwest adapter of the call core: what every `.send()` in a
//! `#[filibuster::call]` fn becomes, and the [`Call`] of a reqwest request,
//! which reqwest-middleware's `.send()` shares.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::future::Either;
use http::{HeaderMap, StatusCode};
use reqwest::{Request, RequestBuilder, Response};
use serde_json::Map;
use tracing::Span;
use url::Url;

use crate::call::{Call, CallKey, Outcome, drive};
use crate::callsite::{Callsite, normalized_target};
use crate::fault::{self, ErrorKind};
use crate::records::{Exception, ReturnValue};
use crate::spans;
use crate::switch;
use crate::wire::body_md5_hex;

/// Sends `builder`'s request from `callsite`.
///
/// With the instrumentation off, or outside an instrumented handler, this is
/// `builder.send()` (outside a handler with the instrumentation on, it also
/// logs a warning, once per callsite). Otherwise the call is reported to the
/// server, which may answer with a fault: the caller then gets the genuine
/// reqwest error or response that fault stands for, without the request
/// being sent.
///
/// The switch is read when `send` is called. Off, the future is the
/// builder's own; on, the instrumented work lives in one box, so that the
/// futures of the handlers that await it stay small whether it is on or off.
pub fn send<B: Instrumentable>(
    builder: B,
    callsite: &'static Callsite,
) -> impl Future<Output = B::Output> + Send {
    builder.instrumented_send(callsite)
}

/// A request builder whose `.send()` `#[filibuster::call]` instruments:
/// [`reqwest::RequestBuilder`], and `reqwest_middleware::RequestBuilder`
/// with the `reqwest-middleware` feature (see the `middleware` module).
///
/// Sealed: implemented for those builders only.
#[diagnostic::on_unimplemented(
    message = "`#[filibuster::call]` cannot instrument the `.send()` of `{Self}`",
    label = "not a request builder of reqwest 0.13 (nor of reqwest-middleware 0.5)",
    note = "filibuster instruments the `.send()` of reqwest 0.13's `RequestBuilder`, and of \
            reqwest-middleware 0.5's with filibuster's `reqwest-middleware` feature",
    note = "a `reqwest::RequestBuilder` here is another reqwest's (0.12 or older): move this crate \
            to reqwest 0.13; `cargo tree -i reqwest` names both versions, and `cargo tree -i \
            reqwest@<the old version>` shows what depends on the old one",
    note = "a `.send()` of anything else: move it out of this fn, into one without the attribute"
)]
pub trait Instrumentable: sealed::Sealed + Sized {
    /// What `.send()` resolves to.
    type Output;

    /// What [`send`] does for this builder.
    #[doc(hidden)]
    fn instrumented_send(self, callsite: &'static Callsite) -> impl Future<Output = Self::Output> + Send;
}

pub(crate) mod sealed {
    /// Only the builders of this crate are [`Instrumentable`](super::Instrumentable).
    #[allow(unreachable_pub)] // reachable by no one: it seals the trait
    pub trait Sealed {}

    impl Sealed for reqwest::RequestBuilder {}
    #[cfg(feature = "reqwest-middleware")]
    impl Sealed for reqwest_middleware::RequestBuilder {}
}

// Not listed as "another type that implements the trait": it would read as
// the same type as a `RequestBuilder` of another reqwest.
#[diagnostic::do_not_recommend]
impl Instrumentable for RequestBuilder {
    type Output = reqwest::Result<Response>;

    fn instrumented_send(self, callsite: &'static Callsite) -> impl Future<Output = Self::Output> + Send {
        if plain() {
            return Either::Left(self.send());
        }
        let (client, request) = self.build_split();
        Either::Right(traced_send(request, callsite, move |request| client.execute(request)))
    }
}

/// Whether a `.send()` is the builder's own: the instrumentation is off
/// and no `tracing` subscriber wants its client span (two relaxed loads).
#[inline]
pub(crate) fn plain() -> bool {
    !switch::enabled() && !spans::client_wanted()
}

/// The error of an instrumented send: reqwest's, or one wrapping it
/// (reqwest-middleware's).
pub(crate) trait SendError: From<reqwest::Error> {
    /// The reqwest error it is, if it is one.
    fn as_reqwest(&self) -> Option<&reqwest::Error>;
}

impl SendError for reqwest::Error {
    fn as_reqwest(&self) -> Option<&reqwest::Error> {
        Some(self)
    }
}

/// What [`send`] does unless it is [`plain`], `execute` performing the
/// request (the client's `execute`, or a stub in the benchmarks): the call
/// in its client span, instrumented when the instrumentation is on. One box
/// holds the whole of it: [`send_request`] is a single state machine.
pub(crate) fn traced_send<F, Fut, E>(
    request: reqwest::Result<Request>,
    callsite: &'static Callsite,
    execute: F,
) -> impl Future<Output = Result<Response, E>>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response, E>>,
    E: SendError,
{
    match request {
        Ok(request) => Either::Right(Box::pin(drive(HttpCall { request, execute }, callsite, None))),
        // What the builder's own `send` answers. Only the error is kept (not
        // a ready `Result`, as large as a response), so that the future of
        // a `.send()` stays as small as reqwest's own.
        Err(error) => {
            Either::Left(futures_util::FutureExt::map(std::future::ready(error), |error| Err(error.into())))
        }
    }
}

/// A reqwest call: its request, and what performs it (the client's
/// `execute`, the rest of a reqwest-middleware chain, or a stub in the
/// benchmarks).
pub(crate) struct HttpCall<F> {
    pub(crate) request: Request,
    pub(crate) execute: F,
}

impl<F, Fut, E> Call for HttpCall<F>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response, E>>,
    E: SendError,
{
    type Response = Response;
    type Error = E;
    type FaultContext = Url;

    fn key(&self) -> CallKey {
        CallKey {
            module: MODULE,
            method: method_name(self.request.method()),
            target: normalized_target(self.request.url()),
            timeout: self.request.timeout().map(Duration::as_secs_f64),
            tls: self.request.url().scheme() == "https",
        }
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        self.request.headers_mut()
    }

    fn client_span(&mut self, callsite: &'static Callsite) -> Span {
        let span = spans::client(client_request(&self.request), callsite);
        spans::propagate(&span, self.request.headers_mut());
        span
    }

    fn end_client_span(span: &Span, result: Result<&Response, &E>) {
        end_client_span(span, result.map_err(SendError::as_reqwest));
    }

    fn fault_context(&self) -> &Url {
        self.request.url()
    }

    fn perform(self) -> impl Future<Output = Result<Response, E>> {
        (self.execute)(self.request)
    }

    fn respond(url: &Url, status: StatusCode) -> Response {
        fault::response(status, url, Vec::new())
    }

    async fn fail(url: &Url, kind: ErrorKind) -> E {
        fault::error(kind, url).await.into()
    }

    async fn observe(response: Response, span: &Span) -> (Result<Response, E>, Outcome) {
        let (result, outcome) = observe_response(response, span).await;
        (result.map_err(E::from), outcome)
    }

    fn exception_name(error: &E) -> &'static str {
        exception_name(error.as_reqwest())
    }
}

/// What the client span of a reqwest call shows of its request.
pub(crate) fn client_request(request: &Request) -> spans::ClientRequest<'_> {
    spans::ClientRequest {
        method: request.method().as_str(),
        url: request.url(),
        headers: request.headers(),
        body: request.body().and_then(reqwest::Body::as_bytes),
    }
}

/// Records how a reqwest call ended on its client span: the response, or
/// the error (`None`: one that is not reqwest's).
pub(crate) fn end_client_span(span: &Span, result: Result<&Response, Option<&reqwest::Error>>) {
    spans::client_end(
        span,
        result.map(|response| (response.status(), response.headers())).map_err(error_type),
    );
}

/// The `error.type` of a failed reqwest call.
fn error_type(error: Option<&reqwest::Error>) -> &'static str {
    match error {
        Some(error) if error.is_timeout() => "timeout",
        Some(error) if error.is_connect() => "connect",
        Some(error) if error.is_redirect() => "redirect",
        Some(error) if error.is_body() => "body",
        Some(error) if error.is_decode() => "decode",
        Some(error) if error.is_builder() => "builder",
        Some(error) if error.is_request() => "request",
        _ => "_OTHER",
    }
}

/// The exception a failed reqwest call reports: the name of its kind, or
/// [`fault::OTHER`] (an error of another kind, or not reqwest's).
fn exception_name(error: Option<&reqwest::Error>) -> &'static str {
    error.and_then(ErrorKind::of).map(ErrorKind::name).unwrap_or(fault::OTHER)
}

/// The module of reqwest's calls.
const MODULE: &str = "reqwest";

/// Bodies up to this size, announced by `Content-Length`, are read to report
/// their md5 (as the reference does); longer or streamed bodies are handed
/// back untouched and reported without `text`, so that `.send()` never waits
/// for a body the caller may read as a stream.
const MAX_HASHED_BODY: u64 = 1 << 20;

/// Reads a small body of a real response for its md5, and hands back an
/// intact copy of the response.
#[expect(clippy::manual_async_fn, reason = "an `async fn` would keep its response twice")]
fn observe_response(
    mut response: Response,
    span: &Span,
) -> impl Future<Output = (reqwest::Result<Response>, Outcome)> {
    async move {
        let status = response.status();
        if response.content_length().is_none_or(|length| length > MAX_HASHED_BODY) {
            let value = ReturnValue { text: None, ..ReturnValue::response(status.as_u16(), String::new()) };
            return (Ok(response), Ok(value));
        }
        // Read chunk by chunk, as `bytes` would, but without consuming the
        // response, whose head is then taken, not cloned. A body of one chunk
        // (the usual case) is not copied, and needs no list of chunks.
        let mut first = None;
        let mut more = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if first.is_none() => first = Some(chunk),
                Ok(Some(chunk)) => more.push(chunk),
                Ok(None) => break,
                // What `bytes` answers.
                Err(error) => {
                    let error = error.with_url(response.url().clone());
                    let name = exception_name(Some(&error)).to_owned();
                    return (Err(error), Err(Exception { name, metadata: Map::new() }));
                }
            }
        }
        let body = match first {
            Some(first) if more.is_empty() => first,
            Some(first) => {
                more.insert(0, first);
                bytes::Bytes::from(more.concat())
            }
            None => bytes::Bytes::new(),
        };
        let text = body_md5_hex(&body);
        spans::client_response_body(span, response.headers(), &body);
        (Ok(rebuilt(response, body)), Ok(ReturnValue::response(status.as_u16(), text)))
    }
}

/// `response`, whose body was read, with `body` in its place: its status,
/// version, headers and extensions are moved, not copied; only its URL is
/// (reqwest lends it out only).
fn rebuilt(mut response: Response, body: bytes::Bytes) -> Response {
    use reqwest::ResponseBuilderExt;
    // The URL goes in through the builder, the only way reqwest offers:
    // into the response's own extensions, then taken by `Response::from`.
    let mut builder = http::Response::builder();
    if let Some(extensions) = builder.extensions_mut() {
        std::mem::swap(extensions, response.extensions_mut());
    }
    let parts = builder.url(response.url().clone()).body(());
    let mut rebuilt = http::Response::new(reqwest::Body::from(body));
    if let Ok(parts) = parts {
        *rebuilt.extensions_mut() = parts.into_parts().0.extensions;
    }
    *rebuilt.status_mut() = response.status();
    *rebuilt.version_mut() = response.version();
    std::mem::swap(rebuilt.headers_mut(), response.headers_mut());
    Response::from(rebuilt)
}

/// The name of `method`, not copied when it is a standard one.
fn method_name(method: &reqwest::Method) -> Cow<'static, str> {
    use reqwest::Method;
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    match STANDARD.iter().find(|(standard, _)| standard == method) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(method.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::md5_hex;

    /// The future of an instrumented `.send()` is hardly larger than
    /// reqwest's own: the instrumented work is in a box, so that the
    /// future of a handler, which holds it across its `.await`, does not
    /// grow, whether the instrumentation is on or off.
    #[test]
    fn an_instrumented_send_is_as_small_as_reqwests() {
        static CALLSITE: Callsite =
            Callsite { id: "0", function: "f", file: "f.rs", line: 1, client_timeout: None };
        let client = reqwest::Client::new();
        let own = std::mem::size_of_val(&client.get("http://localhost/").send());
        let instrumented = std::mem::size_of_val(&send(client.get("http://localhost/"), &CALLSITE));
        assert!(instrumented <= own + 8, "{instrumented} bytes, reqwest's own {own}");
    }

    /// A large body arrives in many chunks: its md5 is that of the whole,
    /// and the response handed back has the same head and body.
    #[tokio::test]
    async fn observed_responses_are_intact() {
        let body: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let served = body.clone();
        let app = axum::Router::new().route(
            "/big",
            axum::routing::get(move || {
                let served = served.clone();
                async move { ([("x-kept", "yes")], served) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        for path in ["/big", "/missing"] {
            let url = format!("http://{addr}{path}");
            let response = reqwest::get(&url).await.unwrap();
            let (status, length) = (response.status(), response.content_length());
            let (result, outcome) = observe_response(response, &tracing::Span::none()).await;
            let response = result.unwrap();
            assert_eq!((response.status(), response.content_length()), (status, length));
            assert_eq!(response.url().as_str(), url);
            assert!(response.remote_addr().is_some());
            let expected = if path == "/big" { &body[..] } else { &[][..] };
            if path == "/big" {
                assert_eq!(response.headers()["x-kept"], "yes");
            }
            let value = outcome.unwrap();
            assert_eq!(value, ReturnValue::response(status.as_u16(), md5_hex(expected)));
            assert_eq!(&response.bytes().await.unwrap()[..], expected);
        }
        server.abort();
    }
}
