//! Compile-fail cases for `#[durable_step]` / `#[durable_execution]` misuse.

#[test]
fn durable_macro_misuse_is_reported_on_the_offending_tokens() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/durable_*.rs");
}
