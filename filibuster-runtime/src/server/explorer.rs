//! The explorer: runs a functional test again and again, each time with a
//! different set of faults, depth first, skipping what dynamic reduction
//! shows redundant, and stops at the first failure with a counterexample.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::counterexample::Counterexample;
use super::report::{CallReport, ExecutionReport, ExecutionStatus, FaultReport, Report};
use super::state::State;
use super::{FaultModel, PlannedFault, Server};
use crate::connection::Connection;

/// Drives a [`Server`]: the initial fault-free execution, then every
/// execution the new calls scheduled, in depth-first order.
///
/// ```no_run
/// # async fn demo() {
/// use filibuster_runtime::Explorer;
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
/// assert!(report.passed(), "{}", report.summary());
/// # }
/// ```
#[derive(Debug)]
pub struct Explorer {
    server: Server,
    dynamic_reduction: bool,
    max_executions: Option<usize>,
    counterexample_file: Option<PathBuf>,
    replay: Option<Counterexample>,
    progress: bool,
    name: String,
}

impl Default for Explorer {
    fn default() -> Self {
        Self::new()
    }
}

/// What a functional test sees of the exploration.
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
    /// to `service`.
    pub fn fault_injected_on(&self, service: &str) -> bool {
        self.server.fault_injected_on(service)
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
            dynamic_reduction: true,
            max_executions: None,
            counterexample_file: None,
            replay: None,
            progress: false,
            name: String::new(),
        }
    }

    /// Turns dynamic reduction on (the default) or off.
    pub fn dynamic_reduction(mut self, on: bool) -> Self {
        self.dynamic_reduction = on;
        self
    }

    /// Stops after `n` executions taken from the stack, run or pruned, the
    /// initial one included (the reference's `--max-tests`).
    pub fn max_executions(mut self, n: usize) -> Self {
        self.max_executions = Some(n);
        self
    }

    /// Where to write the counterexample when the test fails under faults.
    pub fn counterexample_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.counterexample_file = Some(path.into());
        self
    }

    /// Runs only the execution of `counterexample`, with its faults.
    pub fn replay(mut self, counterexample: Counterexample) -> Self {
        self.replay = Some(counterexample);
        self
    }

    /// Shows a progress bar on a terminal.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Names the functional test in counterexample files (for the CLI, its
    /// command).
    pub fn functional_test_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
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
    /// happened. Stops at the first execution whose test fails.
    pub async fn run<F, Fut>(&self, mut test: F) -> Report
    where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        crate::switch::enable();
        let started = Instant::now();
        let bar = self.progress_bar();
        let mut report = Report::default();
        {
            let mut state = self.server.lock();
            match &self.replay {
                Some(counterexample) => {
                    state.begin_replay(counterexample.faults.clone(), counterexample.targets())
                }
                None => {
                    state.exploring = true;
                    state.begin(None);
                }
            }
        }
        let first = self.run_one(&mut test, 1).await;
        let explore = self.replay.is_none() && !first.failed();
        report.executions_run = 1;
        report.executions.push(first);
        if explore {
            self.run_scheduled(&mut test, &mut report, &bar).await;
        }
        {
            let mut state = self.server.lock();
            report.executions_remaining = state.pending();
            state.exploring = false;
        }
        report.elapsed = started.elapsed();
        bar.finish_and_clear();
        report
    }

    /// Takes the scheduled executions depth first, pruning or running each,
    /// until none is left, the limit is reached or one fails.
    async fn run_scheduled<F, Fut>(&self, test: &mut F, report: &mut Report, bar: &ProgressBar)
    where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        let mut taken = 1;
        loop {
            self.tick(bar, report);
            {
                let mut state = self.server.lock();
                if self.max_executions.is_some_and(|max| taken >= max) {
                    return;
                }
                let Some(next) = state.pop() else { return };
                taken += 1;
                if self.dynamic_reduction && state.should_prune(&next) {
                    report.executions_pruned += 1;
                    report.executions.push(ExecutionReport {
                        number: taken,
                        faults: fault_reports(&next.faults),
                        calls: Vec::new(),
                        status: ExecutionStatus::Pruned,
                    });
                    continue;
                }
                state.begin(Some(next));
            }
            let execution = self.run_one(test, taken).await;
            report.executions_run += 1;
            let failed = execution.failed();
            report.executions.push(execution);
            if failed {
                report.counterexample_file = self.write_counterexample();
                return;
            }
        }
    }

    /// Runs the test once in the execution already begun, then finishes it.
    async fn run_one<F, Fut>(&self, test: &mut F, number: usize) -> ExecutionReport
    where
        F: FnMut(TestContext) -> Fut,
        Fut: Future,
        Fut::Output: TestOutcome,
    {
        let context = TestContext { server: self.server.clone(), execution: number };
        let outcome = match AssertUnwindSafe(test(context)).catch_unwind().await {
            Ok(outcome) => outcome.into_result(),
            Err(panic) => Err(panic_message(panic)),
        };
        let mut state = self.server.lock();
        state.finish();
        ExecutionReport {
            number,
            faults: fault_reports(&state.faults),
            calls: call_reports(&state),
            status: match outcome {
                Ok(()) => ExecutionStatus::Passed,
                Err(message) => ExecutionStatus::Failed { message },
            },
        }
    }

    fn write_counterexample(&self) -> Option<PathBuf> {
        let path = self.counterexample_file.clone()?;
        let counterexample = {
            let state = self.server.lock();
            Counterexample {
                functional_test: self.name.clone(),
                faults: state.faults.clone(),
                log: state.log.iter().map(|e| e.identity_json()).collect(),
                response_log: response_log(&state),
            }
        };
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
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} exploring: {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
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

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => match panic.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "the functional test panicked".to_owned(),
        },
    }
}

fn fault_reports(faults: &[PlannedFault]) -> Vec<FaultReport> {
    faults
        .iter()
        .map(|f| FaultReport {
            execution_index: f.execution_index.clone(),
            path: f.args.first().cloned().unwrap_or_default(),
            fault: f.name(),
        })
        .collect()
}

fn call_reports(state: &State) -> Vec<CallReport> {
    state
        .log
        .iter()
        .map(|entry| CallReport {
            source: entry.invocation.source_service_name.to_string(),
            target: state.target_of(entry),
            method: entry.invocation.method.to_string(),
            path: entry.path().to_owned(),
            callsite: format!(
                "{}:{}",
                entry.invocation.callsite_file,
                entry
                    .invocation
                    .callsite_line
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| entry.invocation.callsite_line.to_string())
            ),
            execution_index: entry.invocation.execution_index.clone(),
            fault: entry.injected.as_ref().map(PlannedFault::name),
            outcome: match (&entry.return_value, &entry.exception) {
                (Some(value), _) => Some(value.status_code.clone()),
                (None, Some(exception)) => Some(exception.name.clone()),
                (None, None) => None,
            },
        })
        .collect()
}

/// The reference's `response_log`: each call with its target and outcome.
fn response_log(state: &State) -> Vec<Value> {
    state
        .log
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
                if let Some(fault) = &entry.injected {
                    map.insert("forced_exception".into(), json!(fault.forced_exception));
                    map.insert("failure_metadata".into(), json!(fault.failure_metadata));
                }
            }
            value
        })
        .collect()
}
