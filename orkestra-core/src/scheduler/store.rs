//! The task queue's storage, in sosw's layout: queued and running tasks (`tasks`), tasks
//! waiting to be retried (`retry_tasks`), archived tasks (`closed_tasks`, completed or dead),
//! and an audit trail of every task's events.
//!
//! Every state change is a conditional write on the task's current lease, so two dispatchers
//! never both own one task, and a late report from an expired invocation changes nothing.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A task to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Derived from the labourer and the payload ([`task_id`]).
    pub task_id: String,
    /// The labourer (registered task) that runs it.
    pub labourer_id: String,
    /// The labourer's event.
    pub payload: Value,
}

impl NewTask {
    /// A task for `labourer` with `payload`, its id derived from both.
    pub fn new(labourer: &str, payload: Value) -> NewTask {
        NewTask {
            task_id: task_id(labourer, &payload),
            labourer_id: labourer.to_string(),
            payload,
        }
    }
}

/// The deterministic id of a task: a SHA-256 of the labourer and the payload's JSON (object
/// keys sorted), so submitting one job twice gives the same ids.
///
/// ```
/// use orkestra::scheduler::store::task_id;
/// use serde_json::json;
/// let a = task_id("w", &json!({"x": 1, "y": [2]}));
/// assert_eq!(a, task_id("w", &json!({"y": [2], "x": 1})));
/// assert_ne!(a, task_id("v", &json!({"x": 1, "y": [2]})));
/// assert_eq!(a.len(), 32);
/// ```
pub fn task_id(labourer: &str, payload: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(labourer.as_bytes());
    hasher.update([0u8]);
    // serde_json's maps are sorted (no `preserve_order`), so this text is canonical.
    hasher.update(payload.to_string().as_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What one submission did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SubmitReport {
    /// Tasks newly queued.
    pub queued: u64,
    /// Tasks already queued, running or waiting to retry (left as they are).
    pub already_queued: u64,
    /// Tasks already archived and not queued again (the job did not ask for `rerun`).
    pub already_closed: u64,
}

impl SubmitReport {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: SubmitReport) {
        self.queued += other.queued;
        self.already_queued += other.already_queued;
        self.already_closed += other.already_closed;
    }
}

/// A task a dispatcher owns until its lease ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The task.
    pub task_id: String,
    /// Its labourer.
    pub labourer_id: String,
    /// The labourer's event.
    pub payload: Value,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// The lease this claim holds; every later write is conditional on it.
    pub lease: String,
}

/// What became of a failed or expired attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailOutcome {
    /// Moved to the retry tasks, to run again at its desired launch time.
    Retrying,
    /// Out of attempts: archived as dead, with its errors.
    Dead,
    /// The claim's lease had already ended (expired and taken over): nothing changed.
    LeaseLost,
}

/// How a failed attempt is retried: the labourer's attempts limit and when to launch again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPlan {
    /// Attempts before dead-lettering.
    pub max_attempts: u32,
    /// Epoch milliseconds of the next launch.
    pub launch_at_ms: i64,
}

/// One labourer's tasks by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LabourerCounts {
    /// Waiting to be invoked.
    pub queued: u64,
    /// Invoked, lease not yet ended or not yet scavenged.
    pub running: u64,
    /// Archived as completed.
    pub completed: u64,
    /// Failed, waiting to be retried.
    pub retrying: u64,
    /// Archived as dead.
    pub dead: u64,
}

impl LabourerCounts {
    /// Tasks not yet archived.
    pub fn pending(&self) -> u64 {
        self.queued + self.running + self.retrying
    }
}

/// A dead-lettered task, with the error of every attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// The task.
    pub task_id: String,
    /// Its labourer.
    pub labourer_id: String,
    /// Attempts made.
    pub attempts: u32,
    /// Epoch milliseconds when it was archived.
    pub closed_at: i64,
    /// Its payload.
    pub payload: Value,
    /// One entry per failed attempt: `{"attempt","error","message"}`.
    pub errors: Vec<Value>,
}

/// One audit-trail event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// The task.
    pub task_id: String,
    /// Epoch milliseconds.
    pub at: i64,
    /// `created`, `invoked`, `completed`, `retried`, `expired`, `archived` or `dead`.
    pub event: String,
    /// Details (the attempt, the error).
    pub detail: Option<String>,
}

/// A storage fault (the queue is unchanged, the operation may be repeated).
#[derive(Debug, thiserror::Error)]
#[error("scheduler store: {0}")]
pub struct StoreError(pub String);

/// The queue's storage. Every method is one atomic step; implementations make claims and
/// state changes conditional writes.
pub trait QueueStore: Send + Sync {
    /// Queues `tasks` (one atomic batch): a task already queued, running or retrying is left
    /// alone; a task already archived is queued again only with `rerun`.
    fn submit(
        &self,
        tasks: &[NewTask],
        rerun: bool,
        now_ms: i64,
    ) -> Result<SubmitReport, StoreError>;

    /// Claims up to `max` of `labourer`'s oldest queued tasks, never letting more than
    /// `limit` run at once, each leased for `lease_ms`. `owner` names the dispatcher.
    fn claim(
        &self,
        labourer: &str,
        limit: u32,
        max: usize,
        lease_ms: i64,
        owner: &str,
        now_ms: i64,
    ) -> Result<Vec<Claim>, StoreError>;

    /// Marks the claimed task completed and archives it; `false` if the lease was lost.
    fn complete(&self, claim: &Claim, now_ms: i64) -> Result<bool, StoreError>;

    /// Records a failed attempt (`error`: name and message): retried as `plan` says, or dead.
    fn fail(
        &self,
        claim: &Claim,
        error: (&str, &str),
        plan: RetryPlan,
        now_ms: i64,
    ) -> Result<FailOutcome, StoreError>;

    /// The Scavenger: every task whose lease ended more than `grace_ms` before `now_ms`
    /// counts as a failed (expired) attempt, retried or dead as `plan(labourer, attempts)`
    /// says. (The grace lets the dispatcher that owns a lease stop its invocation first.)
    fn expire(
        &self,
        now_ms: i64,
        grace_ms: i64,
        plan: &dyn Fn(&str, u32) -> RetryPlan,
    ) -> Result<Vec<(String, FailOutcome)>, StoreError>;

    /// Moves retry tasks whose desired launch time has come back to the queue.
    fn requeue_due(&self, now_ms: i64) -> Result<u64, StoreError>;

    /// Labourers with queued tasks.
    fn labourers_with_queued(&self) -> Result<Vec<String>, StoreError>;

    /// The earliest desired launch time among retry tasks.
    fn next_retry_at(&self) -> Result<Option<i64>, StoreError>;

    /// Counts per labourer.
    fn counts(&self) -> Result<BTreeMap<String, LabourerCounts>, StoreError>;

    /// Every dead-lettered task.
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;

    /// A task's audit trail, oldest first.
    fn audit(&self, task_id: &str) -> Result<Vec<AuditEvent>, StoreError>;
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
