//! [`ExecutionStopped`]: what `ctx.stop_execution(..)` gives back for the task to return.

use std::borrow::Cow;

use crate::error::{names, ErrorName};

/// The execution was stopped from inside a task (`ctx.stop_execution(error, cause)`).
///
/// Return it (or convert it into the task's error type): the engine ends the whole execution
/// as ABORTED whatever the task returns, and no Retry or Catch handles it. Its name is
/// `Orkestra.ExecutionStopped`.
///
/// ```
/// use orkestra::{Context, ErrorName};
/// # let rt = tokio::runtime::Runtime::new().unwrap();
/// let stopped = rt.block_on(Context::for_tests().stop_execution("FlagOff", "feature flag is off"));
/// assert_eq!(stopped.error_name(), "Orkestra.ExecutionStopped");
/// assert_eq!(stopped.error, "FlagOff");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionStopped {
    /// The error given to `stop_execution`.
    pub error: String,
    /// The cause given to `stop_execution`.
    pub cause: String,
    /// Why the cloud stopper failed, if it did (the task still fails, so the execution ends).
    pub stopper_failure: Option<String>,
}

impl std::fmt::Display for ExecutionStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "execution stopped: {}: {}", self.error, self.cause)?;
        if let Some(failure) = &self.stopper_failure {
            write!(f, " (stopping it failed: {failure})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExecutionStopped {}

impl ErrorName for ExecutionStopped {
    fn error_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(names::EXECUTION_STOPPED)
    }
}
