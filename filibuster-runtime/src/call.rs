//! The call core: the protocol of one instrumented call, whatever its
//! client. Start the call in the request's context, report it to the
//! server (`create`), take the server's decision, send the
//! `X-Filibuster-*` headers, perform the call or inject the fault, observe
//! how it ended and report that (`invocation_complete`).
//!
//! A client takes part through one trait, [`Call`], implemented in one
//! module of its own: `reqwest_adapter/` for reqwest 0.13 and 0.12 (whose
//! `Call` reqwest-middleware shares, with its own `perform`), and
//! `dependency.rs` for any `async fn -> Result<T, E>` marked
//! `#[filibuster::dependency]`. [`drive`] is the one state machine.

use std::borrow::Cow;

use futures_util::future::Either;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};
use tracing::{Instrument as _, Span};

use crate::callsite::{Callsite, SaidOnce, say_once};
use crate::connection::Connection;
use crate::context::{CallStart, RequestContext};
use crate::decision::{self, Decision};
use crate::headers;
use crate::outgoing::OutgoingHeaders;
use crate::records::{
    CANCELLED, Exception, Invocation, InvocationComplete, InvocationMetadata, ReturnValue, Update,
};
use crate::spans;
use crate::switch;
use crate::vclock::VectorClock;
use crate::wire::md5_hex;

/// What identifies a call to the server and to the execution index: the
/// `module`, `method` and `args` of its `invocation` record, hashed with its
/// callsite id into the execution index.
#[derive(Debug)]
pub(crate) struct CallKey {
    /// The client library: `reqwest`; a dependency's crate (`sqlx`).
    pub(crate) module: &'static str,
    /// The operation: an HTTP method, upper case; a dependency call's
    /// operation (`insert_order`).
    pub(crate) method: Cow<'static, str>,
    /// What the call reaches, without host or port (the path and query of
    /// a URL), so that indices survive a change of ports; a dependency's
    /// name (`postgres`).
    pub(crate) target: Cow<'static, str>,
    /// A dependency call's dependency and the faults its error type can
    /// take, sent in the record's metadata.
    pub(crate) dependency: Option<(&'static str, &'static [&'static str])>,
    /// The call's own timeout, in seconds, when it sets one (the client's,
    /// which a request does not show, is the callsite's).
    pub(crate) timeout: Option<f64>,
    /// Whether the call is encrypted (`https`).
    pub(crate) tls: bool,
}

/// How a call ended, as `invocation_complete` reports it.
pub(crate) type Outcome = Result<ReturnValue, Exception>;

/// One client's side of an instrumented call: what [`drive`] asks of it.
///
/// The hooks are synchronous, or small futures awaited inside the one state
/// machine of [`drive`], so that no nested future of the core's size is
/// built and moved at each call.
pub(crate) trait Call: Sized {
    /// What a successful call answers.
    type Response;
    /// What a failed call answers.
    type Error;
    /// What an injected fault is made from once the call is not made (for
    /// an HTTP call, its URL).
    type FaultContext: Clone;
    /// A fault the call can be failed with, as its client names it (a
    /// reqwest `ErrorKind`; a dependency's genuine error itself).
    type Fault;

    /// The call's identity ([`CallKey`]).
    fn key(&self) -> CallKey;
    /// The headers the call sends, where the `X-Filibuster-*` ones go;
    /// `None` for a call that sends none (a dependency call).
    fn headers_mut(&mut self) -> Option<&mut HeaderMap>;
    /// The call's client span, its context propagated in its headers.
    fn client_span(&mut self, callsite: &'static Callsite) -> Span;
    /// Records how the call ended on its client span.
    fn end_client_span(span: &Span, result: Result<&Self::Response, &Self::Error>);
    /// What an injected fault is made from.
    fn fault_context(&self) -> &Self::FaultContext;
    /// Performs the call.
    fn perform(self) -> impl Future<Output = Result<Self::Response, Self::Error>>;
    /// The fault the server's `exception` stands for on this call; `None`
    /// for one it cannot take.
    fn fault(exception: &Exception) -> Option<Self::Fault>;
    /// The names of the exceptions [`Call::fault`] knows, for the error
    /// that names an unknown one.
    fn fault_names() -> Vec<&'static str>;
    /// The fault of the call's own timeout firing, under a latency fault.
    fn timeout_fault() -> Option<Self::Fault>;
    /// The genuine answer of a call that answered `status`; `None` for a
    /// call that answers no status (a dependency call).
    fn respond(context: &Self::FaultContext, status: StatusCode) -> Option<Self::Response>;
    /// What a call that failed with `fault` answers: the client's genuine
    /// error (a reqwest error, a dependency's), or, for a client whose
    /// failures are answers (a gRPC status), a genuine response.
    fn fail(
        context: &Self::FaultContext,
        fault: Self::Fault,
    ) -> impl Future<Output = Result<Self::Response, Self::Error>>;
    /// The fault the callee's own error stands for on this call (an
    /// `errors` fault of the reference's model: `failure_metadata.exception`,
    /// a gRPC status), and the exception it is reported as; `None` for a
    /// call that cannot take one.
    fn callee_error(_error: &Map<String, Value>) -> Option<(Self::Fault, Exception)> {
        None
    }
    /// How a successful call ended: the response handed back (intact) and
    /// what `invocation_complete` reports of it; `None` when the response
    /// took `completion` ([`Completion::defer`]) to report when it ends
    /// later (a gRPC response, at its trailers).
    fn observe(
        response: Self::Response,
        span: &Span,
        completion: &mut Completion,
    ) -> impl Future<Output = (Result<Self::Response, Self::Error>, Option<Outcome>)>;
    /// The exception a failed call reports (`reqwest.timeout`, a gRPC
    /// status with its code, ...).
    fn exception(error: &Self::Error) -> Exception;
}

/// One call, from `callsite`: instrumented when the instrumentation is on
/// and the call is made in an instrumented request, else performed as it
/// is (with a warning, once per callsite, when on).
///
/// `span` is the call's client span when the caller made it (the
/// reqwest-middleware chain, whose `.send()` has it); with `None` this
/// makes it ([`Call::client_span`]) and ends it with the call's outcome.
///
/// One state machine, with no nested instrumented future: what it awaits
/// (the transport's calls, the call's own future, a read body) is small,
/// and a nested future of the size of this one would be moved (and copied)
/// into it at each call. The record lives in a block of its own, so that it
/// does not stay in the state once sent.
#[expect(clippy::manual_async_fn, reason = "an `async fn` would keep its call twice")]
pub(crate) fn drive<C: Call>(
    mut call: C,
    callsite: &'static Callsite,
    span: Option<&Span>,
) -> impl Future<Output = Result<C::Response, C::Error>> {
    // An `async` block, not an `async fn`: the arguments of an `async fn`
    // are moved into locals of its body, and the call would take room
    // twice in the future.
    async move {
        let made;
        let (span, ends_span) = match span {
            Some(span) => (span, false),
            None => {
                made = call.client_span(callsite);
                (&made, true)
            }
        };
        let result = 'call: {
            if !switch::enabled() {
                break 'call in_span(call.perform(), span).await;
            }
            let key = call.key();
            let Some(CallStart {
                service,
                connection,
                request_id,
                vclock,
                vclock_text,
                origin_vclock,
                execution_index,
            }) = RequestContext::with_current(|ctx| ctx.start_call(callsite, &key))
            else {
                outside_request(callsite);
                break 'call in_span(call.perform(), span).await;
            };
            spans::record_execution_index(span, &execution_index);
            // The call's own timeout wins over the client's, as in reqwest.
            let timeout = key.timeout.or(callsite.client_timeout);
            // In a block of its own, so that the record (borrowed by `create`)
            // does not stay in the future's state after it is sent.
            let (answer, vclock, execution_index) = {
                let invocation = Invocation {
                    instrumentation_type: Cow::Borrowed("invocation"),
                    source_service_name: Cow::Borrowed(service),
                    module: Cow::Borrowed(key.module),
                    method: key.method,
                    args: vec![key.target.into_owned()],
                    kwargs: Map::new(),
                    callsite_file: Cow::Borrowed(callsite.file),
                    callsite_line: Value::String(line(callsite.line)),
                    full_traceback: Cow::Borrowed(callsite.id),
                    metadata: InvocationMetadata {
                        timeout,
                        ssl: key.tls.then_some(true),
                        dependency: key.dependency.map(|(name, _)| Cow::Borrowed(name)),
                        faults: key
                            .dependency
                            .map(|(_, faults)| faults.iter().map(|&name| Cow::Borrowed(name)).collect()),
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
                let decision = |answer: crate::records::CreateResponse| {
                    (answer.generated_id, Decision::of(answer, C::fault, C::callee_error))
                };
                (answer.map(decision), vclock, execution_index)
            };
            let Some((generated_id, decision)) = answer else {
                // No server to ask: the call goes ahead un-faulted, still carrying
                // the request chain's id.
                if let (Some(request_id), Some(headers)) = (request_id, call.headers_mut()) {
                    headers.insert(headers::name::REQUEST_ID, request_id);
                }
                break 'call in_span(call.perform(), span).await;
            };
            // From here until `invocation_complete`, a call dropped by its
            // caller reports itself cancelled.
            let mut completion =
                Completion { connection, ended: Some(Ended { generated_id, execution_index, vclock }) };
            let Some(Ended { execution_index, vclock, .. }) = &completion.ended else {
                unreachable!("just set")
            };
            // Named only for a span that records it, once injected: not a
            // fault the call cannot take.
            let mut fault_name = if span.is_disabled() { None } else { decision.fault_name() };
            let headers = OutgoingHeaders {
                generated_id,
                vclock,
                vclock_text: vclock_text.as_ref(),
                execution_index,
                request_id: request_id.as_ref(),
            };
            // A loop only so that a fault the call cannot take goes on as
            // `Proceed`: said, and the call goes ahead.
            let mut decision = decision;
            let (result, outcome): (Result<C::Response, C::Error>, Option<Outcome>) = loop {
                break match decision {
                    Decision::Status(status) => match C::respond(call.fault_context(), status) {
                        Some(response) => {
                            (Ok(response), Some(Ok(ReturnValue::response(status.as_u16(), md5_hex("")))))
                        }
                        None => {
                            decision::status_on_a_call_without_one(call.key().module, status);
                            fault_name = None;
                            decision = Decision::Proceed;
                            continue;
                        }
                    },
                    Decision::Unknown(name) => {
                        decision::unknown_exception(call.key().module, &name, &C::fault_names());
                        decision = Decision::Proceed;
                        continue;
                    }
                    Decision::Fail(fault, exception) | Decision::CalleeError(fault, exception) => {
                        (C::fail(call.fault_context(), fault).await, Some(Err(exception)))
                    }
                    Decision::DelayThenFail(fault, exception, sleep) => {
                        let context = call.fault_context().clone();
                        if let Some(carrier) = call.headers_mut() {
                            headers.set(carrier, Some(sleep));
                        }
                        match in_span(call.perform(), span).await {
                            Err(error) => observe_error::<C>(error),
                            Ok(_) => (C::fail(&context, fault).await, Some(Err(exception))),
                        }
                    }
                    Decision::DelayThenProceed(_) | Decision::Hang => {
                        let delay = match decision {
                            Decision::DelayThenProceed(delay) => Some(delay),
                            _ => None,
                        };
                        // An instrumented callee sleeps that long before its
                        // handler (at most `MAX_FORCED_SLEEP`), so that the
                        // client's own timers, a client timeout nobody declared
                        // included, run over the wait; a callee that does not
                        // honour it is waited for here.
                        let sleep = delay.unwrap_or(crate::headers::MAX_FORCED_SLEEP);
                        if let Some(carrier) = call.headers_mut() {
                            headers.set(carrier, Some(sleep.as_secs_f64()));
                        }
                        // Boxed: timers are large, and latency faults are rare.
                        match Box::pin(in_span(slow::<C>(call, delay, timeout), span)).await {
                            Ok(response) => C::observe(response, span, &mut completion).await,
                            Err(error) => observe_error::<C>(error),
                        }
                    }
                    Decision::Proceed => {
                        if let Some(carrier) = call.headers_mut() {
                            headers.set(carrier, None);
                        }
                        match in_span(call.perform(), span).await {
                            Ok(response) => C::observe(response, span, &mut completion).await,
                            Err(error) => observe_error::<C>(error),
                        }
                    }
                };
            };
            if let Some(fault) = fault_name {
                spans::fault(span, &fault);
            }
            if let Some(update) = outcome.and_then(|outcome| completion.record(outcome)) {
                in_span(completion.connection.update(&update), span).await;
            }
            result
        };
        if ends_span {
            C::end_client_span(span, result.as_ref());
        }
        result
    }
}

/// The call under a latency fault, as a slow service makes it: the request
/// goes out at once, and its answer comes `delay` after it was sent (or
/// later, if the service is slower; a failure comes when it comes), or
/// never under a hang fault (`None`); the call's own timeout (`timeout`
/// seconds, the request's or the client's) fires at its moment
/// meanwhile, with the client's genuine timeout error, so that a caller's
/// timeout can be tested with a latency fault.
async fn slow<C: Call>(
    call: C,
    delay: Option<std::time::Duration>,
    timeout: Option<f64>,
) -> Result<C::Response, C::Error> {
    let context = call.fault_context().clone();
    let answer = async move {
        let sent = tokio::time::Instant::now();
        let answer = call.perform().await;
        // A refused connection is not slowed by a slow service.
        match (&answer, delay) {
            (Err(_), _) => {}
            (Ok(_), Some(delay)) => tokio::time::sleep_until(sent + delay).await,
            (Ok(_), None) => std::future::pending().await,
        }
        answer
    };
    let timeout = timeout.and_then(|t| std::time::Duration::try_from_secs_f64(t).ok());
    let (Some(timeout), Some(_)) = (timeout, C::timeout_fault()) else {
        return answer.await;
    };
    match tokio::time::timeout(timeout, answer).await {
        Ok(answer) => answer,
        Err(_elapsed) => match C::timeout_fault() {
            Some(fault) => C::fail(&context, fault).await,
            None => unreachable!("checked above"),
        },
    }
}

/// What `invocation_complete` names a call by.
struct Ended {
    generated_id: u64,
    execution_index: String,
    vclock: VectorClock,
}

/// A call the server was told of (`create`) and not yet of how it ended:
/// its `invocation_complete` is to be sent ([`Completion::record`]). Dropped
/// unreported (its caller gave up on it: a client's outer timeout, a
/// `select!`, a handler cancelled with its request; a gRPC response dropped
/// before its trailers), it reports the exception [`CANCELLED`], so that
/// its execution does not wait for a call that will never end.
pub(crate) struct Completion {
    connection: Connection,
    /// `None` once `invocation_complete` is on its way, or handed on.
    ended: Option<Ended>,
}

impl Completion {
    /// Reports how the call ended (`invocation_complete`), at once when the
    /// transport answers at once (the in-process server); else answers the
    /// report to send, boxed. Once: a completion already reported, or
    /// handed on, reports nothing.
    #[cfg(feature = "tonic")]
    pub(crate) fn complete_now(
        &mut self,
        outcome: Outcome,
    ) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        let update = self.record(outcome)?;
        if self.connection.update_now(&update) {
            return None;
        }
        let connection = self.connection.clone();
        Some(Box::pin(async move { connection.update(&update).await }))
    }

    /// The `invocation_complete` of a call that ended with `outcome`, to
    /// send; `None` once taken, or handed on.
    fn record(&mut self, outcome: Outcome) -> Option<Update> {
        let Ended { generated_id, execution_index, vclock } = self.ended.take()?;
        let (return_value, exception) = match outcome {
            Ok(value) => (Some(value), None),
            Err(exception) => (None, Some(exception)),
        };
        Some(Update::InvocationComplete(InvocationComplete {
            instrumentation_type: Cow::Borrowed("invocation_complete"),
            generated_id,
            execution_index,
            vclock,
            return_value,
            exception,
        }))
    }

    /// Hands the report on to what ends the call later (a gRPC response's
    /// body, at its trailers): this one then reports nothing.
    #[cfg(feature = "tonic")]
    pub(crate) fn defer(&mut self) -> Completion {
        Completion { connection: self.connection.clone(), ended: self.ended.take() }
    }
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion").field("reported", &self.ended.is_none()).finish()
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.ended.is_none() {
            return;
        }
        // Outside a runtime (a runtime shutting down drops its tasks), there
        // is no way left to report it.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let cancelled = Exception { name: CANCELLED.to_owned(), metadata: Map::new() };
        if let Some(update) = self.record(Err(cancelled)) {
            let connection = self.connection.clone();
            runtime.spawn(async move { connection.update(&update).await });
        }
    }
}

/// A failed call, handed back as it is, and the exception it reports.
fn observe_error<C: Call>(error: C::Error) -> (Result<C::Response, C::Error>, Option<Outcome>) {
    let exception = C::exception(&error);
    (Err(error), Some(Err(exception)))
}

/// `future` in `span`: entered whenever it is polled, unless the span is
/// disabled (no subscriber wants it), when it is polled as it is, without
/// the cost of entering and leaving a disabled span.
fn in_span<F: Future>(future: F, span: &Span) -> Either<F, tracing::instrument::Instrumented<F>> {
    if span.is_disabled() { Either::Left(future) } else { Either::Right(future.instrument(span.clone())) }
}

/// A line number as the reference sends it: a decimal string.
fn line(line: u32) -> String {
    let mut text = String::with_capacity(10);
    crate::wire::push_u64(&mut text, line.into());
    text
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
    if !crate::watch::outside_request(callsite) {
        return;
    }
    say_once!(
        WARNED,
        warn,
        callsite,
        "the instrumented call in `{}` at {}:{} runs outside any instrumented request, so it goes ahead \
         uninstrumented and no fault is injected there: put `#[filibuster::handler]` on the handler that \
         calls it (or a `filibuster::ServiceLayer` on its router), and in a task it spawns, carry the \
         request's context with `tokio::spawn(filibuster::in_current_request(async move {{ .. }}))` \
         (said once per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}
