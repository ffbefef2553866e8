//! How an exploration runs: one set of options, which the [`Explorer`]'s
//! builder methods set, `filibuster test`'s flags and `#[filibuster::test]`'s
//! arguments fill, and a [`Report`] records.
//!
//! [`Explorer`]: crate::Explorer
//! [`Report`]: crate::Report

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// How long an execution waits, once the functional test has returned, for
/// the calls it started to end.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// The order in which scheduled executions are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The latest scheduled first: the faults on the deepest, latest call
    /// of an execution are tried before those on earlier calls (the
    /// reference's order, and the default).
    #[default]
    DepthFirst,
    /// The earliest scheduled first: every single fault of the fault-free
    /// execution before any combination of two.
    BreadthFirst,
}

/// How an exploration runs. Give it whole to
/// [`Explorer::options`](crate::Explorer::options), or one by one through
/// the explorer's builder methods of the same names; a report records the
/// options of its run ([`Report::options`](crate::Report::options)).
///
/// ```
/// use filibuster_explorer::{Explorer, RunOptions, Strategy};
///
/// let explorer = Explorer::new()
///     .options(RunOptions { strategy: Strategy::BreadthFirst, max_executions: Some(50), ..RunOptions::default() });
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunOptions {
    /// Where the fault model came from: `<built-in>`, or the analysis
    /// file's path ([`FaultModel::source`](crate::FaultModel::source)).
    /// The run's own: [`Explorer::run`](crate::Explorer::run) fills it in
    /// from the explorer's fault model.
    pub fault_model: String,
    /// Whether dynamic reduction prunes redundant executions (default on).
    pub dynamic_reduction: bool,
    /// The limit of executions taken, run or pruned, the initial one
    /// included (the reference's `--max-tests`), if any.
    pub max_executions: Option<usize>,
    /// How long an execution waits for its calls to end once the test
    /// returned (default [`DEFAULT_GRACE`]), in seconds in JSON.
    #[serde(serialize_with = "seconds")]
    pub grace: Duration,
    /// How long the functional test may take in one execution before the
    /// execution fails as hung (its requests dropped); none by default, but
    /// [`HANG_DEADLINE`](crate::HANG_DEADLINE) for an execution with a
    /// [hang fault](crate::Fault::Hang). In JSON, seconds or `null`.
    #[serde(serialize_with = "optional_seconds")]
    pub execution_timeout: Option<Duration>,
    /// Whether the fault-free execution runs twice, to check that it makes
    /// the same calls (default on).
    pub repeat_initial_execution: bool,
    /// Whether a run that tries no fault may pass (default off).
    pub allow_no_calls: bool,
    /// Whether a nondeterministic fault-free execution is explored anyway
    /// (default off).
    pub allow_nondeterminism: bool,
    /// Whether the run replays a counterexample rather than exploring. The
    /// run's own: [`Explorer::run`](crate::Explorer::run) fills it in from
    /// [`Explorer::replay`](crate::Explorer::replay).
    pub replay: bool,
    /// The order executions are taken in.
    pub strategy: Strategy,
    /// Whether the exploration goes on past failing executions (default
    /// off).
    pub keep_going: bool,
    /// The file of saved regressions, if the explorer keeps one.
    pub regressions: Option<PathBuf>,
    /// Whether the saved regressions are replayed before exploring (default
    /// on).
    pub replay_regressions: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            fault_model: String::new(),
            dynamic_reduction: true,
            max_executions: None,
            grace: DEFAULT_GRACE,
            execution_timeout: None,
            repeat_initial_execution: true,
            allow_no_calls: false,
            allow_nondeterminism: false,
            replay: false,
            strategy: Strategy::default(),
            keep_going: false,
            regressions: None,
            replay_regressions: true,
        }
    }
}

/// A duration as seconds, in the report's JSON.
pub(crate) fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn optional_seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}
