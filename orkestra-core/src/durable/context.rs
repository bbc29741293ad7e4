//! [`DurableContext`]: the handle a durable handler uses to run operations, and the shared
//! per-execution replay state behind it.

use super::error::DurableError;
use super::ids::operation_id;
use super::pending::Pending;
use super::store::{CheckpointStore, Commit, OperationRecord, OperationType};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// State shared by every context of one execution.
pub(crate) struct ExecutionState {
    pub(crate) execution_id: Arc<str>,
    pub(crate) store: Arc<dyn CheckpointStore>,
    /// Records loaded at start and not reached again yet.
    replay: Mutex<Pending>,
    /// Skip timer/retry delays (test runner).
    pub(crate) skip_waits: bool,
    /// Told how each map advances (the CLI's progress bars), if set.
    pub(crate) progress: Option<Arc<dyn crate::engine::Progress>>,
    /// The time operations read.
    pub(crate) clock: super::clock::Clock,
    /// Waits at most this long are served in process instead of suspending.
    pub(crate) hold: Duration,
    /// Which paths have parked (see `suspend.rs`).
    pub(crate) suspension: super::suspend::Suspension,
}

impl ExecutionState {
    pub(crate) fn new(
        execution_id: String,
        store: Arc<dyn CheckpointStore>,
        records: Vec<OperationRecord>,
        skip_waits: bool,
    ) -> Self {
        ExecutionState {
            execution_id: execution_id.into(),
            store,
            replay: Mutex::new(Pending::new(records)),
            skip_waits,
            progress: None,
            clock: super::clock::Clock::system(),
            hold: super::suspend::DEFAULT_HOLD,
            suspension: Default::default(),
        }
    }
}

/// The durable context handed to a handler (and to each map item, branch and child context).
///
/// Every operation started through it gets a deterministic id from this context's id and a
/// per-context counter, so a replay meets the same ids in the same order.
#[derive(Clone)]
pub struct DurableContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    exec: Arc<ExecutionState>,
    /// This context's operation id; `None` for the root.
    id: Option<String>,
    /// The parent its operations record, when it is not `id`: a FLAT map item's virtual
    /// context records its operations under the map.
    record_parent: Option<String>,
    counter: AtomicU64,
}

impl std::fmt::Debug for DurableContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableContext")
            .field("execution_id", &self.inner.exec.execution_id)
            .field("context_id", &self.inner.id)
            .finish()
    }
}

impl DurableContext {
    pub(crate) fn root(exec: Arc<ExecutionState>) -> Self {
        Self::with_id(exec, None)
    }

    fn with_id(exec: Arc<ExecutionState>, id: Option<String>) -> Self {
        DurableContext {
            inner: Arc::new(ContextInner {
                exec,
                id,
                record_parent: None,
                counter: AtomicU64::new(0),
            }),
        }
    }

    /// A child context whose operations are parented to operation `id`.
    pub(crate) fn child(&self, id: String) -> Self {
        Self::with_id(self.inner.exec.clone(), Some(id))
    }

    /// A virtual child context (FLAT nesting): its operations' ids are derived from `id`, as
    /// a child's, but they record `record_parent` as their parent, and `id` itself has no record.
    pub(crate) fn virtual_child(&self, id: String, record_parent: String) -> Self {
        DurableContext {
            inner: Arc::new(ContextInner {
                exec: self.inner.exec.clone(),
                id: Some(id),
                record_parent: Some(record_parent),
                counter: AtomicU64::new(0),
            }),
        }
    }

    /// The execution's id.
    pub fn execution_id(&self) -> &str {
        &self.inner.exec.execution_id
    }

    /// Fails when a step body of this execution is running: a step cannot start durable
    /// operations (`kind` and `name` name the one asked for, e.g. `step` `"charge"`).
    pub(crate) fn ensure_not_in_step(
        &self,
        kind: &str,
        name: Option<&str>,
    ) -> Result<(), DurableError> {
        super::step_scope::ensure_not_in_step(self.execution_key(), kind, name)
    }

    /// Identifies this context's execution (the address of its shared state).
    pub(crate) fn execution_key(&self) -> usize {
        Arc::as_ptr(&self.inner.exec) as usize
    }

    /// The progress hook the executor was given, if any.
    pub(crate) fn progress(&self) -> Option<&dyn crate::engine::Progress> {
        self.inner.exec.progress.as_deref()
    }

    /// The execution's id, shared.
    pub(crate) fn execution_id_arc(&self) -> Arc<str> {
        self.inner.exec.execution_id.clone()
    }

    /// This context's operation id (`None` for the root context): the parent its operations
    /// record (for a FLAT map item, the map's id).
    pub fn context_id(&self) -> Option<&str> {
        self.inner
            .record_parent
            .as_deref()
            .or(self.inner.id.as_deref())
    }

    /// The id the next operation started here will get.
    pub(crate) fn next_id(&self) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed) + 1;
        operation_id(self.inner.id.as_deref().unwrap_or(""), n)
    }

    /// The id of the `index`-th (0-based) child of operation `parent` (map items, branches).
    pub(crate) fn nth_child_id(parent: &str, index: usize) -> String {
        operation_id(parent, index as u64 + 1)
    }

    /// The recorded state of operation `id`, checked against what the code asks for now.
    pub(crate) fn replay(
        &self,
        id: &str,
        op_type: OperationType,
        name: Option<&str>,
    ) -> Result<Option<OperationRecord>, DurableError> {
        let mut pending = self.pending();
        match pending.get(id) {
            None => Ok(None),
            Some(rec) if rec.op_type == op_type && rec.name.as_deref() == name => {
                Ok(pending.remove(id))
            }
            Some(rec) => Err(DurableError::non_deterministic(
                id,
                (rec.op_type, rec.name.clone()),
                (op_type, name.map(str::to_string)),
            )),
        }
    }

    /// Whether the record of operation `id` not replayed yet (if any) has this type and name
    /// (without taking it).
    pub(crate) fn recorded_as(&self, id: &str, op_type: OperationType, name: &str) -> bool {
        self.pending()
            .get(id)
            .is_some_and(|rec| rec.op_type == op_type && rec.name.as_deref() == Some(name))
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner
            .exec
            .replay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the recorded descendants of context operation `id`, whose body will not run again
    /// (it finished, and its stored result is used).
    pub(crate) fn forget_descendants(&self, id: &str) {
        self.pending().forget_descendants(id);
    }

    /// Why this execution's writes are refused (a store fault, a lost lease), if they are:
    /// the run then stops in place instead of starting more work.
    pub(crate) fn stopped(&self) -> Option<crate::durable::store::StoreError> {
        let exec = &self.inner.exec;
        exec.store.stopped(&exec.execution_id)
    }

    /// Writes `record` to the store; await the [`Commit`] when the write must be durable
    /// before continuing.
    pub(crate) fn checkpoint(&self, record: &OperationRecord) -> Commit {
        let exec = &self.inner.exec;
        exec.suspension.wrote();
        exec.store.checkpoint(&exec.execution_id, record)
    }

    /// Writes `record` to the store without waiting for it to be durable.
    pub(crate) fn checkpoint_nowait(&self, record: &OperationRecord) {
        let exec = &self.inner.exec;
        exec.suspension.wrote();
        exec.store.checkpoint_nowait(&exec.execution_id, record);
    }

    /// Writes `record` without waiting for it to be durable, for work that may run again
    /// anyway (an at-least-once step's result, a map item's completion). The log is ordered:
    /// whatever must not become visible before this write is durable awaits a later write
    /// (a barrier: an at-most-once START, a callback, the execution's result). Waits only
    /// while the store's queue is long (backpressure), and fails when the execution's writes
    /// are refused (a store fault, a lost lease), so the run stops in place.
    pub(crate) async fn checkpoint_ordered(
        &self,
        record: &OperationRecord,
    ) -> Result<(), DurableError> {
        let exec = &self.inner.exec;
        exec.suspension.wrote();
        exec.store
            .checkpoint_ordered(&exec.execution_id, record)
            .await?;
        match self.stopped() {
            Some(stop) => Err(stop.into()),
            None => Ok(()),
        }
    }

    /// The run's suspension state.
    pub(crate) fn suspension(&self) -> &super::suspend::Suspension {
        &self.inner.exec.suspension
    }

    /// The clock the execution reads.
    pub(crate) fn clock(&self) -> &super::clock::Clock {
        &self.inner.exec.clock
    }

    /// Now, by the execution's clock (milliseconds since the Unix epoch).
    pub fn now_ms(&self) -> u64 {
        self.inner.exec.clock.now_ms()
    }

    /// Waits at most this long are served in process.
    pub(crate) fn hold(&self) -> Duration {
        self.inner.exec.hold
    }

    /// Whether this run is still replaying: some recorded operations have not been reached
    /// again yet.
    pub fn is_replaying(&self) -> bool {
        !self.pending().is_empty()
    }

    /// A logger that stays silent while the execution replays (so a resumed run does not
    /// log the same lines again).
    pub fn logger(&self) -> ReplayLogger {
        ReplayLogger { ctx: self.clone() }
    }

    /// The execution's store.
    pub(crate) fn store(&self) -> &Arc<dyn CheckpointStore> {
        &self.inner.exec.store
    }

    /// Whether retry delays and timers are skipped (test runner).
    pub fn skips_waits(&self) -> bool {
        self.inner.exec.skip_waits
    }
}

/// Logs through `tracing` unless the execution is replaying; see [`DurableContext::logger`].
#[derive(Debug, Clone)]
pub struct ReplayLogger {
    ctx: DurableContext,
}

impl ReplayLogger {
    /// Logs at INFO (returns whether it logged).
    pub fn info(&self, message: impl std::fmt::Display) -> bool {
        let live = !self.ctx.is_replaying();
        if live {
            tracing::info!(execution = %self.ctx.execution_id(), "{message}");
        }
        live
    }

    /// Logs at WARN (returns whether it logged).
    pub fn warn(&self, message: impl std::fmt::Display) -> bool {
        let live = !self.ctx.is_replaying();
        if live {
            tracing::warn!(execution = %self.ctx.execution_id(), "{message}");
        }
        live
    }
}
