//! The worker assistant (sosw's `worker_assistant`): what a labourer invoked asynchronously by
//! the scheduler does around its task, so the queue learns how the invocation ended.
//!
//! The dispatcher's Lambda invoker sends the labourer a [`ScheduledEvent`]:
//!
//! ```json
//! {"input": <the task's payload>,
//!  "orkestra_scheduler": {"task_id": "..", "labourer_id": "..", "lease": "..",
//!                         "attempts": 1, "max_attempts": 3}}
//! ```
//!
//! The labourer runs the task on `input`, then reports to the queue: completion archives the
//! task, an error goes to retry (or dead letter at `max_attempts`), both conditional on the
//! `lease` still holding the claim, so a report arriving after the task expired and was taken
//! over changes nothing.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dispatch::Backoff;
use super::store::{now_ms, Claim, FailOutcome, QueueStore, RetryPlan, StoreError};
use crate::envelope::{Envelope, Meta};
use crate::error::TaskError;

/// The key of an event that carries the scheduler's coordinates.
pub const COORDINATES_KEY: &str = "orkestra_scheduler";

/// The variable naming the DynamoDB tables' prefix in Lambda (`--dynamodb PREFIX` on the
/// command line): the labourers report to `<prefix>_tasks`, ... and the orchestrator
/// dispatches from them.
pub const PREFIX_VAR: &str = crate::export::scheduler::PREFIX_VAR;

/// What a labourer needs to report on its claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    /// The task.
    pub task_id: String,
    /// Its labourer (the task's registry key).
    pub labourer_id: String,
    /// The claim's lease; every report is conditional on it.
    pub lease: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// Attempts before the task is dead-lettered.
    pub max_attempts: u32,
}

/// An event from the scheduler: the task's payload and the claim's coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledEvent {
    /// The task's payload.
    pub input: Value,
    /// Where to report.
    pub coordinates: Coordinates,
}

impl ScheduledEvent {
    /// The event the dispatcher sends for `claim`.
    ///
    /// ```
    /// use orkestra::scheduler::store::Claim;
    /// use orkestra::scheduler::worker::ScheduledEvent;
    /// let claim = Claim { task_id: "t1".into(), labourer_id: "w".into(),
    ///     payload: serde_json::json!({"n": 1}), attempts: 2, lease: "me#2".into() };
    /// let event = ScheduledEvent::for_claim(&claim, 3).to_json();
    /// assert_eq!(event["input"]["n"], 1);
    /// assert_eq!(event["orkestra_scheduler"]["lease"], "me#2");
    /// let back = ScheduledEvent::parse(&event).unwrap().unwrap();
    /// assert_eq!(back.coordinates.max_attempts, 3);
    /// ```
    pub fn for_claim(claim: &Claim, max_attempts: u32) -> ScheduledEvent {
        ScheduledEvent {
            input: claim.payload.clone(),
            coordinates: Coordinates {
                task_id: claim.task_id.clone(),
                labourer_id: claim.labourer_id.clone(),
                lease: claim.lease.clone(),
                attempts: claim.attempts,
                max_attempts,
            },
        }
    }

    /// The event's JSON.
    pub fn to_json(&self) -> Value {
        json!({"input": self.input, COORDINATES_KEY: self.coordinates})
    }

    /// `None` for an event without the scheduler's coordinates (served as any other event);
    /// an error naming the field when the coordinates are malformed.
    pub fn parse(event: &Value) -> Option<Result<ScheduledEvent, TaskError>> {
        let map = event.as_object()?;
        let coordinates = map.get(COORDINATES_KEY)?;
        let parsed = Coordinates::deserialize(coordinates)
            .map_err(|e| {
                TaskError::new(
                    NAME_BAD_EVENT,
                    format!("event field `{COORDINATES_KEY}`: {e}"),
                )
            })
            .and_then(|coordinates| {
                if let Some(extra) = map.keys().find(|k| *k != "input" && *k != COORDINATES_KEY)
                {
                    return Err(TaskError::new(
                        NAME_BAD_EVENT,
                        format!("a scheduled event has only `input` and `{COORDINATES_KEY}`, not `{extra}`"),
                    ));
                }
                if coordinates.attempts == 0 || coordinates.max_attempts == 0 {
                    return Err(TaskError::new(
                        NAME_BAD_EVENT,
                        format!("event field `{COORDINATES_KEY}`: `attempts` and `max_attempts` must be at least 1"),
                    ));
                }
                Ok(ScheduledEvent {
                    input: map.get("input").cloned().unwrap_or(Value::Null),
                    coordinates,
                })
            });
        Some(parsed)
    }

    /// The task's event as an envelope: the context's execution id is the task id, its retry
    /// count the attempts before this one (as when the dispatcher runs the task in process).
    pub fn envelope(&self) -> Value {
        Envelope::wrap(
            self.input.clone(),
            Meta {
                execution_id: self.coordinates.task_id.clone(),
                state_machine: "scheduler".into(),
                state: self.coordinates.labourer_id.clone(),
                retry_count: self.coordinates.attempts - 1,
                map_index: None,
            },
        )
    }

    /// The claim this event reports on.
    pub fn claim(&self) -> Claim {
        Claim {
            task_id: self.coordinates.task_id.clone(),
            labourer_id: self.coordinates.labourer_id.clone(),
            payload: self.input.clone(),
            attempts: self.coordinates.attempts,
            lease: self.coordinates.lease.clone(),
        }
    }
}

/// The error name of a malformed scheduled event.
pub const NAME_BAD_EVENT: &str = "Scheduler.BadEvent";
/// The error name of a scheduled event reaching a function with no queue to report to.
pub const NAME_NOT_CONFIGURED: &str = "Scheduler.NotConfigured";
/// The error name of a scheduled event sent to another labourer's function.
pub const NAME_WRONG_FUNCTION: &str = "Scheduler.WrongFunction";
/// The error name of a report that could not reach the queue.
pub const NAME_REPORT_FAILED: &str = "Scheduler.ReportFailed";

/// How a report went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reported {
    /// Completed and archived.
    Completed,
    /// Failed; retried later.
    Retrying,
    /// Failed at its last attempt: dead-lettered.
    Dead,
    /// The claim had expired and was taken over: the report changed nothing.
    LeaseLost,
}

/// Reports how the task of `event` ended to `queue` (sosw's worker assistant): completion,
/// or failure with the error (retried after `backoff`, dead at `max_attempts`).
///
/// ```
/// use orkestra::scheduler::{sqlite::SqliteQueue, store::{now_ms, NewTask, QueueStore}};
/// use orkestra::scheduler::dispatch::Backoff;
/// use orkestra::scheduler::worker::{report, Reported, ScheduledEvent};
/// let dir = std::env::temp_dir().join(format!("orkestra-report-doc-{}", std::process::id()));
/// let queue = SqliteQueue::open(dir.join("q.db")).unwrap();
/// queue.submit(&[NewTask::new("w", serde_json::json!(1))], false, now_ms()).unwrap();
/// let claim = queue.claim("w", 1, 1, 60_000, "me", now_ms()).unwrap().remove(0);
/// let event = ScheduledEvent::for_claim(&claim, 3);
/// let ok: Result<serde_json::Value, orkestra::TaskError> = Ok(serde_json::json!("done"));
/// assert_eq!(report(&queue, &event, &ok, Backoff::DEFAULT).unwrap(), Reported::Completed);
/// // A second report (a duplicate delivery) changes nothing.
/// assert_eq!(report(&queue, &event, &ok, Backoff::DEFAULT).unwrap(), Reported::LeaseLost);
/// # drop(queue); let _ = std::fs::remove_dir_all(dir);
/// ```
pub fn report(
    queue: &dyn QueueStore,
    event: &ScheduledEvent,
    result: &Result<Value, TaskError>,
    backoff: Backoff,
) -> Result<Reported, StoreError> {
    let claim = event.claim();
    let now = now_ms();
    match result {
        Ok(_) => Ok(if queue.complete(&claim, now)? {
            Reported::Completed
        } else {
            Reported::LeaseLost
        }),
        Err(error) => {
            let plan = RetryPlan {
                max_attempts: event.coordinates.max_attempts,
                launch_at_ms: now + backoff.delay(claim.attempts).as_millis() as i64,
            };
            Ok(
                match queue.fail(&claim, (error.name(), error.message()), plan, now)? {
                    FailOutcome::Retrying => Reported::Retrying,
                    FailOutcome::Dead => Reported::Dead,
                    FailOutcome::LeaseLost => Reported::LeaseLost,
                },
            )
        }
    }
}

/// What a scheduled invocation returns to Lambda once its report is recorded: a success
/// whatever the task did (the scheduler, not Lambda's asynchronous retries, retries the task),
/// with the task's output or error.
pub fn response(
    event: &ScheduledEvent,
    result: &Result<Value, TaskError>,
    reported: Reported,
) -> Value {
    let mut out = json!({
        "task_id": event.coordinates.task_id,
        "attempt": event.coordinates.attempts,
        "reported": reported,
    });
    match result {
        Ok(output) => out["output"] = output.clone(),
        Err(error) => {
            out["error"] = json!({"errorType": error.name(), "errorMessage": error.message()})
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_without_coordinates_are_not_scheduled() {
        assert!(ScheduledEvent::parse(&json!({"input": 1})).is_none());
        assert!(ScheduledEvent::parse(&json!([1, 2])).is_none());
        assert!(
            ScheduledEvent::parse(&json!({"input": 1, "meta": {"execution_id": "e"}})).is_none()
        );
    }

    #[test]
    fn malformed_coordinates_name_the_field() {
        let bad = json!({"input": 1, "orkestra_scheduler": {"task_id": "t"}});
        let error = ScheduledEvent::parse(&bad).unwrap().unwrap_err();
        assert_eq!(error.name(), NAME_BAD_EVENT);
        assert!(
            error.message().contains("`orkestra_scheduler`")
                && error.message().contains("labourer_id"),
            "{}",
            error.message()
        );
        let extra = json!({"input": 1, "x": 2, "orkestra_scheduler": {"task_id": "t",
            "labourer_id": "w", "lease": "l", "attempts": 1, "max_attempts": 1}});
        let error = ScheduledEvent::parse(&extra).unwrap().unwrap_err();
        assert!(error.message().contains("not `x`"), "{}", error.message());
    }

    #[test]
    fn the_envelope_gives_the_task_id_and_retry_count() {
        let claim = Claim {
            task_id: "t9".into(),
            labourer_id: "w".into(),
            payload: json!({"a": 1}),
            attempts: 3,
            lease: "o#3".into(),
        };
        let event = ScheduledEvent::for_claim(&claim, 5);
        let envelope = Envelope::parse(event.envelope());
        assert_eq!(envelope.input, json!({"a": 1}));
        let meta = envelope.meta.unwrap();
        assert_eq!((meta.execution_id.as_str(), meta.retry_count), ("t9", 2));
        assert_eq!(event.claim(), claim);
    }
}
