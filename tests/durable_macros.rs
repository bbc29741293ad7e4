//! `#[durable_step]` and `#[durable_execution]`: the seed's `process_user` example with
//! steps inside map items, sync and async steps, and bodies callable in unit tests.

use orkestra::durable::*;
use orkestra::{durable_execution, durable_step};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    user_id: String,
    name: String,
    email: String,
}

static FETCHES: AtomicU32 = AtomicU32::new(0);

/// Fetch user data from an external service.
#[durable_step]
fn fetch_user_data(step_ctx: &StepContext, user_id: String) -> Result<User, String> {
    step_ctx.logger().info(format!("fetching {user_id}"));
    FETCHES.fetch_add(1, Ordering::SeqCst);
    if user_id.is_empty() {
        return Err("empty user id".into());
    }
    Ok(User {
        email: format!("{user_id}@example.com"),
        name: "Jane Doe".into(),
        user_id,
    })
}

/// Send a notification (async step).
#[durable_step]
async fn send_notification(
    _step_ctx: &StepContext,
    user: User,
) -> Result<serde_json::Value, std::io::Error> {
    tokio::task::yield_now().await;
    Ok(json!({"sent": true, "email": user.email}))
}

async fn process_user(
    ctx: DurableContext,
    user_id: String,
    _index: usize,
    _user_ids: Arc<[String]>,
) -> Result<serde_json::Value, DurableError> {
    let user = ctx.step(fetch_user_data(user_id.clone())).await?;
    let notification = ctx.step(send_notification(user)).await?;
    Ok(json!({"user_id": user_id, "notification_sent": notification["sent"]}))
}

#[durable_execution]
async fn handler(
    _event: serde_json::Value,
    ctx: DurableContext,
) -> Result<serde_json::Value, DurableError> {
    let user_ids: Vec<String> = vec!["user_1".into(), "user_2".into(), "user_3".into()];
    let result = ctx.map(user_ids, process_user).await?;
    Ok(result.to_dict())
}

#[tokio::test]
async fn steps_made_by_the_macro_run_durably_inside_a_map() {
    let result = DurableTestRunner::new(handler).run(json!({})).await;
    assert_eq!(result.status(), InvocationStatus::Succeeded);
    let dict: serde_json::Value = result.result();
    assert_eq!(
        dict["all"][1]["result"],
        json!({"user_id": "user_2", "notification_sent": true})
    );
    let step = result
        .get_step("fetch_user_data")
        .expect("named after the function");
    assert_eq!(step.result::<User>().user_id, "user_1");
    assert!(result.get_step("send_notification").is_some());
}

#[test]
fn step_bodies_stay_callable_in_unit_tests() {
    let ctx = StepContext::for_tests();
    let user = fetch_user_data::body(&ctx, "u9".into()).unwrap();
    assert_eq!(user.email, "u9@example.com");
    assert_eq!(
        fetch_user_data::body(&ctx, String::new()).unwrap_err(),
        "empty user id"
    );
    let step = fetch_user_data("u1".into());
    assert_eq!(step.name(), "fetch_user_data");
    let out = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(send_notification::body(&ctx, user))
        .unwrap();
    assert_eq!(out["sent"], true);
}

#[durable_execution]
async fn failing(_event: (), ctx: DurableContext) -> Result<User, DurableError> {
    ctx.step(fetch_user_data(String::new()))
        .retry(RetryStrategy::immediate(2))
        .await
}

#[tokio::test]
async fn a_failing_macro_step_is_retried_then_fails_with_its_error() {
    let before = FETCHES.load(Ordering::SeqCst);
    let result = DurableTestRunner::new(failing).run(()).await;
    assert_eq!(result.status(), InvocationStatus::Failed);
    let err = result.error().unwrap();
    assert_eq!(err.error_message, "empty user id");
    assert_eq!(err.error_type, "String");
    assert!(FETCHES.load(Ordering::SeqCst) - before >= 2);
    assert_eq!(
        result.get_step("fetch_user_data").unwrap().record.attempt,
        2
    );
}
