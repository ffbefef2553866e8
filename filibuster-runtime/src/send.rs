//! What every `.send()` in a `#[filibuster::call]` fn becomes.

use std::borrow::Cow;

use futures_util::future::Either;
use reqwest::{Request, RequestBuilder, Response};
use serde_json::{Map, Value};
use tracing::{Instrument as _, Span};

use crate::callsite::{Callsite, SaidOnce};
use crate::context::{CallStart, MODULE, RequestContext};
use crate::decision::Decision;
use crate::fault::{self, ErrorKind};
use crate::headers;
use crate::outgoing::OutgoingHeaders;
use crate::records::{Exception, Invocation, InvocationComplete, InvocationMetadata, ReturnValue, Update};
use crate::spans;
use crate::switch;
use crate::wire::{body_md5_hex, md5_hex};

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
            to reqwest 0.13; `cargo tree -d -i reqwest` shows both versions and what depends on each",
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
        Ok(request) => Either::Right(Box::pin(send_request(request, callsite, None, execute))),
        // What the builder's own `send` answers. Only the error is kept (not
        // a ready `Result`, as large as a response), so that the future of
        // a `.send()` stays as small as reqwest's own.
        Err(error) => {
            Either::Left(futures_util::FutureExt::map(std::future::ready(error), |error| Err(error.into())))
        }
    }
}

/// One call of `request` from `callsite`: instrumented when the
/// instrumentation is on and the call is made in an instrumented request,
/// else `execute(request)` (with a warning, once per callsite, when on).
///
/// `span` is the call's client span when the caller made it (the
/// reqwest-middleware chain, whose `.send()` has it); with `None` this
/// makes it from the request, propagates its context in the request's
/// headers and ends it with the call's outcome.
///
/// One state machine, with no nested instrumented future: what it awaits
/// (the transport's calls, `execute`'s future, a read body) is small, and a
/// nested future of the size of this one would be moved (and copied) into
/// it at each call. The record lives in a block of its own, so that it does
/// not stay in the state once sent.
#[expect(clippy::manual_async_fn, reason = "an `async fn` would keep its request twice")]
pub(crate) fn send_request<F, Fut, E>(
    mut request: Request,
    callsite: &'static Callsite,
    span: Option<&Span>,
    execute: F,
) -> impl Future<Output = Result<Response, E>>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response, E>>,
    E: SendError,
{
    // An `async` block, not an `async fn`: the arguments of an `async fn`
    // are moved into locals of its body, and the request would take room
    // twice in the future.
    async move {
        let made;
        let (span, ends_span) = match span {
            Some(span) => (span, false),
            None => {
                made = spans::client(&request, callsite);
                spans::propagate(&made, request.headers_mut());
                (&made, true)
            }
        };
        let result = 'call: {
            if !switch::enabled() {
                break 'call in_span(execute(request), span).await;
            }
            let Some(CallStart {
                service,
                connection,
                request_id,
                target,
                vclock,
                vclock_text,
                origin_vclock,
                execution_index,
            }) = RequestContext::with_current(|ctx| {
                ctx.start_call(callsite, request.method().as_str(), request.url())
            })
            else {
                outside_request(callsite);
                break 'call in_span(execute(request), span).await;
            };
            spans::record_execution_index(span, &execution_index);
            // In a block of its own, so that the record (borrowed by `create`)
            // does not stay in the future's state after it is sent.
            let (answer, vclock, execution_index) = {
                let invocation = Invocation {
                    instrumentation_type: Cow::Borrowed("invocation"),
                    source_service_name: Cow::Borrowed(service),
                    module: Cow::Borrowed(MODULE),
                    method: method_name(request.method()),
                    args: vec![target],
                    kwargs: Map::new(),
                    callsite_file: Cow::Borrowed(callsite.file),
                    callsite_line: Value::String(line(callsite.line)),
                    full_traceback: Cow::Borrowed(callsite.id),
                    metadata: InvocationMetadata {
                        // The request's own timeout wins over the client's, as in reqwest.
                        timeout: request.timeout().map(|t| t.as_secs_f64()).or(callsite.client_timeout),
                        ssl: (request.url().scheme() == "https").then_some(true),
                        other: Map::new(),
                    },
                    vclock,
                    origin_vclock,
                    execution_index,
                };
                let answer = in_span(connection.create(&invocation), span).await;
                // The record is sent: the headers and `invocation_complete` reuse its
                // clock and index rather than copies, and the rest is freed now.
                let Invocation { vclock, execution_index, .. } = invocation;
                // What the answer decides, taken now: the answer is not kept.
                (answer.map(|answer| (answer.generated_id, Decision::of(answer))), vclock, execution_index)
            };
            let Some((generated_id, decision)) = answer else {
                // No server to ask: the call goes ahead un-faulted, still carrying
                // the request chain's id.
                if let Some(request_id) = request_id {
                    request.headers_mut().insert(headers::name::REQUEST_ID, request_id);
                }
                break 'call in_span(execute(request), span).await;
            };
            // Named only for a span that records it.
            if !span.is_disabled()
                && let Some(fault) = decision.fault_name()
            {
                spans::fault(span, &fault);
            }
            let headers = OutgoingHeaders {
                generated_id,
                vclock: &vclock,
                vclock_text: vclock_text.as_ref(),
                execution_index: &execution_index,
                request_id: request_id.as_ref(),
            };
            let (result, outcome): (Result<Response, E>, Outcome) = match decision {
                Decision::Status(status) => {
                    let value = ReturnValue::response(status.as_u16(), md5_hex(""));
                    (Ok(fault::response(status, request.url(), Vec::new())), Ok(value))
                }
                Decision::Fail(kind, exception) => {
                    (Err(fault::error(kind, request.url()).await.into()), Err(exception))
                }
                Decision::DelayThenFail(kind, exception, sleep) => {
                    let url = request.url().clone();
                    headers.set(request.headers_mut(), Some(sleep));
                    match in_span(execute(request), span).await {
                        Err(error) => observe_error(error),
                        Ok(_) => (Err(fault::error(kind, &url).await.into()), Err(exception)),
                    }
                }
                Decision::Proceed | Decision::DelayThenProceed(_) => {
                    if let Decision::DelayThenProceed(delay) = decision {
                        // Boxed: a timer is large, and latency faults are rare.
                        Box::pin(tokio::time::sleep(delay)).await;
                    }
                    headers.set(request.headers_mut(), None);
                    match in_span(execute(request), span).await {
                        Ok(response) => {
                            let (result, outcome) = observe_response(response, span).await;
                            (result.map_err(E::from), outcome)
                        }
                        Err(error) => observe_error(error),
                    }
                }
            };
            let (return_value, exception) = match outcome {
                Ok(value) => (Some(value), None),
                Err(exception) => (None, Some(exception)),
            };
            let complete = InvocationComplete {
                instrumentation_type: Cow::Borrowed("invocation_complete"),
                generated_id,
                execution_index,
                vclock,
                return_value,
                exception,
            };
            in_span(connection.update(&Update::InvocationComplete(complete)), span).await;
            result
        };
        if ends_span {
            spans::client_end(span, result.as_ref().map_err(SendError::as_reqwest));
        }
        result
    }
}

/// `future` in `span`: entered whenever it is polled, unless the span is
/// disabled (no subscriber wants it), when it is polled as it is, without
/// the cost of entering and leaving a disabled span.
fn in_span<F: Future>(future: F, span: &Span) -> Either<F, tracing::instrument::Instrumented<F>> {
    if span.is_disabled() { Either::Left(future) } else { Either::Right(future.instrument(span.clone())) }
}

/// A `.send()` runs with the instrumentation on but outside any
/// instrumented request (in a handler without `#[filibuster::handler]` or a
/// [`ServiceLayer`](crate::ServiceLayer), or in a plain `tokio::spawn`), so
/// it goes ahead uninstrumented: no fault can be injected there. Told to
/// the explorers running in this process, which fail their runs, and said
/// once per callsite; unless it is the functional test's own call.
#[cold]
fn outside_request(callsite: &'static Callsite) {
    static WARNED: SaidOnce = SaidOnce::new();
    if !crate::watch::outside_request(callsite) || !WARNED.first_time(callsite) {
        return;
    }
    tracing::warn!(
        callsite = callsite.id,
        function = callsite.function,
        file = callsite.file,
        line = callsite.line,
        "the `.send()` of `{}` at {}:{} runs outside any instrumented request, so it goes ahead \
         uninstrumented and no fault is injected there: put `#[filibuster::handler]` on the handler that \
         calls it (or a `filibuster::ServiceLayer` on its router), and in a task it spawns, carry the \
         request's context with `tokio::spawn(filibuster::in_current_request(async move {{ .. }}))` \
         (said once per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}

/// What a call ended with, as `invocation_complete` reports it.
type Outcome = Result<ReturnValue, Exception>;

fn observe_error<E: SendError>(error: E) -> (Result<Response, E>, Outcome) {
    let name = error.as_reqwest().and_then(ErrorKind::of).map(ErrorKind::name).unwrap_or(fault::OTHER);
    let exception = Exception { name: name.to_owned(), metadata: Map::new() };
    (Err(error), Err(exception))
}

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
                Err(error) => return observe_error(error.with_url(response.url().clone())),
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

/// A line number as the reference sends it: a decimal string.
fn line(line: u32) -> String {
    let mut text = String::with_capacity(10);
    crate::wire::push_u64(&mut text, line.into());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
