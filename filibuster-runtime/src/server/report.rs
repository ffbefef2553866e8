//! What an exploration found: every execution, with its calls and faults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// The result of an exploration.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Test executions run, the initial one included.
    pub executions_run: usize,
    /// Scheduled executions skipped by dynamic reduction.
    pub executions_pruned: usize,
    /// Scheduled executions not run because the limit was reached or the
    /// exploration stopped at a failure.
    pub executions_remaining: usize,
    /// Wall-clock time of the whole exploration.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Every execution run or pruned, in order.
    pub executions: Vec<ExecutionReport>,
    /// The counterexample file written for the failing execution, if any.
    pub counterexample_file: Option<PathBuf>,
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
    /// Passed, failed or pruned.
    pub status: ExecutionStatus,
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
    Pruned,
}

/// A planned fault.
#[derive(Clone, Debug, Serialize)]
pub struct FaultReport {
    /// Execution index of the call it targets.
    pub execution_index: String,
    /// Path and query of that call.
    pub path: String,
    /// The fault: an exception name, or `status 503`.
    pub fault: String,
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
    /// Execution index of the call.
    pub execution_index: String,
    /// The fault injected into it, if any.
    pub fault: Option<String>,
    /// What it ended with: a status code, or an error name.
    pub outcome: Option<String>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
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

    /// Whether every execution run passed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The figures a person wants at the end, one per line.
    pub fn summary(&self) -> String {
        format!(
            "Executions run: {}\nExecutions pruned: {}\nTotal: {}\nTime elapsed: {:.2} s{}",
            self.executions_run,
            self.executions_pruned,
            self.total(),
            self.elapsed.as_secs_f64(),
            if self.executions_remaining > 0 {
                format!("\nNot explored: {}", self.executions_remaining)
            } else {
                String::new()
            }
        )
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

impl ExecutionReport {
    /// Whether the functional test failed in this execution.
    pub fn failed(&self) -> bool {
        matches!(self.status, ExecutionStatus::Failed { .. })
    }

    /// A few lines for people: which call got which fault, and what the
    /// test saw.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for call in self.calls.iter().filter(|c| c.fault.is_some()) {
            out.push_str(&format!(
                "  {} -> {} {} {} ({}): injected {}\n",
                call.source,
                call.target.as_deref().unwrap_or("?"),
                call.method,
                call.path,
                call.callsite,
                call.fault.as_deref().unwrap_or_default(),
            ));
        }
        if let ExecutionStatus::Failed { message } = &self.status {
            out.push_str(&format!("  the functional test failed: {message}\n"));
        }
        out
    }
}
