//! Callbacks: an execution waits for a result delivered from outside (API or CLI) by
//! callback id; the waiting side polls the store, so another process may complete it.

use super::context::DurableContext;
use super::error::DurableError;
use super::step::StepContext;
use super::store::{
    CheckpointStore, DueChange, ErrorObject, InvocationStatus, OperationDetails, OperationRecord,
    OperationStatus, OperationType,
};
use super::transition;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

/// How long a callback may wait.
#[derive(Debug, Clone, Default)]
pub struct CallbackConfig {
    /// Fail with `CallbackTimeout` when no result arrived within this time (`None`: wait forever).
    pub timeout: Option<Duration>,
    /// Fail when no heartbeat (or result) arrived within this time since the last one
    /// (`None`: no heartbeat needed). Enforced by the AWS Lambda durable service, which
    /// receives heartbeats (`SendDurableExecutionCallbackHeartbeat`); the embedded store does
    /// not track heartbeats.
    pub heartbeat_timeout: Option<Duration>,
    /// How [`DurableContext::wait_for_callback`] retries its submitter step (`None`: no retry).
    pub submitter_retry: Option<super::retry::RetryStrategy>,
}

/// A created callback: hand [`Callback::callback_id`] to the outside world, then await
/// [`Callback::result`].
#[derive(Debug)]
pub struct Callback<T> {
    ctx: DurableContext,
    op_id: String,
    name: Option<String>,
    deadline_ms: Option<u64>,
    /// The id its store gave it (the Lambda service mints its own), if any.
    minted_id: Option<String>,
    _t: PhantomData<fn() -> T>,
}

const POLL: Duration = Duration::from_millis(25);

impl<T: DeserializeOwned> Callback<T> {
    /// The id that completes this callback: `"{execution_id}/{operation_id}"`, or the id the
    /// store's service minted (on AWS Lambda).
    pub fn callback_id(&self) -> String {
        self.minted_id
            .clone()
            .unwrap_or_else(|| format!("{}/{}", self.ctx.execution_id(), self.op_id))
    }

    /// Waits for the callback's result (or error, or timeout). While none has arrived, it
    /// polls the store for up to the executor's hold time, then the execution suspends until
    /// the callback is completed (which makes it due at once) or its timeout passes (the
    /// callback is then TIMED_OUT and this fails with `CallbackTimeout`).
    pub async fn result(&self) -> Result<T, DurableError> {
        let label = self.name.clone().unwrap_or_else(|| self.op_id.clone());
        let store = self.ctx.store().clone();
        let held_until = self.ctx.now_ms() + self.ctx.hold().as_millis() as u64;
        loop {
            let rec = store.load_operation(self.ctx.execution_id(), &self.op_id)?;
            match rec.as_ref().map(|r| r.status) {
                Some(OperationStatus::Succeeded) => {
                    // A callback completed without a payload has the result `null`.
                    let text = rec
                        .and_then(|r| r.result)
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "null".into());
                    return serde_json::from_str(&text).map_err(|e| DurableError::Serde {
                        what: format!("result of callback {label:?}"),
                        message: e.to_string(),
                    });
                }
                Some(status) if status.is_failure() => {
                    return Err(DurableError::OperationFailed {
                        name: label,
                        error: rec.and_then(|r| r.error).unwrap_or_else(|| {
                            ErrorObject::new("CallbackFailed", "failed without an error")
                        }),
                    })
                }
                _ => {}
            }
            let now = self.ctx.now_ms();
            if self.deadline_ms.is_some_and(|d| now >= d) {
                let error = ErrorObject::new(
                    "CallbackTimeout",
                    format!("callback {label:?} got no result in time"),
                );
                self.ctx
                    .checkpoint(&OperationRecord {
                        id: self.op_id.clone(),
                        parent_id: self.ctx.context_id().map(str::to_string),
                        op_type: OperationType::Callback,
                        sub_type: Some("Callback".into()),
                        name: self.name.clone(),
                        status: OperationStatus::TimedOut,
                        result: None,
                        error: Some(error.clone()),
                        attempt: 0,
                        started_ms: None,
                        ended_ms: None,
                        details: OperationDetails {
                            callback_id: Some(self.callback_id()),
                            ..Default::default()
                        },
                    })
                    .await?;
                return Err(DurableError::OperationFailed { name: label, error });
            }
            if now >= held_until || self.ctx.clock().is_virtual() {
                return self.ctx.park(self.deadline_ms).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl DurableContext {
    /// Creates a callback (checkpointed durably before it is returned, so its id is valid
    /// as soon as you see it).
    pub async fn create_callback<T: DeserializeOwned>(
        &self,
        name: Option<&str>,
        config: CallbackConfig,
    ) -> Result<Callback<T>, DurableError> {
        self.ensure_not_in_step("callback", name)?;
        let id = self.next_id();
        let replayed = self.replay(&id, OperationType::Callback, name)?;
        let deadline_ms = match &replayed {
            Some(rec) if rec.status == OperationStatus::Started => {
                rec.result.as_deref().and_then(|r| r.parse().ok())
            }
            Some(_) => None,
            None => {
                let deadline = config.timeout.map(|t| self.now_ms() + t.as_millis() as u64);
                self.checkpoint(&OperationRecord {
                    id: id.clone(),
                    parent_id: self.context_id().map(str::to_string),
                    op_type: OperationType::Callback,
                    sub_type: Some("Callback".into()),
                    name: name.map(str::to_string),
                    status: OperationStatus::Started,
                    result: deadline.map(|d| d.to_string()),
                    error: None,
                    attempt: 0,
                    started_ms: None,
                    ended_ms: None,
                    details: OperationDetails {
                        callback_id: Some(format!("{}/{id}", self.execution_id())),
                        heartbeat_timeout_ms: config
                            .heartbeat_timeout
                            .map(|h| h.as_millis() as u64),
                        ..Default::default()
                    },
                })
                .await?;
                deadline
            }
        };
        // The store's record has the id callers complete it by (minted by the service on
        // Lambda, where it comes back with the START's checkpoint).
        let minted_id = match replayed {
            Some(rec) => rec.details.callback_id,
            None => self
                .store()
                .load_operation(self.execution_id(), &id)?
                .and_then(|rec| rec.details.callback_id),
        };
        Ok(Callback {
            ctx: self.clone(),
            op_id: id,
            name: name.map(str::to_string),
            deadline_ms,
            minted_id,
            _t: PhantomData,
        })
    }

    /// In a child context called `name` (sub type `WaitForCallback`): creates a callback,
    /// runs `submitter` with its id as a step (e.g. to send the id to an external system;
    /// retried by `config.submitter_retry`), then waits for the result.
    pub async fn wait_for_callback<T, E, F, Fut>(
        &self,
        name: &str,
        submitter: F,
        config: CallbackConfig,
    ) -> Result<T, DurableError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: std::fmt::Display + Send + 'static,
        F: Fn(String, StepContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.ensure_not_in_step("wait_for_callback", Some(name))?;
        let submitter = std::sync::Arc::new(submitter);
        let retry = config
            .submitter_retry
            .clone()
            .unwrap_or_else(super::retry::RetryStrategy::none);
        self.child_context_of_kind(
            name,
            "WaitForCallback",
            |child: DurableContext| async move {
                let callback = child.create_callback::<T>(Some("callback"), config).await?;
                let id = callback.callback_id();
                child
                    .step(move |s: StepContext| submitter(id.clone(), s))
                    .name("submitter")
                    .retry(retry)
                    .await?;
                callback.result().await
            },
        )
        .await
    }
}

/// Completes callback `callback_id` (from [`Callback::callback_id`]) with a result or an
/// error, durably, and makes its execution due at once (a worker runs it, and it replays
/// past the callback). The record and the wake-up are one write
/// ([`CheckpointStore::checkpoint_with_due`]): a crash leaves both or neither. Fails when the
/// id is malformed or unknown, the callback is already completed (or timed out), or its
/// execution has ended.
pub async fn complete_callback(
    store: &dyn CheckpointStore,
    callback_id: &str,
    outcome: Result<serde_json::Value, ErrorObject>,
) -> Result<(), DurableError> {
    let invalid = |message: String| DurableError::InvalidConfig {
        what: "callback id",
        message,
    };
    let (execution_id, op_id) = callback_id.rsplit_once('/').ok_or_else(|| {
        invalid(format!(
            "{callback_id:?} is not of the form EXECUTION_ID/OPERATION_ID"
        ))
    })?;
    let mut rec = store
        .load_operation(execution_id, op_id)?
        .filter(|r| r.op_type == OperationType::Callback)
        .ok_or_else(|| invalid(format!("no callback {callback_id:?} in the store")))?;
    // An ended (stopped, timed-out) execution keeps its callbacks STARTED: nothing completes
    // them any more.
    if let Some(exec) = store
        .get_execution(execution_id)?
        .filter(|e| e.status != InvocationStatus::Running)
    {
        return Err(invalid(format!(
            "callback {callback_id:?} belongs to execution {execution_id:?}, which has already \
             ended ({})",
            exec.status.as_str()
        )));
    }
    let to = if outcome.is_ok() {
        OperationStatus::Succeeded
    } else {
        OperationStatus::Failed
    };
    if rec.status.is_finished() {
        return Err(invalid(format!(
            "callback {callback_id:?} is already {}",
            rec.status.as_str()
        )));
    }
    transition::check(OperationType::Callback, callback_id, Some(rec.status), to)?;
    rec.status = to;
    match outcome {
        Ok(v) => rec.result = Some(v.to_string()),
        Err(e) => {
            // The STARTED record kept the timeout there; a FAIL carries no result.
            rec.result = None;
            rec.error = Some(e);
        }
    }
    // One transaction: a crash cannot leave the callback completed and its execution not due.
    let wake = DueChange::Wake {
        now_ms: super::store::ExecutionRecord::now_ms(),
    };
    store.checkpoint_with_due(execution_id, &rec, wake).await?;
    Ok(())
}
