//! `ctx.invoke`: run another registered durable handler as a chained execution.

use super::context::DurableContext;
use super::error::DurableError;
use super::execution::DurableExecutor;
use super::registry::{registered_handler, registered_handlers};
use super::store::{
    ErrorObject, InvocationStatus, OperationDetails, OperationRecord, OperationStatus,
    OperationType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Set on exported durable functions (`synth`): the prefix of their function names, so a
/// chained invoke of handler `h` on AWS Lambda goes to `<prefix>-h:<alias>`.
pub const FUNCTION_PREFIX_VAR: &str = "ORKESTRA_DURABLE_FUNCTION_PREFIX";
/// Set on exported durable functions: the alias chained invokes target.
pub const ALIAS_VAR: &str = "ORKESTRA_DURABLE_ALIAS";

/// The function a chained invoke on AWS Lambda targets: an exported handler's qualified name
/// (`<prefix>-<handler>:<alias>`, from [`FUNCTION_PREFIX_VAR`] and [`ALIAS_VAR`]), or `target`
/// as given when those are unset or `target` is already a qualified name or an ARN.
fn remote_function_name(target: &str) -> String {
    qualified_target(
        target,
        std::env::var(FUNCTION_PREFIX_VAR).ok().as_deref(),
        std::env::var(ALIAS_VAR).ok().as_deref(),
    )
}

fn qualified_target(target: &str, prefix: Option<&str>, alias: Option<&str>) -> String {
    match (prefix, alias) {
        (Some(prefix), Some(alias)) if !target.contains(':') => {
            format!("{prefix}-{target}:{alias}")
        }
        _ => target.to_string(),
    }
}

/// The embedded engine's stand-in for the IAM check AWS makes on a chained invoke: a
/// registered handler may invoke only the handlers its `#[durable_execution(invokes = [..])]`
/// declares (the exported role allows exactly those), so the mistake shows locally with the
/// error the service gives. Executions of unregistered handlers (a `DurableTestRunner`'s) are
/// not checked.
fn check_declared(ctx: &DurableContext, target: &str) -> Result<(), DurableError> {
    let Some(execution) = ctx.store().get_execution(ctx.execution_id())? else {
        return Ok(());
    };
    let Some(entry) = super::registry::registered_entry(&execution.handler) else {
        return Ok(());
    };
    if entry.options.may_invoke(target) {
        return Ok(());
    }
    Err(DurableError::OperationFailed {
        name: target.to_string(),
        error: ErrorObject::new(
            "AccessDeniedException",
            format!(
                "durable handler `{}` is not allowed to invoke `{target}`: it is not in its `invokes` \
                 (declared: {:?}); its exported role may invoke only those, so AWS Lambda denies it too. \
                 Declare it: #[durable_execution(invokes = [{target}])]",
                entry.name, entry.options.invokes
            ),
        ),
    })
}

impl DurableContext {
    /// Invokes the registered durable handler `handler` (see `#[durable_execution]`) with
    /// `input` as a chained execution (id `PARENT_ID/OPERATION_ID`) on the same store, and
    /// returns its result; a replay returns the recorded result without invoking again.
    pub async fn invoke<I, T>(&self, handler: &str, input: I) -> Result<T, DurableError>
    where
        I: Serialize,
        T: DeserializeOwned,
    {
        self.invoke_named(Some(handler), handler, input).await
    }

    /// [`invoke`](Self::invoke) recording the operation under `name` (`None`: no name) rather
    /// than the target's: on AWS Lambda, `handler` is the durable function invoked (a name or
    /// ARN) and `name` the operation's name in the execution history.
    pub async fn invoke_named<I, T>(
        &self,
        name: Option<&str>,
        handler: &str,
        input: I,
    ) -> Result<T, DurableError>
    where
        I: Serialize,
        T: DeserializeOwned,
    {
        self.ensure_not_in_step("invoke", name.or(Some(handler)))?;
        let id = self.next_id();
        let decode = |text: Option<&str>| {
            serde_json::from_str(text.unwrap_or("null")).map_err(|e| DurableError::Serde {
                what: format!("result of invoked handler {handler:?}"),
                message: e.to_string(),
            })
        };
        let fail = |error| DurableError::OperationFailed {
            name: handler.to_string(),
            error,
        };
        // On AWS Lambda an exported handler is reached through its qualified function name.
        let function = if self.store().chains_remotely() {
            remote_function_name(handler)
        } else {
            handler.to_string()
        };
        let record = |status, result, error| OperationRecord {
            id: id.clone(),
            parent_id: self.context_id().map(str::to_string),
            op_type: OperationType::ChainedInvoke,
            sub_type: Some("ChainedInvoke".into()),
            name: name.map(str::to_string),
            status,
            result,
            error,
            attempt: 0,
            started_ms: None,
            ended_ms: None,
            details: OperationDetails {
                function_name: Some(function.clone()),
                ..Default::default()
            },
        };
        let mut started = false;
        if let Some(rec) = self.replay(&id, OperationType::ChainedInvoke, name)? {
            started = rec.status == OperationStatus::Started;
            match rec.status {
                OperationStatus::Succeeded => return decode(rec.result.as_deref()),
                status if status.is_failure() => {
                    return Err(fail(rec.error.unwrap_or_else(|| {
                        ErrorObject::new("InvokeFailed", "no recorded error")
                    })))
                }
                _ => {}
            }
        }
        if self.store().chains_remotely() {
            // The service runs the target (a durable function of that name) and re-invokes
            // this execution with its result.
            if !started {
                let input = serde_json::to_string(&input).map_err(|e| DurableError::Serde {
                    what: format!("input of invoked function {handler:?}"),
                    message: e.to_string(),
                })?;
                self.checkpoint(&record(OperationStatus::Started, Some(input), None))
                    .await?;
            }
            return self.park(None).await;
        }
        check_declared(self, handler)?;
        let invalid = |message| DurableError::InvalidConfig {
            what: "invoke",
            message,
        };
        let target = registered_handler(handler)
            .map_err(|duplicate| invalid(duplicate.to_string()))?
            .ok_or_else(|| {
                invalid(crate::registry::with_registration_hint(format!(
                    "no durable handler {handler:?} is registered (registered: {:?})",
                    registered_handlers()
                )))
            })?;
        let input = serde_json::to_value(input).map_err(|e| DurableError::Serde {
            what: format!("input of invoked handler {handler:?}"),
            message: e.to_string(),
        })?;
        if !started {
            // Durable before the chained execution exists (it wakes this one when it ends).
            self.checkpoint(&record(OperationStatus::Started, None, None))
                .await?;
        }
        let chained_id = format!("{}/{}", self.execution_id(), id);
        let executor = DurableExecutor::new(self.store().clone())
            .skip_waits(self.skips_waits())
            .hold(self.hold())
            .clock(self.clock().clone());
        let rec = match Box::pin(executor.run(&chained_id, handler, target.as_ref(), input)).await {
            Ok(rec) => rec,
            // A worker runs it now: it wakes this execution when it ends.
            Err(DurableError::Owned { .. }) => return self.park(None).await,
            Err(e) => return Err(e),
        };
        if rec.status == InvocationStatus::Running {
            // It suspended; it wakes this execution when it ends.
            return self.park(None).await;
        }
        if rec.status == InvocationStatus::Succeeded {
            self.checkpoint(&record(
                OperationStatus::Succeeded,
                rec.result.clone(),
                None,
            ))
            .await?;
            decode(rec.result.as_deref())
        } else {
            let error = rec
                .error
                .unwrap_or_else(|| ErrorObject::new("InvokeFailed", "no recorded error"));
            // The operation ends as its chained execution did (as the AWS local runner's).
            let status = match rec.status {
                InvocationStatus::TimedOut => OperationStatus::TimedOut,
                InvocationStatus::Stopped => OperationStatus::Stopped,
                _ => OperationStatus::Failed,
            };
            self.checkpoint(&record(status, None, Some(error.clone())))
                .await?;
            Err(fail(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::qualified_target;

    #[test]
    fn exported_handlers_are_reached_through_their_alias() {
        let q = |t| qualified_target(t, Some("orders-prod"), Some("live"));
        assert_eq!(q("charge_card"), "orders-prod-charge_card:live");
        // Already qualified, or an ARN: as given.
        assert_eq!(q("other:3"), "other:3");
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:x:live";
        assert_eq!(q(arn), arn);
        // Not exported by `synth` (the variables unset): as given, as the local bed expects.
        assert_eq!(qualified_target("target-echo", None, None), "target-echo");
        assert_eq!(
            qualified_target("target-echo", Some("p"), None),
            "target-echo"
        );
    }
}
