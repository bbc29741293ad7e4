//! Steps: `ctx.step(f)` runs `f` once (per attempt) and checkpoints its result; a replay
//! returns the stored result (or raises the stored error) without running it.

use super::context::DurableContext;
use super::error::DurableError;
use super::retry::RetryStrategy;
use super::step_scope;
use super::store::{ErrorObject, OperationRecord, OperationStatus, OperationType};
use super::transition;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// When a step's start is checkpointed relative to running its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepSemantics {
    /// The body may run again after a crash (START is written without waiting). Default.
    #[default]
    AtLeastOncePerRetry,
    /// START is durable before the body runs; a step found STARTED on replay was interrupted
    /// and counts as a failed attempt (the retry strategy decides what follows).
    AtMostOncePerRetry,
}

/// How a step runs: retries and semantics.
#[derive(Debug, Clone, Default)]
pub struct StepConfig {
    /// Retry strategy; `None` means one attempt.
    pub retry_strategy: Option<RetryStrategy>,
    /// At-least-once (default) or at-most-once per retry.
    pub semantics: StepSemantics,
}

/// Logs through `tracing`, tagged with the execution, operation and attempt.
#[derive(Debug, Clone)]
pub struct StepLogger {
    execution_id: Arc<str>,
    operation: Arc<str>,
    attempt: u32,
}

impl StepLogger {
    /// Logs at INFO.
    pub fn info(&self, message: impl std::fmt::Display) {
        tracing::info!(execution = %self.execution_id, operation = %self.operation, attempt = self.attempt, "{message}");
    }
    /// Logs at WARN.
    pub fn warn(&self, message: impl std::fmt::Display) {
        tracing::warn!(execution = %self.execution_id, operation = %self.operation, attempt = self.attempt, "{message}");
    }
    /// Logs at ERROR.
    pub fn error(&self, message: impl std::fmt::Display) {
        tracing::error!(execution = %self.execution_id, operation = %self.operation, attempt = self.attempt, "{message}");
    }
}

/// What a step body gets: its attempt number and a logger. It offers no durable operations,
/// so a step cannot start steps, maps or waits: `#[durable_step]` refuses a `DurableContext`
/// parameter, and an operation started on a `DurableContext` while a step body of its
/// execution runs (through a clone a closure captured, say) fails at once, failing the step
/// with a `DurableOperationInStep` error that names both. Start durable operations in the
/// handler and pass their results to the step as arguments.
#[derive(Debug, Clone)]
pub struct StepContext {
    attempt: u32,
    operation_id: Arc<str>,
    name: Option<Arc<str>>,
    logger: StepLogger,
}

impl StepContext {
    /// A context for calling a step body directly (unit tests), attempt 1.
    pub fn for_tests() -> Self {
        Self::new(Arc::from("test-execution"), "test-operation", None, 1)
    }

    pub(crate) fn new(execution_id: Arc<str>, op: &str, name: Option<&str>, attempt: u32) -> Self {
        let operation_id: Arc<str> = Arc::from(op);
        let name: Option<Arc<str>> = name.map(Arc::from);
        StepContext {
            attempt,
            logger: StepLogger {
                execution_id,
                operation: name.clone().unwrap_or_else(|| operation_id.clone()),
                attempt,
            },
            operation_id,
            name,
        }
    }

    /// The attempt number, 1 for the first run.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The step's operation id.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// The step's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The step's logger.
    pub fn logger(&self) -> &StepLogger {
        &self.logger
    }
}

/// Something `ctx.step(..)` can run: a closure `Fn(StepContext) -> impl Future<Output =
/// Result<T, E>>`, or a [`NamedStep`] made by a `#[durable_step]` function.
pub trait StepFunction: Send + Sync + 'static {
    /// The success value (checkpointed as JSON).
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// The error (checkpointed as type name + message).
    type Error: std::fmt::Display + Send + 'static;
    /// The default name of the step.
    fn step_name(&self) -> Option<String>;
    /// Runs the body once.
    fn call(&self, ctx: StepContext) -> BoxFuture<'static, Result<Self::Output, Self::Error>>;
    /// Captures an error of this step.
    fn error_object(&self, error: &Self::Error) -> ErrorObject {
        ErrorObject::from_error(error)
    }
}

/// The name of a function item from its type (`None` for closures).
pub(crate) fn fn_item_name<F>() -> Option<String> {
    let full = std::any::type_name::<F>();
    if full.contains("{{closure}}") || full.contains('<') {
        return None;
    }
    full.rsplit("::").next().map(str::to_string)
}

impl<F, Fut, T, E> StepFunction for F
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Serialize + DeserializeOwned + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    type Output = T;
    type Error = E;
    fn step_name(&self) -> Option<String> {
        fn_item_name::<F>()
    }
    fn call(&self, ctx: StepContext) -> BoxFuture<'static, Result<T, E>> {
        Box::pin(self(ctx))
    }
}

type StepBody<T, E> = dyn Fn(StepContext) -> BoxFuture<'static, Result<T, E>> + Send + Sync;

/// A named, not-yet-run step with its arguments captured: what a `#[durable_step]` function
/// returns. Run it with `ctx.step(named_step).await`.
pub struct NamedStep<T, E> {
    name: &'static str,
    body: Arc<StepBody<T, E>>,
}

impl<T, E> NamedStep<T, E> {
    /// A step called `name` whose attempts run `body`.
    pub fn new(
        name: &'static str,
        body: impl Fn(StepContext) -> BoxFuture<'static, Result<T, E>> + Send + Sync + 'static,
    ) -> Self {
        NamedStep {
            name,
            body: Arc::new(body),
        }
    }

    /// The step's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the body once with `ctx`, without any checkpointing (for unit tests).
    pub fn run_body(&self, ctx: StepContext) -> BoxFuture<'static, Result<T, E>> {
        (self.body)(ctx)
    }
}

impl<T, E> StepFunction for NamedStep<T, E>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    type Output = T;
    type Error = E;
    fn step_name(&self) -> Option<String> {
        Some(self.name.to_string())
    }
    fn call(&self, ctx: StepContext) -> BoxFuture<'static, Result<T, E>> {
        (self.body)(ctx)
    }
}

/// `ctx.step(f)`, configurable before it is awaited.
#[must_use = "a step does nothing until awaited"]
pub struct StepBuilder<'a, S> {
    ctx: &'a DurableContext,
    step: S,
    name: Option<String>,
    config: StepConfig,
}

impl DurableContext {
    /// Runs `step` durably: awaiting the returned builder runs it (or replays its record).
    ///
    /// ```
    /// # use orkestra::durable::*;
    /// async fn handler(_event: (), ctx: DurableContext) -> Result<u32, DurableError> {
    ///     let n = ctx
    ///         .step(|_s: StepContext| async { Ok::<_, std::io::Error>(41) })
    ///         .name("forty-one")
    ///         .await?;
    ///     Ok(n + 1)
    /// }
    /// ```
    pub fn step<S: StepFunction>(&self, step: S) -> StepBuilder<'_, S> {
        StepBuilder {
            ctx: self,
            step,
            name: None,
            config: StepConfig::default(),
        }
    }
}

impl<'a, S: StepFunction> StepBuilder<'a, S> {
    /// Names the step (overrides the function's name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the whole configuration.
    pub fn config(mut self, config: StepConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the retry strategy.
    pub fn retry(mut self, strategy: RetryStrategy) -> Self {
        self.config.retry_strategy = Some(strategy);
        self
    }

    /// Sets at-least-once / at-most-once semantics.
    pub fn semantics(mut self, semantics: StepSemantics) -> Self {
        self.config.semantics = semantics;
        self
    }
}

impl<'a, S: StepFunction> IntoFuture for StepBuilder<'a, S> {
    type Output = Result<S::Output, DurableError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run_step(self))
    }
}

fn decode<T: DeserializeOwned>(what: &str, text: Option<&str>) -> Result<T, DurableError> {
    serde_json::from_str(text.unwrap_or("null")).map_err(|e| DurableError::Serde {
        what: what.to_string(),
        message: e.to_string(),
    })
}

async fn run_step<S: StepFunction>(b: StepBuilder<'_, S>) -> Result<S::Output, DurableError> {
    let StepBuilder {
        ctx,
        step,
        name,
        config,
    } = b;
    let name = name.or_else(|| step.step_name());
    ctx.ensure_not_in_step("step", name.as_deref())?;
    let id = ctx.next_id();
    // Only error messages need the label: borrowed, not built for every step.
    let label = name.as_deref().unwrap_or(&id);
    let retry = config.retry_strategy.unwrap_or_else(RetryStrategy::none);
    let at_most_once = config.semantics == StepSemantics::AtMostOncePerRetry;
    let record =
        |status, attempt, result: Option<String>, error: Option<ErrorObject>| OperationRecord {
            id: id.clone(),
            parent_id: ctx.context_id().map(str::to_string),
            op_type: OperationType::Step,
            sub_type: Some("Step".into()),
            name: name.clone(),
            status,
            result,
            error,
            attempt,
            started_ms: None,
            ended_ms: None,
            details: Default::default(),
        };
    let fail = |error: ErrorObject| DurableError::OperationFailed {
        name: label.to_string(),
        error,
    };
    // The status last recorded: every write is checked against the transition table.
    let mut last = None;
    let to = |last: &mut Option<OperationStatus>, status| -> Result<(), DurableError> {
        transition::check(OperationType::Step, label, *last, status)?;
        *last = Some(status);
        Ok(())
    };
    // A due retry: the wake-up writes the failed attempt's record READY, in a commit of its
    // own, before the next START (PROTOCOL.md §7). As the AWS local runner's, it keeps the
    // attempt and its error and clears the next attempt's time.
    let ready = |attempt, error| record(OperationStatus::Ready, attempt, None, error);

    let mut attempt = 1;
    // A re-run of an interrupted at-least-once attempt writes no second START.
    let mut started = false;
    if let Some(rec) = ctx.replay(&id, OperationType::Step, name.as_deref())? {
        last = Some(rec.status);
        match rec.status {
            OperationStatus::Succeeded => {
                return decode(&format!("result of step {label:?}"), rec.result.as_deref())
            }
            status if status.is_failure() => {
                return Err(fail(rec.error.unwrap_or_else(|| {
                    ErrorObject::new("StepFailed", "failed without a recorded error")
                })))
            }
            OperationStatus::Pending => {
                let due = rec.details.next_attempt_ms.unwrap_or_else(|| ctx.now_ms());
                ctx.until(due).await;
                to(&mut last, OperationStatus::Ready)?;
                ctx.checkpoint(&ready(rec.attempt, rec.error)).await?;
                attempt = rec.attempt + 1;
            }
            OperationStatus::Ready => attempt = rec.attempt + 1,
            OperationStatus::Started if !at_most_once => {
                attempt = rec.attempt.max(1);
                started = true;
            }
            _ => {
                // STARTED under at-most-once (every other status is handled above).
                let error = ErrorObject::new(
                    "StepInterrupted",
                    format!(
                        "at-most-once step {label:?} was interrupted in attempt {}",
                        rec.attempt
                    ),
                );
                match retry.delay(rec.attempt) {
                    Some(d) => {
                        let due = ctx.now_ms() + d.as_millis() as u64;
                        let mut pending = record(
                            OperationStatus::Pending,
                            rec.attempt,
                            None,
                            Some(error.clone()),
                        );
                        pending.details.next_attempt_ms = Some(due);
                        to(&mut last, OperationStatus::Pending)?;
                        ctx.checkpoint(&pending).await?;
                        ctx.until(due).await;
                        to(&mut last, OperationStatus::Ready)?;
                        ctx.checkpoint(&ready(rec.attempt, Some(error))).await?;
                        attempt = rec.attempt + 1;
                    }
                    None => {
                        to(&mut last, OperationStatus::Failed)?;
                        ctx.checkpoint(&record(
                            OperationStatus::Failed,
                            rec.attempt,
                            None,
                            Some(error.clone()),
                        ))
                        .await?;
                        return Err(fail(error));
                    }
                }
            }
        }
    }

    loop {
        // A stopped run starts no more step bodies.
        if let Some(stop) = ctx.stopped() {
            return Err(stop.into());
        }
        // One record per attempt: START, then the same record with the outcome.
        let mut rec = record(OperationStatus::Started, attempt, None, None);
        if !std::mem::take(&mut started) {
            to(&mut last, OperationStatus::Started)?;
            if at_most_once {
                ctx.checkpoint(&rec).await?;
            } else {
                ctx.checkpoint_nowait(&rec);
            }
        }
        let step_ctx = StepContext::new(ctx.execution_id_arc(), &id, name.as_deref(), attempt);
        let running = ctx.suspension().step_running();
        let (outcome, violation) =
            step_scope::run_body(ctx.execution_key(), label, step.call(step_ctx)).await;
        drop(running);
        if let Some(error) = violation {
            // Not retried: another attempt would start the same operation.
            to(&mut last, OperationStatus::Failed)?;
            rec.status = OperationStatus::Failed;
            rec.error = Some(error.clone());
            ctx.checkpoint(&rec).await?;
            return Err(fail(error));
        }
        match outcome {
            Ok(value) => {
                let text = serde_json::to_string(&value).map_err(|e| DurableError::Serde {
                    what: format!("result of step {label:?}"),
                    message: e.to_string(),
                })?;
                to(&mut last, OperationStatus::Succeeded)?;
                rec.status = OperationStatus::Succeeded;
                rec.result = Some(text);
                if at_most_once {
                    ctx.checkpoint(&rec).await?;
                } else {
                    // The body may run again anyway: its result need not be durable before
                    // the execution goes on (a later barrier write covers it).
                    ctx.checkpoint_ordered(&rec).await?;
                }
                return Ok(value);
            }
            Err(e) => {
                let error = step.error_object(&e);
                match retry.delay(attempt) {
                    Some(d) => {
                        // PENDING until the retry is due, then READY, then the next START
                        // (PROTOCOL.md §7), each durable before the next (RETRY is a
                        // synchronous update); a long delay suspends the execution.
                        let due = ctx.now_ms() + d.as_millis() as u64;
                        to(&mut last, OperationStatus::Pending)?;
                        rec.status = OperationStatus::Pending;
                        rec.error = Some(error);
                        rec.details.next_attempt_ms = Some(due);
                        ctx.checkpoint(&rec).await?;
                        ctx.until(due).await;
                        to(&mut last, OperationStatus::Ready)?;
                        ctx.checkpoint(&ready(attempt, rec.error.clone())).await?;
                        attempt += 1;
                    }
                    None => {
                        to(&mut last, OperationStatus::Failed)?;
                        rec.status = OperationStatus::Failed;
                        rec.error = Some(error.clone());
                        ctx.checkpoint(&rec).await?;
                        return Err(fail(error));
                    }
                }
            }
        }
    }
}
