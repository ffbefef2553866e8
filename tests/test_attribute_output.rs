//! What a `#[filibuster::test]` shows its user: a passing one prints its
//! summary as the test's output (shown with `--nocapture`, captured
//! otherwise), and a failing one panics at the attribute in the test's own
//! file, not somewhere in filibuster.
//!
//! Its own binary: the second test sets the process's panic hook.

use std::panic::AssertUnwindSafe;
use std::process::Command;
use std::sync::{Arc, Mutex};

use filibuster::TestContext;

/// Passes, with nothing to explore (allowed).
#[filibuster::test(allow_no_calls = true, regressions = false)]
#[ignore = "run in a child process by `a_passing_test_prints_its_summary`"]
async fn passing(_ctx: TestContext) {}

/// Fails: nothing to explore.
#[filibuster::test(regressions = false)]
#[ignore = "run by `a_failing_test_panics_at_its_attribute`"]
async fn failing(_ctx: TestContext) {}

/// The output of test `passing` run in a child process, with `args`.
fn run_passing(args: &[&str]) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["passing", "--exact", "--ignored", "--test-threads=1"])
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
    format!("{stdout}{stderr}")
}

#[test]
fn a_passing_test_prints_its_summary() {
    let shown = run_passing(&["--nocapture"]);
    assert!(shown.contains("#[filibuster::test] passing: passed\nExecutions run: 1\n"), "{shown}");
    let captured = run_passing(&[]);
    assert!(!captured.contains("Executions run"), "{captured}");
}

#[test]
fn a_failing_test_panics_at_its_attribute() {
    let place = Arc::new(Mutex::new(None));
    let seen = place.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        *seen.lock().unwrap() = info.location().map(|l| (l.file().to_owned(), l.line()));
    }));
    let result = std::panic::catch_unwind(AssertUnwindSafe(failing));
    std::panic::set_hook(previous);
    assert!(result.is_err(), "nothing explored: the test fails");
    let (file, line) = place.lock().unwrap().clone().expect("a place");
    assert_eq!(file, "tests/test_attribute_output.rs");
    let attribute = include_str!("test_attribute_output.rs")
        .lines()
        .position(|l| l == "#[filibuster::test(regressions = false)]")
        .expect("the attribute of `failing`");
    assert_eq!(line as usize, attribute + 1, "the line of `#[filibuster::test]` on `failing`");
}
