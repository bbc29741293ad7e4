//! Where a map's items run: a few lanes (one per runtime worker thread, at most
//! `max_concurrency`), each a task interleaving its share of the items.
//!
//! Spawning one task per item cost more than the item's two checkpoints: every item paid a task
//! allocation and cross-thread wake-ups. Lanes keep the items parallel across worker threads
//! while an item costs one future in its lane. Items are taken in index order from a shared
//! counter, each with a permit: `max_concurrency` permits at first, one more for each outcome
//! counted while the map is not done. A lane counts its items' outcomes itself in the shared
//! [`Tally`], under one lock with the completion check, so no item starts after the criteria are
//! met and the map's driver is only woken once, at the end.

use super::config::MapConfig;
use super::run::{finished_outcome, item_name, serde_err, Outcome};
use super::MapFunction;
use crate::durable::batch::CompletionReason;
use crate::durable::context::DurableContext;
use crate::durable::error::{capture_error, DurableError};
use crate::durable::step::BoxFuture;
use crate::durable::store::{ErrorObject, OperationRecord, OperationStatus, OperationType};
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio::task::JoinSet;

/// An item's index and outcome, or the failure (store, codec, panic, non-determinism) that
/// ends the map.
type Joined<R> = (usize, Result<Outcome<R>, DurableError>);

/// The outcomes counted so far, and whether the map is done.
pub(super) struct Tally<R> {
    /// Each item's outcome once counted (items counted after the map was done are not).
    pub(super) slots: Vec<Option<Outcome<R>>>,
    succeeded: usize,
    failed: usize,
    /// Set once the completion criteria are met.
    pub(super) reason: Option<CompletionReason>,
    /// The failure that ended the map, if any.
    pub(super) error: Option<DurableError>,
}

impl<R> Tally<R> {
    fn new(items: usize) -> Self {
        Tally {
            slots: (0..items).map(|_| None).collect(),
            succeeded: 0,
            failed: 0,
            reason: None,
            error: None,
        }
    }
}

/// What a map maps: its items, the function, and how.
pub(super) struct MapWork<T, F: MapFunction<T>> {
    /// Sub-types of the operation and of its items.
    pub(super) kinds: (&'static str, &'static str),
    pub(super) items: Arc<[T]>,
    pub(super) f: F,
    pub(super) config: MapConfig<T, F::Output>,
    /// Whether items have contexts of their own.
    pub(super) nesting: super::Nesting,
}

/// What the lanes of one map share.
pub(super) struct MapJob<T, F: MapFunction<T>> {
    /// The context the map runs in (its items' contexts are children of `map_id`).
    ctx: DurableContext,
    map_id: String,
    /// The map's name for messages.
    label: String,
    pub(super) work: MapWork<T, F>,
    /// The next item to take.
    next: AtomicUsize,
    /// At most this many items run at once.
    limit: usize,
    /// One permit per item that may start; closed when the map is done.
    permits: Semaphore,
    tally: Mutex<Tally<F::Output>>,
    /// Signalled when the map is done (criteria met or failed).
    finished: Notify,
    /// Told of each counted outcome, when the executor has a progress hook.
    progress: Option<Box<dyn crate::engine::MapProgress>>,
}

impl<T, F> MapJob<T, F>
where
    T: Clone + Send + Sync + 'static,
    F: MapFunction<T>,
{
    /// A job for map `map_id` in `ctx`, letting at most `limit` items run at once.
    pub(super) fn new(
        ctx: DurableContext,
        map_id: String,
        label: String,
        work: MapWork<T, F>,
        limit: usize,
    ) -> Arc<Self> {
        let progress = ctx
            .progress()
            .map(|p| p.map_started(&label, work.items.len()));
        Arc::new(MapJob {
            progress,
            ctx,
            map_id,
            label,
            tally: Mutex::new(Tally::new(work.items.len())),
            work,
            next: AtomicUsize::new(0),
            limit,
            permits: Semaphore::new(limit.min(Semaphore::MAX_PERMITS)),
            finished: Notify::new(),
        })
    }

    /// How many items lanes have taken (items `0..taken` started or replayed). Final once the
    /// lanes are gone.
    pub(super) fn taken(&self) -> usize {
        self.next.load(Ordering::Acquire).min(self.work.items.len())
    }

    /// Runs the items on lanes (as many as the runtime has worker threads, at most the limit)
    /// until every item is done, the completion criteria are met, or an item fails the map;
    /// items still running then are cancelled. Returns the tally.
    pub(super) async fn run(self: &Arc<Self>) -> Tally<F::Output> {
        let limit = self.limit;
        let workers = tokio::runtime::Handle::try_current()
            .map(|h| h.metrics().num_workers())
            .unwrap_or(1);
        let total = self.work.items.len();
        let lanes = workers.min(limit).min(total).max(1);
        let share = limit.min(total).div_ceil(lanes);
        let mut set = JoinSet::new();
        for _ in 0..lanes {
            set.spawn(self.clone().run_lane(share));
        }
        loop {
            tokio::select! {
                _ = self.finished.notified() => break,
                lane = set.join_next() => {
                    if lane.is_none() {
                        break;
                    }
                }
            }
        }
        self.permits.close();
        set.abort_all();
        while set.join_next().await.is_some() {}
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(progress) = &self.progress {
            progress.finished(tally.error.is_none());
        }
        std::mem::replace(&mut *tally, Tally::new(0))
    }

    /// Takes item after item while permits allow (at first up to `share` at once, so every
    /// lane starts with its part of the items), and counts their outcomes.
    async fn run_lane(self: Arc<Self>, share: usize) {
        let mut running = FuturesUnordered::new();
        // No item left to take.
        let mut exhausted = false;
        while !self.permits.is_closed() {
            // Start what the permits allow before collecting outcomes.
            while !exhausted && running.len() < share {
                let Ok(permit) = self.permits.try_acquire() else {
                    break;
                };
                exhausted = !self.start_next(permit, &mut running);
            }
            tokio::select! {
                biased;
                Some((index, result)) = running.next(), if !running.is_empty() => {
                    self.count(index, result);
                }
                permit = self.permits.acquire(), if !exhausted => {
                    let Ok(permit) = permit else {
                        return;
                    };
                    exhausted = !self.start_next(permit, &mut running);
                }
                else => return,
            }
        }
    }

    /// Runs items `indices` again, all at once, and returns their outcomes in index order: how
    /// a summarised FLAT map rebuilds its batch (a virtual item has no record of its own; its
    /// operations replay from theirs). The first failure (store, codec, non-determinism)
    /// ends it.
    pub(super) async fn replay_items(
        self: &Arc<Self>,
        indices: impl IntoIterator<Item = usize>,
    ) -> Result<Vec<(usize, Outcome<F::Output>)>, DurableError> {
        let mut running: FuturesUnordered<_> = indices
            .into_iter()
            .map(|index| self.clone().guarded_item(index))
            .collect();
        let mut outcomes = Vec::new();
        while let Some((index, joined)) = running.next().await {
            outcomes.push((index, joined?));
        }
        outcomes.sort_by_key(|(index, _)| *index);
        Ok(outcomes)
    }

    /// Spends `permit` on the next item, started in `running`; `false` when no item is left
    /// (the permit goes back).
    fn start_next(
        self: &Arc<Self>,
        permit: SemaphorePermit<'_>,
        running: &mut FuturesUnordered<BoxFuture<'static, Joined<F::Output>>>,
    ) -> bool {
        let index = self.next.fetch_add(1, Ordering::AcqRel);
        if index >= self.work.items.len() {
            return false;
        }
        permit.forget();
        running.push(self.clone().guarded_item(index));
        true
    }

    /// Counts one outcome and checks the completion criteria: another item may start, or the
    /// map is done.
    fn count(&self, index: usize, result: Result<Outcome<F::Output>, DurableError>) {
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        if tally.reason.is_some() || tally.error.is_some() {
            return;
        }
        match result {
            Err(e) => tally.error = Some(e),
            Ok(outcome) => {
                match &outcome {
                    Ok(_) => tally.succeeded += 1,
                    Err(_) => tally.failed += 1,
                }
                if let Some(progress) = &self.progress {
                    progress.item_done(outcome.is_err());
                }
                tally.slots[index] = Some(outcome);
                tally.reason = self.work.config.completion_config.check(
                    tally.succeeded,
                    tally.failed,
                    tally.slots.len(),
                );
            }
        }
        if tally.reason.is_some() || tally.error.is_some() {
            self.permits.close();
            self.finished.notify_one();
        } else {
            self.permits.add_permits(1);
        }
    }

    /// Item `index`, with a panic turned into the map's failure.
    fn guarded_item(self: Arc<Self>, index: usize) -> BoxFuture<'static, Joined<F::Output>> {
        // The label is only needed after a panic: keep the job, not a copy per item.
        let job = self.clone();
        Box::pin(
            AssertUnwindSafe(async move {
                // The item is a path of its own for suspension (see `suspend.rs`).
                let ctx = self.ctx.clone();
                let _path = ctx.suspension().item_path();
                self.run_item(index).await
            })
            .catch_unwind()
            .map(move |caught| {
                caught.unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".into());
                    let error =
                        ErrorObject::new("Panic", format!("map item {index} panicked: {message}"));
                    (
                        index,
                        Err(DurableError::OperationFailed {
                            name: job.label.clone(),
                            error,
                        }),
                    )
                })
            }),
        )
    }

    /// Runs item `index` in its child context and checkpoints its outcome, or replays the
    /// outcome it recorded before.
    async fn run_item(self: Arc<Self>, index: usize) -> Joined<F::Output> {
        let name = item_name(&self.work.config, self.work.kinds, &self.work.items, index);
        let child_id = DurableContext::nth_child_id(&self.map_id, index);
        let mut replayed_start = false;
        match self
            .ctx
            .replay(&child_id, OperationType::Context, Some(&name))
        {
            Err(e) => return (index, Err(e)),
            Ok(Some(rec)) => {
                if let Some(stored) = finished_outcome(rec, &self.work.config, &name) {
                    // Finished before: its stored outcome stands, its body does not run.
                    self.ctx.forget_descendants(&child_id);
                    return (index, stored);
                }
                replayed_start = true;
            }
            Ok(None) => {}
        }
        let flat = self.work.nesting == super::Nesting::Flat;
        let child = if flat {
            self.ctx
                .virtual_child(child_id.clone(), self.map_id.clone())
        } else {
            self.ctx.child(child_id.clone())
        };
        if !flat && !replayed_start && child.store().records_item_starts() {
            // The Lambda service wants the item's context to exist before its operations.
            child.checkpoint_nowait(&OperationRecord {
                id: child_id.clone(),
                parent_id: Some(self.map_id.clone()),
                op_type: OperationType::Context,
                sub_type: Some(self.work.kinds.1.into()),
                name: Some(name.clone()),
                status: OperationStatus::Started,
                result: None,
                error: None,
                attempt: 0,
                started_ms: None,
                ended_ms: None,
                details: Default::default(),
            });
        }
        let out = self
            .work
            .f
            .call(
                child.clone(),
                self.work.items[index].clone(),
                index,
                self.work.items.clone(),
            )
            .await;
        let (status, result, error) = match &out {
            Ok(v) => match self.work.config.item_serdes.as_ref().map_or_else(
                || serde_json::to_string(v).map_err(|e| e.to_string()),
                |codec| codec.serialize(v),
            ) {
                Ok(text) => (OperationStatus::Succeeded, Some(text), None),
                Err(e) => return (index, Err(serde_err(format!("result of {name:?}"), e))),
            },
            Err(e) => {
                // A store fault or lost lease is not the item's failure: the run stops.
                if let Some(stop) = child.stopped() {
                    return (index, Err(stop.into()));
                }
                (OperationStatus::Failed, None, Some(capture_error(e)))
            }
        };
        if flat {
            // A virtual item has no record: its outcome lives in the map's result.
            return (
                index,
                Ok(out.map_err(|_| error.expect("a failed item has an error"))),
            );
        }
        // An item may run again anyway: its completion need not be durable before the map
        // goes on (the map's own result, written after it, is awaited).
        let record = OperationRecord {
            id: child_id,
            parent_id: Some(self.map_id.clone()),
            op_type: OperationType::Context,
            sub_type: Some(self.work.kinds.1.into()),
            name: Some(name),
            status,
            result,
            error: error.clone(),
            attempt: 0,
            started_ms: None,
            ended_ms: None,
            details: Default::default(),
        };
        if let Err(e) = child.checkpoint_ordered(&record).await {
            return (index, Err(e));
        }
        (
            index,
            Ok(out.map_err(|_| error.expect("a failed item has an error"))),
        )
    }
}
