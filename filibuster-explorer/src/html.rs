//! [`Report::to_html`]: a report as one self-contained HTML page, readable
//! without script, every color doubled by a text label.

use std::collections::HashMap;
use std::fmt::{self, Display, Write as _};

use filibuster_runtime::ExecutionIndex;

use crate::grid::{Grid, GridCell};
use crate::report::{CallName, CallReport, ExecutionReport, ExecutionStatus, ReplayOutcome, Report, Verdict};

/// Text escaped for HTML content and attribute values.
struct Esc<'a>(&'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

const STYLE: &str = "
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d1d1f;
  margin: 0 auto; max-width: 1200px; padding: 1.5em 2em 3em; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.25em; margin: 1.8em 0 .6em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
code, pre { font: 13px/1.4 ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; }
pre { background: #f6f6f6; border: 1px solid #e3e3e3; border-radius: 4px; padding: .6em .8em;
  white-space: pre-wrap; overflow-wrap: anywhere; margin: .4em 0; }
dl.figures { display: grid; grid-template-columns: max-content auto; gap: .2em 1.2em; margin: 0; }
dl.figures dt { font-weight: 600; }
dl.figures dd { margin: 0; }
.badge, td.cell { font-weight: 600; }
.badge { display: inline-block; padding: .05em .55em; border-radius: 3px; border: 1px solid; }
.failed { background: #fde2e1; color: #8f1a14; border-color: #e9a29e; }
.passed { background: #e1f4e4; color: #1d5e2b; border-color: #9fd3a9; }
.pruned { background: #fff3cd; color: #6b5200; border-color: #e6cf7a; }
.not-explored { background: #f2f2f2; color: #6e6e6e; border-color: #d6d6d6; font-weight: 400;
  font-style: italic; }
.untested, .stale { background: #ffe5c7; color: #7a3b00; border-color: #e8b27a; }
table.grid { border-collapse: collapse; margin: .4em 0; }
table.grid th, table.grid td { border: 1px solid #cfcfcf; padding: .35em .6em; text-align: left;
  vertical-align: top; }
table.grid thead th { background: #fafafa; white-space: nowrap; }
table.grid td.cell { text-align: center; white-space: nowrap; }
table.grid th[scope=row] { font-weight: 400; }
.where { color: #666; font-size: .9em; }
.legend span { margin-right: .8em; }
ul.errors li, ul.notes li { margin: .3em 0; }
details.execution { border: 1px solid #e3e3e3; border-radius: 4px; margin: .4em 0; padding: .3em .7em; }
details.execution > summary { cursor: pointer; }
ul.tree { list-style: none; padding-left: 1.2em; margin: .3em 0; border-left: 2px solid #e3e3e3; }
ul.tree li { margin: .2em 0; }
.fault { font-weight: 600; color: #8f1a14; }
";

/// The whole page.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = page(&mut out, report);
    out
}

fn page(out: &mut String, report: &Report) -> fmt::Result {
    let title = if report.functional_test.is_empty() { "exploration" } else { &report.functional_test };
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")?;
    writeln!(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
    writeln!(out, "<title>Filibuster report: {}</title>", Esc(title))?;
    writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>")?;
    writeln!(out, "<h1>Filibuster report</h1>")?;
    summary(out, report)?;
    failures(out, report)?;
    grid(out, &report.grid(), report.executions_remaining)?;
    executions(out, report)?;
    writeln!(out, "</body>\n</html>")
}

fn verdict_badge(verdict: Verdict) -> (&'static str, &'static str, &'static str) {
    match verdict {
        Verdict::Passed => ("passed", "PASSED", "every execution passed"),
        Verdict::Failed => ("failed", "FAILED", "an execution failed"),
        Verdict::Untested => ("untested", "UNTESTED", "the run could not test what it was asked to"),
        Verdict::Stale => ("stale", "STALE", "some planned fault matched no call"),
    }
}

fn summary(out: &mut String, report: &Report) -> fmt::Result {
    writeln!(out, "<section id=\"summary\">\n<h2>Summary</h2>\n<dl class=\"figures\">")?;
    writeln!(out, "<dt>Functional test</dt><dd><code>{}</code></dd>", Esc(&report.functional_test))?;
    let (class, word, meaning) = verdict_badge(report.verdict());
    writeln!(out, "<dt>Verdict</dt><dd><span class=\"badge {class}\">{word}</span> {meaning}</dd>")?;
    writeln!(out, "<dt>Executions run</dt><dd>{}</dd>", report.executions_run)?;
    writeln!(out, "<dt>Executions pruned</dt><dd>{}</dd>", report.executions_pruned)?;
    writeln!(
        out,
        "<dt>Not explored</dt><dd>{} (scheduled, not run: the run stopped at a failure or a limit)</dd>",
        report.executions_remaining
    )?;
    writeln!(out, "<dt>Time elapsed</dt><dd>{:.2} s</dd>", report.elapsed.as_secs_f64())?;
    if let Some(outcome) = &report.replay {
        let said = match outcome {
            ReplayOutcome::Reproduced => "the counterexample reproduced: every planned fault was injected",
            ReplayOutcome::Fixed => "every planned fault was injected and the test passed: fixed",
            ReplayOutcome::Stale { .. } => "stale: some planned faults matched no call",
            ReplayOutcome::Unverified { .. } => "no call reached the server: the faults could not be checked",
        };
        writeln!(out, "<dt>Replay</dt><dd>{said}</dd>")?;
    }
    writeln!(out, "</dl>")?;
    if !report.errors.is_empty() {
        writeln!(out, "<h3>What made the run untested</h3>\n<ul class=\"errors\">")?;
        for error in &report.errors {
            writeln!(out, "<li><pre>{}</pre></li>", Esc(&error.to_string()))?;
        }
        writeln!(out, "</ul>")?;
    }
    let file = report.regressions_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    if !report.regressions.is_empty() {
        writeln!(out, "<h3>Saved regressions replayed first (<code>{}</code>)</h3>\n<ul>", Esc(&file))?;
        for replayed in &report.regressions {
            let said = match &replayed.outcome {
                ReplayOutcome::Reproduced => "<span class=\"badge failed\">failed again</span>",
                ReplayOutcome::Fixed => "<span class=\"badge passed\">passed</span>",
                ReplayOutcome::Stale { .. } => "<span class=\"badge stale\">stale</span>",
                ReplayOutcome::Unverified { .. } => "unverified",
            };
            writeln!(out, "<li>entry {}: {said}</li>", replayed.entry)?;
        }
        writeln!(out, "</ul>")?;
    }
    // The rest of what the text summary says (not injected, late records,
    // calls no status fault was tried on, ...), line for line.
    let figures = [
        "Executions run:",
        "Executions pruned:",
        "Total:",
        "Time elapsed:",
        "Saved regressions replayed:",
        "Not explored:",
    ];
    let mut notes: Vec<String> = Vec::new();
    for line in report.summary().lines() {
        match line.strip_prefix("  ") {
            Some(more) if !notes.is_empty() => {
                let last = notes.last_mut().expect("not empty");
                last.push('\n');
                last.push_str(more);
            }
            _ if figures.iter().any(|f| line.starts_with(f)) => {}
            _ => notes.push(line.to_owned()),
        }
    }
    if !notes.is_empty() {
        writeln!(out, "<h3>Notes</h3>\n<ul class=\"notes\">")?;
        for note in &notes {
            writeln!(out, "<li><pre>{}</pre></li>", Esc(note))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</section>")
}

fn execution_link(number: usize) -> String {
    format!("<a href=\"#execution-{number}\">execution {number}</a>")
}

/// A failing execution: its number, linked to its calls, and what it did.
fn failing_execution(out: &mut String, failure: &ExecutionReport) -> fmt::Result {
    writeln!(out, "<h3>{}</h3>\n<pre>{}</pre>", execution_link(failure.number), Esc(&failure.describe()))
}

fn failures(out: &mut String, report: &Report) -> fmt::Result {
    let failing: Vec<&ExecutionReport> = report.failures().collect();
    if failing.is_empty() {
        return Ok(());
    }
    writeln!(out, "<section id=\"failures\">\n<h2>Failing executions</h2>")?;
    if failing.len() > 1 {
        let groups = report.failure_groups();
        writeln!(
            out,
            "<p>{} failing executions, {} smallest failing fault sets:</p>",
            failing.len(),
            groups.len()
        )?;
        for group in &groups {
            if let Some(failure) = report.executions.iter().find(|e| e.number == group.minimal) {
                failing_execution(out, failure)?;
            }
            if !group.supersets.is_empty() {
                let links: Vec<String> = group.supersets.iter().map(|&n| execution_link(n)).collect();
                writeln!(out, "<p>Also failing with these faults and more: {}</p>", links.join(", "))?;
            }
        }
    } else {
        failing_execution(out, failing[0])?;
    }
    if let Some(path) = &report.counterexample_file {
        writeln!(out, "<p>Counterexample: <code>{}</code></p>", Esc(&path.display().to_string()))?;
    }
    if let Some(command) = &report.replay_command {
        writeln!(out, "<p>Replay it with:</p>\n<pre><code>{}</code></pre>", Esc(command))?;
    }
    writeln!(out, "</section>")
}

fn cell_class(cell: GridCell) -> &'static str {
    match cell {
        GridCell::Failed => "failed",
        GridCell::Passed => "passed",
        GridCell::Pruned => "pruned",
        GridCell::NotExplored => "not-explored",
    }
}

/// Where a fault was injected, in an execution's summary: the call's path,
/// or a dependency call's dependency and operation.
fn fault_place(call: &CallName) -> String {
    match (call.path.is_empty(), &call.target) {
        (true, Some(target)) => format!("{target} {}", call.method),
        _ => call.path.clone(),
    }
}

/// `source -> target METHOD path`, then `file:line, fn` quieter.
fn site_html(site: &CallName) -> String {
    let mut out = format!(
        "{} -&gt; {} <code>{}</code>",
        Esc(&site.source),
        Esc(site.target.as_deref().unwrap_or("?")),
        Esc(&crate::report::operation(&site.method, &site.path))
    );
    let mut place = if site.callsite.is_empty() || site.callsite == ":" {
        "callsite unknown".to_owned()
    } else {
        site.callsite.clone()
    };
    if let Some(function) = &site.function {
        let _ = write!(place, ", fn {function}");
    }
    let _ = write!(out, " <span class=\"where\">({})</span>", Esc(&place));
    out
}

fn grid(out: &mut String, grid: &Grid, remaining: usize) -> fmt::Result {
    writeln!(out, "<section id=\"grid\">\n<h2>Faults by call</h2>")?;
    if remaining > 0 {
        writeln!(
            out,
            "<p>{remaining} scheduled execution(s) were not run (the run stopped first): their cells \
             say not explored.</p>"
        )?;
    }
    if grid.rows.is_empty() || grid.faults.is_empty() {
        return writeln!(out, "<p>No fault was planned.</p>\n</section>");
    }
    writeln!(
        out,
        "<p>Each cell says what happened to the executions that planned that fault on that call: \
         <b>failed</b> if one failed, else <b>passed</b> if one ran with it injected, else \
         <b>pruned</b> if one was pruned, else <b>not explored</b>.</p>"
    )?;
    writeln!(out, "<p class=\"legend\">")?;
    for cell in [GridCell::Failed, GridCell::Passed, GridCell::Pruned, GridCell::NotExplored] {
        writeln!(out, "<span class=\"badge {}\">{}</span>", cell_class(cell), cell.label())?;
    }
    writeln!(out, "</p>\n<table class=\"grid\">\n<thead><tr><th scope=\"col\">Call</th>")?;
    for fault in &grid.faults {
        writeln!(out, "<th scope=\"col\">{}</th>", Esc(fault))?;
    }
    writeln!(out, "</tr></thead>\n<tbody>")?;
    for row in &grid.rows {
        write!(out, "<tr><th scope=\"row\">{}</th>", site_html(&row.site))?;
        for cell in &row.cells {
            write!(out, "<td class=\"cell {}\">{}</td>", cell_class(*cell), cell.label())?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>\n</table>\n</section>")
}

fn status_badge(status: &ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Passed => "<span class=\"badge passed\">passed</span>",
        ExecutionStatus::Failed { .. } => "<span class=\"badge failed\">failed</span>",
        ExecutionStatus::Pruned { .. } => "<span class=\"badge pruned\">pruned</span>",
    }
}

fn executions(out: &mut String, report: &Report) -> fmt::Result {
    if report.executions.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<section id=\"executions\">\n<h2>Executions</h2>\n<p>Each execution's calls as a tree: a call's \
         children are the calls made while serving it.</p>"
    )?;
    for execution in &report.executions {
        let faults: Vec<String> =
            execution.faults.iter().map(|f| format!("{} on {}", f.fault, fault_place(&f.call))).collect();
        writeln!(
            out,
            "<details class=\"execution\" id=\"execution-{}\"{}>\n<summary>{} Execution {}: {}</summary>",
            execution.number,
            if execution.failed() { " open" } else { "" },
            status_badge(&execution.status),
            execution.number,
            if faults.is_empty() { "no fault".to_owned() } else { Esc(&faults.join("; ")).to_string() }
        )?;
        if let ExecutionStatus::Failed { message } = &execution.status {
            writeln!(out, "<p>The functional test failed:</p>\n<pre>{}</pre>", Esc(message))?;
        }
        if !execution.faults.is_empty() {
            writeln!(out, "<p>Faults planned:</p>\n<ul>")?;
            for fault in &execution.faults {
                let not_injected = !matches!(execution.status, ExecutionStatus::Pruned { .. })
                    && execution.not_injected.contains(fault);
                writeln!(
                    out,
                    "<li>{}: <span class=\"fault\">{}</span>{}</li>",
                    site_html(&fault.call),
                    Esc(&fault.fault),
                    if not_injected { " (planned, not injected)" } else { "" }
                )?;
            }
            writeln!(out, "</ul>")?;
        }
        if let ExecutionStatus::Pruned { covered_by } = &execution.status {
            let covering: Vec<String> =
                covered_by.iter().map(|n| format!("<a href=\"#execution-{n}\">{n}</a>")).collect();
            writeln!(
                out,
                "<p>Not run: dynamic reduction showed it could not show anything new (covered by execution{} {}).</p>",
                if covering.len() == 1 { "" } else { "s" },
                covering.join(", ")
            )?;
        } else {
            writeln!(out, "<p>Calls:</p>")?;
            tree(out, &execution.calls)?;
        }
        if !execution.trace_ids.is_empty() {
            let ids: Vec<String> =
                execution.trace_ids.iter().map(|id| format!("<code>{}</code>", Esc(id))).collect();
            writeln!(out, "<p>Trace: {}</p>", ids.join(", "))?;
        }
        if !execution.unfinished.is_empty() {
            writeln!(out, "<p>Still running when the execution was closed:</p>\n<ul>")?;
            for call in &execution.unfinished {
                writeln!(out, "<li>{}</li>", site_html(&call.site()))?;
            }
            writeln!(out, "</ul>")?;
        }
        writeln!(out, "</details>")?;
    }
    writeln!(out, "</section>")
}

/// The parent of each call among `calls` (by position): the call whose
/// execution index is the call's own less its last step; `None` for a call
/// made by the test client, or whose parent call is not in the log.
fn parents(calls: &[CallReport]) -> Vec<Option<usize>> {
    let indices: Vec<Option<ExecutionIndex>> = calls.iter().map(index_of).collect();
    let position: HashMap<&ExecutionIndex, usize> =
        indices.iter().enumerate().filter_map(|(i, index)| Some((index.as_ref()?, i))).collect();
    indices
        .iter()
        .enumerate()
        .map(|(i, index)| {
            let index = index.as_ref()?;
            if index.len() < 2 {
                return None;
            }
            position.get(&index.parent()).copied().filter(|&p| p != i)
        })
        .collect()
}

/// The call's execution index, parsed from its wire form.
fn index_of(call: &CallReport) -> Option<ExecutionIndex> {
    ExecutionIndex::parse(&call.execution_index).ok()
}

fn tree(out: &mut String, calls: &[CallReport]) -> fmt::Result {
    if calls.is_empty() {
        return writeln!(out, "<p>No instrumented call.</p>");
    }
    let parents = parents(calls);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); calls.len()];
    let mut roots = Vec::new();
    for (i, parent) in parents.iter().enumerate() {
        match parent {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    branch(out, calls, &children, &roots)
}

fn branch(out: &mut String, calls: &[CallReport], children: &[Vec<usize>], these: &[usize]) -> fmt::Result {
    writeln!(out, "<ul class=\"tree\">")?;
    for &i in these {
        let call = &calls[i];
        write!(out, "<li>{}", site_html(&call.site()))?;
        if let Some(fault) = &call.fault {
            write!(out, " <span class=\"badge failed\">fault injected: {}</span>", Esc(fault))?;
        }
        match &call.outcome {
            Some(outcome) => write!(out, " → {}", Esc(outcome))?,
            None => write!(out, " → no outcome")?,
        }
        if !children[i].is_empty() {
            writeln!(out)?;
            branch(out, calls, children, &children[i])?;
        }
        writeln!(out, "</li>")?;
    }
    writeln!(out, "</ul>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(index: &str, path: &str) -> CallReport {
        CallReport {
            source: "a".into(),
            target: Some("b".into()),
            method: "GET".into(),
            path: path.into(),
            callsite: "app.rs:1".into(),
            function: None,
            execution_index: index.into(),
            fault: None,
            outcome: Some("200".into()),
            timeout: None,
        }
    }

    fn failed(number: usize, faults: &[(&str, &str)]) -> ExecutionReport {
        ExecutionReport {
            number,
            faults: faults
                .iter()
                .map(|(index, fault)| crate::report::FaultReport {
                    execution_index: (*index).into(),
                    call: call(index, "/p").site(),
                    fault: (*fault).into(),
                })
                .collect(),
            calls: vec![call(r#"[["a", 1]]"#, "/p")],
            status: ExecutionStatus::Failed { message: format!("failure {number}") },
            not_injected: vec![],
            unfinished: vec![],
            requests_still_running: 0,
            trace_ids: vec![],
            panics: vec![],
        }
    }

    #[test]
    fn failing_executions_kept_going_are_shown_by_group() {
        let (a, b) = (r#"[["a", 1]]"#, r#"[["b", 1]]"#);
        let report = Report {
            executions: vec![
                failed(1, &[(a, "status 503")]),
                failed(2, &[(a, "status 503"), (b, "status 500")]),
                failed(3, &[(b, "reqwest.timeout")]),
            ],
            counterexample_file: Some("ce.json".into()),
            replay_command: Some("replay <ce.json>".into()),
            ..Report::default()
        };
        let html = render(&report);
        let failures = &html[html.find("<section id=\"failures\">").unwrap()..];
        let failures = &failures[..failures.find("</section>").unwrap()];
        assert!(
            failures.contains("<p>3 failing executions, 2 smallest failing fault sets:</p>"),
            "{failures}"
        );
        let first = failures.find("<h3><a href=\"#execution-1\">execution 1</a></h3>").unwrap();
        let also = failures
            .find("<p>Also failing with these faults and more: <a href=\"#execution-2\">execution 2</a></p>")
            .unwrap();
        let third = failures.find("<h3><a href=\"#execution-3\">execution 3</a></h3>").unwrap();
        assert!(first < also && also < third, "{failures}");
        assert!(!failures.contains("<h3><a href=\"#execution-2\">"), "2 is no group of its own: {failures}");
        assert!(failures.contains("<pre><code>replay &lt;ce.json&gt;</code></pre>"), "{failures}");
        // Each failing execution is open, with its anchor.
        for number in 1..=3 {
            assert!(html.contains(&format!("<details class=\"execution\" id=\"execution-{number}\" open>")));
        }
    }

    #[test]
    fn an_executions_trace_is_named() {
        let mut traced = failed(1, &[]);
        traced.trace_ids = vec!["4bf92f3577b34da6a3ce929d0e0e4736".into()];
        let html = render(&Report { executions: vec![traced, failed(2, &[])], ..Report::default() });
        let first = &html[html.find("id=\"execution-1\"").unwrap()..html.find("id=\"execution-2\"").unwrap()];
        assert!(first.contains("<p>Trace: <code>4bf92f3577b34da6a3ce929d0e0e4736</code></p>"), "{first}");
        assert_eq!(html.matches("<p>Trace:").count(), 1, "none for an execution without one");
    }

    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(
            Esc(r#"<a href="x">Tom & 'Jerry'</a>"#).to_string(),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(Esc("plain é").to_string(), "plain é");
    }

    #[test]
    fn a_calls_parent_is_the_call_at_its_index_less_the_last_step() {
        let calls = [
            call(r#"[["a", 1]]"#, "/root"),
            call(r#"[["a", 1], ["b", 1]]"#, "/child"),
            call(r#"[["a", 1], ["b", 1], ["c", 1]]"#, "/grandchild"),
            call(r#"[["a", 1], ["b", 2]]"#, "/second child"),
            call(r#"[["d", 1]]"#, "/second root"),
            call(r#"[["x", 1], ["y", 1]]"#, "/orphan"),
            call("not an index", "/unreadable"),
        ];
        assert_eq!(parents(&calls), [None, Some(0), Some(1), Some(0), None, None, None]);
    }

    #[test]
    fn the_tree_nests_children_under_their_parent() {
        let calls = [call(r#"[["a", 1]]"#, "/root"), call(r#"[["a", 1], ["b", 1]]"#, "/child")];
        let mut out = String::new();
        tree(&mut out, &calls).unwrap();
        let root = out.find("/root").unwrap();
        let inner = out[root..].find("<ul class=\"tree\">").map(|at| at + root).unwrap();
        let child = out.find("/child").unwrap();
        let closes = out[root..].find("</li>").unwrap() + root;
        assert!(root < inner && inner < child && child < closes, "{out}");
    }
}
