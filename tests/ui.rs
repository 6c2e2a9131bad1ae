//! Compile-fail cases of `network!`: one per mistake under `tests/ui/<rule>/<mistake>.rs`, each
//! with the exact diagnostics in a `.stderr` beside it. Regenerate with
//! `TRYBUILD=overwrite cargo test --test ui` and read the diff: every error must point at the
//! user's token and say the fix.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*/*.rs");
}

/// Mistakes that only a build finds, not `cargo check`: a constant the generated code asserts
/// when the network is instantiated with a scalar type (trybuild builds instead of checking
/// once a pass case is present; the pass cases show the same network is fine otherwise).
#[test]
fn ui_build() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui-build/fail/*.rs");
    cases.pass("tests/ui-build/pass/*.rs");
}
