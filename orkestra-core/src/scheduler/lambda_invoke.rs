//! The dispatcher's Lambda invoker (feature `aws`): each claimed task is an asynchronous
//! `Invoke` (`InvocationType::Event`) of its labourer's Lambda function, with a
//! [`ScheduledEvent`] so the labourer reports its own completion (the worker assistant).
//!
//! The function of labourer `name` is, in order: the labourers config's `arn` for it; the
//! environment variable [`function_var`]`(name)` (`ORKESTRA_LABOURER_<LogicalId>`, which
//! `synth` sets on the orchestrator to the ARN of the function it exports for the task); a
//! labourer id that is itself an ARN (`arn:aws:lambda:..`); else the name itself (a function
//! deployed under the task's name).

use std::collections::BTreeMap;

use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::config::SchedulerConfig;
use super::worker::ScheduledEvent;
use crate::aws::AwsConfig;
use crate::error::TaskError;

/// The error name of an `Invoke` that Lambda refused (throttled, function missing, ...).
pub const NAME_INVOKE_FAILED: &str = "Scheduler.InvokeFailed";

pub use crate::export::scheduler::function_var;

/// Invokes labourers as Lambda functions, asynchronously.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
    configured: BTreeMap<String, String>,
}

impl LambdaInvoker {
    /// An invoker with the SDK settings of `aws` (region, credentials; the endpoint from
    /// `AWS_ENDPOINT_URL_LAMBDA` or `AWS_ENDPOINT_URL`) and the functions named in `scheduler`'s
    /// labourers config.
    pub fn new(aws: &AwsConfig, scheduler: &SchedulerConfig) -> LambdaInvoker {
        LambdaInvoker {
            client: aws_sdk_lambda::Client::new(aws.sdk()),
            configured: scheduler
                .labourers
                .iter()
                .filter_map(|(name, o)| o.arn.clone().map(|arn| (name.clone(), arn)))
                .collect(),
        }
    }

    /// The function name or ARN invoked for `labourer`.
    pub fn function(&self, labourer: &str) -> String {
        if let Some(arn) = self.configured.get(labourer) {
            return arn.clone();
        }
        match std::env::var(function_var(labourer)) {
            Ok(arn) if !arn.is_empty() => arn,
            _ => labourer.to_string(),
        }
    }

    /// Sends `event` to its labourer's function; Lambda queues it and answers 202. An error
    /// (throttled, no such function, no permission) names the function and Lambda's reason.
    pub async fn invoke(&self, event: &ScheduledEvent) -> Result<(), TaskError> {
        let function = self.function(&event.coordinates.labourer_id);
        let payload = serde_json::to_vec(&event.to_json()).expect("JSON serialises");
        let failed = |reason: String| {
            TaskError::new(
                NAME_INVOKE_FAILED,
                format!("asynchronous Invoke of function `{function}` failed: {reason}"),
            )
        };
        let out = self
            .client
            .invoke()
            .function_name(&function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| failed(DisplayErrorContext(e).to_string()))?;
        match out.status_code() {
            202 => Ok(()),
            other => Err(failed(format!("status {other} instead of 202 Accepted"))),
        }
    }
}
