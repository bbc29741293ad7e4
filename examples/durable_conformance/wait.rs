//! Suite `wait` (2-x).

use super::boxed;
use orkestra::durable::{DurableContext, DurableError, DurableHandler};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn wait_for(
    seconds: u64,
    name: Option<&'static str>,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    ctx.wait_named(name, Duration::from_secs(seconds)).await?;
    Ok(Value::Null)
}

async fn two_waits(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.wait_named(Some("wait-1"), Duration::from_secs(2))
        .await?;
    ctx.wait_named(Some("wait-2"), Duration::from_secs(2))
        .await?;
    Ok(json!({"completedWaits": 2}))
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "2-1" => boxed(|_: Value, ctx| wait_for(2, None, ctx)),
        "2-2" => boxed(|_: Value, ctx| wait_for(2, Some("custom_wait_name"), ctx)),
        "2-3" => boxed(two_waits),
        "2-4" => boxed(|_: Value, ctx| wait_for(60, None, ctx)),
        "2-5" => boxed(|_: Value, ctx| wait_for(3600, None, ctx)),
        _ => None,
    }
}
