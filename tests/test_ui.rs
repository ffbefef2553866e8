//! Compile errors of the attributes: each case of `tests/ui` must fail to
//! compile with the message and span of its `.stderr` snapshot (regenerate
//! with `TRYBUILD=overwrite cargo test --test test_ui`, then read them), and
//! each case of `tests/ui/pass` must compile.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}
