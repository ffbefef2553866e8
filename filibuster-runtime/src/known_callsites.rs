//! The callsites this process has made instrumented calls from, by id: what
//! the explorer uses to name the fn of a call in its reports (the protocol's
//! records carry only the callsite's id, file and line), and where two
//! different callsites sharing one id show up.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::callsite::Callsite;

#[derive(Default)]
struct Known {
    /// The first callsite seen with each id.
    by_id: HashMap<&'static str, &'static Callsite>,
    /// The first other callsite seen with an id of `by_id`, at most one per id,
    /// in the order they were seen.
    collisions: Vec<CallsiteCollision>,
}

static KNOWN: Mutex<Option<Known>> = Mutex::new(None);

fn known() -> MutexGuard<'static, Option<Known>> {
    KNOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers `callsite`. Called on a miss of the per-thread call hash cache
/// only, so that a call from a callsite seen lately costs nothing more.
///
/// A callsite in another place (file, line or fn) than the one already known
/// with its id is a collision: the calls of both are one callsite to the
/// explorer. It is logged (once per id) and kept for [`collisions`].
pub(crate) fn register(callsite: &'static Callsite) {
    let mut guard = known();
    let known = guard.get_or_insert_with(Known::default);
    let first = *known.by_id.entry(callsite.id).or_insert(callsite);
    if same_place(first, callsite) || known.collisions.iter().any(|c| c.first.id == callsite.id) {
        return;
    }
    let collision = CallsiteCollision { first, second: callsite };
    tracing::error!(
        callsite = callsite.id,
        first_function = first.function,
        first_file = first.file,
        first_line = first.line,
        second_function = callsite.function,
        second_file = callsite.file,
        second_line = callsite.line,
        "{collision}"
    );
    known.collisions.push(collision);
}

/// Whether `a` and `b` are the same `.send()`: compared by place, not by
/// address.
fn same_place(a: &Callsite, b: &Callsite) -> bool {
    a.line == b.line && a.file == b.file && a.function == b.function
}

/// The fn holding the callsite with this id, if a call was made from it in
/// this process.
pub fn function_of(id: &str) -> Option<&'static str> {
    known().as_ref()?.by_id.get(id).map(|callsite| callsite.function)
}

/// Two different callsites with one id, which the explorer cannot tell apart:
/// their calls merge in its exploration. Its `Display` says where both are and
/// how to tell them apart.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct CallsiteCollision {
    /// The callsite first seen with the id.
    pub first: &'static Callsite,
    /// The first other one seen with it.
    pub second: &'static Callsite,
}

impl CallsiteCollision {
    /// The id both callsites have.
    pub fn id(&self) -> &'static str {
        self.first.id
    }
}

impl fmt::Display for CallsiteCollision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { first, second } = self;
        write!(
            f,
            "two callsites have the same id {}: the `.send()` of `{}` at {}:{} and that of `{}` at {}:{}, \
             so the exploration takes their calls for one another. Give them distinct ids: put \
             #[filibuster::call] on each impl block rather than on its methods (the ids of methods \
             then include the type, as in `Type::method`), or give one fn \
             #[filibuster::call(id = \"...\")] (#[filibuster::dependency(\"..\", id = \"...\")] for a \
             dependency call)",
            first.id, first.function, first.file, first.line, second.function, second.file, second.line,
        )
    }
}

/// Every collision of callsite ids seen in this process so far (calls from
/// two different callsites with one id), one per id, in the order they were
/// seen. Each is also logged as a `tracing` error when first seen.
///
/// Not part of the API: for the explorer, which turns those among the ids of
/// its own calls into a run error.
#[doc(hidden)]
pub fn collisions() -> Vec<CallsiteCollision> {
    known().as_ref().map(|known| known.collisions.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn at(id: &'static str, function: &'static str, line: u32) -> Callsite {
        Callsite { id, function, file: "src/peers.rs", line, client_timeout: None }
    }

    fn collisions_of(id: &str) -> Vec<CallsiteCollision> {
        collisions().into_iter().filter(|c| c.id() == id).collect()
    }

    #[test]
    fn a_second_place_with_a_known_id_is_a_collision_once() {
        static FIRST: Callsite = at("collision-test-1", "get", 10);
        static SECOND: Callsite = at("collision-test-1", "get", 20);
        static THIRD: Callsite = at("collision-test-1", "put", 30);
        register(&FIRST);
        register(&FIRST);
        assert!(collisions_of("collision-test-1").is_empty());
        register(&SECOND);
        register(&THIRD);
        register(&SECOND);
        let found = collisions_of("collision-test-1");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].first.line, found[0].second.line), (10, 20));
        assert_eq!(function_of("collision-test-1"), Some("get"));
        let message = found[0].to_string();
        assert!(
            message.starts_with(
                "two callsites have the same id collision-test-1: the `.send()` of `get` at \
                 src/peers.rs:10 and that of `get` at src/peers.rs:20"
            ),
            "{message}"
        );
        assert!(message.contains("#[filibuster::call] on each impl block"), "{message}");
        assert!(message.contains("id = \"...\""), "{message}");
    }

    #[test]
    fn the_same_place_at_another_address_is_no_collision() {
        // As the static of one `.send()` compiled into two crates would be.
        static ONE: Callsite = at("collision-test-2", "get", 10);
        static OTHER: Callsite = at("collision-test-2", "get", 10);
        register(&ONE);
        register(&OTHER);
        assert!(collisions_of("collision-test-2").is_empty());
    }
}
