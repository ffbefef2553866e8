//! Instrumented calls through [reqwest-middleware](https://docs.rs/reqwest-middleware)
//! clients (feature `reqwest-middleware`; reqwest-middleware 0.4, on
//! reqwest 0.12, with `reqwest-middleware-0_4`); documented, with examples,
//! in `filibuster::middleware`.
//!
//! An instrumented `.send()` of a `reqwest_middleware::RequestBuilder`
//! puts its callsite in the request's extensions and runs the client's chain
//! with `End` appended. [`Instrument`], the last middleware the user
//! added, makes each attempt reaching it an instrumented call in a client
//! span of its own (as OpenTelemetry's HTTP conventions have it: one per
//! physical request, a resend counted in `http.request.resend_count`), the
//! rest of the chain performing it; `End` does so in its place when the
//! client has none (with a warning), and reports attempts repeated under an
//! [`Instrument`] that is not last (with an error).
//!
//! One source, `chain.rs`, compiled once per reqwest-middleware version
//! against that version and its reqwest's adapter, as `reqwest_adapter/`
//! is: one [`Instrument`] for both, a middleware of each.

use crate::callsite::{Callsite, SaidOnce, say_once};

/// The middleware that makes each attempt of an instrumented `.send()` of a
/// `reqwest_middleware::RequestBuilder` an instrumented call of its own.
///
/// Add it **last** to the client's `ClientBuilder`, after every other
/// middleware: `.with(filibuster::middleware::Instrument)`. The middleware
/// after it would run inside one instrumented call, and the attempts of a
/// retry middleware there would not be calls of their own.
///
/// It only acts on the requests of the `.send()`s of `#[filibuster::call]`
/// fns with the instrumentation on; it passes any other request on
/// untouched. It is a middleware of reqwest-middleware 0.5 and, with the
/// `reqwest-middleware-0_4` feature, of 0.4.
#[derive(Clone, Copy, Debug, Default)]
pub struct Instrument;

/// In the extensions of a request sent by an instrumented `.send()`: its
/// callsite, and how many attempts of it were instrumented so far.
#[derive(Clone, Copy, Debug)]
struct Call {
    callsite: &'static Callsite,
    attempts: u32,
}

/// In the extensions while an attempt is instrumented: how often it reached
/// the end of the chain.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    ends: u32,
}

/// reqwest-middleware 0.5, on reqwest 0.13.
mod v0_5 {
    use crate::reqwest_adapter::v0_13 as adapter;

    include!("chain.rs");
}

/// reqwest-middleware 0.4, on reqwest 0.12 (feature `reqwest-middleware-0_4`).
#[cfg(feature = "reqwest-middleware-0_4")]
mod v0_4 {
    use crate::reqwest_adapter::v0_12 as adapter;
    use reqwest_0_12 as reqwest;
    use reqwest_middleware_0_4 as reqwest_middleware;

    include!("chain.rs");
}

/// Says, once per callsite, that the client of an instrumented `.send()`
/// has no [`Instrument`], so that filibuster's own end of the chain
/// instrumented the attempts.
#[cold]
fn warn_missing(callsite: &'static Callsite) {
    static SAID: SaidOnce = SaidOnce::new();
    say_once!(
        SAID,
        warn,
        callsite,
        "the reqwest-middleware client of the `.send()` of `{}` at {}:{} has no \
         `filibuster::middleware::Instrument`: filibuster instrumented each attempt at the end of its \
         middleware chain instead; add `.with(filibuster::middleware::Instrument)` last to the client's \
         `ClientBuilder` (said once per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}

/// Says, once per callsite, that an attempt was repeated under an
/// [`Instrument`] that is not the last middleware, so that the repeats were
/// not calls of their own.
#[cold]
fn error_not_last(callsite: &'static Callsite) {
    static SAID: SaidOnce = SaidOnce::new();
    say_once!(
        SAID,
        error,
        callsite,
        "a middleware after `filibuster::middleware::Instrument` in the client of the `.send()` of `{}` at \
         {}:{} repeated a request (a retry?): the repeats are hidden inside one instrumented call, and no \
         fault can be injected into them; add `.with(filibuster::middleware::Instrument)` last to the \
         client's `ClientBuilder` (said once per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}
