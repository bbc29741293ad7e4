//! `ctx.wait_for_condition`: poll a checked state until a wait strategy says stop, recorded as
//! the protocol records it (PROTOCOL.md §6, §11): one STEP with sub type `WaitForCondition`.
//! Each check that says "not yet" is a RETRY without error whose payload is the polled state
//! (PENDING with `next_attempt_ms`, READY once due, then the next attempt's START, which
//! carries that state on); the last check SUCCEEDs with the state, or FAILs when the check
//! fails or the strategy gives up. The delays suspend exactly as a step's retries do.

use super::context::DurableContext;
use super::error::DurableError;
use super::step::StepContext;
use super::step_scope;
use super::store::{ErrorObject, OperationRecord, OperationStatus, OperationType};
use super::transition;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The sub type of a `wait_for_condition` STEP record.
pub const WAIT_FOR_CONDITION: &str = "WaitForCondition";

/// What a wait strategy decides after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitDecision {
    /// The condition is met: stop with the current state (the STEP SUCCEEDs with it).
    Stop,
    /// Check again after this durable delay (a RETRY carrying the state).
    ContinueAfter(Duration),
    /// Stop waiting: the STEP FAILs with `WaitForConditionGaveUp`.
    GiveUp,
}

/// The decision function of [`WaitForConditionConfig`]: `(state, attempt) -> decision`,
/// `attempt` counting checks from 1.
pub type WaitStrategy<S> = Arc<dyn Fn(&S, u32) -> WaitDecision + Send + Sync>;

/// The initial state and the strategy of `ctx.wait_for_condition`.
pub struct WaitForConditionConfig<S> {
    /// The state the first check gets.
    pub initial_state: S,
    /// Decides, after each check, whether to stop, give up, or wait and check again.
    pub wait_strategy: WaitStrategy<S>,
}

/// The error of a `wait_for_condition` recorded by Orkestra before the STEP shape.
fn recorded_as_context(name: &str, id: &str) -> DurableError {
    DurableError::InvalidConfig {
        what: "replay",
        message: format!(
            "wait_for_condition {name:?} (operation {id}) was recorded as a child context of \
             checks and waits (Orkestra before the WaitForCondition STEP record); this version \
             records it as one STEP and does not replay the old records: finish the execution \
             with the version that started it, or start it again"
        ),
    }
}

impl DurableContext {
    /// Runs `check` on the current state (starting from `initial_state`) until the strategy
    /// says stop, waiting durably between checks, and returns the final state.
    ///
    /// It is one STEP record named `name` (sub type `WaitForCondition`): a check whose
    /// decision is [`WaitDecision::ContinueAfter`] records the new state as a retry (PENDING
    /// until the delay passes, then READY) and the next check starts from it; a long delay
    /// suspends the execution as a step's retry does. A failing check, or
    /// [`WaitDecision::GiveUp`], fails the operation.
    ///
    /// ```
    /// # use orkestra::durable::*;
    /// # use std::{sync::Arc, time::Duration};
    /// async fn handler(_event: (), ctx: DurableContext) -> Result<u32, DurableError> {
    ///     ctx.wait_for_condition(
    ///         "until-ten",
    ///         |n: u32, _s: StepContext| async move { Ok::<_, String>(n + 5) },
    ///         WaitForConditionConfig {
    ///             initial_state: 0,
    ///             wait_strategy: Arc::new(|n: &u32, _attempt| match *n {
    ///                 n if n >= 10 => WaitDecision::Stop,
    ///                 _ => WaitDecision::ContinueAfter(Duration::from_secs(30)),
    ///             }),
    ///         },
    ///     )
    ///     .await
    /// }
    /// ```
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
        let id = self.next_id();
        if self.recorded_as(&id, OperationType::Context, name) {
            return Err(recorded_as_context(name, &id));
        }
        let decode = |text: &str| -> Result<S, DurableError> {
            serde_json::from_str(text).map_err(|e| DurableError::Serde {
                what: format!("state of wait_for_condition {name:?}"),
                message: e.to_string(),
            })
        };
        let encode = |state: &S| -> Result<String, DurableError> {
            serde_json::to_string(state).map_err(|e| DurableError::Serde {
                what: format!("state of wait_for_condition {name:?}"),
                message: e.to_string(),
            })
        };
        let fail = |error: ErrorObject| DurableError::OperationFailed {
            name: name.to_string(),
            error,
        };
        let mut polls = Polls {
            ctx: self,
            id: &id,
            name,
            last: None,
        };

        let mut state = config.initial_state;
        // The last polled state as stored (a RETRY's payload, kept by the next START).
        let mut payload: Option<String> = None;
        let mut attempt = 1u32;
        let mut started = false;
        if let Some(rec) = self.replay(&id, OperationType::Step, Some(name))? {
            polls.last = Some(rec.status);
            if let Some(text) = rec.result.as_deref() {
                state = decode(text)?;
            }
            match rec.status {
                OperationStatus::Succeeded => return Ok(state),
                status if status.is_failure() => {
                    return Err(fail(rec.error.unwrap_or_else(|| {
                        ErrorObject::new("WaitForConditionFailed", "no recorded error")
                    })))
                }
                OperationStatus::Pending => {
                    let due = rec.details.next_attempt_ms.unwrap_or_else(|| self.now_ms());
                    polls
                        .write(OperationStatus::Ready, rec.attempt, rec.result.clone(), due)
                        .await?;
                    attempt = rec.attempt + 1;
                }
                OperationStatus::Ready => attempt = rec.attempt + 1,
                // A check interrupted by a crash runs again from the state it had.
                _ => {
                    attempt = rec.attempt.max(1);
                    started = true;
                }
            }
            payload = rec.result;
        }

        let check = Arc::new(check);
        loop {
            if let Some(stop) = self.stopped() {
                return Err(stop.into());
            }
            if !started {
                polls
                    .write(OperationStatus::Started, attempt, payload.clone(), 0)
                    .await?;
            }
            started = false;
            let step_ctx = StepContext::new(self.execution_id_arc(), &id, Some(name), attempt);
            let running = self.suspension().step_running();
            let (outcome, violation) =
                step_scope::run_body(self.execution_key(), name, check(state.clone(), step_ctx))
                    .await;
            drop(running);
            let outcome = match (violation, outcome) {
                (Some(error), _) => Err(error),
                (None, Err(e)) => Err(ErrorObject::from_error(&e)),
                (None, Ok(next)) => Ok(next),
            };
            let next = match outcome {
                Ok(next) => next,
                Err(error) => {
                    polls.fail(attempt, error.clone()).await?;
                    return Err(fail(error));
                }
            };
            // The strategy sees the state as a replay will read it back.
            let text = encode(&next)?;
            state = decode(&text)?;
            match (config.wait_strategy)(&state, attempt) {
                WaitDecision::Stop => {
                    polls
                        .write(OperationStatus::Succeeded, attempt, Some(text), 0)
                        .await?;
                    return Ok(state);
                }
                WaitDecision::GiveUp => {
                    let error = ErrorObject::new(
                        "WaitForConditionGaveUp",
                        format!("wait_for_condition {name:?} gave up after check {attempt}"),
                    );
                    polls.fail(attempt, error.clone()).await?;
                    return Err(fail(error));
                }
                WaitDecision::ContinueAfter(delay) => {
                    let due = self.now_ms() + delay.as_millis() as u64;
                    polls
                        .write(OperationStatus::Pending, attempt, Some(text.clone()), due)
                        .await?;
                    polls
                        .write(OperationStatus::Ready, attempt, Some(text.clone()), due)
                        .await?;
                    payload = Some(text);
                    attempt += 1;
                }
            }
        }
    }
}

/// The writes of one `wait_for_condition`, each checked against the transition table.
struct Polls<'a> {
    ctx: &'a DurableContext,
    id: &'a str,
    name: &'a str,
    /// The status last recorded.
    last: Option<OperationStatus>,
}

impl Polls<'_> {
    fn record(
        &self,
        status: OperationStatus,
        attempt: u32,
        payload: Option<String>,
    ) -> OperationRecord {
        OperationRecord {
            id: self.id.to_string(),
            parent_id: self.ctx.context_id().map(str::to_string),
            op_type: OperationType::Step,
            sub_type: Some(WAIT_FOR_CONDITION.into()),
            name: Some(self.name.to_string()),
            status,
            result: payload,
            error: None,
            attempt,
            started_ms: None,
            ended_ms: None,
            details: Default::default(),
        }
    }

    /// Writes `status` (`due`: the retry's due time, set on PENDING; READY waits for it and,
    /// as the AWS local runner's, clears it). A START is not awaited (the check may run again anyway); every other write is durable before the
    /// execution goes on, as the protocol's synchronous RETRY / SUCCEED / FAIL.
    async fn write(
        &mut self,
        status: OperationStatus,
        attempt: u32,
        payload: Option<String>,
        due: u64,
    ) -> Result<(), DurableError> {
        transition::check(OperationType::Step, self.name, self.last, status)?;
        let mut rec = self.record(status, attempt, payload);
        if status == OperationStatus::Pending {
            rec.details.next_attempt_ms = Some(due);
        }
        if status == OperationStatus::Ready {
            // A wake-up: READY is due now, committed on its own before the next START.
            self.ctx.until(due).await;
        }
        if status == OperationStatus::Started {
            self.ctx.checkpoint_nowait(&rec);
        } else {
            self.ctx.checkpoint(&rec).await?;
        }
        self.last = Some(status);
        Ok(())
    }

    async fn fail(&mut self, attempt: u32, error: ErrorObject) -> Result<(), DurableError> {
        transition::check(
            OperationType::Step,
            self.name,
            self.last,
            OperationStatus::Failed,
        )?;
        let mut rec = self.record(OperationStatus::Failed, attempt, None);
        rec.error = Some(error);
        self.ctx.checkpoint(&rec).await?;
        self.last = Some(OperationStatus::Failed);
        Ok(())
    }
}
