//! Suite `callback` (4-x): callbacks the bed completes by name through the service's
//! callback API (`SendDurableExecutionCallbackSuccess/Failure/Heartbeat`).

use super::boxed;
use super::step::StepError;
use orkestra::durable::{
    CallbackConfig, DurableContext, DurableError, DurableHandler, StepContext,
};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A callback that times out after `seconds`.
pub fn timeout(seconds: u64) -> CallbackConfig {
    CallbackConfig {
        timeout: Some(Duration::from_secs(seconds)),
        ..Default::default()
    }
}

/// A callback that times out when no heartbeat came for `seconds`.
pub fn heartbeat(seconds: u64) -> CallbackConfig {
    CallbackConfig {
        heartbeat_timeout: Some(Duration::from_secs(seconds)),
        ..Default::default()
    }
}

async fn await_one(
    name: String,
    config: CallbackConfig,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    let cb = ctx.create_callback::<Value>(Some(&name), config).await?;
    cb.result().await
}

async fn then_step(
    name: String,
    config: CallbackConfig,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    let cb = ctx.create_callback::<Value>(Some(&name), config).await?;
    ctx.step(|_s: StepContext| async { Ok::<_, StepError>("side work".to_string()) })
        .await?;
    cb.result().await
}

async fn then_wait(
    name: String,
    config: CallbackConfig,
    wait: u64,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    let cb = ctx.create_callback::<Value>(Some(&name), config).await?;
    ctx.wait(Duration::from_secs(wait)).await?;
    cb.result().await
}

async fn result_then_wait(
    name: String,
    config: CallbackConfig,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    let cb = ctx.create_callback::<Value>(Some(&name), config).await?;
    let outcome = match cb.result().await {
        Ok(v) => v,
        Err(e) => json!(format!("callback failed: {e}")),
    };
    ctx.wait(Duration::from_secs(2)).await?;
    Ok(outcome)
}

/// The callback payload of 4-15; its timestamp is read as epoch seconds (a custom
/// deserializer, the Rust form of the requirement's custom serdes).
#[derive(Debug, Deserialize, serde::Serialize)]
struct Received {
    id: String,
    message: String,
    #[serde(deserialize_with = "rfc3339_seconds")]
    timestamp: u64,
}

fn rfc3339_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    let at = humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)?;
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(serde::de::Error::custom)
}

async fn typed(name: String, ctx: DurableContext) -> Result<Value, DurableError> {
    let cb = ctx
        .create_callback::<Received>(Some(&name), CallbackConfig::default())
        .await?;
    Ok(json!({"received": cb.result().await?}))
}

async fn number(name: String, ctx: DurableContext) -> Result<Value, DurableError> {
    let cb = ctx
        .create_callback::<i64>(Some(&name), CallbackConfig::default())
        .await?;
    let count = cb.result().await?;
    Ok(json!({"count": count, "doubled": count * 2}))
}

async fn a_then_b(names: Vec<String>, ctx: DurableContext) -> Result<Value, DurableError> {
    let a = ctx
        .create_callback::<Value>(Some(&names[0]), CallbackConfig::default())
        .await?;
    let ra = a.result().await?;
    let b = ctx
        .create_callback::<Value>(Some(&names[1]), CallbackConfig::default())
        .await?;
    let rb = b.result().await?;
    Ok(json!([ra, rb]))
}

async fn both_then_await(
    names: Vec<String>,
    b_first: bool,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    let a = ctx
        .create_callback::<Value>(Some(&names[0]), CallbackConfig::default())
        .await?;
    let b = ctx
        .create_callback::<Value>(Some(&names[1]), CallbackConfig::default())
        .await?;
    let (ra, rb) = if b_first {
        let rb = b.result().await?;
        (a.result().await?, rb)
    } else {
        let ra = a.result().await?;
        (ra, b.result().await?)
    };
    Ok(json!([ra, rb]))
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "4-1" => boxed(|name: String, ctx| await_one(name, CallbackConfig::default(), ctx)),
        "4-2" => {
            boxed(|_: Value, ctx| await_one("approval".into(), CallbackConfig::default(), ctx))
        }
        "4-3" => boxed(|name: String, ctx| await_one(name, timeout(5), ctx)),
        "4-4" => boxed(|name: String, ctx| await_one(name, heartbeat(5), ctx)),
        "4-5" => boxed(|name: String, ctx| await_one(name, heartbeat(10), ctx)),
        "4-6" => boxed(|name: String, ctx| await_one(name, CallbackConfig::default(), ctx)),
        "4-7" => boxed(|name: String, ctx| then_step(name, CallbackConfig::default(), ctx)),
        "4-8" => boxed(|name: String, ctx| then_step(name, timeout(5), ctx)),
        "4-9" | "4-10" => {
            boxed(|name: String, ctx| then_wait(name, CallbackConfig::default(), 5, ctx))
        }
        "4-11" => boxed(|name: String, ctx| then_wait(name, timeout(3), 6, ctx)),
        "4-12" | "4-13" => {
            boxed(|name: String, ctx| result_then_wait(name, CallbackConfig::default(), ctx))
        }
        "4-14" => boxed(|name: String, ctx| result_then_wait(name, timeout(3), ctx)),
        "4-15" => boxed(typed),
        "4-16" => boxed(number),
        "4-17" => boxed(a_then_b),
        "4-18" => boxed(|names: Vec<String>, ctx| both_then_await(names, false, ctx)),
        "4-19" => boxed(|names: Vec<String>, ctx| both_then_await(names, true, ctx)),
        _ => None,
    }
}
