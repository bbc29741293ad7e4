//! Seed example: read individual results from the `BatchResult`.

use orkestra::durable::*;
use serde_json::{json, Value};
use std::sync::Arc;

/// Check if a product is in stock.
async fn check_inventory(
    _ctx: DurableContext,
    product_id: String,
    _index: usize,
    _products: Arc<[String]>,
) -> Result<Value, DurableError> {
    Ok(json!({"product_id": product_id, "in_stock": true, "quantity": 10}))
}

#[orkestra::durable_execution]
async fn handler(_event: Value, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let product_ids: Vec<String> = (1..=4).map(|i| format!("prod_{i}")).collect();
    // Get all inventory results.
    let batch_result = ctx.map(product_ids, check_inventory).await?;
    // Filter to only in-stock products.
    let in_stock = batch_result
        .results()
        .iter()
        .filter_map(|r| r.result.as_ref())
        .filter(|r| r["in_stock"] == true)
        .map(|r| r["product_id"].as_str().unwrap_or_default().to_string())
        .collect();
    Ok(in_stock)
}

#[tokio::main]
async fn main() {
    let result = DurableTestRunner::new(handler).run(json!({})).await;
    println!("{:?} {:?}", result.status(), result.result::<Vec<String>>());
}
