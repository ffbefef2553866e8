//! What an exploration found: every execution, with its calls and faults,
//! and whatever makes its verdict untrustworthy.

use super::injected::call_matches;
use super::options::RunOptions;
use filibuster_runtime::panic::HandlerPanic;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::grid::Grid;

/// The result of an exploration.
///
/// Its [`Verdict`] says whether the run passed; [`Report::assert_passed`]
/// fails a test with everything a person needs to act on it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The functional test, as named to the explorer (for the CLI, its
    /// command).
    pub functional_test: String,
    /// How the explorer was set up for this run.
    pub options: RunOptions,
    /// Test executions run, the initial one included.
    pub executions_run: usize,
    /// Scheduled executions skipped by dynamic reduction.
    pub executions_pruned: usize,
    /// The faults of the scheduled executions not run (at most
    /// [`MAX_LISTED_NOT_RUN`] of them, in the order they would have been
    /// taken): what the run left unexplored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub executions_not_run: Vec<Vec<FaultReport>>,
    /// Scheduled executions not run because the limit was reached or the
    /// exploration stopped at a failure.
    pub executions_remaining: usize,
    /// Wall-clock time of the whole exploration.
    #[serde(serialize_with = "crate::options::seconds")]
    pub elapsed: Duration,
    /// Every execution run or pruned, in order.
    pub executions: Vec<ExecutionReport>,
    /// The counterexample file written for the failing execution, if any.
    pub counterexample_file: Option<PathBuf>,
    /// The JSON file this report was written to, with the HTML beside it
    /// ([`Report::html_file`]), when the explorer writes one
    /// ([`Explorer::report_file`](super::Explorer::report_file)).
    pub report_file: Option<PathBuf>,
    /// The command that replays the counterexample, when the explorer knows
    /// one.
    pub replay_command: Option<String>,
    /// What makes this run's green meaningless: it failed without finding a
    /// failing execution.
    pub errors: Vec<RunError>,
    /// When replaying a counterexample: what the replay showed.
    pub replay: Option<ReplayOutcome>,
    /// Calls whose target never reported `request_received` in any
    /// execution, so no status-code fault (500, 502, 503) was tried on them:
    /// the service they reach has no `#[filibuster::handler]`, or is
    /// outside the app.
    pub unreported_targets: Vec<CallName>,
    /// Requests without Filibuster headers that reached in-process
    /// instrumented handlers while other requests were being handled: most
    /// likely sent by a `.send()` in a fn without `#[filibuster::call]`,
    /// so never faulted (the functional test's own requests come while
    /// none is, unless it sends several at once).
    pub unmarked_requests: Vec<UnmarkedRequests>,
    /// Calls made without a timeout in the executions run: a hung
    /// dependency hangs their caller. [`Fault::Hang`](crate::Fault::Hang)
    /// makes one hang.
    pub calls_without_timeout: Vec<CallName>,
    /// Records that arrived after their execution had ended, and were
    /// dropped.
    pub late_records: usize,
    /// Records refused for lacking the run's token, once the run's services
    /// carried it (someone else on the machine, or a service started for
    /// another run).
    pub records_refused: u64,
    /// Records refused because they contradicted a recorded call (another
    /// target, another outcome, another execution index).
    pub records_conflicting: u64,
    /// The fault-free execution was run twice to check that it makes the same
    /// calls; the differences, when the user allowed them
    /// ([`Explorer::allow_nondeterminism`](super::Explorer::allow_nondeterminism)).
    pub nondeterminism: Option<Nondeterminism>,
    /// The file of saved regressions, when the explorer keeps one
    /// ([`Explorer::regressions`](super::Explorer::regressions)).
    pub regressions_file: Option<PathBuf>,
    /// The saved regressions replayed before exploring, in the file's
    /// order (up to the first that failed again).
    pub regressions: Vec<RegressionReplay>,
    /// Failing executions of this run added to the regressions file.
    pub regressions_saved: usize,
}

/// A saved regression, replayed before the exploration.
#[derive(Clone, Debug, Serialize)]
pub struct RegressionReplay {
    /// Its place in the regressions file, from 1.
    pub entry: usize,
    /// What replaying it showed.
    #[serde(flatten)]
    pub outcome: ReplayOutcome,
    /// The execution that replayed it.
    pub execution: ExecutionReport,
}

/// Failing executions that share a smallest failing fault set: see
/// [`Report::failure_groups`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    /// The number of the failing execution whose faults are the group's
    /// smallest set: no other failing execution's faults are a part of them.
    pub minimal: usize,
    /// The numbers of the other failing executions whose faults include
    /// those of `minimal`, in order.
    pub supersets: Vec<usize>,
}

/// How many of the scheduled executions not run a report lists
/// ([`Report::executions_not_run`]); [`Report::executions_remaining`]
/// counts them all.
pub const MAX_LISTED_NOT_RUN: usize = 10_000;

/// The outcome of an exploration, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every execution passed (or, replaying, every planned fault was
    /// injected and the test passed: the bug is fixed).
    Passed,
    /// An execution failed (or, replaying, the counterexample reproduced).
    Failed,
    /// The run could not test what it was asked to: see [`Report::errors`].
    Untested,
    /// Replaying, some planned fault matched no call: the counterexample no
    /// longer describes the app.
    Stale,
}

impl Verdict {
    /// The exit code of `filibuster test`: 0 passed (or fixed), 1 failed
    /// (or reproduced), 2 untested, 3 a stale counterexample.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Passed => 0,
            Verdict::Failed => 1,
            Verdict::Untested => 2,
            Verdict::Stale => 3,
        }
    }
}

/// Why a run cannot be trusted to have tested anything.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum RunError {
    /// The fault-free execution saw no instrumented call.
    NoInstrumentedCalls,
    /// The fault model proposed no fault for any call of the fault-free
    /// execution.
    NoFaultToTry {
        /// The calls it saw.
        calls: usize,
    },
    /// Handlers of these services ran in routers without the explorer's
    /// layer, in the explorer's process.
    MissingLayer {
        /// The services.
        services: Vec<String>,
    },
    /// `#[filibuster::call]` fns sent requests outside any instrumented
    /// request, in the explorer's process: a handler without
    /// `#[filibuster::handler]` (or a router without a `ServiceLayer`), or
    /// a task spawned without the request's context. Those calls went
    /// un-faulted.
    CallsOutsideRequests {
        /// The calls' fns and places: `` `fetch_stock` at src/lib.rs:34 ``.
        calls: Vec<String>,
    },
    /// The fault-free execution made different calls when run again.
    Nondeterministic(Nondeterminism),
    /// A limit of the server was reached (see [`Limits`](super::Limits)).
    LimitReached {
        /// Which, and by what.
        limit: String,
    },
    /// Services said they could not deliver records to the server (it was
    /// slow, gone or overloaded): calls went un-faulted and unrecorded.
    RecordsLost {
        /// How many records.
        count: u64,
    },
    /// The report cannot be written to its file.
    ReportFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file of saved regressions cannot be read or written (nothing in
    /// it was replaced).
    RegressionsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A rule of the fault model, scoped by service, method or path, matched
    /// none of the calls of a complete exploration, so its faults were never
    /// tried: a misspelled service, method or path.
    UnmatchedRule {
        /// The calls the rule is for (`calls to `movies` with GET /movies/{id}`).
        rule: String,
        /// The services the calls went to (those instrumented).
        services: Vec<String>,
    },
    /// A rule of the fault model, scoped by service, method or path,
    /// matched calls of a complete exploration but proposed none of its
    /// faults for them (an HTTP fault on a dependency call, a dependency's
    /// fault on an HTTP call, a timeout on calls without one), so they were
    /// never tried.
    IdleRule {
        /// The calls the rule is for (`calls to `postgres``).
        rule: String,
        /// Its faults (`[ConnectionError, Status(503)]`).
        faults: String,
    },
    /// The fault model or the counterexample named an exception that the
    /// calls of a client cannot be failed with (a misspelled name): it was
    /// neither injected nor mapped to another fault.
    UnknownFault {
        /// The client (`reqwest`), as its calls' records name it.
        client: String,
        /// The name.
        name: String,
        /// The names its calls can be failed with.
        known: Vec<String>,
    },
    /// Two different callsites of this run's calls have one id (two
    /// same-named methods of two impl blocks with `#[filibuster::call]` on
    /// each method), so the exploration took their calls for one another.
    CallsiteCollision {
        /// The id both have.
        id: String,
        /// The first callsite seen with it: `fn` at `file:line`.
        first: String,
        /// The other one.
        second: String,
    },
}

/// How two runs of the fault-free execution differed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nondeterminism {
    /// Calls only the first run made.
    pub only_first: Vec<CallName>,
    /// Calls only the second run made.
    pub only_second: Vec<CallName>,
    /// What the functional test said when it failed on the second run.
    pub second_run_failed: Option<String>,
}

/// What a replay showed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReplayOutcome {
    /// Every planned fault was injected and the test failed again.
    Reproduced,
    /// Every planned fault was injected and the test passed: fixed.
    Fixed,
    /// These planned faults matched no call: the calls they target are gone
    /// (a `#[call]` fn renamed, a path changed) or the file was edited.
    Stale {
        /// The faults that matched no call.
        unmatched: Vec<FaultReport>,
        /// Whether the functional test failed anyway.
        test_failed: bool,
    },
    /// No call reached this server, as when services inject faults
    /// themselves from the counterexample (the reference's local mode), and
    /// the run allowed it: the verdict is the functional test's alone.
    Unverified {
        /// Whether the functional test failed.
        test_failed: bool,
    },
}

/// One test execution.
#[derive(Clone, Debug, Serialize)]
pub struct ExecutionReport {
    /// 1 for the initial execution, then in the order they were taken.
    pub number: usize,
    /// The faults planned for it.
    pub faults: Vec<FaultReport>,
    /// The calls it made, in the order they were reported (empty if pruned).
    pub calls: Vec<CallReport>,
    /// Passed, failed or pruned (`"status"`, and `"message"` when failed,
    /// `"covered_by"` when pruned).
    #[serde(flatten)]
    pub status: ExecutionStatus,
    /// Planned faults that met no call in this execution ("planned, not
    /// injected").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_injected: Vec<FaultReport>,
    /// Calls that had not ended when the execution was closed (after the
    /// grace period).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unfinished: Vec<CallReport>,
    /// Requests instrumented handlers were still handling when the
    /// execution was closed (in-process services only).
    #[serde(skip_serializing_if = "is_zero")]
    pub requests_still_running: usize,
    /// The OpenTelemetry trace ids of the execution: that of the
    /// explorer's `filibuster execution` span, the parent of the requests
    /// that reached an in-process instrumented handler without
    /// `traceparent` (the functional test's), when the services are built
    /// with filibuster's `otel` feature and trace with
    /// `tracing-opentelemetry` (one id; one per such request if the
    /// explorer's span is not traced); empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace_ids: Vec<String>,
    /// The panics of instrumented handlers during the execution: service,
    /// message and `file:line` (the cause of a call that "did not answer").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub panics: Vec<HandlerPanic>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How a test execution ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// The functional test passed.
    Passed,
    /// The functional test failed, saying this.
    Failed {
        /// What the functional test said.
        message: String,
    },
    /// Skipped: dynamic reduction showed it could not show anything new.
    Pruned {
        /// The executions run that show what it would (by number): for each
        /// call, one that made the same calls under it with the same
        /// outcomes.
        covered_by: Vec<usize>,
    },
}

/// A planned fault, and the call it targets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultReport {
    /// Execution index of the call it targets, as its JSON text (a JSON
    /// list in the report).
    #[serde(serialize_with = "json_text")]
    pub execution_index: String,
    /// The call it targets, as far as it is known.
    #[serde(flatten)]
    pub call: CallName,
    /// The fault: an exception name, or `status 503`.
    pub fault: String,
}

/// Requests without Filibuster headers that reached one route of an
/// instrumented service while others were being handled
/// ([`Report::unmarked_requests`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnmarkedRequests {
    /// The service.
    pub service: String,
    /// `METHOD route`: `GET /movies/{id}`.
    pub route: String,
    /// How many, over the run.
    pub count: usize,
}

/// A call as reports name it, without its outcome: where it comes from
/// (service, callsite, fn) and what it asks (target, method, path). Not to
/// be confused with the runtime's [`Callsite`](filibuster_runtime::Callsite),
/// the place in the source a call is made from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CallName {
    /// The calling service.
    pub source: String,
    /// The service called, when it reported `request_received`.
    pub target: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `file:line` of the `.send()`.
    pub callsite: String,
    /// The fn holding the `.send()`, when known (calls made in this process).
    pub function: Option<String>,
}

/// One call of a test execution.
#[derive(Clone, Debug, Serialize)]
pub struct CallReport {
    /// The calling service.
    pub source: String,
    /// The service called, when it is instrumented (else `None`).
    pub target: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Where in the source the call is.
    pub callsite: String,
    /// The fn holding the `.send()`, when known (calls made in this process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Execution index of the call, as its JSON text (a JSON list in the
    /// report).
    #[serde(serialize_with = "json_text")]
    pub execution_index: String,
    /// The fault injected into it, if any.
    pub fault: Option<String>,
    /// What it ended with: a status code, or an error name.
    pub outcome: Option<String>,
    /// The call's timeout in seconds (the request's, else the client's
    /// as `#[filibuster::call(timeout = ..)]` declares it), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
}

/// A JSON text as the value it holds (as the string itself if it holds
/// none).
fn json_text<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value.serialize(s),
        Err(_) => s.serialize_str(text),
    }
}

impl Report {
    /// Executions run plus executions pruned.
    pub fn total(&self) -> usize {
        self.executions_run + self.executions_pruned
    }

    /// The failing executions (the exploration stops at the first).
    pub fn failures(&self) -> impl Iterator<Item = &ExecutionReport> {
        self.executions.iter().filter(|e| matches!(e.status, ExecutionStatus::Failed { .. }))
    }

    /// The outcome in one word.
    pub fn verdict(&self) -> Verdict {
        let regression =
            |wanted: fn(&ReplayOutcome) -> bool| self.regressions.iter().any(|r| wanted(&r.outcome));
        match &self.replay {
            _ if !self.errors.is_empty() => Verdict::Untested,
            _ if regression(|o| *o == ReplayOutcome::Reproduced) => Verdict::Failed,
            Some(ReplayOutcome::Stale { .. }) => Verdict::Stale,
            _ if self.failures().next().is_some() => Verdict::Failed,
            _ if regression(|o| matches!(o, ReplayOutcome::Stale { .. })) => Verdict::Stale,
            _ => Verdict::Passed,
        }
    }

    /// The failing executions grouped by the smallest fault sets that fail
    /// (useful when the explorer [keeps going](super::Explorer::keep_going)):
    /// one group per failing execution whose faults include no other failing
    /// execution's faults, with the failing executions whose faults include
    /// its own. An execution whose faults include two minimal sets is in
    /// both groups.
    pub fn failure_groups(&self) -> Vec<FailureGroup> {
        let key = |e: &ExecutionReport| -> Vec<(String, String)> {
            e.faults.iter().map(|f| (format!("{:?}", f.execution_index), f.fault.clone())).collect()
        };
        let failures: Vec<(usize, Vec<(String, String)>)> =
            self.failures().map(|e| (e.number, key(e))).collect();
        let includes =
            |big: &[(String, String)], small: &[(String, String)]| small.iter().all(|f| big.contains(f));
        let minimal = |(number, faults): &(usize, Vec<(String, String)>)| {
            !failures.iter().any(|(other, theirs)| {
                other != number
                    && includes(faults, theirs)
                    && (theirs.len() < faults.len() || (theirs.len() == faults.len() && other < number))
            })
        };
        failures
            .iter()
            .filter(|failure| minimal(failure))
            .map(|(number, faults)| FailureGroup {
                minimal: *number,
                supersets: failures
                    .iter()
                    .filter(|(other, theirs)| other != number && includes(theirs, faults))
                    .map(|(other, _)| *other)
                    .collect(),
            })
            .collect()
    }

    /// Whether the run tested what it was asked to and every execution
    /// passed (replaying: whether the bug is fixed).
    pub fn passed(&self) -> bool {
        self.verdict() == Verdict::Passed
    }

    /// Panics unless the run [passed](Report::passed), with
    /// [`Report::failure_message`]: the way to end a test that explores.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("{}", self.failure_message());
        }
    }

    /// What a person reads at the end of a run, every line ended: a run that
    /// passed gives its [summary](Report::summary), [grid](Report::grid_table),
    /// [files](Report::files_line) and verdict (`every execution passed`, or
    /// for a replay `every planned fault was injected and the test passes:
    /// fixed`); any other, its [failure message](Report::failure_message).
    pub fn conclusion(&self) -> String {
        if self.verdict() != Verdict::Passed {
            return self.failure_message();
        }
        let verdict = match self.replay {
            Some(_) => "every planned fault was injected and the test passes: fixed",
            None => "every execution passed",
        };
        let files = self.files_line().unwrap_or_default();
        format!("{}\n\n{}{files}\n{verdict}\n", self.summary(), self.grid_table())
    }

    /// Everything about a run that did not pass, once: the errors that made
    /// it untested, or the failing execution with its number, every fault
    /// (source -> target, method, path, callsite, fault), the functional
    /// test's message, the counterexample file and how to replay it; then
    /// the summary, the [grid](Report::grid_table) and the report's files
    /// ([`Report::files_line`]). Every line ends with a line break.
    pub fn failure_message(&self) -> String {
        let mut out = String::new();
        for error in &self.errors {
            let _ = writeln!(out, "{error}");
        }
        match &self.replay {
            Some(ReplayOutcome::Stale { unmatched, test_failed }) => {
                let _ = writeln!(
                    out,
                    "the counterexample is stale: {} of its planned faults matched no call{} (a call \
                     renamed or gone, or its fn's `#[filibuster::call]` or its handler's \
                     `#[filibuster::handler]` left out)",
                    unmatched.len(),
                    if *test_failed { " (the functional test failed anyway)" } else { "" }
                );
                for fault in unmatched {
                    let _ = writeln!(out, "  {}", fault.describe());
                }
            }
            Some(ReplayOutcome::Reproduced) => {
                let _ = writeln!(out, "the counterexample reproduced: every planned fault was injected");
            }
            _ => {}
        }
        let file = || self.regressions_file.as_ref().map_or_else(String::new, |p| p.display().to_string());
        for replayed in &self.regressions {
            match &replayed.outcome {
                ReplayOutcome::Reproduced => {
                    let _ = writeln!(out, "saved regression {} of {} failed again:", replayed.entry, file());
                    out.push_str(&replayed.execution.describe());
                }
                ReplayOutcome::Stale { unmatched, .. } => {
                    let _ = writeln!(
                        out,
                        "saved regression {} of {} is stale: {} of its planned faults matched no call \
                         (if the app still makes these calls, check that the fns sending them keep their \
                         `#[filibuster::call]` and the handlers calling them their \
                         `#[filibuster::handler]`; if it no longer does, delete the entry):",
                        replayed.entry,
                        file(),
                        unmatched.len()
                    );
                    for fault in unmatched {
                        let _ = writeln!(out, "  {}", fault.describe());
                    }
                }
                ReplayOutcome::Fixed | ReplayOutcome::Unverified { .. } => {}
            }
        }
        let groups = self.failure_groups();
        if self.failures().count() > 1 {
            let _ = writeln!(
                out,
                "{} failing executions, {} smallest failing fault sets:",
                self.failures().count(),
                groups.len()
            );
            for group in &groups {
                if let Some(failure) = self.executions.iter().find(|e| e.number == group.minimal) {
                    out.push_str(&failure.describe());
                }
                if !group.supersets.is_empty() {
                    let numbers: Vec<String> = group.supersets.iter().map(usize::to_string).collect();
                    let _ = writeln!(
                        out,
                        "  also failing with these faults and more: executions {}",
                        numbers.join(", ")
                    );
                }
            }
        } else {
            for failure in self.failures() {
                out.push_str(&failure.describe());
            }
        }
        if self.regressions_saved > 0 {
            let _ = writeln!(out, "saved to {}: replayed first from now on (commit the file)", file());
        }
        if let Some(path) = &self.counterexample_file {
            let _ = writeln!(out, "counterexample: {}", path.display());
        }
        if let Some(command) = &self.replay_command {
            let _ = writeln!(out, "replay it with: {command}");
        }
        out.push_str(&self.summary());
        out.push('\n');
        if !self.executions.is_empty() {
            out.push('\n');
            out.push_str(&self.grid_table());
        }
        if let Some(files) = self.files_line() {
            out.push_str(&files);
        }
        out
    }

    /// `Report: <JSON file> (HTML: <HTML file>)`, with its line break, when
    /// the report was written to files.
    pub fn files_line(&self) -> Option<String> {
        let (json, html) = (self.report_file.as_ref()?, self.html_file()?);
        Some(format!("Report: {} (HTML: {})\n", json.display(), html.display()))
    }

    /// The HTML file written beside [`Report::report_file`].
    pub fn html_file(&self) -> Option<PathBuf> {
        self.report_file.as_deref().map(html_beside)
    }

    /// Writes the report as JSON to `json` and as HTML beside it, and
    /// records it in [`Report::report_file`]; on failure, records a
    /// [`RunError::ReportFile`] instead.
    pub(crate) fn write_files(&mut self, json: &Path) {
        self.report_file = Some(json.to_path_buf());
        let html = html_beside(json);
        let written = match self.write_json(json) {
            Ok(()) => self.write_html(&html).map_err(|error| (html, error)),
            Err(error) => Err((json.to_path_buf(), error)),
        };
        if let Err((path, error)) = written {
            self.report_file = None;
            self.errors.push(RunError::ReportFile { path, reason: error.to_string() });
        }
    }

    /// The figures a person wants at the end, one per line, then what the
    /// run could not check.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "Executions run: {}\nExecutions pruned: {}\nTotal: {}\nTime elapsed: {:.2} s",
            self.executions_run,
            self.executions_pruned,
            self.total(),
            self.elapsed.as_secs_f64(),
        );
        if !self.regressions.is_empty() {
            // Replays are not executions of the exploration: a regression
            // that failed again stops the run before it explores (0 run).
            let _ = write!(out, "\nSaved regressions replayed: {}", self.regressions.len());
        }
        if self.executions_remaining > 0 {
            let _ = write!(out, "\nNot explored: {}", self.executions_remaining);
        }
        let not_injected: usize = self.executions.iter().map(|e| e.not_injected.len()).sum();
        if not_injected > 0 {
            let _ = write!(
                out,
                "\nPlanned, not injected: {not_injected} (the call a fault targets did not happen: \
                 see `not_injected` in the report)"
            );
        }
        let unfinished: usize = self.executions.iter().map(|e| e.unfinished.len()).sum();
        if unfinished > 0 {
            let _ = write!(out, "\nCalls still running when their execution was closed: {unfinished}");
        }
        if self.late_records > 0 {
            let _ = write!(out, "\nLate records dropped: {}", self.late_records);
        }
        if self.records_refused > 0 {
            let _ = write!(out, "\nRecords refused for lacking the run's token: {}", self.records_refused);
        }
        if self.records_conflicting > 0 {
            let _ = write!(
                out,
                "\nRecords refused as contradicting a recorded call: {}",
                self.records_conflicting
            );
        }
        if let Some(n) = &self.nondeterminism {
            let _ = write!(
                out,
                "\nNondeterministic (allowed): the fault-free execution made {} call(s) only the first \
                 time, {} only the second",
                n.only_first.len(),
                n.only_second.len()
            );
        }
        let panicked: Vec<&ExecutionReport> =
            self.executions.iter().filter(|e| !e.panics.is_empty()).collect();
        if let Some(first) = panicked.first() {
            let _ = write!(
                out,
                "\nHandlers panicked in {} execution(s); in execution {}: {}",
                panicked.len(),
                first.number,
                first.panics[0].describe()
            );
        }
        if !self.unmarked_requests.is_empty() {
            let _ = write!(
                out,
                "\nRequests without Filibuster headers reached instrumented handlers while others were \
                 handled, most likely sent by a `.send()` in a fn without #[filibuster::call], or an RPC \
                 over a channel without `filibuster::grpc::ClientLayer`, so never faulted (put the \
                 attribute on the fn that sends them, the layer over the channel; if the functional \
                 test sends requests at once, those are its own):"
            );
            for unmarked in &self.unmarked_requests {
                let _ = write!(out, "\n  {} {}: {}", unmarked.service, unmarked.route, unmarked.count);
            }
        }
        if !self.calls_without_timeout.is_empty() {
            let _ = write!(
                out,
                "\nCalls without a timeout (a hung dependency hangs their caller; `Fault::Hang` makes it \
                 so): {}",
                self.calls_without_timeout.len()
            );
            for call in &self.calls_without_timeout {
                let _ = write!(out, "\n  {}", call.describe());
            }
        }
        if !self.unreported_targets.is_empty() {
            let _ = write!(
                out,
                "\nNo 500/502/503 tried on {} call(s): their target never reported `request_received` \
                 (no #[filibuster::handler] on it, or a service outside the app):",
                self.unreported_targets.len()
            );
            for call in &self.unreported_targets {
                let _ = write!(out, "\n  {}", call.describe());
            }
        }
        out
    }

    /// The grid of call sites × faults: for each distinct call site of the
    /// run (source -> target, method, path, `file:line`, fn; a row) and each
    /// fault planned in some execution of the report (a column), what
    /// happened to the executions of [`Report::executions`] that planned
    /// that fault on a call of that site:
    ///
    /// - [`failed`](crate::GridCell::Failed) if one of them failed;
    /// - else [`passed`](crate::GridCell::Passed) if one of them ran with the fault
    ///   injected;
    /// - else [`pruned`](crate::GridCell::Pruned) if one of them was pruned by
    ///   dynamic reduction;
    /// - else [`not explored`](crate::GridCell::NotExplored): no execution of the
    ///   report planned it, or those that ran did not inject it ("planned,
    ///   not injected"). That is the cell of a fault never scheduled on the
    ///   call (its calls were never made), of one scheduled but left
    ///   unexplored when the run stopped (see
    ///   [`executions_not_run`](Report::executions_not_run), whose faults
    ///   have their columns too), and of a fault the fault model does not
    ///   propose for that call.
    ///
    /// An execution with several faults counts in each of their cells.
    pub fn grid(&self) -> Grid {
        Grid::of(self)
    }

    /// [`Report::grid`] as a text table, for a terminal: a line per call
    /// site, a column per fault, then what each call site is.
    pub fn grid_table(&self) -> String {
        self.grid().table()
    }

    /// The report as one self-contained HTML page (inline style, no
    /// script, nothing fetched): the summary, the [grid](Report::grid), the
    /// failing executions with the counterexample and the replay command
    /// (grouped as [`Report::failure_groups`] does), and each execution's
    /// calls as a tree with its faults. Everything the app said (paths,
    /// messages) is escaped.
    pub fn to_html(&self) -> String {
        crate::html::render(self)
    }

    /// Writes [`Report::to_html`] to `path` (creating its directory).
    pub fn write_html(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.to_html())
    }

    /// Writes the report as JSON to `path` (creating its directory).
    pub fn write_json(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}

/// What went wrong and what to check, for people.
impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl std::error::Error for RunError {}

impl RunError {
    fn text(&self) -> String {
        match self {
            RunError::NoInstrumentedCalls => "no instrumented call was seen in the fault-free execution, \
                 so no fault could be tried. Check that: the services run with the instrumentation on \
                 (`FILIBUSTER_ENABLED=1`, or in-process an Explorer, which turns it on); every router \
                 has the explorer's layer (`.layer(explorer.connection().layer())`); services in other \
                 processes reach this server (`FILIBUSTER_URL`); the handlers have \
                 #[filibuster::handler] and the calls #[filibuster::call]. To allow a run without \
                 calls, use `allow_no_calls` (`--allow-no-calls`)."
                .to_owned(),
            RunError::NoFaultToTry { calls } => format!(
                "the fault model proposes no fault for any of the {calls} call(s) of the fault-free \
                 execution: check its `pattern`s (they are matched against `<module>.<method>`: \
                 `reqwest.GET`, `reqwest.POST`, ... for reqwest's calls, `sqlx.insert_order` for a \
                 dependency call's), its `restrictions`, and its rules' services (a dependency call's \
                 is its dependency), methods and paths. To allow it, use `allow_no_calls` \
                 (`--allow-no-calls`)."
            ),
            RunError::UnmatchedRule { rule, services } => format!(
                "the fault model's rule for {rule} matched none of the calls of the exploration, so its \
                 faults were never tried (the calls reached {}): check the rule's service name, method \
                 and path, or leave the rule out of this test's model",
                match services.is_empty() {
                    true => "no instrumented service".to_owned(),
                    false => services.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
                }
            ),
            RunError::IdleRule { rule, faults } => format!(
                "the fault model's rule for {rule} matched calls, but none of its faults {faults} applies \
                 to them, so they were never tried: a dependency call takes `DependencyError`s, \
                 `DependencyErrors`, latencies and hangs, an HTTP call connection errors, timeouts (when \
                 it has one), statuses, latencies and hangs"
            ),
            RunError::MissingLayer { services } => format!(
                "handlers of {} ran in a router without the explorer's layer, so their calls were not \
                 explored: add `.layer(explorer.connection().layer())` to each router started for the \
                 exploration, after (outside) any `ServiceLayer`, or give the `ServiceLayer` its \
                 connection with `.connection(..)` (if another exploration runs in this process at the \
                 same time, the router may be its)",
                services.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
            ),
            RunError::CallsOutsideRequests { calls } => format!(
                "{} sent requests outside any instrumented request, so no fault was tried on them: put \
                 `#[filibuster::handler]` on the handler that calls {} (or a `filibuster::ServiceLayer` \
                 on its router); in a task the handler spawns, carry the request's context with \
                 `tokio::spawn(filibuster::in_current_request(async move {{ .. }}))`; and run work that \
                 belongs to no request (a background job) in `filibuster::outside_requests(..)` (if \
                 another exploration runs in this process at the same time, the calls may be its)",
                calls.join(", "),
                if calls.len() == 1 { "it" } else { "them" },
            ),
            RunError::LimitReached { limit } => format!(
                "the Filibuster server reached a limit: {limit}; the run cannot be complete (raise it with \
                 `Server::with_limits`)"
            ),
            RunError::RecordsLost { count } => format!(
                "services could not deliver {count} record(s) to the Filibuster server (slow, gone or \
                 overloaded): their calls went un-faulted and unrecorded, so the exploration is incomplete"
            ),
            RunError::ReportFile { path, reason } => {
                format!("cannot write the report to {}: {reason}", path.display())
            }
            RunError::RegressionsFile { path, reason } => format!(
                "the saved regressions in {} cannot be used: {reason}; fix or delete the file (it was left \
                 as it is)",
                path.display()
            ),
            RunError::UnknownFault { client, name, known } => format!(
                "the fault `{name}` is no failure a `{client}` call can have, so it was not injected (nor \
                 taken for another fault): the names `{client}` calls can be failed with are {}; fix the \
                 name in the fault model or counterexample",
                known.join(", ")
            ),
            RunError::CallsiteCollision { id, first, second } => format!(
                "two callsites have the same id {id}: the `.send()` of {first} and that of {second}, so the \
                 exploration took their calls for one another. Give them distinct ids: put \
                 #[filibuster::call] on each impl block rather than on its methods (the ids of methods \
                 then include the type, as in `Type::method`), or give one fn \
                 #[filibuster::call(id = \"...\")]"
            ),
            RunError::Nondeterministic(n) => {
                let mut out = String::from(
                    "the fault-free execution made different calls when run twice, so execution indices \
                     do not identify calls and faults may miss them",
                );
                if let Some(message) = &n.second_run_failed {
                    let _ = write!(out, "; the second run failed: {message}");
                }
                for call in &n.only_first {
                    let _ = write!(out, "\n  only in the first run: {}", call.describe());
                }
                for call in &n.only_second {
                    let _ = write!(out, "\n  only in the second run: {}", call.describe());
                }
                out.push_str("\n  To explore anyway, use `allow_nondeterminism` (`--allow-nondeterminism`).");
                out
            }
        }
    }
}

/// The former name of [`CallName`].
#[deprecated(since = "0.1.0", note = "renamed `CallName`: `Callsite` is the runtime's place in the source")]
pub type CallSite = CallName;

/// What a call does, as the reports write it: `GET /movies/7`, or a
/// dependency call's operation alone (it has no path): `insert_order`.
pub(crate) fn operation(method: &str, path: &str) -> String {
    if path.is_empty() { method.to_owned() } else { format!("{method} {path}") }
}

impl CallName {
    /// About how many bytes its texts hold.
    pub(crate) fn approx_bytes(&self) -> usize {
        self.source.len()
            + self.target.as_ref().map_or(0, String::len)
            + self.method.len()
            + self.path.len()
            + self.callsite.len()
            + self.function.as_ref().map_or(0, String::len)
    }

    /// `source -> target METHOD path (file:line, fn)`, with `?` for what is
    /// not known; `source -> dependency operation (file:line, fn)` for a
    /// dependency call.
    pub fn describe(&self) -> String {
        let known = |text: &str| if text.is_empty() { "?".to_owned() } else { text.to_owned() };
        let mut out = format!(
            "{} -> {} {} (",
            known(&self.source),
            self.target.as_deref().unwrap_or("?"),
            operation(&known(&self.method), &self.path),
        );
        if self.callsite.is_empty() || self.callsite == ":" {
            out.push_str("callsite unknown");
        } else {
            out.push_str(&self.callsite);
        }
        if let Some(function) = &self.function {
            let _ = write!(out, ", fn {function}");
        }
        out.push(')');
        out
    }
}

impl FaultReport {
    /// `source -> target METHOD path (file:line, fn): fault`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.call.describe(), self.fault)
    }
}

impl CallReport {
    /// Whether the call went to `service` (an instrumented one).
    pub fn is_on(&self, service: &str) -> bool {
        call_matches(self.target.as_deref(), &self.method, &self.path, service, None, None)
    }

    /// Whether the call went to `service` with the HTTP `method` (any case).
    pub fn is_on_method(&self, service: &str, method: &str) -> bool {
        call_matches(self.target.as_deref(), &self.method, &self.path, service, Some(method), None)
    }

    /// Whether the call went to `service` with `method` and a path `route`
    /// matches, as [`InjectedFault::is_on_request`](crate::InjectedFault::is_on_request)
    /// matches: the path as requested, or an axum route pattern
    /// (`/bookings/{user}`).
    pub fn is_on_request(&self, service: &str, method: &str, route: &str) -> bool {
        call_matches(self.target.as_deref(), &self.method, &self.path, service, Some(method), Some(route))
    }

    /// Where the call comes from and goes to.
    pub fn site(&self) -> CallName {
        CallName {
            source: self.source.clone(),
            target: self.target.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            callsite: self.callsite.clone(),
            function: self.function.clone(),
        }
    }
}

impl ExecutionReport {
    /// Whether the functional test failed in this execution.
    pub fn failed(&self) -> bool {
        matches!(self.status, ExecutionStatus::Failed { .. })
    }

    /// A few lines for people: the execution's number and outcome, which
    /// call got which fault, and what the test saw.
    pub fn describe(&self) -> String {
        let mut out = match &self.status {
            ExecutionStatus::Passed => format!("execution {} passed", self.number),
            ExecutionStatus::Failed { .. } => format!("execution {} FAILED", self.number),
            ExecutionStatus::Pruned { covered_by } if covered_by.is_empty() => {
                format!("execution {} pruned", self.number)
            }
            ExecutionStatus::Pruned { covered_by } => format!(
                "execution {} pruned (what it would show, execution{} {} showed)",
                self.number,
                if covered_by.len() == 1 { "" } else { "s" },
                covered_by.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
            ),
        };
        out.push_str(if self.faults.is_empty() {
            " with no fault injected\n"
        } else {
            " with these faults:\n"
        });
        for fault in &self.faults {
            let injected = !self.not_injected.contains(fault);
            let _ = writeln!(
                out,
                "  {}{}",
                fault.describe(),
                if injected || matches!(self.status, ExecutionStatus::Pruned { .. }) {
                    ""
                } else {
                    " (planned, not injected)"
                }
            );
        }
        if let ExecutionStatus::Failed { message } = &self.status {
            let _ = writeln!(out, "  the functional test failed: {message}");
        }
        for panic in &self.panics {
            let _ = writeln!(out, "  {}", panic.describe());
        }
        for call in &self.unfinished {
            let _ = writeln!(
                out,
                "  still running when the execution was closed: {} -> {} {} {} ({})",
                call.source,
                call.target.as_deref().unwrap_or("?"),
                call.method,
                call.path,
                call.callsite
            );
        }
        out
    }
}

/// The HTML report's file beside the JSON one at `json`: its stem and
/// `.html` (`.html` added when `json` already ends so).
pub(crate) fn html_beside(json: &Path) -> PathBuf {
    let html = json.with_extension("html");
    if html == json {
        let mut name = json.as_os_str().to_owned();
        name.push(".html");
        PathBuf::from(name)
    } else {
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's errors are errors: `Display` says what to check, and they go
    /// where a `std::error::Error` goes.
    #[test]
    fn run_errors_are_std_errors() {
        let error: Box<dyn std::error::Error> = Box::new(RunError::NoInstrumentedCalls);
        assert!(error.to_string().starts_with("no instrumented call was seen"), "{error}");
        let report = Report { errors: vec![RunError::NoInstrumentedCalls], ..Report::default() };
        assert!(report.failure_message().starts_with(&format!("{error}\n")));
    }
}
