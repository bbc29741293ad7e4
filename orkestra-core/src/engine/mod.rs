//! The local engine: runs a workflow on tokio with Step Functions semantics.
//!
//! Data passes between states as JSON, exactly as in the cloud. The first uncaught error halts
//! the execution; map tasks run their items concurrently up to `max_concurrency` and keep input
//! order; `retry(..)` and `timeout_secs` behave as ASL's `Retry` and `TimeoutSeconds`; every
//! state's input and output is held to the payload limit.

mod history;
pub(crate) mod offload;
pub(crate) mod payload;
mod progress;
mod slowest;
use slowest::Slowest;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use crate::context::Context;
use crate::error::{names, TaskError};
use crate::graph::{Node, ParallelNode, TaskNode, Workflow};
use crate::state_data::services::{Services, StoreSlot};
use crate::state_data::{ExecutionStopper, ItemsPointer, StateDataStore};
use crate::task::{call_sync, ErasedBody, TaskSpec};

pub use history::{EventKind, History, HistoryEvent};
pub use payload::DEFAULT_PAYLOAD_LIMIT;
pub use progress::{MapProgress, Progress};

use history::{FailedAttempt, ItemFailure, ItemOutcome, ItemRecord, Record};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Largest state input or output in bytes; `None` turns the check off. Default 256 KiB.
    pub payload_limit: Option<usize>,
    /// A state output over `payload_limit` is stored as state data and replaced by a pointer,
    /// which the next state resolves (on by default); `false` fails such a state with
    /// `States.DataLimitExceeded` instead.
    pub offload: bool,
    /// Map items run at once when a map task sets no `max_concurrency` (Step Functions runs
    /// up to 40 iterations of an inline map at once).
    pub default_max_concurrency: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            payload_limit: Some(DEFAULT_PAYLOAD_LIMIT),
            offload: true,
            default_max_concurrency: 40,
        }
    }
}

/// Runs workflows locally.
///
/// ```
/// # async fn demo(workflow: orkestra::Workflow) {
/// use orkestra::{Engine, ExecutionStatus};
///
/// let execution = Engine::default().run(&workflow, serde_json::json!({})).await;
/// if execution.status == ExecutionStatus::Succeeded {
///     println!("{}", execution.output.unwrap());
/// }
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Engine {
    config: EngineConfig,
    progress: Option<Arc<dyn Progress>>,
    store: StoreSlot,
    stopper: Option<Arc<dyn ExecutionStopper>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("progress", &self.progress.is_some())
            .field("state_store", &matches!(self.store, StoreSlot::Given(_)))
            .field("stopper", &self.stopper.is_some())
            .finish()
    }
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Finished with an output.
    Succeeded,
    /// Halted by an uncaught error.
    Failed,
    /// Stopped from inside a task (`ctx.stop_execution(..)`).
    Aborted,
}

/// The result of running a workflow.
#[derive(Debug)]
pub struct Execution {
    /// The execution's id (`$$.Execution.Id`).
    pub execution_id: String,
    /// How it ended.
    pub status: ExecutionStatus,
    /// The output, when it succeeded.
    pub output: Option<Value>,
    /// The error, when it failed; when it was aborted, the error and (as the message) the
    /// cause given to `stop_execution`.
    pub error: Option<TaskError>,
    /// Every event, in Step Functions' vocabulary.
    pub history: History,
}

/// The output contract of `run`, in its key order: `{"status":"SUCCEEDED","output":..}`,
/// `{"status":"FAILED","error":"..","cause":".."}` or (stopped by a task)
/// `{"status":"ABORTED","error":"..","cause":".."}`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Report<'a> {
    /// The execution succeeded.
    Succeeded {
        /// Always `SUCCEEDED`.
        status: ExecutionStatus,
        /// The workflow's output.
        output: &'a Value,
    },
    /// The execution failed or was aborted.
    Failed {
        /// `FAILED` or `ABORTED`.
        status: ExecutionStatus,
        /// The error's name.
        error: &'a str,
        /// The error's cause (Lambda's error JSON; for ABORTED, the cause as given).
        cause: String,
    },
}

impl Execution {
    /// The run's report, as `run` prints it.
    pub fn report(&self) -> Report<'_> {
        match (&self.output, &self.error) {
            (_, Some(error)) if self.status == ExecutionStatus::Aborted => Report::Failed {
                status: ExecutionStatus::Aborted,
                error: error.name(),
                cause: error.message().to_string(),
            },
            (_, Some(error)) => Report::Failed {
                status: ExecutionStatus::Failed,
                error: error.name(),
                cause: error.cause(),
            },
            (output, None) => Report::Succeeded {
                status: ExecutionStatus::Succeeded,
                output: output.as_ref().unwrap_or(&Value::Null),
            },
        }
    }

    /// The report as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.report()).expect("reports serialise")
    }

    /// The report as one line of JSON, `status` first.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(&self.report()).expect("reports serialise")
    }
}

impl Engine {
    /// An engine with `config`.
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            config,
            ..Engine::default()
        }
    }

    /// The same engine, keeping state data (`ctx.state_data()`, offloaded outputs) in `store`
    /// instead of the project's SQLite file (which is opened only when a task uses it).
    pub fn with_state_store(mut self, store: Arc<dyn StateDataStore>) -> Engine {
        self.store = StoreSlot::Given(store);
        self
    }

    /// The same engine, calling `stopper` with the execution id when a task calls
    /// `ctx.stop_execution(..)` (Lambda mode sets Step Functions' `StopExecution`); the local
    /// execution ends as ABORTED either way.
    pub fn with_stopper(mut self, stopper: Arc<dyn ExecutionStopper>) -> Engine {
        self.stopper = Some(stopper);
        self
    }

    /// The same engine, telling `progress` how each map state advances (see
    /// `orkestra::progress::TerminalProgress` for terminal bars).
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Engine {
        self.progress = Some(progress);
        self
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs `workflow` on `input` to its end.
    pub async fn run(&self, workflow: &Workflow, input: Value) -> Execution {
        let execution_id = format!("local:{}:{}", workflow.name(), uuid::Uuid::new_v4());
        let services = Arc::new(Services {
            store: self.store.clone(),
            stopper: self.stopper.clone(),
            stop: Arc::default(),
        });
        let run = Run {
            config: &self.config,
            services: services.clone(),
            offloads: AtomicUsize::new(0),
            execution_id: Arc::from(execution_id.as_str()),
            workflow_name: Arc::from(workflow.name()),
            clock: Instant::now(),
            records: Mutex::new(vec![Record::ExecutionStarted]),
            progress: self.progress.as_deref(),
        };
        let started = SystemTime::now();
        let result = match payload::check(&input, self.config.payload_limit, || {
            "the execution input".into()
        }) {
            Ok(()) => match run.node(workflow.root(), input).await {
                Ok(output) => run.resolve(output, "the execution's output").await,
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let at = run.elapsed();
        let mut records = run.records.into_inner().unwrap_or_else(|p| p.into_inner());
        let (status, output, error) = match (services.stop.get(), result) {
            (Some(stop), _) => {
                let error = TaskError::new(stop.error.clone(), stop.cause.clone());
                records.push(Record::ExecutionAborted {
                    at,
                    error: error.clone(),
                });
                (ExecutionStatus::Aborted, None, Some(error))
            }
            (None, Ok(output)) => {
                records.push(Record::ExecutionSucceeded { at });
                (ExecutionStatus::Succeeded, Some(output), None)
            }
            (None, Err(error)) => {
                records.push(Record::ExecutionFailed {
                    at,
                    error: error.clone(),
                });
                (ExecutionStatus::Failed, None, Some(error))
            }
        };
        Execution {
            execution_id,
            status,
            output,
            error,
            history: History::new(started, records),
        }
    }
}

type NodeFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, TaskError>> + Send + 'a>>;

/// One execution in progress.
struct Run<'a> {
    config: &'a EngineConfig,
    services: Arc<Services>,
    /// Outputs offloaded so far (numbers their keys).
    offloads: AtomicUsize,
    execution_id: Arc<str>,
    workflow_name: Arc<str>,
    clock: Instant,
    records: Mutex<Vec<Record>>,
    progress: Option<&'a dyn Progress>,
}

impl<'a> Run<'a> {
    fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    fn record(&self, record: Record) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record);
    }

    fn context(&self, state: &str, spec: &'static TaskSpec) -> Context {
        Context::for_state(
            self.execution_id.clone(),
            self.workflow_name.clone(),
            Arc::<str>::from(state),
            self.services.clone(),
            spec,
        )
    }

    fn check_output(&self, value: &Value, state: &str) -> Result<(), TaskError> {
        payload::check(value, self.config.payload_limit, || {
            format!("the output of state `{state}`")
        })
    }

    /// A map item's output: checked against the limit only when offloading is off (with it
    /// on, the map's whole output is offloaded when it is too large).
    fn check_item_output(&self, value: &Value, state: &str) -> Result<(), TaskError> {
        if self.config.offload {
            return Ok(());
        }
        self.check_output(value, state)
    }

    /// A state's output as it leaves the state: unchanged, offloaded behind a pointer (too
    /// large, offloading on), or `States.DataLimitExceeded` (too large, offloading off).
    async fn finish_output(&self, output: Value, state: &Arc<str>) -> Result<Value, TaskError> {
        let Some(limit) = self.config.payload_limit else {
            return Ok(output);
        };
        if !self.config.offload || !payload::exceeds(&output, limit) {
            self.check_output(&output, state)?;
            return Ok(output);
        }
        let seq = self.offloads.fetch_add(1, Ordering::Relaxed);
        let (marker, bytes) = offload::store(
            &self.services,
            &self.execution_id,
            state,
            &seq.to_string(),
            &output,
        )
        .await?;
        self.record(Record::OutputOffloaded {
            state: state.clone(),
            at: self.elapsed(),
            bytes,
            limit,
        });
        Ok(marker)
    }

    /// A state's input with offloaded outputs loaded back (`what` names it in errors).
    async fn resolve(&self, input: Value, what: &str) -> Result<Value, TaskError> {
        offload::resolve(&self.services, input, what).await
    }

    /// The error ending every state once a task stopped the execution.
    fn stopped(&self) -> Option<TaskError> {
        self.services.stop.get().map(stopped_error)
    }

    fn node<'n>(&'n self, node: &'n Node, input: Value) -> NodeFuture<'n> {
        Box::pin(async move {
            match node {
                Node::Task(task) => self.task_state(task, input).await,
                Node::Chain(nodes) => {
                    let mut value = input;
                    for node in nodes {
                        value = match node {
                            // Tasks in a chain run without a boxed future of their own.
                            Node::Task(task) => self.task_state(task, value).await?,
                            other => self.node(other, value).await?,
                        };
                    }
                    Ok(value)
                }
                Node::Parallel(group) => self.parallel_state(group, input).await,
            }
        })
    }

    async fn task_state(&self, node: &TaskNode, input: Value) -> Result<Value, TaskError> {
        if node.task.options.map {
            return self.map_state(node, input).await;
        }
        let state: Arc<str> = Arc::from(node.state_name.as_str());
        let entered = self.elapsed();
        let ctx = self.context(&state, node.task);
        let (result, mut failures) = match self.resolve(input, &state).await {
            Ok(input) => run_attempts(node.task, input, ctx).await,
            Err(error) => (Err(error), Vec::new()),
        };
        let result = match result {
            Ok(output) => self.finish_output(output, &state).await,
            Err(error) => Err(error),
        };
        if let Err(error) = &result {
            failures.push(FailedAttempt {
                error: error.clone(),
            });
        }
        self.record(Record::Task {
            state,
            entered,
            exited: self.elapsed(),
            failures,
            succeeded: result.is_ok(),
        });
        result
    }

    async fn map_state(&self, node: &TaskNode, input: Value) -> Result<Value, TaskError> {
        let spec = node.task;
        let input = self.resolve(input, &node.state_name).await?;
        let items = match input {
            Value::Object(_) if spec.options.items_pointer => items_of_pointer(spec, input)?,
            Value::Array(items) => items,
            other => {
                return Err(TaskError::new(
                    names::RUNTIME,
                    format!(
                        "map task `{}` takes a JSON array but its input is {}",
                        spec.name,
                        json_kind(&other)
                    ),
                ))
            }
        };
        let state: Arc<str> = Arc::from(node.state_name.as_str());
        self.record(Record::MapEntered {
            state: state.clone(),
            at: self.elapsed(),
        });
        let ctx = self.context(&state, spec);
        let tracker = self.progress.map(|p| p.map_started(&state, items.len()));
        let tracker = tracker.as_deref();
        let inline = match spec.body {
            // A sync task with no timeout and no retry needs no task or thread of its own.
            ErasedBody::Sync(body)
                if spec.options.timeout_secs.is_none() && spec.options.retry.is_empty() =>
            {
                Some(body)
            }
            _ => None,
        };
        let outcome = match inline {
            Some(body) => self.map_inline(spec, body, items, &ctx, tracker),
            None => self.map_concurrent(spec, items, &ctx, tracker).await,
        };
        let result = match outcome.result {
            Ok(output) => self.finish_output(output, &state).await,
            Err(error) => Err(error),
        };
        self.record(Record::MapExited {
            state,
            at: self.elapsed(),
            items: outcome.items.into_boxed_slice(),
            failures: outcome.failures,
            slowest: outcome.slowest,
            succeeded: result.is_ok(),
        });
        if let Some(tracker) = tracker {
            tracker.finished(result.is_ok());
        }
        result
    }

    fn map_inline(
        &self,
        spec: &TaskSpec,
        body: fn(Value, &Context) -> Result<Value, TaskError>,
        items: Vec<Value>,
        ctx: &Context,
        tracker: Option<&dyn MapProgress>,
    ) -> MapOutcome {
        let mut records = Vec::with_capacity(items.len());
        let mut outputs = Vec::with_capacity(items.len());
        let mut failures = Vec::new();
        let mut slowest = Slowest::default();
        for (index, item) in items.into_iter().enumerate() {
            let item_ctx = ctx.with_map_index(index);
            let began = Instant::now();
            let result = match self.stopped() {
                Some(stopped) => Err(stopped),
                None => call_sync(body, item, &item_ctx),
            };
            slowest.note(index as u32, began.elapsed());
            let result = match (result, self.stopped()) {
                (_, Some(stopped)) => Err(stopped),
                (result, None) => result.and_then(|output| {
                    self.check_item_output(&output, ctx.state_name())?;
                    Ok(output)
                }),
            };
            let (outcome, value) = settle_item(spec, index, result, &mut failures);
            if let Some(tracker) = tracker {
                tracker.item_done(outcome != ItemOutcome::Succeeded);
            }
            records.push(ItemRecord {
                index: index as u32,
                retries: 0,
                outcome,
            });
            match value {
                Some(value) => outputs.push(value),
                None => {
                    let error = failures.last().map(|f| f.error.clone());
                    return MapOutcome::failed(records, failures, slowest, error);
                }
            }
        }
        MapOutcome {
            result: Ok(Value::Array(outputs)),
            items: records,
            failures,
            slowest,
        }
    }

    async fn map_concurrent(
        &self,
        spec: &'static TaskSpec,
        items: Vec<Value>,
        ctx: &Context,
        tracker: Option<&dyn MapProgress>,
    ) -> MapOutcome {
        let total = items.len();
        let limit = match spec.options.max_concurrency {
            Some(n) if n > 0 => n as usize,
            _ => self.config.default_max_concurrency.max(1),
        };
        let started = AtomicUsize::new(0);
        let mut slots: Vec<Option<Value>> = Vec::with_capacity(total);
        slots.resize_with(total, || None);
        let mut records: Vec<Option<ItemRecord>> = vec![None; total];
        let mut failures = Vec::new();
        let mut slowest = Slowest::default();
        let mut failed: Option<TaskError> = None;
        {
            let mut running = stream::iter(items.into_iter().enumerate())
                .map(|(index, item)| {
                    started.fetch_add(1, Ordering::Relaxed);
                    let item_ctx = ctx.with_map_index(index);
                    async move {
                        let began = Instant::now();
                        let (result, attempts) = run_attempts(spec, item, item_ctx).await;
                        (index, result, attempts, began.elapsed())
                    }
                })
                .buffer_unordered(limit);
            while let Some((index, result, retried, took)) = running.next().await {
                slowest.note(index as u32, took);
                let result = result.and_then(|output| {
                    self.check_item_output(&output, ctx.state_name())?;
                    Ok(output)
                });
                let retries = retried.len() as u16;
                failures.extend(retried.into_iter().map(|attempt| ItemFailure {
                    index: index as u32,
                    error: attempt.error,
                }));
                let (outcome, value) = settle_item(spec, index, result, &mut failures);
                if let Some(tracker) = tracker {
                    tracker.item_done(outcome != ItemOutcome::Succeeded);
                }
                records[index] = Some(ItemRecord {
                    index: index as u32,
                    retries,
                    outcome,
                });
                match value {
                    Some(value) => slots[index] = Some(value),
                    None => {
                        failed = failures.last().map(|f| f.error.clone());
                        break;
                    }
                }
            }
            // Dropping `running` cancels the items still in flight.
        }
        let started = started.load(Ordering::Relaxed);
        let items: Vec<ItemRecord> = records
            .into_iter()
            .take(started)
            .enumerate()
            .map(|(index, record)| {
                record.unwrap_or(ItemRecord {
                    index: index as u32,
                    retries: 0,
                    outcome: ItemOutcome::Aborted,
                })
            })
            .collect();
        if failed.is_some() {
            return MapOutcome::failed(items, failures, slowest, failed);
        }
        let outputs = slots
            .into_iter()
            .map(|slot| slot.expect("every item finished"))
            .collect();
        MapOutcome {
            result: Ok(Value::Array(outputs)),
            items,
            failures,
            slowest,
        }
    }

    async fn parallel_state(&self, group: &ParallelNode, input: Value) -> Result<Value, TaskError> {
        let state: Arc<str> = Arc::from(group.state_name.as_str());
        self.record(Record::ParallelEntered {
            state: state.clone(),
            at: self.elapsed(),
        });
        let branches = group
            .branches
            .iter()
            .map(|branch| self.node(branch, input.clone()));
        let result = if group.swallow {
            let outputs = futures_util::future::join_all(branches).await;
            outputs
                .into_iter()
                .map(|output| match output {
                    Ok(value) => Ok(value),
                    Err(error) if error.is_terminal() => Err(error),
                    Err(error) => Ok(serde_json::to_value(error.to_captured())
                        .expect("captured errors serialise")),
                })
                .collect::<Result<Vec<_>, _>>()
        } else {
            futures_util::future::try_join_all(branches).await
        };
        let result = match result.map(Value::Array) {
            Ok(output) => self.finish_output(output, &state).await,
            Err(error) => Err(error),
        };
        self.record(Record::ParallelExited {
            state,
            at: self.elapsed(),
            succeeded: result.is_ok(),
        });
        result
    }
}

struct MapOutcome {
    result: Result<Value, TaskError>,
    items: Vec<ItemRecord>,
    failures: Vec<ItemFailure>,
    slowest: Slowest,
}

impl MapOutcome {
    fn failed(
        items: Vec<ItemRecord>,
        failures: Vec<ItemFailure>,
        slowest: Slowest,
        error: Option<TaskError>,
    ) -> MapOutcome {
        MapOutcome {
            result: Err(error.expect("a failed map has an error")),
            items,
            failures,
            slowest,
        }
    }
}

/// Decides an item's fate: its output, its captured error, or (returning `None`) the map's failure.
fn settle_item(
    spec: &TaskSpec,
    index: usize,
    result: Result<Value, TaskError>,
    failures: &mut Vec<ItemFailure>,
) -> (ItemOutcome, Option<Value>) {
    match result {
        Ok(value) => (ItemOutcome::Succeeded, Some(value)),
        Err(error) => {
            let captured = spec.options.capture_errors && !error.is_terminal();
            let value = captured.then(|| {
                serde_json::to_value(error.to_captured()).expect("captured errors serialise")
            });
            failures.push(ItemFailure {
                index: index as u32,
                error,
            });
            let outcome = if captured {
                ItemOutcome::Captured
            } else {
                ItemOutcome::Failed
            };
            (outcome, value)
        }
    }
}

/// Runs a task with its retry rules; returns the result and the failed attempts that were retried.
async fn run_attempts(
    spec: &'static TaskSpec,
    input: Value,
    ctx: Context,
) -> (Result<Value, TaskError>, Vec<FailedAttempt>) {
    let rules = spec.options.retry;
    let mut retried = Vec::new();
    let mut retries_per_rule = vec![0u32; rules.len()];
    let mut input = Some(input);
    loop {
        let retry_count = retried.len() as u32;
        let attempt_input = if rules.is_empty() {
            input.take().expect("no retries: the input is used once")
        } else {
            input.clone().expect("input kept for retries")
        };
        let attempt_ctx = if retry_count == 0 {
            ctx.clone()
        } else {
            ctx.with_retry_count(retry_count)
        };
        if let Some(stop) = ctx.stop_requested() {
            return (Err(stopped_error(stop)), retried);
        }
        let result = attempt(spec, attempt_input, attempt_ctx).await;
        // A stop request ends the task whatever it returned: no retry, no catch.
        if let Some(stop) = ctx.stop_requested() {
            return (Err(stopped_error(stop)), retried);
        }
        let error = match result {
            Ok(output) => return (Ok(output), retried),
            Err(error) => error,
        };
        // ASL: the first rule whose ErrorEquals matches decides, with its own attempt count.
        match rules.iter().position(|rule| rule.matches(&error)) {
            Some(i) if retries_per_rule[i] < rules[i].max_attempts => {
                retries_per_rule[i] += 1;
                let delay = rules[i].delay(retries_per_rule[i]);
                retried.push(FailedAttempt { error });
                tokio::time::sleep(delay).await;
            }
            _ => return (Err(error), retried),
        }
    }
}

/// One attempt of a task, with its timeout.
pub(crate) async fn attempt(
    spec: &'static TaskSpec,
    input: Value,
    ctx: Context,
) -> Result<Value, TaskError> {
    let Some(secs) = spec.options.timeout_secs else {
        return spec.call(input, ctx).await;
    };
    let limit = Duration::from_secs(secs as u64);
    let ctx = ctx.with_deadline(Instant::now() + limit);
    let timed_out = || {
        TaskError::new(
            names::TIMEOUT,
            format!("task `{}` timed out after {secs} seconds", spec.name),
        )
    };
    match spec.body {
        ErasedBody::Sync(body) => {
            // A sync body cannot be interrupted: it runs on a blocking thread that is abandoned
            // at the deadline, as Lambda abandons a timed-out invocation.
            let handle = tokio::task::spawn_blocking(move || call_sync(body, input, &ctx));
            match tokio::time::timeout(limit, handle).await {
                Ok(Ok(result)) => result,
                Ok(Err(join_error)) => Err(TaskError::new(names::PANIC, join_error.to_string())),
                Err(_) => Err(timed_out()),
            }
        }
        ErasedBody::Async(_) => tokio::time::timeout(limit, spec.call(input, ctx))
            .await
            .unwrap_or_else(|_| Err(timed_out())),
    }
}

/// The error every state ends with once a task stopped the execution.
fn stopped_error(stop: &crate::state_data::StopRequest) -> TaskError {
    TaskError::new(
        names::EXECUTION_STOPPED,
        format!("the execution was stopped: {}: {}", stop.error, stop.cause),
    )
}

/// The iteration inputs of a map over a `put_items` pointer.
fn items_of_pointer(spec: &TaskSpec, input: Value) -> Result<Vec<Value>, TaskError> {
    let pointer: ItemsPointer<Value> = serde_json::from_value(input).map_err(|e| {
        TaskError::new(
            names::RUNTIME,
            format!(
                "map task `{}` fans out over a `put_items` pointer (ItemsPointer) but its input is not one: {e}",
                spec.name
            ),
        )
    })?;
    Ok(pointer
        .iterations()
        .map(|iteration| serde_json::to_value(iteration).expect("iteration inputs serialise"))
        .collect())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
