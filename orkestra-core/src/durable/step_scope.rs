//! Keeps step bodies from starting durable operations.
//!
//! A step's body is checkpointed as one unit, so an operation it started (through a cloned
//! [`DurableContext`](super::DurableContext) a closure captured, say) would be recorded on the
//! first run and skipped on replay, which then fails as non-deterministic. Instead the
//! operation fails at once, on the first run: while a body runs, its step is recorded in a
//! task-local, every operation checks it, and the step then fails with the same error whatever
//! the body returned (it is not retried: another attempt would do the same).

use std::future::Future;
use std::sync::{Arc, Mutex};

use super::error::DurableError;
use super::store::ErrorObject;

/// The error type recorded when a step body starts a durable operation.
pub const OPERATION_IN_STEP: &str = "DurableOperationInStep";

tokio::task_local! {
    static RUNNING_STEP: Arc<RunningStep>;
}

/// The step whose body is being polled.
struct RunningStep {
    /// The execution the step belongs to (operations of other executions are allowed).
    execution: usize,
    /// The step's name, or its id when unnamed.
    label: String,
    /// The first operation the body started, as the step's error.
    violation: Mutex<Option<ErrorObject>>,
}

/// Polls `body` as the body of step `label` of execution `execution`; returns its output and,
/// when the body started a durable operation of that execution, the error the step fails with.
pub(crate) async fn run_body<F: Future>(
    execution: usize,
    label: &str,
    body: F,
) -> (F::Output, Option<ErrorObject>) {
    let step = Arc::new(RunningStep {
        execution,
        label: label.to_string(),
        violation: Mutex::new(None),
    });
    let output = RUNNING_STEP.scope(step.clone(), body).await;
    let violation = step
        .violation
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    (output, violation)
}

/// Fails when a step body of `execution` is running: operation `kind` (`step`, `map`, ..)
/// called `name` may not start there. The step is marked failed with the same error.
pub(crate) fn ensure_not_in_step(
    execution: usize,
    kind: &str,
    name: Option<&str>,
) -> Result<(), DurableError> {
    let operation = || match name {
        Some(name) => format!("{kind} {name:?}"),
        None => kind.to_string(),
    };
    let Ok(Some(error)) = RUNNING_STEP.try_with(|step| {
        (step.execution == execution).then(|| {
            let operation = operation();
            let error = ErrorObject::new(
                OPERATION_IN_STEP,
                format!(
                    "the body of step {:?} started the durable operation {operation} on the \
                     DurableContext; a step body cannot start durable operations (steps, maps, \
                     parallels, waits, child contexts, callbacks, invokes): start them in the \
                     handler and pass their results to the step as arguments",
                    step.label
                ),
            );
            let mut slot = step.violation.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| error.clone());
            error
        })
    }) else {
        return Ok(());
    };
    Err(DurableError::OperationFailed {
        name: operation(),
        error,
    })
}
