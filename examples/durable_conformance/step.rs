//! Suite `step` (1-x).

use super::boxed;
use orkestra::durable::{
    DurableContext, DurableError, DurableHandler, Jitter, RetryStrategy, StepContext, StepSemantics,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The error 1-15 retries and 1-16 does not.
#[derive(Debug)]
pub struct TransientError(pub String);

impl std::fmt::Display for TransientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plain failure.
#[derive(Debug)]
pub struct StepError(pub String);

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn fixed(max_attempts: u32, delay: Duration, backoff_rate: f64) -> RetryStrategy {
    RetryStrategy {
        max_attempts,
        initial_delay: delay,
        max_delay: Duration::from_secs(300),
        backoff_rate,
        jitter: Jitter::None,
    }
}

/// Counts this invocation's crashes of `key` in `DEX_SCRATCH_DIR` (state that survives the
/// process): returns how many happened before, and records one more.
pub fn bump(key: &str) -> u32 {
    let dir = std::env::var("DEX_SCRATCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let path = std::path::Path::new(&dir).join(format!("orkestra-{key}"));
    let before: u32 = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    std::fs::write(&path, (before + 1).to_string()).expect("write the scratch counter");
    before
}

async fn greet(name: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(move |_s: StepContext| {
        let name = name.clone();
        async move { Ok::<_, StepError>(format!("Hello, {name}!")) }
    })
    .await
}

async fn greet_named(name: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(move |_s: StepContext| {
        let name = name.clone();
        async move { Ok::<_, StepError>(format!("Hello, {name}!")) }
    })
    .name("custom_step_name")
    .await
}

async fn sequential(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    let first = ctx
        .step(|_s: StepContext| async { Ok::<_, StepError>("first".to_string()) })
        .await?;
    ctx.step(move |_s: StepContext| {
        let first = first.clone();
        async move { Ok::<_, StepError>(format!("{first}_second")) }
    })
    .await
}

async fn complex(event: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.step(move |_s: StepContext| {
        let event = event.clone();
        async move {
            let count = event["tags"].as_array().map_or(0, Vec::len);
            Ok::<_, StepError>(json!({"user": event, "count": count}))
        }
    })
    .await
}

/// A step result whose serializer uppercases it (a custom serializer: the Rust form of the
/// requirement's per-step serdes); it reads back as stored.
#[derive(Debug, serde::Deserialize)]
struct Upper(String);

impl serde::Serialize for Upper {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_uppercase())
    }
}

async fn custom_serdes(input: String, ctx: DurableContext) -> Result<Upper, DurableError> {
    ctx.step(move |_s: StepContext| {
        let input = input.clone();
        async move { Ok::<_, StepError>(Upper(input)) }
    })
    .await
}

async fn null_result(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.step(|_s: StepContext| async { Ok::<_, StepError>(Value::Null) })
        .await
}

async fn logged(name: String, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(move |s: StepContext| {
        let name = name.clone();
        async move {
            s.logger()
                .info(format!("Greeting step started for: {name}"));
            let greeting = format!("Hello, {name}!");
            s.logger()
                .info(format!("Greeting step completed with: {greeting}"));
            Ok::<_, StepError>(greeting)
        }
    })
    .await
}

async fn step_then_wait(
    value: &'static str,
    wait: u64,
    ctx: DurableContext,
) -> Result<String, DurableError> {
    let v = ctx
        .step(move |_s: StepContext| async move { Ok::<_, StepError>(value.to_string()) })
        .await?;
    ctx.wait(Duration::from_secs(wait)).await?;
    Ok(v)
}

async fn failed_then_wait(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let caught = ctx
        .step(|s: StepContext| async move {
            s.logger().info("step executed");
            Err::<Value, _>(StepError("permanent failure".into()))
        })
        .retry(RetryStrategy::none())
        .await;
    assert!(caught.is_err(), "the step always fails");
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(Value::Null)
}

async fn retry_once(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(|s: StepContext| async move {
        if s.attempt() == 1 {
            Err(StepError("transient failure on the first attempt".into()))
        } else {
            Ok("Operation succeeded".to_string())
        }
    })
    .retry(fixed(3, Duration::from_secs(1), 1.0))
    .await
}

async fn always_fails(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.step(|s: StepContext| async move {
        Err::<Value, _>(StepError(format!("attempt {} failed", s.attempt())))
    })
    .retry(fixed(4, Duration::from_secs(1), 1.0))
    .await
}

async fn default_retry(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(|s: StepContext| async move {
        if s.attempt() < 3 {
            Err(StepError(format!("attempt {} failed", s.attempt())))
        } else {
            Ok("succeeded on the third attempt".to_string())
        }
    })
    .retry(RetryStrategy::default())
    .await
}

async fn custom_backoff(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    ctx.step(|s: StepContext| async move {
        if s.attempt() < 3 {
            Err(StepError(format!("attempt {} failed", s.attempt())))
        } else {
            Ok("succeeded on the third attempt".to_string())
        }
    })
    .retry(fixed(5, Duration::from_secs(2), 3.0))
    .await
}

async fn transient(retried: bool, ctx: DurableContext) -> Result<String, DurableError> {
    // Orkestra's retry strategies retry every error: the step's only error is a
    // TransientError, retried (1-15) or not (1-16) by the strategy given.
    let strategy = if retried {
        fixed(3, Duration::from_secs(1), 1.0)
    } else {
        RetryStrategy::none()
    };
    ctx.step(|s: StepContext| async move {
        if s.attempt() == 1 {
            Err(TransientError("the service is busy".into()))
        } else {
            Ok("recovered".to_string())
        }
    })
    .retry(strategy)
    .await
}

async fn at_most_once(
    input: String,
    retried: bool,
    ctx: DurableContext,
) -> Result<String, DurableError> {
    let strategy = if retried {
        fixed(3, Duration::from_secs(1), 1.0)
    } else {
        RetryStrategy::none()
    };
    let execution = ctx.execution_id().replace(['/', ':'], "_");
    ctx.step(move |s: StepContext| {
        let input = input.clone();
        let key = format!("{execution}-crash");
        async move {
            s.logger()
                .info(format!("at-most-once step runs for {input}"));
            if !retried || bump(&key) == 0 {
                // A real crash: the process dies in the middle of the step.
                std::process::exit(1);
            }
            Ok::<_, StepError>("succeeded on second attempt".to_string())
        }
    })
    .name("at_most_once_flaky_step")
    .semantics(StepSemantics::AtMostOncePerRetry)
    .retry(strategy)
    .await
}

async fn fails(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.step(|_s: StepContext| async { Err::<Value, _>(StepError("something went wrong".into())) })
        .retry(RetryStrategy::none())
        .await
}

async fn caught(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    let first = ctx
        .step(|_s: StepContext| async { Err::<String, _>(StepError("risky step failed".into())) })
        .retry(RetryStrategy::none())
        .await;
    match first {
        Ok(v) => Ok(v),
        Err(_) => {
            ctx.step(|_s: StepContext| async { Ok::<_, StepError>("fallback_result".to_string()) })
                .await
        }
    }
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "1-1" => boxed(greet),
        "1-2" => boxed(greet_named),
        "1-3" => boxed(sequential),
        "1-4" => boxed(complex),
        "1-5" => boxed(null_result),
        "1-6" => boxed(custom_serdes),
        "1-7" => boxed(logged),
        "1-8" => boxed(|_: Value, ctx| step_then_wait("computed", 2, ctx)),
        "1-9" => boxed(|_: Value, ctx| step_then_wait("cached_value", 1, ctx)),
        "1-10" => boxed(failed_then_wait),
        "1-11" => boxed(retry_once),
        "1-12" => boxed(always_fails),
        "1-13" => boxed(default_retry),
        "1-14" => boxed(custom_backoff),
        "1-15" => boxed(|_: Value, ctx| transient(true, ctx)),
        "1-16" => boxed(|_: Value, ctx| transient(false, ctx)),
        "1-17" => boxed(|input: String, ctx| at_most_once(input, false, ctx)),
        "1-18" => boxed(|input: String, ctx| at_most_once(input, true, ctx)),
        "1-19" => boxed(fails),
        "1-20" => boxed(caught),
        _ => None,
    }
}
