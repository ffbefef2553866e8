//! Dynamic reduction, indexed.
//!
//! The reference prunes a scheduled execution when, for every call of its
//! causal map (a call and the calls it caused, whose `origin_vclock` is its
//! `vclock`; root calls hang under `[]`), one execution already run holds all
//! of that call's children *with the same outcome*. It finds that execution
//! by scanning every execution run. Here each run execution adds its calls'
//! outcomes to posting lists keyed by (execution index, outcome), so a check
//! intersects a few short lists instead of scanning the history.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::execution::{Digest, Hasher, LogEntry, PlannedFault, Scheduled};

/// Posting lists from (execution index, outcome) to the executions run that
/// have a call with that index and outcome, in ascending order.
#[derive(Debug, Default)]
pub(crate) struct ReductionIndex {
    postings: HashMap<Digest, Vec<u32>>,
    executions: u32,
}

/// The outcome spaces of the reference's `outcomes_match`.
#[derive(Clone, Copy)]
enum Space {
    /// Not injected, and every identifying field equal.
    Clean,
    /// The same forced exception, or (not forced) an exception that holds it.
    Exception,
    /// An exception that holds the failure's exception.
    ExceptionSubset,
    /// A return value that holds the failure's return value.
    ReturnValue,
}

/// The digest of the space, the execution index, a 0 and the payload, fed
/// in turn (no buffer).
fn key(space: Space, execution_index: &str, payload: &[u8]) -> Digest {
    let mut hasher = Hasher::default();
    hasher.update([space as u8]);
    hasher.update(execution_index.as_bytes());
    hasher.update([0]);
    hasher.update(payload);
    hasher.finish()
}

fn canonical(map: &Map<String, Value>) -> Vec<u8> {
    // serde_json's Map is ordered by key: the same map prints the same bytes.
    serde_json::to_vec(map).unwrap_or_default()
}

fn object<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The canonical bytes of every sub-map of `map` (2^n of them; n is 2 or 3
/// here), each what [`canonical`] prints for it: the compact JSON of the
/// chosen entries in key order, put together from each entry's JSON printed
/// once.
fn subsets(map: &Map<String, Value>) -> Vec<Vec<u8>> {
    let entries: Vec<Vec<u8>> = map
        .iter()
        .map(|(k, v)| {
            let mut entry = serde_json::to_vec(k).unwrap_or_default();
            entry.push(b':');
            let _ = serde_json::to_writer(&mut entry, v);
            entry
        })
        .collect();
    (0..1u32 << entries.len())
        .map(|mask| {
            let mut bytes = Vec::with_capacity(64);
            bytes.push(b'{');
            for (_, entry) in entries.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0) {
                if bytes.len() > 1 {
                    bytes.push(b',');
                }
                bytes.extend_from_slice(entry);
            }
            bytes.push(b'}');
            bytes
        })
        .collect()
}

fn last_fault_for<'a>(faults: &'a [PlannedFault], execution_index: &str) -> Option<&'a PlannedFault> {
    faults.iter().rev().find(|f| f.execution_index == execution_index)
}

impl ReductionIndex {
    /// Adds an execution that ran with `faults` and logged `log`.
    pub(super) fn add_execution(&mut self, log: &[LogEntry], faults: &[PlannedFault]) {
        let id = self.executions;
        self.executions += 1;
        for entry in log {
            let ei = entry.invocation.execution_index.as_str();
            let fault = last_fault_for(faults, ei);
            let mut keys = Vec::new();
            match fault {
                None => keys.push(key(Space::Clean, ei, &entry.digest.to_be_bytes())),
                Some(PlannedFault { forced_exception: Some(forced), .. }) => {
                    keys.push(key(Space::Exception, ei, &canonical(&object(forced))));
                }
                Some(_) => {}
            }
            let forced = fault.is_some_and(|f| f.forced_exception.is_some());
            if let Some(exception) = &entry.exception {
                for payload in subsets(&object(exception)) {
                    if !forced {
                        keys.push(key(Space::Exception, ei, &payload));
                    }
                    keys.push(key(Space::ExceptionSubset, ei, &payload));
                }
            }
            if let Some(value) = &entry.return_value {
                for payload in subsets(&object(value)) {
                    keys.push(key(Space::ReturnValue, ei, &payload));
                }
            }
            for k in keys {
                let list = self.postings.entry(k).or_default();
                if list.last() != Some(&id) {
                    list.push(id);
                }
            }
        }
    }

    /// Whether running `scheduled` cannot show anything new; if so, the
    /// executions run (numbered from 0 in the order they were added) that
    /// show it: one per call whose children it holds, ascending, without
    /// repeats.
    pub(super) fn covering(&self, scheduled: &Scheduled) -> Option<Vec<u32>> {
        if self.executions == 0 {
            return None;
        }
        let entries = scheduled.prefix.entries();
        // The digest of the last entry with each execution index.
        let digests: HashMap<&str, Digest> =
            entries.iter().map(|e| (e.execution_index.as_str(), e.digest)).collect();
        let mut by_origin: HashMap<_, Vec<&str>> = HashMap::new();
        for e in &entries {
            by_origin.entry(&e.origin_vclock).or_default().push(e.execution_index.as_str());
        }
        let mut groups: HashMap<&str, HashSet<&str>> = HashMap::new();
        groups.insert("[]", HashSet::new());
        for e in &entries {
            if let Some(children) = by_origin.get(&e.vclock) {
                groups.entry(e.execution_index.as_str()).or_default().extend(children.iter().copied());
            }
            if e.origin_vclock.is_empty() {
                groups.entry("[]").or_default().insert(e.execution_index.as_str());
            }
        }
        let mut covering = Vec::with_capacity(groups.len());
        for children in groups.values() {
            let mut lists = Vec::with_capacity(children.len());
            for child in children {
                let list =
                    self.requirement(scheduled, &digests, child).and_then(|k| self.postings.get(&k))?;
                lists.push(list);
            }
            match first_in_all(&mut lists) {
                Found::Nothing => return None,
                Found::Id(id) => covering.push(id),
                Found::NoList => {}
            }
        }
        covering.sort_unstable();
        covering.dedup();
        Some(covering)
    }

    /// The posting key a past call must have to match child `ei` of
    /// `scheduled`, or `None` when nothing can match.
    fn requirement(
        &self,
        scheduled: &Scheduled,
        digests: &HashMap<&str, Digest>,
        ei: &str,
    ) -> Option<Digest> {
        match last_fault_for(&scheduled.faults, ei) {
            Some(PlannedFault { forced_exception: Some(forced), .. }) => {
                Some(key(Space::Exception, ei, &canonical(&object(forced))))
            }
            Some(PlannedFault { failure_metadata: Some(failure), .. }) => {
                if let Some(value) = &failure.return_value {
                    let mut map = object(value);
                    // A fault model's return value names no class nor body.
                    map.retain(|_, v| !v.is_null());
                    Some(key(Space::ReturnValue, ei, &canonical(&map)))
                } else if let Some(Value::Object(exception)) = failure.other.get("exception") {
                    Some(key(Space::ExceptionSubset, ei, &canonical(exception)))
                } else {
                    None
                }
            }
            Some(_) => None,
            None => {
                let digest = digests.get(ei)?;
                Some(key(Space::Clean, ei, &digest.to_be_bytes()))
            }
        }
    }
}

/// What [`first_in_all`] found.
#[derive(Debug, PartialEq)]
enum Found {
    /// No list to look in: nothing to cover.
    NoList,
    /// The first id in every list.
    Id(u32),
    /// No id is in every list.
    Nothing,
}

/// The first execution id in every list (all ascending).
///
/// A leapfrog intersection: the candidate is the largest id seen; each list
/// in turn gallops (exponential, then binary search) to its first id not
/// below it, which either holds it or becomes the new candidate. It stops at
/// the first id in all lists, or when a list runs out. The lists grow with
/// the executions run, and a check that finds nothing (every execution that
/// is run) used to walk the whole shortest list; galloping skips the runs
/// of ids that cannot match, which the depth-first order makes long.
fn first_in_all(lists: &mut [&Vec<u32>]) -> Found {
    if lists.is_empty() {
        return Found::NoList;
    }
    if lists.iter().any(|l| l.is_empty()) {
        return Found::Nothing;
    }
    lists.sort_by_key(|l| l.len());
    let mut positions = vec![0usize; lists.len()];
    let mut candidate = lists[0][0];
    let mut agreeing = 0;
    let mut i = 0;
    loop {
        let list = lists[i];
        let at = gallop(list, positions[i], candidate);
        let Some(&id) = list.get(at) else { return Found::Nothing };
        positions[i] = at;
        if id == candidate {
            agreeing += 1;
            if agreeing == lists.len() {
                return Found::Id(candidate);
            }
        } else {
            candidate = id;
            agreeing = 1;
        }
        i = (i + 1) % lists.len();
    }
}

/// The first position at or after `from` whose id is not below `target`
/// (`list.len()` when there is none).
fn gallop(list: &[u32], from: usize, target: u32) -> usize {
    let mut low = from;
    let mut step = 1;
    let mut high = from;
    while high < list.len() && list[high] < target {
        low = high + 1;
        high += step;
        step *= 2;
    }
    let high = high.min(list.len());
    low + list[low..high].partition_point(|&id| id < target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leapfrog_finds_what_a_scan_finds() {
        fn scan(lists: &[Vec<u32>]) -> Found {
            match lists.split_first() {
                None => Found::NoList,
                Some((first, others)) => first
                    .iter()
                    .find(|id| others.iter().all(|l| l.contains(id)))
                    .map_or(Found::Nothing, |&id| Found::Id(id)),
            }
        }
        // A small deterministic generator: lists of ascending ids, dense or
        // sparse, sometimes empty, sometimes sharing one id.
        let mut seed = 0x2545_f491_u64;
        let mut next = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for _ in 0..5_000 {
            let count = next(5) as usize;
            let lists: Vec<Vec<u32>> = (0..count)
                .map(|_| {
                    let density = next(8) + 1;
                    let mut list: Vec<u32> = (0..200u32).filter(|_| next(density) == 0).collect();
                    if next(3) == 0 {
                        list.push(500);
                    }
                    list
                })
                .collect();
            let mut refs: Vec<&Vec<u32>> = lists.iter().collect();
            assert_eq!(first_in_all(&mut refs), scan(&lists), "{lists:?}");
        }
    }

    #[test]
    fn subsets_print_as_their_maps() {
        let map = object(&serde_json::json!({
            "__class__": "Response",
            "status_code": "503",
            "text": "a \"quoted\" body\n",
        }));
        let entries: Vec<(&String, &Value)> = map.iter().collect();
        let printed = subsets(&map);
        assert_eq!(printed.len(), 8);
        for (mask, bytes) in printed.iter().enumerate() {
            let subset: Map<String, Value> = entries
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, (k, v))| ((*k).clone(), (*v).clone()))
                .collect();
            assert_eq!(bytes, &canonical(&subset), "mask {mask}");
        }
    }
}
