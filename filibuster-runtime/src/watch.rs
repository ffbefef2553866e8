//! Mistakes that would make an in-process explorer quietly skip calls,
//! noticed while it runs: a router without the explorer's layer, and a
//! `.send()` outside any instrumented request.
//!
//! An instrumented handler whose request carries no [`Connection`] (its
//! router has no `.layer(explorer.connection().layer())`) falls back on the
//! process default: HTTP to `FILIBUSTER_URL`. When nobody chose that default
//! and an explorer runs in this process, that is a mistake: the handler
//! reports its service here instead, runs un-instrumented, and every running
//! explorer fails its run naming the service. A [`ServiceLayer`] finds no
//! connection either when the connection's layer was added before it
//! (inside it, so that it runs after): that is reported the same way, with a
//! word about the order.
//!
//! A `#[filibuster::call]` fn's `.send()` that runs outside any instrumented
//! request (its handler has no `#[filibuster::handler]` and its router no
//! [`ServiceLayer`], or it runs in a task spawned without the request's
//! context) goes ahead un-instrumented: no fault can be injected there.
//! While an explorer runs in this process, its callsite is reported here,
//! and the explorer fails its run naming it. Calls outside requests on
//! purpose run in [`outside_requests`]: a service's background job, and the
//! functional test itself, which the explorer runs so.
//!
//! [`Connection`]: crate::Connection
//! [`ServiceLayer`]: crate::ServiceLayer

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::callsite::Callsite;
use crate::handler::By;

/// What one running explorer has seen so far.
#[derive(Debug, Default)]
struct Seen {
    /// The services whose handlers ran without a layer.
    unlayered: BTreeSet<&'static str>,
    /// The callsites whose `.send()`s ran outside any instrumented request,
    /// in the order first seen.
    outside: Vec<&'static Callsite>,
}

type Shared = Arc<Mutex<Seen>>;

static WATCHERS: Mutex<Vec<Shared>> = Mutex::new(Vec::new());

fn watchers() -> MutexGuard<'static, Vec<Shared>> {
    WATCHERS.lock().unwrap_or_else(|e| e.into_inner())
}

fn seen(shared: &Shared) -> MutexGuard<'_, Seen> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registered by a running explorer; unregistered when dropped.
#[derive(Debug)]
pub struct Watch {
    seen: Shared,
}

impl Watch {
    /// Starts watching for handlers without a layer and calls outside
    /// requests.
    pub fn start() -> Self {
        let seen = Shared::default();
        watchers().push(seen.clone());
        Self { seen }
    }

    /// The services seen without a layer so far.
    pub fn services(&self) -> Vec<String> {
        seen(&self.seen).unlayered.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The callsites whose `.send()`s ran outside any instrumented request
    /// so far, in the order first seen.
    pub fn calls_outside_requests(&self) -> Vec<&'static Callsite> {
        seen(&self.seen).outside.clone()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        watchers().retain(|seen| !Arc::ptr_eq(seen, &self.seen));
    }
}

/// Reports that a request to `service`, instrumented `by` an attribute or a
/// layer, found no connection. `true` when an explorer runs in this process
/// (the request is then handled un-instrumented).
pub(crate) fn unlayered(service: &'static str, by: By) -> bool {
    let watchers = watchers();
    for shared in watchers.iter() {
        seen(shared).unlayered.insert(service);
    }
    if !watchers.is_empty() {
        match by {
            By::Attribute => tracing::error!(
                service,
                "a handler of `{service}` runs in a router without the explorer's layer: its calls are \
                 not explored; add `.layer(explorer.connection().layer())` to that router"
            ),
            By::Layer => tracing::error!(
                service,
                "the `ServiceLayer` of `{service}` found no connection on its requests: its calls are \
                 not explored; add `.layer(explorer.connection().layer())` to that router after \
                 `.layer(ServiceLayer::new(..))` (the layer added last runs first), or give the \
                 connection to the layer: `ServiceLayer::new(..).connection(explorer.connection())`"
            ),
        }
    }
    !watchers.is_empty()
}

/// Reports that a `.send()` from `callsite` runs, with the instrumentation
/// on, outside any instrumented request. `false` when that is meant (the
/// functional test's own call, or a call in [`outside_requests`]): nothing
/// to say; else `true`, once told to every running explorer.
pub(crate) fn outside_request(callsite: &'static Callsite) -> bool {
    if NOT_A_REQUEST.try_with(|_| ()).is_ok() {
        return false;
    }
    for shared in watchers().iter() {
        let mut seen = seen(shared);
        if !seen.outside.iter().any(|known| std::ptr::eq(*known, callsite)) {
            seen.outside.push(callsite);
        }
    }
    true
}

tokio::task_local! {
    /// Set while work that is no service's request runs: the functional
    /// test, or what a service runs in [`outside_requests`].
    static NOT_A_REQUEST: ();
}

/// Runs `future` as work outside any request, such as a service's
/// background job: its instrumented calls go ahead uninstrumented (no fault
/// is injected into them), as any call outside an instrumented request
/// does, but on purpose, so nothing is said and no exploration fails for
/// them.
///
/// Without it, a `#[filibuster::call]` fn's `.send()` outside any
/// instrumented request is taken for a mistake (a handler without
/// `#[filibuster::handler]`, a task spawned without
/// [`in_current_request`](crate::in_current_request)): a warning, and an
/// exploration running in the process fails naming the call.
///
/// ```no_run
/// # use filibuster_runtime as filibuster;
/// # async fn refresh_prices() {}
/// tokio::spawn(filibuster::outside_requests(async {
///     loop {
///         refresh_prices().await;
///         tokio::time::sleep(std::time::Duration::from_secs(60)).await;
///     }
/// }));
/// ```
pub fn outside_requests<F: Future>(future: F) -> impl Future<Output = F::Output> {
    NOT_A_REQUEST.scope((), future)
}
