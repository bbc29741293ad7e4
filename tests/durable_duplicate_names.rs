//! Two durable handlers with one name in one binary are reported, naming both definitions,
//! and neither is started or invoked by that name.

mod signup {
    use orkestra::{durable::*, durable_execution};

    #[durable_execution]
    pub async fn onboard(name: String, _ctx: DurableContext) -> Result<String, DurableError> {
        Ok(format!("welcome {name}"))
    }
}

mod billing {
    use orkestra::{durable::*, durable_execution};

    #[durable_execution]
    pub async fn onboard(plan: String, _ctx: DurableContext) -> Result<String, DurableError> {
        Ok(format!("billing {plan}"))
    }
}

mod unique {
    use orkestra::{durable::*, durable_execution};

    #[durable_execution]
    pub async fn invoker(_e: (), ctx: DurableContext) -> Result<String, DurableError> {
        ctx.invoke::<_, String>("onboard", "x").await
    }
}

use orkestra::durable::*;

fn assert_names_both(message: &str) {
    assert!(message.contains("`onboard`"), "{message}");
    assert!(
        message.contains(
            "durable_duplicate_names::signup::onboard (tests/durable_duplicate_names.rs:7)"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "durable_duplicate_names::billing::onboard (tests/durable_duplicate_names.rs:16)"
        ),
        "{message}"
    );
}

#[test]
fn duplicate_handler_names_are_an_error_naming_both_definitions() {
    let error = check_durable_handlers().unwrap_err();
    assert_eq!(error.name, "onboard");
    assert_names_both(&error.to_string());
    assert!(registered_handler("onboard").is_err());
    assert!(registered_handler("invoker").unwrap().is_some());
    assert!(registered_handler("nobody").unwrap().is_none());
}

#[tokio::test]
async fn invoking_an_ambiguous_handler_fails_the_execution_clearly() {
    let result = DurableTestRunner::new(unique::invoker)
        .run(serde_json::json!(null))
        .await;
    assert_eq!(result.status(), InvocationStatus::Failed);
    let error = result.error().expect("an error").to_string();
    assert_names_both(&error);
}

#[tokio::test]
async fn the_durable_cli_refuses_to_start_with_duplicate_handlers() {
    // The check comes before the store is opened, so no database is created here.
    let (out, code) =
        orkestra::durable::cli::execute(cli::DurableCommand::List { full: false }).await;
    assert_eq!(code, orkestra::cli::ExitStatus::Usage);
    assert_eq!(out["status"], "ERROR");
    assert_names_both(out["error"].as_str().expect("an error message"));
}
