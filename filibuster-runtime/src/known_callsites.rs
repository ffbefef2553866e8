//! The callsites this process has made instrumented calls from, by id: what
//! the explorer uses to name the fn of a call in its reports (the protocol's
//! records carry only the callsite's id, file and line).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::callsite::Callsite;

static KNOWN: Mutex<Option<HashMap<&'static str, &'static Callsite>>> = Mutex::new(None);

fn known() -> MutexGuard<'static, Option<HashMap<&'static str, &'static Callsite>>> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers `callsite`. Called on a miss of the per-thread call hash cache
/// only, so that a call from a callsite seen lately costs nothing more.
pub(crate) fn register(callsite: &'static Callsite) {
    known().get_or_insert_with(HashMap::new).insert(callsite.id, callsite);
}

/// The fn holding the callsite with this id, if a call was made from it in
/// this process.
pub fn function_of(id: &str) -> Option<&'static str> {
    known().as_ref()?.get(id).map(|callsite| callsite.function)
}
