//! Dispatch (sosw's Orchestrator and Scavenger): claims the oldest queued tasks of each
//! labourer within its `max_simultaneous_invocations`, runs them in process through the task
//! registry (or invokes their Lambda functions, see [`Invoker`]), archives completions, retries failures at once with exponential backoff and
//! jitter, expires invocations that outlive their lease, and dead-letters a task at
//! `max_attempts`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use tokio::sync::mpsc;

use super::config::SchedulerConfig;
use super::store::{now_ms, Claim, FailOutcome, LabourerCounts, QueueStore, RetryPlan, StoreError};
use crate::context::Context;
use crate::error::TaskError;
use crate::registry::{with_registration_hint, Registry};
use crate::task::{ErasedBody, TaskSpec};

/// The wait before retrying a failed attempt: `base × 2^(attempt-1)`, capped at `max`, then
/// a random "equal jitter" (between half and all of it), so retries of many tasks spread out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// 1 s, doubling, at most 5 minutes.
    pub const DEFAULT: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(300),
    };

    /// The wait after failed attempt number `attempt` (1-based).
    ///
    /// ```
    /// use orkestra::scheduler::dispatch::Backoff;
    /// use std::time::Duration;
    /// let b = Backoff { base: Duration::from_millis(100), max: Duration::from_millis(350) };
    /// let d = b.delay(3); // 400 ms capped at 350, jittered to 175..=350
    /// assert!(d >= Duration::from_millis(175) && d <= Duration::from_millis(350), "{d:?}");
    /// ```
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let full = exp.min(self.max);
        let half = full / 2;
        half + full.mul_f64(rand::rng().random::<f64>()) / 2
    }
}

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Keep running when the queue is empty (`schedule work --watch`).
    pub watch: bool,
    /// The longest idle wait between two looks at the queue.
    pub poll: Duration,
    /// Retry waits.
    pub backoff: Backoff,
    /// How long past its lease end a task is left to the dispatcher that owns it before the
    /// scavenger expires it.
    pub grace: Duration,
    /// This dispatcher's name in leases and the audit trail.
    pub owner: String,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        DispatchOptions {
            watch: false,
            poll: Duration::from_millis(200),
            backoff: Backoff::DEFAULT,
            grace: Duration::from_secs(1),
            owner: format!(
                "local-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
        }
    }
}

/// What one run of the dispatcher did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    /// Invocations started.
    pub invoked: u64,
    /// Tasks completed and archived.
    pub completed: u64,
    /// Failed attempts sent to retry.
    pub retried: u64,
    /// Hung invocations expired (by this dispatcher or its scavenger).
    pub expired: u64,
    /// Tasks dead-lettered.
    pub dead: u64,
}

/// How often the progress bar is refreshed from the store's counts.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Told how a drain progresses (the CLI draws a bar).
pub trait DrainProgress: Send + Sync {
    /// `archived` of `total` tasks known to this run are archived.
    fn update(&self, archived: u64, total: u64);
}

/// How the dispatcher starts a claimed task.
#[derive(Debug, Clone, Default)]
pub enum Invoker {
    /// Runs the labourer in this process through the task registry and records its outcome.
    #[default]
    InProcess,
    /// Invokes the labourer's Lambda function asynchronously (feature `aws`); the labourer
    /// reports its own outcome ([`worker`](super::worker)), else its lease expires. An
    /// `Invoke` that fails counts as a failed attempt.
    #[cfg(feature = "aws")]
    Lambda(Arc<super::lambda_invoke::LambdaInvoker>),
}

/// The dispatcher over a queue store (sosw's Orchestrator and Scavenger).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use orkestra::scheduler::{config::SchedulerConfig, dispatch::{Dispatcher, DispatchOptions}, sqlite::SqliteQueue};
/// let queue = std::sync::Arc::new(SqliteQueue::open_default()?);
/// let registry = orkestra::Registry::global()?;
/// let report = Dispatcher::new(queue, registry, SchedulerConfig::default(), DispatchOptions::default())
///     .run(None)
///     .await?;
/// println!("{} completed, {} dead", report.completed, report.dead);
/// # Ok(()) }
/// ```
pub struct Dispatcher {
    store: Arc<dyn QueueStore>,
    registry: &'static Registry,
    config: SchedulerConfig,
    options: DispatchOptions,
    invoker: Invoker,
}

/// One finished invocation, reported to the loop.
struct Done {
    report: DrainReport,
}

type DoneSender = mpsc::UnboundedSender<Result<Done, StoreError>>;

impl Dispatcher {
    /// A dispatcher running `registry`'s tasks as labourers, in process.
    pub fn new(
        store: Arc<dyn QueueStore>,
        registry: &'static Registry,
        config: SchedulerConfig,
        options: DispatchOptions,
    ) -> Dispatcher {
        Dispatcher {
            store,
            registry,
            config,
            options,
            invoker: Invoker::InProcess,
        }
    }

    /// The same dispatcher, starting tasks with `invoker`.
    pub fn with_invoker(mut self, invoker: Invoker) -> Dispatcher {
        self.invoker = invoker;
        self
    }

    fn plan(&self, labourer: &str, attempts: u32) -> RetryPlan {
        let limits = self.config.limits(labourer, self.registry.task(labourer));
        RetryPlan {
            max_attempts: limits.max_attempts,
            launch_at_ms: now_ms() + self.options.backoff.delay(attempts).as_millis() as i64,
        }
    }

    /// The scavenger, the retry requeue and the claims of one look at the queue: every claim
    /// is started on its own tokio task, which sends its result to `tx`. Returns the claims.
    async fn start(&self, tx: &DoneSender, report: &mut DrainReport) -> Result<u64, StoreError> {
        let now = now_ms();
        let grace = self.options.grace.as_millis() as i64;
        for (_, outcome) in self.store.expire(now, grace, &|l, a| self.plan(l, a))? {
            report.expired += 1;
            if outcome == FailOutcome::Dead {
                report.dead += 1;
            }
        }
        self.store.requeue_due(now)?;
        let mut claimed = 0u64;
        for labourer in self.store.labourers_with_queued()? {
            let spec = self.registry.task(&labourer);
            let limits = self.config.limits(&labourer, spec);
            let claims = self.store.claim(
                &labourer,
                limits.max_simultaneous_invocations,
                limits.max_simultaneous_invocations as usize,
                limits.lease.as_millis() as i64,
                &self.options.owner,
                now,
            )?;
            for claim in claims {
                claimed += 1;
                report.invoked += 1;
                let store = self.store.clone();
                let tx = tx.clone();
                let plan = self.plan(&labourer, claim.attempts);
                let lease = limits.lease;
                let invoker = self.invoker.clone();
                tokio::spawn(async move {
                    let done = match invoker {
                        Invoker::InProcess => run_one(&*store, spec, claim, lease, plan).await,
                        #[cfg(feature = "aws")]
                        Invoker::Lambda(lambda) => invoke_one(&*store, &lambda, claim, plan).await,
                    };
                    let _ = tx.send(done);
                });
            }
        }
        Ok(claimed)
    }

    /// One dispatch pass, what the orchestrator does per scheduled event in Lambda: expires
    /// hung tasks, requeues due retries, claims up to each labourer's limit, starts them and
    /// waits only until they are started (with [`Invoker::Lambda`], until Lambda accepted each
    /// `Invoke`; in process, until each task ran).
    pub async fn pass(&self) -> Result<DrainReport, StoreError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Result<Done, StoreError>>();
        let mut report = DrainReport::default();
        self.start(&tx, &mut report).await?;
        drop(tx);
        let mut fault = None;
        while let Some(done) = rx.recv().await {
            match done {
                Ok(done) => report.absorb(done.report),
                Err(e) => fault = Some(e),
            }
        }
        match fault {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Drains the queue: runs until nothing is queued, running or waiting to retry (or, with
    /// `watch`, forever). Store faults end the run (the queue is intact; run again).
    ///
    /// With [`Invoker::Lambda`] the labourers report their own outcomes: `completed` and
    /// `dead` are then the store's counts' growth over the run, `retried` only the refused
    /// `Invoke`s.
    pub async fn run(
        &self,
        progress: Option<&dyn DrainProgress>,
    ) -> Result<DrainReport, StoreError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Result<Done, StoreError>>();
        let mut report = DrainReport::default();
        let mut in_flight: u64 = 0;
        let before = self.store.counts()?;
        let start: u64 = before.values().map(|c| c.completed + c.dead).sum();
        let mut last_shown = std::time::Instant::now() - PROGRESS_EVERY;
        loop {
            let claimed = self.start(&tx, &mut report).await?;
            in_flight += claimed;
            // Counting is a scan: only for the bar (a few times a second) and to decide the end.
            let idle = in_flight == 0 && claimed == 0;
            let show = progress.is_some() && last_shown.elapsed() >= PROGRESS_EVERY;
            if idle || show {
                let counts = self.store.counts()?;
                let archived: u64 = counts.values().map(|c| c.completed + c.dead).sum();
                let pending: u64 = counts.values().map(|c| c.pending()).sum();
                if let Some(progress) = progress {
                    let done = archived.saturating_sub(start);
                    progress.update(done, done + pending);
                    last_shown = std::time::Instant::now();
                }
                if idle && pending == 0 && !self.options.watch {
                    if self.reports_elsewhere() {
                        // The labourers recorded their outcomes: count them from the store.
                        report.completed = growth(&before, &counts, |c| c.completed);
                        report.dead = growth(&before, &counts, |c| c.dead);
                    }
                    return Ok(report);
                }
            }
            // Sleep until an invocation ends, a retry falls due, or the poll interval passes.
            let mut wait = self.options.poll;
            if let Some(at) = self.store.next_retry_at()? {
                let until = Duration::from_millis((at - now_ms()).max(0) as u64);
                wait = wait.min(until);
            }
            let first = tokio::time::timeout(wait, rx.recv()).await;
            let mut absorb = |done: Result<Done, StoreError>| -> Result<(), StoreError> {
                in_flight -= 1;
                report.absorb(done?.report);
                Ok(())
            };
            if let Ok(Some(done)) = first {
                absorb(done)?;
                while let Ok(done) = rx.try_recv() {
                    absorb(done)?;
                }
            }
        }
    }

    /// Whether labourers record their own outcomes (the Lambda invoker).
    fn reports_elsewhere(&self) -> bool {
        !matches!(self.invoker, Invoker::InProcess)
    }
}

/// How much `count` grew, summed over the labourers, from `before` to `after`.
fn growth(
    before: &BTreeMap<String, LabourerCounts>,
    after: &BTreeMap<String, LabourerCounts>,
    count: fn(&LabourerCounts) -> u64,
) -> u64 {
    let sum = |counts: &BTreeMap<String, LabourerCounts>| counts.values().map(count).sum::<u64>();
    sum(after).saturating_sub(sum(before))
}

impl DrainReport {
    fn absorb(&mut self, other: DrainReport) {
        self.completed += other.completed;
        self.retried += other.retried;
        self.expired += other.expired;
        self.dead += other.dead;
    }
}

/// Invokes one claimed task's Lambda function; a refused `Invoke` is a failed attempt.
#[cfg(feature = "aws")]
async fn invoke_one(
    store: &dyn QueueStore,
    lambda: &super::lambda_invoke::LambdaInvoker,
    claim: Claim,
    plan: RetryPlan,
) -> Result<Done, StoreError> {
    let mut report = DrainReport::default();
    let event = super::worker::ScheduledEvent::for_claim(&claim, plan.max_attempts);
    if let Err(error) = lambda.invoke(&event).await {
        tracing::warn!(task_id = %claim.task_id, error = error.message(), "Invoke failed");
        match store.fail(&claim, (error.name(), error.message()), plan, now_ms())? {
            FailOutcome::Retrying => report.retried += 1,
            FailOutcome::Dead => report.dead += 1,
            FailOutcome::LeaseLost => {}
        }
    }
    Ok(Done { report })
}

/// Runs one claimed task and records its outcome.
async fn run_one(
    store: &dyn QueueStore,
    spec: Option<&'static TaskSpec>,
    claim: Claim,
    lease: Duration,
    plan: RetryPlan,
) -> Result<Done, StoreError> {
    let mut report = DrainReport::default();
    let result = match spec {
        None => Err(TaskError::new(
            "Scheduler.UnknownLabourer",
            with_registration_hint(format!(
                "no task named `{}` is registered in this binary",
                claim.labourer_id
            )),
        )),
        Some(spec) => match tokio::time::timeout(lease, invoke(spec, &claim, lease)).await {
            Ok(result) => result,
            Err(_) => {
                let outcome = store.fail(
                    &claim,
                    (
                        "Scheduler.Expired",
                        &format!("the invocation ran past its lease of {lease:?}"),
                    ),
                    plan,
                    now_ms(),
                )?;
                report.expired += 1;
                if outcome == FailOutcome::Dead {
                    report.dead += 1;
                }
                return Ok(Done { report });
            }
        },
    };
    match result {
        Ok(_) => {
            if store.complete(&claim, now_ms())? {
                report.completed += 1;
            }
        }
        Err(error) => match store.fail(&claim, (error.name(), error.message()), plan, now_ms())? {
            FailOutcome::Retrying => report.retried += 1,
            FailOutcome::Dead => report.dead += 1,
            FailOutcome::LeaseLost => {}
        },
    }
    Ok(Done { report })
}

/// Calls the labourer on the task's payload.
async fn invoke(
    spec: &'static TaskSpec,
    claim: &Claim,
    lease: Duration,
) -> Result<serde_json::Value, TaskError> {
    let ctx = Context::new(claim.task_id.as_str(), "scheduler", spec.name)
        .with_task(spec)
        .with_retry_count(claim.attempts - 1)
        .with_deadline(std::time::Instant::now() + lease);
    let payload = claim.payload.clone();
    match (spec.body, spec.options.timeout_secs) {
        // A plain function without its own timeout runs on the blocking pool, off the
        // dispatcher's threads.
        (ErasedBody::Sync(body), None) => {
            tokio::task::spawn_blocking(move || crate::task::call_sync(body, payload, &ctx))
                .await
                .unwrap_or_else(|e| Err(TaskError::new(crate::error::names::PANIC, e.to_string())))
        }
        _ => crate::engine::attempt(spec, payload, ctx).await,
    }
}
