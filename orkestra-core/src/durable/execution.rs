//! Running a durable handler against a store: start, or resume by id (replaying the
//! checkpoints already there).

use super::clock::Clock;
use super::context::{DurableContext, ExecutionState};
use super::error::{capture_error, DurableError};
use super::owner::Ownership;
use super::step::BoxFuture;
use super::store::{
    CheckpointStore, DueChange, ErrorObject, ExecutionRecord, InvocationStatus, WakeTicket,
};
use super::suspend::{drive, Ended, DEFAULT_HOLD};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// A durable handler: `async fn(event: E, ctx: DurableContext) -> Result<T, Err>`.
pub trait DurableHandler: Send + Sync + 'static {
    /// Runs the handler on a JSON event, giving a JSON result or a recorded error.
    fn invoke(
        &self,
        event: Value,
        ctx: DurableContext,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>>;
}

/// A function `Fn(E, DurableContext) -> impl Future<Output = Result<T, Err>>` as a
/// [`DurableHandler`]; made by [`handler_fn`].
pub struct FnHandler<F, E> {
    f: F,
    _event: PhantomData<fn(E)>,
}

/// Wraps an `async fn(event: E, ctx: DurableContext) -> Result<T, Err>` as a [`DurableHandler`].
pub fn handler_fn<F, Fut, E, T, Err>(f: F) -> FnHandler<F, E>
where
    F: Fn(E, DurableContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Err>> + Send + 'static,
    E: DeserializeOwned + Send + 'static,
    T: Serialize + Send + 'static,
    Err: std::fmt::Display + Send + 'static,
{
    FnHandler {
        f,
        _event: PhantomData,
    }
}

impl<F, Fut, E, T, Err> DurableHandler for FnHandler<F, E>
where
    F: Fn(E, DurableContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Err>> + Send + 'static,
    E: DeserializeOwned + Send + 'static,
    T: Serialize + Send + 'static,
    Err: std::fmt::Display + Send + 'static,
{
    fn invoke(
        &self,
        event: Value,
        ctx: DurableContext,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        let event: E = match serde_path_to_error::deserialize(event) {
            Ok(e) => e,
            Err(e) => {
                // The same error name and message shape as a task's (`decode_input`).
                let path = e.path().to_string();
                let at = if path == "." {
                    String::new()
                } else {
                    format!(" at `{path}`")
                };
                let err = ErrorObject::new(
                    crate::error::names::INVALID_INPUT,
                    format!(
                        "the handler could not decode its event{at}: {}",
                        e.into_inner()
                    ),
                );
                return Box::pin(async move { Err(err) });
            }
        };
        let fut = (self.f)(event, ctx);
        Box::pin(async move {
            match fut.await {
                Ok(v) => serde_json::to_value(v).map_err(|e| {
                    ErrorObject::new(
                        "SerdeError",
                        format!("cannot encode the handler's result: {e}"),
                    )
                }),
                Err(e) => Err(capture_error(&e)),
            }
        })
    }
}

/// Starts and resumes executions on one store.
#[derive(Clone)]
pub struct DurableExecutor {
    store: Arc<dyn CheckpointStore>,
    skip_waits: bool,
    progress: Option<Arc<dyn crate::engine::Progress>>,
    clock: Clock,
    hold: Duration,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for DurableExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableExecutor")
            .field("skip_waits", &self.skip_waits)
            .field("hold", &self.hold)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl DurableExecutor {
    /// An executor on `store`.
    pub fn new(store: Arc<dyn CheckpointStore>) -> Self {
        DurableExecutor {
            store,
            skip_waits: false,
            progress: None,
            clock: Clock::system(),
            hold: DEFAULT_HOLD,
            timeout: None,
        }
    }

    /// Tells `progress` how each map advances (items done, failures), e.g.
    /// `orkestra::progress::TerminalProgress` for bars on a terminal.
    pub fn with_progress(mut self, progress: Arc<dyn crate::engine::Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Treats every timer and retry delay as already due: they neither wait nor suspend
    /// (a callback still waits for its result or its timeout).
    pub fn skip_waits(mut self, skip: bool) -> Self {
        self.skip_waits = skip;
        self
    }

    /// Serves waits up to `hold` in this process (sleeping, or polling for a callback)
    /// instead of suspending; the records are the same. Default [`DEFAULT_HOLD`] (1 s);
    /// `Duration::ZERO` suspends on every wait.
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// The clock operations read (a virtual one makes every wait suspend, see
    /// [`DurableTestRunner`](crate::durable::DurableTestRunner)).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Gives a new execution a timeout: once it has run (or waited) this long since it
    /// started it ends TIMED_OUT (error `ExecutionTimedOut`, "Execution timed out after N
    /// seconds."); its operations keep the status they had.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CheckpointStore> {
        &self.store
    }

    /// Runs execution `execution_id` of `handler` until it ends or suspends: a new id
    /// starts with `event`; a running one resumes with its stored event, replaying its
    /// checkpoints; a finished one is returned as it is.
    ///
    /// A suspended execution comes back RUNNING: it waits (for a timer, a retry, a callback,
    /// a chained execution) in the store's wake-up index until a worker
    /// ([`Worker`](crate::durable::Worker)) runs it again; nothing of it stays in memory.
    ///
    /// The run holds the execution's lease ([`CheckpointStore::acquire_lease`]): while another
    /// live process runs it, this fails with [`DurableError::Owned`]. A store fault (or a lost
    /// lease) stops the run in place with [`DurableError::Store`], recording nothing more: the
    /// execution stays RUNNING, resumable where it was. An execution stopped from outside
    /// (`durable stop`) while it runs comes back STOPPED.
    pub async fn run(
        &self,
        execution_id: &str,
        handler_name: &str,
        handler: &dyn DurableHandler,
        event: Value,
    ) -> Result<ExecutionRecord, DurableError> {
        if let Some(rec) = self.store.get_execution(execution_id)? {
            if rec.status != InvocationStatus::Running {
                return Ok(rec);
            }
        }
        if let Ownership::HeldBy(holder) = self.store.acquire_lease(execution_id).await? {
            return Err(DurableError::Owned {
                execution: execution_id.to_string(),
                holder,
            });
        }
        let mut lease = LeaseGuard {
            store: &self.store,
            execution_id,
            held: true,
        };
        let outcome = self
            .run_owned(execution_id, handler_name, handler, event)
            .await;
        // A run stopped by a store fault leaves its lease; the next owner takes it over at
        // once (this process will be gone) or after it expires.
        lease.held = false;
        if self.store.stopped(execution_id).is_none() {
            let _ = self.store.release_lease(execution_id).await;
        }
        match outcome {
            // Stopped (or timed out) from outside while it ran: its lease was taken away.
            Err(DurableError::Store(e)) if e.is_lease_lost() => {
                match self.store.get_execution(execution_id)? {
                    Some(rec) if rec.status != InvocationStatus::Running => Ok(rec),
                    _ => Err(DurableError::Store(e)),
                }
            }
            other => other,
        }
    }

    async fn run_owned(
        &self,
        execution_id: &str,
        handler_name: &str,
        handler: &dyn DurableHandler,
        event: Value,
    ) -> Result<ExecutionRecord, DurableError> {
        // Read again under the lease: the previous owner may have finished it meanwhile.
        let existing = self.store.get_execution(execution_id)?;
        let input = match &existing {
            Some(rec) if rec.status != InvocationStatus::Running => {
                // A worker found the entry of an execution that ended (the run that ended it
                // died before dropping the entry): drop it, logging the wake-up that run
                // served.
                let now_ms = self.clock.now_ms();
                let woke_for = self
                    .store
                    .due_state(execution_id)?
                    .and_then(|d| d.due_ms)
                    .filter(|&d| d <= now_ms);
                let finish = DueChange::Finish { woke_for, now_ms };
                self.store.change_due(execution_id, finish).await?;
                return Ok(rec.clone());
            }
            Some(rec) => serde_json::from_str(&rec.input).map_err(|e| DurableError::Serde {
                what: format!("stored input of execution {execution_id}"),
                message: e.to_string(),
            })?,
            None => event,
        };
        let now_ms = self.clock.now_ms();
        let mut record = ExecutionRecord {
            id: execution_id.to_string(),
            handler: handler_name.to_string(),
            status: InvocationStatus::Running,
            input: input.to_string(),
            result: None,
            error: None,
            started_ms: existing.as_ref().map_or(Some(now_ms), |rec| rec.started_ms),
            ended_ms: None,
        };
        if existing.is_none() {
            self.store.put_execution(record.clone()).await?;
        }
        let ticket = self.claim(execution_id, now_ms, existing.is_none()).await?;
        if ticket.deadline_ms.is_some_and(|d| now_ms >= d) {
            return self
                .time_out(execution_id, record.started_ms, ticket.deadline_ms)
                .await;
        }
        let ops = self.store.load_operations(execution_id)?;
        let mut state = ExecutionState::new(
            execution_id.to_string(),
            self.store.clone(),
            ops,
            self.skip_waits,
        );
        state.progress = self.progress.clone();
        state.clock = self.clock.clone();
        state.hold = self.hold;
        let ctx = DurableContext::root(Arc::new(state));
        let ended = drive(handler.invoke(input, ctx.clone()), &ctx, ticket.deadline_ms).await;
        drop(ctx);
        // Whatever the handler made of a store fault (an error it returned, a failed item)
        // is not its outcome: the run stops here, as if the process had died at the fault.
        if let Some(stop) = self.store.stopped(execution_id) {
            return Err(DurableError::Store(stop));
        }
        let now_ms = self.clock.now_ms();
        let outcome = match ended {
            Ended::Done(outcome) => outcome,
            Ended::TimedOut => {
                return self
                    .time_out(execution_id, record.started_ms, ticket.deadline_ms)
                    .await
            }
            Ended::Suspended(due) => {
                // Everything it waits for is durable (drive flushed) before it is due.
                let due = match (due, ticket.deadline_ms) {
                    (Some(d), Some(t)) => Some(d.min(t)),
                    (d, t) => d.or(t),
                };
                let change = DueChange::Suspend {
                    due_ms: due,
                    seen_wakes: ticket.wakes,
                    woke_for: ticket.woke_for,
                    now_ms,
                };
                self.store.change_due(execution_id, change).await?;
                if let Some(stop) = self.store.stopped(execution_id) {
                    return Err(DurableError::Store(stop));
                }
                return Ok(record);
            }
        };
        record.ended_ms = Some(now_ms);
        match outcome {
            Ok(v) => {
                record.status = InvocationStatus::Succeeded;
                record.result = Some(v.to_string());
            }
            Err(e) => {
                record.status = InvocationStatus::Failed;
                record.error = Some(e);
            }
        }
        let written = self.store.put_execution(record.clone());
        let finish = DueChange::Finish {
            woke_for: ticket.woke_for,
            now_ms,
        };
        let left = self.store.change_due(execution_id, finish);
        written.await?;
        left.await?;
        if let Some(stop) = self.store.stopped(execution_id) {
            return Err(DurableError::Store(stop));
        }
        // A chained execution (`PARENT/OPERATION`) wakes the execution that invoked it.
        if let Some((parent, _)) = execution_id.rsplit_once('/') {
            if self
                .store
                .get_execution(parent)?
                .is_some_and(|p| p.status == InvocationStatus::Running)
            {
                let wake = DueChange::Wake { now_ms };
                self.store.change_due(parent, wake).await?;
            }
        }
        Ok(record)
    }

    /// Marks the run's beginning in the wake-up index; what it saw there is the ticket.
    async fn claim(
        &self,
        execution_id: &str,
        now_ms: u64,
        new: bool,
    ) -> Result<WakeTicket, DurableError> {
        let before = self.store.due_state(execution_id)?;
        let deadline_ms = self
            .timeout
            .filter(|_| new)
            .map(|t| now_ms + t.as_millis() as u64);
        let claim = DueChange::Claim {
            now_ms,
            deadline_ms,
        };
        self.store.change_due(execution_id, claim).await?;
        let after = self.store.due_state(execution_id)?.unwrap_or_default();
        // Read after `before`: a wake-up that made it due just now counts as one.
        let now_ms = self.clock.now_ms();
        Ok(WakeTicket {
            woke_for: before.and_then(|b| b.due_ms).filter(|&d| d <= now_ms),
            wakes: after.wakes,
            deadline_ms: after.deadline_ms.or(deadline_ms),
        })
    }

    /// Ends the execution TIMED_OUT at `deadline_ms` (its operations keep their status, as
    /// the AWS local runner's), with the runner's message.
    async fn time_out(
        &self,
        execution_id: &str,
        started_ms: Option<u64>,
        deadline_ms: Option<u64>,
    ) -> Result<ExecutionRecord, DurableError> {
        let message = match (started_ms, deadline_ms) {
            (Some(start), Some(end)) => format!(
                "Execution timed out after {} seconds.",
                end.saturating_sub(start).div_ceil(1000)
            ),
            _ => "Execution timed out.".to_string(),
        };
        let end = DueChange::End {
            status: InvocationStatus::TimedOut,
            error: ErrorObject::new("ExecutionTimedOut", message),
            now_ms: self.clock.now_ms(),
        };
        self.store.change_due(execution_id, end).await?;
        self.store
            .get_execution(execution_id)?
            .ok_or_else(|| DurableError::InvalidConfig {
                what: "execution",
                message: format!("execution {execution_id:?} vanished while timing out"),
            })
    }
}

/// Gives a run's lease up if the run's future is dropped before it ends (a cancelled run must
/// not keep the execution renewed and owned).
struct LeaseGuard<'a> {
    store: &'a Arc<dyn CheckpointStore>,
    execution_id: &'a str,
    held: bool,
}

impl Drop for LeaseGuard<'_> {
    fn drop(&mut self) {
        if self.held {
            drop(self.store.release_lease(self.execution_id));
        }
    }
}
