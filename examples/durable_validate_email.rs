//! Seed example: the map function sees the item, its index and the whole collection.

use orkestra::durable::*;
use serde_json::json;
use std::sync::Arc;

/// Validate an email address.
async fn validate_email(
    _ctx: DurableContext,
    item: String,
    index: usize,
    items: Arc<[String]>,
) -> Result<serde_json::Value, DurableError> {
    let is_valid = item.contains('@') && item.contains('.');
    Ok(json!({"email": item, "valid": is_valid, "position": index, "total": items.len()}))
}

#[orkestra::durable_execution]
async fn handler(
    _event: serde_json::Value,
    ctx: DurableContext,
) -> Result<serde_json::Value, DurableError> {
    let emails: Vec<String> = vec![
        "jane_doe@example.com".into(),
        "john_doe@example.org".into(),
        "invalid".into(),
    ];
    let result = ctx.map(emails, validate_email).await?;
    Ok(result.to_dict())
}

#[tokio::main]
async fn main() {
    let result = DurableTestRunner::new(handler).run(json!({})).await;
    println!(
        "{:?} {}",
        result.status(),
        result.result::<serde_json::Value>()
    );
}
