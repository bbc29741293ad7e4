//! In Lambda mode `_HANDLER` names what the function serves: a `#[durable_execution]`
//! handler is served as a durable function, and a name that is both a `#[compose]` task and a
//! durable handler is refused at start-up, naming both kinds.

mod tasks {
    use orkestra::{compose, Context};

    #[compose]
    pub fn shipping(weight: i64, _ctx: &Context) -> i64 {
        weight * 3
    }
}

mod handlers {
    use orkestra::{durable::*, durable_execution};

    #[durable_execution]
    pub async fn shipping(weight: i64, _ctx: DurableContext) -> Result<i64, DurableError> {
        Ok(weight * 3)
    }

    #[durable_execution]
    pub async fn billing(amount: i64, _ctx: DurableContext) -> Result<i64, DurableError> {
        Ok(amount)
    }
}

use orkestra::lambda::durable_function::resolve_registered;
use orkestra::Registry;

#[test]
fn a_durable_handler_is_served_by_its_name() {
    let registry = Registry::global().ok();
    let (name, _handler) = resolve_registered("billing", registry)
        .unwrap()
        .expect("billing is a durable handler");
    assert_eq!(name, "billing");
    assert!(resolve_registered("no_such_handler", registry)
        .unwrap()
        .is_none());
}

#[test]
fn a_task_and_a_durable_handler_with_one_name_is_a_start_up_error() {
    let registry = Registry::global().ok();
    assert!(registry.is_some_and(|r| r.task("shipping").is_some()));
    let error = match resolve_registered("shipping", registry) {
        Err(e) => e,
        Ok(_) => panic!("`shipping` is ambiguous"),
    };
    assert!(error.contains("`shipping`"), "{error}");
    assert!(
        error.contains("#[compose] task") && error.contains("#[durable_execution] handler"),
        "{error}"
    );
}
