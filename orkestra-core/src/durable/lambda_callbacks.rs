//! Completing callbacks of executions that run on AWS Lambda durable functions (cargo feature
//! `aws`).
//!
//! There the service mints callback ids and keeps the callbacks: a result, a failure or a
//! heartbeat is a call of `SendDurableExecutionCallbackSuccess` / `Failure` / `Heartbeat`
//! through `aws-sdk-lambda` (endpoint and credentials from the usual AWS configuration, so
//! `AWS_ENDPOINT_URL_LAMBDA` reaches a local service). The embedded counterpart is
//! [`complete_callback`](super::complete_callback); the CLI picks this one with
//! `durable complete-callback ID --lambda` (and `durable heartbeat-callback ID`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), orkestra::durable::RemoteCallbackError> {
//! use orkestra::durable::{ErrorObject, LambdaCallbacks};
//! let callbacks = LambdaCallbacks::from_env().await;
//! let id = "Ab3...the id the handler's submitter handed out";
//! callbacks.heartbeat(id).await?;
//! callbacks.succeed(id, &serde_json::json!({"approved": true})).await?;
//! // or: callbacks.fail(id, ErrorObject::new("Rejected", "the manager said no")).await?;
//! # Ok(()) }
//! ```

use super::ErrorObject;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;

/// A callback call the service refused or could not be reached for: which call, for which
/// callback, the service's error code (e.g. `ResourceNotFoundException` for an unknown or
/// already completed callback) and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} for callback {callback_id:?} failed: {code}: {message}")]
pub struct RemoteCallbackError {
    /// The API call: `SendDurableExecutionCallbackSuccess`, `...Failure` or `...Heartbeat`.
    pub operation: &'static str,
    /// The callback id sent.
    pub callback_id: String,
    /// The service's error code, or `TransportError` when it was not reached.
    pub code: String,
    /// The service's message.
    pub message: String,
}

/// Sends callback results, failures and heartbeats to the Lambda durable functions service.
#[derive(Debug, Clone)]
pub struct LambdaCallbacks {
    client: aws_sdk_lambda::Client,
}

impl LambdaCallbacks {
    /// Callbacks through a Lambda client of `config`.
    pub fn new(config: &crate::aws::AwsConfig) -> Self {
        LambdaCallbacks {
            client: aws_sdk_lambda::Client::new(config.sdk()),
        }
    }

    /// Callbacks configured from the environment (region, credentials,
    /// `AWS_ENDPOINT_URL_LAMBDA`).
    pub async fn from_env() -> Self {
        LambdaCallbacks::new(&crate::aws::AwsConfig::from_env().await)
    }

    /// Completes the callback with `result` (sent as its JSON text, which the handler's
    /// `wait_for_callback` / `Callback::result` decodes).
    pub async fn succeed(
        &self,
        callback_id: &str,
        result: &serde_json::Value,
    ) -> Result<(), RemoteCallbackError> {
        self.client
            .send_durable_execution_callback_success()
            .callback_id(callback_id)
            .result(Blob::new(result.to_string()))
            .send()
            .await
            .map(drop)
            .map_err(|e| refused("SendDurableExecutionCallbackSuccess", callback_id, e))
    }

    /// Fails the callback with `error` (the handler sees it as the callback's error).
    pub async fn fail(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), RemoteCallbackError> {
        let error = aws_sdk_lambda::types::ErrorObject::builder()
            .error_type(error.error_type)
            .error_message(error.error_message)
            .build();
        self.client
            .send_durable_execution_callback_failure()
            .callback_id(callback_id)
            .error(error)
            .send()
            .await
            .map(drop)
            .map_err(|e| refused("SendDurableExecutionCallbackFailure", callback_id, e))
    }

    /// Tells the service the callback's work is still going, restarting its heartbeat timeout
    /// ([`CallbackConfig::heartbeat_timeout`](super::CallbackConfig::heartbeat_timeout)).
    pub async fn heartbeat(&self, callback_id: &str) -> Result<(), RemoteCallbackError> {
        self.client
            .send_durable_execution_callback_heartbeat()
            .callback_id(callback_id)
            .send()
            .await
            .map(drop)
            .map_err(|e| refused("SendDurableExecutionCallbackHeartbeat", callback_id, e))
    }
}

fn refused<E>(
    operation: &'static str,
    callback_id: &str,
    e: aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
) -> RemoteCallbackError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = e
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| aws_sdk_lambda::error::DisplayErrorContext(&e).to_string());
    let code = match (e.code(), e.raw_response()) {
        (Some(code), _) => code.to_string(),
        // A service that names the error only in its body (`Type` / `__type`), or not at all.
        (None, Some(raw)) => raw
            .body()
            .bytes()
            .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
            .and_then(|body| {
                let named = body.get("Type").or_else(|| body.get("__type"))?;
                named.as_str().map(str::to_string)
            })
            .unwrap_or_else(|| format!("HTTP {}", raw.status().as_u16())),
        (None, None) => "TransportError".to_string(),
    };
    RemoteCallbackError {
        operation,
        callback_id: callback_id.to_string(),
        code,
        message,
    }
}
