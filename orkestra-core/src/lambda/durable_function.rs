//! Durable handlers served as AWS Lambda durable functions (cargo feature `aws`).
//!
//! Per invocation ([`invoke`]): the event (`DurableExecutionArn`, `CheckpointToken`,
//! `InitialExecutionState`) is parsed by hand into a [`LambdaCheckpointStore`], the
//! [`DurableExecutor`] runs the handler on it, replaying what the service sent, and the answer
//! is the protocol's envelope:
//!
//! - `{"Status":"SUCCEEDED","Result":"<JSON text>"}`; a result over the response limit
//!   ([`RESPONSE_LIMIT`]) is checkpointed on the EXECUTION operation and `Result` is empty;
//! - `{"Status":"FAILED","Error":{"ErrorType":..,"ErrorMessage":..}}`;
//! - `{"Status":"PENDING"}` once every path waits for the service (a timer, a retry, a
//!   callback, a chained invoke: waits never sleep in the function), or when the service
//!   revoked the checkpoint token.
//!
//! A checkpoint call that fails for good fails the invocation (a function error), so the
//! service invokes it again and it replays. Logs are the JSON lines of
//! [`logging`](super::logging), inside a span carrying `executionArn`; a handler's
//! [`ReplayLogger`](crate::durable::ReplayLogger) stays silent while replaying.

use crate::durable::store::lambda::{CheckpointService, LambdaCheckpointStore, SdkService};
use crate::durable::store::CheckpointStore;
use crate::durable::{
    DurableError, DurableExecutor, DurableHandler, ErrorObject, InvocationStatus,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The largest response a durable invocation returns inline (Lambda's 6 MB less the envelope,
/// the SDKs' `6*1024*1024 - 50`); a larger result is checkpointed on the EXECUTION operation.
pub const RESPONSE_LIMIT: usize = 6 * 1024 * 1024 - 50;

/// A durable handler and the name it is registered (or served) as.
pub type NamedHandler = (String, Arc<dyn DurableHandler>);

/// Picks the durable handler for an invocation of the function named by its argument.
pub type Resolver = dyn Fn(&str) -> Option<NamedHandler> + Send + Sync;

/// Runs one invocation of `handler` (registered as `name`) on `event`, checkpointing through
/// `service`; returns the protocol's answer, or an error for a function error (the service
/// invokes again).
pub async fn invoke(
    service: Arc<dyn CheckpointService>,
    name: &str,
    handler: &dyn DurableHandler,
    event: Value,
) -> Result<Value, ErrorObject> {
    let (store, input) = LambdaCheckpointStore::from_event(service, &event)
        .await
        .map_err(|e| ErrorObject::new("Orkestra.InvalidDurableEvent", e.to_string()))?;
    let store = Arc::new(store);
    let arn = store.arn().to_string();
    let span = tracing::info_span!("durable_invocation", executionArn = %arn, handler = name);
    async {
        // Every wait suspends: the service keeps the timers and re-invokes.
        let executor = DurableExecutor::new(store.clone()).hold(Duration::ZERO);
        let outcome = executor.run(&arn, name, handler, input).await;
        let flushed = store.flush().await;
        let pending = || Ok(json!({"Status": "PENDING"}));
        if store.revoked() {
            return pending();
        }
        if let Some(invalid) = store.invalid_operation() {
            // The handler's own mistake: replaying would meet it again, so the execution fails.
            let error = ErrorObject::new("Orkestra.InvalidOperation", invalid.to_string());
            return answer_failed(&store, error).await;
        }
        let rec = match outcome {
            Ok(rec) => rec,
            Err(DurableError::Store(e)) => {
                return Err(ErrorObject::new("Orkestra.CheckpointFailed", e.to_string()))
            }
            Err(e) => {
                // Not a checkpoint fault: the execution fails (e.g. non-deterministic replay).
                let error = e.to_error_object();
                return answer_failed(&store, error).await;
            }
        };
        if let Err(e) = flushed {
            return Err(ErrorObject::new("Orkestra.CheckpointFailed", e.to_string()));
        }
        match rec.status {
            InvocationStatus::Running => pending(),
            InvocationStatus::Succeeded => {
                let text = rec.result.unwrap_or_else(|| "null".into());
                if text.len() <= RESPONSE_LIMIT {
                    return Ok(json!({"Status": "SUCCEEDED", "Result": text}));
                }
                match store.checkpoint_execution(Ok(text)).await {
                    Ok(()) => Ok(json!({"Status": "SUCCEEDED", "Result": ""})),
                    Err(_) if store.revoked() => pending(),
                    Err(e) => Err(ErrorObject::new("Orkestra.CheckpointFailed", e.to_string())),
                }
            }
            _ => {
                let error = rec.error.unwrap_or_else(|| {
                    ErrorObject::new(
                        "ExecutionFailed",
                        format!("the execution ended {}", rec.status.as_str()),
                    )
                });
                answer_failed(&store, error).await
            }
        }
    }
    .instrument(span)
    .await
}

/// The FAILED answer, checkpointing an error too large for the response on EXECUTION.
async fn answer_failed(
    store: &LambdaCheckpointStore,
    error: ErrorObject,
) -> Result<Value, ErrorObject> {
    if error.error_type.len() + error.error_message.len() <= RESPONSE_LIMIT {
        return Ok(json!({
            "Status": "FAILED",
            "Error": {"ErrorType": error.error_type, "ErrorMessage": error.error_message},
        }));
    }
    match store.checkpoint_execution(Err(error)).await {
        Ok(()) => Ok(json!({"Status": "FAILED"})),
        Err(_) if store.revoked() => Ok(json!({"Status": "PENDING"})),
        Err(e) => Err(ErrorObject::new("Orkestra.CheckpointFailed", e.to_string())),
    }
}

/// The function name Lambda invoked: the last `:` field of the invoked function ARN (a
/// qualified ARN ends with its version or alias, which is skipped), else
/// `AWS_LAMBDA_FUNCTION_NAME`.
///
/// ```
/// use orkestra::lambda::durable_function::function_name;
/// assert_eq!(function_name("arn:aws:lambda:us-west-2:123456789012:function:req-1-1", ""), "req-1-1");
/// assert_eq!(function_name("arn:aws:lambda:us-west-2:123456789012:function:orders:$LATEST", ""), "orders");
/// assert_eq!(function_name("", "fallback"), "fallback");
/// ```
pub fn function_name(invoked_arn: &str, env_name: &str) -> String {
    let fields: Vec<&str> = invoked_arn.split(':').collect();
    let name = match fields.iter().position(|f| *f == "function") {
        Some(i) if i + 1 < fields.len() => fields[i + 1],
        _ => fields.last().copied().unwrap_or_default(),
    };
    if name.is_empty() {
        env_name.to_string()
    } else {
        name.to_string()
    }
}

/// Serves durable invocations until the Runtime API goes away: each goes to the handler
/// `resolve` picks for the invoked function's name (an unknown name fails the invocation with
/// `Orkestra.UnknownDurableHandler`). Checkpoints go through `aws-sdk-lambda`, configured from
/// the environment (`AWS_ENDPOINT_URL_LAMBDA` reaches a local service).
pub async fn serve(resolve: Box<Resolver>) -> Result<(), lambda_runtime::Error> {
    let service: Arc<dyn CheckpointService> = Arc::new(SdkService::from_env().await);
    let resolve: &'static Resolver = Box::leak(resolve);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| {
            let service = service.clone();
            async move {
                let env_name = &event.context.env_config.function_name;
                let name = function_name(&event.context.invoked_function_arn, env_name);
                let Some((key, handler)) = resolve(&name) else {
                    let error = ErrorObject::new(
                        "Orkestra.UnknownDurableHandler",
                        format!("no durable handler serves function {name:?} in this binary"),
                    );
                    return Err(diagnostic(&error));
                };
                let span = tracing::info_span!(
                    "invocation",
                    request_id = %event.context.request_id,
                    function = %name,
                );
                invoke(service, &key, handler.as_ref(), event.payload)
                    .instrument(span)
                    .await
                    .map_err(|e| diagnostic(&e))
            }
        },
    ))
    .await
}

fn diagnostic(error: &ErrorObject) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error.error_type.clone(),
        error_message: error.error_message.clone(),
    }
}

/// The durable handler `_HANDLER` names, if this binary registers one
/// (`#[durable_execution]`); an error when the name is ambiguous: a `#[compose]` task has it
/// too, or two durable handlers do.
pub fn from_env() -> Result<Option<NamedHandler>, String> {
    let Ok(name) = std::env::var(super::HANDLER_VAR) else {
        return Ok(None);
    };
    resolve_registered(name.trim(), crate::registry::Registry::global().ok())
}

/// The handler name a function invoked as `function` stands for: the name less the
/// deployment's `<prefix>-` (`ORKESTRA_DURABLE_FUNCTION_PREFIX`, see `synth`) when given. On
/// Lambda each function's `_HANDLER` names the same handler; a runtime serving several functions
/// from one process (a local checkpoint service driving chained invokes) needs the invoked name.
///
/// ```
/// use orkestra::lambda::durable_function::served_name;
/// assert_eq!(served_name("orders-charge_card", Some("orders")), "charge_card");
/// assert_eq!(served_name("charge_card", Some("orders")), "charge_card");
/// assert_eq!(served_name("req-1-1", None), "req-1-1");
/// ```
pub fn served_name<'f>(function: &'f str, prefix: Option<&str>) -> &'f str {
    prefix
        .filter(|p| !p.is_empty())
        .and_then(|p| function.strip_prefix(p))
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(function)
}

/// The registered durable handler `name`, checked against the task registry (see
/// [`from_env`]).
pub fn resolve_registered(
    name: &str,
    tasks: Option<&crate::registry::Registry>,
) -> Result<Option<NamedHandler>, String> {
    let handler = crate::durable::registered_handler(name).map_err(|e| e.to_string())?;
    let Some(handler) = handler else {
        return Ok(None);
    };
    if tasks.is_some_and(|r| r.task(name).is_some()) {
        return Err(format!(
            "`{}` is `{name}`, which names both a #[compose] task and a #[durable_execution] \
             handler in this binary: rename one of them so the function serves one handler",
            super::HANDLER_VAR
        ));
    }
    Ok(Some((name.to_string(), Arc::from(handler))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::store::lambda::fake::{event, FakeService};
    use crate::durable::store::lambda::{Action, UpdateType};
    use crate::durable::{handler_fn, DurableContext, StepContext};

    async fn double(n: i64, ctx: DurableContext) -> Result<i64, DurableError> {
        let doubled = ctx
            .step(move |_s: StepContext| async move { Ok::<_, std::io::Error>(n * 2) })
            .await?;
        Ok(doubled)
    }

    async fn wait_then(n: i64, ctx: DurableContext) -> Result<i64, DurableError> {
        ctx.wait(Duration::from_secs(60)).await?;
        Ok(n)
    }

    async fn fails(_: i64, _ctx: DurableContext) -> Result<i64, std::io::Error> {
        Err(std::io::Error::other("no luck"))
    }

    async fn huge(_: i64, _ctx: DurableContext) -> Result<String, DurableError> {
        Ok("x".repeat(RESPONSE_LIMIT))
    }

    #[tokio::test]
    async fn a_finished_handler_answers_succeeded_with_its_result() {
        let service = Arc::new(FakeService::default());
        let out = invoke(
            service.clone(),
            "double",
            &handler_fn(double),
            event(&json!(21), vec![], None),
        )
        .await
        .unwrap();
        assert_eq!(out, json!({"Status": "SUCCEEDED", "Result": "42"}));
        let sent: Vec<Action> = service
            .calls
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, u)| u.iter().map(|u| u.action))
            .collect();
        assert_eq!(sent, vec![Action::Start, Action::Succeed]);
    }

    #[tokio::test]
    async fn a_wait_ends_the_invocation_pending_and_a_replay_finishes() {
        let service = Arc::new(FakeService::default());
        let out = invoke(
            service.clone(),
            "w",
            &handler_fn(wait_then),
            event(&json!(5), vec![], None),
        )
        .await
        .unwrap();
        assert_eq!(out, json!({"Status": "PENDING"}));
        let wait_id = service.calls.lock().unwrap()[0].1[0].id.clone();
        // The service fired the timer: the replay returns.
        let fired = json!({"Id": wait_id, "Type": "WAIT", "SubType": "Wait", "Status": "SUCCEEDED",
                           "StartTimestamp": 1u64});
        let out = invoke(
            service.clone(),
            "w",
            &handler_fn(wait_then),
            event(&json!(5), vec![fired], None),
        )
        .await
        .unwrap();
        assert_eq!(out, json!({"Status": "SUCCEEDED", "Result": "5"}));
        assert_eq!(
            service.calls.lock().unwrap().len(),
            1,
            "the replay sends nothing"
        );
    }

    #[tokio::test]
    async fn a_failed_handler_answers_failed_with_its_error() {
        let service = Arc::new(FakeService::default());
        let out = invoke(
            service,
            "f",
            &handler_fn(fails),
            event(&json!(1), vec![], None),
        )
        .await
        .unwrap();
        assert_eq!(out["Status"], "FAILED");
        assert_eq!(out["Error"]["ErrorMessage"], "no luck");
    }

    #[tokio::test]
    async fn a_revoked_token_answers_pending_even_when_the_handler_finished() {
        let service = Arc::new(FakeService {
            revoke_at: Some(0),
            ..Default::default()
        });
        let out = invoke(
            service,
            "double",
            &handler_fn(double),
            event(&json!(1), vec![], None),
        )
        .await
        .unwrap();
        assert_eq!(out, json!({"Status": "PENDING"}));
    }

    #[tokio::test]
    async fn a_result_over_the_response_limit_is_checkpointed_on_the_execution() {
        let service = Arc::new(FakeService::default());
        let out = invoke(
            service.clone(),
            "h",
            &handler_fn(huge),
            event(&json!(1), vec![], None),
        )
        .await
        .unwrap();
        assert_eq!(out, json!({"Status": "SUCCEEDED", "Result": ""}));
        let calls = service.calls.lock().unwrap();
        let (_, last) = calls.last().unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].update_type, UpdateType::Execution);
        assert_eq!(last[0].action, Action::Succeed);
        assert_eq!(
            last[0].payload.as_ref().map(String::len),
            Some(RESPONSE_LIMIT + 2)
        );
    }

    async fn badly_named(_: i64, ctx: DurableContext) -> Result<i64, DurableError> {
        ctx.step(|_s: StepContext| async { Ok::<_, std::io::Error>(1) })
            .name("tab\tin the name")
            .await
    }

    #[tokio::test]
    async fn an_operation_the_service_cannot_record_fails_the_execution_naming_it() {
        let service = Arc::new(FakeService::default());
        let out = invoke(
            service.clone(),
            "b",
            &handler_fn(badly_named),
            event(&json!(1), vec![], None),
        )
        .await
        .unwrap();
        assert_eq!(out["Status"], "FAILED", "{out}");
        assert_eq!(out["Error"]["ErrorType"], "Orkestra.InvalidOperation");
        let message = out["Error"]["ErrorMessage"].as_str().unwrap();
        assert!(
            message.contains("tab\\tin the name") && message.contains("not printable ASCII"),
            "{message}"
        );
        assert!(
            service.calls.lock().unwrap().is_empty(),
            "nothing was recorded"
        );
    }

    #[tokio::test]
    async fn a_non_durable_event_is_a_function_error() {
        let service = Arc::new(FakeService::default());
        let e = invoke(
            service,
            "double",
            &handler_fn(double),
            json!({"orders": []}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.error_type, "Orkestra.InvalidDurableEvent");
        assert!(e.error_message.contains("DurableExecutionArn"), "{e}");
    }
}
