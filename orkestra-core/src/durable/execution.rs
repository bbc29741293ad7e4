//! Running a durable handler against a store: start, or resume by id (replaying the
//! checkpoints already there).

use super::context::{DurableContext, ExecutionState};
use super::error::{capture_error, DurableError};
use super::owner::Ownership;
use super::step::BoxFuture;
use super::store::{CheckpointStore, ErrorObject, ExecutionRecord, InvocationStatus};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

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
}

impl std::fmt::Debug for DurableExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableExecutor")
            .field("skip_waits", &self.skip_waits)
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
        }
    }

    /// Tells `progress` how each map advances (items done, failures), e.g.
    /// `orkestra::progress::TerminalProgress` for bars on a terminal.
    pub fn with_progress(mut self, progress: Arc<dyn crate::engine::Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Skips retry delays and timers (what the test runner does).
    pub fn skip_waits(mut self, skip: bool) -> Self {
        self.skip_waits = skip;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CheckpointStore> {
        &self.store
    }

    /// Runs execution `execution_id` of `handler` to its end: a new id starts with `event`; a
    /// running one resumes with its stored event, replaying its checkpoints; a finished one
    /// is returned as it is.
    ///
    /// The run holds the execution's lease ([`CheckpointStore::acquire_lease`]): while another
    /// live process runs it, this fails with [`DurableError::Owned`]. A store fault (or a lost
    /// lease) stops the run in place with [`DurableError::Store`], recording nothing more: the
    /// execution stays RUNNING, resumable where it was.
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
        outcome
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
            Some(rec) if rec.status != InvocationStatus::Running => return Ok(rec.clone()),
            Some(rec) => serde_json::from_str(&rec.input).map_err(|e| DurableError::Serde {
                what: format!("stored input of execution {execution_id}"),
                message: e.to_string(),
            })?,
            None => event,
        };
        let mut record = ExecutionRecord {
            id: execution_id.to_string(),
            handler: handler_name.to_string(),
            status: InvocationStatus::Running,
            input: input.to_string(),
            result: None,
            error: None,
            started_ms: existing
                .as_ref()
                .map_or(Some(ExecutionRecord::now_ms()), |rec| rec.started_ms),
            ended_ms: None,
        };
        if existing.is_none() {
            self.store.put_execution(record.clone()).await?;
        }
        let ops = self.store.load_operations(execution_id)?;
        let mut state = ExecutionState::new(
            execution_id.to_string(),
            self.store.clone(),
            ops,
            self.skip_waits,
        );
        state.progress = self.progress.clone();
        let ctx = DurableContext::root(Arc::new(state));
        let outcome = handler.invoke(input, ctx).await;
        // Whatever the handler made of a store fault (an error it returned, a failed item)
        // is not its outcome: the run stops here, as if the process had died at the fault.
        if let Some(stop) = self.store.stopped(execution_id) {
            return Err(DurableError::Store(stop));
        }
        record.ended_ms = Some(ExecutionRecord::now_ms());
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
        self.store.put_execution(record.clone()).await?;
        Ok(record)
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
