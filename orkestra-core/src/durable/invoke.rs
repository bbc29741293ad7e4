//! `ctx.invoke` (run another registered durable handler as a chained execution) and
//! `ctx.wait_for_condition` (poll a checked state with durable waits in between).

use super::context::DurableContext;
use super::error::DurableError;
use super::execution::DurableExecutor;
use super::registry::{registered_handler, registered_handlers};
use super::step::StepContext;
use super::store::{
    ErrorObject, InvocationStatus, OperationDetails, OperationRecord, OperationStatus,
    OperationType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What a wait strategy decides after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitDecision {
    /// The condition is met: stop with the current state.
    Stop,
    /// Check again after this durable wait.
    ContinueAfter(Duration),
}

/// The decision function of [`WaitForConditionConfig`]: `(state, attempt) -> decision`.
pub type WaitStrategy<S> = Arc<dyn Fn(&S, u32) -> WaitDecision + Send + Sync>;

/// The initial state and the strategy of `ctx.wait_for_condition`.
pub struct WaitForConditionConfig<S> {
    /// The state the first check gets.
    pub initial_state: S,
    /// Decides, after each check, whether to stop or wait and check again.
    pub wait_strategy: WaitStrategy<S>,
}

impl DurableContext {
    /// Runs `check` as a step on the current state (starting from `initial_state`) until
    /// the strategy says stop, with a durable wait between checks; all inside a child context
    /// called `name`. Returns the final state.
    pub async fn wait_for_condition<S, E, F, Fut>(
        &self,
        name: &str,
        check: F,
        config: WaitForConditionConfig<S>,
    ) -> Result<S, DurableError>
    where
        S: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: std::fmt::Display + Send + 'static,
        F: Fn(S, StepContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, E>> + Send + 'static,
    {
        self.ensure_not_in_step("wait_for_condition", Some(name))?;
        let check = Arc::new(check);
        self.run_in_child_context(name, |child: DurableContext| async move {
            let mut state = config.initial_state;
            let mut attempt = 1u32;
            loop {
                let (check, current) = (check.clone(), state.clone());
                state = child
                    .step(move |s: StepContext| check(current.clone(), s))
                    .name(format!("check-{attempt}"))
                    .await?;
                match (config.wait_strategy)(&state, attempt) {
                    WaitDecision::Stop => return Ok::<S, DurableError>(state),
                    WaitDecision::ContinueAfter(d) => child.wait(d).await?,
                }
                attempt += 1;
            }
        })
        .await
    }

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
                function_name: Some(handler.to_string()),
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
            self.checkpoint(&record(OperationStatus::Failed, None, Some(error.clone())))
                .await?;
            Err(fail(error))
        }
    }
}
