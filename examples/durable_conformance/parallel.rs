//! Suite `parallel` (8-x).

use super::boxed;
use super::step::StepError;
use orkestra::durable::{
    branch, BatchResult, Branch, CompletionConfig, DurableContext, DurableError, DurableHandler,
    Nesting, ParallelConfig, StepContext,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn sequential(completion: CompletionConfig) -> ParallelConfig {
    ParallelConfig {
        max_concurrency: Some(1),
        completion_config: completion,
        ..Default::default()
    }
}

fn all_completed() -> ParallelConfig {
    sequential(CompletionConfig::all_completed())
}

fn tolerating(
    count: Option<usize>,
    percentage: Option<f64>,
    min_successful: Option<usize>,
) -> ParallelConfig {
    sequential(CompletionConfig {
        min_successful,
        tolerated_failure_count: count,
        tolerated_failure_percentage: percentage,
    })
}

/// A branch returning `v` directly.
fn constant(v: Value) -> Branch<Value> {
    branch(move |_ctx: DurableContext| {
        let v = v.clone();
        async move { Ok::<_, DurableError>(v) }
    })
}

/// A branch failing directly.
fn failing(i: usize) -> Branch<Value> {
    branch(move |_ctx: DurableContext| async move {
        Err::<Value, _>(StepError(format!("branch {i} failed")))
    })
}

/// A branch running one step that returns `v`.
fn stepping(v: &'static str) -> Branch<Value> {
    branch(move |ctx: DurableContext| async move {
        ctx.step(move |_s: StepContext| async move { Ok::<_, StepError>(json!(v)) })
            .await
    })
}

/// Branches from a pattern: `o` succeeds ("ok"), `x` fails.
fn pattern(p: &str) -> Vec<Branch<Value>> {
    p.chars()
        .enumerate()
        .map(|(i, c)| {
            if c == 'x' {
                failing(i)
            } else {
                constant(json!("ok"))
            }
        })
        .collect()
}

fn projection(batch: &BatchResult<Value>, with_status: bool, with_failures: bool) -> Value {
    let mut v = json!({
        "completionReason": batch.completion_reason,
        "successCount": batch.success_count(),
        "totalCount": batch.total_count(),
    });
    if with_failures {
        v["failureCount"] = json!(batch.failure_count());
    }
    if with_status {
        v["status"] = json!(if batch.has_failure() {
            "FAILED"
        } else {
            "SUCCEEDED"
        });
    }
    v
}

async fn run(
    ctx: &DurableContext,
    name: Option<&str>,
    branches: Vec<Branch<Value>>,
    config: ParallelConfig,
) -> Result<BatchResult<Value>, DurableError> {
    ctx.parallel(name, branches, config).await
}

async fn basic(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    run(
        &ctx,
        Some("parallel"),
        vec![stepping("task-1"), stepping("task-2")],
        all_completed(),
    )
    .await?
    .into_result()
}

async fn constants(values: Vec<Value>, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    run(
        &ctx,
        None,
        values.into_iter().map(constant).collect(),
        all_completed(),
    )
    .await?
    .into_result()
}

async fn projected(
    p: &'static str,
    config: ParallelConfig,
    status: bool,
    failures: bool,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    let batch = run(&ctx, None, pattern(p), config).await?;
    Ok(projection(&batch, status, failures))
}

async fn rethrow(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    run(&ctx, None, pattern("xo"), tolerating(Some(0), None, None))
        .await?
        .into_result()
}

async fn concurrent(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    let branches = (0..3).map(|i| constant(json!(format!("r{i}")))).collect();
    let config = ParallelConfig {
        max_concurrency: Some(2),
        completion_config: CompletionConfig::all_completed(),
        ..Default::default()
    };
    run(&ctx, None, branches, config).await?.into_result()
}

async fn suspends(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    let waiting = branch(|ctx: DurableContext| async move {
        ctx.wait(Duration::from_secs(2)).await?;
        Ok::<_, DurableError>(json!("b1"))
    });
    run(&ctx, None, vec![stepping("b0"), waiting], all_completed())
        .await?
        .into_result()
}

async fn zero_concurrency(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    let config = ParallelConfig {
        max_concurrency: Some(0),
        completion_config: CompletionConfig::all_completed(),
        ..Default::default()
    };
    run(&ctx, None, pattern("oo"), config).await?.into_result()
}

async fn accessors(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let batch = run(&ctx, None, pattern("oxo"), tolerating(Some(1), None, None)).await?;
    Ok(json!({
        "hasFailure": batch.has_failure(),
        "successCount": batch.get_results().len(),
        "failureCount": batch.failure_count(),
        "errorCount": batch.get_errors().len(),
    }))
}

/// A branch result checkpointed as `{"wrapped": v}` and read back as `v` (a custom
/// serializer pair: the Rust form of the requirement's per-branch serdes).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Wrapped {
    wrapped: Value,
}

async fn wrapped_branches(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    let wrap = |v: &'static str| {
        branch(move |_ctx: DurableContext| async move {
            Ok::<_, DurableError>(Wrapped { wrapped: json!(v) })
        })
    };
    let batch = ctx
        .parallel(None, vec![wrap("x"), wrap("y")], all_completed())
        .await?;
    Ok(batch
        .into_result()?
        .into_iter()
        .map(|w| w.wrapped)
        .collect())
}

async fn flat(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    let config = ParallelConfig {
        nesting: Nesting::Flat,
        ..all_completed()
    };
    run(&ctx, None, vec![stepping("fa"), stepping("fb")], config)
        .await?
        .into_result()
}

async fn nested(_: Value, ctx: DurableContext) -> Result<Vec<Value>, DurableError> {
    let outer = branch(|ctx: DurableContext| async move {
        let inner = ctx
            .parallel(None, vec![stepping("i1"), stepping("i2")], all_completed())
            .await?
            .into_result()?;
        Ok::<_, DurableError>(json!(inner))
    });
    run(&ctx, None, vec![outer], all_completed())
        .await?
        .into_result()
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "8-1" => boxed(basic),
        "8-2" => boxed(|_: Value, ctx| constants(vec![json!("alpha"), json!("beta")], ctx)),
        "8-3" => boxed(|_: Value, ctx| constants(vec![json!("one"), json!("two")], ctx)),
        "8-4" => boxed(|_: Value, ctx| {
            constants(vec![json!("hello"), json!(42), json!({"k": "v"})], ctx)
        }),
        "8-5" => boxed(|_: Value, ctx| constants(vec![], ctx)),
        "8-6" => boxed(|_: Value, ctx| {
            projected("oxo", tolerating(Some(0), None, None), true, true, ctx)
        }),
        "8-7" => boxed(rethrow),
        "8-8" => boxed(|_: Value, ctx| {
            projected("oooo", tolerating(None, None, Some(2)), false, false, ctx)
        }),
        "8-9" => boxed(|_: Value, ctx| {
            projected("oxo", tolerating(Some(1), None, None), true, true, ctx)
        }),
        "8-10" => boxed(|_: Value, ctx| {
            projected("xxo", tolerating(Some(1), None, None), false, true, ctx)
        }),
        "8-11" => boxed(concurrent),
        "8-12" => boxed(flat),
        "8-13" => boxed(|_: Value, ctx| {
            projected("xxoo", tolerating(None, Some(25.0), None), false, true, ctx)
        }),
        "8-14" => boxed(suspends),
        "8-15" => boxed(wrapped_branches),
        "8-16" => boxed(|_: Value, ctx| {
            projected("xxx", tolerating(Some(3), None, None), true, true, ctx)
        }),
        "8-17" => boxed(|_: Value, ctx| {
            projected("oxo", tolerating(None, None, Some(3)), true, true, ctx)
        }),
        "8-18" => boxed(|_: Value, ctx| {
            projected("xxoo", tolerating(Some(1), None, Some(3)), false, true, ctx)
        }),
        "8-19" => boxed(zero_concurrency),
        "8-20" => boxed(accessors),
        "8-21" => boxed(nested),
        "8-22" => boxed(|_: Value, ctx| {
            projected("xooo", tolerating(None, Some(25.0), None), true, true, ctx)
        }),
        _ => None,
    }
}
