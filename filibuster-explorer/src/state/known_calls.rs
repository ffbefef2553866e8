//! What the server learned of each call across executions (by execution
//! index): where it comes from, the service it reached and its callsite id,
//! to describe faults planned for calls that were failed before they
//! reached anything, or that a counterexample names.

use std::collections::HashMap;

use super::Limits;
use crate::report::CallName;
use filibuster_runtime::records::Invocation;

/// The calls seen in any execution, within the [`Limits`]' `known_calls`
/// of each kind and `known_bytes` in all.
#[derive(Debug, Default)]
pub(crate) struct KnownCalls {
    /// The service each call reached, learned from `request_received`.
    targets: HashMap<String, String>,
    /// Where each call comes from.
    sites: HashMap<String, CallName>,
    /// The callsite id of each call, or as a counterexample names it.
    callsite_ids: HashMap<String, String>,
    /// About how many bytes the three hold (what was remembered, not what
    /// replaced it).
    bytes: usize,
}

impl KnownCalls {
    /// Learns where the call of `invocation` comes from, within `limits`.
    pub(crate) fn note_call(&mut self, invocation: &Invocation, limits: &Limits) {
        let execution_index = &invocation.execution_index;
        let room = self.sites.len() < limits.known_calls && self.bytes < limits.known_bytes;
        match self.sites.get_mut(execution_index) {
            None if room => {
                let site = super::site_of(invocation, None);
                self.bytes += execution_index.len() + site.approx_bytes();
                self.sites.insert(execution_index.clone(), site);
            }
            None => {}
            Some(site) if site.function.is_none() => {
                site.function = super::function_of(invocation);
            }
            Some(_) => {}
        }
        if room && !self.callsite_ids.contains_key(execution_index) {
            self.bytes += execution_index.len() + invocation.full_traceback.len();
            self.callsite_ids.insert(execution_index.clone(), invocation.full_traceback.to_string());
        }
    }

    /// Learns the service the call `execution_index` reached, within
    /// `limits`.
    pub(crate) fn note_target(&mut self, execution_index: &str, target: String, limits: &Limits) {
        let room = self.targets.len() < limits.known_calls && self.bytes < limits.known_bytes;
        if room || self.targets.contains_key(execution_index) {
            self.bytes += execution_index.len() + target.len();
            self.targets.insert(execution_index.to_owned(), target);
        }
    }

    /// Learns the targets a counterexample names.
    pub(crate) fn add_targets(&mut self, targets: impl Iterator<Item = (String, String)>) {
        self.targets.extend(targets);
    }

    /// Learns where the calls of a counterexample's log came from.
    pub(crate) fn learn_sites(&mut self, sites: impl Iterator<Item = (String, CallName, Option<String>)>) {
        for (execution_index, site, callsite_id) in sites {
            if let Some(id) = callsite_id {
                self.callsite_ids.entry(execution_index.clone()).or_insert(id);
            }
            let known = self.sites.entry(execution_index).or_insert_with(|| site.clone());
            known.target = known.target.take().or(site.target);
            known.function = known.function.take().or(site.function);
        }
    }

    /// The service the call `execution_index` reached in some execution.
    pub(crate) fn target(&self, execution_index: &str) -> Option<&String> {
        self.targets.get(execution_index)
    }

    /// Where the call `execution_index` comes from, if it was seen.
    pub(crate) fn site(&self, execution_index: &str) -> Option<&CallName> {
        self.sites.get(execution_index)
    }

    /// The callsite id of the call `execution_index`, if known.
    pub(crate) fn callsite_id(&self, execution_index: &str) -> Option<&String> {
        self.callsite_ids.get(execution_index)
    }
}
