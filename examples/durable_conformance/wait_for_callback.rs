//! Suite `wait_for_callback` (7-x).

use super::boxed;
use super::callback::{heartbeat, timeout};
use super::step::{fixed, StepError};
use orkestra::durable::{
    CallbackConfig, DurableContext, DurableError, DurableHandler, StepContext,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A submitter that hands the id on (here: logs it) and succeeds.
async fn submit(callback_id: String, s: StepContext) -> Result<(), StepError> {
    s.logger()
        .info(format!("submitting callback {callback_id}"));
    Ok(())
}

async fn wait_cb(
    ctx: &DurableContext,
    name: &str,
    config: CallbackConfig,
) -> Result<Value, DurableError> {
    ctx.wait_for_callback(name, submit, config).await
}

async fn basic(name: String, ctx: DurableContext) -> Result<Value, DurableError> {
    wait_cb(&ctx, &name, CallbackConfig::default()).await
}

async fn caught(
    name: String,
    config: CallbackConfig,
    recovered: &'static str,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    match wait_cb(&ctx, &name, config).await {
        Ok(v) => Ok(v),
        Err(_) => Ok(json!(recovered)),
    }
}

async fn submitter_fails(name: String, ctx: DurableContext) -> Result<Value, DurableError> {
    let config = CallbackConfig {
        submitter_retry: Some(fixed(2, Duration::from_secs(1), 1.0)),
        ..Default::default()
    };
    ctx.wait_for_callback(
        &name,
        |_id: String, s: StepContext| async move {
            Err::<(), _>(StepError(format!(
                "submitter attempt {} failed",
                s.attempt()
            )))
        },
        config,
    )
    .await
}

async fn nested(name: String, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.run_in_child_context("wrapper", |child| async move {
        wait_cb(&child, &name, CallbackConfig::default()).await
    })
    .await
}

async fn two(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    wait_cb(&ctx, "first", CallbackConfig::default()).await?;
    wait_cb(&ctx, "second", CallbackConfig::default()).await
}

async fn after_wait_and_step(name: String, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.wait(Duration::from_secs(1)).await?;
    ctx.step(|_s: StepContext| async { Ok::<_, StepError>(json!({"prepared": true})) })
        .await?;
    wait_cb(&ctx, &name, CallbackConfig::default()).await
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Decision {
    status: String,
}

async fn object(name: String, ctx: DurableContext) -> Result<String, DurableError> {
    let decision: Decision = ctx
        .wait_for_callback(&name, submit, CallbackConfig::default())
        .await?;
    Ok(decision.status)
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "7-1" | "7-4" | "7-15" => boxed(basic),
        "7-2" => boxed(|_: Value, ctx| async move {
            wait_cb(&ctx, "approval", CallbackConfig::default()).await
        }),
        "7-3" => boxed(|_: Value, ctx| async move {
            wait_cb(&ctx, "wait-for-callback", CallbackConfig::default()).await
        }),
        "7-5" => boxed(|name: String, ctx| async move { wait_cb(&ctx, &name, timeout(3)).await }),
        "7-6" => {
            boxed(|name: String, ctx| caught(name, CallbackConfig::default(), "recovered", ctx))
        }
        "7-7" => boxed(submitter_fails),
        "7-8" => boxed(nested),
        "7-9" => boxed(two),
        "7-10" => boxed(after_wait_and_step),
        "7-11" => boxed(object),
        "7-12" => {
            boxed(|name: String, ctx| async move { wait_cb(&ctx, &name, heartbeat(5)).await })
        }
        "7-13" => {
            boxed(|name: String, ctx| async move { wait_cb(&ctx, &name, heartbeat(10)).await })
        }
        "7-14" => boxed(|name: String, ctx| caught(name, timeout(3), "timed-out-handled", ctx)),
        _ => None,
    }
}
