//! Macro misuse gives compile errors spanned on the offending tokens (reviewed `.stderr` files).

#[test]
fn compile_fail_cases() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
