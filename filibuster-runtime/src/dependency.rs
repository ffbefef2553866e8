//! The dependency adapter of the call core: what the body of an
//! `async fn -> Result<T, E>` marked `#[filibuster::dependency("postgres")]`
//! becomes. With the instrumentation on, the fn is an instrumented call of
//! the request it runs in (created, decided, completed), whose record names
//! the error type's crate as its `module` (`sqlx`), the operation (the fn's
//! name) as its `method` and the dependency as its target; an injected fault
//! returns `Err(e)` with `e` the genuine error [`InjectFault`] makes. Off,
//! it is the fn's own future.

use std::borrow::Cow;
use std::marker::PhantomData;

use futures_util::future::Either;
use http::{HeaderMap, StatusCode};
use tracing::Span;

use crate::call::{Call, CallKey, Completion, Outcome, drive};
use crate::callsite::{Callsite, SaidOnce, say_once};
use crate::fault::InjectFault;
use crate::records::{Exception, ReturnValue};
use crate::spans;
use crate::switch;

/// Runs `future`, the body of the fn `operation` that calls `dependency`,
/// as an instrumented call from `callsite`: what `#[filibuster::dependency]`
/// expands to.
///
/// The switch is read when it is called: off (and no subscriber wanting the
/// call's span), the future is the fn's own.
pub fn dependency<F, R>(
    callsite: &'static Callsite,
    dependency: &'static str,
    operation: &'static str,
    future: F,
) -> impl Future<Output = R>
where
    F: Future<Output = R>,
    R: DependencyResult,
    R::Err: InjectFault,
{
    if !switch::enabled() && !spans::dependency_wanted() {
        return Either::Left(future);
    }
    if R::Err::FAULTS.is_empty() && switch::enabled() {
        no_faults(callsite, std::any::type_name::<R::Err>());
    }
    let call = DependencyCall { future, dependency, operation, output: PhantomData };
    Either::Right(futures_util::FutureExt::map(Box::pin(drive(call, callsite, None)), R::from_result))
}

/// The error type of the fn at `callsite` can take no fault: its calls are
/// reported, and never failed. Said once per callsite.
#[cold]
fn no_faults(callsite: &'static Callsite, error_type: &str) {
    static SAID: SaidOnce = SaidOnce::new();
    say_once!(
        SAID,
        warn,
        callsite,
        "the error type of the dependency call `{}` at {}:{}, `{error_type}`, names no fault in its \
         `InjectFault::FAULTS`, so the call is never failed: name the faults it can take there (said once \
         per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}

/// The `InjectFault` of `E` does not keep its word for the fault `name`:
/// the call is not failed as planned, or is reported under another name.
#[cold]
fn broken_contract<E: InjectFault>(name: &str, what: &str) {
    tracing::error!(
        fault = name,
        error_type = std::any::type_name::<E>(),
        "the `InjectFault` of `{}` names `{name}` among its `FAULTS` but {what}: an exploration that \
         plans it is not told the truth; make `inject` return the error of each name of `FAULTS`, and \
         `fault_name` name it back",
        std::any::type_name::<E>(),
    );
}

/// What a dependency fn returns: a `Result`.
#[diagnostic::on_unimplemented(
    message = "`#[filibuster::dependency]` applies to an async fn returning `Result<T, E>`, not `{Self}`",
    label = "not a `Result`: an injected fault becomes the `Err` of one"
)]
pub trait DependencyResult: Sized {
    /// `T`.
    type Ok;
    /// `E`.
    type Err;

    /// The result itself.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    /// Back from [`DependencyResult::into_result`].
    fn from_result(result: Result<Self::Ok, Self::Err>) -> Self;
}

impl<T, E> DependencyResult for Result<T, E> {
    type Ok = T;
    type Err = E;

    fn into_result(self) -> Self {
        self
    }

    fn from_result(result: Self) -> Self {
        result
    }
}

/// A dependency call: the fn's body, and what it calls.
struct DependencyCall<F, R> {
    future: F,
    dependency: &'static str,
    operation: &'static str,
    output: PhantomData<fn() -> R>,
}

impl<F, R, T, E> Call for DependencyCall<F, R>
where
    F: Future<Output = R>,
    R: DependencyResult<Ok = T, Err = E>,
    E: InjectFault,
{
    type Response = T;
    type Error = E;
    type FaultContext = ();
    type Fault = E;

    fn key(&self) -> CallKey {
        CallKey {
            module: E::MODULE,
            method: Cow::Borrowed(self.operation),
            target: Cow::Borrowed(self.dependency),
            dependency: Some((self.dependency, E::FAULTS)),
            timeout: None,
            tls: false,
        }
    }

    fn headers_mut(&mut self) -> Option<&mut HeaderMap> {
        None
    }

    fn client_span(&mut self, callsite: &'static Callsite) -> Span {
        spans::dependency(self.dependency, self.operation, callsite)
    }

    fn end_client_span(span: &Span, result: Result<&T, &E>) {
        spans::dependency_end(span, result.err().map(|error| error.fault_name().unwrap_or("_OTHER")));
    }

    fn fault_context(&self) -> &() {
        &()
    }

    fn perform(self) -> impl Future<Output = Result<T, E>> {
        futures_util::FutureExt::map(self.future, R::into_result)
    }

    fn fault(exception: &Exception) -> Option<E> {
        let error = E::inject(&exception.name);
        let declared = E::FAULTS.contains(&exception.name.as_str());
        match &error {
            None if declared => broken_contract::<E>(&exception.name, "makes no error of it"),
            Some(error) if error.fault_name() != Some(exception.name.as_str()) => {
                broken_contract::<E>(&exception.name, "makes an error `fault_name` does not name so")
            }
            _ => {}
        }
        error
    }

    fn fault_names() -> Vec<&'static str> {
        E::FAULTS.to_vec()
    }

    fn timeout_fault() -> Option<E> {
        None
    }

    fn respond((): &(), _status: StatusCode) -> Option<T> {
        None
    }

    async fn fail((): &(), fault: E) -> Result<T, E> {
        Err(fault)
    }

    async fn observe(response: T, _span: &Span, _: &mut Completion) -> (Result<T, E>, Option<Outcome>) {
        (Ok(response), Some(Ok(ReturnValue::ok())))
    }

    fn exception(error: &E) -> Exception {
        let name = match error.fault_name() {
            Some(name) => name.to_owned(),
            None => format!("{}.error", E::MODULE),
        };
        Exception { name, metadata: serde_json::Map::new() }
    }
}
