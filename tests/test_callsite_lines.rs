//! Callsite lines come from the compiler, whatever proc-macro2 a project's
//! lockfile holds: a small crate using `#[filibuster::call]` is built
//! against exactly the oldest proc-macro2 that `filibuster-macros`'
//! manifest allows (before 1.0.96, proc-macro2's own `Span::start` answers
//! line 0 inside a macro), and the line its expansion embeds must be the
//! `.send()`'s.
//!
//! The crate links `filibuster-macros` alone, with the two items of
//! `filibuster::__private` its expansion names (`Callsite` and `send`)
//! defined beside it: the rest of the toolkit does not depend on
//! proc-macro2's version, and building it again against another lockfile
//! would take minutes. The real pair is checked by `test_callsite_ids` and
//! the reports' `file:line` everywhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

const MAIN: &str = r#"// A `#[filibuster::call]` fn whose `.send()` answers its callsite's line.
extern crate self as filibuster;

/// The two items the expansion of `#[filibuster::call]` names.
pub mod __private {
    #[allow(dead_code)]
    pub struct Callsite {
        pub id: &'static str,
        pub function: &'static str,
        pub file: &'static str,
        pub line: u32,
        pub client_timeout: Option<f64>,
    }

    pub fn send<B>(_builder: B, callsite: &'static Callsite) -> u32 {
        callsite.line
    }
}

struct Builder;

impl Builder {
    fn send(self) -> u32 {
        0
    }
}

#[filibuster_macros::call]
fn call() -> u32 {
    Builder
        .send() // THE SEND
}

fn main() {
    println!("{}", call());
}
"#;

/// The `version` of `proc-macro2` in the macros' manifest: the oldest it
/// allows.
fn oldest_proc_macro2(workspace: &Path) -> String {
    let manifest = std::fs::read_to_string(workspace.join("filibuster-macros/Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|line| line.starts_with("proc-macro2 ="))
        .expect("filibuster-macros depends on proc-macro2");
    let version = line.split('"').nth(1).expect("a quoted version");
    assert!(version.matches('.').count() == 2, "a full version (`1.0.N`) in {line:?}");
    version.to_owned()
}

fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {} failed in {}:\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn callsite_lines_are_real_with_the_oldest_proc_macro2_allowed() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let version = oldest_proc_macro2(&workspace);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oldest-proc-macro2");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!(
        "[package]\nname = \"oldest-proc-macro2\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nfilibuster-macros = {{ path = {:?} }}\n\n[workspace]\n",
        workspace.join("filibuster-macros")
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    // The workspace's lockfile, so that every other crate is the one this
    // workspace builds with; then proc-macro2 down to the oldest allowed.
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    cargo(&dir, &["update", "--quiet", "-p", "proc-macro2", "--precise", &version]);
    let tree = cargo(&dir, &["tree", "--quiet", "-i", "proc-macro2", "--depth", "0"]);
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.contains(&format!("proc-macro2 v{version}")), "built against {version}: {tree}");

    let run = cargo(&dir, &["run", "--quiet"]);
    let line: u32 = String::from_utf8_lossy(&run.stdout).trim().parse().expect("the line, printed");
    let expected = MAIN.lines().position(|line| line.contains("THE SEND")).unwrap() + 1;
    assert_eq!(line as usize, expected, "the callsite's line with proc-macro2 {version}");
}
