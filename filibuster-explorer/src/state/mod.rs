//! The server's state: the log of the current test execution, the faults
//! planned for it, and the exploration (stack, executions known, reduction).

mod intake;
mod known_calls;
mod schedule;

use std::collections::{BTreeMap, HashMap, HashSet};

use std::sync::{Arc, OnceLock};

use super::execution::{
    Digest, EntryVersion, FrozenLog, LogEntry, PlannedFault, Prefix, Scheduled, chain, execution_key,
    faults_digest,
};
use super::fault_model::{FaultModel, FaultSite, ProposedFault};
use super::injected::{FaultKind, InjectedFault};
use super::options::Strategy;
use super::origin::Origin;
use super::report::{CallName, CallReport, FaultReport};
use filibuster_runtime::panic::HandlerPanic;
pub use filibuster_runtime::records::RecordError;
use filibuster_runtime::records::{CreateResponse, Exception, FailureMetadata, Invocation, Update};
pub(crate) use intake::Intake;
use known_calls::KnownCalls;
use schedule::Schedule;

/// The bounds of what a server keeps, so that no peer can make it hold
/// unbounded memory.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Calls one test execution may hold. The explorer fails the run past
    /// it; a standalone server (`filibuster server`) starts its log anew.
    pub calls_per_execution: usize,
    /// Distinct service names the server takes.
    pub services: usize,
    /// Distinct calls (execution indices) the server remembers the targets
    /// and callsites of, for reports.
    pub known_calls: usize,
    /// Bytes of records one test execution may hold (their texts and
    /// clocks, about): past it, as past `calls_per_execution`. With the
    /// count, what bounds the log's memory against a peer that sends few
    /// but huge records (megabyte paths, clocks of thousands of services).
    pub bytes_per_execution: usize,
    /// Bytes of what the server remembers of the calls for reports (their
    /// targets and callsites, about): past it, it remembers no more, as past
    /// `known_calls`.
    pub known_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            calls_per_execution: 100_000,
            services: 1_000,
            known_calls: 1_000_000,
            bytes_per_execution: 128 << 20,
            known_bytes: 128 << 20,
        }
    }
}

/// Generated ids carry the test execution they belong to: the id of the
/// `n`-th call (from 0) of the `e`-th test execution (from 0) is
/// `e * ID_STRIDE + n`. The first execution, and a standalone server that
/// nobody drives, number their calls 0, 1, 2, as the reference does; a record
/// that arrives after its execution ended names an earlier one, and is
/// dropped instead of being taken for a call of the current execution.
pub(crate) const ID_STRIDE: u64 = 1_000_000_000;

/// The bytes of each argument of a call a planned fault keeps, for people
/// (`PlannedFault::args`): a scheduled execution copies its faults.
const MAX_PLANNED_ARG: usize = 1024;

/// Everything the server knows. Guarded by one mutex in [`super::Server`];
/// every operation is short and never awaits.
///
/// It holds the current test execution (its log and planned faults) and
/// three rooms of its own: the [`Intake`] of records, the [`Schedule`] of
/// the exploration and the [`KnownCalls`] of every execution.
#[derive(Debug)]
pub(crate) struct State {
    model: FaultModel,
    intake: Intake,
    schedule: Schedule,
    calls: KnownCalls,

    // The current test execution.
    log: Vec<LogEntry>,
    /// About how many bytes the log's records hold ([`Limits::bytes_per_execution`]).
    log_bytes: usize,
    /// Per entry, the chain of the log's entry digests up to it (see
    /// [`chain`]).
    chains: Vec<Digest>,
    /// Counts changes to the log's identifying fields (calls added,
    /// rewritten by updates): the moments prefixes are taken at.
    moment: u64,
    /// The log as the executions it schedules will see it, once finished.
    frozen: Arc<OnceLock<FrozenLog>>,
    services_seen: HashSet<String>,
    faults: Vec<PlannedFault>,
    fault_by_index: HashMap<String, usize>,
    current: Option<Scheduled>,
    any_injected: bool,
    /// Per planned fault (same order as `faults`): whether it met its call.
    faults_met: Vec<bool>,
    /// The current test execution's number in generated ids (see [`ID_STRIDE`]).
    epoch: u64,
    /// Whether a test execution was begun since the server started.
    begun: bool,
    /// Replaying a counterexample: `fault-injected` answers from the planned
    /// faults, as the reference does, so that services injecting locally
    /// (the reference's counterexample mode) get the right answer.
    replaying: bool,
    /// Requests without Filibuster headers that reached in-process
    /// handlers while others were handled, by (service, route), since the
    /// run began (a few routes kept).
    unmarked: BTreeMap<(String, String), usize>,
    /// The handlers' panics reported during the current execution (a few
    /// kept).
    panics: Vec<HandlerPanic>,
    /// The exceptions, by client, that were to be planned or injected but
    /// that the client's calls cannot be failed with (a few kept).
    unknown_faults: BTreeMap<(String, String), Vec<String>>,
    /// Per rule of the model, whether it proposed a fault in this run.
    rules_used: Vec<bool>,
}

/// What one turn of the exploration did with the execution it took.
#[derive(Debug)]
pub(crate) enum Step {
    /// Dynamic reduction showed it redundant: the executions run that show
    /// it, and its faults.
    Pruned { covered_by: Vec<usize>, faults: Vec<PlannedFault> },
    /// It is the current execution now.
    Begun,
}

impl State {
    pub(crate) fn new(model: FaultModel) -> Self {
        Self {
            model,
            intake: Intake::default(),
            schedule: Schedule::default(),
            calls: KnownCalls::default(),
            log: Vec::new(),
            log_bytes: 0,
            chains: Vec::new(),
            moment: 0,
            frozen: Arc::default(),
            services_seen: HashSet::new(),
            faults: Vec::new(),
            fault_by_index: HashMap::new(),
            current: None,
            any_injected: false,
            faults_met: Vec::new(),
            epoch: 0,
            begun: false,
            replaying: false,
            panics: Vec::new(),
            unmarked: BTreeMap::new(),
            unknown_faults: BTreeMap::new(),
            rules_used: Vec::new(),
        }
    }

    /// The fault model tried.
    pub(crate) fn model(&self) -> &FaultModel {
        &self.model
    }

    /// Per rule of the model, whether it proposed a fault in this run.
    pub(crate) fn rules_used(&self) -> &[bool] {
        &self.rules_used
    }

    /// The records' way in: tokens, limits, what was refused.
    pub(crate) fn intake(&self) -> &Intake {
        &self.intake
    }

    /// The records' way in, to set its token or limits.
    pub(crate) fn intake_mut(&mut self) -> &mut Intake {
        &mut self.intake
    }

    /// The calls of the current test execution, in the order they were made.
    pub(crate) fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// The faults planned for the current test execution.
    pub(crate) fn faults(&self) -> &[PlannedFault] {
        &self.faults
    }

    /// An explorer's run begins, taking scheduled executions in `strategy`'s
    /// order.
    pub(crate) fn start_run(&mut self, strategy: Strategy) {
        self.unmarked.clear();
        self.unknown_faults.clear();
        self.rules_used = vec![false; self.model.rule_count()];
        self.intake.start_run();
        self.schedule.set_strategy(strategy);
    }

    /// The explorer's run is over: the server is a standalone one again.
    pub(crate) fn end_run(&mut self) {
        self.schedule.set_exploring(false);
        self.intake.end_run();
    }

    /// Turns on or off the scheduling of executions for new calls.
    pub(crate) fn set_exploring(&mut self, on: bool) {
        self.schedule.set_exploring(on);
    }

    /// Executions scheduled since the exploration began.
    pub(crate) fn scheduled_total(&self) -> usize {
        self.schedule.total()
    }

    /// One turn of the exploration: takes the next scheduled execution and
    /// prunes it (with `dynamic_reduction`) or begins it; `None` when
    /// nothing is scheduled. The explorer and the benchmarks take this very
    /// step.
    pub(crate) fn step(&mut self, dynamic_reduction: bool) -> Option<Step> {
        let next = self.schedule.pop()?;
        if dynamic_reduction && let Some(covered_by) = self.schedule.covering(&next) {
            return Some(Step::Pruned { covered_by, faults: next.faults });
        }
        self.begin(Some(next));
        Some(Step::Begun)
    }

    /// Starts a test execution: the initial one (`None`) or a scheduled one.
    pub(crate) fn begin(&mut self, scheduled: Option<Scheduled>) {
        if self.begun || !self.log.is_empty() {
            self.epoch += 1;
        }
        self.begun = true;
        self.log.clear();
        self.log_bytes = 0;
        self.chains.clear();
        self.frozen = Arc::default();
        self.services_seen.clear();
        self.any_injected = false;
        self.replaying = false;
        self.panics.clear();
        self.plan(scheduled.as_ref().map(|s| s.faults.clone()).unwrap_or_default());
        self.current = scheduled;
    }

    /// Makes `faults` the faults planned for the current execution.
    fn plan(&mut self, faults: Vec<PlannedFault>) {
        self.fault_by_index =
            faults.iter().enumerate().map(|(i, f)| (f.execution_index.clone(), i)).collect();
        self.faults_met = vec![false; faults.len()];
        self.faults = faults;
    }

    /// Starts a test execution with `faults` planned and nothing scheduled
    /// from it (replaying a counterexample).
    pub(crate) fn begin_replay(
        &mut self,
        faults: Vec<PlannedFault>,
        targets: impl Iterator<Item = (String, String)>,
    ) {
        self.begin(None);
        self.calls.add_targets(targets);
        self.schedule.set_exploring(false);
        self.replaying = true;
        self.plan(faults);
    }

    /// Starts a fault-free test execution that schedules nothing (the
    /// second run of the initial execution, to see whether it repeats).
    /// Exploring is off until the caller turns it back on.
    pub(crate) fn begin_repeat(&mut self) {
        self.begin(None);
        self.schedule.set_exploring(false);
    }

    /// The planned faults of the current execution that met no call.
    pub(crate) fn faults_not_met(&self) -> Vec<PlannedFault> {
        self.faults.iter().zip(&self.faults_met).filter(|(_, met)| !**met).map(|(f, _)| f.clone()).collect()
    }

    /// The calls of the current execution that have not reported how they
    /// ended (still running, or their `invocation_complete` was lost).
    pub(crate) fn unfinished(&self) -> impl Iterator<Item = &LogEntry> {
        self.log.iter().filter(|e| e.return_value.is_none() && e.exception.is_none())
    }

    /// Ends the current test execution, numbered `number` in reports:
    /// remembers it as run.
    pub(crate) fn finish(&mut self, number: usize) {
        let key = execution_key(self.log_chain(), faults_digest(&self.faults));
        self.schedule.ran(number, key, &self.log, &self.faults);
        let _ = self.frozen.set(FrozenLog::of(&self.log));
    }

    /// The faults of the executions waiting, in the order they would be
    /// taken, at most `max` of them.
    pub(crate) fn not_run(&self, max: usize) -> Vec<Vec<FaultReport>> {
        self.schedule
            .waiting()
            .take(max)
            .map(|s| s.faults.iter().map(|f| self.fault_report(f)).collect())
            .collect()
    }

    /// Executions waiting on the stack.
    pub(crate) fn pending(&self) -> usize {
        self.schedule.pending()
    }

    /// Forgets what the exploration scheduled and ran (after replaying saved
    /// regressions, so that the exploration starts as if they never ran);
    /// keeps what was learned of the calls' targets and sites.
    pub(crate) fn forget_exploration(&mut self) {
        self.schedule.forget();
    }

    /// `GET /filibuster/new-test-execution/<service>`.
    pub(crate) fn new_test_execution(&mut self, service: &str) -> Result<bool, RecordError> {
        self.intake.admit_service(service)?;
        Ok(self.services_seen.insert(service.to_owned()))
    }

    /// Whether a record from `origin` is taken.
    pub(crate) fn admit(&mut self, origin: Origin) -> Result<(), RecordError> {
        self.intake.admit(origin)
    }

    /// What a sender said of the records it could not deliver (a cumulative
    /// count).
    pub(crate) fn note_lost(&mut self, sender: &str, lost: u64) {
        self.intake.note_lost(sender, lost);
    }

    /// `PUT /filibuster/create` from `origin`.
    pub(crate) fn create_from(
        &mut self,
        invocation: Invocation,
        origin: Origin,
    ) -> Result<CreateResponse, RecordError> {
        self.intake.admit(origin)?;
        self.intake.admit_service(&invocation.source_service_name)?;
        let limits = self.intake.limits();
        let (max, max_bytes) = (limits.calls_per_execution, limits.bytes_per_execution);
        let bytes = invocation.approx_bytes();
        if self.log.len() >= max || self.log_bytes.saturating_add(bytes) > max_bytes {
            let full = if self.log.len() >= max {
                format!("more than {max} calls in one test execution")
            } else {
                format!("more than {max_bytes} bytes of records in one test execution")
            };
            if !self.intake.ring() {
                return Err(self.intake.reached(full));
            }
            tracing::warn!(
                calls = self.log.len(),
                bytes = self.log_bytes,
                "Filibuster server: the log is full ({full}); it starts anew (records of the calls before are \
                 dropped)"
            );
            self.begin(None);
            if bytes > max_bytes {
                return Err(self.intake.reached(format!(
                    "a record of {bytes} bytes, more than the {max_bytes} bytes one test execution may hold"
                )));
            }
        }
        self.log_bytes += bytes;
        Ok(self.create(invocation))
    }

    /// `PUT /filibuster/create`.
    pub(crate) fn create(&mut self, invocation: Invocation) -> CreateResponse {
        // A dependency call's target is known from its record: remembered as
        // a service's is when it reports `request_received`, for replays.
        if let Some(dependency) = &invocation.metadata.dependency {
            self.calls.note_target(&invocation.execution_index, dependency.to_string(), self.intake.limits());
        }
        let ordinal = self.log.len() as u64;
        let generated_id = self.epoch * ID_STRIDE + ordinal;
        let execution_index = invocation.execution_index.clone();
        let planned = match self.fault_by_index.get(&execution_index).copied() {
            Some(i) => match &self.faults[i].forced_exception {
                Some(e) if !client_can_fail(&invocation, e) => {
                    // Not injected, nor met: a replay says so.
                    let name = unknown_name(e);
                    self.note_unknown(&invocation, name);
                    None
                }
                _ => {
                    self.faults_met[i] = true;
                    Some(self.faults[i].clone())
                }
            },
            None => None,
        };
        self.moment += 1;
        let mut entry = LogEntry::new(ordinal, invocation, self.moment);
        entry.injected = planned.clone();
        self.any_injected |= planned.is_some();
        self.calls.note_call(&entry.invocation, self.intake.limits());
        self.chains.push(chain(self.log_chain(), entry.digest));
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

    /// `POST /filibuster/update`, from a service of this process.
    pub(crate) fn update(&mut self, update: Update) -> Result<(), RecordError> {
        self.update_from(update, Origin::InProcess)
    }

    /// `POST /filibuster/update` from `origin`. An update adds what the
    /// call's target and outcome were; it may change the call's execution
    /// index and clock only when it comes without a token (the reference's
    /// clients report the index popped after the call, and its server takes
    /// it), never its target nor an outcome already reported.
    pub(crate) fn update_from(&mut self, update: Update, origin: Origin) -> Result<(), RecordError> {
        self.intake.admit(origin)?;
        let bytes = update.approx_bytes();
        let max_bytes = self.intake.limits().bytes_per_execution;
        if self.log_bytes.saturating_add(bytes) > max_bytes {
            return Err(self
                .intake
                .reached(format!("more than {max_bytes} bytes of records in one test execution")));
        }
        self.log_bytes += bytes;
        let may_rewrite = origin == Origin::Untokened;
        match update {
            Update::RequestReceived(record) => {
                self.intake.admit_service(&record.target_service_name)?;
                let Some(index) = self.entry_index(&record.generated_id)? else { return Ok(()) };
                let entry = &self.log[index];
                if entry.target_service_name.as_deref().is_some_and(|t| t != record.target_service_name) {
                    return Err(self.intake.conflict(format!(
                        "call {} already reached `{}`; a request_received names `{}`",
                        record.generated_id,
                        entry.target_service_name.as_deref().unwrap_or_default(),
                        truncated(&record.target_service_name, 64)
                    )));
                }
                if entry.invocation.execution_index != record.execution_index {
                    if !may_rewrite {
                        return Err(self.intake.conflict(format!(
                            "call {} has another execution index than this request_received's",
                            record.generated_id
                        )));
                    }
                    self.rewrite(index, |i| i.execution_index = record.execution_index);
                }
                let entry = &mut self.log[index];
                entry.target_service_name = Some(record.target_service_name.to_string());
                self.calls.note_target(
                    &entry.invocation.execution_index,
                    record.target_service_name.into_owned(),
                    self.intake.limits(),
                );
                if self.is_new(index) {
                    self.generate(index, FaultSite::RequestReceived);
                }
            }
            Update::InvocationComplete(record) => {
                let Some(index) = self.entry_index(&record.generated_id.to_string())? else {
                    return Ok(());
                };
                let entry = &self.log[index];
                let outcome_known = entry.return_value.is_some() || entry.exception.is_some();
                let same_outcome =
                    entry.return_value == record.return_value && entry.exception == record.exception;
                if outcome_known && !same_outcome {
                    return Err(self.intake.conflict(format!(
                        "call {} has already reported how it ended",
                        record.generated_id
                    )));
                }
                if entry.invocation.execution_index != record.execution_index
                    || entry.invocation.vclock != record.vclock
                {
                    if !may_rewrite {
                        return Err(self.intake.conflict(format!(
                            "call {} has another execution index or clock than this invocation_complete's",
                            record.generated_id
                        )));
                    }
                    self.rewrite(index, |i| {
                        i.execution_index = record.execution_index;
                        i.vclock = record.vclock;
                    });
                }
                let entry = &mut self.log[index];
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

    /// The chain of the whole log's entry digests.
    fn log_chain(&self) -> Digest {
        self.chains.last().copied().unwrap_or(0)
    }

    /// Changes what identifies the call at `index`, as the reference's
    /// server lets an update do (its clients report the execution index
    /// popped after the call): the old identity is kept for the prefixes
    /// taken before, and the chains after it are recomputed.
    fn rewrite(&mut self, index: usize, change: impl FnOnce(&mut Invocation)) {
        self.moment += 1;
        let entry = &mut self.log[index];
        entry.past.push(EntryVersion::of(entry, entry.since));
        change(&mut entry.invocation);
        entry.refresh_digest();
        entry.since = self.moment;
        for i in index..self.log.len() {
            let previous = if i == 0 { 0 } else { self.chains[i - 1] };
            self.chains[i] = chain(previous, self.log[i].digest);
        }
    }

    /// The log entry a record's generated id names, or `None` for a record
    /// of an execution that has ended (dropped, with a debug event).
    fn entry_index(&mut self, generated_id: &str) -> Result<Option<usize>, RecordError> {
        let id: u64 = generated_id.trim().parse().map_err(|_| {
            RecordError::Invalid(format!("generated_id must be a non-negative integer, got {generated_id:?}"))
        })?;
        let (epoch, ordinal) = (id / ID_STRIDE, id % ID_STRIDE);
        if epoch < self.epoch {
            self.intake.note_late();
            tracing::debug!(
                generated_id = id,
                record_execution = epoch + 1,
                current_execution = self.epoch + 1,
                "dropped a record that arrived after its test execution ended"
            );
            return Ok(None);
        }
        match usize::try_from(ordinal) {
            Ok(index) if epoch == self.epoch && index < self.log.len() => Ok(Some(index)),
            _ => Err(RecordError::UnknownGeneratedId(generated_id.to_owned())),
        }
    }

    /// A call the execution that scheduled this one had not seen.
    fn is_new(&self, index: usize) -> bool {
        match &self.current {
            None => true,
            Some(scheduled) => !scheduled.prefix.contains(self.log[index].digest),
        }
    }

    /// Schedules one execution per fault the model proposes for the call at
    /// `index`, if it is the latest call and no fault is planned for it.
    fn generate(&mut self, index: usize, site: FaultSite) {
        if !self.schedule.exploring() || index + 1 != self.log.len() {
            return;
        }
        let entry = &self.log[index];
        let execution_index = &entry.invocation.execution_index;
        if self.fault_by_index.contains_key(execution_index) {
            return;
        }
        let rules_used = &mut self.rules_used;
        let proposals = self.model.faults_noting_rules(
            &entry.invocation,
            site,
            entry.target_service_name.as_deref(),
            |i| {
                if let Some(used) = rules_used.get_mut(i) {
                    *used = true;
                }
            },
        );
        if proposals.is_empty() {
            return;
        }
        let prefix = Prefix { log: self.frozen.clone(), len: self.log.len(), at: self.moment };
        let mut unknown = Vec::new();
        for proposal in proposals {
            let mut fault = PlannedFault {
                execution_index: execution_index.clone(),
                forced_exception: None,
                failure_metadata: None,
                // For people, and copied into every execution it schedules:
                // bounded, so that huge paths do not multiply.
                args: entry
                    .invocation
                    .args
                    .iter()
                    .map(|arg| truncated(arg, MAX_PLANNED_ARG).to_owned())
                    .collect(),
            };
            match proposal {
                ProposedFault::Exception(e) if !client_can_fail(&entry.invocation, &e) => {
                    unknown.push(unknown_name(&e));
                    continue;
                }
                ProposedFault::Exception(e) => fault.forced_exception = Some(e),
                ProposedFault::Failure(f) if !client_can_answer(&entry.invocation, &f) => {
                    unknown.push(f.fault_name());
                    continue;
                }
                ProposedFault::Failure(f) => fault.failure_metadata = Some(f),
            }
            let mut faults = self.faults.clone();
            faults.push(fault);
            faults.sort_by(|a, b| a.execution_index.cmp(&b.execution_index));
            let key = execution_key(self.log_chain(), faults_digest(&faults));
            self.schedule.push(Scheduled { prefix: prefix.clone(), faults, key });
        }
        if !unknown.is_empty() {
            let invocation = self.log[index].invocation.clone();
            for name in unknown {
                self.note_unknown(&invocation, name);
            }
        }
    }

    /// Notes a handler's panic in the current execution (its message and
    /// place bounded; past 16, counted in none).
    pub(crate) fn note_panic(&mut self, mut panic: HandlerPanic) {
        if self.panics.len() >= 16 {
            return;
        }
        for text in [&mut panic.service, &mut panic.message] {
            let end = truncated(text, filibuster_runtime::panic::MAX_MESSAGE).len();
            text.truncate(end);
        }
        if let Some(location) = &mut panic.location {
            let end = truncated(location, 512).len();
            location.truncate(end);
        }
        self.panics.push(panic);
    }

    /// Notes a request without Filibuster headers that reached `service`'s
    /// `route` while other requests were handled.
    pub(crate) fn note_unmarked(&mut self, service: &str, route: &str) {
        let key = (truncated(service, 64).to_owned(), truncated(route, 256).to_owned());
        if let Some(count) = self.unmarked.get_mut(&key) {
            *count += 1;
        } else if self.unmarked.len() < 64 {
            self.unmarked.insert(key, 1);
        }
    }

    /// The requests noted by [`State::note_unmarked`] since the run began.
    pub(crate) fn unmarked(&self) -> impl Iterator<Item = (&str, &str, usize)> {
        self.unmarked.iter().map(|((service, route), count)| (service.as_str(), route.as_str(), *count))
    }

    /// The handlers' panics of the current execution.
    pub(crate) fn panics(&self) -> &[HandlerPanic] {
        &self.panics
    }

    /// Notes an exception the calls of client `module` cannot be failed
    /// with, for the explorer to refuse the run.
    fn note_unknown(&mut self, invocation: &Invocation, name: String) {
        if self.unknown_faults.len() < 16 {
            let known = known_faults(invocation).unwrap_or_default();
            self.unknown_faults.insert((invocation.module.to_string(), name), known);
        }
    }

    /// The exceptions, by client, refused so far: (client, name), and the
    /// names that client's calls can be failed with.
    pub(crate) fn unknown_faults(&self) -> impl Iterator<Item = (&(String, String), &Vec<String>)> {
        self.unknown_faults.iter()
    }

    /// The call at `entry`, with its fault and how it ended.
    pub(crate) fn call_report(&self, entry: &LogEntry) -> CallReport {
        let site = self.call_site(entry);
        CallReport {
            source: site.source,
            target: site.target,
            method: site.method,
            path: site.path,
            callsite: site.callsite,
            function: site.function,
            execution_index: entry.invocation.execution_index.clone(),
            fault: entry.injected.as_ref().map(PlannedFault::name),
            outcome: match (&entry.return_value, &entry.exception) {
                (Some(value), _) => Some(value.outcome()),
                (None, Some(exception)) => Some(exception.name.clone()),
                (None, None) => None,
            },
            timeout: entry.invocation.metadata.timeout,
        }
    }

    /// Where the call at `entry` comes from and goes to.
    pub(crate) fn call_site(&self, entry: &LogEntry) -> CallName {
        site_of(&entry.invocation, self.target_of(entry))
    }

    /// A planned fault, with the call it targets as far as it is known.
    pub(crate) fn fault_report(&self, fault: &PlannedFault) -> FaultReport {
        let mut call = self.calls.site(&fault.execution_index).cloned().unwrap_or_else(|| CallName {
            path: fault.args.first().cloned().unwrap_or_default(),
            ..CallName::default()
        });
        if call.target.is_none() {
            call.target = self.calls.target(&fault.execution_index).cloned();
        }
        FaultReport { execution_index: fault.execution_index.clone(), call, fault: fault.name() }
    }

    /// Learns where the calls of a counterexample's log came from.
    pub(crate) fn learn_sites(&mut self, sites: impl Iterator<Item = (String, CallName, Option<String>)>) {
        self.calls.learn_sites(sites);
    }

    /// The service the call at `entry` reached, or would have reached; a
    /// dependency call's dependency.
    pub(crate) fn target_of(&self, entry: &LogEntry) -> Option<String> {
        entry
            .target_service_name
            .clone()
            .or_else(|| entry.invocation.metadata.dependency.as_ref().map(|name| name.to_string()))
            .or_else(|| self.calls.target(&entry.invocation.execution_index).cloned())
    }

    /// The faults injected in this execution, in the order of their calls;
    /// while replaying, the faults planned (as [`State::injected`] answers),
    /// described by their call when it was made, else by what the
    /// counterexample says of it.
    pub(crate) fn injected_faults(&self) -> Vec<InjectedFault> {
        if !self.replaying {
            return self
                .log
                .iter()
                .filter_map(|e| {
                    Some(InjectedFault::of(e.injected.as_ref()?, &e.invocation, self.target_of(e)))
                })
                .collect();
        }
        self.faults
            .iter()
            .map(|fault| {
                let call = self.log.iter().find(|e| e.invocation.execution_index == fault.execution_index);
                if let Some(entry) = call {
                    return InjectedFault::of(fault, &entry.invocation, self.target_of(entry));
                }
                let report = self.fault_report(fault);
                let (file, line) = match report.call.callsite.rsplit_once(':') {
                    Some((file, line)) => (file.to_owned(), line.parse().ok()),
                    None => (report.call.callsite.clone(), None),
                };
                InjectedFault {
                    source: report.call.source,
                    target: report.call.target,
                    method: report.call.method,
                    path: report.call.path,
                    callsite_id: self.calls.callsite_id(&fault.execution_index).cloned().unwrap_or_default(),
                    file,
                    line,
                    function: report.call.function,
                    fault: FaultKind::of(fault),
                }
            })
            .collect()
    }

    /// Whether a fault was injected in this execution; while replaying, whether
    /// one is planned (the reference answers from the planned faults).
    pub(crate) fn injected(&self) -> bool {
        if self.replaying { !self.faults.is_empty() } else { self.any_injected }
    }

    /// Whether a fault was injected, in this execution, on a call to `service`;
    /// while replaying, whether one is planned on a call to it.
    pub(crate) fn injected_on(&self, service: &str) -> bool {
        if self.replaying {
            return self
                .faults
                .iter()
                .any(|f| self.calls.target(&f.execution_index).is_some_and(|t| t == service));
        }
        self.log.iter().any(|e| e.injected.is_some() && self.target_of(e).as_deref() == Some(service))
    }
}

/// Whether the call of `invocation` can be failed with `exception`: a
/// dependency call with the faults its error type declared, a reqwest call
/// with reqwest's; any client this runtime does not instrument is trusted
/// to know its own.
fn client_can_fail(invocation: &Invocation, exception: &Exception) -> bool {
    match &invocation.metadata.faults {
        Some(faults) => faults.iter().any(|name| *name == exception.name),
        None if invocation.module == filibuster_runtime::grpc::MODULE => {
            filibuster_runtime::grpc::can_fail(&exception.name, &exception.metadata)
        }
        None => filibuster_runtime::fault::known_exceptions(&invocation.module)
            .is_none_or(|mut known| known.any(|name| name == exception.name)),
    }
}

/// Whether the call of `invocation` can answer `failure`: the callee's
/// error (`{"exception": ..}`, gRPC's `errors`) only on an RPC, with a code
/// tonic knows as a failure; any other failure on any call (the client
/// decides), and anything on a client this runtime does not instrument.
fn client_can_answer(invocation: &Invocation, failure: &FailureMetadata) -> bool {
    let Some(error) = failure.other.get(FailureMetadata::EXCEPTION) else { return true };
    match invocation.module.as_ref() {
        filibuster_runtime::grpc::MODULE => {
            let metadata = error.get("metadata").and_then(serde_json::Value::as_object);
            metadata.is_some_and(|metadata| {
                filibuster_runtime::grpc::can_fail(filibuster_runtime::grpc::STATUS, metadata)
            })
        }
        module => filibuster_runtime::fault::known_exceptions(module).is_none(),
    }
}

/// How an exception no client can take is named in the error that says so:
/// its name, and the code it asks for, when it asks for one (a gRPC status
/// whose code tonic does not know).
fn unknown_name(exception: &Exception) -> String {
    match exception.metadata.get("code") {
        Some(code) => {
            format!("{} with code {}", exception.name, serde_json::to_string(code).unwrap_or_default())
        }
        None => exception.name.clone(),
    }
}

/// The exceptions the call of `invocation` can be failed with, when they
/// are known.
fn known_faults(invocation: &Invocation) -> Option<Vec<String>> {
    match &invocation.metadata.faults {
        Some(faults) => Some(faults.iter().map(|name| name.to_string()).collect()),
        None => {
            let mut known: Vec<String> =
                filibuster_runtime::fault::known_exceptions(&invocation.module)?.map(str::to_owned).collect();
            if invocation.module == filibuster_runtime::grpc::MODULE {
                let codes = filibuster_runtime::grpc::code::NAMES[1..].join(", ");
                known.push(format!("a status (and the callee's error) with a code among {codes}"));
            }
            Some(known)
        }
    }
}

/// What the call of `invocation` does, as reports show it: its method and
/// its path (its first argument); no path for a dependency call, whose only
/// argument is its target, the dependency; for an RPC, `service/Method`,
/// without a path.
pub(crate) fn operation_of(invocation: &Invocation) -> (String, String) {
    let first = invocation.args.first().map(String::as_str);
    operation(&invocation.module, &invocation.method, first, invocation.metadata.dependency.is_some())
}

/// [`operation_of`] a call of client `module` with `method` and first
/// argument `first`, a dependency call or not.
pub(crate) fn operation(
    module: &str,
    method: &str,
    first: Option<&str>,
    dependency: bool,
) -> (String, String) {
    if dependency {
        return (method.to_owned(), String::new());
    }
    if module == filibuster_runtime::grpc::MODULE {
        return (method.trim_start_matches('/').to_owned(), String::new());
    }
    (method.to_owned(), first.unwrap_or_default().to_owned())
}

/// The fn of the callsite of `invocation`, when it names one other than the
/// call itself (an RPC's callsite is named by the RPC).
pub(crate) fn function_of(invocation: &Invocation) -> Option<String> {
    callsite_function(&invocation.full_traceback, &invocation.method)
}

/// The fn of the callsite `id` of a call with `method`, when known and other
/// than the call itself.
pub(crate) fn callsite_function(id: &str, method: &str) -> Option<String> {
    filibuster_runtime::__explorer::function_of(id).filter(|function| *function != method).map(str::to_owned)
}

/// Where a callsite is, for people: `file:line`, or the file alone at line
/// 0 (a callsite that is no line: an RPC's, the client layer).
pub(crate) fn callsite_place(file: &str, line: &str) -> String {
    if line == "0" { file.to_owned() } else { format!("{file}:{line}") }
}

/// Where the call of `invocation` comes from and goes to.
pub(crate) fn site_of(invocation: &Invocation, target: Option<String>) -> CallName {
    let line = match &invocation.callsite_line {
        serde_json::Value::String(line) => line.clone(),
        other => other.to_string(),
    };
    let (method, path) = operation_of(invocation);
    CallName {
        source: invocation.source_service_name.to_string(),
        target,
        method,
        path,
        callsite: callsite_place(&invocation.callsite_file, &line),
        function: function_of(invocation),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use filibuster_runtime::records::{InvocationComplete, RequestReceived, ReturnValue};

    fn invocation(execution_index: &str) -> Invocation {
        serde_json::from_value(serde_json::json!({
            "instrumentation_type": "invocation", "source_service_name": "a", "module": "reqwest",
            "method": "GET", "args": ["/b"], "full_traceback": "x", "vclock": {"a": 1},
            "origin_vclock": {}, "execution_index": execution_index,
        }))
        .unwrap()
    }

    fn complete(generated_id: u64, execution_index: &str) -> Update {
        Update::InvocationComplete(InvocationComplete {
            instrumentation_type: "invocation_complete".into(),
            generated_id,
            execution_index: execution_index.to_owned(),
            vclock: serde_json::from_str(r#"{"a": 1}"#).unwrap(),
            return_value: Some(ReturnValue::response(200, String::new())),
            exception: None,
        })
    }

    /// Ids carry their execution: a record of an execution that has ended is
    /// dropped (and counted), never taken for a call of the current one.
    #[test]
    fn late_records_are_dropped_not_misattributed() {
        let mut state = State::new(FaultModel::default());
        state.begin(None);
        let ei = r#"[["h", 1]]"#;
        assert_eq!(state.create(invocation(ei)).generated_id, 0);
        assert_eq!(state.create(invocation(r#"[["h", 2]]"#)).generated_id, 1);
        state.finish(1);
        state.begin(None);
        let answer = state.create(invocation(ei));
        assert_eq!(answer.generated_id, ID_STRIDE);

        // `invocation_complete` and `request_received` of the first
        // execution's second call arrive now.
        state.update(complete(1, ei)).unwrap();
        let received = Update::RequestReceived(RequestReceived {
            instrumentation_type: "request_received".into(),
            generated_id: "0".into(),
            execution_index: ei.into(),
            target_service_name: "b".into(),
        });
        state.update(received).unwrap();
        assert_eq!(state.intake().counts().late, 2);
        assert!(state.log[0].return_value.is_none() && state.log[0].target_service_name.is_none());
        assert_eq!(state.unfinished().count(), 1);

        // The current call's own record lands; an id of the current
        // execution that names no call is an error, as is one from the future.
        state.update(complete(ID_STRIDE, ei)).unwrap();
        assert_eq!(state.unfinished().count(), 0);
        for id in [ID_STRIDE + 1, 2 * ID_STRIDE] {
            assert!(matches!(state.update(complete(id, ei)), Err(RecordError::UnknownGeneratedId(_))));
        }
    }
}
