//! Seed example: square each item of a list with `ctx.map` (results `[1, 4, 9, 16, 25]`).
//!
//! `cargo run --example durable_square [-- EXECUTION_ID]` checkpoints to `.orkestra/orkestra.db`
//! (or `$ORKESTRA_DB`); running it again with the same id replays instead of recomputing.

use orkestra::durable::*;
use std::sync::Arc;

/// Square a number.
async fn square(
    _ctx: DurableContext,
    item: i64,
    _index: usize,
    _items: Arc<[i64]>,
) -> Result<i64, DurableError> {
    Ok(item * item)
}

/// Process a list of items using map operations.
#[orkestra::durable_execution]
async fn handler(
    _event: serde_json::Value,
    ctx: DurableContext,
) -> Result<serde_json::Value, DurableError> {
    let items = vec![1, 2, 3, 4, 5];
    let result = ctx.map(items, square).await?;
    // Convert to JSON (the SDK's `to_dict()` shape).
    Ok(result.to_dict())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let id = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("square-{}", uuid_like()));
    let store = Arc::new(SqliteStore::open_default()?);
    let record = DurableExecutor::new(store)
        .run(&id, "square", &handler_fn(handler), serde_json::json!({}))
        .await?;
    println!(
        "{} {:?} {}",
        record.id,
        record.status,
        record.result.unwrap_or_default()
    );
    Ok(())
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
