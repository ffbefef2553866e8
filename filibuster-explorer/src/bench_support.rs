//! Hooks for the benchmarks of `benches/` (feature `bench-hooks`, which only
//! the benchmarks turn on): not part of the API, no stability.
//!
//! [`begin`], [`begin_with_faults`], [`finish`] and [`next`] drive a
//! [`Server`] by hand, as the [`Explorer`](crate::Explorer) does between test
//! executions, so that synthetic executions can pile up and the cost of
//! scheduling and dynamic reduction be measured as history grows.

use crate::state::Step;
use crate::{PlannedFault, Server};

/// Starts a test execution with no fault planned, as the explorer starts its
/// initial one; `exploring` says whether new calls schedule executions.
pub fn begin(server: &Server, exploring: bool) {
    let mut state = server.lock();
    state.set_exploring(exploring);
    state.begin(None);
}

/// Starts a test execution with `faults` planned (sorted by execution
/// index) that schedules nothing, as a replay does.
pub fn begin_with_faults(server: &Server, faults: Vec<PlannedFault>) {
    server.lock().begin_replay(faults, std::iter::empty());
}

/// Ends the current test execution: remembers it as run and adds it to the
/// dynamic reduction's index.
pub fn finish(server: &Server) {
    server.lock().finish(0);
}

/// What [`next`] did with the execution it took from the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Dynamic reduction showed it redundant.
    Pruned,
    /// It is begun: run its calls, then [`finish`].
    Begun,
}

/// One turn of the explorer's loop, the explorer's own step: takes the next
/// scheduled execution and prunes it, or begins it. `None` when nothing is
/// scheduled.
pub fn next(server: &Server, dynamic_reduction: bool) -> Option<Next> {
    let mut state = server.lock();
    state.set_exploring(true);
    Some(match state.step(dynamic_reduction)? {
        Step::Pruned { .. } => Next::Pruned,
        Step::Begun => Next::Begun,
    })
}

/// Executions waiting on the stack.
pub fn pending(server: &Server) -> usize {
    server.lock().pending()
}
