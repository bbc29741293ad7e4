//! Suspension and wake-up: waits, retry delays and callbacks checkpoint what they wait for,
//! the run ends (its future dropped), the execution waits in the wake-up index, and a worker
//! (or the test runner's virtual clock) wakes it; it replays to the same result.

use orkestra::durable::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn temp_store(name: &str) -> (std::path::PathBuf, Arc<SqliteStore>) {
    let dir = std::env::temp_dir().join(format!("orkestra-suspend-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(SqliteStore::open(dir.join("s.db")).unwrap());
    (dir, store)
}

/// Live handler invocations (a suspended execution holds none).
static LIVE: AtomicUsize = AtomicUsize::new(0);
struct Live;
impl Live {
    fn new() -> Live {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Live
    }
}
impl Drop for Live {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn nap(ms: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let _live = Live::new();
    let n = ctx
        .step(|_s: StepContext| async { Ok::<_, String>(20) })
        .name("before")
        .await?;
    ctx.wait_named(Some("nap"), Duration::from_millis(ms))
        .await?;
    Ok(n + 1)
}

fn shape(ops: &[OperationRecord]) -> Vec<(OperationType, OperationStatus, bool)> {
    ops.iter()
        .map(|o| (o.op_type, o.status, o.details.scheduled_end_ms.is_some()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_wait_suspends_and_a_worker_wakes_it_when_due() {
    let (dir, store) = temp_store("wait");
    let dyn_store: Arc<dyn CheckpointStore> = store.clone();
    let t = Instant::now();
    let rec = DurableExecutor::new(dyn_store.clone())
        .hold(Duration::ZERO)
        .run("w", "nap", &handler_fn(nap), 400.into())
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(rec.status, InvocationStatus::Running);
    assert_eq!(
        LIVE.load(Ordering::SeqCst),
        0,
        "the handler's future was dropped"
    );
    let ops = store.load_operations("w").unwrap();
    let wait = ops
        .iter()
        .find(|o| o.op_type == OperationType::Wait)
        .unwrap();
    assert_eq!(wait.status, OperationStatus::Started);
    let wake = wait.details.scheduled_end_ms.unwrap();
    let due = store.due_state("w").unwrap().unwrap();
    assert_eq!(due.due_ms, Some(wake), "due exactly when the wait ends");
    // Not due yet: a worker leaves it alone.
    let worker = Worker::new(dyn_store.clone()).handler("nap", Arc::new(handler_fn(nap)));
    assert_eq!(worker.run_once().await.unwrap().runs, 0);
    tokio::time::sleep(Duration::from_millis(
        wake.saturating_sub(ExecutionRecord::now_ms()) + 20,
    ))
    .await;
    let report = worker.run_once().await.unwrap();
    assert_eq!((report.runs, report.finished), (1, 1), "{report:?}");
    let done = store.get_execution("w").unwrap().unwrap();
    assert_eq!(done.result.as_deref(), Some("21"));
    assert!(store.due_state("w").unwrap().is_none(), "it left the index");
    // The same handler with the wait served in process writes the same records.
    let in_process = DurableExecutor::new(dyn_store.clone())
        .run("p", "nap", &handler_fn(nap), 100.into())
        .await
        .unwrap();
    assert_eq!(in_process.result.as_deref(), Some("21"));
    assert_eq!(
        shape(&store.load_operations("w").unwrap()),
        shape(&store.load_operations("p").unwrap())
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn approval(_e: (), ctx: DurableContext) -> Result<String, DurableError> {
    let cb = ctx
        .create_callback::<String>(Some("approve"), CallbackConfig::default())
        .await?;
    let answer = cb.result().await?;
    Ok(format!("got {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_a_callback_makes_a_suspended_execution_due_at_once() {
    let (dir, store) = temp_store("cb");
    let dyn_store: Arc<dyn CheckpointStore> = store.clone();
    let rec = DurableExecutor::new(dyn_store.clone())
        .hold(Duration::ZERO)
        .run("c", "approval", &handler_fn(approval), ().into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Running);
    assert_eq!(
        store.due_state("c").unwrap().unwrap().due_ms,
        None,
        "only a completion wakes it"
    );
    let cb = store
        .load_operations("c")
        .unwrap()
        .into_iter()
        .find(|o| o.op_type == OperationType::Callback)
        .unwrap();
    let callback_id = cb.details.callback_id.clone().unwrap();
    assert_eq!(callback_id, format!("c/{}", cb.id));
    let other = SqliteStore::open(dir.join("s.db")).unwrap();
    complete_callback(&other, &callback_id, Ok("yes".into()))
        .await
        .unwrap();
    let due = store.due_state("c").unwrap().unwrap().due_ms.unwrap();
    assert!(due <= ExecutionRecord::now_ms());
    let worker = Worker::new(dyn_store).handler("approval", Arc::new(handler_fn(approval)));
    let report = worker.run_once().await.unwrap();
    assert_eq!((report.runs, report.finished), (1, 1), "{report:?}");
    let done = store.get_execution("c").unwrap().unwrap();
    assert_eq!(done.result.as_deref(), Some("\"got yes\""));
    let _ = std::fs::remove_dir_all(dir);
}

async fn patient(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.wait_named(Some("a day"), Duration::from_secs(86_400))
        .await?;
    let n = ctx
        .step(|s: StepContext| async move {
            if s.attempt() < 3 {
                Err(format!("attempt {} failed", s.attempt()))
            } else {
                Ok(s.attempt())
            }
        })
        .name("flaky")
        .retry(RetryStrategy {
            max_attempts: 3,
            initial_delay: Duration::from_secs(3 * 3600),
            max_delay: Duration::from_secs(6 * 3600),
            backoff_rate: 2.0,
            jitter: Jitter::None,
        })
        .await?;
    let late = ctx
        .create_callback::<String>(
            Some("never answered"),
            CallbackConfig {
                timeout: Some(Duration::from_secs(7 * 86_400)),
                ..Default::default()
            },
        )
        .await?;
    let timed_out = late.result().await.unwrap_err();
    Ok(n + timed_out.to_string().contains("CallbackTimeout") as u32 * 100)
}

#[tokio::test]
async fn the_test_runner_skips_a_day_hours_of_backoff_and_a_week_long_callback_timeout() {
    let runner = DurableTestRunner::new(patient);
    let t = Instant::now();
    let before = runner.clock().now_ms();
    let result = runner.run(()).await;
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(result.result::<u32>(), 103);
    // 1 wait + 2 retries + 1 callback timeout, each a suspension and a wake-up.
    assert_eq!(result.wake_ups, 4);
    let skipped = runner.clock().now_ms() - before;
    let expected = (86_400 + 3 * 3600 + 6 * 3600 + 7 * 86_400) * 1000;
    assert!(
        skipped >= expected && skipped < expected + 60_000,
        "{skipped}"
    );
    let step = result.get_step("flaky").unwrap();
    assert_eq!(step.record.attempt, 3);
    let cb = result
        .operations
        .iter()
        .find(|o| o.op_type == OperationType::Callback)
        .unwrap();
    assert_eq!(cb.status, OperationStatus::TimedOut);
    let report = runner.store().check(None).unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// A retried step is PENDING (with its next attempt time) while the execution is suspended.
#[tokio::test]
async fn a_retry_is_pending_with_its_next_attempt_time_while_suspended() {
    async fn twice(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
        ctx.step(|s: StepContext| async move {
            if s.attempt() == 1 {
                Err("first".to_string())
            } else {
                Ok(s.attempt())
            }
        })
        .name("twice")
        .retry(RetryStrategy {
            max_attempts: 2,
            initial_delay: Duration::from_secs(3600),
            jitter: Jitter::None,
            ..RetryStrategy::default()
        })
        .await
    }
    let runner = DurableTestRunner::new(twice);
    let result = runner.run(()).await;
    assert_eq!(result.result::<u32>(), 2);
    let path = runner.store().path().to_path_buf();
    let conn = rusqlite::Connection::open(path).unwrap();
    let statuses: Vec<(String, u32, Option<i64>)> = conn
        .prepare("SELECT status, attempt, next_attempt_ms FROM durable_operation_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // PENDING (durable before the run suspended), then READY in the wake-up's own commit,
    // then the second attempt (its START may share a commit with its outcome).
    let names: Vec<(&str, u32)> = statuses.iter().map(|(s, a, _)| (s.as_str(), *a)).collect();
    assert_eq!(names[..2], [("PENDING", 1), ("READY", 1)], "{names:?}");
    assert_eq!(names.last(), Some(&("SUCCEEDED", 2)), "{names:?}");
    assert_eq!(statuses[1].2, None, "READY clears the next attempt time");
    assert!(
        statuses[0].2.is_some(),
        "PENDING carries its next attempt time"
    );
    assert_eq!(result.wake_ups, 1);
}

static B_STEPS: AtomicUsize = AtomicUsize::new(0);

async fn branches(_e: (), ctx: DurableContext) -> Result<usize, DurableError> {
    let batch = ctx
        .parallel(
            Some("both"),
            vec![
                branch(|c: DurableContext| async move {
                    c.wait(Duration::from_secs(3600)).await?;
                    Ok::<usize, DurableError>(0)
                }),
                branch(|c: DurableContext| async move {
                    for i in 0..5 {
                        c.step(move |_s: StepContext| async move {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            B_STEPS.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, String>(i)
                        })
                        .await?;
                    }
                    Ok::<usize, DurableError>(5)
                }),
            ],
            ParallelConfig::default(),
        )
        .await?;
    Ok(batch.results().iter().filter_map(|r| r.result).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_that_waits_does_not_hold_back_one_that_works() {
    let (dir, store) = temp_store("branches");
    let rec = DurableExecutor::new(store.clone())
        .hold(Duration::ZERO)
        .run("b", "branches", &handler_fn(branches), ().into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Running);
    assert_eq!(
        B_STEPS.load(Ordering::SeqCst),
        5,
        "the working branch finished first"
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn busy(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
    for i in 0..500u32 {
        ctx.step(move |_s: StepContext| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<_, String>(i)
        })
        .name(format!("s{i}"))
        .await?;
    }
    Ok(500)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_running_execution_stops_its_owner_at_the_next_checkpoint() {
    let (dir, store) = temp_store("stop");
    let owner = {
        let store = store.clone();
        tokio::spawn(async move {
            DurableExecutor::new(store)
                .run("s", "busy", &handler_fn(busy), ().into())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another connection, as `durable stop` in another process.
    let other = SqliteStore::open(dir.join("s.db")).unwrap();
    other
        .change_due(
            "s",
            DueChange::End {
                status: InvocationStatus::Stopped,
                error: ErrorObject::new("ExecutionStopped", "stopped by the test"),
                now_ms: ExecutionRecord::now_ms(),
            },
        )
        .await
        .unwrap();
    let rec = tokio::time::timeout(Duration::from_secs(10), owner)
        .await
        .expect("the owner noticed")
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Stopped);
    let ops = store.load_operations("s").unwrap();
    let done = ops
        .iter()
        .filter(|o| o.status == OperationStatus::Succeeded)
        .count();
    assert!(
        done > 0 && done < 500,
        "{done} steps finished before the stop"
    );
    // As the AWS local runner: only the execution ends; its operations keep their status
    // (the step that was running stays STARTED) and nothing is written after the stop.
    assert!(
        ops.iter().all(|o| matches!(
            o.status,
            OperationStatus::Succeeded | OperationStatus::Started
        )),
        "{ops:?}"
    );
    assert!(
        ops.iter()
            .filter(|o| o.status == OperationStatus::Started)
            .count()
            <= 1,
        "at most the step in flight is open"
    );
    let stopped_ms = store.get_execution("s").unwrap().unwrap().ended_ms.unwrap();
    assert!(
        ops.iter()
            .all(|o| o.ended_ms.or(o.started_ms).unwrap() <= stopped_ms),
        "no operation written after the stop"
    );
    assert!(store.due_state("s").unwrap().is_none());
    let report = store.check(Some("s")).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn sleepy(_e: (), ctx: DurableContext) -> Result<(), DurableError> {
    ctx.wait(Duration::from_secs(3600)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_timeout_ends_it_timed_out_suspended_or_running() {
    let (dir, store) = temp_store("timeout");
    let dyn_store: Arc<dyn CheckpointStore> = store.clone();
    // Suspended in its wait: due at its deadline, a worker times it out.
    let rec = DurableExecutor::new(dyn_store.clone())
        .hold(Duration::ZERO)
        .timeout(Duration::from_millis(200))
        .run("t1", "sleepy", &handler_fn(sleepy), ().into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Running);
    let due = store.due_state("t1").unwrap().unwrap();
    assert_eq!(
        due.due_ms, due.deadline_ms,
        "due at its deadline, not in an hour"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let worker = Worker::new(dyn_store.clone()).handler("sleepy", Arc::new(handler_fn(sleepy)));
    assert_eq!(worker.run_once().await.unwrap().finished, 1);
    let rec = store.get_execution("t1").unwrap().unwrap();
    assert_eq!(rec.status, InvocationStatus::TimedOut);
    let error = rec.error.unwrap();
    assert_eq!(error.error_type, "ExecutionTimedOut");
    assert_eq!(error.error_message, "Execution timed out after 1 seconds.");
    // Waiting in process: the run itself ends at the deadline.
    let t = Instant::now();
    let rec = DurableExecutor::new(dyn_store.clone())
        .hold(Duration::from_secs(7200))
        .timeout(Duration::from_millis(200))
        .run("t2", "sleepy", &handler_fn(sleepy), ().into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::TimedOut);
    assert!(t.elapsed() < Duration::from_secs(5));
    // The wait keeps its status, as the AWS local runner leaves the operations of a timed-out
    // execution; no worker wakes it again.
    let wait = &store.load_operations("t2").unwrap()[0];
    assert_eq!(wait.status, OperationStatus::Started);
    assert!(store.due_state("t2").unwrap().is_none());
    assert!(store.check(None).unwrap().is_clean());
    let _ = std::fs::remove_dir_all(dir);
}

/// Registered so `ctx.invoke` finds it.
#[orkestra::durable_execution]
async fn slow_square(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    ctx.wait(Duration::from_secs(86_400)).await?;
    Ok(n * n)
}

async fn invoker(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let sq: u64 = ctx.invoke("slow_square", n).await?;
    Ok(sq + 1)
}

#[tokio::test]
async fn an_invoke_suspends_with_its_chained_execution_and_wakes_when_it_ends() {
    let runner = DurableTestRunner::new(invoker);
    let result = runner.run_with_id("inv", 6).await;
    assert_eq!(result.result::<u64>(), 37);
    assert_eq!(
        result.wake_ups, 1,
        "woken once: the chained wait ended, then it"
    );
    let chained = runner.store().list_executions().unwrap();
    let child = chained.iter().find(|e| e.id.starts_with("inv/")).unwrap();
    assert_eq!(child.status, InvocationStatus::Succeeded);
    assert!(runner.store().due_state("inv").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_chained_execution_wakes_its_invoker_which_records_it_stopped() {
    let (dir, store) = temp_store("chain-stop");
    let dyn_store: Arc<dyn CheckpointStore> = store.clone();
    let rec = DurableExecutor::new(dyn_store.clone())
        .hold(Duration::ZERO)
        .run("inv", "invoker", &handler_fn(invoker), 6.into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Running);
    assert_eq!(store.due_state("inv").unwrap().unwrap().due_ms, None);
    let op = store.load_operations("inv").unwrap()[0].clone();
    let child = format!("inv/{}", op.id);
    store
        .change_due(
            &child,
            DueChange::End {
                status: InvocationStatus::Stopped,
                error: ErrorObject::new("ExecutionStopped", "stopped by the test"),
                now_ms: ExecutionRecord::now_ms(),
            },
        )
        .await
        .unwrap();
    let due = store.due_state("inv").unwrap().unwrap();
    assert!(
        due.due_ms.is_some(),
        "the invoker is due once its chained execution ended"
    );
    let worker = Worker::new(dyn_store.clone()).handler("invoker", Arc::new(handler_fn(invoker)));
    assert_eq!(worker.run_once().await.unwrap().finished, 1);
    let rec = store.get_execution("inv").unwrap().unwrap();
    assert_eq!(rec.status, InvocationStatus::Failed);
    let op = &store.load_operations("inv").unwrap()[0];
    assert_eq!(op.op_type, OperationType::ChainedInvoke);
    assert_eq!(
        op.status,
        OperationStatus::Stopped,
        "as its chained execution ended"
    );
    assert_eq!(op.error.as_ref().unwrap().error_type, "ExecutionStopped");
    assert!(store.check(None).unwrap().is_clean());
    let _ = std::fs::remove_dir_all(dir);
}
