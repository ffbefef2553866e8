//! Saved regressions: the failing executions of one test, kept in a file
//! (one per test, as proptest keeps `proptest-regressions/`) and replayed
//! before each new exploration, so that a fixed bug stays fixed.
//!
//! The file is JSON: `{"comment": .., "functional_test": .., "regressions":
//! [<counterexample>, ..]}`, each entry a counterexample in the reference's
//! format (see [`Counterexample`]). Commit it with the tests.

use std::io::ErrorKind;
use std::path::Path;

use serde_json::{Value, json};

use super::counterexample::Counterexample;

const COMMENT: &str = "Failing executions found by filibuster, replayed before every exploration of \
                       this test. Commit this file. An entry that fails again fails the test; an \
                       entry whose calls the app no longer makes (stale) fails it too, until you \
                       delete that entry.";

/// The entries of the file at `path`: none when there is no file.
pub(crate) fn load(path: &Path) -> Result<Vec<Counterexample>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(format!("cannot read it: {error}")),
    };
    let value: Value = serde_json::from_str(&text).map_err(|error| format!("it is not JSON: {error}"))?;
    let entries = value
        .get("regressions")
        .and_then(Value::as_array)
        .ok_or_else(|| "it has no `regressions` list".to_owned())?;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            Counterexample::parse(&entry.to_string()).map_err(|e| format!("entry {}: {e}", i + 1))
        })
        .collect()
}

/// Adds `found` to the file at `path` (entries already there, with the same
/// faults, are not added twice); answers how many were added. The file is
/// written whole to a temporary file beside it, then renamed over it.
pub(crate) fn append(path: &Path, functional_test: &str, found: &[Counterexample]) -> Result<usize, String> {
    let mut entries = load(path)?;
    let before = entries.len();
    for counterexample in found {
        if !entries.iter().any(|saved| saved.faults == counterexample.faults) {
            entries.push(counterexample.clone());
        }
    }
    let added = entries.len() - before;
    if added == 0 {
        return Ok(0);
    }
    let entries: Vec<Value> = entries
        .iter()
        .map(|c| serde_json::from_str(&c.to_json()).expect("a counterexample prints as JSON"))
        .collect();
    let text = serde_json::to_string_pretty(&json!({
        "comment": COMMENT,
        "functional_test": functional_test,
        "regressions": entries,
    }))
    .expect("JSON values print");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    }
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text + "\n")
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|error| format!("cannot write it: {error}"))?;
    Ok(added)
}
