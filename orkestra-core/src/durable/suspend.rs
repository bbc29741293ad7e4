//! Suspension: an operation that waits for something not due yet (a timer, a retry, a
//! callback, a chained execution) records what it waits for and parks its path; once every
//! path of the run is parked or idle the run ends, the handler's future is dropped (nothing
//! stays in memory) and the execution waits in the store's wake-up index, as a Lambda
//! invocation that returns PENDING. A wake-up runs the handler again and it replays.

use super::context::DurableContext;
use super::store::ErrorObject;
use serde_json::Value;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Waits shorter than this are served in the running process by default (the records are
/// the same as when the run suspends).
pub const DEFAULT_HOLD: Duration = Duration::from_secs(1);

/// How often a run that is suspending checks whether every path has parked.
const SETTLE_TICK: Duration = Duration::from_millis(10);

/// The suspension state of one run.
#[derive(Default)]
pub(crate) struct Suspension {
    /// `Some(due)` once a path parked: the earliest due time of the parked paths (`None`:
    /// they wait only for completions from outside).
    parked: Mutex<Option<Option<u64>>>,
    /// Step bodies running now (a run does not end while one runs).
    steps_running: AtomicUsize,
    /// Checkpoints written by the run (a run ends only once they stop).
    writes: AtomicU64,
    /// Paths that may still make progress: the handler, plus each running map or parallel
    /// item, minus each path waiting for its items, minus each parked path.
    active: std::sync::atomic::AtomicIsize,
    notify: Notify,
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Suspension {
    fn park(&self, due: Option<u64>) {
        self.active.fetch_sub(1, Ordering::SeqCst);
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        *parked = Some(match *parked {
            None => due,
            Some(before) => earliest(before, due),
        });
        drop(parked);
        self.notify.notify_one();
    }

    /// The parked paths' earliest due time, once any path parked.
    fn parked(&self) -> Option<Option<u64>> {
        *self.parked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a checkpoint of the run.
    pub(crate) fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a map or parallel item as a path of its own until the guard drops.
    pub(crate) fn item_path(&self) -> PathCount<'_> {
        self.active.fetch_add(1, Ordering::SeqCst);
        PathCount(self, 1)
    }

    /// Counts a path as waiting for its items (not a path of its own) until the guard drops.
    pub(crate) fn waiting_for_items(&self) -> PathCount<'_> {
        self.active.fetch_sub(1, Ordering::SeqCst);
        PathCount(self, -1)
    }

    /// Counts a step body as running until the guard drops.
    pub(crate) fn step_running(&self) -> StepRunning<'_> {
        self.steps_running.fetch_add(1, Ordering::SeqCst);
        StepRunning(self)
    }
}

/// See [`Suspension::step_running`].
pub(crate) struct StepRunning<'a>(&'a Suspension);

impl Drop for StepRunning<'_> {
    fn drop(&mut self) {
        if self.0.steps_running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.notify.notify_one();
        }
    }
}

/// See [`Suspension::item_path`], [`Suspension::waiting_for_items`].
pub(crate) struct PathCount<'a>(&'a Suspension, isize);

impl Drop for PathCount<'_> {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(self.1, Ordering::SeqCst) == self.1 {
            self.0.notify.notify_one();
        }
    }
}

/// How a run of the handler ended.
pub(crate) enum Ended {
    /// The handler returned.
    Done(Result<Value, ErrorObject>),
    /// Every path parked: due at this time (`None`: only by a completion from outside).
    Suspended(Option<u64>),
    /// The execution's timeout passed while it ran.
    TimedOut,
}

/// Polls the handler's future until it returns, every path of it has parked, or the
/// execution's `deadline_ms` (system clock) passes.
pub(crate) async fn drive<F>(fut: F, ctx: &DurableContext, deadline_ms: Option<u64>) -> Ended
where
    F: Future<Output = Result<Value, ErrorObject>>,
{
    let suspension = ctx.suspension();
    suspension.active.store(1, Ordering::SeqCst);
    let timeout = async {
        match deadline_ms {
            Some(d) if !ctx.clock().is_virtual() => {
                let left = d.saturating_sub(ctx.now_ms());
                tokio::time::sleep(Duration::from_millis(left)).await
            }
            _ => std::future::pending().await,
        }
    };
    tokio::pin!(fut);
    tokio::pin!(timeout);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return Ended::Done(out),
            () = &mut timeout => return Ended::TimedOut,
            () = suspension.notify.notified() => {}
            () = tokio::time::sleep(SETTLE_TICK), if suspension.parked().is_some() => {}
        }
        let Some(due) = suspension.parked() else {
            continue;
        };
        if suspension.steps_running.load(Ordering::SeqCst) > 0
            || suspension.active.load(Ordering::SeqCst) > 0
        {
            continue;
        }
        // Let every path reach its next operation: writes become durable, paths waiting for
        // them go on; the run ends once a round passes with no step running and no write.
        let writes = suspension.writes.load(Ordering::SeqCst);
        let flushed = ctx.store().flush();
        tokio::pin!(flushed);
        tokio::select! {
            biased;
            out = &mut fut => return Ended::Done(out),
            _ = &mut flushed => {}
        }
        for _ in 0..4 {
            tokio::select! {
                biased;
                out = &mut fut => return Ended::Done(out),
                () = tokio::task::yield_now() => {}
            }
        }
        if suspension.steps_running.load(Ordering::SeqCst) == 0
            && suspension.writes.load(Ordering::SeqCst) == writes
        {
            // Paths parked since may have brought the due time forward.
            return Ended::Suspended(suspension.parked().unwrap_or(due));
        }
    }
}

impl DurableContext {
    /// Parks this path: the run ends once every path has parked or is idle, and the
    /// execution is due again at `due_ms` (or when something completes it from outside).
    pub(crate) async fn park<T>(&self, due_ms: Option<u64>) -> T {
        self.suspension().park(due_ms);
        std::future::pending().await
    }

    /// Returns once `due_ms` has passed: at once when it has, after sleeping here when it is
    /// within the executor's hold time (or the executor skips waits), else the path parks
    /// (and the run suspends).
    pub(crate) async fn until(&self, due_ms: u64) {
        if self.skips_waits() {
            return;
        }
        let now = self.now_ms();
        if due_ms <= now {
            return;
        }
        let left = Duration::from_millis(due_ms - now);
        if left <= self.hold() && !self.clock().is_virtual() {
            tokio::time::sleep(left).await;
            return;
        }
        self.park(Some(due_ms)).await
    }
}
