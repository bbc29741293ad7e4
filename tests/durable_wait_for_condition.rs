//! `ctx.wait_for_condition` recorded as the protocol records it: one STEP (sub type
//! `WaitForCondition`) whose "not yet" checks are retries carrying the polled state
//! (PENDING → READY → STARTED), suspending between checks like a step's retries.

use orkestra::durable::*;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

static CHECKS: AtomicU32 = AtomicU32::new(0);

async fn poll_job(limit: u32, ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.wait_for_condition(
        "poll-job",
        |state: u32, s: StepContext| async move {
            CHECKS.fetch_add(1, Ordering::SeqCst);
            assert_eq!(
                state,
                (s.attempt() - 1) * 10,
                "each check gets the last state"
            );
            Ok::<_, String>(state + 10)
        },
        WaitForConditionConfig {
            initial_state: 0,
            wait_strategy: Arc::new(move |state: &u32, attempt| {
                if *state >= 30 {
                    WaitDecision::Stop
                } else if attempt >= limit {
                    WaitDecision::GiveUp
                } else {
                    WaitDecision::ContinueAfter(Duration::from_secs(3600))
                }
            }),
        },
    )
    .await
}

/// One log row of an operation: (status, attempt, result, error, next_attempt_ms, sub_type).
type Row = (
    String,
    u32,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
);

fn log_rows(db: &Path, name: &str) -> Vec<Row> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT status, attempt, result, error, next_attempt_ms, sub_type
             FROM durable_operation_log WHERE name = ?1 ORDER BY seq",
        )
        .unwrap();
    let rows = stmt
        .query_map([name], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test]
async fn each_poll_is_a_retry_of_one_step_carrying_the_state() {
    let runner = DurableTestRunner::new(poll_job);
    let before = runner.clock().now_ms();
    let result = runner.run(10).await;
    assert_eq!(result.result::<u32>(), 30);
    // Two one-hour delays: each suspended the execution and a wake-up ran it again.
    assert_eq!(result.wake_ups, 2);
    assert!(runner.clock().now_ms() - before >= 2 * 3_600_000);
    let step = result.get_step("poll-job").expect("one STEP record");
    assert_eq!(step.record.op_type, OperationType::Step);
    assert_eq!(step.record.sub_type.as_deref(), Some("WaitForCondition"));
    assert_eq!(step.status(), OperationStatus::Succeeded);
    assert_eq!(step.record.attempt, 3);
    assert_eq!(step.result::<u32>(), 30);
    assert_eq!(
        result.operations.len(),
        1,
        "no child context, no waits: {:?}",
        result.operations
    );

    let rows = log_rows(runner.store().path(), "poll-job");
    // A START nobody awaits shares its commit with the check's outcome when the check is
    // quick (the writer keeps the newest row of an operation per commit), so the log holds a
    // STARTED row only when it committed alone; every other transition is a row of its own.
    let shape: Vec<(&str, u32, Option<&str>)> = rows
        .iter()
        .map(|r| (r.0.as_str(), r.1, r.2.as_deref()))
        .filter(|r| r.0 != "STARTED")
        .collect();
    assert_eq!(
        shape,
        [
            ("PENDING", 1, Some("10")),
            ("READY", 1, Some("10")),
            ("PENDING", 2, Some("20")),
            ("READY", 2, Some("20")),
            ("SUCCEEDED", 3, Some("30")),
        ]
    );
    for started in rows.iter().filter(|r| r.0 == "STARTED") {
        // A START carries the state its check started from.
        let from = (started.1 - 1) * 10;
        assert_eq!(
            started.2,
            (from > 0).then(|| from.to_string()),
            "{started:?}"
        );
    }
    for row in &rows {
        assert_eq!(row.3, None, "a poll is a retry without error: {row:?}");
        assert_eq!(row.5, "WaitForCondition");
        // Only PENDING has a next attempt time (READY clears it, as the AWS runner's).
        assert_eq!(row.4.is_some(), row.0 == "PENDING", "{row:?}");
    }
    let pending = rows.iter().find(|r| r.0 == "PENDING").unwrap();
    assert!(pending.4.unwrap() as u64 >= before + 3_600_000);
    assert!(runner.store().check(None).unwrap().is_clean());

    // A replay returns the stored state without checking again.
    let checks = CHECKS.load(Ordering::SeqCst);
    let id = result.execution.id.clone();
    assert_eq!(runner.replay(&id).await.result::<u32>(), 30);
    assert_eq!(CHECKS.load(Ordering::SeqCst), checks);
}

#[tokio::test]
async fn a_strategy_that_gives_up_fails_the_step() {
    let runner = DurableTestRunner::new(poll_job);
    let result = runner.run(2).await;
    assert_eq!(result.status(), InvocationStatus::Failed);
    let step = result.get_step("poll-job").unwrap();
    assert_eq!(step.status(), OperationStatus::Failed);
    let error = step.error().unwrap();
    assert_eq!(error.error_type, "WaitForConditionGaveUp");
    assert!(error.error_message.contains("after check 2"), "{error}");
    assert_eq!(step.record.result, None, "FAIL carries no payload");
    let rows = log_rows(runner.store().path(), "poll-job");
    let statuses: Vec<&str> = rows
        .iter()
        .map(|r| r.0.as_str())
        .filter(|s| *s != "STARTED")
        .collect();
    assert_eq!(statuses, ["PENDING", "READY", "FAILED"]);
}

async fn failing_check(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.wait_for_condition(
        "broken",
        |_state: u32, _s: StepContext| async move { Err::<u32, _>("probe unreachable".to_string()) },
        WaitForConditionConfig {
            initial_state: 0,
            wait_strategy: Arc::new(|_: &u32, _| WaitDecision::Stop),
        },
    )
    .await
}

#[tokio::test]
async fn a_failing_check_fails_the_step_with_its_error() {
    let result = DurableTestRunner::new(failing_check).run(()).await;
    assert_eq!(result.status(), InvocationStatus::Failed);
    let step = result.get_step("broken").unwrap();
    assert_eq!(step.status(), OperationStatus::Failed);
    assert_eq!(step.error().unwrap().error_message, "probe unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_wakes_a_suspended_poll_and_it_resumes_from_the_stored_state() {
    let dir = std::env::temp_dir().join(format!("orkestra-wfc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(SqliteStore::open(dir.join("d.db")).unwrap());
    let dyn_store: Arc<dyn CheckpointStore> = store.clone();
    let handler = handler_fn(short_polls);
    let rec = DurableExecutor::new(dyn_store.clone())
        .hold(Duration::ZERO)
        .run("w", "short_polls", &handler, ().into())
        .await
        .unwrap();
    assert_eq!(
        rec.status,
        InvocationStatus::Running,
        "suspended at the first delay"
    );
    let op = &store.load_operations("w").unwrap()[0];
    assert_eq!(op.status, OperationStatus::Pending);
    assert_eq!(op.result.as_deref(), Some("1"));
    let due = store.due_state("w").unwrap().unwrap().due_ms;
    assert_eq!(due, op.details.next_attempt_ms, "due when the next poll is");

    let worker = Worker::new(dyn_store.clone())
        .handler("short_polls", Arc::new(handler_fn(short_polls)))
        .hold(Duration::ZERO)
        .poll_interval(Duration::from_millis(20));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.get_execution("w").unwrap().unwrap().status == InvocationStatus::Running {
        assert!(std::time::Instant::now() < deadline, "never finished");
        worker.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = store.get_execution("w").unwrap().unwrap();
    assert_eq!(done.result.as_deref(), Some("3"));
    let statuses: Vec<String> = log_rows(store.path(), "short")
        .into_iter()
        .map(|r| r.0)
        .filter(|s| s != "STARTED")
        .collect();
    // Each READY was written by a wake-up, committed before the next check started.
    assert_eq!(
        statuses,
        ["PENDING", "READY", "PENDING", "READY", "SUCCEEDED"]
    );
    assert!(store.check(None).unwrap().is_clean());
    let _ = std::fs::remove_dir_all(dir);
}

async fn short_polls(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.wait_for_condition(
        "short",
        |n: u32, _s: StepContext| async move { Ok::<_, String>(n + 1) },
        WaitForConditionConfig {
            initial_state: 0,
            wait_strategy: Arc::new(|n: &u32, _| match *n {
                3 => WaitDecision::Stop,
                _ => WaitDecision::ContinueAfter(Duration::from_millis(200)),
            }),
        },
    )
    .await
}

#[tokio::test]
async fn an_execution_recorded_with_the_old_child_context_shape_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("orkestra-wfc-old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(SqliteStore::open(dir.join("d.db")).unwrap());
    store
        .put_execution(ExecutionRecord {
            id: "old".into(),
            handler: "poll_job".into(),
            status: InvocationStatus::Running,
            input: "10".into(),
            result: None,
            error: None,
            started_ms: Some(ExecutionRecord::now_ms()),
            ended_ms: None,
        })
        .await
        .unwrap();
    // What Orkestra wrote before: a child context holding the checks and waits.
    let id = operation_id("", 1);
    let context = OperationRecord {
        id: id.clone(),
        parent_id: None,
        op_type: OperationType::Context,
        sub_type: Some("RunInChildContext".into()),
        name: Some("poll-job".into()),
        status: OperationStatus::Started,
        result: None,
        error: None,
        attempt: 0,
        started_ms: None,
        ended_ms: None,
        details: Default::default(),
    };
    store.checkpoint("old", &context).await.unwrap();
    let dyn_store: Arc<dyn CheckpointStore> = store.clone();
    let rec = DurableExecutor::new(dyn_store)
        .run("old", "poll_job", &handler_fn(poll_job), 10.into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Failed);
    let error = rec.error.unwrap();
    assert!(
        error.error_message.contains(&format!(
            "wait_for_condition \"poll-job\" (operation {id}) was recorded as a child context"
        )),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
