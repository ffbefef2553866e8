//! Routers that forgot the explorer's layer, noticed while an in-process
//! explorer runs.
//!
//! An instrumented handler whose request carries no [`Connection`] (its
//! router has no `.layer(explorer.connection().layer())`) falls back on the
//! process default: HTTP to `FILIBUSTER_URL`. When nobody chose that default
//! and an explorer runs in this process, that is a mistake that would make
//! the exploration quietly skip the service's calls: the handler reports its
//! service here instead, runs un-instrumented, and every running explorer
//! fails its run naming the service.
//!
//! A [`ServiceLayer`] finds no connection either when the connection's layer
//! was added before it (inside it, so that it runs after): that is reported
//! the same way, with a word about the order.
//!
//! [`Connection`]: crate::Connection
//! [`ServiceLayer`]: crate::ServiceLayer

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::handler::By;

/// The services seen without a layer, per running explorer.
type Seen = Arc<Mutex<BTreeSet<&'static str>>>;

static WATCHERS: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

fn watchers() -> MutexGuard<'static, Vec<Seen>> {
    WATCHERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registered by a running explorer; unregistered when dropped.
#[derive(Debug)]
pub struct Watch {
    seen: Seen,
}

impl Watch {
    /// Starts watching for handlers without a layer.
    pub fn start() -> Self {
        let seen = Seen::default();
        watchers().push(seen.clone());
        Self { seen }
    }

    /// The services seen without a layer so far.
    pub fn services(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|s| (*s).to_owned()).collect()
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
pub(crate) fn report(service: &'static str, by: By) -> bool {
    let watchers = watchers();
    for seen in watchers.iter() {
        seen.lock().unwrap_or_else(|e| e.into_inner()).insert(service);
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
