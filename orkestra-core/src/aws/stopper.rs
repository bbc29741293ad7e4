//! [`SfnStopper`]: `ctx.stop_execution(..)` in AWS, through Step Functions' `StopExecution`.

use aws_sdk_sfn::error::DisplayErrorContext;

use super::config::AwsConfig;
use crate::state_data::{ExecutionStopper, StateDataError, StoreFuture};

/// Step Functions' longest `error` (characters).
const MAX_ERROR_CHARS: usize = 256;
/// Step Functions' longest `cause` (characters).
const MAX_CAUSE_CHARS: usize = 32_768;

/// Stops executions with Step Functions' `StopExecution`; the execution id is the execution's
/// ARN (what a task's envelope carries in AWS). The execution ends `ABORTED` with the error
/// and cause (cut to Step Functions' limits of 256 and 32,768 characters).
///
/// ```no_run
/// # async fn demo() -> Result<(), orkestra::state_data::StateDataError> {
/// use orkestra::aws::{AwsConfig, SfnStopper};
/// use orkestra::state_data::ExecutionStopper;
/// let stopper = SfnStopper::new(&AwsConfig::from_env().await);
/// let arn = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1";
/// stopper.stop(arn, "FeatureDisabled", "the orders flag is off").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SfnStopper {
    client: aws_sdk_sfn::Client,
}

impl SfnStopper {
    /// A stopper using `config`'s region, credentials and endpoint.
    pub fn new(config: &AwsConfig) -> SfnStopper {
        SfnStopper {
            client: config.sfn(),
        }
    }

    /// A stopper configured from the environment ([`AwsConfig::from_env`]).
    pub async fn from_env() -> SfnStopper {
        SfnStopper::new(&AwsConfig::from_env().await)
    }
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

impl ExecutionStopper for SfnStopper {
    fn stop<'a>(
        &'a self,
        execution_id: &'a str,
        error: &'a str,
        cause: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .stop_execution()
                .execution_arn(execution_id)
                .error(truncate(error, MAX_ERROR_CHARS))
                .cause(truncate(cause, MAX_CAUSE_CHARS))
                .send()
                .await
                .map_err(|e| StateDataError::Backend {
                    backend: "sfn",
                    operation: "StopExecution",
                    table: execution_id.to_string(),
                    message: format!("execution {execution_id}: {}", DisplayErrorContext(&e)),
                })?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn long_texts_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééé", 2), "éé");
        assert_eq!(truncate(&"x".repeat(300), 256).len(), 256);
    }
}
