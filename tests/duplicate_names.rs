//! Two tasks with one registry key in one binary are reported at start-up, naming both.

mod billing {
    use orkestra::{compose, Context};

    #[compose]
    pub fn send_report(n: u32, _ctx: &Context) -> u32 {
        n
    }
}

mod marketing {
    use orkestra::{compose, Context};

    #[compose(name = "send_report")]
    pub fn send_newsletter(n: u32, _ctx: &Context) -> u32 {
        n
    }
}

#[test]
fn duplicate_task_keys_are_an_error_naming_both_definitions() {
    let error = orkestra::Registry::load().unwrap_err().to_string();
    assert!(error.contains("`send_report`"), "{error}");
    assert!(
        error.contains("duplicate_names::billing::send_report (tests/duplicate_names.rs:7)"),
        "{error}"
    );
    assert!(
        error.contains("duplicate_names::marketing::send_newsletter (tests/duplicate_names.rs:16)"),
        "{error}"
    );
    assert!(error.contains("#[compose(name = "), "{error}");
    // The functions themselves are untouched.
    let ctx = orkestra::Context::for_tests();
    assert_eq!(
        billing::send_report(1, &ctx) + marketing::send_newsletter(2, &ctx),
        3
    );
}
