//! `ctx.map(items, f)`: each item runs `f(ctx, item, index, items)` in its own child context,
//! checkpointed independently; the map returns a [`BatchResult`].

use super::batch::{BatchItem, BatchItemStatus, BatchResult, CompletionReason};
use super::completion::CompletionConfig;
use super::context::DurableContext;
use super::error::{capture_error, DurableError};
use super::step::{fn_item_name, BoxFuture};
use super::store::{ErrorObject, OperationRecord, OperationStatus, OperationType};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use tokio::task::JoinSet;

/// Checkpointed results larger than this are replaced by a summary and rebuilt on replay by
/// replaying the children.
pub const MAX_CHECKPOINT_RESULT: usize = 256 * 1024;

/// Names an item's child context from the item and its index.
pub type ItemNamer<T> = Arc<dyn Fn(&T, usize) -> String + Send + Sync>;
/// Makes the compact summary stored in place of a result over 256 KB.
pub type SummaryGenerator<R> = Arc<dyn Fn(&BatchResult<R>) -> serde_json::Value + Send + Sync>;

/// A custom codec for checkpointed values, in place of JSON.
pub trait Serdes<V>: Send + Sync {
    /// Encodes a value as checkpoint text.
    fn serialize(&self, value: &V) -> Result<String, String>;
    /// Decodes checkpoint text.
    fn deserialize(&self, text: &str) -> Result<V, String>;
}

/// The default codec: JSON via serde.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSerdes;

impl<V: Serialize + DeserializeOwned> Serdes<V> for JsonSerdes {
    fn serialize(&self, value: &V) -> Result<String, String> {
        serde_json::to_string(value).map_err(|e| e.to_string())
    }
    fn deserialize(&self, text: &str) -> Result<V, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// How a map runs.
pub struct MapConfig<T, R> {
    /// At most this many items run at once (`None`: all).
    pub max_concurrency: Option<usize>,
    /// When the map is done (default: all items run, failures reported).
    pub completion_config: CompletionConfig,
    /// Names each item's context (default `map-item-{index}`).
    pub item_namer: Option<ItemNamer<T>>,
    /// Summary stored when the result is over 256 KB (default: the counts and reason).
    pub summary_generator: Option<SummaryGenerator<R>>,
    /// Codec of the whole `BatchResult` checkpoint (default JSON).
    pub serdes: Option<Arc<dyn Serdes<BatchResult<R>>>>,
    /// Codec of each item's result checkpoint (default JSON).
    pub item_serdes: Option<Arc<dyn Serdes<R>>>,
}

impl<T, R> Default for MapConfig<T, R> {
    fn default() -> Self {
        MapConfig {
            max_concurrency: None,
            completion_config: CompletionConfig::default(),
            item_namer: None,
            summary_generator: None,
            serdes: None,
            item_serdes: None,
        }
    }
}

impl<T, R> Clone for MapConfig<T, R> {
    fn clone(&self) -> Self {
        MapConfig {
            max_concurrency: self.max_concurrency,
            completion_config: self.completion_config.clone(),
            item_namer: self.item_namer.clone(),
            summary_generator: self.summary_generator.clone(),
            serdes: self.serdes.clone(),
            item_serdes: self.item_serdes.clone(),
        }
    }
}

impl<T, R> std::fmt::Debug for MapConfig<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapConfig")
            .field("max_concurrency", &self.max_concurrency)
            .field("completion_config", &self.completion_config)
            .field("item_namer", &self.item_namer.is_some())
            .field("summary_generator", &self.summary_generator.is_some())
            .field("serdes", &self.serdes.is_some())
            .field("item_serdes", &self.item_serdes.is_some())
            .finish()
    }
}

/// A map function: `Fn(DurableContext, T, usize, Arc<[T]>) -> impl Future<Output = Result<R, E>>`.
pub trait MapFunction<T>: Send + Sync + 'static {
    /// An item's result.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// An item's error.
    type Error: std::fmt::Display + Send + 'static;
    /// Processes one item.
    fn call(
        &self,
        ctx: DurableContext,
        item: T,
        index: usize,
        items: Arc<[T]>,
    ) -> BoxFuture<'static, Result<Self::Output, Self::Error>>;
}

impl<F, Fut, T, R, E> MapFunction<T> for F
where
    F: Fn(DurableContext, T, usize, Arc<[T]>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    type Output = R;
    type Error = E;
    fn call(
        &self,
        ctx: DurableContext,
        item: T,
        index: usize,
        items: Arc<[T]>,
    ) -> BoxFuture<'static, Result<R, E>> {
        Box::pin(self(ctx, item, index, items))
    }
}

/// `ctx.map(items, f)`, configurable before it is awaited.
#[must_use = "a map does nothing until awaited"]
pub struct MapBuilder<'a, T, F: MapFunction<T>> {
    ctx: &'a DurableContext,
    /// Sub-types of the operation and of its items (`Map`/`MapIteration`, `Parallel`/`ParallelBranch`).
    kinds: (&'static str, &'static str),
    items: Arc<[T]>,
    f: F,
    name: Option<String>,
    config: MapConfig<T, F::Output>,
}

impl DurableContext {
    /// Maps `f` over `items` durably; awaiting gives a [`BatchResult`] (not an error when
    /// items fail: see [`BatchResult::throw_if_error`]). A fn item's name names the map.
    ///
    /// ```
    /// # use orkestra_core::durable::*;
    /// # use std::sync::Arc;
    /// async fn square(_ctx: DurableContext, item: i64, _i: usize, _all: Arc<[i64]>) -> Result<i64, DurableError> {
    ///     Ok(item * item)
    /// }
    /// async fn handler(_e: (), ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
    ///     Ok(ctx.map(vec![1, 2, 3], square).await?.to_dict())
    /// }
    /// ```
    pub fn map<T, F>(&self, items: impl Into<Arc<[T]>>, f: F) -> MapBuilder<'_, T, F>
    where
        T: Clone + Send + Sync + 'static,
        F: MapFunction<T>,
    {
        MapBuilder {
            ctx: self,
            kinds: ("Map", "MapIteration"),
            items: items.into(),
            name: fn_item_name::<F>(),
            f,
            config: MapConfig::default(),
        }
    }
}

impl<'a, T, F: MapFunction<T>> MapBuilder<'a, T, F> {
    pub(crate) fn kinds(mut self, op: &'static str, item: &'static str) -> Self {
        self.kinds = (op, item);
        self
    }

    /// Names the map.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: MapConfig<T, F::Output>) -> Self {
        self.config = config;
        self
    }
}

impl<'a, T, F> IntoFuture for MapBuilder<'a, T, F>
where
    T: Clone + Send + Sync + 'static,
    F: MapFunction<T>,
{
    type Output = Result<BatchResult<F::Output>, DurableError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run_map(self))
    }
}

fn serde_err(what: String, e: impl std::fmt::Display) -> DurableError {
    DurableError::Serde {
        what,
        message: e.to_string(),
    }
}

type Outcome<R> = Result<R, ErrorObject>;
/// What an item's task hands back: its index and outcome (or a store/serde failure).
type Joined<R> = (usize, Result<Outcome<R>, DurableError>);

async fn run_map<T, F>(b: MapBuilder<'_, T, F>) -> Result<BatchResult<F::Output>, DurableError>
where
    T: Clone + Send + Sync + 'static,
    F: MapFunction<T>,
{
    let MapBuilder {
        ctx,
        kinds,
        items,
        f,
        name,
        config,
    } = b;
    let id = ctx.next_id();
    let label = name.clone().unwrap_or_else(|| format!("map {id}"));
    let total = items.len();
    let completion = config.completion_config.clone();
    completion.validate(total).map_err(|e| match e {
        DurableError::InvalidConfig { what, message } => DurableError::InvalidConfig {
            what,
            message: format!("{message} (map {label:?})"),
        },
        other => other,
    })?;
    let record = |status, result: Option<String>| OperationRecord {
        id: id.clone(),
        parent_id: ctx.context_id().map(str::to_string),
        op_type: OperationType::Context,
        sub_type: Some(kinds.0.into()),
        name: name.clone(),
        status,
        result,
        error: None,
        attempt: 0,
    };
    if let Some(rec) = ctx.replay(&id, OperationType::Context, name.as_deref())? {
        if rec.status == OperationStatus::Succeeded {
            if let Some(text) = rec.result.as_deref() {
                let decoded = match &config.serdes {
                    Some(codec) => codec.deserialize(text).ok(),
                    None => serde_json::from_str::<BatchResult<F::Output>>(text).ok(),
                };
                if let Some(batch) = decoded {
                    ctx.forget_descendants(&id);
                    return Ok(batch);
                }
                // A summary: rebuild the batch from the children's records, exactly as it
                // completed (older summaries without the plan fall through and re-drive it).
                if let Ok(plan) = serde_json::from_str::<SummaryCheckpoint>(text) {
                    if let Some(launched) = plan.launched {
                        let batch = rebuild(ctx, &id, &items, &config, kinds, launched, &plan);
                        ctx.forget_descendants(&id);
                        return batch;
                    }
                }
            }
        }
    } else {
        ctx.checkpoint_nowait(record(OperationStatus::Started, None));
    }

    let f = Arc::new(f);
    let limit = config.max_concurrency.unwrap_or(usize::MAX).max(1);
    let mut slots: Vec<Option<Outcome<F::Output>>> = (0..total).map(|_| None).collect();
    let mut launched = vec![false; total];
    let mut running: JoinSet<Joined<F::Output>> = JoinSet::new();
    let (mut next, mut succeeded, mut failed) = (0usize, 0usize, 0usize);
    let mut reason = completion.check(0, 0, total);
    while reason.is_none() {
        while running.len() < limit && next < total {
            let index = next;
            next += 1;
            launched[index] = true;
            let item_name = item_name(&config, kinds, &items, index);
            let child_id = DurableContext::nth_child_id(&id, index);
            if let Some(rec) = ctx.replay(&child_id, OperationType::Context, Some(&item_name))? {
                if let Some(stored) = finished_outcome(rec, &config, &item_name) {
                    // Replayed inline: no task for an item that already finished.
                    ctx.forget_descendants(&child_id);
                    let outcome = stored?;
                    match &outcome {
                        Ok(_) => succeeded += 1,
                        Err(_) => failed += 1,
                    }
                    slots[index] = Some(outcome);
                    reason = completion.check(succeeded, failed, total);
                    if reason.is_some() {
                        break;
                    }
                    continue;
                }
            }
            let child = ctx.child(child_id.clone());
            let (f, items) = (f.clone(), items.clone());
            let parent = id.clone();
            let item_serdes = config.item_serdes.clone();
            running.spawn(async move {
                let out = f
                    .call(child.clone(), items[index].clone(), index, items)
                    .await;
                let (status, result, error) = match &out {
                    Ok(v) => match item_serdes.as_ref().map_or_else(
                        || serde_json::to_string(v).map_err(|e| e.to_string()),
                        |codec| codec.serialize(v),
                    ) {
                        Ok(text) => (OperationStatus::Succeeded, Some(text), None),
                        Err(e) => {
                            return (index, Err(serde_err(format!("result of {item_name:?}"), e)))
                        }
                    },
                    Err(e) => (OperationStatus::Failed, None, Some(capture_error(e))),
                };
                let commit = child.checkpoint(OperationRecord {
                    id: child_id,
                    parent_id: Some(parent),
                    op_type: OperationType::Context,
                    sub_type: Some(kinds.1.into()),
                    name: Some(item_name),
                    status,
                    result,
                    error: error.clone(),
                    attempt: 0,
                });
                if let Err(e) = commit.await {
                    return (index, Err(e.into()));
                }
                (
                    index,
                    Ok(out.map_err(|_| error.expect("a failed item has an error"))),
                )
            });
        }
        if reason.is_some() {
            break;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (index, outcome) = match joined {
            Ok((index, outcome)) => (index, outcome?),
            Err(join) => {
                // A panicking item: find nothing to attribute; fail the map clearly.
                return Err(DurableError::OperationFailed {
                    name: label,
                    error: ErrorObject::new("Panic", format!("a map item panicked: {join}")),
                });
            }
        };
        match &outcome {
            Ok(_) => succeeded += 1,
            Err(_) => failed += 1,
        }
        slots[index] = Some(outcome);
        reason = completion.check(succeeded, failed, total);
    }
    running.abort_all();
    let reason = reason.unwrap_or(CompletionReason::AllCompleted);
    let all = slots
        .into_iter()
        .enumerate()
        .filter(|(i, _)| launched[*i])
        .map(|(index, slot)| match slot {
            Some(Ok(v)) => BatchItem {
                index,
                status: BatchItemStatus::Succeeded,
                result: Some(v),
                error: None,
            },
            Some(Err(e)) => BatchItem {
                index,
                status: BatchItemStatus::Failed,
                result: None,
                error: Some(e),
            },
            None => BatchItem {
                index,
                status: BatchItemStatus::Started,
                result: None,
                error: None,
            },
        })
        .collect();
    let batch = BatchResult {
        all,
        completion_reason: reason,
    };
    let mut text = match &config.serdes {
        Some(codec) => codec.serialize(&batch),
        None => serde_json::to_string(&batch).map_err(|e| e.to_string()),
    }
    .map_err(|e| serde_err(format!("result of {label}"), e))?;
    if text.len() > MAX_CHECKPOINT_RESULT {
        let summary = match &config.summary_generator {
            Some(g) => g(&batch),
            None => serde_json::json!({
                "type": "MapResult",
                "totalCount": batch.total_count(),
                "successCount": batch.success_count(),
                "failureCount": batch.failure_count(),
                "completionReason": batch.completion_reason,
            }),
        };
        let started = batch
            .all
            .iter()
            .filter(|item| item.status == BatchItemStatus::Started)
            .map(|item| item.index)
            .collect();
        text = serde_json::to_string(&SummaryCheckpoint {
            summary,
            replay_children: true,
            launched: Some(next),
            started,
            completion_reason: Some(reason),
        })
        .map_err(|e| serde_err(format!("summary of {label}"), e))?;
    }
    ctx.checkpoint(record(OperationStatus::Succeeded, Some(text)))
        .await?;
    Ok(batch)
}

/// The checkpoint of a map whose result is over [`MAX_CHECKPOINT_RESULT`]: the summary, and
/// what a replay needs to rebuild exactly the batch that completed.
#[derive(Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryCheckpoint {
    summary: serde_json::Value,
    replay_children: bool,
    /// Items `0..launched` had started when the map completed.
    #[serde(default)]
    launched: Option<usize>,
    /// Of those, the ones still running then (reported STARTED; not run again on replay).
    #[serde(default)]
    started: Vec<usize>,
    #[serde(default)]
    completion_reason: Option<CompletionReason>,
}

/// The name of item `index`'s child context.
fn item_name<T, R>(
    config: &MapConfig<T, R>,
    kinds: (&'static str, &'static str),
    items: &[T],
    index: usize,
) -> String {
    match &config.item_namer {
        Some(namer) => namer(&items[index], index),
        None if kinds.0 == "Map" => format!("map-item-{index}"),
        None => format!("branch-{index}"),
    }
}

/// The outcome an item's record holds, if the item finished.
fn finished_outcome<T, R: DeserializeOwned>(
    rec: OperationRecord,
    config: &MapConfig<T, R>,
    item_name: &str,
) -> Option<Result<Outcome<R>, DurableError>> {
    match rec.status {
        OperationStatus::Succeeded => {
            let text = rec.result.as_deref().unwrap_or("null");
            let decoded = match &config.item_serdes {
                Some(codec) => codec.deserialize(text),
                None => serde_json::from_str(text).map_err(|e| e.to_string()),
            };
            Some(
                decoded
                    .map(Ok)
                    .map_err(|e| serde_err(format!("result of {item_name:?}"), e)),
            )
        }
        OperationStatus::Failed => Some(Ok(Err(rec
            .error
            .unwrap_or_else(|| ErrorObject::new("Failed", "no recorded error"))))),
        _ => None,
    }
}

/// Rebuilds a summarised map's batch from its items' records without running any item.
fn rebuild<T, R: DeserializeOwned>(
    ctx: &DurableContext,
    id: &str,
    items: &[T],
    config: &MapConfig<T, R>,
    kinds: (&'static str, &'static str),
    launched: usize,
    plan: &SummaryCheckpoint,
) -> Result<BatchResult<R>, DurableError> {
    let mut all = Vec::with_capacity(launched);
    for index in 0..launched.min(items.len()) {
        if plan.started.binary_search(&index).is_ok() {
            all.push(BatchItem {
                index,
                status: BatchItemStatus::Started,
                result: None,
                error: None,
            });
            // An in-flight item may have checkpointed after the map completed: not counted.
            continue;
        }
        let name = item_name(config, kinds, items, index);
        let child_id = DurableContext::nth_child_id(id, index);
        let outcome = ctx
            .replay(&child_id, OperationType::Context, Some(&name))?
            .and_then(|rec| finished_outcome(rec, config, &name))
            .ok_or_else(|| DurableError::InvalidConfig {
                what: "map checkpoint",
                message: format!(
                    "item {name:?} of map {id} has no finished record, though the map's summary counts it"
                ),
            })??;
        all.push(match outcome {
            Ok(v) => BatchItem {
                index,
                status: BatchItemStatus::Succeeded,
                result: Some(v),
                error: None,
            },
            Err(e) => BatchItem {
                index,
                status: BatchItemStatus::Failed,
                result: None,
                error: Some(e),
            },
        });
    }
    Ok(BatchResult {
        all,
        completion_reason: plan
            .completion_reason
            .unwrap_or(CompletionReason::AllCompleted),
    })
}
