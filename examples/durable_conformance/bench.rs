//! Orkestra's benchmarks against the checkpoint service (`scripts/bench_dexbed.py`): a
//! 1,000-item map (`bench-1`; `bench-2` adds a wait, so a second invocation replays it) and a
//! one-step execution (`bench-echo`) for invocation throughput.

use super::boxed;
use super::step::StepError;
use orkestra::durable::{DurableContext, DurableError, DurableHandler, StepContext};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn item(
    ctx: DurableContext,
    n: u32,
    _i: usize,
    _all: Arc<[u32]>,
) -> Result<u32, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, StepError>(n * 2) })
        .await
}

async fn map(count: u32, wait: bool, ctx: DurableContext) -> Result<Value, DurableError> {
    let batch = ctx
        .map((0..count).collect::<Vec<_>>(), item)
        .name("bench")
        .await?;
    if wait {
        ctx.wait(Duration::from_secs(1)).await?;
    }
    Ok(json!({"successCount": batch.success_count(), "totalCount": batch.total_count()}))
}

/// The handler of benchmark `id`, if it is one.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "bench-1" => boxed(|count: u32, ctx| map(count, false, ctx)),
        "bench-2" => boxed(|count: u32, ctx| map(count, true, ctx)),
        "bench-echo" => boxed(|n: u32, ctx: DurableContext| async move {
            ctx.step(move |_s: StepContext| async move { Ok::<_, StepError>(n) })
                .await
        }),
        _ => None,
    }
}
