//! Suite `map` (9-x).

use super::boxed;
use super::step::StepError;
use orkestra::durable::{
    BatchItem, BatchItemStatus, BatchResult, CompletionConfig, CompletionReason, DurableContext,
    DurableError, DurableHandler, MapConfig, Nesting, Serdes, StepContext,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Max-concurrency 1 (a deterministic history) and `completion`.
fn sequential<T, R>(completion: CompletionConfig) -> MapConfig<T, R> {
    MapConfig {
        max_concurrency: Some(1),
        completion_config: completion,
        ..Default::default()
    }
}

fn tolerating(
    count: Option<usize>,
    percentage: Option<f64>,
    min_successful: Option<usize>,
) -> CompletionConfig {
    CompletionConfig {
        min_successful,
        tolerated_failure_count: count,
        tolerated_failure_percentage: percentage,
    }
}

/// The projection the requirements return.
fn projection<T: serde::Serialize>(batch: &BatchResult<T>, with_status: bool) -> Value {
    let mut v = json!({
        "completionReason": batch.completion_reason,
        "successCount": batch.success_count(),
        "failureCount": batch.failure_count(),
        "totalCount": batch.total_count(),
    });
    if with_status {
        v["status"] = json!(if batch.has_failure() {
            "FAILED"
        } else {
            "SUCCEEDED"
        });
    }
    v
}

async fn greet_each(items: Vec<String>, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let greet = |c: DurableContext, item: String, _i: usize, _all: Arc<[String]>| async move {
        c.step(move |_s: StepContext| {
            let item = item.clone();
            async move { Ok::<_, StepError>(format!("Hello, {item}!")) }
        })
        .await
    };
    ctx.map(items, greet)
        .name("map")
        .config(sequential(CompletionConfig::all_completed()))
        .await?
        .into_result()
}

async fn doubles(items: Vec<i64>, ctx: DurableContext) -> Result<Vec<i64>, DurableError> {
    let double = |_c: DurableContext, item: i64, _i: usize, _all: Arc<[i64]>| async move {
        Ok::<_, DurableError>(item * 2)
    };
    ctx.map(items, double)
        .config(sequential(CompletionConfig::all_completed()))
        .await?
        .into_result()
}

async fn plus_index(items: Vec<i64>, ctx: DurableContext) -> Result<Vec<i64>, DurableError> {
    let add = |_c: DurableContext, item: i64, i: usize, _all: Arc<[i64]>| async move {
        Ok::<_, DurableError>(item + i as i64)
    };
    ctx.map(items, add)
        .config(sequential(CompletionConfig::all_completed()))
        .await?
        .into_result()
}

/// Items named "fail" fail; the others return themselves.
async fn fail_named(
    _c: DurableContext,
    item: String,
    _i: usize,
    _all: Arc<[String]>,
) -> Result<String, StepError> {
    if item == "fail" {
        Err(StepError(format!("item {item} failed")))
    } else {
        Ok(item)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn fail_fast(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let batch = ctx
        .map(strings(&["ok", "fail", "ok"]), fail_named)
        .config(sequential(tolerating(Some(0), None, None)))
        .await?;
    Ok(projection(&batch, true))
}

async fn rethrow(_: Value, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    ctx.map(strings(&["fail", "ok"]), fail_named)
        .config(sequential(tolerating(Some(0), None, None)))
        .await?
        .into_result()
}

async fn min_successful(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let batch = ctx
        .map(strings(&["a", "b", "c", "d"]), fail_named)
        .config(sequential(tolerating(None, None, Some(2))))
        .await?;
    let mut v = projection(&batch, false);
    v.as_object_mut().map(|m| m.remove("failureCount"));
    Ok(v)
}

async fn tolerated(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let batch = ctx
        .map(strings(&["ok", "fail", "ok"]), fail_named)
        .config(sequential(tolerating(Some(1), None, None)))
        .await?;
    Ok(projection(&batch, true))
}

async fn exceeded(
    items: &[&str],
    completion: CompletionConfig,
    ctx: DurableContext,
) -> Result<Value, DurableError> {
    let batch = ctx
        .map(strings(items), fail_named)
        .config(sequential(completion))
        .await?;
    Ok(projection(&batch, false))
}

async fn concurrent(_: Value, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let constant = |_c: DurableContext, _item: u32, i: usize, _all: Arc<[u32]>| async move {
        Ok::<_, DurableError>(format!("r{i}"))
    };
    ctx.map(vec![0u32, 1, 2], constant)
        .config(MapConfig {
            max_concurrency: Some(2),
            ..Default::default()
        })
        .await?
        .into_result()
}

async fn flat(_: Value, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let item = |c: DurableContext, item: String, _i: usize, _all: Arc<[String]>| async move {
        c.step(move |_s: StepContext| {
            let item = item.clone();
            async move { Ok::<_, StepError>(item) }
        })
        .await
    };
    ctx.map(strings(&["fa", "fb"]), item)
        .config(sequential(CompletionConfig::all_completed()))
        .nesting(Nesting::Flat)
        .await?
        .into_result()
}

async fn named_items(items: Vec<i64>, ctx: DurableContext) -> Result<Vec<i64>, DurableError> {
    let times_ten = |_c: DurableContext, item: i64, _i: usize, _all: Arc<[i64]>| async move {
        Ok::<_, DurableError>(item * 10)
    };
    let mut config = sequential(CompletionConfig::all_completed());
    config.item_namer = Some(Arc::new(|item: &i64, _i| format!("item-{item}")));
    ctx.map(items, times_ten)
        .config(config)
        .await?
        .into_result()
}

async fn upper(
    _c: DurableContext,
    item: String,
    _i: usize,
    _all: Arc<[String]>,
) -> Result<String, DurableError> {
    Ok(item.to_uppercase())
}

/// A per-item codec: `wrapped:<value>`.
struct Wrapped;

impl Serdes<String> for Wrapped {
    fn serialize(&self, value: &String) -> Result<String, String> {
        Ok(format!("wrapped:{value}"))
    }
    fn deserialize(&self, text: &str) -> Result<String, String> {
        text.strip_prefix("wrapped:")
            .map(str::to_string)
            .ok_or_else(|| format!("{text:?} is not wrapped"))
    }
}

async fn item_serdes(_: Value, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let mut config = sequential(CompletionConfig::all_completed());
    config.item_serdes = Some(Arc::new(Wrapped));
    ctx.map(strings(&["x", "y"]), upper)
        .config(config)
        .await?
        .into_result()
}

async fn wait_in_item(_: Value, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let item = |c: DurableContext, _item: u32, i: usize, _all: Arc<[u32]>| async move {
        if i == 1 {
            c.wait(Duration::from_secs(1)).await?;
        }
        c.step(move |_s: StepContext| async move { Ok::<_, StepError>(format!("r{i}")) })
            .await
    };
    ctx.map(vec![0u32, 1], item)
        .config(sequential(CompletionConfig::all_completed()))
        .await?
        .into_result()
}

async fn large(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let big = |_c: DurableContext, item: u32, _i: usize, _all: Arc<[u32]>| async move {
        Ok::<_, DurableError>(item.to_string().repeat(70 * 1024))
    };
    let batch = ctx
        .map(vec![0u32, 1, 2, 3], big)
        .config(sequential(CompletionConfig::all_completed()))
        .await?;
    Ok(json!({"successCount": batch.success_count(), "totalCount": batch.total_count()}))
}

async fn wait_after(_: Value, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let batch = ctx
        .map(strings(&["a", "b"]), upper)
        .config(sequential(CompletionConfig::all_completed()))
        .await?;
    ctx.wait(Duration::from_secs(1)).await?;
    batch.into_result()
}

async fn wait_after_failure(_: Value, ctx: DurableContext) -> Result<Value, DurableError> {
    let batch = ctx
        .map(strings(&["ok", "fail"]), fail_named)
        .config(sequential(tolerating(Some(1), None, None)))
        .await?;
    ctx.wait(Duration::from_secs(1)).await?;
    Ok(projection(&batch, true))
}

/// An operation-level codec: `OPSERDE:` and the comma-joined results.
struct OpSerde;

impl Serdes<BatchResult<String>> for OpSerde {
    fn serialize(&self, batch: &BatchResult<String>) -> Result<String, String> {
        let results: Vec<&str> = batch
            .get_results()
            .into_iter()
            .map(String::as_str)
            .collect();
        Ok(format!("OPSERDE:{}", results.join(",")))
    }
    fn deserialize(&self, text: &str) -> Result<BatchResult<String>, String> {
        let body = text
            .strip_prefix("OPSERDE:")
            .ok_or_else(|| format!("{text:?} is not an OPSERDE payload"))?;
        let all = body
            .split(',')
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(index, r)| BatchItem {
                index,
                status: BatchItemStatus::Succeeded,
                result: Some(r.to_string()),
                error: None,
            })
            .collect();
        Ok(BatchResult {
            all,
            completion_reason: CompletionReason::AllCompleted,
        })
    }
}

async fn op_serdes(wait: bool, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let mut config = sequential(CompletionConfig::all_completed());
    config.serdes = Some(Arc::new(OpSerde));
    let batch = ctx.map(strings(&["x", "y"]), upper).config(config).await?;
    if wait {
        ctx.wait(Duration::from_secs(1)).await?;
    }
    batch.into_result()
}

/// The handler of requirement `id`, if it is in this suite.
pub fn handler(id: &str) -> Option<Arc<dyn DurableHandler>> {
    match id {
        "9-1" => boxed(greet_each),
        "9-2" => boxed(doubles),
        "9-3" => boxed(plus_index),
        "9-4" => boxed(doubles),
        "9-5" => boxed(fail_fast),
        "9-6" => boxed(rethrow),
        "9-7" => boxed(min_successful),
        "9-8" => boxed(tolerated),
        "9-9" => boxed(|_: Value, ctx| {
            exceeded(
                &["fail", "fail", "ok"],
                tolerating(Some(1), None, None),
                ctx,
            )
        }),
        "9-10" => boxed(|_: Value, ctx| {
            exceeded(
                &["fail", "fail", "ok", "ok"],
                tolerating(None, Some(25.0), None),
                ctx,
            )
        }),
        "9-11" => boxed(concurrent),
        "9-12" => boxed(flat),
        "9-13" => boxed(named_items),
        "9-14" => boxed(item_serdes),
        "9-15" => boxed(wait_in_item),
        "9-16" => boxed(large),
        "9-17" => boxed(wait_after),
        "9-18" => boxed(wait_after_failure),
        "9-19" => boxed(|_: Value, ctx| op_serdes(false, ctx)),
        "9-20" => boxed(|_: Value, ctx| op_serdes(true, ctx)),
        _ => None,
    }
}
