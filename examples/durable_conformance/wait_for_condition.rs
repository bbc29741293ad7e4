//! Suite `wait_for_condition` (6-x).

use super::boxed;
use super::step::StepError;
use orkestra::durable::{
    DurableContext, DurableError, DurableHandler, StepContext, WaitDecision,
    WaitForConditionConfig, WaitStrategy,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The poll delay of the suite's handlers (6-5 names it: 2 s, fixed, no jitter).
const DELAY: Duration = Duration::from_secs(2);

/// Stops once the state reaches `threshold`, else checks again after [`DELAY`].
fn until_at_least(threshold: i64) -> WaitStrategy<i64> {
    Arc::new(move |n: &i64, _attempt| {
        if *n >= threshold {
            WaitDecision::Stop
        } else {
            WaitDecision::ContinueAfter(DELAY)
        }
    })
}

/// Polls `name`, adding 1 to an integer state from `initial`, until it reaches `threshold`.
async fn count_to(
    ctx: &DurableContext,
    name: &str,
    initial: i64,
    threshold: i64,
) -> Result<i64, DurableError> {
    ctx.wait_for_condition(
        name,
        |n: i64, _s: StepContext| async move { Ok::<_, StepError>(n + 1) },
        WaitForConditionConfig {
            initial_state: initial,
            wait_strategy: until_at_least(threshold),
        },
    )
    .await
}

/// 6-2: the condition already holds on the first check.
async fn immediate(threshold: i64, ctx: DurableContext) -> Result<i64, DurableError> {
    ctx.wait_for_condition(
        "wait_for_condition",
        |n: i64, _s: StepContext| async move { Ok::<_, StepError>(n) },
        WaitForConditionConfig {
            initial_state: 5,
            wait_strategy: until_at_least(threshold),
        },
    )
    .await
}

/// 6-6: never met; the strategy gives up on its third attempt.
async fn max_attempts(_: Value, ctx: DurableContext) -> Result<i64, DurableError> {
    ctx.wait_for_condition(
        "wait_for_condition",
        |n: i64, _s: StepContext| async move { Ok::<_, StepError>(n + 1) },
        WaitForConditionConfig {
            initial_state: 0,
            wait_strategy: Arc::new(|_n: &i64, attempt| {
                if attempt >= 3 {
                    WaitDecision::GiveUp
                } else {
                    WaitDecision::ContinueAfter(DELAY)
                }
            }),
        },
    )
    .await
}

/// A check that fails on its first call.
async fn failing_check(ctx: &DurableContext) -> Result<i64, DurableError> {
    ctx.wait_for_condition(
        "wait_for_condition",
        |_n: i64, _s: StepContext| async move {
            Err::<i64, _>(StepError("the condition check failed".into()))
        },
        WaitForConditionConfig {
            initial_state: 0,
            wait_strategy: Arc::new(|_n: &i64, _attempt| WaitDecision::Stop),
        },
    )
    .await
}

/// 6-8: the handler catches the failed wait and returns a fallback.
async fn recovered(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    match failing_check(&ctx).await {
        Ok(n) => Ok(n.to_string()),
        Err(DurableError::OperationFailed { .. }) => Ok("recovered".into()),
        Err(other) => Err(other),
    }
}

/// 6-9's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    status: String,
    attempts: u32,
}

async fn complex_state(_: Value, ctx: DurableContext) -> Result<Job, DurableError> {
    ctx.wait_for_condition(
        "wait_for_condition",
        |job: Job, _s: StepContext| async move {
            let attempts = job.attempts + 1;
            let status = if attempts >= 2 { "DONE" } else { "PENDING" };
            Ok::<_, StepError>(Job {
                status: status.into(),
                attempts,
            })
        },
        WaitForConditionConfig {
            initial_state: Job {
                status: "PENDING".into(),
                attempts: 0,
            },
            wait_strategy: Arc::new(|job: &Job, _attempt| match job.status.as_str() {
                "PENDING" => WaitDecision::ContinueAfter(DELAY),
                _ => WaitDecision::Stop,
            }),
        },
    )
    .await
}

/// 6-10: the check returns null and the strategy stops at once.
async fn null_state(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    ctx.wait_for_condition(
        "wait_for_condition",
        |_v: Value, _s: StepContext| async move { Ok::<_, StepError>(Value::Null) },
        WaitForConditionConfig {
            initial_state: json!("start"),
            wait_strategy: Arc::new(|_v: &Value, _attempt| WaitDecision::Stop),
        },
    )
    .await
}

/// 6-11's state: a string whose checkpointed form is its own encoding (the characters'
/// code points, reversed), not the string's JSON: the state survives a suspension only
/// through this serializer and deserializer.
#[derive(Debug, Clone, PartialEq)]
struct Encoded(String);

impl Serialize for Encoded {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let codes: Vec<u32> = self.0.chars().rev().map(u32::from).collect();
        serializer.serialize_str(&format!(
            "enc:{}",
            codes
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".")
        ))
    }
}

impl<'de> Deserialize<'de> for Encoded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        let body = text
            .strip_prefix("enc:")
            .ok_or_else(|| D::Error::custom(format!("{text:?} is not an encoded state")))?;
        let mut chars = Vec::new();
        for code in body.split('.').filter(|c| !c.is_empty()) {
            let c = code
                .parse::<u32>()
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| D::Error::custom(format!("bad code {code:?} in {text:?}")))?;
            chars.push(c);
        }
        Ok(Encoded(chars.into_iter().rev().collect()))
    }
}

async fn custom_serdes(_: Value, ctx: DurableContext) -> Result<String, DurableError> {
    let state = ctx
        .wait_for_condition(
            "wait_for_condition",
            |s: Encoded, _c: StepContext| async move { Ok::<_, StepError>(Encoded(s.0 + "x")) },
            WaitForConditionConfig {
                initial_state: Encoded(String::new()),
                wait_strategy: Arc::new(|s: &Encoded, _attempt| {
                    if s.0.len() >= 2 {
                        WaitDecision::Stop
                    } else {
                        WaitDecision::ContinueAfter(DELAY)
                    }
                }),
            },
        )
        .await?;
    Ok(state.0)
}

/// 6-12: the final state feeds a step.
async fn then_step(threshold: i64, ctx: DurableContext) -> Result<i64, DurableError> {
    let n = count_to(&ctx, "wait_for_condition", 0, threshold).await?;
    ctx.step(move |_s: StepContext| async move { Ok::<_, StepError>(n * 10) })
        .await
}

/// 6-13: two polls in a row, the first's result seeding the second.
async fn two_polls(_: Value, ctx: DurableContext) -> Result<i64, DurableError> {
    let first = count_to(&ctx, "first", 0, 2).await?;
    count_to(&ctx, "second", first, 4).await
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "6-1" | "6-5" => boxed(|threshold: i64, ctx: DurableContext| async move {
            count_to(&ctx, "wait_for_condition", 0, threshold).await
        }),
        "6-2" => boxed(immediate),
        "6-3" => boxed(|threshold: i64, ctx: DurableContext| async move {
            count_to(&ctx, "poll-status", 0, threshold).await
        }),
        "6-4" => boxed(|threshold: i64, ctx: DurableContext| async move {
            count_to(&ctx, "wait_for_condition", 5, threshold).await
        }),
        "6-6" => boxed(max_attempts),
        "6-7" => boxed(|_: Value, ctx: DurableContext| async move { failing_check(&ctx).await }),
        "6-8" => boxed(recovered),
        "6-9" => boxed(complex_state),
        "6-10" => boxed(null_state),
        "6-11" => boxed(custom_serdes),
        "6-12" => boxed(then_step),
        "6-13" => boxed(two_polls),
        _ => None,
    }
}
