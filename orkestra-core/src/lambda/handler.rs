//! Dispatch of one Lambda invocation to the task named by the function's `Handler`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::Value;
use tracing::Instrument;

use crate::envelope::Envelope;
use crate::error::{names, TaskError};
use crate::registry::{Registry, RegistryError};
use crate::scheduler::dispatch::Backoff;
use crate::scheduler::store::QueueStore;
use crate::scheduler::worker::{self, ScheduledEvent};
use crate::state_data::{ExecutionStopper, StateDataStore};
use crate::task::TaskSpec;

/// What Lambda tells about one invocation, besides its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The AWS request id (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// When Lambda stops the invocation (`Lambda-Runtime-Deadline-Ms`).
    pub deadline: Option<SystemTime>,
    /// The Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
}

impl Invocation {
    /// Reads the invocation's details from `lambda_runtime`'s context.
    pub fn from_lambda(context: &lambda_runtime::Context) -> Invocation {
        Invocation {
            request_id: context.request_id.clone(),
            deadline: (context.deadline > 0).then(|| context.deadline()),
            function_name: context.env_config.function_name.clone(),
        }
    }
}

/// The task a Lambda function serves, resolved once at start-up from `_HANDLER`.
///
/// When the name resolves to no task, every invocation fails with `Orkestra.UnknownTask`
/// (naming the requested task and the ones this binary has) rather than the process dying, so
/// the reason is visible in the invocation's result and not only in the init logs.
///
/// ```
/// use orkestra::lambda::{Handler, Invocation};
/// use orkestra::Registry;
///
/// let registry = Registry::from_entries([], []).unwrap();
/// let handler = Handler::resolve(Ok(&registry), Some("double"));
/// let invocation = Invocation { request_id: "r-1".into(), deadline: None, function_name: "f".into() };
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let error = rt.block_on(handler.handle(serde_json::json!(2), &invocation)).unwrap_err();
/// assert_eq!(error.name(), "Orkestra.UnknownTask");
/// assert!(error.message().contains("`double`"));
/// ```
#[derive(Clone)]
pub struct Handler {
    requested: String,
    task: Result<&'static TaskSpec, TaskError>,
    state_store: Option<Arc<dyn StateDataStore>>,
    stopper: Option<Arc<dyn ExecutionStopper>>,
    scheduler_queue: Option<Arc<dyn QueueStore>>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("requested", &self.requested)
            .field("task", &self.task)
            .field("state_store", &self.state_store.is_some())
            .field("stopper", &self.stopper.is_some())
            .field("scheduler_queue", &self.scheduler_queue.is_some())
            .finish()
    }
}

impl Handler {
    /// The handler for the task named by `_HANDLER`, in this binary's registry.
    pub fn from_env() -> Handler {
        let requested = std::env::var(super::HANDLER_VAR).ok();
        let handler = Handler::resolve(Registry::global(), requested.as_deref());
        if let Err(error) = &handler.task {
            tracing::error!(
                error_type = error.name(),
                error = error.message(),
                "cannot serve the function's handler"
            );
        }
        handler
    }

    /// The handler for task `requested` in `registry`; `None` when `_HANDLER` is unset.
    pub fn resolve(registry: Result<&Registry, RegistryError>, requested: Option<&str>) -> Handler {
        let name = requested.unwrap_or_default().trim();
        let task = match registry {
            Err(error) => Err(TaskError::new(
                names::UNKNOWN_TASK,
                format!("cannot resolve task `{name}`: {error}"),
            )),
            Ok(registry) => {
                let known: Vec<&str> = registry.tasks().map(|task| task.name).collect();
                let known = if known.is_empty() {
                    "no tasks".to_string()
                } else {
                    known.join(", ")
                };
                match registry.task(name) {
                    Some(spec) => Ok(spec),
                    None if requested.is_none() => Err(TaskError::new(
                        names::UNKNOWN_TASK,
                        format!(
                            "`{}` is not set: set the Lambda function's Handler to one of this binary's tasks: {known}",
                            super::HANDLER_VAR
                        ),
                    )),
                    None => Err(TaskError::new(
                        names::UNKNOWN_TASK,
                        crate::registry::with_registration_hint(format!(
                            "no task named `{name}` is registered in this binary (the function's Handler, `{}`); this binary has: {known}",
                            super::HANDLER_VAR
                        )),
                    )),
                }
            }
        };
        Handler {
            requested: name.to_string(),
            task,
            state_store: None,
            stopper: None,
            scheduler_queue: None,
        }
    }

    /// The same handler, giving every invocation's context `store` for `ctx.state_data()`
    /// (e.g. the DynamoDB backend named by `ORKESTRA_STATE_TABLE`).
    pub fn with_state_store(mut self, store: Arc<dyn StateDataStore>) -> Handler {
        self.state_store = Some(store);
        self
    }

    /// The same handler, calling `stopper` (Step Functions' `StopExecution`) with the
    /// envelope's execution id when a task calls `ctx.stop_execution(..)`.
    pub fn with_stopper(mut self, stopper: Arc<dyn ExecutionStopper>) -> Handler {
        self.stopper = Some(stopper);
        self
    }

    /// The same handler, reporting the outcome of events that carry the scheduler's coordinates
    /// to `queue` (the worker assistant; in Lambda the DynamoDB queue named by
    /// `ORKESTRA_SCHEDULER_PREFIX`).
    pub fn with_scheduler_queue(mut self, queue: Arc<dyn QueueStore>) -> Handler {
        self.scheduler_queue = Some(queue);
        self
    }

    /// The task this handler serves, or why there is none.
    pub fn task(&self) -> Result<&'static TaskSpec, &TaskError> {
        self.task.as_ref().copied()
    }

    /// Runs one invocation: unwraps the envelope, builds the [`Context`](crate::Context) from
    /// it and from `invocation`, and calls the task (panics caught), inside an `invocation`
    /// log span.
    ///
    /// An event from the scheduler ([`ScheduledEvent`]) runs the task on its input and then
    /// reports the outcome to the scheduler's queue; the invocation then succeeds whatever the
    /// task did (the scheduler retries, not Lambda), unless the report itself fails.
    pub async fn handle(&self, event: Value, invocation: &Invocation) -> Result<Value, TaskError> {
        match ScheduledEvent::parse(&event) {
            None => self.run_event(event, invocation).await,
            Some(Err(error)) => Err(error),
            Some(Ok(scheduled)) => self.run_scheduled(scheduled, invocation).await,
        }
    }

    async fn run_scheduled(
        &self,
        scheduled: ScheduledEvent,
        invocation: &Invocation,
    ) -> Result<Value, TaskError> {
        let Some(queue) = &self.scheduler_queue else {
            return Err(TaskError::new(
                worker::NAME_NOT_CONFIGURED,
                format!(
                    "the event carries the scheduler's coordinates (`{}`) but the function has \
                     no scheduler queue to report to: set `{}` to the tables' prefix (and build \
                     the binary with the `aws` feature)",
                    worker::COORDINATES_KEY,
                    worker::PREFIX_VAR
                ),
            ));
        };
        let result = if scheduled.coordinates.labourer_id == self.requested {
            self.run_event(scheduled.envelope(), invocation).await
        } else {
            Err(TaskError::new(
                worker::NAME_WRONG_FUNCTION,
                format!(
                    "task {} of labourer `{}` was sent to the function serving `{}`",
                    scheduled.coordinates.task_id,
                    scheduled.coordinates.labourer_id,
                    self.requested
                ),
            ))
        };
        match worker::report(&**queue, &scheduled, &result, Backoff::DEFAULT) {
            Ok(reported) => {
                tracing::info!(task_id = %scheduled.coordinates.task_id, attempt = scheduled.coordinates.attempts, reported = ?reported, "reported to the scheduler");
                Ok(worker::response(&scheduled, &result, reported))
            }
            Err(error) => Err(TaskError::new(
                worker::NAME_REPORT_FAILED,
                format!(
                    "task {} ran but its outcome could not be recorded: {error}",
                    scheduled.coordinates.task_id
                ),
            )),
        }
    }

    async fn run_event(&self, event: Value, invocation: &Invocation) -> Result<Value, TaskError> {
        let envelope = Envelope::parse(event);
        let meta = envelope.meta.as_ref();
        let span = tracing::info_span!(
            "invocation",
            request_id = %invocation.request_id,
            function = %invocation.function_name,
            task = %self.requested,
            execution_id = meta.map(|m| m.execution_id.as_str()),
            state_machine = meta.map(|m| m.state_machine.as_str()),
            state = meta.map(|m| m.state.as_str()),
            retry_count = meta.map(|m| m.retry_count),
            map_index = meta.and_then(|m| m.map_index),
        );
        let started = Instant::now();
        async move {
            let result = match self.task {
                Ok(spec) => {
                    let mut ctx = envelope
                        .context(spec.name)
                        .with_task(spec)
                        .with_request_id(invocation.request_id.as_str())
                        .with_function_name(invocation.function_name.as_str());
                    if let Some(deadline) = invocation.deadline {
                        ctx = ctx.with_deadline(instant_at(deadline));
                    }
                    if let Some(store) = &self.state_store {
                        ctx = ctx.with_state_store(store.clone());
                    }
                    if let Some(stopper) = &self.stopper {
                        ctx = ctx.with_stopper(stopper.clone());
                    }
                    match &self.state_store {
                        Some(store) => with_offload(store, spec, envelope.input, ctx).await,
                        None => match crate::engine::offload::marker(&envelope.input) {
                            Some(pointer) => Err(offloaded_without_store(spec, &pointer)),
                            None => spec.call(envelope.input, ctx).await,
                        },
                    }
                }
                Err(ref error) => Err(error.clone()),
            };
            let micros = started.elapsed().as_micros() as u64;
            match &result {
                Ok(_) => {
                    tracing::info!(outcome = "ok", duration_us = micros, "invocation finished")
                }
                Err(error) => tracing::warn!(
                    outcome = "error",
                    error_type = error.name(),
                    error = error.message(),
                    duration_us = micros,
                    "invocation failed"
                ),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Polls the Lambda Runtime API and serves invocations until it goes away.
    pub async fn serve(self) -> Result<(), lambda_runtime::Error> {
        let handler: &'static Handler = Box::leak(Box::new(self));
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: lambda_runtime::LambdaEvent<Value>| async move {
                let invocation = Invocation::from_lambda(&event.context);
                handler
                    .handle(event.payload, &invocation)
                    .await
                    .map_err(|error| diagnostic(&error))
            },
        ))
        .await
    }
}

/// The error body `lambda_runtime` posts for `error`: its JSON is exactly
/// [`TaskError::cause`], `{"errorType":..,"errorMessage":..}`.
///
/// ```
/// use orkestra::TaskError;
///
/// let error = TaskError::new("DivideByZero", "division by zero");
/// let posted = serde_json::to_string(&orkestra::lambda::handler::diagnostic(&error)).unwrap();
/// assert_eq!(posted, error.cause());
/// ```
pub fn diagnostic(error: &TaskError) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error.name().to_string(),
        error_message: error.message().to_string(),
    }
}

/// The [`Instant`] at wall-clock time `deadline` (now, if it has passed).
fn instant_at(deadline: SystemTime) -> Instant {
    let now = Instant::now();
    match deadline.duration_since(SystemTime::now()) {
        Ok(left) => now + left,
        Err(_) => now,
    }
}

/// Calls the task with state data offload, as the local engine does: an offloaded input
/// (`{"orkestra_offloaded": ..}`) is loaded first, and an output over the payload limit is
/// stored and replaced by its marker (key `orkestra.offload.<state>.<map index or "out">`).
/// An offloaded input reached a function that has no state data table to load it from.
fn offloaded_without_store(spec: &TaskSpec, pointer: &crate::state_data::Pointer) -> TaskError {
    TaskError::new(
        names::STATE_DATA,
        format!(
            "task `{}` received an input offloaded to state data (table \"{}\", partition \"{}\") \
             but its function has no state data table: declare the task `#[compose(state_data)]` \
             so the export gives its function the table",
            spec.name, pointer.table_name, pointer.partition_key
        ),
    )
}

async fn with_offload(
    store: &Arc<dyn StateDataStore>,
    spec: &'static TaskSpec,
    input: Value,
    ctx: crate::Context,
) -> Result<Value, TaskError> {
    use crate::engine::{offload, payload};
    let services = crate::state_data::services::Services {
        store: crate::state_data::services::StoreSlot::Given(store.clone()),
        ..Default::default()
    };
    let what = format!("task `{}`", spec.name);
    let input = offload::resolve(&services, input, &what).await?;
    let execution_id = ctx.execution_id().to_string();
    let state = ctx.state_name().to_string();
    let slot = ctx
        .map_index()
        .map_or_else(|| "out".to_string(), |i| i.to_string());
    let output = spec.call(input, ctx).await?;
    if !payload::exceeds(&output, payload::DEFAULT_PAYLOAD_LIMIT) {
        return Ok(output);
    }
    let (marker, bytes) = offload::store(&services, &execution_id, &state, &slot, &output).await?;
    tracing::info!(
        bytes,
        limit = payload::DEFAULT_PAYLOAD_LIMIT,
        "output over the payload limit: offloaded to state data"
    );
    Ok(marker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::task::{ErasedBody, TaskOptions};
    use serde_json::json;
    use std::time::Duration;

    fn echo_context(input: Value, ctx: &Context) -> Result<Value, TaskError> {
        Ok(json!({
            "input": input,
            "execution_id": ctx.execution_id(),
            "state": ctx.state_name(),
            "map_index": ctx.map_index(),
            "retry_count": ctx.retry_count(),
            "request_id": ctx.request_id(),
            "remaining_s": ctx.remaining_time().map(|left| left.as_secs()),
        }))
    }

    static ECHO: TaskSpec = TaskSpec {
        name: "echo",
        rust_name: "echo_context",
        module_path: "tests",
        file: "handler.rs",
        line: 1,
        options: TaskOptions::DEFAULT,
        input_type: "Value",
        output_type: "Value",
        body: ErasedBody::Sync(echo_context),
    };

    fn invocation() -> Invocation {
        Invocation {
            request_id: "req-1".into(),
            deadline: Some(SystemTime::now() + Duration::from_secs(120)),
            function_name: "fn".into(),
        }
    }

    async fn run(handler: &Handler, event: Value) -> Result<Value, TaskError> {
        handler.handle(event, &invocation()).await
    }

    async fn stopping(input: Value, ctx: Context) -> Result<Value, TaskError> {
        let stopped = ctx.stop_execution("Halt", input.to_string()).await;
        Err(TaskError::from_error(&stopped))
    }

    static STOPPING: TaskSpec = TaskSpec {
        name: "stopping",
        rust_name: "stopping",
        module_path: "tests",
        file: "handler.rs",
        line: 1,
        options: TaskOptions::DEFAULT,
        input_type: "Value",
        output_type: "Value",
        body: ErasedBody::Async(|input, ctx| Box::pin(stopping(input, ctx))),
    };

    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);

    impl ExecutionStopper for Recorder {
        fn stop<'a>(
            &'a self,
            execution_id: &'a str,
            error: &'a str,
            cause: &'a str,
        ) -> crate::state_data::StoreFuture<'a, ()> {
            Box::pin(async move {
                self.0
                    .lock()
                    .unwrap()
                    .push(format!("{execution_id} {error} {cause}"));
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn stop_execution_calls_the_stopper_with_the_envelopes_execution_id() {
        let registry = Registry::from_entries([&STOPPING], []).unwrap();
        let recorder = Arc::new(Recorder::default());
        let handler =
            Handler::resolve(Ok(&registry), Some("stopping")).with_stopper(recorder.clone());
        let event = json!({"input": 5, "meta": {"execution_id": "arn:exec:1", "state": "s"}});
        let error = run(&handler, event).await.unwrap_err();
        assert_eq!(error.name(), names::EXECUTION_STOPPED);
        assert_eq!(
            *recorder.0.lock().unwrap(),
            vec!["arn:exec:1 Halt 5".to_string()]
        );
    }

    fn big(input: Value, _: &Context) -> Result<Value, TaskError> {
        Ok(json!("x".repeat(input.as_u64().unwrap() as usize)))
    }

    fn length(input: Value, _: &Context) -> Result<Value, TaskError> {
        Ok(json!(input.as_str().map(str::len)))
    }

    static BIG: TaskSpec = TaskSpec {
        name: "big",
        body: ErasedBody::Sync(big),
        ..ECHO
    };

    static LENGTH: TaskSpec = TaskSpec {
        name: "length",
        body: ErasedBody::Sync(length),
        ..ECHO
    };

    #[tokio::test]
    async fn with_a_store_large_outputs_are_offloaded_and_loaded_back() {
        let dir = std::env::temp_dir().join(format!("orkestra-handler-{}", std::process::id()));
        let store: Arc<dyn StateDataStore> =
            Arc::new(crate::state_data::SqliteStateStore::open(dir.join("h.db")).unwrap());
        let registry = Registry::from_entries([&BIG, &LENGTH], []).unwrap();
        let big = Handler::resolve(Ok(&registry), Some("big")).with_state_store(store.clone());
        let length = Handler::resolve(Ok(&registry), Some("length")).with_state_store(store);
        let meta = json!({"execution_id": "arn:exec:9", "state": "big"});
        let limit = crate::engine::DEFAULT_PAYLOAD_LIMIT as u64;
        // At the limit (the JSON string's quotes count): returned as it is.
        let out = run(&big, json!({"input": limit - 2, "meta": meta}))
            .await
            .unwrap();
        assert!(out.is_string());
        // One byte over: a marker, which the next task's input resolves.
        let out = run(&big, json!({"input": limit - 1, "meta": meta}))
            .await
            .unwrap();
        assert_eq!(out["bytes"], limit + 1, "{out}");
        assert_eq!(
            out["orkestra_offloaded"]["partition_key"],
            "arn:exec:9:orkestra.offload.big.out"
        );
        let meta = json!({"execution_id": "arn:exec:9", "state": "length"});
        let len = run(&length, json!({"input": out, "meta": meta}))
            .await
            .unwrap();
        assert_eq!(len, json!(limit - 1));
        // A function without a store cannot load it, and says what to declare.
        let bare = Handler::resolve(Ok(&registry), Some("length"));
        let error = run(&bare, json!({"input": out, "meta": meta}))
            .await
            .unwrap_err();
        assert_eq!(error.name(), "Orkestra.StateData");
        assert!(
            error
                .message()
                .contains("task `length` received an input offloaded")
                && error.message().contains("`#[compose(state_data)]`"),
            "{}",
            error.message()
        );
    }

    #[tokio::test]
    async fn context_comes_from_the_envelope_and_the_invocation() {
        let registry = Registry::from_entries([&ECHO], []).unwrap();
        let handler = Handler::resolve(Ok(&registry), Some("echo"));
        let event = json!({"input": [7], "meta": {"execution_id": "e-1", "state": "Echo", "retry_count": 2, "map_index": 4}});
        let out = run(&handler, event).await.unwrap();
        assert_eq!(out["input"], json!([7]));
        assert_eq!(out["execution_id"], "e-1");
        assert_eq!(out["state"], "Echo");
        assert_eq!(out["map_index"], 4);
        assert_eq!(out["retry_count"], 2);
        assert_eq!(out["request_id"], "req-1");
        let left = out["remaining_s"].as_u64().unwrap();
        assert!((100..=120).contains(&left), "{left}");

        let bare = run(&handler, json!({"x": 1})).await.unwrap();
        assert_eq!(bare["input"], json!({"x": 1}));
        assert_eq!(bare["state"], "echo");
        assert_eq!(bare["map_index"], Value::Null);
    }

    #[tokio::test]
    async fn unknown_and_missing_handlers_list_the_known_tasks() {
        let registry = Registry::from_entries([&ECHO], []).unwrap();
        let unknown = run(&Handler::resolve(Ok(&registry), Some("nope")), json!(1))
            .await
            .unwrap_err();
        assert_eq!(unknown.name(), names::UNKNOWN_TASK);
        assert!(unknown.message().contains("`nope`"), "{unknown}");
        assert!(
            unknown.message().contains("this binary has: echo"),
            "{unknown}"
        );
        let missing = run(&Handler::resolve(Ok(&registry), None), json!(1))
            .await
            .unwrap_err();
        assert!(
            missing.message().contains("`_HANDLER` is not set"),
            "{missing}"
        );
    }

    fn fails_on_zero(input: Value, _: &Context) -> Result<Value, TaskError> {
        match input["n"].as_i64() {
            Some(0) => Err(TaskError::new("Zero", "n is zero")),
            n => Ok(json!(n)),
        }
    }

    static FAILS_ON_ZERO: TaskSpec = TaskSpec {
        name: "fails_on_zero",
        body: ErasedBody::Sync(fails_on_zero),
        ..ECHO
    };

    #[tokio::test]
    async fn scheduled_events_report_to_the_queue_once_and_only_while_the_claim_holds() {
        use crate::scheduler::sqlite::SqliteQueue;
        use crate::scheduler::store::{now_ms, NewTask, RetryPlan};
        let dir = std::env::temp_dir().join(format!("orkestra-handler-q-{}", std::process::id()));
        let queue = Arc::new(SqliteQueue::open(dir.join("q.db")).unwrap());
        let registry = Registry::from_entries([&FAILS_ON_ZERO], []).unwrap();
        let handler = Handler::resolve(Ok(&registry), Some("fails_on_zero"))
            .with_scheduler_queue(queue.clone());
        let tasks = [json!({"n": 1}), json!({"n": 0}), json!({"n": 2})]
            .map(|p| NewTask::new("fails_on_zero", p));
        queue.submit(&tasks, false, now_ms()).unwrap();
        let claims = queue
            .claim("fails_on_zero", 10, 10, 60_000, "orchestrator", now_ms())
            .unwrap();
        let event = |i: usize| ScheduledEvent::for_claim(&claims[i], 2).to_json();

        let ok = run(&handler, event(0)).await.unwrap();
        assert_eq!(
            (ok["reported"].as_str(), &ok["output"]),
            (Some("completed"), &json!(1))
        );
        // A duplicate delivery runs the task but archives nothing twice.
        let again = run(&handler, event(0)).await.unwrap();
        assert_eq!(again["reported"], "lease_lost");
        // A failure is retried by the scheduler; Lambda sees a success (no async retry).
        let failed = run(&handler, event(1)).await.unwrap();
        assert_eq!(failed["reported"], "retrying");
        assert_eq!(failed["error"]["errorType"], "Zero");
        // A late report after the claim expired and was retried changes nothing.
        let plan = |_: &str, _: u32| RetryPlan {
            max_attempts: 5,
            launch_at_ms: 0,
        };
        queue.expire(now_ms() + 120_000, 0, &plan).unwrap();
        let late = run(&handler, event(2)).await.unwrap();
        assert_eq!(late["reported"], "lease_lost");
        let counts = queue.counts().unwrap()["fails_on_zero"];
        assert_eq!((counts.completed, counts.retrying), (1, 2), "{counts:?}");

        // Without a queue, a scheduled event is refused with what to set.
        let bare = Handler::resolve(Ok(&registry), Some("fails_on_zero"));
        let error = run(&bare, event(0)).await.unwrap_err();
        assert_eq!(error.name(), "Scheduler.NotConfigured");
        assert!(
            error.message().contains("ORKESTRA_SCHEDULER_PREFIX"),
            "{error}"
        );
        // An event for another labourer is not run: reported as a failed attempt.
        queue
            .submit(&[NewTask::new("other", json!({"n": 5}))], false, now_ms())
            .unwrap();
        let other = queue
            .claim("other", 1, 1, 60_000, "orchestrator", now_ms())
            .unwrap();
        let misrouted = ScheduledEvent::for_claim(&other[0], 1).to_json();
        let out = run(&handler, misrouted).await.unwrap();
        assert_eq!(out["reported"], "dead");
        assert_eq!(out["error"]["errorType"], "Scheduler.WrongFunction");
        assert_eq!(
            queue.dead_letters().unwrap()[0].errors[0]["error"],
            "Scheduler.WrongFunction"
        );
        // Events without coordinates are served as before.
        assert_eq!(run(&bare, json!({"n": 3})).await.unwrap(), json!(3));
        drop(queue);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_posted_error_is_the_cause_byte_for_byte() {
        let error = TaskError::new("Orkestra.Panic", "it \"broke\"\nbadly ✗");
        let posted = serde_json::to_vec(&diagnostic(&error)).unwrap();
        assert_eq!(posted, error.cause().into_bytes());
    }
}
