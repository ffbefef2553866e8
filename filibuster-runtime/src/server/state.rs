//! The server's state: the log of the current test execution, the faults
//! planned for it, and the exploration (stack, executions known, reduction).

use std::collections::{HashMap, HashSet};

use super::execution::{Digest, LogEntry, PlannedFault, Prefix, Scheduled, execution_key, faults_digest};
use super::fault_model::{FaultModel, FaultSite, ProposedFault};
use super::reduction::ReductionIndex;
use crate::records::{CreateResponse, Invocation, Update};

/// What is wrong with a record sent to the server.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The generated id names no call of the current test execution.
    #[error("unknown generated_id {0}: no such call in the current test execution")]
    UnknownGeneratedId(String),
    /// A field has the wrong form.
    #[error("{0}")]
    Invalid(String),
}

/// Everything the server knows. Guarded by one mutex in [`super::Server`];
/// every operation is short and never awaits.
#[derive(Debug)]
pub(crate) struct State {
    pub model: FaultModel,
    /// Whether new calls schedule new executions (off for a standalone
    /// server nobody drives, and when replaying a counterexample).
    pub exploring: bool,

    // The current test execution.
    pub log: Vec<LogEntry>,
    services_seen: HashSet<String>,
    pub faults: Vec<PlannedFault>,
    fault_by_index: HashMap<String, usize>,
    current: Option<Scheduled>,
    pub injected: bool,

    // The exploration.
    stack: Vec<Scheduled>,
    scheduled_keys: HashSet<Digest>,
    ran_keys: HashSet<Digest>,
    reduction: ReductionIndex,
    /// The service each call (by execution index) reached, learned from
    /// `request_received` in any execution: the target of a call that was
    /// failed before it reached anything.
    targets: HashMap<String, String>,
    pub scheduled_total: usize,
}

impl State {
    pub fn new(model: FaultModel) -> Self {
        Self {
            model,
            exploring: false,
            log: Vec::new(),
            services_seen: HashSet::new(),
            faults: Vec::new(),
            fault_by_index: HashMap::new(),
            current: None,
            injected: false,
            stack: Vec::new(),
            scheduled_keys: HashSet::new(),
            ran_keys: HashSet::new(),
            reduction: ReductionIndex::default(),
            targets: HashMap::new(),
            scheduled_total: 0,
        }
    }

    /// Starts a test execution: the initial one (`None`) or a scheduled one.
    pub fn begin(&mut self, scheduled: Option<Scheduled>) {
        self.log.clear();
        self.services_seen.clear();
        self.injected = false;
        self.plan(scheduled.as_ref().map(|s| s.faults.clone()).unwrap_or_default());
        self.current = scheduled;
    }

    /// Makes `faults` the faults planned for the current execution.
    fn plan(&mut self, faults: Vec<PlannedFault>) {
        self.fault_by_index =
            faults.iter().enumerate().map(|(i, f)| (f.execution_index.clone(), i)).collect();
        self.faults = faults;
    }

    /// Starts a test execution with `faults` planned and nothing scheduled
    /// from it (replaying a counterexample).
    pub fn begin_replay(
        &mut self,
        faults: Vec<PlannedFault>,
        targets: impl Iterator<Item = (String, String)>,
    ) {
        self.begin(None);
        self.targets.extend(targets);
        self.exploring = false;
        self.plan(faults);
    }

    /// Ends the current test execution: remembers it as run.
    pub fn finish(&mut self) {
        let key = execution_key(self.log.iter().map(|e| e.digest), faults_digest(&self.faults));
        self.ran_keys.insert(key);
        self.reduction.add_execution(&self.log, &self.faults);
    }

    /// The next scheduled execution, depth first.
    pub fn pop(&mut self) -> Option<Scheduled> {
        let next = self.stack.pop()?;
        self.scheduled_keys.remove(&next.key);
        Some(next)
    }

    /// Executions waiting on the stack.
    pub fn pending(&self) -> usize {
        self.stack.len()
    }

    pub fn should_prune(&self, scheduled: &Scheduled) -> bool {
        self.reduction.should_prune(scheduled)
    }

    /// `GET /filibuster/new-test-execution/<service>`.
    pub fn new_test_execution(&mut self, service: &str) -> bool {
        self.services_seen.insert(service.to_owned())
    }

    /// `PUT /filibuster/create`.
    pub fn create(&mut self, invocation: Invocation) -> CreateResponse {
        let generated_id = self.log.len() as u64;
        let execution_index = invocation.execution_index.clone();
        let planned = self.fault_by_index.get(&execution_index).map(|&i| self.faults[i].clone());
        let mut entry = LogEntry::new(generated_id, invocation);
        entry.injected = planned.clone();
        self.injected |= planned.is_some();
        self.log.push(entry);
        if self.is_new(self.log.len() - 1) {
            self.generate(self.log.len() - 1, FaultSite::Invocation);
        }
        let (forced_exception, failure_metadata) = match planned {
            Some(p) => (p.forced_exception, p.failure_metadata),
            None => (None, None),
        };
        CreateResponse {
            generated_id,
            execution_index: Some(execution_index),
            forced_exception,
            failure_metadata,
        }
    }

    /// `POST /filibuster/update`.
    pub fn update(&mut self, update: Update) -> Result<(), RecordError> {
        match update {
            Update::RequestReceived(record) => {
                let index = self.entry_index(&record.generated_id)?;
                let entry = &mut self.log[index];
                entry.target_service_name = Some(record.target_service_name.to_string());
                if entry.invocation.execution_index != record.execution_index {
                    entry.invocation.execution_index = record.execution_index;
                    entry.refresh_digest();
                }
                self.targets.insert(
                    entry.invocation.execution_index.clone(),
                    record.target_service_name.into_owned(),
                );
                if self.is_new(index) {
                    self.generate(index, FaultSite::RequestReceived);
                }
            }
            Update::InvocationComplete(record) => {
                let index = self.entry_index(&record.generated_id.to_string())?;
                let entry = &mut self.log[index];
                let changed = entry.invocation.execution_index != record.execution_index
                    || entry.invocation.vclock != record.vclock;
                entry.invocation.execution_index = record.execution_index;
                entry.invocation.vclock = record.vclock;
                if changed {
                    entry.refresh_digest();
                }
                if record.return_value.is_some() {
                    entry.return_value = record.return_value;
                }
                if record.exception.is_some() {
                    entry.exception = record.exception;
                }
            }
        }
        Ok(())
    }

    fn entry_index(&self, generated_id: &str) -> Result<usize, RecordError> {
        let id: usize = generated_id.trim().parse().map_err(|_| {
            RecordError::Invalid(format!("generated_id must be a non-negative integer, got {generated_id:?}"))
        })?;
        if id < self.log.len() {
            Ok(id)
        } else {
            Err(RecordError::UnknownGeneratedId(generated_id.to_owned()))
        }
    }

    /// A call the execution that scheduled this one had not seen.
    fn is_new(&self, index: usize) -> bool {
        match &self.current {
            None => true,
            Some(scheduled) => !scheduled.prefix.digests.contains(&self.log[index].digest),
        }
    }

    /// Schedules one execution per fault the model proposes for the call at
    /// `index`, if it is the latest call and no fault is planned for it.
    fn generate(&mut self, index: usize, site: FaultSite) {
        if !self.exploring || index + 1 != self.log.len() {
            return;
        }
        let entry = &self.log[index];
        let execution_index = &entry.invocation.execution_index;
        if self.fault_by_index.contains_key(execution_index) {
            return;
        }
        let proposals = self.model.faults_for(&entry.invocation, site, entry.target_service_name.as_deref());
        if proposals.is_empty() {
            return;
        }
        let prefix = Prefix::of(&self.log);
        let mut batch = HashSet::new();
        for proposal in proposals {
            let mut fault = PlannedFault {
                execution_index: execution_index.clone(),
                forced_exception: None,
                failure_metadata: None,
                args: entry.invocation.args.clone(),
            };
            match proposal {
                ProposedFault::Exception(e) => fault.forced_exception = Some(e),
                ProposedFault::Failure(f) => fault.failure_metadata = Some(f),
            }
            let mut faults = self.faults.clone();
            faults.push(fault);
            faults.sort_by(|a, b| a.execution_index.cmp(&b.execution_index));
            let key = execution_key(prefix.entries.iter().map(|e| e.digest), faults_digest(&faults));
            if self.scheduled_keys.contains(&key) || self.ran_keys.contains(&key) || !batch.insert(key) {
                continue;
            }
            self.scheduled_keys.insert(key);
            self.scheduled_total += 1;
            self.stack.push(Scheduled { prefix: prefix.clone(), faults, key });
        }
    }

    /// The service the call at `entry` reached, or would have reached.
    pub fn target_of(&self, entry: &LogEntry) -> Option<String> {
        entry
            .target_service_name
            .clone()
            .or_else(|| self.targets.get(&entry.invocation.execution_index).cloned())
    }

    /// Whether a fault was injected, in this execution, on a call to `service`.
    pub fn injected_on(&self, service: &str) -> bool {
        self.log.iter().any(|e| e.injected.is_some() && self.target_of(e).as_deref() == Some(service))
    }
}
