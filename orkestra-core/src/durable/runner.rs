//! [`DurableTestRunner`]: runs a handler to completion in-process on a throw-away SQLite
//! store and lets tests look operations up by name. Time is virtual: every wait, retry delay
//! and callback timeout suspends the execution as in production, and the runner moves its
//! clock to the next due time and wakes the execution, so a one-day wait takes no time.

use super::error::DurableError;
use super::execution::{handler_fn, DurableExecutor, DurableHandler};
use super::store::{
    CheckpointStore, ErrorObject, ExecutionRecord, InvocationStatus, OperationRecord,
    OperationStatus, OperationType, SqliteStore,
};
use super::{Clock, DurableContext};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Runs one durable handler in tests.
///
/// ```
/// use orkestra::durable::*;
///
/// async fn handler(n: u32, ctx: DurableContext) -> Result<u32, DurableError> {
///     ctx.step(move |_s: StepContext| async move { Ok::<_, String>(n * 2) }).name("double").await
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let result = DurableTestRunner::new(handler).run(21).await;
/// assert_eq!(result.status(), InvocationStatus::Succeeded);
/// assert_eq!(result.result::<u32>(), 42);
/// assert_eq!(result.get_step("double").unwrap().result::<u32>(), 42);
/// # });
/// ```
pub struct DurableTestRunner {
    handler: Box<dyn DurableHandler>,
    dir: PathBuf,
    store: Arc<SqliteStore>,
    runs: AtomicU64,
    clock: Clock,
}

impl std::fmt::Debug for DurableTestRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableTestRunner")
            .field("dir", &self.dir)
            .finish()
    }
}

impl DurableTestRunner {
    /// A runner for `handler` on a fresh temporary SQLite store.
    ///
    /// # Panics
    /// If the temporary store cannot be created.
    pub fn new<F, Fut, E, T, Err>(handler: F) -> Self
    where
        F: Fn(E, DurableContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Err>> + Send + 'static,
        E: DeserializeOwned + Send + 'static,
        T: Serialize + Send + 'static,
        Err: std::fmt::Display + Send + 'static,
    {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "orkestra-durable-test-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        ));
        let store = SqliteStore::open(dir.join("orkestra.db"))
            .unwrap_or_else(|e| panic!("DurableTestRunner: cannot create a temporary store: {e}"));
        DurableTestRunner {
            handler: Box::new(handler_fn(handler)),
            dir,
            store: Arc::new(store),
            runs: AtomicU64::new(0),
            clock: Clock::virtual_at(ExecutionRecord::now_ms()),
        }
    }

    /// The runner's virtual clock (it starts at the real time and moves only to due times).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The runner's store (e.g. to inspect or seed records).
    pub fn store(&self) -> Arc<SqliteStore> {
        self.store.clone()
    }

    /// Runs a new execution with `input` to its end.
    ///
    /// # Panics
    /// If `input` cannot be serialized or the store fails.
    pub async fn run(&self, input: impl Serialize) -> TestResult {
        let id = format!(
            "test-execution-{}",
            self.runs.fetch_add(1, Ordering::Relaxed) + 1
        );
        self.run_with_id(&id, input).await
    }

    /// Runs (or resumes) execution `id` to its end, or until it waits for nothing but a
    /// callback to be completed (it is then RUNNING: complete the callback with
    /// [`complete_callback`](crate::durable::complete_callback) on [`store`](Self::store)
    /// and run it again). Each time it suspends until a due time, the virtual clock moves
    /// there and the execution is woken, through the same path a worker takes.
    ///
    /// ```
    /// use orkestra::durable::*;
    /// use std::time::Duration;
    ///
    /// async fn handler(_e: (), ctx: DurableContext) -> Result<String, DurableError> {
    ///     ctx.wait(Duration::from_secs(86_400)).await?;
    ///     Ok("a day later".into())
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runner = DurableTestRunner::new(handler);
    /// let before = runner.clock().now_ms();
    /// let result = runner.run(()).await;
    /// assert_eq!(result.result::<String>(), "a day later");
    /// assert_eq!(result.wake_ups, 1);
    /// assert!(runner.clock().now_ms() - before >= 86_400_000, "a day on the virtual clock");
    /// # });
    /// ```
    ///
    /// # Panics
    /// If `input` cannot be serialized or the store fails.
    pub async fn run_with_id(&self, id: &str, input: impl Serialize) -> TestResult {
        let input = serde_json::to_value(input).expect("DurableTestRunner: input must serialize");
        let store: Arc<dyn CheckpointStore> = self.store.clone();
        let executor = DurableExecutor::new(store)
            .clock(self.clock.clone())
            .hold(std::time::Duration::ZERO);
        let fail = |e: DurableError| panic!("DurableTestRunner: execution {id}: {e}");
        let mut execution = executor
            .run(id, "test-handler", self.handler.as_ref(), input.clone())
            .await
            .unwrap_or_else(fail);
        let mut wake_ups = 0;
        while execution.status == InvocationStatus::Running {
            let due = self
                .store
                .due_state(id)
                .unwrap_or_else(|e| panic!("DurableTestRunner: reading {id}'s due time: {e}"))
                .and_then(|d| d.due_ms);
            // Not due itself: waiting for a chained execution, which is due when it is.
            let due = match due {
                Some(due) => Some(due),
                None => self
                    .store
                    .due_executions(i64::MAX as u64, 1)
                    .unwrap_or_else(|e| panic!("DurableTestRunner: reading due times: {e}"))
                    .first()
                    .filter(|d| d.execution_id.starts_with(&format!("{id}/")))
                    .map(|d| d.due_ms),
            };
            let Some(due) = due else { break };
            self.clock.advance_to(due);
            wake_ups += 1;
            execution = executor
                .run(id, "test-handler", self.handler.as_ref(), input.clone())
                .await
                .unwrap_or_else(fail);
        }
        let operations = self
            .store
            .load_operations(id)
            .unwrap_or_else(|e| panic!("DurableTestRunner: loading operations of {id}: {e}"));
        TestResult {
            execution,
            operations,
            wake_ups,
        }
    }

    /// Runs execution `id` again as if its process had died just before recording its end:
    /// the execution goes back to RUNNING (result and error cleared, operation records kept)
    /// and the handler replays them. What a test of "finished work is not redone" needs.
    ///
    /// ```
    /// # use orkestra::durable::*;
    /// async fn handler(n: u32, ctx: DurableContext) -> Result<u32, DurableError> {
    ///     ctx.step(move |_s: StepContext| async move { Ok::<_, String>(n + 1) }).name("inc").await
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let runner = DurableTestRunner::new(handler);
    /// let first = runner.run_with_id("e", 1).await;
    /// let again = runner.replay("e").await;
    /// assert_eq!(again.result::<u32>(), first.result::<u32>());
    /// # });
    /// ```
    ///
    /// # Panics
    /// If execution `id` does not exist or the store fails.
    pub async fn replay(&self, id: &str) -> TestResult {
        let execution = self
            .store
            .get_execution(id)
            .unwrap_or_else(|e| panic!("DurableTestRunner: reading execution {id}: {e}"))
            .unwrap_or_else(|| panic!("DurableTestRunner: no execution {id} to replay"));
        self.store
            .put_execution(ExecutionRecord {
                status: InvocationStatus::Running,
                result: None,
                error: None,
                ended_ms: None,
                ..execution
            })
            .await
            .unwrap_or_else(|e| panic!("DurableTestRunner: reopening execution {id}: {e}"));
        self.run_with_id(id, serde_json::Value::Null).await
    }
}

impl Drop for DurableTestRunner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The outcome of a test run: status, result or error, and every operation record.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The execution record.
    pub execution: ExecutionRecord,
    /// All operation records, in first-write order.
    pub operations: Vec<OperationRecord>,
    /// How many times the execution suspended and the runner woke it.
    pub wake_ups: u32,
}

impl TestResult {
    /// The execution's status.
    pub fn status(&self) -> InvocationStatus {
        self.execution.status
    }

    /// The result decoded as `T`.
    ///
    /// # Panics
    /// If the execution did not succeed or the result is not a `T`.
    pub fn result<T: DeserializeOwned>(&self) -> T {
        let text = self.execution.result.as_deref().unwrap_or_else(|| {
            panic!(
                "execution {} has no result (status {:?}, error {:?})",
                self.execution.id, self.execution.status, self.execution.error
            )
        });
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("execution result {text} does not decode: {e}"))
    }

    /// Whether the execution is suspended waiting for a callback (RUNNING, not due).
    pub fn is_suspended(&self) -> bool {
        self.execution.status == InvocationStatus::Running
    }

    /// The error, if the execution failed.
    pub fn error(&self) -> Option<&ErrorObject> {
        self.execution.error.as_ref()
    }

    fn find(
        &self,
        op_type: OperationType,
        sub: Option<&str>,
        name: &str,
    ) -> Option<OperationView<'_>> {
        let record = self.operations.iter().find(|r| {
            r.op_type == op_type
                && r.name.as_deref() == Some(name)
                && sub.is_none_or(|s| r.sub_type.as_deref() == Some(s))
        })?;
        Some(OperationView {
            record,
            all: &self.operations,
        })
    }

    /// The first step called `name`.
    pub fn get_step(&self, name: &str) -> Option<OperationView<'_>> {
        self.find(OperationType::Step, None, name)
    }

    /// The first map called `name`.
    pub fn get_map(&self, name: &str) -> Option<OperationView<'_>> {
        self.find(OperationType::Context, Some("Map"), name)
    }

    /// The first context (child context, map, parallel, iteration) called `name`.
    pub fn get_context(&self, name: &str) -> Option<OperationView<'_>> {
        self.find(OperationType::Context, None, name)
    }
}

/// One operation of a [`TestResult`], with access to its children.
#[derive(Debug, Clone, Copy)]
pub struct OperationView<'a> {
    /// Its record.
    pub record: &'a OperationRecord,
    all: &'a [OperationRecord],
}

impl<'a> OperationView<'a> {
    /// Its status.
    pub fn status(&self) -> OperationStatus {
        self.record.status
    }

    /// Its result decoded as `T` (for a map, `BatchResult<R>`).
    ///
    /// # Panics
    /// If there is no result or it is not a `T`.
    pub fn result<T: DeserializeOwned>(&self) -> T {
        let text = self.record.result.as_deref().unwrap_or_else(|| {
            panic!(
                "operation {:?} has no result ({:?})",
                self.record.name, self.record.status
            )
        });
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("result of {:?} does not decode: {e}", self.record.name))
    }

    /// Its error, if it failed.
    pub fn error(&self) -> Option<&'a ErrorObject> {
        self.record.error.as_ref()
    }

    /// Its direct children, in first-write order.
    pub fn children(&self) -> Vec<OperationView<'a>> {
        self.all
            .iter()
            .filter(|r| r.parent_id.as_deref() == Some(self.record.id.as_str()))
            .map(|record| OperationView {
                record,
                all: self.all,
            })
            .collect()
    }
}
