//! Compile-fail cases of `network!`: one per mistake under `tests/ui/<rule>/<mistake>.rs`, each
//! with the exact diagnostics in a `.stderr` beside it. Regenerate with
//! `TRYBUILD=overwrite cargo test --test ui` and read the diff: every error must point at the
//! user's token and say the fix.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*/*.rs");
}
