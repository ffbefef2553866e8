//! What every `.send()` in a `#[filibuster::call]` fn becomes: [`send`],
//! for any [`Instrumentable`] builder (reqwest's, in `reqwest_adapter`,
//! and reqwest-middleware's, in `middleware`).

use crate::callsite::Callsite;
use crate::spans;
use crate::switch;

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
/// [`reqwest::RequestBuilder`] (0.13), reqwest 0.12's with the
/// `reqwest-0_12` feature, and `reqwest_middleware::RequestBuilder` with the
/// `reqwest-middleware` feature (0.4's with `reqwest-middleware-0_4`; see
/// the `middleware` module).
///
/// Sealed: implemented for those builders only.
#[diagnostic::on_unimplemented(
    message = "`#[filibuster::call]` cannot instrument the `.send()` of `{Self}`",
    label = "not a request builder of reqwest 0.13 or 0.12 (nor of reqwest-middleware 0.5 or 0.4)",
    note = "filibuster instruments the `.send()` of reqwest 0.13's `RequestBuilder`, of reqwest \
            0.12's with filibuster's `reqwest-0_12` feature, of reqwest-middleware 0.5's with its \
            `reqwest-middleware` feature, and of reqwest-middleware 0.4's with its \
            `reqwest-middleware-0_4` feature",
    note = "a `reqwest::RequestBuilder` here is another reqwest's: for 0.12, turn on filibuster's \
            `reqwest-0_12` feature; for an older one, move this crate to reqwest 0.13 or 0.12; \
            `cargo tree -i reqwest` names both versions, and `cargo tree -i \
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
}

/// Whether a `.send()` is the builder's own: the instrumentation is off
/// and no `tracing` subscriber wants its client span (two relaxed loads).
#[inline]
pub(crate) fn plain() -> bool {
    !switch::enabled() && !spans::client_wanted()
}
