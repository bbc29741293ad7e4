//! [`Worker`]: runs executions whose due time has come (a timer fired, a retry is due, a
//! callback was completed, a chained execution ended), found through the store's wake-up
//! index. Any number of workers (threads or processes) may share one store: each execution
//! runs under its lease, so one due time is served by one worker.

use super::error::DurableError;
use super::execution::{DurableExecutor, DurableHandler};
use super::registry::{registered_handler, registered_handlers};
use super::store::{CheckpointStore, ExecutionRecord, InvocationStatus};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkerReport {
    /// Runs started (wake-ups served).
    pub runs: u64,
    /// Runs that ended their execution (succeeded, failed, stopped, timed out).
    pub finished: u64,
    /// Runs that suspended their execution again.
    pub suspended: u64,
    /// Due executions another live process was running (left to it).
    pub skipped: u64,
}

/// Runs due executions until stopped (or, with [`Worker::run_once`], until nothing is due).
///
/// ```
/// use orkestra::durable::*;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// async fn nap(_e: (), ctx: DurableContext) -> Result<&'static str, DurableError> {
///     ctx.wait(Duration::from_millis(300)).await?;
///     Ok("rested")
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("orkestra-worker-doc-{}", std::process::id()));
/// let store: Arc<dyn CheckpointStore> = Arc::new(SqliteStore::open(dir.join("w.db")).unwrap());
/// // Waits above the hold time suspend: `run` comes back RUNNING at once.
/// let rec = DurableExecutor::new(store.clone())
///     .hold(Duration::ZERO)
///     .run("nap-1", "nap", &handler_fn(nap), serde_json::json!(null))
///     .await
///     .unwrap();
/// assert_eq!(rec.status, InvocationStatus::Running);
/// tokio::time::sleep(Duration::from_millis(350)).await;
/// let worker = Worker::new(store.clone()).handler("nap", Arc::new(handler_fn(nap)));
/// let report = worker.run_once().await.unwrap();
/// assert_eq!((report.runs, report.finished), (1, 1));
/// let done = store.get_execution("nap-1").unwrap().unwrap();
/// assert_eq!(done.result.as_deref(), Some("\"rested\""));
/// # let _ = std::fs::remove_dir_all(dir);
/// # });
/// ```
#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn CheckpointStore>,
    concurrency: usize,
    poll: Duration,
    hold: Duration,
    handlers: HashMap<String, Arc<dyn DurableHandler>>,
    progress: Option<indicatif::ProgressBar>,
    /// The bars of the maps of the executions this worker runs (with `progress`).
    bars: Option<Arc<crate::progress::TerminalProgress>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("concurrency", &self.concurrency)
            .field("poll", &self.poll)
            .field("hold", &self.hold)
            .finish()
    }
}

/// How one run ended.
enum RunEnd {
    Ran(ExecutionRecord),
    /// Another live process holds the lease until this time.
    Held(u64),
    /// The execution cannot run here (its handler is unknown): left alone.
    Unrunnable(String),
}

impl Worker {
    /// A worker on `store`: 16 executions at a time, polling the index every 200 ms, waits
    /// up to 1 s served in process; handlers from the `#[durable_execution]` registry.
    pub fn new(store: Arc<dyn CheckpointStore>) -> Self {
        Worker {
            store,
            concurrency: 16,
            poll: Duration::from_millis(200),
            hold: super::suspend::DEFAULT_HOLD,
            handlers: HashMap::new(),
            progress: None,
            bars: None,
        }
    }

    /// Runs at most `n` executions at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How often the index is read when nothing is running.
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Waits up to `hold` are served in process (see [`DurableExecutor::hold`]).
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Runs executions of handler `name` with `handler` (instead of the registry's).
    pub fn handler(mut self, name: &str, handler: Arc<dyn DurableHandler>) -> Self {
        self.handlers.insert(name.to_string(), handler);
        self
    }

    /// Shows, on stderr when it is a terminal (silent otherwise), a spinner with the counts and
    /// a bar per map of the executions it runs (items done / total, failures, rate, ETA).
    pub fn with_terminal_progress(mut self) -> Self {
        if let Some(bars) = crate::progress::TerminalProgress::if_terminal() {
            self.progress = Some(bars.spinner());
            self.bars = Some(Arc::new(bars));
        }
        self
    }

    /// Runs what is due now, and what becomes due while it runs, then returns.
    pub async fn run_once(&self) -> Result<WorkerReport, DurableError> {
        self.work(true, std::future::pending()).await
    }

    /// Runs due executions until `shutdown` completes (runs in flight are finished first).
    pub async fn run_until(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<WorkerReport, DurableError> {
        self.work(false, shutdown).await
    }

    fn resolve(&self, name: &str) -> Result<Arc<dyn DurableHandler>, String> {
        if let Some(h) = self.handlers.get(name) {
            return Ok(h.clone());
        }
        match registered_handler(name) {
            Ok(Some(h)) => Ok(Arc::from(h)),
            Ok(None) => Err(format!(
                "no durable handler {name:?} in this worker (registered: {:?})",
                registered_handlers()
            )),
            Err(duplicate) => Err(duplicate.to_string()),
        }
    }

    async fn run_one(self, execution_id: String) -> Result<RunEnd, DurableError> {
        let Some(rec) = self.store.get_execution(&execution_id)? else {
            return Ok(RunEnd::Unrunnable(format!(
                "due execution {execution_id:?} has no record"
            )));
        };
        let handler = match self.resolve(&rec.handler) {
            Ok(h) => h,
            Err(why) => return Ok(RunEnd::Unrunnable(why)),
        };
        let mut executor = DurableExecutor::new(self.store.clone()).hold(self.hold);
        if let Some(bars) = &self.bars {
            executor = executor.with_progress(bars.clone());
        }
        match executor
            .run(
                &execution_id,
                &rec.handler,
                handler.as_ref(),
                serde_json::Value::Null,
            )
            .await
        {
            Ok(rec) => Ok(RunEnd::Ran(rec)),
            Err(DurableError::Owned { holder, .. }) => Ok(RunEnd::Held(holder.expires_ms)),
            Err(e) => Err(e),
        }
    }

    async fn work(
        &self,
        once: bool,
        shutdown: impl Future<Output = ()>,
    ) -> Result<WorkerReport, DurableError> {
        tokio::pin!(shutdown);
        let mut report = WorkerReport::default();
        let mut inflight: JoinSet<(String, Result<RunEnd, DurableError>)> = JoinSet::new();
        let mut running: HashSet<String> = HashSet::new();
        // Executions not to try before a time: held by another process, or unrunnable here.
        let mut later: HashMap<String, u64> = HashMap::new();
        let mut stopping = false;
        loop {
            let now = ExecutionRecord::now_ms();
            later.retain(|_, until| *until > now);
            let mut started = 0;
            if !stopping && inflight.len() < self.concurrency {
                let limit = self.concurrency + running.len() + later.len();
                for due in self.store.due_executions(now, limit)? {
                    if inflight.len() >= self.concurrency {
                        break;
                    }
                    let id = due.execution_id;
                    if running.contains(&id) || later.contains_key(&id) {
                        continue;
                    }
                    running.insert(id.clone());
                    report.runs += 1;
                    started += 1;
                    let me = self.clone();
                    inflight.spawn(async move { (id.clone(), me.run_one(id).await) });
                }
            }
            self.show(&report, inflight.len());
            if inflight.is_empty() && (stopping || (once && started == 0)) {
                break;
            }
            let joined = if inflight.is_empty() {
                tokio::select! {
                    () = &mut shutdown => { stopping = true; None }
                    () = tokio::time::sleep(self.poll) => None,
                }
            } else if stopping {
                inflight.join_next().await
            } else {
                tokio::select! {
                    joined = inflight.join_next() => joined,
                    () = &mut shutdown => { stopping = true; None }
                    () = tokio::time::sleep(self.poll) => None,
                }
            };
            let Some(joined) = joined else { continue };
            let (id, outcome) = joined.map_err(|e| DurableError::InvalidConfig {
                what: "worker",
                message: format!("a run panicked: {e}"),
            })?;
            running.remove(&id);
            match outcome? {
                RunEnd::Ran(rec) if rec.status == InvocationStatus::Running => {
                    report.suspended += 1
                }
                RunEnd::Ran(_) => report.finished += 1,
                RunEnd::Held(until) => {
                    report.runs -= 1;
                    report.skipped += 1;
                    later.insert(id, until.max(ExecutionRecord::now_ms() + 100));
                }
                RunEnd::Unrunnable(why) => {
                    report.runs -= 1;
                    tracing::warn!(execution = %id, "{why}");
                    later.insert(id, ExecutionRecord::now_ms() + 60_000);
                }
            }
        }
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        Ok(report)
    }

    fn show(&self, report: &WorkerReport, running: usize) {
        if let Some(bar) = &self.progress {
            bar.set_message(format!(
                "durable worker: {running} running, {} runs, {} finished, {} suspended",
                report.runs, report.finished, report.suspended
            ));
        }
    }
}
