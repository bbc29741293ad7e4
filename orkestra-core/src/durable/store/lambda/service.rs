//! The two calls the store makes, behind a trait ([`CheckpointService`]) so the token chain
//! can be tested without a server; [`SdkService`] makes them with `aws-sdk-lambda`.

use super::wire::{Update, UpdateType};
use crate::durable::step::BoxFuture;
use aws_sdk_lambda::types as sdk;
use serde_json::{json, Map, Value};

/// What a `CheckpointDurableExecution` call answered.
#[derive(Debug, Clone, Default)]
pub struct CheckpointResponse {
    /// The next checkpoint token; `None` when the invocation may record nothing more.
    pub token: Option<String>,
    /// `NewExecutionState.Operations`, in the event's JSON shape.
    pub operations: Vec<Value>,
    /// `NewExecutionState.NextMarker` (non-empty: more pages).
    pub next_marker: Option<String>,
}

/// One page of `GetDurableExecutionState`.
#[derive(Debug, Clone, Default)]
pub struct StatePage {
    /// The operations, in the event's JSON shape.
    pub operations: Vec<Value>,
    /// The marker of the next page (non-empty: more pages).
    pub next_marker: Option<String>,
}

/// A failed call: the service's error code (e.g. `InvalidParameterValueException`) and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {code}: {message}")]
pub struct ServiceError {
    /// `CheckpointDurableExecution` or `GetDurableExecutionState`.
    pub operation: &'static str,
    /// The error code.
    pub code: String,
    /// The message.
    pub message: String,
}

/// The checkpoint service of one Lambda durable execution.
pub trait CheckpointService: Send + Sync + 'static {
    /// `CheckpointDurableExecution` with `token` and `updates`.
    fn checkpoint(
        &self,
        arn: &str,
        token: &str,
        updates: Vec<Update>,
    ) -> BoxFuture<'static, Result<CheckpointResponse, ServiceError>>;
    /// One page of `GetDurableExecutionState` after `marker`.
    fn get_state(
        &self,
        arn: &str,
        token: &str,
        marker: &str,
    ) -> BoxFuture<'static, Result<StatePage, ServiceError>>;
}

/// [`CheckpointService`] through `aws-sdk-lambda` (endpoint and credentials from the usual AWS
/// configuration, so `AWS_ENDPOINT_URL_LAMBDA` reaches a local service).
#[derive(Debug, Clone)]
pub struct SdkService {
    client: aws_sdk_lambda::Client,
}

impl SdkService {
    /// A service calling through a Lambda client of `config`.
    pub fn new(config: &crate::aws::AwsConfig) -> Self {
        SdkService {
            client: aws_sdk_lambda::Client::new(config.sdk()),
        }
    }

    /// A service configured from the environment ([`AwsConfig::from_env`]: region,
    /// credentials, `AWS_ENDPOINT_URL_LAMBDA`; throttling and transport errors retried).
    ///
    /// [`AwsConfig::from_env`]: crate::aws::AwsConfig::from_env
    pub async fn from_env() -> Self {
        SdkService::new(&crate::aws::AwsConfig::from_env().await)
    }
}

fn service_error<E, R>(
    operation: &'static str,
    e: aws_sdk_lambda::error::SdkError<E, R>,
) -> ServiceError
where
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    let code = e.code().unwrap_or("TransportError").to_string();
    let message = e
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| aws_sdk_lambda::error::DisplayErrorContext(&e).to_string());
    ServiceError {
        operation,
        code,
        message,
    }
}

/// An update as the SDK's type.
pub(crate) fn to_sdk(u: &Update) -> sdk::OperationUpdate {
    let op_type = match u.update_type {
        UpdateType::Execution => sdk::OperationType::Execution,
        UpdateType::Op(t) => sdk::OperationType::from(t.as_str()),
    };
    let mut b = sdk::OperationUpdate::builder()
        .id(&u.id)
        .r#type(op_type)
        .action(sdk::OperationAction::from(u.action.as_str()))
        .set_parent_id(u.parent_id.clone())
        .set_name(u.name.clone())
        .set_sub_type(u.sub_type.clone())
        .set_payload(u.payload.clone());
    if let Some(e) = &u.error {
        b = b.error(
            sdk::ErrorObject::builder()
                .error_type(&e.error_type)
                .error_message(&e.error_message)
                .build(),
        );
    }
    let o = &u.options;
    if let Some(r) = o.replay_children {
        b = b.context_options(sdk::ContextOptions::builder().replay_children(r).build());
    }
    if let Some(d) = o.next_attempt_delay_seconds {
        b = b.step_options(
            sdk::StepOptions::builder()
                .next_attempt_delay_seconds(d as i32)
                .build(),
        );
    }
    if let Some(w) = o.wait_seconds {
        b = b.wait_options(sdk::WaitOptions::builder().wait_seconds(w as i32).build());
    }
    if o.callback_timeout_seconds.is_some() || o.callback_heartbeat_seconds.is_some() {
        b = b.callback_options(
            sdk::CallbackOptions::builder()
                .timeout_seconds(o.callback_timeout_seconds.unwrap_or(0) as i32)
                .heartbeat_timeout_seconds(o.callback_heartbeat_seconds.unwrap_or(0) as i32)
                .build(),
        );
    }
    if let Some(f) = &o.function_name {
        if let Ok(opts) = sdk::ChainedInvokeOptions::builder()
            .function_name(f)
            .build()
        {
            b = b.chained_invoke_options(opts);
        }
    }
    b.build().expect("id, type and action are always set")
}

fn ms(t: &aws_sdk_lambda::primitives::DateTime) -> Value {
    json!(t.to_millis().unwrap_or_default())
}

fn error_json(e: &sdk::ErrorObject) -> Value {
    json!({"ErrorType": e.error_type(), "ErrorMessage": e.error_message()})
}

/// An SDK `Operation` in the invocation event's JSON shape (timestamps in epoch ms).
pub(crate) fn from_sdk(op: &sdk::Operation) -> Value {
    let mut m = Map::new();
    m.insert("Id".into(), json!(op.id()));
    if let Some(p) = op.parent_id() {
        m.insert("ParentId".into(), json!(p));
    }
    if let Some(n) = op.name() {
        m.insert("Name".into(), json!(n));
    }
    m.insert("Type".into(), json!(op.r#type().as_str()));
    if let Some(s) = op.sub_type() {
        m.insert("SubType".into(), json!(s));
    }
    m.insert("Status".into(), json!(op.status().as_str()));
    m.insert("StartTimestamp".into(), ms(op.start_timestamp()));
    if let Some(t) = op.end_timestamp() {
        m.insert("EndTimestamp".into(), ms(t));
    }
    let mut details = |key: &str, v: Value| {
        m.insert(key.into(), v);
    };
    if let Some(d) = op.execution_details() {
        details(
            "ExecutionDetails",
            json!({"InputPayload": d.input_payload()}),
        );
    }
    if let Some(d) = op.context_details() {
        details(
            "ContextDetails",
            json!({"ReplayChildren": d.replay_children(), "Result": d.result(),
                   "Error": d.error().map(error_json)}),
        );
    }
    if let Some(d) = op.step_details() {
        details(
            "StepDetails",
            json!({"Attempt": d.attempt(), "Result": d.result(),
                   "Error": d.error().map(error_json),
                   "NextAttemptTimestamp": d.next_attempt_timestamp().map(ms)}),
        );
    }
    if let Some(d) = op.wait_details() {
        details(
            "WaitDetails",
            json!({"ScheduledEndTimestamp": d.scheduled_end_timestamp().map(ms)}),
        );
    }
    if let Some(d) = op.callback_details() {
        details(
            "CallbackDetails",
            json!({"CallbackId": d.callback_id(), "Result": d.result(),
                   "Error": d.error().map(error_json)}),
        );
    }
    if let Some(d) = op.chained_invoke_details() {
        details(
            "ChainedInvokeDetails",
            json!({"Result": d.result(), "Error": d.error().map(error_json)}),
        );
    }
    Value::Object(m)
}

impl CheckpointService for SdkService {
    fn checkpoint(
        &self,
        arn: &str,
        token: &str,
        updates: Vec<Update>,
    ) -> BoxFuture<'static, Result<CheckpointResponse, ServiceError>> {
        let call = self
            .client
            .checkpoint_durable_execution()
            .durable_execution_arn(arn)
            .checkpoint_token(token)
            .set_updates(Some(updates.iter().map(to_sdk).collect()));
        Box::pin(async move {
            let out = call
                .send()
                .await
                .map_err(|e| service_error("CheckpointDurableExecution", e))?;
            let state = out.new_execution_state();
            Ok(CheckpointResponse {
                token: out.checkpoint_token().map(str::to_string),
                operations: state
                    .map(|s| s.operations().iter().map(from_sdk).collect())
                    .unwrap_or_default(),
                next_marker: state.and_then(|s| s.next_marker()).map(str::to_string),
            })
        })
    }

    fn get_state(
        &self,
        arn: &str,
        token: &str,
        marker: &str,
    ) -> BoxFuture<'static, Result<StatePage, ServiceError>> {
        let call = self
            .client
            .get_durable_execution_state()
            .durable_execution_arn(arn)
            .checkpoint_token(token)
            .marker(marker)
            .max_items(1000);
        Box::pin(async move {
            let out = call
                .send()
                .await
                .map_err(|e| service_error("GetDurableExecutionState", e))?;
            Ok(StatePage {
                operations: out.operations().iter().map(from_sdk).collect(),
                next_marker: out.next_marker().map(str::to_string),
            })
        })
    }
}
