//! The fn an RPC is made in: an async fn with `#[filibuster::call]` and no
//! `.send()` runs in the scope of its callsite ([`rpc_scope`]), so that the
//! RPCs it makes through a `ClientLayer` get callsites of their own (the
//! fn's, one per RPC path) instead of the calling service's, as its
//! `.send()`s would.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::Either;

use crate::callsite::{Callsite, SaidOnce, say_once};
use crate::switch;

/// The `#[filibuster::call]` fn under way, and whether it made an RPC.
struct Caller {
    callsite: &'static Callsite,
    made_rpc: AtomicBool,
}

tokio::task_local! {
    static CALLER: Caller;
}

/// Runs `body`, the body of the async fn of `callsite` (what
/// `#[filibuster::call]` makes of an async fn without `.send()`), as the fn
/// the RPCs it makes are made in. Off, `body` itself. On, a fn that made no
/// RPC is said, once: its attribute instruments nothing.
pub fn rpc_scope<F: Future>(callsite: &'static Callsite, body: F) -> impl Future<Output = F::Output> {
    if !switch::enabled() {
        return Either::Left(body);
    }
    let caller = Caller { callsite, made_rpc: AtomicBool::new(false) };
    Either::Right(CALLER.scope(caller, async move {
        let output = body.await;
        if let Some(callsite) =
            CALLER.with(|caller| (!caller.made_rpc.load(Ordering::Relaxed)).then_some(caller.callsite))
        {
            nothing_instrumented(callsite);
        }
        output
    }))
}

/// The callsite of the `#[filibuster::call]` fn the current task is in,
/// noting that it made an RPC.
#[cfg(feature = "tonic")]
pub(crate) fn current() -> Option<&'static Callsite> {
    CALLER
        .try_with(|caller| {
            caller.made_rpc.store(true, Ordering::Relaxed);
            caller.callsite
        })
        .ok()
}

/// The fn of `callsite`, which has `#[filibuster::call]` and no `.send()`,
/// ended without an RPC through a `ClientLayer`. Said once per callsite.
#[cold]
fn nothing_instrumented(callsite: &'static Callsite) {
    static SAID: SaidOnce = SaidOnce::new();
    say_once!(
        SAID,
        warn,
        callsite,
        "the #[filibuster::call] fn `{}` at {}:{} has no `.send()`, and this time made no RPC through a \
         `filibuster::grpc::ClientLayer`: if it never makes one, its attribute instruments nothing (a \
         `.send()` made elsewhere, of a builder returned to the caller or in a nested fn, is not \
         instrumented; put the attribute on the fn that calls `.send()`) (said once per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}
