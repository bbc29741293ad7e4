//! A binary whose command line (`orkestra::main()`) drives durable executions:
//!
//! ```text
//! cargo run --example durable_cli -- durable start process_numbers --id run-1 --input 100
//! cargo run --example durable_cli -- durable list
//! cargo run --example durable_cli -- durable inspect run-1
//! cargo run --example durable_cli -- durable start approval --id ap-1 --input '"order-7"' &
//! cargo run --example durable_cli -- durable complete-callback ap-1/<operation id> --result '"yes"'
//! cargo run --example durable_cli -- durable resume ap-1
//! ```
//! Checkpoints go to `.orkestra/orkestra.db` (or `$ORKESTRA_DB`).

use orkestra::durable::*;
use serde_json::{json, Value};
use std::sync::Arc;

async fn process_item(
    _ctx: DurableContext,
    item: u64,
    _index: usize,
    _items: Arc<[u64]>,
) -> Result<Value, DurableError> {
    Ok(json!({"item": item, "squared": item * item}))
}

/// The seed's `process_numbers` map.
#[orkestra::durable_execution]
async fn process_numbers(n: u64, ctx: DurableContext) -> Result<Value, DurableError> {
    let result = ctx
        .map((0..n).collect::<Vec<u64>>(), process_item)
        .name("process_numbers")
        .config(MapConfig {
            max_concurrency: Some(10),
            completion_config: CompletionConfig::all_successful(),
            ..Default::default()
        })
        .await?;
    Ok(result.to_dict())
}

/// Waits for an approval delivered with `durable complete-callback`.
#[orkestra::durable_execution]
async fn approval(order: String, ctx: DurableContext) -> Result<String, DurableError> {
    let decision: String = ctx
        .wait_for_callback(
            "approval",
            |callback_id: String, _s: StepContext| async move {
                eprintln!(
                    "complete with: durable complete-callback {callback_id} --result '\"yes\"'"
                );
                Ok::<_, String>(())
            },
            CallbackConfig::default(),
        )
        .await?;
    Ok(format!("{order}: {decision}"))
}

fn main() -> std::process::ExitCode {
    orkestra::main()
}
