//! Suite `invoke` (5-x): chained invokes of other durable functions, which the bed runs
//! through the same binary under their own names (`target-*`).

use super::boxed;
use super::step::StepError;
use orkestra::durable::{DurableContext, DurableError, DurableHandler, StepContext};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Returns its input.
const ECHO: &str = "target-echo";
/// Always fails.
const FAIL: &str = "target-fail";
/// Returns the size of its input.
const MEASURE: &str = "target-measure";

/// The chained-invoke targets, as the bed's `--function-configs` takes them.
pub fn function_configs() -> Value {
    json!({
        ECHO: {"DurableConfig": {}},
        FAIL: {"DurableConfig": {}},
        MEASURE: {"DurableConfig": {}},
    })
}

/// A failure of a target.
#[derive(Debug)]
pub struct TargetError(String);

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

async fn echo(input: Value, _ctx: DurableContext) -> Result<Value, DurableError> {
    Ok(input)
}

async fn fail(_: Value, _ctx: DurableContext) -> Result<Value, TargetError> {
    Err(TargetError("the target function failed".into()))
}

async fn measure(input: Value, _ctx: DurableContext) -> Result<Value, DurableError> {
    Ok(json!({"receivedBytes": input.to_string().len()}))
}

async fn invoke_echo(input: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.invoke_named(None, ECHO, input).await
}

async fn named(input: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let name = input["name"].as_str().unwrap_or("invoke").to_string();
    ctx.invoke_named(Some(&name), ECHO, input["payload"].clone())
        .await
}

async fn fails(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.invoke_named(None, FAIL, Value::Null).await
}

async fn fails_caught(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    match ctx.invoke_named::<_, Value>(None, FAIL, Value::Null).await {
        Ok(v) => Ok(v),
        Err(_) => Ok(json!("fallback")),
    }
}

async fn large(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    // Near the 256 KB asynchronous invoke payload limit.
    let payload = "x".repeat(200 * 1024);
    ctx.invoke_named(None, MEASURE, json!({ "data": payload }))
        .await
}

async fn tenant(input: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    // Orkestra sends no TenantId (the local runner's history leaves it out too).
    ctx.invoke_named(None, ECHO, input["payload"].clone()).await
}

async fn then_wait(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let v: Value = ctx.invoke_named(None, ECHO, json!("cached")).await?;
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(v)
}

async fn fails_then_wait(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let caught = ctx
        .invoke_named::<_, Value>(None, FAIL, Value::Null)
        .await
        .is_err();
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(json!({ "caught": caught }))
}

async fn step_then_invoke(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let v = ctx
        .step(|_s: StepContext| async { Ok::<_, StepError>(json!("from the step")) })
        .await?;
    ctx.invoke_named(None, ECHO, v).await
}

async fn invoke_then_step(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let v: Value = ctx
        .invoke_named(None, ECHO, json!("from the target"))
        .await?;
    ctx.step(move |_s: StepContext| {
        let v = v.clone();
        async move { Ok::<_, StepError>(json!({ "processed": v })) }
    })
    .await
}

async fn in_child(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.run_in_child_context("invoking", |child| async move {
        child
            .invoke_named::<_, Value>(None, ECHO, json!("inside"))
            .await
    })
    .await
}

async fn two(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let a: Value = ctx.invoke_named(None, ECHO, json!("first")).await?;
    let b: Value = ctx.invoke_named(None, ECHO, json!("second")).await?;
    Ok(json!([a, b]))
}

/// The outgoing payload of 5-15: its serializer uppercases the data (a custom serializer,
/// the Rust form of the requirement's custom payload serdes).
struct Shouted(String);

impl Serialize for Shouted {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({ "data": self.0.to_uppercase() }).serialize(s)
    }
}

async fn custom_payload(input: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let data = input["data"].as_str().unwrap_or_default().to_string();
    ctx.invoke_named(None, ECHO, Shouted(data)).await
}

async fn custom_result(input: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    // The result's custom deserializer works on the payload text: it uppercases it.
    let result: Value = ctx.invoke_named(None, ECHO, input).await?;
    Ok(json!(result.to_string().to_uppercase()))
}

/// The handler of requirement (or target) `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        ECHO => boxed(echo),
        FAIL => boxed(fail),
        MEASURE => boxed(measure),
        "5-1" | "5-3" | "5-4" => boxed(invoke_echo),
        "5-2" => boxed(named),
        "5-5" => boxed(fails),
        "5-6" => boxed(fails_caught),
        "5-7" => boxed(large),
        "5-8" => boxed(tenant),
        "5-9" => boxed(then_wait),
        "5-10" => boxed(fails_then_wait),
        "5-11" => boxed(step_then_invoke),
        "5-12" => boxed(invoke_then_step),
        "5-13" => boxed(in_child),
        "5-14" => boxed(two),
        "5-15" => boxed(custom_payload),
        "5-16" => boxed(custom_result),
        _ => None,
    }
}
