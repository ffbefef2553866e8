//! What every `.send()` in a `#[filibuster::call]` fn becomes.

use std::borrow::Cow;

use futures_util::future::Either;
use http::{HeaderName, HeaderValue};
use reqwest::{Request, RequestBuilder, Response};
use serde_json::{Map, Value};
use tracing::{Instrument as _, Span};

use crate::callsite::{Callsite, SaidOnce};
use crate::context::{CallStart, ClockWire, MODULE, RequestContext};
use crate::fault::{self, ErrorKind};
use crate::headers;
use crate::records::{
    CreateResponse, Exception, Invocation, InvocationComplete, InvocationMetadata, ReturnValue, Update,
};
use crate::spans;
use crate::switch;
use crate::vclock::VectorClock;
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
                    request.headers_mut().insert(REQUEST_ID, request_id);
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
                    headers.set(&mut request, Some(sleep));
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
                    headers.set(&mut request, None);
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

/// What the server decided for one call.
enum Decision {
    Proceed,
    Fail(ErrorKind, Exception),
    /// Perform the call with a forced sleep downstream, then fail.
    DelayThenFail(ErrorKind, Exception, f64),
    Status(http::StatusCode),
    /// Wait this long, then perform the call as usual (a latency fault:
    /// failure metadata `{"latency_ms": <n>}`, bounded by
    /// [`MAX_FORCED_SLEEP`](crate::headers::MAX_FORCED_SLEEP)).
    DelayThenProceed(std::time::Duration),
}

impl Decision {
    fn of(answer: CreateResponse) -> Self {
        if let Some(exception) = answer.forced_exception {
            let kind = ErrorKind::from_name(&exception.name);
            let aborts = exception.metadata.get("abort").and_then(Value::as_bool).unwrap_or(true);
            if aborts {
                return Decision::Fail(kind, exception);
            }
            let sleep = exception.metadata.get("sleep").and_then(json_number).unwrap_or(0.0);
            return Decision::DelayThenFail(kind, exception, sleep_seconds(sleep));
        }
        let status = answer.failure_metadata.as_ref().and_then(|f| f.return_value.as_ref());
        if let Some(value) = status {
            match value
                .status_code
                .trim()
                .parse::<u16>()
                .ok()
                .and_then(|c| http::StatusCode::from_u16(c).ok())
            {
                Some(status) => return Decision::Status(status),
                None => {
                    tracing::warn!(status = %value.status_code, "ignoring a failure with an invalid status code")
                }
            }
        }
        let latency = answer
            .failure_metadata
            .as_ref()
            .and_then(|f| f.other.get(crate::records::FailureMetadata::LATENCY_MS));
        if let Some(latency) = latency {
            match json_number(latency).filter(|ms| ms.is_finite() && *ms >= 0.0) {
                Some(ms) => {
                    let max = crate::headers::MAX_FORCED_SLEEP;
                    let delay = std::time::Duration::from_secs_f64((ms / 1000.0).min(max.as_secs_f64()));
                    return Decision::DelayThenProceed(delay);
                }
                None => {
                    let latency = crate::records::compact(latency);
                    tracing::warn!(%latency, "ignoring a latency fault with an invalid number of milliseconds")
                }
            }
        }
        Decision::Proceed
    }

    /// The name of the fault the decision injects, as the client span's
    /// `filibuster.fault` shows it: `connection_error`, `timeout`,
    /// `status 503`, `latency 100ms`; `None` to proceed as usual.
    fn fault_name(&self) -> Option<Cow<'static, str>> {
        let kind = |kind: &ErrorKind| match kind {
            ErrorKind::Connect => "connection_error",
            ErrorKind::Timeout => "timeout",
        };
        match self {
            Decision::Proceed => None,
            Decision::Fail(error, _) | Decision::DelayThenFail(error, _, _) => {
                Some(Cow::Borrowed(kind(error)))
            }
            Decision::Status(status) => Some(Cow::Owned(format!("status {}", status.as_u16()))),
            Decision::DelayThenProceed(delay) => Some(Cow::Owned(format!("latency {}ms", delay.as_millis()))),
        }
    }
}

fn json_number(value: &Value) -> Option<f64> {
    value.as_f64().or_else(|| value.as_str()?.trim().parse().ok())
}

/// The forced sleep of a non-aborting fault, in seconds: a negative, NaN or
/// infinite one (`"sleep": "-1"`, `"NaN"`, `"1e400"`) is no sleep, said
/// with a warning; any other is passed on as it is (the receiving handler
/// bounds it).
fn sleep_seconds(seconds: f64) -> f64 {
    if seconds.is_finite() && seconds >= 0.0 {
        // -0.0 as 0.
        return seconds + 0.0;
    }
    tracing::warn!(sleep = seconds, "ignoring the invalid forced sleep of a non-aborting fault");
    0.0
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

/// The outgoing headers, named at compile time.
const GENERATED_ID: HeaderName = HeaderName::from_static(headers::GENERATED_ID);
const VCLOCK: HeaderName = HeaderName::from_static(headers::VCLOCK);
const ORIGIN_VCLOCK: HeaderName = HeaderName::from_static(headers::ORIGIN_VCLOCK);
const EXECUTION_INDEX: HeaderName = HeaderName::from_static(headers::EXECUTION_INDEX);
const REQUEST_ID: HeaderName = HeaderName::from_static(headers::REQUEST_ID);
const FORCED_SLEEP: HeaderName = HeaderName::from_static(headers::FORCED_SLEEP);

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

/// What the outgoing request of a call carries.
struct OutgoingHeaders<'a> {
    generated_id: u64,
    vclock: &'a VectorClock,
    /// `vclock`'s wire text, when the request context has it.
    vclock_text: Option<&'a ClockWire>,
    execution_index: &'a str,
    request_id: Option<&'a HeaderValue>,
}

impl OutgoingHeaders<'_> {
    fn set(&self, request: &mut Request, sleep: Option<f64>) {
        // The generated id, the clock (sent twice: `origin_vclock` is the
        // same text) and the execution index are printed into one buffer,
        // of which each value is a shared slice: one allocation for all.
        let clock_len =
            self.vclock_text.map_or_else(|| self.vclock.wire_len_hint(), ClockWire::wire_len_hint);
        let mut text = String::with_capacity(20 + clock_len + self.execution_index.len());
        crate::wire::push_u64(&mut text, self.generated_id);
        let id_end = text.len();
        match self.vclock_text {
            Some(clock) => clock.push_wire(&mut text),
            None => self.vclock.push_wire(&mut text),
        }
        let vclock_end = text.len();
        text.push_str(self.execution_index);
        let text = bytes::Bytes::from(text);
        let value = |range: std::ops::Range<usize>| HeaderValue::from_maybe_shared(text.slice(range)).ok();
        let (id, vclock, index) =
            (value(0..id_end), value(id_end..vclock_end), value(vclock_end..text.len()));
        let map = request.headers_mut();
        match (id, vclock, index, self.request_id) {
            // The usual case, a request without headers of its own yet: a
            // copy of the template, whose values are then put in, in order.
            (Some(id), Some(vclock), Some(index), Some(request_id)) if map.is_empty() => {
                *map = TEMPLATE.clone();
                let values = [id, vclock.clone(), vclock, index, request_id.clone()];
                for (slot, value) in map.values_mut().zip(values) {
                    *slot = value;
                }
            }
            (id, vclock, index, request_id) => {
                let pairs = [
                    (GENERATED_ID, id),
                    (VCLOCK, vclock.clone()),
                    (ORIGIN_VCLOCK, vclock),
                    (EXECUTION_INDEX, index),
                    (REQUEST_ID, request_id.cloned()),
                ];
                map.reserve(pairs.len() + 1);
                for (name, value) in pairs {
                    if let Some(value) = value {
                        map.insert(name, value);
                    }
                }
            }
        }
        if let Some(value) = sleep.map(format_seconds).and_then(|text| HeaderValue::try_from(text).ok()) {
            map.insert(FORCED_SLEEP, value);
        }
    }
}

/// The outgoing headers of a call, in the order they are set, with empty
/// values: inserting a header hashes its name, copying a map does not, so
/// that a request without headers of its own gets a copy of this map with
/// the call's values put in ([`OutgoingHeaders::set`]): the same names, in
/// the same order, as inserting them one by one.
static TEMPLATE: std::sync::LazyLock<http::HeaderMap> = std::sync::LazyLock::new(|| {
    let mut map = http::HeaderMap::with_capacity(6);
    for name in [GENERATED_ID, VCLOCK, ORIGIN_VCLOCK, EXECUTION_INDEX, REQUEST_ID] {
        map.insert(name, HeaderValue::from_static(""));
    }
    map
});

/// Seconds as the reference's handlers parse them (`int(...)`): whole
/// numbers without a fraction or an exponent, however large (`1e20` is
/// `100000000000000000000`, not the `i64` it would saturate to).
fn format_seconds(seconds: f64) -> String {
    // `Display` of an `f64` prints whole numbers without `.0` and never
    // uses an exponent.
    seconds.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The answer of a server that asks for a non-aborting fault sleeping
    /// `sleep`.
    fn non_aborting(sleep: Value) -> CreateResponse {
        let mut metadata = Map::new();
        metadata.insert("abort".into(), Value::Bool(false));
        metadata.insert("sleep".into(), sleep);
        CreateResponse {
            generated_id: 1,
            forced_exception: Some(Exception { name: "reqwest.timeout".into(), metadata }),
            ..CreateResponse::default()
        }
    }

    /// The forced sleep a decision sends downstream, as the header's text.
    fn sleep_header(answer: &CreateResponse) -> Option<String> {
        match Decision::of(answer.clone()) {
            Decision::DelayThenFail(_, _, sleep) => Some(format_seconds(sleep)),
            _ => None,
        }
    }

    /// What the receiving handler makes of a forced-sleep header.
    fn received_sleep(text: &str) -> Option<std::time::Duration> {
        let mut map = http::HeaderMap::new();
        map.insert(FORCED_SLEEP, HeaderValue::from_str(text).ok()?);
        headers::FilibusterHeaders::from_headers(&map).forced_sleep
    }

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

    #[test]
    fn faults_are_named_for_their_spans() {
        let exception = || Exception { name: "reqwest.timeout".into(), metadata: Map::new() };
        let names = [
            (Decision::Proceed, None),
            (Decision::Fail(ErrorKind::Connect, exception()), Some("connection_error")),
            (Decision::Fail(ErrorKind::Timeout, exception()), Some("timeout")),
            (Decision::DelayThenFail(ErrorKind::Timeout, exception(), 1.0), Some("timeout")),
            (Decision::Status(http::StatusCode::SERVICE_UNAVAILABLE), Some("status 503")),
            (Decision::DelayThenProceed(std::time::Duration::from_millis(100)), Some("latency 100ms")),
        ];
        for (decision, name) in names {
            assert_eq!(decision.fault_name().as_deref(), name);
        }
    }

    #[test]
    fn invalid_forced_sleeps_are_no_sleep() {
        for sleep in ["-1", "-0", "NaN", "inf", "-inf", "1e400", "-1e400"] {
            assert_eq!(sleep_header(&non_aborting(Value::from(sleep))).as_deref(), Some("0"), "{sleep}");
        }
        assert_eq!(sleep_header(&non_aborting(Value::from(-2.5))).as_deref(), Some("0"));
        assert_eq!(sleep_header(&non_aborting(Value::from(i64::MIN))).as_deref(), Some("0"));
        assert_eq!(sleep_header(&non_aborting(Value::from("soon"))).as_deref(), Some("0"));
        assert_eq!(sleep_header(&non_aborting(Value::Null)).as_deref(), Some("0"));
    }

    #[test]
    fn forced_sleeps_print_as_the_reference_parses_them() {
        for (sleep, text) in [
            (Value::from(3), "3"),
            (Value::from(3.0), "3"),
            (Value::from(0.25), "0.25"),
            (Value::from(" 11 "), "11"),
            (Value::from(u64::MAX), "18446744073709552000"),
            // Past i64: whole digits, not the saturated i64::MAX.
            (Value::from(1e20), "100000000000000000000"),
        ] {
            assert_eq!(sleep_header(&non_aborting(sleep.clone())).as_deref(), Some(text), "{sleep}");
        }
        assert_eq!(received_sleep("100000000000000000000"), Some(headers::MAX_FORCED_SLEEP));
    }

    /// JSON values a server may put in a fault's `sleep`.
    fn sleep_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<f64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| Value::from(f.to_string())),
            "[-+ ]?(inf|infinity|NaN|nan|[0-9]{0,400}(\\.[0-9]{0,20})?(e[-+]?[0-9]{1,4})?) ?"
                .prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
            Just(Value::Null),
            Just(Value::Bool(true)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whatever a server asks for, a decision is made without a panic,
        /// and a forced sleep is sent as a header the receiving handler
        /// reads back, bounded, as the same number of seconds.
        #[test]
        fn any_answer_makes_a_decision(
            sleep in sleep_value(),
            abort in prop_oneof![Just(Value::Bool(false)), Just(Value::Bool(true)), Just(Value::Null), ".{0,5}".prop_map(Value::from)],
            name in ".{0,40}",
            status in prop_oneof![any::<u16>().prop_map(|c| c.to_string()), ".{0,8}"],
        ) {
            let mut answer = non_aborting(sleep);
            if let Some(exception) = &mut answer.forced_exception {
                exception.name = name;
                exception.metadata.insert("abort".into(), abort);
            }
            if let Some(text) = sleep_header(&answer) {
                let seconds: f64 = text.parse().unwrap();
                prop_assert!(seconds.is_finite() && seconds >= 0.0, "{text}");
                let expected = std::time::Duration::from_secs_f64(seconds.min(headers::MAX_FORCED_SLEEP.as_secs_f64()));
                prop_assert_eq!(received_sleep(&text), Some(expected), "{}", text);
            }
            let status_only = CreateResponse {
                generated_id: 0,
                failure_metadata: Some(crate::records::FailureMetadata {
                    return_value: Some(ReturnValue { class: None, status_code: status.clone().into(), text: None }),
                    other: Map::new(),
                }),
                ..CreateResponse::default()
            };
            match Decision::of(status_only) {
                Decision::Status(code) => prop_assert_eq!(code.as_u16(), status.trim().parse::<u16>().unwrap()),
                Decision::Proceed => prop_assert!(status.trim().parse::<u16>().ok().and_then(|c| http::StatusCode::from_u16(c).ok()).is_none()),
                _ => prop_assert!(false, "a status became an exception"),
            }
        }
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
