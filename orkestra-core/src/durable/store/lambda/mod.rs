//! [`LambdaCheckpointStore`]: the AWS Lambda durable-execution checkpoint service as a
//! [`CheckpointStore`] (cargo feature `aws`), for one invocation of a durable function.
//!
//! - Built from the invocation event ([`LambdaCheckpointStore::from_event`]): the durable
//!   execution ARN, the checkpoint token and the initial state, whose further pages
//!   (`NextMarker`) are fetched with `GetDurableExecutionState` before the handler runs.
//! - Every engine write becomes an `OperationUpdate` ([`wire::encode`]; writes the service
//!   owns, such as a due retry's READY or a fired wait's SUCCEEDED, are not sent). Updates
//!   queue in order and one writer task sends them along the checkpoint-token chain with
//!   `CheckpointDurableExecution`, as many per call as the batch rules allow ([`batch::plan`]).
//!   A write nobody awaits (an at-least-once step's START, a context's START) just joins the
//!   queue; an awaited one completes when the call carrying it returns.
//! - Each response's `NewExecutionState` is merged into the local state: callback ids the
//!   service minted, operations completed meanwhile.
//! - A response without a token (the token was revoked: the invocation was superseded or the
//!   execution stopped) or a call that failed for good stops the store: every later write is
//!   refused, the engine stops in place, and the invocation answers PENDING
//!   ([`LambdaCheckpointStore::revoked`]) or fails (the service re-invokes).
//!
//! ```no_run
//! # async fn demo(event: serde_json::Value) -> Result<(), Box<dyn std::error::Error>> {
//! use orkestra::durable::store::lambda::{LambdaCheckpointStore, SdkService};
//! use std::sync::Arc;
//! let service = Arc::new(SdkService::from_env().await);
//! let (store, input) = LambdaCheckpointStore::from_event(service, &event).await?;
//! println!("{} replays {} operations on {input}", store.arn(), store.operation_count());
//! # Ok(()) }
//! ```

pub mod batch;
#[cfg(test)]
pub(crate) mod fake;
pub mod service;
pub mod wire;

pub use service::{CheckpointResponse, CheckpointService, SdkService, ServiceError, StatePage};
pub use wire::{Action, Update, UpdateType, WireError};

use super::{CheckpointStore, Commit, ErrorObject, ExecutionRecord, OperationRecord, StoreError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Why an invocation event cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// A required field is missing or has the wrong type.
    #[error("the durable invocation event has no {0} (is this function configured as a durable function?)")]
    Missing(&'static str),
    /// The EXECUTION operation's `InputPayload` is not JSON.
    #[error("the durable execution's InputPayload is not JSON: {0}")]
    Input(serde_json::Error),
    /// Fetching the rest of the initial state failed.
    #[error("cannot page the initial execution state: {0}")]
    Paging(#[from] ServiceError),
}

/// The local view of the execution: operations by id, in first-seen order.
#[derive(Default)]
struct Ops {
    order: Vec<String>,
    by_id: HashMap<String, OperationRecord>,
}

impl Ops {
    fn put(&mut self, rec: OperationRecord) {
        if !self.by_id.contains_key(&rec.id) {
            self.order.push(rec.id.clone());
        }
        self.by_id.insert(rec.id.clone(), rec);
    }

    /// Merges a record the service sent: its fields win (ids, timestamps, status).
    fn merge(&mut self, op: &Value) {
        if let Some(rec) = wire::decode(op) {
            self.put(rec);
        }
    }
}

enum Msg {
    Update(Box<Update>, Option<oneshot::Sender<Result<(), StoreError>>>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

struct Shared {
    arn: String,
    ops: Mutex<Ops>,
    execution: Mutex<Option<ExecutionRecord>>,
    stopped: Mutex<Option<StoreError>>,
    /// Why an operation could not be encoded (a bad id or name), if one could not.
    invalid: Mutex<Option<WireError>>,
    revoked: AtomicBool,
    calls: AtomicU64,
    updates: AtomicU64,
}

impl Shared {
    fn stop(&self, error: StoreError) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        stopped.get_or_insert(error);
    }

    fn stopped(&self) -> Option<StoreError> {
        self.stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The Lambda durable checkpoint service as a [`CheckpointStore`]; see the module docs.
pub struct LambdaCheckpointStore {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Msg>,
}

impl std::fmt::Debug for LambdaCheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaCheckpointStore")
            .field("arn", &self.shared.arn)
            .finish()
    }
}

impl LambdaCheckpointStore {
    /// The store of the invocation `event` (`DurableExecutionArn`, `CheckpointToken`,
    /// `InitialExecutionState` with its further pages fetched through `service`), and the
    /// handler's input (the EXECUTION operation's payload). Must be called inside a tokio
    /// runtime: it spawns the writer task.
    pub async fn from_event(
        service: Arc<dyn CheckpointService>,
        event: &Value,
    ) -> Result<(Self, Value), EventError> {
        let arn = event
            .get("DurableExecutionArn")
            .and_then(Value::as_str)
            .ok_or(EventError::Missing("DurableExecutionArn"))?
            .to_string();
        let token = event
            .get("CheckpointToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        let state = event.get("InitialExecutionState");
        let mut raw: Vec<Value> = state
            .and_then(|s| s.get("Operations"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut marker = state
            .and_then(|s| s.get("NextMarker"))
            .and_then(Value::as_str)
            .map(str::to_string);
        while let Some(m) = marker.filter(|m| !m.is_empty()) {
            let token = token
                .as_deref()
                .ok_or(EventError::Missing("CheckpointToken"))?;
            let page = service.get_state(&arn, token, &m).await?;
            raw.extend(page.operations);
            marker = page.next_marker;
        }
        let input = match wire::execution_input(&raw) {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(EventError::Input(e)),
            None => return Err(EventError::Missing("EXECUTION operation in its state")),
        };
        let mut ops = Ops::default();
        for op in &raw {
            ops.merge(op);
        }
        let shared = Arc::new(Shared {
            arn: arn.clone(),
            ops: Mutex::new(ops),
            execution: Mutex::new(None),
            stopped: Mutex::new(None),
            invalid: Mutex::new(None),
            revoked: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            updates: AtomicU64::new(0),
        });
        if token.is_none() {
            shared.revoked.store(true, Ordering::SeqCst);
            shared.stop(revoked_error(&arn));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(
            service,
            shared.clone(),
            token.unwrap_or_default(),
            rx,
        ));
        Ok((LambdaCheckpointStore { shared, tx }, input))
    }

    /// The durable execution's ARN (the engine's execution id).
    pub fn arn(&self) -> &str {
        &self.shared.arn
    }

    /// How many operations the local state holds.
    pub fn operation_count(&self) -> usize {
        self.shared
            .ops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .order
            .len()
    }

    /// Whether the service revoked the checkpoint token (or sent none): the invocation must
    /// record nothing more and answer PENDING.
    pub fn revoked(&self) -> bool {
        self.shared.revoked.load(Ordering::SeqCst)
    }

    /// The operation the handler asked for that the service cannot record (an id over 64
    /// characters, a name that is not 1–256 printable ASCII characters), if there was one: the
    /// store stopped there, and the execution fails with this error.
    pub fn invalid_operation(&self) -> Option<WireError> {
        self.shared
            .invalid
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `CheckpointDurableExecution` calls made so far.
    pub fn round_trips(&self) -> u64 {
        self.shared.calls.load(Ordering::Relaxed)
    }

    /// Updates sent so far.
    pub fn updates_sent(&self) -> u64 {
        self.shared.updates.load(Ordering::Relaxed)
    }

    /// Checkpoints the execution's own result or error (EXECUTION SUCCEED / FAIL), for a
    /// result over the invocation response limit; completes when the service has it.
    pub fn checkpoint_execution(&self, result: Result<String, ErrorObject>) -> Commit {
        let (payload, error, action) = match result {
            Ok(text) => (Some(text), None, Action::Succeed),
            Err(e) => (None, Some(e), Action::Fail),
        };
        let update = Update {
            id: format!("execution-result-{}", ExecutionRecord::now_ms()),
            parent_id: None,
            name: None,
            update_type: UpdateType::Execution,
            sub_type: None,
            action,
            payload,
            error,
            options: Default::default(),
        };
        self.send(update, true)
    }

    fn send(&self, update: Update, awaited: bool) -> Commit {
        if let Some(stop) = self.shared.stopped() {
            return Commit::ready(Err(stop));
        }
        let (tx, rx) = if awaited {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        if self.tx.send(Msg::Update(Box::new(update), tx)).is_err() {
            return Commit::ready(Err(StoreError::Closed));
        }
        match rx {
            Some(rx) => Commit::pending(rx),
            None => Commit::ready(Ok(())),
        }
    }

    fn write(&self, execution_id: &str, record: &OperationRecord, awaited: bool) -> Commit {
        let _ = execution_id;
        let now = ExecutionRecord::now_ms();
        let update = match wire::encode(record, now) {
            Ok(u) => u,
            Err(e) => {
                // Bad ids or names: nothing derived from this write may be recorded.
                self.shared
                    .invalid
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e.clone());
                let error = StoreError::Database {
                    path: self.shared.arn.clone(),
                    message: e.to_string(),
                };
                self.shared.stop(error.clone());
                return Commit::ready(Err(error));
            }
        };
        let update = {
            let mut ops = self.shared.ops.lock().unwrap_or_else(|p| p.into_inner());
            let known = ops.by_id.get(&record.id).map(|r| r.status);
            ops.put(record.clone());
            update.filter(|u| !wire::repeated_start(u, known))
        };
        match update {
            Some(update) => self.send(update, awaited),
            None => Commit::ready(Ok(())),
        }
    }
}

fn revoked_error(arn: &str) -> StoreError {
    StoreError::Database {
        path: arn.to_string(),
        message: "the checkpoint token was revoked (the invocation was superseded or the \
                  execution stopped): this invocation records nothing more"
            .into(),
    }
}

/// Sends queued updates along the token chain until the store is dropped.
async fn writer(
    service: Arc<dyn CheckpointService>,
    shared: Arc<Shared>,
    mut token: String,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) {
    while let Some(first) = rx.recv().await {
        let mut msgs = vec![first];
        while let Ok(more) = rx.try_recv() {
            msgs.push(more);
        }
        let mut updates = Vec::new();
        let mut waiters = Vec::new();
        for msg in msgs {
            match msg {
                Msg::Update(u, w) => {
                    updates.push(*u);
                    waiters.extend(w);
                }
                Msg::Flush(w) => waiters.push(w),
            }
        }
        let outcome = match shared.stopped() {
            Some(stop) => Err(stop),
            None => send_all(&*service, &shared, &mut token, updates).await,
        };
        if let Err(e) = &outcome {
            shared.stop(e.clone());
        }
        for w in waiters {
            let _ = w.send(outcome.clone());
        }
    }
}

async fn send_all(
    service: &dyn CheckpointService,
    shared: &Shared,
    token: &mut String,
    updates: Vec<Update>,
) -> Result<(), StoreError> {
    for call in batch::plan(updates) {
        let count = call.len() as u64;
        let closes = call.iter().any(|u| u.update_type == UpdateType::Execution);
        shared.calls.fetch_add(1, Ordering::Relaxed);
        let response = service
            .checkpoint(&shared.arn, token, call)
            .await
            .map_err(|e| StoreError::Database {
                path: shared.arn.clone(),
                message: e.to_string(),
            })?;
        shared.updates.fetch_add(count, Ordering::Relaxed);
        let mut operations = response.operations;
        let mut marker = response.next_marker;
        match response.token {
            Some(next) => *token = next,
            None if closes => {}
            None => {
                shared.revoked.store(true, Ordering::SeqCst);
                let mut ops = shared.ops.lock().unwrap_or_else(|p| p.into_inner());
                operations.iter().for_each(|op| ops.merge(op));
                return Err(revoked_error(&shared.arn));
            }
        }
        while let Some(m) = marker.filter(|m| !m.is_empty()) {
            let page = service
                .get_state(&shared.arn, token, &m)
                .await
                .map_err(|e| StoreError::Database {
                    path: shared.arn.clone(),
                    message: e.to_string(),
                })?;
            operations.extend(page.operations);
            marker = page.next_marker;
        }
        let mut ops = shared.ops.lock().unwrap_or_else(|p| p.into_inner());
        operations.iter().for_each(|op| ops.merge(op));
    }
    Ok(())
}

impl CheckpointStore for LambdaCheckpointStore {
    fn put_execution(&self, record: ExecutionRecord) -> Commit {
        *self
            .shared
            .execution
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(record);
        Commit::ready(Ok(()))
    }

    fn checkpoint(&self, execution_id: &str, record: &OperationRecord) -> Commit {
        self.write(execution_id, record, true)
    }

    fn checkpoint_nowait(&self, execution_id: &str, record: &OperationRecord) {
        drop(self.write(execution_id, record, false));
    }

    fn flush(&self) -> Commit {
        if let Some(stop) = self.shared.stopped() {
            return Commit::ready(Err(stop));
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_err() {
            return Commit::ready(Err(StoreError::Closed));
        }
        Commit::pending(rx)
    }

    fn get_execution(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self
            .shared
            .execution
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|r| r.id == execution_id))
    }

    fn list_executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        Ok(self
            .shared
            .execution
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect())
    }

    fn load_operations(&self, execution_id: &str) -> Result<Vec<OperationRecord>, StoreError> {
        let _ = execution_id;
        let ops = self.shared.ops.lock().unwrap_or_else(|p| p.into_inner());
        Ok(ops
            .order
            .iter()
            .filter_map(|id| ops.by_id.get(id).cloned())
            .collect())
    }

    fn load_operation(
        &self,
        execution_id: &str,
        op_id: &str,
    ) -> Result<Option<OperationRecord>, StoreError> {
        let _ = execution_id;
        let ops = self.shared.ops.lock().unwrap_or_else(|p| p.into_inner());
        Ok(ops.by_id.get(op_id).cloned())
    }

    fn stopped(&self, execution_id: &str) -> Option<StoreError> {
        let _ = execution_id;
        self.shared.stopped()
    }

    fn records_item_starts(&self) -> bool {
        true
    }

    fn chains_remotely(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
