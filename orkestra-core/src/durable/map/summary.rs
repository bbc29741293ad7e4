//! Map results over [`MAX_CHECKPOINT_RESULT`]: the map checkpoints a summary instead, and a
//! replay rebuilds the batch from its items' records, or, for FLAT items (which have none),
//! by running the finished items again over their operations' records.

use super::config::MapConfig;
use super::lanes::MapJob;
use super::run::{finished_outcome, item_name, serde_err};
use super::MapFunction;
use crate::durable::batch::{BatchItem, BatchItemStatus, BatchResult, CompletionReason};
use crate::durable::context::DurableContext;
use crate::durable::error::DurableError;
use crate::durable::store::OperationType;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Checkpointed results larger than this are replaced by a summary and rebuilt on replay by
/// replaying the children.
pub const MAX_CHECKPOINT_RESULT: usize = 256 * 1024;

/// The checkpoint of a map whose result is over [`MAX_CHECKPOINT_RESULT`]: the summary, and
/// what a replay needs to rebuild exactly the batch that completed.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SummaryCheckpoint {
    summary: serde_json::Value,
    replay_children: bool,
    /// Items `0..launched` had started when the map completed.
    launched: usize,
    /// Of those, the ones still running then (reported STARTED; not run again on replay).
    started: Vec<usize>,
    completion_reason: CompletionReason,
}

/// The text checkpointed as the map's result: the batch itself, or a summary when the batch is
/// over [`MAX_CHECKPOINT_RESULT`] (`launched`: how many items had started); and whether it is
/// a summary (a replay then needs the items' records: the protocol's `ReplayChildren`).
pub(super) fn checkpoint_text<T, R: Serialize>(
    batch: &BatchResult<R>,
    config: &MapConfig<T, R>,
    label: &str,
    launched: usize,
) -> Result<(String, bool), DurableError> {
    let text = match &config.serdes {
        Some(codec) => codec.serialize(batch),
        None => serde_json::to_string(batch).map_err(|e| e.to_string()),
    }
    .map_err(|e| serde_err(format!("result of {label}"), e))?;
    if text.len() <= MAX_CHECKPOINT_RESULT {
        return Ok((text, false));
    }
    let summary = match &config.summary_generator {
        Some(g) => g(batch),
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
    serde_json::to_string(&SummaryCheckpoint {
        summary,
        replay_children: true,
        launched,
        started,
        completion_reason: batch.completion_reason,
    })
    .map(|text| (text, true))
    .map_err(|e| serde_err(format!("summary of {label}"), e))
}

/// Rebuilds a summarised map's batch from its items' records without running any item.
pub(super) fn rebuild<T, R: DeserializeOwned>(
    ctx: &DurableContext,
    id: &str,
    items: &[T],
    config: &MapConfig<T, R>,
    kinds: (&'static str, &'static str),
    plan: &SummaryCheckpoint,
) -> Result<BatchResult<R>, DurableError> {
    let launched = plan.launched;
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
        completion_reason: plan.completion_reason,
    })
}

/// Rebuilds a summarised FLAT map's batch by running its finished items again (their
/// operations replay from their records; items still running when the map completed are
/// reported STARTED and not run).
pub(super) async fn replay_flat<T, F>(
    job: &Arc<MapJob<T, F>>,
    plan: &SummaryCheckpoint,
) -> Result<BatchResult<F::Output>, DurableError>
where
    T: Clone + Send + Sync + 'static,
    F: MapFunction<T>,
{
    let launched = plan.launched.min(job.work.items.len());
    let finished = (0..launched).filter(|index| plan.started.binary_search(index).is_err());
    let mut outcomes = job.replay_items(finished).await?.into_iter().peekable();
    let mut all = Vec::with_capacity(launched);
    for index in 0..launched {
        let outcome = match outcomes.peek() {
            Some((i, _)) if *i == index => outcomes.next().map(|(_, o)| o),
            _ => None,
        };
        all.push(BatchItem::from_outcome(index, outcome));
    }
    Ok(BatchResult {
        all,
        completion_reason: plan.completion_reason,
    })
}
