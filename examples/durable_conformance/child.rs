//! Suite `child` (3-x).

use super::boxed;
use super::step::{bump, StepError};
use orkestra::durable::{
    ChildConfig, DurableContext, DurableError, DurableHandler, RetryStrategy, Serdes, StepContext,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A step returning `value`.
async fn echo(ctx: &DurableContext, value: String) -> Result<String, DurableError> {
    ctx.step(move |_s: StepContext| {
        let value = value.clone();
        async move { Ok::<_, StepError>(value) }
    })
    .await
}

async fn basic(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("child", |child| async move { echo(&child, input).await })
        .await
}

#[derive(serde::Deserialize)]
struct Named {
    name: String,
    value: String,
}

async fn named(input: Named, ctx: DurableContext) -> Result<String, DurableError> {
    let value = input.value;
    ctx.run_in_child_context(
        &input.name,
        |child| async move { echo(&child, value).await },
    )
    .await
}

async fn two_steps(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("two-steps", |child| async move {
        let first = echo(&child, input).await?;
        echo(&child, first).await
    })
    .await
}

async fn failing_child(ctx: &DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("failing-child", |child| async move {
        child
            .step(|_s: StepContext| async {
                Err::<String, _>(StepError("inner step failed".into()))
            })
            .retry(RetryStrategy::none())
            .await
    })
    .await
}

async fn child_fails(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    failing_child(&ctx).await
}

async fn child_fails_caught(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    match failing_child(&ctx).await {
        Ok(v) => Ok(v),
        Err(_) => echo(&ctx, input).await,
    }
}

async fn nested(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("outer", |outer| async move {
        let value = echo(&outer, input).await?;
        outer
            .run_in_child_context("inner", |inner| async move { echo(&inner, value).await })
            .await
    })
    .await
}

async fn child_retry(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("retrying", |child| async move {
        child
            .step(move |s: StepContext| {
                let input = input.clone();
                async move {
                    if s.attempt() == 1 {
                        Err(StepError("first attempt fails".into()))
                    } else {
                        Ok(input)
                    }
                }
            })
            .retry(super::step::fixed(2, Duration::from_secs(1), 1.0))
            .await
    })
    .await
}

async fn child_retry_exhausted(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("exhausted", |child| async move {
        child
            .step(|s: StepContext| async move {
                Err::<String, _>(StepError(format!("attempt {} fails", s.attempt())))
            })
            .retry(super::step::fixed(2, Duration::from_secs(1), 1.0))
            .await
    })
    .await
}

async fn child_then_wait(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    let v = ctx
        .run_in_child_context("cached", |child| async move { echo(&child, input).await })
        .await?;
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(v)
}

async fn step_and_wait_inside(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("step-and-wait", |child| async move {
        let v = echo(&child, input).await?;
        child.wait(Duration::from_secs(1)).await?;
        Ok::<_, DurableError>(v)
    })
    .await
}

async fn large_result(input: String, ctx: DurableContext) -> Result<Value, DurableError> {
    let size = ctx
        .run_in_child_context("large", |child| async move {
            // Logged on every run of the body, replays included: ReplayChildren re-runs it.
            tracing::info!("building a large result for {input}");
            let small = echo(&child, input).await?;
            Ok::<_, DurableError>(small.repeat(300 * 1024 / small.len().max(1) + 1))
        })
        .await?
        .len();
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(serde_json::json!({"size": size}))
}

async fn interrupted(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    let key = format!("{}-3-12", ctx.execution_id().replace(['/', ':'], "_"));
    ctx.run_in_child_context("interrupted", |child| async move {
        child
            .step(move |_s: StepContext| {
                let input = input.clone();
                let key = key.clone();
                async move {
                    if bump(&key) == 0 {
                        // Give the START time to reach the service, then die mid-step.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        std::process::exit(1);
                    }
                    Ok::<_, StepError>(input)
                }
            })
            .await
    })
    .await
}

async fn wait_inside(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    let v = ctx
        .run_in_child_context("waiting", |child| async move {
            child.wait(Duration::from_secs(1)).await?;
            Ok::<_, DurableError>(input)
        })
        .await?;
    echo(&ctx, v).await
}

async fn throws_directly(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context("throws", |_child| async move {
        Err::<String, _>(StepError("thrown in the child body".into()))
    })
    .await
}

async fn returns_null(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.run_in_child_context("null", |_child| async move {
        Ok::<_, DurableError>(Value::Null)
    })
    .await
}

async fn logger_only(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    let v = ctx
        .run_in_child_context("logger", |_child| async move {
            // Logged whenever the body runs: a replay must not run it again.
            tracing::info!("child context got {input}");
            Ok::<_, DurableError>(input)
        })
        .await?;
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(v)
}

async fn mixed(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    let v = ctx
        .run_in_child_context("inside", |child| async move {
            let v = echo(&child, input).await?;
            child.wait(Duration::from_secs(1)).await?;
            Ok::<_, DurableError>(v)
        })
        .await?;
    let v = echo(&ctx, v).await?;
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(v)
}

/// 3-14's codec: the child's result checkpointed upper-cased, as plain (non-JSON) text.
struct Upper;

impl Serdes<String> for Upper {
    fn serialize(&self, value: &String) -> Result<String, String> {
        Ok(value.to_uppercase())
    }
    fn deserialize(&self, text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }
}

async fn custom_serdes(input: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.run_in_child_context_with(
        "custom-serdes",
        ChildConfig::default().serdes(Upper),
        |child| async move { echo(&child, input).await },
    )
    .await
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "3-1" => boxed(basic),
        "3-2" => boxed(named),
        "3-3" => boxed(two_steps),
        "3-4" => boxed(child_fails),
        "3-5" => boxed(child_fails_caught),
        "3-6" => boxed(nested),
        "3-7" => boxed(child_retry),
        "3-8" => boxed(child_retry_exhausted),
        "3-9" => boxed(child_then_wait),
        "3-10" => boxed(step_and_wait_inside),
        "3-11" => boxed(large_result),
        "3-12" => boxed(interrupted),
        "3-13" => boxed(wait_inside),
        "3-14" => boxed(custom_serdes),
        "3-15" => boxed(throws_directly),
        "3-16" => boxed(returns_null),
        "3-17" => boxed(logger_only),
        "3-18" => boxed(mixed),
        _ => None,
    }
}
