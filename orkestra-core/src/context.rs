//! [`Context`]: what a running task can know about its execution.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::state_data::services::{self, Services, StoreSlot};
use crate::state_data::{
    ExecutionStopped, ExecutionStopper, StateData, StateDataError, StateDataStore, StopRequest,
};
use crate::task::TaskSpec;

/// What a task can know about the execution it runs in.
///
/// The same fields are filled locally by the engine, by `invoke`, and in AWS Lambda from the
/// task envelope, so code that reads them behaves the same everywhere.
///
/// ```
/// use orkestra::Context;
///
/// let ctx = Context::for_tests();
/// assert_eq!(ctx.state_name(), "test");
/// assert_eq!(ctx.map_index(), None);
/// assert_eq!(ctx.retry_count(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    // Shared by every item of a map: one atomic increment per item instead of four.
    shared: Arc<Shared>,
    map_index: Option<usize>,
    retry_count: u32,
    deadline: Option<Instant>,
}

#[derive(Debug)]
struct Shared {
    execution_id: Arc<str>,
    workflow_name: Arc<str>,
    state_name: Arc<str>,
    request_id: Option<Arc<str>>,
    function_name: Option<Arc<str>>,
    /// The store, stopper and stop request; `None` for a context built by hand.
    services: Option<Arc<Services>>,
    /// The running task's registry key and whether it declared `state_data`.
    task: Option<(&'static str, bool)>,
}

impl Context {
    /// A context for the state `state_name` of execution `execution_id` of `workflow_name`.
    pub fn new(
        execution_id: impl Into<Arc<str>>,
        workflow_name: impl Into<Arc<str>>,
        state_name: impl Into<Arc<str>>,
    ) -> Self {
        Context {
            shared: Arc::new(Shared {
                execution_id: execution_id.into(),
                workflow_name: workflow_name.into(),
                state_name: state_name.into(),
                request_id: None,
                function_name: None,
                services: None,
                task: None,
            }),
            map_index: None,
            retry_count: 0,
            deadline: None,
        }
    }

    /// The context of one state of an engine's execution: one allocation for every field.
    pub(crate) fn for_state(
        execution_id: Arc<str>,
        workflow_name: Arc<str>,
        state_name: Arc<str>,
        services: Arc<Services>,
        spec: &'static TaskSpec,
    ) -> Self {
        Context {
            shared: Arc::new(Shared {
                execution_id,
                workflow_name,
                state_name,
                request_id: None,
                function_name: None,
                services: Some(services),
                task: Some((spec.name, spec.options.state_data)),
            }),
            map_index: None,
            retry_count: 0,
            deadline: None,
        }
    }

    /// The equivalent of the seed's `generic_context` fixture: a context for unit tests that
    /// call a task function directly (execution `test-execution`, workflow and state `test`).
    pub fn for_tests() -> Self {
        Context::new("test-execution", "test", "test")
    }

    /// The same context for item `index` of a map state.
    pub fn with_map_index(&self, index: usize) -> Self {
        Context {
            map_index: Some(index),
            ..self.clone()
        }
    }

    /// The same context for retry number `retry_count` (0 is the first attempt).
    pub fn with_retry_count(&self, retry_count: u32) -> Self {
        Context {
            retry_count,
            ..self.clone()
        }
    }

    /// The same context with a deadline, after which the task is timed out.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Context {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// The same context with the AWS request id of the invocation (set in Lambda).
    pub fn with_request_id(&self, request_id: impl Into<Arc<str>>) -> Self {
        self.with_shared(|shared| shared.request_id = Some(request_id.into()))
    }

    /// The same context with the Lambda function's name (set in Lambda).
    pub fn with_function_name(&self, function_name: impl Into<Arc<str>>) -> Self {
        self.with_shared(|shared| shared.function_name = Some(function_name.into()))
    }

    fn with_shared(&self, change: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Shared {
            execution_id: self.shared.execution_id.clone(),
            workflow_name: self.shared.workflow_name.clone(),
            state_name: self.shared.state_name.clone(),
            request_id: self.shared.request_id.clone(),
            function_name: self.shared.function_name.clone(),
            services: self.shared.services.clone(),
            task: self.shared.task,
        };
        change(&mut shared);
        Context {
            shared: Arc::new(shared),
            ..self.clone()
        }
    }

    /// The same context running task `spec`: state data is refused unless the task is
    /// declared `#[compose(state_data)]` (the engine, `invoke` and Lambda mode set it).
    pub fn with_task(&self, spec: &'static TaskSpec) -> Self {
        self.with_shared(|shared| shared.task = Some((spec.name, spec.options.state_data)))
    }

    /// The same context storing state data in `store` (by default the project's SQLite file,
    /// opened on first use).
    pub fn with_state_store(&self, store: Arc<dyn StateDataStore>) -> Self {
        let mut services = self.services();
        services.store = StoreSlot::Given(store);
        self.with_services(Arc::new(services))
    }

    /// The same context calling `stopper` when a task stops the execution (set in Lambda
    /// mode, where Step Functions' `StopExecution` does it).
    pub fn with_stopper(&self, stopper: Arc<dyn ExecutionStopper>) -> Self {
        let mut services = self.services();
        services.stopper = Some(stopper);
        self.with_services(Arc::new(services))
    }

    pub(crate) fn with_services(&self, services: Arc<Services>) -> Self {
        self.with_shared(|shared| shared.services = Some(services))
    }

    fn services(&self) -> Services {
        match &self.shared.services {
            Some(services) => Services::clone(services),
            None => Services {
                store: services::process_default().store.clone(),
                ..Services::default()
            },
        }
    }

    pub(crate) fn task_access(&self) -> Option<(&'static str, bool)> {
        self.shared.task
    }

    pub(crate) async fn state_store(&self) -> Result<Arc<dyn StateDataStore>, StateDataError> {
        match &self.shared.services {
            Some(services) => services.store.get().await,
            None => services::process_default().store.get().await,
        }
    }

    /// The state data client: typed items stored under this execution's id (see
    /// [`StateData`]).
    pub fn state_data(&self) -> StateData<'_> {
        StateData::new(self)
    }

    /// Stops the whole execution from inside a task: locally the engine ends it as ABORTED
    /// with `error` and `cause` once this task returns (whatever it returns; no Retry or
    /// Catch handles it, no later state runs); with a stopper set (Lambda mode) Step Functions
    /// is asked to stop the execution. Return the value it gives as the task's error.
    pub async fn stop_execution(
        &self,
        error: impl Into<String>,
        cause: impl Into<String>,
    ) -> ExecutionStopped {
        let request = StopRequest {
            error: error.into(),
            cause: cause.into(),
        };
        let mut stopper_failure = None;
        if let Some(services) = &self.shared.services {
            let _ = services.stop.set(request.clone());
            if let Some(stopper) = &services.stopper {
                if let Err(e) = stopper
                    .stop(self.execution_id(), &request.error, &request.cause)
                    .await
                {
                    tracing::error!(error = %e, "stop_execution: the stopper failed");
                    stopper_failure = Some(e.to_string());
                }
            }
        }
        ExecutionStopped {
            error: request.error,
            cause: request.cause,
            stopper_failure,
        }
    }

    /// The stop request of this context's execution, once a task made one.
    pub fn stop_requested(&self) -> Option<&StopRequest> {
        self.shared.services.as_ref().and_then(|s| s.stop.get())
    }

    /// The execution's id (`$$.Execution.Id` in Step Functions).
    pub fn execution_id(&self) -> &str {
        &self.shared.execution_id
    }

    /// The workflow's (state machine's) name.
    pub fn workflow_name(&self) -> &str {
        &self.shared.workflow_name
    }

    /// The name of the state this task runs as.
    pub fn state_name(&self) -> &str {
        &self.shared.state_name
    }

    /// The index of the item inside a map state, `None` outside a map.
    pub fn map_index(&self) -> Option<usize> {
        self.map_index
    }

    /// How many times this task was retried before this attempt (`$$.State.RetryCount`).
    pub fn retry_count(&self) -> u32 {
        self.retry_count
    }

    /// The attempt number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.retry_count + 1
    }

    /// The AWS request id, when running in Lambda.
    pub fn request_id(&self) -> Option<&str> {
        self.shared.request_id.as_deref()
    }

    /// The Lambda function's name, when running in Lambda.
    pub fn function_name(&self) -> Option<&str> {
        self.shared.function_name.as_deref()
    }

    /// Time left before the task times out; `None` when it has no timeout.
    pub fn remaining_time(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_contexts_keep_shared_fields() {
        let ctx = Context::new("exec-1", "wf", "state")
            .with_map_index(3)
            .with_retry_count(2)
            .with_request_id("req-9")
            .with_function_name("fn-1");
        assert_eq!(ctx.execution_id(), "exec-1");
        assert_eq!(ctx.workflow_name(), "wf");
        assert_eq!(ctx.state_name(), "state");
        assert_eq!(ctx.map_index(), Some(3));
        assert_eq!(ctx.attempt(), 3);
        assert_eq!(ctx.request_id(), Some("req-9"));
        assert_eq!(ctx.function_name(), Some("fn-1"));
        assert_eq!(ctx.execution_id(), "exec-1");
        assert_eq!(ctx.remaining_time(), None);
    }

    #[test]
    fn remaining_time_counts_down_to_zero() {
        let ctx = Context::for_tests().with_deadline(Instant::now() + Duration::from_secs(60));
        let left = ctx.remaining_time().unwrap();
        assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
        let past = Context::for_tests().with_deadline(Instant::now() - Duration::from_secs(1));
        assert_eq!(past.remaining_time(), Some(Duration::ZERO));
    }
}
