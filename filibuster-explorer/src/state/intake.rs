//! What the server takes and what it refuses: the run token, the bounds of
//! what it keeps, and the counts of records it could not take.

use std::collections::{HashMap, HashSet};

use super::{Limits, truncated};
use crate::origin::{Origin, TokenPolicy};
use filibuster_runtime::records::RecordError;

/// The records' way in: who may send them, how many services and calls the
/// server keeps, and what was dropped or refused on the way.
#[derive(Debug)]
pub(crate) struct Intake {
    limits: Limits,
    /// Whether the log starts anew when full (a standalone server) rather
    /// than failing the run (an explorer).
    ring: bool,
    /// The first limit reached, for the explorer to report.
    limit_reached: Option<String>,
    /// Every service name seen, to bound them.
    service_names: HashSet<String>,
    tokens: TokenPolicy,
    /// Records refused because they contradict the recorded call.
    conflicts: u64,
    /// Per sender (an HTTP transport of a service), the records it could not
    /// deliver, as it last said.
    lost_by_sender: HashMap<String, u64>,
    /// Records dropped because their execution had ended.
    late: usize,
}

/// What the server could not take during a run, for its report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecordCounts {
    /// Records dropped because their execution had ended.
    pub late: usize,
    /// Records refused for lacking the run's token.
    pub refused: u64,
    /// Records refused because they contradict the recorded call.
    pub conflicting: u64,
    /// Records the senders said they could not deliver.
    pub lost: u64,
}

impl Default for Intake {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            ring: true,
            limit_reached: None,
            service_names: HashSet::new(),
            tokens: TokenPolicy::default(),
            conflicts: 0,
            lost_by_sender: HashMap::new(),
            late: 0,
        }
    }
}

impl Intake {
    /// The bounds of what the server keeps.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets the bounds of what the server keeps.
    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Gives the server its run token (see [`TokenPolicy`]).
    pub(crate) fn set_token(&mut self, token: String, accept_untokened: bool) {
        self.tokens.set(token, accept_untokened);
    }

    /// Whether `token` is the run's token.
    pub(crate) fn token_matches(&self, token: &str) -> bool {
        self.tokens.matches(token)
    }

    /// An explorer's run begins: a full log fails the run instead of
    /// starting anew, and no limit is reached yet.
    pub(crate) fn start_run(&mut self) {
        self.ring = false;
        self.limit_reached = None;
    }

    /// The run is over: the server is a standalone one again, whose log
    /// starts anew when full.
    pub(crate) fn end_run(&mut self) {
        self.ring = true;
    }

    /// Whether the log starts anew when full rather than failing the run.
    pub(crate) fn ring(&self) -> bool {
        self.ring
    }

    /// The first limit reached since the run began, if any.
    pub(crate) fn limit_reached(&self) -> Option<&str> {
        self.limit_reached.as_deref()
    }

    /// Whether a record from `origin` is taken.
    pub(crate) fn admit(&mut self, origin: Origin) -> Result<(), RecordError> {
        if self.tokens.admits(origin) { Ok(()) } else { Err(RecordError::Forbidden) }
    }

    /// Takes a service name, within the limit.
    pub(crate) fn admit_service(&mut self, service: &str) -> Result<(), RecordError> {
        if self.service_names.contains(service) {
            return Ok(());
        }
        if self.service_names.len() >= self.limits.services {
            return Err(self.reached(format!(
                "more than {} distinct service names: refused `{}`",
                self.limits.services,
                truncated(service, 64)
            )));
        }
        self.service_names.insert(service.to_owned());
        Ok(())
    }

    /// Notes the first limit reached (the explorer fails the run with it).
    pub(crate) fn reached(&mut self, message: String) -> RecordError {
        if self.limit_reached.is_none() {
            tracing::error!("Filibuster server: {message}");
            self.limit_reached = Some(message.clone());
        }
        RecordError::Limit(message)
    }

    /// A record refused because it contradicts the recorded call.
    pub(crate) fn conflict(&mut self, message: String) -> RecordError {
        self.conflicts += 1;
        RecordError::Conflict(message)
    }

    /// Counts a record dropped because its execution had ended.
    pub(crate) fn note_late(&mut self) {
        self.late += 1;
    }

    /// What a sender said of the records it could not deliver (a cumulative
    /// count).
    pub(crate) fn note_lost(&mut self, sender: &str, lost: u64) {
        if let Some(known) = self.lost_by_sender.get_mut(sender) {
            *known = (*known).max(lost);
        } else if self.lost_by_sender.len() < self.limits.services {
            self.lost_by_sender.insert(truncated(sender, 64).to_owned(), lost);
        }
    }

    /// What the server could not take so far.
    pub(crate) fn counts(&self) -> RecordCounts {
        RecordCounts {
            late: self.late,
            refused: self.tokens.refused(),
            conflicting: self.conflicts,
            lost: self.lost_by_sender.values().fold(0, |sum, n| sum.saturating_add(*n)),
        }
    }
}
