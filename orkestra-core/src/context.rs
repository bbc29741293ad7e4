//! [`Context`]: what a running task can know about its execution.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
        };
        change(&mut shared);
        Context {
            shared: Arc::new(shared),
            ..self.clone()
        }
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
