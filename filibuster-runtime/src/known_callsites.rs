//! The callsites this process has made instrumented calls from, by id: what
//! the explorer uses to name the fn of a call in its reports (the protocol's
//! records carry only the callsite's id, file and line).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use crate::callsite::Callsite;

static KNOWN: Mutex<Option<HashMap<&'static str, &'static Callsite>>> = Mutex::new(None);

thread_local! {
    /// Callsites this thread has registered already (by address), so that a
    /// call from a known callsite costs a lookup, not the global lock.
    static REGISTERED: RefCell<HashSet<usize>> = RefCell::new(HashSet::new());
}

fn known() -> MutexGuard<'static, Option<HashMap<&'static str, &'static Callsite>>> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers `callsite`.
pub(crate) fn register(callsite: &'static Callsite) {
    let new = REGISTERED.with(|registered| registered.borrow_mut().insert(callsite as *const _ as usize));
    if new {
        known().get_or_insert_with(HashMap::new).insert(callsite.id, callsite);
    }
}

/// The fn holding the callsite with this id, if a call was made from it in
/// this process.
pub(crate) fn function_of(id: &str) -> Option<&'static str> {
    known().as_ref()?.get(id).map(|callsite| callsite.function)
}
