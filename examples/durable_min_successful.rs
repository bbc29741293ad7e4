//! Seed example: custom completion criteria: succeed once 15 of 20 items succeeded, fail
//! after more than 5 failures (items divisible by 7 fail).

use orkestra::durable::*;
use serde_json::{json, Value};
use std::sync::Arc;

/// Process an item that might fail.
async fn process_item(
    _ctx: DurableContext,
    item: i64,
    _index: usize,
    _items: Arc<[i64]>,
) -> Result<Value, String> {
    if item % 7 == 0 {
        return Err(format!("Item {item} failed"));
    }
    Ok(json!({"item": item, "processed": true}))
}

#[orkestra::durable_execution]
async fn handler(_event: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let items: Vec<i64> = (0..20).collect();
    // Succeed if at least 15 items succeed, fail after 5 failures.
    let config = MapConfig {
        completion_config: CompletionConfig {
            min_successful: Some(15),
            tolerated_failure_count: Some(5),
            ..Default::default()
        },
        ..Default::default()
    };
    let result = ctx.map(items, process_item).config(config).await?;
    Ok(result.to_dict())
}

#[tokio::main]
async fn main() {
    let result = DurableTestRunner::new(handler).run(json!({})).await;
    let batch: BatchResult<Value> = result.result();
    println!(
        "{:?}: {:?}, {} succeeded, {} failed, {} started",
        result.status(),
        batch.completion_reason,
        batch.success_count(),
        batch.failure_count(),
        batch.started_count()
    );
}
