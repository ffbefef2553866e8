// The reqwest adapter of the call core, compiled once per reqwest version
// this crate instruments (see `mod.rs`): every `reqwest::` here is that
// version's crate. What every `.send()` in a `#[filibuster::call]` fn
// becomes, the [`Call`] of a reqwest request (which reqwest-middleware's
// `.send()` shares), and the genuine values faults become: an injected
// connection error is a real `reqwest::Error` with `is_connect()` true, made
// by connecting to a loopback port that refuses; an injected timeout a real
// one with `is_timeout()` true, made by calling, with a 1 ms timeout, a host
// whose name never resolves (reqwest's own request timeout, without a
// socket); an injected status a real `reqwest::Response` with that status.
// Their URL is the URL of the call they replace.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::{BoxFuture, Either};
use http::{HeaderMap, StatusCode};
use reqwest::{Request, RequestBuilder, Response, ResponseBuilderExt};
use serde_json::Map;
use tracing::Span;
use url::Url;

use crate::call::{Call, CallKey, Completion, Outcome, drive};
use crate::callsite::{Callsite, normalized_target};
use crate::fault::{self, ErrorKind, Pool};
use crate::records::{Exception, ReturnValue};
use crate::send::{Instrumentable, plain, sealed};
use crate::spans;
use crate::wire::body_md5_hex;

impl sealed::Sealed for RequestBuilder {}

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
    type Fault = ErrorKind;

    fn key(&self) -> CallKey {
        CallKey {
            module: MODULE,
            method: method_name(self.request.method()),
            target: Cow::Owned(normalized_target(self.request.url())),
            dependency: None,
            timeout: self.request.timeout().map(Duration::as_secs_f64),
            tls: self.request.url().scheme() == "https",
        }
    }

    fn headers_mut(&mut self) -> Option<&mut HeaderMap> {
        Some(self.request.headers_mut())
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

    fn fault(exception: &Exception) -> Option<ErrorKind> {
        ErrorKind::from_name(&exception.name)
    }

    fn fault_names() -> Vec<&'static str> {
        fault::REQWEST_EXCEPTIONS.iter().map(|(name, _)| *name).collect()
    }

    fn timeout_fault() -> Option<ErrorKind> {
        Some(ErrorKind::Timeout)
    }

    fn respond(url: &Url, status: StatusCode) -> Option<Response> {
        Some(response(status, url, Vec::new()))
    }

    async fn fail(url: &Url, kind: ErrorKind) -> Result<Response, E> {
        Err(error(kind, url).await.into())
    }

    async fn observe(response: Response, span: &Span, _: &mut Completion) -> (Result<Response, E>, Option<Outcome>) {
        let (result, outcome) = observe_response(response, span).await;
        (result.map_err(E::from), Some(outcome))
    }

    fn exception(error: &E) -> Exception {
        Exception { name: exception_name(error.as_reqwest()).to_owned(), metadata: Map::new() }
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
    error.and_then(error_kind).map(ErrorKind::name).unwrap_or(fault::OTHER)
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


// ----- the genuine values faults become -----

/// The kind of a real error, as it is reported to the server.
pub fn error_kind(error: &reqwest::Error) -> Option<ErrorKind> {
    if error.is_timeout() {
        Some(ErrorKind::Timeout)
    } else if error.is_connect() {
        Some(ErrorKind::Connect)
    } else {
        None
    }
}

/// What produces genuine errors: a loopback socket that refuses
/// connections, and a client whose names never resolve.
struct Fabricator {
    client: reqwest::Client,
    /// `http://<the refusing socket>/`, parsed once.
    refusing: Url,
    // Held for the life of the process: bound but not listening, so that
    // connections are refused.
    _refusing: tokio::net::TcpSocket,
    /// Its requests wait for a name forever, until their timeout.
    unresolving: reqwest::Client,
}

/// A resolver that never answers: a request waits in it until its timeout,
/// without opening a socket.
struct NeverResolves;

impl reqwest::dns::Resolve for NeverResolves {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(std::future::pending())
    }
}

fn fabricator() -> Option<&'static Fabricator> {
    static FABRICATOR: OnceLock<Option<Fabricator>> = OnceLock::new();
    FABRICATOR
        .get_or_init(|| {
            let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
            let make = || -> std::io::Result<Fabricator> {
                let refusing_socket = tokio::net::TcpSocket::new_v4()?;
                refusing_socket.bind(loopback)?;
                Ok(Fabricator {
                    client: reqwest::Client::builder().no_proxy().build().map_err(std::io::Error::other)?,
                    refusing: Url::parse(&format!("http://{}/", refusing_socket.local_addr()?))
                        .map_err(std::io::Error::other)?,
                    _refusing: refusing_socket,
                    unresolving: reqwest::Client::builder()
                        .no_proxy()
                        .dns_resolver(std::sync::Arc::new(NeverResolves))
                        .build()
                        .map_err(std::io::Error::other)?,
                })
            };
            make().map_err(|error| tracing::error!(%error, "cannot prepare loopback sockets for faults")).ok()
        })
        .as_ref()
}

/// A genuine reqwest error of `kind` whose URL is `url`: from the pool of
/// its kind when one is ready (then refilled in the background), else made
/// now.
pub async fn error(kind: ErrorKind, url: &Url) -> reqwest::Error {
    let pool = pool(kind);
    let ready = pool.take();
    pool.refill_if_low(match kind {
        ErrorKind::Connect => || make(ErrorKind::Connect),
        ErrorKind::Timeout => || make(ErrorKind::Timeout),
    });
    match ready {
        Some(error) => error.with_url(url.clone()),
        None => make(kind).await.with_url(url.clone()),
    }
}

/// Makes a genuine reqwest error of `kind` (its URL is the socket's).
/// Boxed: one state machine for the calls and the pools' refills.
fn make(kind: ErrorKind) -> BoxFuture<'static, reqwest::Error> {
    Box::pin(async move {
        let mut request = match (fabricator(), kind) {
            (Some(f), ErrorKind::Connect) => f.client.get(f.refusing.clone()),
            (Some(f), ErrorKind::Timeout) => {
                f.unresolving.get("http://filibuster-timeout.invalid/").timeout(Duration::from_millis(1))
            }
            (None, _) => reqwest::Client::new().get("filibuster://no-sockets"),
        };
        let mut answered = false;
        loop {
            match request.send().await {
                Err(error) => return error,
                // Cannot happen with the sockets above; still an error, never a panic.
                Ok(_) if !answered => {
                    answered = true;
                    request = reqwest::Client::new().get("filibuster://unexpected-answer");
                }
                Ok(_) => unreachable!("reqwest sent a request with an unsupported scheme"),
            }
        }
    })
}

/// The pool of reqwest errors of `kind`.
fn pool(kind: ErrorKind) -> &'static Pool<reqwest::Error> {
    static CONNECT: Pool<reqwest::Error> = Pool::new();
    static TIMEOUT: Pool<reqwest::Error> = Pool::new();
    match kind {
        ErrorKind::Connect => &CONNECT,
        ErrorKind::Timeout => &TIMEOUT,
    }
}

/// A genuine response with `status`, `body`, and `url` as its URL.
pub fn response(
    status: http::StatusCode,
    url: &Url,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let builder = http::Response::builder()
        .status(status)
        .version(http::Version::HTTP_11)
        .header(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html"));
    match builder.url(url.clone()).body(body.into()) {
        Ok(response) => reqwest::Response::from(response),
        Err(_) => reqwest::Response::from(http::Response::new(reqwest::Body::from(Vec::new()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::send;
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


    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pooled_errors_are_genuine_and_carry_the_calls_url() {
        for kind in [ErrorKind::Timeout, ErrorKind::Connect] {
            let url = Url::parse("http://bookings:5002/bookings/chris").unwrap();
            // The first call of a kind may find its pool empty and make its
            // error itself; it starts the refill.
            let first = error(kind, &url).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while pool(kind).len() < Pool::<reqwest::Error>::LOW {
                assert!(std::time::Instant::now() < deadline, "the {kind:?} pool was never refilled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let pooled = error(kind, &url).await;
            for made in [first, pooled] {
                assert_eq!(error_kind(&made), Some(kind), "{made:?}");
                assert_eq!(made.url(), Some(&url));
            }
        }
    }
}
