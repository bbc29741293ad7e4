//! Seed example: steps (`#[durable_step]`) inside map functions.

use orkestra::durable::*;
use orkestra::{durable_execution, durable_step};
use serde_json::{json, Value};
use std::sync::Arc;

/// Fetch user data from external service.
#[durable_step]
fn fetch_user_data(_step_ctx: &StepContext, user_id: String) -> Result<Value, String> {
    Ok(json!({"user_id": user_id, "name": "Jane Doe", "email": "jane_doe@example.com"}))
}

/// Send notification to user.
#[durable_step]
fn send_notification(_step_ctx: &StepContext, user: Value) -> Result<Value, String> {
    Ok(json!({"sent": true, "email": user["email"]}))
}

/// Process a user by fetching data and sending notification.
async fn process_user(
    ctx: DurableContext,
    user_id: String,
    _index: usize,
    _user_ids: Arc<[String]>,
) -> Result<Value, DurableError> {
    // Use steps within the map function.
    let user = ctx.step(fetch_user_data(user_id.clone())).await?;
    let notification = ctx.step(send_notification(user)).await?;
    Ok(json!({"user_id": user_id, "notification_sent": notification["sent"]}))
}

/// Process multiple users using context operations within map functions.
#[durable_execution]
async fn handler(_event: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let user_ids: Vec<String> = vec!["user_1".into(), "user_2".into(), "user_3".into()];
    let result = ctx.map(user_ids, process_user).await?;
    Ok(result.to_dict())
}

#[tokio::main]
async fn main() {
    let result = DurableTestRunner::new(handler).run(json!({})).await;
    println!("{:?} {}", result.status(), result.result::<Value>());
}
