//! The orchestrator and scavenger in Lambda (feature `aws`): the function whose `Handler` is
//! [`HANDLER`] (`orkestra-scheduler`) runs ONE dispatch pass per invocation — expire hung
//! tasks, requeue due retries, claim up to each labourer's limit, invoke the labourers'
//! functions asynchronously — and returns; an EventBridge rule invokes it on a schedule (the
//! event's content is ignored, so a scheduled event and `{}` do the same).
//!
//! Settings come from the environment: [`PREFIX_VAR`] (`ORKESTRA_SCHEDULER_PREFIX`, the
//! DynamoDB tables' prefix), the labourers config (`ORKESTRA_SCHEDULER_CONFIG`, else
//! `.orkestra/scheduler.json` beside the binary, if present), and each labourer's function
//! (see [`lambda_invoke`](super::lambda_invoke)).

use std::sync::Arc;

use serde_json::Value;

use super::config::SchedulerConfig;
use super::dispatch::{DispatchOptions, Dispatcher, Invoker};
use super::dynamo::DynamoQueue;
use super::lambda_invoke::LambdaInvoker;
use super::worker::{NAME_NOT_CONFIGURED, PREFIX_VAR};
use crate::aws::AwsConfig;
use crate::error::TaskError;
use crate::registry::Registry;

/// The `Handler` (`_HANDLER`) of the orchestrator's function.
pub const HANDLER: &str = crate::export::scheduler::ORCHESTRATOR_HANDLER;

/// One dispatch pass per invocation over the DynamoDB queue, with the Lambda invoker.
pub struct Orchestrator {
    dispatcher: Result<Dispatcher, TaskError>,
}

impl Orchestrator {
    /// The orchestrator the environment describes; when a setting is missing or wrong, every
    /// invocation fails with [`NAME_NOT_CONFIGURED`] saying which.
    pub async fn from_env(registry: &'static Registry) -> Orchestrator {
        let not_configured = |message: String| TaskError::new(NAME_NOT_CONFIGURED, message);
        let prefix = std::env::var(PREFIX_VAR).ok().filter(|p| !p.is_empty());
        let dispatcher = match (prefix, SchedulerConfig::load(None)) {
            (None, _) => Err(not_configured(format!(
                "`{PREFIX_VAR}` is not set: set it to the scheduler tables' prefix (`synth` sets it)"
            ))),
            (_, Err(message)) => Err(not_configured(message)),
            (Some(prefix), Ok(config)) => {
                let aws = AwsConfig::from_env().await;
                let invoker = LambdaInvoker::new(&aws, &config);
                let options = DispatchOptions {
                    owner: format!(
                        "lambda-{}-{}",
                        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
                        uuid::Uuid::new_v4().simple()
                    ),
                    ..DispatchOptions::default()
                };
                Ok(Dispatcher::new(
                    Arc::new(DynamoQueue::new(&aws, &prefix)),
                    registry,
                    config,
                    options,
                )
                .with_invoker(Invoker::Lambda(Arc::new(invoker))))
            }
        };
        if let Err(error) = &dispatcher {
            tracing::error!(error = error.message(), "the orchestrator cannot dispatch");
        }
        Orchestrator { dispatcher }
    }

    /// Runs one pass and returns what it did (`{"invoked":..,"retried":..,"expired":..,
    /// "dead":..,"completed":0}`).
    pub async fn handle(&self) -> Result<Value, TaskError> {
        let dispatcher = self.dispatcher.as_ref().map_err(Clone::clone)?;
        let report = dispatcher
            .pass()
            .await
            .map_err(|e| TaskError::new("Scheduler.StoreFault", e.to_string()))?;
        tracing::info!(
            invoked = report.invoked,
            retried = report.retried,
            expired = report.expired,
            dead = report.dead,
            "dispatch pass"
        );
        Ok(serde_json::to_value(report).expect("serialises"))
    }
}

/// Serves the orchestrator through the Lambda Runtime API until it goes away.
pub async fn serve(registry: &'static Registry) -> Result<(), lambda_runtime::Error> {
    let orchestrator: &'static Orchestrator =
        Box::leak(Box::new(Orchestrator::from_env(registry).await));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_: lambda_runtime::LambdaEvent<Value>| async move {
            orchestrator
                .handle()
                .await
                .map_err(|error| crate::lambda::handler::diagnostic(&error))
        },
    ))
    .await
}
