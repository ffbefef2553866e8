//! The exploration: the executions scheduled and not yet taken, those run,
//! and the dynamic reduction's index of them.

use std::collections::{BTreeSet, HashSet, VecDeque};

use crate::execution::{Digest, LogEntry, PlannedFault, Scheduled};
use crate::options::Strategy;
use crate::reduction::ReductionIndex;

/// The executions of an exploration, scheduled and run.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    /// Whether new calls schedule new executions (off for a standalone
    /// server nobody drives, and when replaying a counterexample).
    exploring: bool,
    /// The order executions are taken in.
    strategy: Strategy,
    waiting: VecDeque<Scheduled>,
    scheduled_keys: HashSet<Digest>,
    ran_keys: HashSet<Digest>,
    reduction: ReductionIndex,
    /// The number of each execution added to `reduction`, in order (the
    /// repetition of the initial execution is 1 too).
    run_numbers: Vec<usize>,
    /// Executions scheduled since the exploration began.
    total: usize,
}

impl Schedule {
    /// Whether new calls schedule new executions.
    pub(crate) fn exploring(&self) -> bool {
        self.exploring
    }

    /// Turns scheduling on or off.
    pub(crate) fn set_exploring(&mut self, on: bool) {
        self.exploring = on;
    }

    /// Sets the order executions are taken in.
    pub(crate) fn set_strategy(&mut self, strategy: Strategy) {
        self.strategy = strategy;
    }

    /// Schedules `scheduled` unless an execution with its key was scheduled
    /// or run already; whether it did.
    pub(crate) fn push(&mut self, scheduled: Scheduled) -> bool {
        if self.ran_keys.contains(&scheduled.key) || !self.scheduled_keys.insert(scheduled.key) {
            return false;
        }
        self.total += 1;
        self.waiting.push_back(scheduled);
        true
    }

    /// The next scheduled execution: the latest scheduled (depth first) or
    /// the earliest (breadth first).
    pub(crate) fn pop(&mut self) -> Option<Scheduled> {
        let next = match self.strategy {
            Strategy::DepthFirst => self.waiting.pop_back(),
            Strategy::BreadthFirst => self.waiting.pop_front(),
        }?;
        self.scheduled_keys.remove(&next.key);
        Some(next)
    }

    /// The executions waiting, in the order they would be taken.
    pub(crate) fn waiting(&self) -> Box<dyn Iterator<Item = &Scheduled> + '_> {
        match self.strategy {
            Strategy::DepthFirst => Box::new(self.waiting.iter().rev()),
            Strategy::BreadthFirst => Box::new(self.waiting.iter()),
        }
    }

    /// Executions waiting.
    pub(crate) fn pending(&self) -> usize {
        self.waiting.len()
    }

    /// Executions scheduled since the exploration began.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Remembers an execution as run, numbered `number` in reports, under
    /// `key`, with its log and faults in the dynamic reduction's index.
    pub(crate) fn ran(&mut self, number: usize, key: Digest, log: &[LogEntry], faults: &[PlannedFault]) {
        self.run_numbers.push(number);
        self.ran_keys.insert(key);
        self.reduction.add_execution(log, faults);
    }

    /// Whether dynamic reduction shows that running `scheduled` cannot show
    /// anything new; if so, the numbers of the executions run that show it.
    pub(crate) fn covering(&self, scheduled: &Scheduled) -> Option<Vec<usize>> {
        let ids = self.reduction.covering(scheduled)?;
        let numbers: BTreeSet<usize> =
            ids.into_iter().filter_map(|id| self.run_numbers.get(id as usize).copied()).collect();
        Some(numbers.into_iter().collect())
    }

    /// Forgets what was scheduled and run; keeps whether it explores and in
    /// which order.
    pub(crate) fn forget(&mut self) {
        *self = Self { exploring: self.exploring, strategy: self.strategy, ..Self::default() };
    }
}
