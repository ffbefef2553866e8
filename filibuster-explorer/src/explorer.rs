//! The explorer: runs a functional test again and again, each time with a
//! different set of faults, depth first, skipping what dynamic reduction
//! shows redundant, and stops at the first failure with a counterexample.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use indicatif::ProgressBar;
use serde_json::{Value, json};
use tracing::Instrument;

use super::counterexample::Counterexample;
use super::options::{RunOptions, Strategy};
use super::progress::Progress;
use super::regressions;
use super::report::{
    CallName, CallReport, ExecutionReport, ExecutionStatus, Nondeterminism, RegressionReplay, ReplayOutcome,
    Report, RunError, UnmarkedRequests,
};
use super::state::{State, Step};
use super::{FaultModel, InjectedFault, Server};
use filibuster_runtime::__explorer::Watch;
use filibuster_runtime::Connection;
use filibuster_runtime::records::FailureMetadata;

/// The deadline of an execution with a hang fault planned, when the
/// explorer has no [`execution_timeout`](RunOptions::execution_timeout):
/// the hung call's caller must have given up by then.
pub const HANG_DEADLINE: Duration = Duration::from_secs(10);

/// Drives a [`Server`]: the initial fault-free execution, then every
/// execution the new calls scheduled, in depth-first order.
///
/// ```no_run
/// # async fn demo() {
/// use filibuster_explorer::Explorer;
///
/// let explorer = Explorer::new();
/// // Start the services with `.layer(explorer.connection().layer())`, then:
/// let report = explorer
///     .run(|ctx| async move {
///         let status = reqwest::get("http://127.0.0.1:5001/users/chris/bookings").await?.status();
///         if ctx.fault_injected() {
///             assert!(status == 503 || status == 404, "got {status}");
///         } else {
///             assert_eq!(status, 200);
///         }
///         Ok::<(), reqwest::Error>(())
///     })
///     .await;
/// report.assert_passed();
/// # }
/// ```
#[derive(Debug)]
pub struct Explorer {
    server: Server,
    options: RunOptions,
    counterexample_file: Option<PathBuf>,
    report_file: Option<PathBuf>,
    replay: Option<Counterexample>,
    /// Where the progress bar is drawn, if anywhere.
    progress: Option<Progress>,
    name: String,
    replay_command: Option<String>,
}

impl Default for Explorer {
    fn default() -> Self {
        Self::new()
    }
}

/// What a functional test sees of the exploration: which faults were
/// injected so far in this test execution, so that its oracle can say what
/// must hold with them and without.
///
/// Ask as precisely as the oracle needs: a fault on *any* call to a service
/// ([`fault_injected_on`](TestContext::fault_injected_on)) also counts one
/// on an unrelated call to it (an audit `POST` beside the `GET` the oracle
/// is about). Name the call by its method
/// ([`fault_injected_on_method`](TestContext::fault_injected_on_method)),
/// method and path or route
/// ([`fault_injected_on_request`](TestContext::fault_injected_on_request)),
/// or callsite ([`fault_injected_at`](TestContext::fault_injected_at));
/// [`faults`](TestContext::faults) lists them all;
/// [`expect_outcome`](TestContext::expect_outcome) checks the usual oracle.
///
/// ```no_run
/// # async fn demo(explorer: filibuster_explorer::Explorer, url: String) {
/// let report = explorer
///     .run(|ctx| {
///         let url = url.clone();
///         async move {
///             let status = reqwest::get(&url).await.map_err(|e| e.to_string())?.status().as_u16();
///             // Only a fault on the bookings lookup may change the answer,
///             // not one on the audit `POST /bookings/{user}` it also sends.
///             let lookup_failed = ctx.fault_injected_on_request("bookings", "GET", "/bookings/{user}");
///             ctx.expect_outcome(lookup_failed, status, 200, &[503])
///         }
///     })
///     .await;
/// report.assert_passed();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TestContext {
    server: Server,
    execution: usize,
}

impl TestContext {
    /// Whether a fault was injected so far in this test execution.
    pub fn fault_injected(&self) -> bool {
        self.server.fault_injected()
    }

    /// Whether a fault was injected so far in this test execution on a call
    /// to `service` (any call to it: see
    /// [`fault_injected_on_request`](TestContext::fault_injected_on_request)
    /// to name one).
    pub fn fault_injected_on(&self, service: &str) -> bool {
        self.server.fault_injected_on(service)
    }

    /// The faults injected so far in this test execution, in the order of
    /// their calls, each with its call: source, target, method, path,
    /// callsite and the fault. The other questions are about them:
    /// [`fault_injected_on_request`](TestContext::fault_injected_on_request)
    /// is `ctx.faults().iter().any(|f| f.is_on_request(..))`.
    ///
    /// ```no_run
    /// # fn demo(ctx: &filibuster_explorer::TestContext) {
    /// use filibuster_explorer::FaultKind;
    ///
    /// for fault in ctx.faults() {
    ///     if let FaultKind::Exception { name, .. } = &fault.fault
    ///         && name == "reqwest.timeout"
    ///     {
    ///         println!("timed out: {}", fault.describe());
    ///     }
    /// }
    /// # }
    /// ```
    pub fn faults(&self) -> Vec<InjectedFault> {
        self.server.faults()
    }

    /// Whether a fault was injected so far in this test execution on a call
    /// to `service` with the HTTP `method` (`"GET"`; any case): Filibuster
    /// Java's `wasFaultInjectedOnHttpMethod`.
    ///
    /// ```no_run
    /// # fn demo(ctx: &filibuster_explorer::TestContext) {
    /// if ctx.fault_injected_on_method("bookings", "GET") {
    ///     // the user's bookings could not be read
    /// }
    /// # }
    /// ```
    pub fn fault_injected_on_method(&self, service: &str, method: &str) -> bool {
        self.faults().iter().any(|f| f.is_on_method(service, method))
    }

    /// Whether a fault was injected so far in this test execution on an RPC
    /// of `rpc` to `service` (gRPC through tonic): that method
    /// (`"cinema.Movies/GetMovie"`) or any of that gRPC service
    /// (`"cinema.Movies"`), as [`Calls::rpc`](crate::Calls::rpc) takes it.
    ///
    /// ```no_run
    /// # fn demo(ctx: &filibuster_explorer::TestContext) {
    /// if ctx.fault_injected_on_rpc("movies", "cinema.Movies/GetMovie") {
    ///     // the movie could not be read
    /// }
    /// # }
    /// ```
    pub fn fault_injected_on_rpc(&self, service: &str, rpc: &str) -> bool {
        self.faults().iter().any(|f| f.is_on_rpc(service, rpc))
    }

    /// Whether a fault was injected so far in this test execution on a call
    /// to `service` with `method` whose path `route` matches: the path as
    /// requested (`"/bookings/chris"`; without `?`, the query is ignored),
    /// or an axum route pattern, where `{param}` matches one segment
    /// (`"/bookings/{user}"`). Filibuster Java's
    /// `wasFaultInjectedOnHttpRequest`.
    ///
    /// ```no_run
    /// # fn demo(ctx: &filibuster_explorer::TestContext) {
    /// let lookup_failed = ctx.fault_injected_on_request("bookings", "GET", "/bookings/{user}");
    /// let audit_failed = ctx.fault_injected_on_request("bookings", "POST", "/bookings/{user}");
    /// # }
    /// ```
    pub fn fault_injected_on_request(&self, service: &str, method: &str, route: &str) -> bool {
        self.faults().iter().any(|f| f.is_on_request(service, method, route))
    }

    /// Whether a fault was injected so far in this test execution on a call
    /// made at `callsite`: the name of the `#[filibuster::call]` fn holding
    /// the `.send()` (`"fetch_bookings"`; `"BookingsClient::get"` for a
    /// method of an impl block with the attribute), or the callsite's full
    /// id (32 hex digits). Fn names are known for calls made in this
    /// process.
    ///
    /// ```no_run
    /// # fn demo(ctx: &filibuster_explorer::TestContext) {
    /// let lookup_failed = ctx.fault_injected_at("fetch_bookings");
    /// # }
    /// ```
    pub fn fault_injected_at(&self, callsite: &str) -> bool {
        self.faults().iter().any(|f| f.is_at(callsite))
    }

    /// The usual oracle: `actual` must be `without_fault` when
    /// `fault_injected` is false, and one of `with_fault` when it is true.
    /// Pass the question that names the faults the outcome depends on
    /// (`ctx.fault_injected_on_request(..)`, `ctx.fault_injected_at(..)`).
    /// The error says what was expected, what came, and the faults injected
    /// in this execution.
    ///
    /// ```no_run
    /// # fn demo(ctx: &filibuster_explorer::TestContext, status: u16) -> Result<(), String> {
    /// // 200 unless the bookings lookup failed; then 503 or 404.
    /// let lookup_failed = ctx.fault_injected_at("fetch_bookings");
    /// ctx.expect_outcome(lookup_failed, status, 200, &[503, 404])?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn expect_outcome<T: PartialEq + std::fmt::Debug>(
        &self,
        fault_injected: bool,
        actual: T,
        without_fault: T,
        with_fault: &[T],
    ) -> Result<(), String> {
        let expected = if fault_injected {
            if with_fault.contains(&actual) {
                return Ok(());
            }
            match with_fault {
                [one] => format!("{one:?} (the fault asked about was injected)"),
                many => format!("one of {many:?} (the fault asked about was injected)"),
            }
        } else {
            if actual == without_fault {
                return Ok(());
            }
            format!("{without_fault:?} (the fault asked about was not injected)")
        };
        let faults = self.faults();
        let mut message = format!("execution {}: expected {expected}, got {actual:?}", self.execution);
        if faults.is_empty() {
            message.push_str("; no fault was injected");
        } else {
            message.push_str("; faults injected:");
            for fault in &faults {
                message.push_str("\n  ");
                message.push_str(&fault.describe());
            }
        }
        Err(message)
    }

    /// The calls made so far in this test execution, in the order they were
    /// made, each with its fault and how it ended (`outcome`: a status code,
    /// an error name, or `None` while it runs): what a test asks to see
    /// that a failed call did not silently skip a later one, or that a
    /// retried one was not repeated once too often.
    ///
    /// ```no_run
    /// # fn demo(ctx: &filibuster_explorer::TestContext) -> Result<(), String> {
    /// // A timed-out payment may be retried once, never charged three times.
    /// let charges = ctx.count_calls("payments", "POST", "/payments");
    /// if charges > 2 {
    ///     return Err(format!("{charges} charges: {:?}", ctx.calls()));
    /// }
    /// // Inventory is reserved only once payment went through.
    /// let paid = ctx.calls().iter().any(|c| c.is_on_request("payments", "POST", "/payments") && c.outcome.as_deref() == Some("200"));
    /// if !paid && ctx.count_calls("inventory", "POST", "/reservations/{order}") > 0 {
    ///     return Err("inventory reserved for an unpaid order".into());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn calls(&self) -> Vec<CallReport> {
        self.server.calls()
    }

    /// How many calls of this test execution so far went to `service` with
    /// `method` on a path `route` matches (as
    /// [`fault_injected_on_request`](TestContext::fault_injected_on_request)
    /// matches them).
    pub fn count_calls(&self, service: &str, method: &str, route: &str) -> usize {
        self.calls().iter().filter(|c| c.is_on_request(service, method, route)).count()
    }

    /// The number of this execution: 1 for the initial one.
    pub fn execution(&self) -> usize {
        self.execution
    }
}

/// What a functional test returns: `()` or a `Result` whose error says what
/// went wrong. A panic (a failed `assert!`) fails the test too.
pub trait TestOutcome {
    /// `Err` with a message when the test failed.
    fn into_result(self) -> Result<(), String>;
}

impl TestOutcome for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: std::fmt::Display> TestOutcome for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

impl Explorer {
    /// An explorer with the built-in fault model, dynamic reduction on, no
    /// limit, no progress bar and no counterexample file.
    pub fn new() -> Self {
        Self::with_fault_model(FaultModel::default())
    }

    /// An explorer trying the faults of `model`.
    pub fn with_fault_model(model: FaultModel) -> Self {
        Self {
            server: Server::new(model),
            options: RunOptions::default(),
            counterexample_file: None,
            report_file: None,
            replay: None,
            progress: None,
            name: String::new(),
            replay_command: None,
        }
    }

    /// Sets every option at once (see [`RunOptions`]); the builder methods
    /// below set them one by one.
    pub fn options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Turns dynamic reduction on (the default) or off.
    pub fn dynamic_reduction(mut self, on: bool) -> Self {
        self.options.dynamic_reduction = on;
        self
    }

    /// Fails an execution whose functional test has not returned within
    /// `deadline` (its requests dropped, and with them the calls they
    /// wait on); none by default, but [`HANG_DEADLINE`] for an execution
    /// with a [hang fault](crate::Fault::Hang).
    pub fn execution_timeout(mut self, deadline: Duration) -> Self {
        self.options.execution_timeout = Some(deadline);
        self
    }

    /// Stops after `n` executions taken from the stack, run or pruned, the
    /// initial one included (the reference's `--max-tests`).
    pub fn max_executions(mut self, n: usize) -> Self {
        self.options.max_executions = Some(n);
        self
    }

    /// Where to write the counterexample when the test fails under faults.
    pub fn counterexample_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.counterexample_file = Some(path.into());
        self
    }

    /// Writes the run's report when it ends: as JSON to `path` and as HTML
    /// beside it (the same name, `.html`), creating their directory.
    /// [`Report::report_file`] says where; a report that cannot be written
    /// fails the run ([`RunError::ReportFile`]).
    pub fn report_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.report_file = Some(path.into());
        self
    }

    /// Runs only the execution of `counterexample`, with its faults.
    pub fn replay(mut self, counterexample: Counterexample) -> Self {
        self.replay = Some(counterexample);
        self
    }

    /// Shows a progress bar on stderr when it is a terminal. Print your
    /// logs with [`progress_writer`](crate::progress_writer) meanwhile, or
    /// they cut through it.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on.then(Progress::stderr);
        self
    }

    /// Draws the progress bar on `progress`.
    #[cfg(test)]
    pub(crate) fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Names the functional test in counterexample files (for the CLI, its
    /// command).
    pub fn functional_test_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The command that replays a counterexample, shown when the test fails
    /// (for the CLI, `filibuster test ... --counterexample-file <path>`).
    pub fn replay_command(mut self, command: impl Into<String>) -> Self {
        self.replay_command = Some(command.into());
        self
    }

    /// Lets a run end without trying any fault: when the fault-free
    /// execution sees no instrumented call, or the fault model proposes no
    /// fault for its calls, or (replaying) no call reaches the server because
    /// services inject faults themselves. Off by default: such a run fails
    /// with [`RunError::NoInstrumentedCalls`] or [`RunError::NoFaultToTry`].
    pub fn allow_no_calls(mut self, allow: bool) -> Self {
        self.options.allow_no_calls = allow;
        self
    }

    /// Explores even when the fault-free execution makes different calls when
    /// run twice (the differences go to [`Report::nondeterminism`]). Off by
    /// default: the run fails with [`RunError::Nondeterministic`].
    pub fn allow_nondeterminism(mut self, allow: bool) -> Self {
        self.options.allow_nondeterminism = allow;
        self
    }

    /// Runs the fault-free execution twice (the default) to check that it
    /// makes the same calls each time; the second run is not counted among
    /// the executions.
    pub fn repeat_initial_execution(mut self, on: bool) -> Self {
        self.options.repeat_initial_execution = on;
        self
    }

    /// How long an execution waits, once the functional test has returned,
    /// for the instrumented calls started under it to end (and, in-process,
    /// for instrumented handlers to finish their requests, work spawned with
    /// [`in_current_request`](filibuster_runtime::in_current_request) included). Default
    /// [`DEFAULT_GRACE`](crate::DEFAULT_GRACE); calls still running then are listed in the report.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.options.grace = grace;
        self
    }

    /// Keeps the failing executions in the file at `path` (created when the
    /// first is found; one file per test, committed with it, as proptest
    /// keeps `proptest-regressions/`) and replays them before exploring: one
    /// that fails again fails the run at once ([`Verdict::Failed`]), one
    /// whose planned faults no longer match the app's calls is stale
    /// ([`Verdict::Stale`], until its entry is deleted), one that passes is
    /// kept. See [`Report::regressions`].
    ///
    /// [`Verdict::Failed`]: super::Verdict::Failed
    /// [`Verdict::Stale`]: super::Verdict::Stale
    pub fn regressions(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.regressions = Some(path.into());
        self
    }

    /// Whether the saved [regressions](Explorer::regressions) are replayed
    /// before exploring (the default); new failing executions are saved
    /// either way.
    pub fn replay_regressions(mut self, on: bool) -> Self {
        self.options.replay_regressions = on;
        self
    }

    /// Explores everything rather than stopping at the first failing
    /// execution; [`Report::failure_groups`] then groups the failing
    /// executions by the smallest fault sets that fail.
    pub fn keep_going(mut self, on: bool) -> Self {
        self.options.keep_going = on;
        self
    }

    /// The order in which scheduled executions are taken (default
    /// [`Strategy::DepthFirst`], the reference's).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.options.strategy = strategy;
        self
    }

    /// The server this explorer drives.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The in-process connection for services started by the test.
    pub fn connection(&self) -> Connection {
        self.server.connection()
    }

    /// Explores: runs `test` once per test execution and returns what
    /// happened. Stops at the first execution whose test fails, and at
    /// anything that makes the run untrustworthy ([`Report::errors`]).
    pub async fn run<F, Fut>(&self, mut test: F) -> Report
    where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        filibuster_runtime::enable();
        let started = Instant::now();
        let bar = self.progress_bar();
        let watch = Watch::start();
        let mut report = Report {
            functional_test: self.name.clone(),
            options: self.run_options(),
            regressions_file: self.options.regressions.clone(),
            ..Report::default()
        };
        self.server.lock().start_run(self.options.strategy);
        match &self.replay {
            Some(counterexample) => self.replay_one(counterexample, &mut test, &mut report, &watch).await,
            None => {
                if self.replay_saved(&mut test, &mut report, &watch).await {
                    let mut found = Vec::new();
                    self.explore(&mut test, &mut report, &bar, &watch, &mut found).await;
                    self.save_regressions(&found, &mut report);
                }
            }
        }
        {
            let mut state = self.server.lock();
            report.executions_remaining = state.pending();
            report.executions_not_run = state.not_run(super::report::MAX_LISTED_NOT_RUN);
            let counts = state.intake().counts();
            report.late_records = counts.late;
            report.records_refused = counts.refused;
            report.records_conflicting = counts.conflicting;
            if counts.lost > 0 {
                report.errors.push(RunError::RecordsLost { count: counts.lost });
            }
            report.unmarked_requests = state
                .unmarked()
                .map(|(service, route, count)| UnmarkedRequests {
                    service: service.to_owned(),
                    route: route.to_owned(),
                    count,
                })
                .collect();
            for ((client, name), known) in state.unknown_faults() {
                report.errors.push(RunError::UnknownFault {
                    client: client.clone(),
                    name: name.chars().take(200).collect(),
                    known: known.clone(),
                });
            }
            state.end_run();
        }
        report.errors.extend(callsite_collisions(&report));
        if report.errors.is_empty() && report.replay.is_none() && report.executions_remaining == 0 {
            report.errors.extend(self.unmatched_rules(&report));
        }
        if report.errors.is_empty() {
            report.unreported_targets = unreported_targets(&report);
            report.calls_without_timeout = calls_without_timeout(&report);
        }
        report.elapsed = started.elapsed();
        if let Some(progress) = &self.progress {
            progress.finish(&bar);
        }
        if let Some(path) = &self.report_file {
            report.write_files(path);
        }
        report
    }

    /// The fault model's scoped rules that matched none of the calls of a
    /// complete exploration without failures (with one, the exploration
    /// stopped before it could reach every call).
    fn unmatched_rules(&self, report: &Report) -> Vec<RunError> {
        if report.failures().next().is_some() {
            return Vec::new();
        }
        let calls = report.executions.iter().flat_map(|execution| &execution.calls);
        let parts =
            calls.clone().map(|call| (call.target.as_deref(), call.method.as_str(), call.path.as_str()));
        let (unmatched, idle) = {
            let state = self.server.lock();
            (
                state.model().unmatched_rules(parts.clone()),
                state.model().idle_rules(parts, state.rules_used()),
            )
        };
        let idle = idle.into_iter().map(|(rule, faults)| RunError::IdleRule { rule, faults });
        if unmatched.is_empty() {
            return idle.collect();
        }
        let services: BTreeSet<&str> = calls.filter_map(|call| call.target.as_deref()).collect();
        let services: Vec<String> = services.into_iter().map(str::to_owned).collect();
        unmatched
            .into_iter()
            .map(|rule| RunError::UnmatchedRule { rule, services: services.clone() })
            .chain(idle)
            .collect()
    }

    /// How this explorer is set up, for the report.
    fn run_options(&self) -> RunOptions {
        RunOptions {
            fault_model: self.server.lock().model().source().to_owned(),
            replay: self.replay.is_some(),
            ..self.options.clone()
        }
    }

    /// Replays the saved regressions, if any; answers whether to explore
    /// next (not when one failed again, or the file cannot be read).
    async fn replay_saved<F, Fut>(&self, test: &mut F, report: &mut Report, watch: &Watch) -> bool
    where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        let Some(path) = self.options.regressions.as_ref().filter(|_| self.options.replay_regressions) else {
            return true;
        };
        let saved = match regressions::load(path) {
            Ok(saved) => saved,
            Err(reason) => {
                report.errors.push(RunError::RegressionsFile { path: path.clone(), reason });
                return false;
            }
        };
        for (i, counterexample) in saved.iter().enumerate() {
            let mut replayed = Report::default();
            self.replay_one(counterexample, test, &mut replayed, watch).await;
            report.errors.append(&mut replayed.errors);
            let (Some(outcome), Some(execution)) = (replayed.replay, replayed.executions.pop()) else {
                return false;
            };
            let reproduced = outcome == ReplayOutcome::Reproduced;
            report.regressions.push(RegressionReplay { entry: i + 1, outcome, execution });
            if reproduced {
                // Running the test again replays it first, as here.
                report.replay_command.clone_from(&self.replay_command);
            }
            if reproduced || !report.errors.is_empty() {
                return false;
            }
        }
        // The exploration starts as if the replays had not run.
        self.server.lock().forget_exploration();
        true
    }

    /// Adds the failing executions `found` to the regressions file, if the
    /// explorer keeps one.
    fn save_regressions(&self, found: &[Counterexample], report: &mut Report) {
        let Some(path) = &self.options.regressions else { return };
        if found.is_empty() {
            return;
        }
        match regressions::append(path, &self.name, found) {
            Ok(added) => report.regressions_saved = added,
            Err(reason) => report.errors.push(RunError::RegressionsFile { path: path.clone(), reason }),
        }
    }

    /// The initial execution, its repetition, then every scheduled one; the
    /// failing executions' counterexamples go to `found`.
    async fn explore<F, Fut>(
        &self,
        test: &mut F,
        report: &mut Report,
        bar: &ProgressBar,
        watch: &Watch,
        found: &mut Vec<Counterexample>,
    ) where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        {
            let mut state = self.server.lock();
            state.set_exploring(true);
            state.begin(None);
        }
        let first = self.run_one(test, 1, Run::Counted).await;
        report.executions_run = 1;
        let (failed, calls) = (first.failed(), first.calls.len());
        report.executions.push(first);
        if must_stop(report, watch, &self.server) || failed {
            return;
        }
        if calls == 0 && !self.options.allow_no_calls {
            report.errors.push(RunError::NoInstrumentedCalls);
            return;
        }
        let scheduled = self.server.lock().scheduled_total();
        if calls > 0 && scheduled == 0 && !self.options.allow_no_calls {
            report.errors.push(RunError::NoFaultToTry { calls });
            return;
        }
        if self.options.repeat_initial_execution
            && self.options.max_executions.is_none_or(|max| max > 1)
            && scheduled > 0
        {
            if let Some(difference) = self.repeat(test, &report.executions[0]).await {
                if self.options.allow_nondeterminism {
                    tracing::warn!("{}", RunError::Nondeterministic(difference.clone()));
                    report.nondeterminism = Some(difference);
                } else {
                    report.errors.push(RunError::Nondeterministic(difference));
                    return;
                }
            }
            if must_stop(report, watch, &self.server) {
                return;
            }
        }
        self.run_scheduled(test, report, bar, watch, found).await;
    }

    /// Runs the fault-free execution again; what differs from `first`, if
    /// anything.
    async fn repeat<F, Fut>(&self, test: &mut F, first: &ExecutionReport) -> Option<Nondeterminism>
    where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        self.server.lock().begin_repeat();
        let second = self.run_one(test, 1, Run::Repeat).await;
        self.server.lock().set_exploring(true);
        let only_first = calls_missing_from(&first.calls, &second.calls);
        let only_second = calls_missing_from(&second.calls, &first.calls);
        let second_run_failed = match second.status {
            ExecutionStatus::Failed { message } => Some(message),
            _ => None,
        };
        (!only_first.is_empty() || !only_second.is_empty() || second_run_failed.is_some())
            .then_some(Nondeterminism { only_first, only_second, second_run_failed })
    }

    /// Runs the execution of `counterexample` alone, and says whether it
    /// reproduced, is fixed or is stale.
    async fn replay_one<F, Fut>(
        &self,
        counterexample: &Counterexample,
        test: &mut F,
        report: &mut Report,
        watch: &Watch,
    ) where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        {
            let mut state = self.server.lock();
            state.begin_replay(counterexample.faults.clone(), counterexample.targets());
            state.learn_sites(counterexample.sites());
        }
        let execution = self.run_one(test, 1, Run::Counted).await;
        report.executions_run = 1;
        let (failed, calls) = (execution.failed(), execution.calls.len());
        let unmatched = execution.not_injected.clone();
        report.executions.push(execution);
        if must_stop(report, watch, &self.server) {
            return;
        }
        report.replay = if calls == 0 {
            if !self.options.allow_no_calls {
                report.errors.push(RunError::NoInstrumentedCalls);
                return;
            }
            Some(ReplayOutcome::Unverified { test_failed: failed })
        } else if !unmatched.is_empty() {
            Some(ReplayOutcome::Stale { unmatched, test_failed: failed })
        } else if failed {
            Some(ReplayOutcome::Reproduced)
        } else {
            Some(ReplayOutcome::Fixed)
        };
    }

    /// Takes the scheduled executions in the strategy's order, pruning or
    /// running each, until none is left, the limit is reached or one fails
    /// (unless keeping going).
    async fn run_scheduled<F, Fut>(
        &self,
        test: &mut F,
        report: &mut Report,
        bar: &ProgressBar,
        watch: &Watch,
        found: &mut Vec<Counterexample>,
    ) where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        let mut taken = 1;
        loop {
            self.tick(bar, report);
            {
                let mut state = self.server.lock();
                if self.options.max_executions.is_some_and(|max| taken >= max) {
                    return;
                }
                let Some(step) = state.step(self.options.dynamic_reduction) else { return };
                taken += 1;
                if let Step::Pruned { covered_by, faults } = step {
                    report.executions_pruned += 1;
                    report.executions.push(ExecutionReport {
                        number: taken,
                        faults: faults.iter().map(|f| state.fault_report(f)).collect(),
                        calls: Vec::new(),
                        status: ExecutionStatus::Pruned { covered_by },
                        not_injected: Vec::new(),
                        unfinished: Vec::new(),
                        requests_still_running: 0,
                        trace_ids: Vec::new(),
                        panics: Vec::new(),
                    });
                    continue;
                }
            }
            let execution = self.run_one(test, taken, Run::Counted).await;
            report.executions_run += 1;
            let failed = execution.failed();
            report.executions.push(execution);
            if must_stop(report, watch, &self.server) {
                return;
            }
            if !failed {
                continue;
            }
            let counterexample = self.counterexample();
            if found.is_empty() {
                report.counterexample_file = self.write_counterexample(&counterexample);
                report.replay_command = self.replay_command.clone().or_else(|| {
                    report.counterexample_file.as_ref().map(|path| {
                        format!(
                            "Explorer::new().replay(Counterexample::load({:?})?)",
                            path.display().to_string()
                        )
                    })
                });
            }
            found.push(counterexample);
            if !self.options.keep_going {
                return;
            }
        }
    }

    /// Runs the test once in the execution already begun, waits for the
    /// calls it started to end (at most the grace), then finishes it.
    /// `run` says whether it is a counted execution or the repeat of the
    /// fault-free one (whose span says so).
    async fn run_one<F, Fut>(&self, test: &mut F, number: usize, run: Run) -> ExecutionReport
    where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        let context = TestContext { server: self.server.clone(), execution: number };
        // Noted by requests of no execution (late ones of the last): not this one's.
        self.server.take_trace_ids();
        let span = execution_span(&self.server, number, run);
        // The parent of the requests the test sends (which carry no
        // context of their own), so that the execution is one trace.
        self.server.set_execution_span((!span.is_disabled()).then(|| span.clone()));
        // The test's own calls through `#[filibuster::call]` fns are no
        // service's calls outside its requests.
        let test = filibuster_runtime::outside_requests(AssertUnwindSafe(test(context)).catch_unwind());
        let hang_planned = self
            .server
            .lock()
            .faults()
            .iter()
            .any(|f| f.failure_metadata.as_ref().is_some_and(FailureMetadata::is_hang));
        let deadline = self.options.execution_timeout.or(hang_planned.then_some(HANG_DEADLINE));
        let test = test.instrument(span.clone());
        let ran = match deadline {
            None => Ok(test.await),
            // Dropping the test drops its requests, which cancels the
            // handlers waiting on hung calls.
            Some(deadline) => tokio::time::timeout(deadline, test).await.map_err(|_| deadline),
        };
        let outcome = match ran {
            Ok(Ok(outcome)) => outcome.into_result(),
            Ok(Err(panic)) => Err(panic_message(panic)),
            Err(deadline) => Err(format!(
                "the functional test did not return within {:.3} s, the execution's deadline{}{}",
                deadline.as_secs_f64(),
                if self.options.execution_timeout.is_some() {
                    " (`execution_timeout`)"
                } else {
                    " under a hang fault (set one with `execution_timeout`)"
                },
                if hang_planned {
                    ": a call without a timeout that hangs hangs its caller (a client's timeout set with \
                     `ClientBuilder::timeout` is seen only when declared: #[filibuster::call(timeout = ..)])"
                } else {
                    ""
                }
            )),
        };
        match &outcome {
            Ok(()) => span.record("filibuster.outcome", "passed"),
            Err(_) => span.record("filibuster.outcome", "failed").record("otel.status_code", "ERROR"),
        };
        self.settle().await;
        self.server.set_execution_span(None);
        drop(span);
        let requests_still_running = self.server.live_requests();
        let trace_ids = self.server.take_trace_ids();
        let mut state = self.server.lock();
        let not_injected = state.faults_not_met().iter().map(|f| state.fault_report(f)).collect();
        let unfinished: Vec<CallReport> = state.unfinished().map(|e| state.call_report(e)).collect();
        if !unfinished.is_empty() || requests_still_running > 0 {
            tracing::warn!(
                execution = number,
                calls = unfinished.len(),
                requests = requests_still_running,
                grace = ?self.options.grace,
                "calls or requests still running when the execution was closed"
            );
        }
        state.finish(number);
        ExecutionReport {
            number,
            faults: state.faults().iter().map(|f| state.fault_report(f)).collect(),
            calls: state.log().iter().map(|e| state.call_report(e)).collect(),
            status: match outcome {
                Ok(()) => ExecutionStatus::Passed,
                Err(message) => ExecutionStatus::Failed { message },
            },
            not_injected,
            unfinished,
            requests_still_running,
            trace_ids,
            panics: state.panics().to_vec(),
        }
    }

    /// Waits, at most the grace, until every call of the current execution
    /// has ended and in-process handlers have finished their requests.
    async fn settle(&self) {
        // A grace too long to add to now waits as long as the calls take.
        let deadline = Instant::now().checked_add(self.options.grace);
        let mut waited = false;
        loop {
            let busy = self.server.live_requests() > 0 || self.server.lock().unfinished().next().is_some();
            if !busy || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return;
            }
            if waited {
                tokio::time::sleep(Duration::from_millis(1)).await;
            } else {
                tokio::task::yield_now().await;
                waited = true;
            }
        }
    }

    /// The current execution as a counterexample.
    fn counterexample(&self) -> Counterexample {
        let state = self.server.lock();
        Counterexample {
            functional_test: self.name.clone(),
            faults: state.faults().to_vec(),
            log: state.log().iter().map(|e| e.identity_json()).collect(),
            response_log: response_log(&state),
        }
    }

    fn write_counterexample(&self, counterexample: &Counterexample) -> Option<PathBuf> {
        let path = self.counterexample_file.clone()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(error) = std::fs::create_dir_all(dir)
        {
            tracing::error!(%error, path = %path.display(), "cannot create the counterexample's directory");
        }
        match std::fs::write(&path, counterexample.to_json()) {
            Ok(()) => Some(path),
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "cannot write the counterexample file");
                None
            }
        }
    }

    fn progress_bar(&self) -> ProgressBar {
        match &self.progress {
            Some(progress) => progress.spinner(),
            None => ProgressBar::hidden(),
        }
    }

    fn tick(&self, bar: &ProgressBar, report: &Report) {
        if bar.is_hidden() {
            return;
        }
        let pending = self.server.lock().pending();
        bar.set_message(format!(
            "{} run, {} scheduled, {} pruned",
            report.executions_run, pending, report.executions_pruned
        ));
    }
}

/// Which run of the functional test an execution span stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    /// An execution of the exploration, counted in the report.
    Counted,
    /// The fault-free execution run again, to see that the test is
    /// deterministic: not counted, and its span says so
    /// (`filibuster.repeat`), so that a trace viewer does not show two
    /// executions 1.
    Repeat,
}

/// The span of test execution `number`, which the functional test runs in:
/// with an OpenTelemetry export (`filibuster::otlp`), each execution is a
/// trace of its own, named after the faults planned in it, and marked as an
/// error when the test fails.
fn execution_span(server: &super::Server, number: usize, run: Run) -> tracing::Span {
    let span = tracing::info_span!(
        "filibuster execution",
        otel.name = if run == Run::Repeat { "filibuster execution (repeat)" } else { "filibuster execution" },
        filibuster.execution = number,
        filibuster.repeat = run == Run::Repeat,
        filibuster.faults = tracing::field::Empty,
        filibuster.outcome = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    if !span.is_disabled() {
        let state = server.lock();
        let faults: Vec<String> = state.faults().iter().map(|f| state.fault_report(f).describe()).collect();
        drop(state);
        span.record(
            "filibuster.faults",
            if faults.is_empty() { "none".to_owned() } else { faults.join("; ") },
        );
    }
    span
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => match panic.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "the functional test panicked".to_owned(),
        },
    }
}

/// Whether the run must stop: handlers ran without the explorer's layer,
/// calls outside any instrumented request, or the server reached a limit;
/// if so, the error.
fn must_stop(report: &mut Report, watch: &Watch, server: &Server) -> bool {
    let limit = server.lock().intake().limit_reached().map(str::to_owned);
    if let Some(limit) = limit {
        report.errors.push(RunError::LimitReached { limit });
        return true;
    }
    let services = watch.services();
    if !services.is_empty() {
        report.errors.push(RunError::MissingLayer { services });
        return true;
    }
    let calls = watch.calls_outside_requests();
    if !calls.is_empty() {
        let calls = calls.iter().map(|c| described(c)).collect();
        report.errors.push(RunError::CallsOutsideRequests { calls });
        return true;
    }
    false
}

/// The collisions of callsite ids (seen anywhere in the process) that
/// involve a callsite of this run's calls.
fn callsite_collisions(report: &Report) -> Vec<RunError> {
    let collisions = filibuster_runtime::__explorer::collisions();
    if collisions.is_empty() {
        return Vec::new();
    }
    let place = |c: &filibuster_runtime::Callsite| format!("{}:{}", c.file, c.line);
    let seen: std::collections::HashSet<&str> =
        report.executions.iter().flat_map(|e| &e.calls).map(|c| c.callsite.as_str()).collect();
    collisions
        .into_iter()
        .filter(|c| seen.contains(place(c.first).as_str()) || seen.contains(place(c.second).as_str()))
        .map(|c| RunError::CallsiteCollision {
            id: c.id().to_owned(),
            first: described(c.first),
            second: described(c.second),
        })
        .collect()
}

/// A callsite as errors name it: `` `fetch_stock` at src/lib.rs:34 ``.
fn described(callsite: &filibuster_runtime::Callsite) -> String {
    format!("`{}` at {}:{}", callsite.function, callsite.file, callsite.line)
}

/// The calls of `calls` whose execution index is not among `other`'s (as
/// many times as they are missing).
fn calls_missing_from(calls: &[CallReport], other: &[CallReport]) -> Vec<CallName> {
    let mut remaining: HashMap<&str, usize> = HashMap::new();
    for call in other {
        *remaining.entry(call.execution_index.as_str()).or_default() += 1;
    }
    calls
        .iter()
        .filter(|call| match remaining.get_mut(call.execution_index.as_str()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .map(CallReport::site)
        .collect()
}

/// Calls of the executions run whose target never reported
/// `request_received`: no status-code fault was tried on them.
fn unreported_targets(report: &Report) -> Vec<CallName> {
    let calls = report.executions.iter().flat_map(|e| &e.calls);
    let reached: HashSet<CallName> =
        calls.clone().filter(|c| c.target.is_some()).map(|c| CallName { target: None, ..c.site() }).collect();
    let unreported: BTreeSet<CallName> = calls
        .filter(|c| c.target.is_none() && c.fault.is_none())
        .map(CallReport::site)
        .filter(|site| !reached.contains(site))
        .collect();
    unreported.into_iter().collect()
}

/// The calls of the executions run that had no timeout.
fn calls_without_timeout(report: &Report) -> Vec<CallName> {
    let calls = report.executions.iter().flat_map(|e| &e.calls);
    // One entry per call site: its target, when some execution knew it.
    let mut without: BTreeMap<CallName, Option<String>> = BTreeMap::new();
    for call in calls.filter(|c| c.timeout.is_none()) {
        let target = without.entry(CallName { target: None, ..call.site() }).or_default();
        if target.is_none() {
            target.clone_from(&call.target);
        }
    }
    without.into_iter().map(|(site, target)| CallName { target, ..site }).collect()
}

/// The reference's `response_log`: each call with its target and outcome.
fn response_log(state: &State) -> Vec<Value> {
    state
        .log()
        .iter()
        .map(|entry| {
            let mut value = entry.identity_json();
            if let Value::Object(map) = &mut value {
                map.insert(
                    "target_service_name".into(),
                    json!(state.target_of(entry).unwrap_or_else(|| "external".into())),
                );
                map.insert("return_value".into(), json!(entry.return_value));
                map.insert("exception".into(), json!(entry.exception));
                map.insert("fault_injection".into(), json!(entry.injected.is_some()));
                if let Some(function) = crate::state::function_of(&entry.invocation) {
                    map.insert("callsite_function".into(), json!(function));
                }
                if let Some(fault) = &entry.injected {
                    map.insert("forced_exception".into(), json!(fault.forced_exception));
                    map.insert("failure_metadata".into(), json!(fault.failure_metadata));
                }
            }
            value
        })
        .collect()
}
