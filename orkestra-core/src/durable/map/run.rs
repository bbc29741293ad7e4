//! Running a map: items start in order under `max_concurrency`, finished items replay from
//! their records, and the completion criteria decide when the batch is done.

use super::config::MapConfig;
use super::lanes::{MapJob, MapWork};
use super::summary::{self, SummaryCheckpoint};
use super::{MapBuilder, MapFunction};
use crate::durable::batch::{BatchItem, BatchResult, CompletionReason};
use crate::durable::error::DurableError;
use crate::durable::store::{ErrorObject, OperationRecord, OperationStatus, OperationType};
use serde::de::DeserializeOwned;

pub(super) fn serde_err(what: String, e: impl std::fmt::Display) -> DurableError {
    DurableError::Serde {
        what,
        message: e.to_string(),
    }
}

pub(super) type Outcome<R> = Result<R, ErrorObject>;

pub(super) async fn run_map<T, F>(
    b: MapBuilder<'_, T, F>,
) -> Result<BatchResult<F::Output>, DurableError>
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
        nesting,
    } = b;
    let kind = if kinds.0 == "Parallel" {
        "parallel"
    } else {
        "map"
    };
    ctx.ensure_not_in_step(kind, name.as_deref())?;
    let id = ctx.next_id();
    let label = name.clone().unwrap_or_else(|| format!("map {id}"));
    let total = items.len();
    if config.max_concurrency == Some(0) {
        return Err(DurableError::InvalidConfig {
            what: "max_concurrency",
            message: format!(
                "{label:?} has max_concurrency 0: give at least 1, or None for no limit"
            ),
        });
    }
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
        started_ms: None,
        ended_ms: None,
        details: Default::default(),
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
                // completed (a summary of an older shape falls through and re-drives the map).
                if let Ok(plan) = serde_json::from_str::<SummaryCheckpoint>(text) {
                    let batch = if nesting == super::Nesting::Flat {
                        // FLAT items have no records of their own: they run again, their
                        // operations replaying from theirs (the protocol's ReplayChildren).
                        let work = MapWork {
                            kinds,
                            items,
                            f,
                            config,
                            nesting,
                        };
                        let job = MapJob::new(ctx.clone(), id.clone(), label, work, usize::MAX);
                        summary::replay_flat(&job, &plan).await
                    } else {
                        summary::rebuild(ctx, &id, &items, &config, kinds, &plan)
                    };
                    ctx.forget_descendants(&id);
                    return batch;
                }
            }
        }
    } else {
        ctx.checkpoint_nowait(&record(OperationStatus::Started, None));
    }

    let limit = config.max_concurrency.unwrap_or(usize::MAX).max(1);
    let work = MapWork {
        kinds,
        items,
        f,
        config,
        nesting,
    };
    let job = MapJob::new(ctx.clone(), id.clone(), label.clone(), work, limit);
    let (slots, reason) = match completion.check(0, 0, total) {
        Some(reason) => (Vec::new(), Some(reason)),
        None => {
            let waiting = ctx.suspension().waiting_for_items();
            let tally = job.run().await;
            drop(waiting);
            if let Some(e) = tally.error {
                return Err(e);
            }
            (tally.slots, tally.reason)
        }
    };
    let launched = job.taken();
    let reason = reason.unwrap_or(CompletionReason::AllCompleted);
    let all = slots
        .into_iter()
        .take(launched)
        .enumerate()
        .map(|(index, slot)| BatchItem::from_outcome(index, slot))
        .collect();
    let batch = BatchResult {
        all,
        completion_reason: reason,
    };
    let (text, summarized) = summary::checkpoint_text(&batch, &job.work.config, &label, launched)?;
    let mut done = record(OperationStatus::Succeeded, Some(text));
    done.details.replay_children = summarized;
    ctx.checkpoint(&done).await?;
    Ok(batch)
}

/// The name of item `index`'s child context.
pub(super) fn item_name<T, R>(
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
pub(super) fn finished_outcome<T, R: DeserializeOwned>(
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
        status if status.is_failure() => Some(Ok(Err(rec
            .error
            .unwrap_or_else(|| ErrorObject::new("Failed", "no recorded error"))))),
        _ => None,
    }
}
