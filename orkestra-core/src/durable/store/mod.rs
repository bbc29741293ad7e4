//! Where checkpoints live: the narrow [`CheckpointStore`] trait and its record types.
//!
//! The trait only appends/updates operation records, loads an execution's records and
//! lists/inspects executions, so a remote checkpoint service can sit behind it too.

mod due;
#[cfg(feature = "aws")]
pub mod lambda;
pub(crate) mod sqlite;

pub use due::{DueChange, DueExecution, DueState, WakeTicket};

pub use sqlite::{CheckProblem, CheckReport, SqliteStore, Synchronous};

use super::owner::Ownership;
use super::step::BoxFuture;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};
use tokio::sync::oneshot;

/// The kind of a durable operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationType {
    /// A step: user code run at most/at least once per attempt.
    Step,
    /// A context (map, map iteration, parallel, child context).
    Context,
    /// A durable timer.
    Wait,
    /// A callback completed from outside.
    Callback,
    /// An invocation of another durable handler.
    ChainedInvoke,
}

impl OperationType {
    /// The stored spelling, e.g. `STEP`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationType::Step => "STEP",
            OperationType::Context => "CONTEXT",
            OperationType::Wait => "WAIT",
            OperationType::Callback => "CALLBACK",
            OperationType::ChainedInvoke => "CHAINED_INVOKE",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "STEP" => OperationType::Step,
            "CONTEXT" => OperationType::Context,
            "WAIT" => OperationType::Wait,
            "CALLBACK" => OperationType::Callback,
            "CHAINED_INVOKE" => OperationType::ChainedInvoke,
            _ => return None,
        })
    }
}

/// The status of an operation record: the statuses of the Lambda durable checkpoint API's
/// `Operation.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    /// Started, not finished (an at-most-once step found so on replay was interrupted).
    Started,
    /// Failed an attempt and waits for its retry (until `next_attempt_ms`).
    Pending,
    /// A retry that is due: the step may START its next attempt.
    Ready,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Cancelled before it finished (e.g. a cancelled wait).
    Cancelled,
    /// Ended by its timeout (e.g. a callback nobody answered in time).
    TimedOut,
    /// Ended because its execution was stopped.
    Stopped,
}

impl OperationStatus {
    /// Every status, in the order above.
    pub const ALL: [OperationStatus; 8] = [
        OperationStatus::Started,
        OperationStatus::Pending,
        OperationStatus::Ready,
        OperationStatus::Succeeded,
        OperationStatus::Failed,
        OperationStatus::Cancelled,
        OperationStatus::TimedOut,
        OperationStatus::Stopped,
    ];

    /// The stored spelling, e.g. `SUCCEEDED`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Started => "STARTED",
            OperationStatus::Pending => "PENDING",
            OperationStatus::Ready => "READY",
            OperationStatus::Succeeded => "SUCCEEDED",
            OperationStatus::Failed => "FAILED",
            OperationStatus::Cancelled => "CANCELLED",
            OperationStatus::TimedOut => "TIMED_OUT",
            OperationStatus::Stopped => "STOPPED",
        }
    }

    /// Parses the stored spelling.
    ///
    /// ```
    /// use orkestra::durable::OperationStatus;
    /// for status in OperationStatus::ALL {
    ///     assert_eq!(OperationStatus::parse(status.as_str()), Some(status));
    /// }
    /// assert_eq!(OperationStatus::parse("DONE"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Whether the operation has finished (succeeded, or ended without a result).
    pub fn is_finished(self) -> bool {
        self == OperationStatus::Succeeded || self.is_failure()
    }

    /// Whether the operation ended without a result: failed, cancelled, timed out or stopped
    /// (a replay raises its recorded error).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            OperationStatus::Failed
                | OperationStatus::Cancelled
                | OperationStatus::TimedOut
                | OperationStatus::Stopped
        )
    }
}

/// The type-specific fields of an operation record that the service side of the protocol
/// owns (`WaitDetails`, `StepDetails`, `CallbackDetails`, `ContextDetails`); absent fields are
/// left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationDetails {
    /// A wait's wake-up time, in milliseconds since the Unix epoch (`ScheduledEndTimestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_end_ms: Option<u64>,
    /// When a pending step retry is due, in milliseconds since the Unix epoch
    /// (`NextAttemptTimestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_ms: Option<u64>,
    /// A callback's id, as callers complete it (`CallbackId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_id: Option<String>,
    /// A context whose result is a summary: a replay runs its children again to rebuild the
    /// value (`ReplayChildren`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay_children: bool,
    /// A callback's heartbeat timeout in milliseconds, as its START asks for it
    /// (`CallbackOptions.HeartbeatTimeoutSeconds`); the Lambda service enforces it, the
    /// embedded store does not keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_ms: Option<u64>,
    /// A chained invoke's target function, as its START names it
    /// (`ChainedInvokeOptions.FunctionName`); the embedded store does not keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
}

/// Whether an operation's stored result is always JSON text: a map's or parallel's results
/// (the batch and each item) and a child context's may be encoded by a custom `Serdes`, which
/// alone can read them.
pub(crate) fn result_is_json(op_type: OperationType, sub_type: Option<&str>) -> bool {
    op_type != OperationType::Context
        || !matches!(
            sub_type,
            Some("Map" | "MapIteration" | "Parallel" | "ParallelBranch" | "RunInChildContext")
        )
}

/// A recorded error: its type name and message (JSON `{"ErrorType", "ErrorMessage"}` as the SDK's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorObject {
    /// The error's type, e.g. `ValueError` or a Rust type name.
    pub error_type: String,
    /// The error's message.
    pub error_message: String,
}

impl ErrorObject {
    /// An error object with the given type and message.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        ErrorObject {
            error_type: error_type.into(),
            error_message: error_message.into(),
        }
    }

    /// Captures any displayable error, naming it after its Rust type (last path segment).
    pub fn from_error<E: std::fmt::Display>(error: &E) -> Self {
        let full = std::any::type_name::<E>();
        let base = full.split('<').next().unwrap_or(full);
        let short = base.rsplit("::").next().unwrap_or(base);
        ErrorObject::new(short, error.to_string())
    }
}

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// One checkpointed operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationRecord {
    /// Deterministic id (see [`crate::durable::operation_id`]).
    pub id: String,
    /// The id of the enclosing context operation; `None` at the root.
    pub parent_id: Option<String>,
    /// The operation's type.
    pub op_type: OperationType,
    /// A finer kind, e.g. `Map`, `MapIteration`, `Parallel`, `Step`.
    pub sub_type: Option<String>,
    /// The operation's name, if it has one.
    pub name: Option<String>,
    /// Its status.
    pub status: OperationStatus,
    /// JSON text of the result, when succeeded.
    pub result: Option<String>,
    /// The error, when failed (or the last attempt's error while pending).
    pub error: Option<ErrorObject>,
    /// Attempt number (1-based; 0 for operations without attempts).
    pub attempt: u32,
    /// When its first record was committed, in milliseconds since the Unix epoch (the
    /// protocol's `StartTimestamp`); set by [`CheckpointStore::load_operations`], `None`
    /// when writing and for records older than schema version 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// When its finishing record was committed (`EndTimestamp`); `None` while unfinished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<u64>,
    /// Type-specific fields (wake-up time, next attempt, callback id, replay-children).
    #[serde(default, flatten)]
    pub details: OperationDetails,
}

/// The status of a whole execution (`GetDurableExecution`'s `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvocationStatus {
    /// Started and not finished (running, suspended or crashed).
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Ended by its execution timeout.
    TimedOut,
    /// Stopped from outside.
    Stopped,
}

impl InvocationStatus {
    /// Every status, in the order above.
    pub const ALL: [InvocationStatus; 5] = [
        InvocationStatus::Running,
        InvocationStatus::Succeeded,
        InvocationStatus::Failed,
        InvocationStatus::TimedOut,
        InvocationStatus::Stopped,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationStatus::Running => "RUNNING",
            InvocationStatus::Succeeded => "SUCCEEDED",
            InvocationStatus::Failed => "FAILED",
            InvocationStatus::TimedOut => "TIMED_OUT",
            InvocationStatus::Stopped => "STOPPED",
        }
    }

    /// Parses the stored spelling.
    ///
    /// ```
    /// use orkestra::durable::InvocationStatus;
    /// for status in InvocationStatus::ALL {
    ///     assert_eq!(InvocationStatus::parse(status.as_str()), Some(status));
    /// }
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// One execution of a durable handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The execution id (chosen by the caller; unique in the store).
    pub id: String,
    /// The handler's name.
    pub handler: String,
    /// Its status.
    pub status: InvocationStatus,
    /// JSON text of the input event.
    pub input: String,
    /// JSON text of the result, when succeeded.
    pub result: Option<String>,
    /// The error, when failed.
    pub error: Option<ErrorObject>,
    /// When it started, in milliseconds since the Unix epoch (`None` in stores older than
    /// schema version 3).
    #[serde(default)]
    pub started_ms: Option<u64>,
    /// When it finished (succeeded or failed), in milliseconds since the Unix epoch.
    #[serde(default)]
    pub ended_ms: Option<u64>,
}

impl ExecutionRecord {
    /// The current time in milliseconds since the Unix epoch, as `started_ms` / `ended_ms`.
    pub fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default()
    }
}

/// A store failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("checkpoint store error at {path}: {message}")]
    Database {
        /// The store's location.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Another connection held the file's lock past the busy timeout (a long writer, a
    /// killed process's WAL being recovered): transient, retried before it counts as a fault.
    #[error("checkpoint store at {path} is busy: {message}")]
    Busy {
        /// The store's location.
        path: String,
        /// SQLite's message.
        message: String,
    },
    /// The store's writer has stopped.
    #[error("checkpoint store writer has stopped")]
    Closed,
    /// A stored row could not be read back.
    #[error("corrupt checkpoint row in {table}: {message}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong, naming the execution and operation.
        message: String,
    },
    /// Another process took this execution's lease over: this process's writes to it are
    /// refused, and it stops without recording anything more.
    #[error(
        "execution {execution:?} is no longer owned by this process (its lease was taken \
         over); its writes are refused and this run stops"
    )]
    LeaseLost {
        /// The execution.
        execution: String,
    },
}

impl StoreError {
    /// Whether the error is this process losing an execution's lease (a conflict, not a
    /// fault of the store).
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, StoreError::LeaseLost { .. })
    }
}

/// A pending write: await it (or call [`Commit::wait`]) when the write must be durable
/// before the code continues; drop it otherwise (the write still happens, in order).
#[must_use = "drop a Commit explicitly when the write need not be durable yet"]
pub struct Commit(CommitInner);

enum CommitInner {
    Pending(oneshot::Receiver<Result<(), StoreError>>),
    Ready(Option<Result<(), StoreError>>),
    Later(BoxFuture<'static, Result<(), StoreError>>),
}

impl Commit {
    /// A commit that has already happened (or failed).
    pub fn ready(result: Result<(), StoreError>) -> Self {
        Commit(CommitInner::Ready(Some(result)))
    }

    /// A commit the writer will report on `rx`.
    pub fn pending(rx: oneshot::Receiver<Result<(), StoreError>>) -> Self {
        Commit(CommitInner::Pending(rx))
    }

    /// A commit that completes with `future` (e.g. once a store's queue has drained).
    pub fn later(future: impl Future<Output = Result<(), StoreError>> + Send + 'static) -> Self {
        Commit(CommitInner::Later(Box::pin(future)))
    }

    /// Blocks the thread until the write is durable (for non-async callers; not inside a
    /// runtime worker).
    pub fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            CommitInner::Ready(r) => r.unwrap_or(Ok(())),
            CommitInner::Pending(rx) => rx.blocking_recv().unwrap_or(Err(StoreError::Closed)),
            CommitInner::Later(future) => block_on(future),
        }
    }
}

/// Wakes a parked thread.
struct ThreadWaker(std::thread::Thread);

impl std::task::Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on this thread, parking it while the future waits.
fn block_on<T>(mut future: BoxFuture<'static, T>) -> T {
    let waker = std::sync::Arc::new(ThreadWaker(std::thread::current())).into();
    let mut cx = TaskCx::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::park();
    }
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            CommitInner::Ready(r) => Poll::Ready(r.take().unwrap_or(Ok(()))),
            CommitInner::Pending(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(StoreError::Closed))),
            CommitInner::Later(future) => future.as_mut().poll(cx),
        }
    }
}

/// Where an execution's checkpoints are kept.
///
/// Writes are ordered per store; each returns a [`Commit`] that completes once the write is
/// durable, so callers choose which writes to wait for (group commit batches the rest).
///
/// The trait is kept to what the AWS Lambda durable-execution checkpoint service offers, so
/// that service can be the next backend:
///
/// | method | Lambda API |
/// |---|---|
/// | [`checkpoint`](Self::checkpoint) | one `OperationUpdate` (`Id`, `ParentId`, `Type`, `SubType`, `Name`, `Payload`, `Error`; the status as its `Action`: START, RETRY, SUCCEED, FAIL), batched into `CheckpointDurableExecution` calls along the checkpoint-token chain; the [`Commit`] completes when the call carrying it returns |
/// | [`checkpoint`](Self::checkpoint) of a READY record | nothing to send: a due retry turning READY is the service's own transition (the engine writes it for stores that play the service) |
/// | [`checkpoint_with_due`](Self::checkpoint_with_due) | nothing to send: callbacks are completed by `SendDurableExecutionCallback*`, and the service re-invokes |
/// | [`flush`](Self::flush) | the pending `CheckpointDurableExecution` call |
/// | [`load_operations`](Self::load_operations), [`load_operation`](Self::load_operation) | the pages of `GetDurableExecutionState` (and `NewExecutionState` of each checkpoint, which brings completed callbacks) |
/// | [`get_execution`](Self::get_execution), [`list_executions`](Self::list_executions) | `GetDurableExecution`, `ListDurableExecutionsByFunction` |
/// | [`put_execution`](Self::put_execution) | nothing to send: the service starts an execution on `Invoke` and ends it with the handler's response |
/// | [`acquire_lease`](Self::acquire_lease), [`release_lease`](Self::release_lease) | nothing to send: the service runs one invocation of an execution at a time, and a superseded invocation's checkpoint token is refused (the fence) |
/// | [`stopped`](Self::stopped) | a checkpoint call that failed for good, or a revoked token (the invocation records nothing more and returns PENDING) |
pub trait CheckpointStore: Send + Sync + 'static {
    /// Inserts or replaces an execution's record.
    fn put_execution(&self, record: ExecutionRecord) -> Commit;
    /// Inserts or updates one operation record of `execution_id` (keyed by its id).
    fn checkpoint(&self, execution_id: &str, record: &OperationRecord) -> Commit;
    /// Writes like [`checkpoint`](Self::checkpoint) when nobody waits for the write to be
    /// durable (it still happens, in order); a store may skip the bookkeeping of a [`Commit`].
    fn checkpoint_nowait(&self, execution_id: &str, record: &OperationRecord) {
        drop(self.checkpoint(execution_id, record));
    }
    /// Writes like [`checkpoint_nowait`](Self::checkpoint_nowait), for a write the execution
    /// need not wait for (work that may run again anyway: an at-least-once step's result, a
    /// map item's completion). The returned [`Commit`] is not this write's: it completes at
    /// once while the store keeps up, and only holds the caller back (until earlier writes
    /// are durable) when too many writes are queued. Writes are ordered, so awaiting any later
    /// write (a barrier) also waits for this one; a fault or a lost lease on it refuses every
    /// later write of the execution.
    fn checkpoint_ordered(&self, execution_id: &str, record: &OperationRecord) -> Commit {
        self.checkpoint_nowait(execution_id, record);
        Commit::ready(Ok(()))
    }
    /// Completes once every write issued before it is durable.
    fn flush(&self) -> Commit;
    /// An execution's record, if it exists.
    fn get_execution(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, StoreError>;
    /// All executions, oldest first.
    fn list_executions(&self) -> Result<Vec<ExecutionRecord>, StoreError>;
    /// An execution's operation records, in the order they were first written.
    fn load_operations(&self, execution_id: &str) -> Result<Vec<OperationRecord>, StoreError>;
    /// One operation record (e.g. to poll a callback), if it exists.
    fn load_operation(
        &self,
        execution_id: &str,
        op_id: &str,
    ) -> Result<Option<OperationRecord>, StoreError>;
    /// Takes the lease of `execution_id` for this process, unless another live holder has
    /// it; from then on the store fences the execution's writes by it. A store without
    /// leases (the default) always grants it: there one invocation at a time is the
    /// service's job (the Lambda checkpoint-token chain).
    fn acquire_lease(
        &self,
        execution_id: &str,
    ) -> BoxFuture<'static, Result<Ownership, StoreError>> {
        let _ = execution_id;
        Box::pin(std::future::ready(Ok(Ownership::Acquired)))
    }
    /// Gives the lease of `execution_id` up (after every write issued before it).
    fn release_lease(&self, execution_id: &str) -> Commit {
        let _ = execution_id;
        Commit::ready(Ok(()))
    }
    /// Why writes of `execution_id` are refused, if they are: the store failed (every
    /// write after a fault is refused, so nothing derived from the fault is recorded), or
    /// this process lost the execution's lease. The engine then stops the run in place.
    fn stopped(&self, execution_id: &str) -> Option<StoreError> {
        let _ = execution_id;
        None
    }
    /// Changes `execution_id`'s entry in the wake-up index (after every write issued before
    /// it, under the same fence). A store without an index (the default) ignores it: there
    /// the service re-invokes suspended executions.
    fn change_due(&self, execution_id: &str, change: DueChange) -> Commit {
        let _ = (execution_id, change);
        Commit::ready(Ok(()))
    }
    /// Writes `record` and applies `change` to the wake-up index atomically: both become
    /// durable, or neither (a completed callback and its execution becoming due, so a crash
    /// cannot leave the one without the other). The default writes them one after the other,
    /// which is enough for a store without an index (the default [`change_due`](Self::change_due)
    /// ignores the change: there the service re-invokes); a store with an index overrides it.
    fn checkpoint_with_due(
        &self,
        execution_id: &str,
        record: &OperationRecord,
        change: DueChange,
    ) -> Commit {
        let written = self.checkpoint(execution_id, record);
        let due = self.change_due(execution_id, change);
        Commit::later(async move {
            written.await?;
            due.await
        })
    }
    /// `execution_id`'s entry in the wake-up index, if it has one.
    fn due_state(&self, execution_id: &str) -> Result<Option<DueState>, StoreError> {
        let _ = execution_id;
        Ok(None)
    }
    /// Up to `limit` executions due at `now_ms` or earlier, earliest first.
    fn due_executions(&self, now_ms: u64, limit: usize) -> Result<Vec<DueExecution>, StoreError> {
        let _ = (now_ms, limit);
        Ok(Vec::new())
    }
    /// Whether each map or parallel item records a CONTEXT START before its operations (the
    /// Lambda service needs a parent context to exist before its children; the embedded store
    /// does not, and saves the write). Default `false`.
    fn records_item_starts(&self) -> bool {
        false
    }
    /// Whether `ctx.invoke` is a chained invoke the store's service runs (CHAINED_INVOKE START
    /// with the input as payload, then the execution suspends until the service has the
    /// target's result) instead of a chained execution run in this process. Default `false`.
    fn chains_remotely(&self) -> bool {
        false
    }
}
