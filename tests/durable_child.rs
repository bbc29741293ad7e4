//! Child contexts, durable waits (across a restart) and parallel branches.

use orkestra::durable::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static INNER_RUNS: AtomicU32 = AtomicU32::new(0);

async fn with_child(n: u32, ctx: DurableContext) -> Result<u32, DurableError> {
    let doubled = ctx
        .run_in_child_context("double-it", |child: DurableContext| async move {
            INNER_RUNS.fetch_add(1, Ordering::SeqCst);
            child
                .step(move |_s: StepContext| async move { Ok::<_, String>(n * 2) })
                .name("inner")
                .await
        })
        .await?;
    ctx.wait(Duration::from_secs(3600)).await?;
    Ok(doubled + 1)
}

#[tokio::test]
async fn child_context_groups_its_operations_and_replays() {
    let runner = DurableTestRunner::new(with_child);
    let first = runner.run_with_id("c", 5).await;
    assert_eq!(
        first.result::<u32>(),
        11,
        "the hour-long wait is skipped by the runner"
    );
    let child = first.get_context("double-it").unwrap();
    assert_eq!(child.children().len(), 1);
    assert_eq!(child.children()[0].record.name.as_deref(), Some("inner"));
    let runs = INNER_RUNS.load(Ordering::SeqCst);
    assert_eq!(runner.replay("c").await.result::<u32>(), 11);
    assert_eq!(
        INNER_RUNS.load(Ordering::SeqCst),
        runs,
        "a finished child context is not re-run"
    );
}

async fn just_wait(_e: (), ctx: DurableContext) -> Result<&'static str, DurableError> {
    ctx.wait_named(Some("pause"), Duration::from_secs(10))
        .await?;
    Ok("woke")
}

#[tokio::test]
async fn a_wait_keeps_its_wake_up_time_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("orkestra-wait-{}", std::process::id()));
    let store = Arc::new(SqliteStore::open(dir.join("w.db")).unwrap());
    // A previous process reached the 10 s wait 9.7 s ago, then died.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    store
        .put_execution(ExecutionRecord {
            id: "w".into(),
            handler: "just_wait".into(),
            status: InvocationStatus::Running,
            input: "null".into(),
            result: None,
            error: None,
            started_ms: None,
            ended_ms: None,
        })
        .await
        .unwrap();
    store
        .checkpoint(
            "w",
            &OperationRecord {
                id: operation_id("", 1),
                parent_id: None,
                op_type: OperationType::Wait,
                sub_type: Some("Wait".into()),
                name: Some("pause".into()),
                status: OperationStatus::Started,
                result: Some((now + 300).to_string()),
                error: None,
                attempt: 0,
                started_ms: None,
                ended_ms: None,
                details: Default::default(),
            },
        )
        .await
        .unwrap();
    let t = Instant::now();
    let rec = DurableExecutor::new(store.clone())
        .run(
            "w",
            "just_wait",
            &handler_fn(just_wait),
            serde_json::Value::Null,
        )
        .await
        .unwrap();
    let waited = t.elapsed();
    assert_eq!(rec.result.as_deref(), Some("\"woke\""));
    assert!(
        waited >= Duration::from_millis(200),
        "waited only {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "waited the full duration again: {waited:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

async fn branches(fail: bool, ctx: DurableContext) -> Result<BatchResult<String>, DurableError> {
    ctx.parallel(
        Some("fan-out"),
        vec![
            branch(|c: DurableContext| async move {
                c.step(|_s: StepContext| async { Ok::<_, String>("a".to_string()) })
                    .name("a")
                    .await
            }),
            branch(move |_c: DurableContext| async move {
                if fail {
                    Err("branch b failed".to_string())
                } else {
                    Ok("b".to_string())
                }
            }),
            branch(|_c: DurableContext| async { Ok::<_, String>("c".to_string()) }),
        ],
        ParallelConfig {
            max_concurrency: Some(1),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn parallel_runs_branches_and_defaults_to_all_successful() {
    let runner = DurableTestRunner::new(branches);
    let ok: BatchResult<String> = runner.run(false).await.result();
    assert_eq!(ok.get_results(), ["a", "b", "c"]);
    let failed = runner.run(true).await;
    let batch: BatchResult<String> = failed.result();
    assert_eq!(
        batch.completion_reason,
        CompletionReason::FailureToleranceExceeded
    );
    assert_eq!(
        batch.total_count(),
        2,
        "branch c never starts after b failed"
    );
    assert_eq!(batch.get_errors()[0].error_message, "branch b failed");
    let op = failed.get_context("fan-out").unwrap();
    assert_eq!(op.record.sub_type.as_deref(), Some("Parallel"));
}

static LOGGED: std::sync::Mutex<Vec<(bool, bool)>> = std::sync::Mutex::new(Vec::new());

async fn logs(_e: (), ctx: DurableContext) -> Result<u8, DurableError> {
    let before = ctx.logger().info("starting");
    let v = ctx
        .step(|_s: StepContext| async { Ok::<_, String>(1u8) })
        .name("one")
        .await?;
    let after = ctx.logger().info("after step one");
    LOGGED.lock().unwrap().push((before, after));
    Ok(v)
}

#[tokio::test]
async fn the_logger_is_silent_while_replaying() {
    let runner = DurableTestRunner::new(logs);
    runner.run_with_id("l", ()).await;
    runner.replay("l").await;
    assert_eq!(*LOGGED.lock().unwrap(), vec![(true, true), (false, true)]);
}
