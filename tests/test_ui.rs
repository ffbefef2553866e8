//! Compile errors of the attributes: each case of `tests/ui` must fail to
//! compile with the message and span of its `.stderr` snapshot (regenerate
//! with `TRYBUILD=overwrite cargo test --test test_ui`, then read them), and
//! each case of `tests/ui/pass` must compile.
//!
//! The snapshots are rustc 1.95's: another rustc words and places its own
//! notes differently, so there the compile-fail cases are ignored (as
//! thiserror and tracing-attributes gate theirs), saying so; the pass cases
//! run on any toolchain.

#[test]
fn pass() {
    trybuild::TestCases::new().pass("tests/ui/pass/*.rs");
}

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the .stderr snapshots are rustc 1.95's: regenerate them with TRYBUILD=overwrite on this toolchain"
)]
#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
