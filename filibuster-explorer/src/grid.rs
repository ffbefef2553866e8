//! The grid of a report: for each call site of the run and each fault
//! tried, what happened to the executions that planned that fault on that
//! call.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::report::{CallName, ExecutionReport, ExecutionStatus, FaultReport, Report};

/// The call sites of a run × the faults tried in it: see [`Report::grid`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// The columns: every fault planned in some execution of the report,
    /// run, pruned or not run (exception names such as `reqwest.connect` by
    /// name, then `status N` by code).
    pub faults: Vec<String>,
    /// The rows: one per distinct call site, in the order the run first met
    /// them.
    pub rows: Vec<GridRow>,
}

/// One call site of a [`Grid`], with a cell per fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridRow {
    /// The call site: source, target (the first one known), method, path,
    /// `file:line` and fn.
    pub site: CallName,
    /// One cell per fault of [`Grid::faults`], in its order.
    pub cells: Vec<GridCell>,
}

/// What happened to the executions that planned one fault on one call
/// site (see [`Report::grid`] for the rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GridCell {
    /// One of them failed.
    Failed,
    /// None failed, and at least one ran with the fault injected.
    Passed,
    /// None ran with it; at least one was pruned by dynamic reduction.
    Pruned,
    /// No execution of the report planned it (or none that ran injected
    /// it): never scheduled, left unexplored when the run stopped, or not a
    /// fault the fault model proposes for that call.
    NotExplored,
}

impl GridCell {
    /// The cell's text: `failed`, `passed`, `pruned` or `not explored`.
    pub fn label(self) -> &'static str {
        match self {
            GridCell::Failed => "failed",
            GridCell::Passed => "passed",
            GridCell::Pruned => "pruned",
            GridCell::NotExplored => "not explored",
        }
    }
}

/// What identifies a row: the call site less its target and fn, which a
/// call may not know (a connection error never reaches the target).
type RowKey = (String, String, String, String);

fn row_key(site: &CallName) -> RowKey {
    (site.source.clone(), site.method.clone(), site.path.clone(), site.callsite.clone())
}

/// The order of the columns: exception names alphabetically, then
/// `status N` by code.
fn column_order(fault: &str) -> (bool, u32, String) {
    match fault.strip_prefix("status ").and_then(|code| code.trim().parse::<u32>().ok()) {
        Some(code) => (true, code, fault.to_owned()),
        None => (false, 0, fault.to_owned()),
    }
}

impl Grid {
    /// The grid of `report` (the rule is that of [`Report::grid`]).
    pub fn of(report: &Report) -> Grid {
        let mut rows: Vec<GridRow> = Vec::new();
        let mut row_of: HashMap<RowKey, usize> = HashMap::new();
        let mut add = |rows: &mut Vec<GridRow>, site: &CallName| -> usize {
            let index = *row_of.entry(row_key(site)).or_insert_with(|| {
                rows.push(GridRow { site: site.clone(), cells: Vec::new() });
                rows.len() - 1
            });
            fill(&mut rows[index].site, site);
            index
        };
        // The row of each execution index met in a call, so that a fault
        // finds its call even when its own site is partly known.
        let mut row_of_index = HashMap::new();
        for execution in &report.executions {
            for call in &execution.calls {
                let row = add(&mut rows, &call.site());
                row_of_index.entry(&call.execution_index).or_insert(row);
            }
        }
        let mut fault_row = |rows: &mut Vec<GridRow>, fault: &FaultReport| {
            let row = match row_of_index.get(&fault.execution_index) {
                Some(&row) => row,
                None => add(rows, &fault.call),
            };
            fill(&mut rows[row].site, &fault.call);
            row
        };
        let mut faults: Vec<String> = Vec::new();
        let mut outcomes: HashMap<(usize, String), GridCell> = HashMap::new();
        for execution in &report.executions {
            for fault in &execution.faults {
                let row = fault_row(&mut rows, fault);
                if !faults.contains(&fault.fault) {
                    faults.push(fault.fault.clone());
                }
                let cell = outcomes.entry((row, fault.fault.clone())).or_insert(GridCell::NotExplored);
                *cell = merge(*cell, what_it_did(execution, fault));
            }
        }
        for fault in report.executions_not_run.iter().flatten() {
            let row = fault_row(&mut rows, fault);
            if !faults.contains(&fault.fault) {
                faults.push(fault.fault.clone());
            }
            outcomes.entry((row, fault.fault.clone())).or_insert(GridCell::NotExplored);
        }
        faults.sort_by_key(|f| column_order(f));
        for (index, row) in rows.iter_mut().enumerate() {
            row.cells = faults
                .iter()
                .map(|fault| outcomes.get(&(index, fault.clone())).copied().unwrap_or(GridCell::NotExplored))
                .collect();
        }
        Grid { faults, rows }
    }

    /// The grid as a text table: a header of the faults, a line per call
    /// (`call 1`, `call 2`, ...), then what each call is.
    pub fn table(&self) -> String {
        let mut out =
            String::from("Faults by call (what the executions that planned each fault on each call did):\n");
        if self.rows.is_empty() || self.faults.is_empty() {
            out.push_str("  no fault was planned\n");
            return out;
        }
        let names: Vec<String> = (1..=self.rows.len()).map(|n| format!("call {n}")).collect();
        let first = names.iter().map(String::len).max().unwrap_or(0);
        let widths: Vec<usize> = self
            .faults
            .iter()
            .enumerate()
            .map(|(column, fault)| {
                let cells = self.rows.iter().map(|r| r.cells[column].label().len()).max().unwrap_or(0);
                cells.max(fault.chars().count())
            })
            .collect();
        let mut line = format!("  {:first$}", "");
        for (fault, width) in self.faults.iter().zip(&widths) {
            line.push_str("  ");
            push_padded(&mut line, fault, *width);
        }
        out.push_str(line.trim_end());
        out.push('\n');
        for (name, row) in names.iter().zip(&self.rows) {
            let mut line = format!("  {name:first$}");
            for (cell, width) in row.cells.iter().zip(&widths) {
                line.push_str("  ");
                push_padded(&mut line, cell.label(), *width);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for (name, row) in names.iter().zip(&self.rows) {
            let _ = writeln!(out, "  {name}: {}", row.site.describe());
        }
        out
    }
}

/// `text` then spaces up to `width` characters. By hand, not with a
/// formatting width, which is at most `u16::MAX` (a fault name from a
/// counterexample or analysis file may be longer).
fn push_padded(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(text.chars().count())));
}

/// Completes what `known` does not know of a call site (its target, its fn)
/// from another sighting of it.
fn fill(known: &mut CallName, site: &CallName) {
    if known.target.is_none() {
        known.target.clone_from(&site.target);
    }
    if known.function.is_none() {
        known.function.clone_from(&site.function);
    }
}

/// What one execution that planned `fault` says about its cell.
fn what_it_did(execution: &ExecutionReport, fault: &FaultReport) -> GridCell {
    match &execution.status {
        ExecutionStatus::Pruned { .. } => GridCell::Pruned,
        _ if execution.not_injected.contains(fault) => GridCell::NotExplored,
        ExecutionStatus::Failed { .. } => GridCell::Failed,
        ExecutionStatus::Passed => GridCell::Passed,
    }
}

/// Two executions' say about one cell: failed over passed over pruned over
/// not explored.
fn merge(a: GridCell, b: GridCell) -> GridCell {
    let rank = |c: GridCell| match c {
        GridCell::Failed => 3,
        GridCell::Passed => 2,
        GridCell::Pruned => 1,
        GridCell::NotExplored => 0,
    };
    if rank(a) >= rank(b) { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::CallReport;

    const BOOKINGS: &str = r#"[["aaa", 1]]"#;
    const MOVIES: &str = r#"[["bbb", 1]]"#;

    fn site(target: &str, path: &str, line: u32) -> CallName {
        CallName {
            source: "users".into(),
            target: Some(target.into()),
            method: "GET".into(),
            path: path.into(),
            callsite: format!("app.rs:{line}"),
            function: Some(format!("get_{target}")),
        }
    }

    fn call(site: &CallName, index: &str, fault: Option<&str>) -> CallReport {
        CallReport {
            source: site.source.clone(),
            target: site.target.clone(),
            method: site.method.clone(),
            path: site.path.clone(),
            callsite: site.callsite.clone(),
            function: site.function.clone(),
            execution_index: index.into(),
            fault: fault.map(str::to_owned),
            outcome: Some("200".into()),
            timeout: None,
        }
    }

    fn fault(site: &CallName, index: &str, name: &str) -> FaultReport {
        FaultReport { execution_index: index.into(), call: site.clone(), fault: name.into() }
    }

    fn execution(number: usize, faults: Vec<FaultReport>, status: ExecutionStatus) -> ExecutionReport {
        let (bookings, movies) = (site("bookings", "/b", 10), site("movies", "/m", 20));
        let on = |index: &str| faults.iter().find(|f| f.execution_index == index).map(|f| f.fault.as_str());
        let calls = match status {
            ExecutionStatus::Pruned { .. } => vec![],
            _ => vec![call(&bookings, BOOKINGS, on(BOOKINGS)), call(&movies, MOVIES, on(MOVIES))],
        };
        ExecutionReport {
            number,
            faults,
            calls,
            status,
            not_injected: vec![],
            unfinished: vec![],
            requests_still_running: 0,
            trace_ids: vec![],
            panics: vec![],
        }
    }

    fn failed() -> ExecutionStatus {
        ExecutionStatus::Failed { message: "boom".into() }
    }

    /// The labels of the grid, row by row.
    fn labels(grid: &Grid) -> Vec<Vec<&'static str>> {
        grid.rows.iter().map(|r| r.cells.iter().map(|c| c.label()).collect()).collect()
    }

    #[test]
    fn each_cell_follows_failed_then_passed_then_pruned_then_not_explored() {
        let (bookings, movies) = (site("bookings", "/b", 10), site("movies", "/m", 20));
        let report = Report {
            executions: vec![
                execution(1, vec![], ExecutionStatus::Passed),
                // 503 on movies: passed once, failed once (with another
                // fault): failed wins.
                execution(2, vec![fault(&movies, MOVIES, "status 503")], ExecutionStatus::Passed),
                execution(
                    3,
                    vec![fault(&movies, MOVIES, "status 503"), fault(&bookings, BOOKINGS, "status 500")],
                    failed(),
                ),
                // timeout on movies: pruned once, passed once: passed.
                execution(
                    4,
                    vec![fault(&movies, MOVIES, "reqwest.timeout")],
                    ExecutionStatus::Pruned { covered_by: vec![1] },
                ),
                execution(5, vec![fault(&movies, MOVIES, "reqwest.timeout")], ExecutionStatus::Passed),
                // connect on bookings: pruned only.
                execution(
                    6,
                    vec![fault(&bookings, BOOKINGS, "reqwest.connect")],
                    ExecutionStatus::Pruned { covered_by: vec![1] },
                ),
            ],
            ..Report::default()
        };
        let grid = report.grid();
        assert_eq!(grid.faults, ["reqwest.connect", "reqwest.timeout", "status 500", "status 503"]);
        assert_eq!(
            grid.rows.iter().map(|r| r.site.clone()).collect::<Vec<_>>(),
            [bookings, movies],
            "rows in the order the calls were first made"
        );
        assert_eq!(
            labels(&grid),
            [
                ["pruned", "not explored", "failed", "not explored"],
                ["not explored", "passed", "not explored", "failed"],
            ]
        );
    }

    #[test]
    fn a_fault_planned_but_not_injected_does_not_count_as_explored() {
        let movies = site("movies", "/m", 20);
        let timeout = fault(&movies, MOVIES, "reqwest.timeout");
        let mut skipped = execution(2, vec![timeout.clone()], failed());
        skipped.not_injected = vec![timeout];
        let report = Report {
            executions: vec![execution(1, vec![], ExecutionStatus::Passed), skipped],
            ..Report::default()
        };
        assert_eq!(labels(&report.grid()), [vec!["not explored"], vec!["not explored"]]);
    }

    #[test]
    fn a_call_whose_target_is_unknown_in_one_execution_is_one_row() {
        let movies = site("movies", "/m", 20);
        let mut connect = execution(2, vec![fault(&movies, MOVIES, "reqwest.connect")], failed());
        connect.calls[1].target = None; // a connection error never reaches movies
        let mut first = execution(1, vec![], ExecutionStatus::Passed);
        first.calls[1].target = None;
        let report = Report { executions: vec![first, connect], ..Report::default() };
        let grid = report.grid();
        assert_eq!(grid.rows.len(), 2);
        assert_eq!(grid.rows[1].site.target.as_deref(), Some("movies"), "the target known later fills in");
        assert_eq!(labels(&grid)[1], ["failed"]);
    }

    #[test]
    fn a_pruned_execution_finds_its_call_by_execution_index() {
        // The fault's own site is unknown but for the path: the call made
        // at its execution index in another execution gives the row.
        let partial = CallName { path: "/m".into(), ..CallName::default() };
        let report = Report {
            executions: vec![
                execution(1, vec![], ExecutionStatus::Passed),
                execution(
                    2,
                    vec![fault(&partial, MOVIES, "status 502")],
                    ExecutionStatus::Pruned { covered_by: vec![1] },
                ),
            ],
            ..Report::default()
        };
        assert_eq!(labels(&report.grid()), [vec!["not explored"], vec!["pruned"]]);
    }

    #[test]
    fn the_table_lines_up_the_cells_under_the_faults_and_names_the_calls() {
        let movies = site("movies", "/m", 20);
        let report = Report {
            executions: vec![
                execution(1, vec![], ExecutionStatus::Passed),
                execution(2, vec![fault(&movies, MOVIES, "status 503")], ExecutionStatus::Passed),
                execution(3, vec![fault(&movies, MOVIES, "reqwest.timeout")], failed()),
            ],
            ..Report::default()
        };
        let table = report.grid_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[1], "          reqwest.timeout  status 503", "{table}");
        assert_eq!(lines[2], "  call 1  not explored     not explored", "{table}");
        assert_eq!(lines[3], "  call 2  failed           passed", "{table}");
        assert_eq!(lines[4], "  call 1: users -> bookings GET /b (app.rs:10, fn get_bookings)", "{table}");
        assert_eq!(lines[5], "  call 2: users -> movies GET /m (app.rs:20, fn get_movies)", "{table}");
        assert_eq!(lines.len(), 6, "{table}");
    }

    /// A fault name longer than a formatting width can be (`u16::MAX`), as a
    /// counterexample or an analysis file may hold, is laid out all the same.
    #[test]
    fn a_fault_name_of_any_length_lines_up() {
        let movies = site("movies", "/m", 20);
        let long = "x".repeat(70_000);
        let report = Report {
            executions: vec![
                execution(1, vec![], ExecutionStatus::Passed),
                execution(2, vec![fault(&movies, MOVIES, &long)], failed()),
            ],
            ..Report::default()
        };
        let table = report.grid_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[1], format!("          {long}"));
        assert_eq!(lines[3], "  call 2  failed");
        assert!(report.failure_message().contains(&long));
    }

    #[test]
    fn a_report_without_faults_says_so() {
        let report =
            Report { executions: vec![execution(1, vec![], ExecutionStatus::Passed)], ..Report::default() };
        assert!(report.grid().faults.is_empty());
        assert!(report.grid_table().ends_with("  no fault was planned\n"), "{}", report.grid_table());
    }
}
