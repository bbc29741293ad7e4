//! The scheduler and task queue (sosw's Scheduler, Orchestrator, worker assistant and
//! Scavenger): chunk a business job into many labourer tasks ([`chunk`]), queue them
//! idempotently ([`store`], [`sqlite`]), and dispatch them under per-labourer concurrency
//! limits with retries, expiry and dead letters ([`dispatch`]), running labourers in process or
//! (feature `aws`) as Lambda functions invoked asynchronously (`lambda_invoke`), which report
//! their own outcome ([`worker`]); in Lambda, the orchestrator runs one dispatch pass per
//! scheduled event (`orchestrator`).
//!
//! Labourers are registered `#[compose]` tasks; `#[compose(max_simultaneous_invocations = N,
//! max_attempts = N)]` sets their limits, a labourers config ([`config`]) overrides them.

pub mod chunk;
pub mod cli;
pub mod config;
pub mod dates;
pub mod dispatch;
#[cfg(feature = "aws")]
pub mod dynamo;
pub mod job;
#[cfg(feature = "aws")]
pub mod lambda_invoke;
#[cfg(feature = "aws")]
pub mod orchestrator;
pub mod sqlite;
pub mod store;
pub mod worker;

use store::{NewTask, QueueStore, StoreError, SubmitReport};

/// Tasks queued per transaction by [`submit`].
pub const SUBMIT_BATCH: usize = 1000;

/// Queues a chunked job's tasks in batches of [`SUBMIT_BATCH`], each batch one transaction.
///
/// Resumable: task ids derive from the labourer and the payload, so if the process dies
/// part-way, submitting the same job again queues exactly the tasks still missing (none twice).
/// `on_batch` is told the running total after each batch.
///
/// ```
/// use orkestra::scheduler::{chunk::ChunkedJob, sqlite::SqliteQueue, submit};
/// let dir = std::env::temp_dir().join(format!("orkestra-submit-doc-{}", std::process::id()));
/// let queue = SqliteQueue::open(dir.join("q.db")).unwrap();
/// let job = ChunkedJob {
///     labourer: "worker".into(),
///     rerun: false,
///     payloads: (0..5).map(|n| serde_json::json!({"n": n})).collect(),
/// };
/// assert_eq!(submit(&queue, &job, |_| {}).unwrap().queued, 5);
/// assert_eq!(submit(&queue, &job, |_| {}).unwrap().already_queued, 5);
/// # drop(queue); let _ = std::fs::remove_dir_all(dir);
/// ```
pub fn submit(
    store: &dyn QueueStore,
    job: &chunk::ChunkedJob,
    mut on_batch: impl FnMut(&SubmitReport),
) -> Result<SubmitReport, StoreError> {
    let mut total = SubmitReport::default();
    for batch in job.payloads.chunks(SUBMIT_BATCH) {
        let tasks: Vec<NewTask> = batch
            .iter()
            .map(|payload| NewTask::new(&job.labourer, payload.clone()))
            .collect();
        total.add(store.submit(&tasks, job.rerun, store::now_ms())?);
        on_batch(&total);
    }
    Ok(total)
}
