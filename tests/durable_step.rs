//! Steps: checkpoint, replay without re-running, stored errors, non-determinism, retries,
//! at-most-once semantics.

use orkestra::durable::*;
use std::sync::atomic::{AtomicU32, Ordering};

fn running(store: &SqliteStore, id: &str, input: &str) -> Commit {
    store.put_execution(ExecutionRecord {
        id: id.into(),
        handler: "test-handler".into(),
        status: InvocationStatus::Running,
        input: input.into(),
        result: None,
        error: None,
        started_ms: None,
        ended_ms: None,
    })
}

static A_RUNS: AtomicU32 = AtomicU32::new(0);
static B_RUNS: AtomicU32 = AtomicU32::new(0);

async fn two_steps(n: u32, ctx: DurableContext) -> Result<u32, DurableError> {
    let a = ctx
        .step(move |_s: StepContext| async move {
            A_RUNS.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(n + 1)
        })
        .name("a")
        .await?;
    let b = ctx
        .step(move |_s: StepContext| async move {
            B_RUNS.fetch_add(1, Ordering::SeqCst);
            if a > 100 {
                Err(format!("{a} is too big"))
            } else {
                Ok(a * 10)
            }
        })
        .name("b")
        .await?;
    Ok(b)
}

#[tokio::test]
async fn finished_steps_replay_without_running_and_errors_are_re_raised() {
    let runner = DurableTestRunner::new(two_steps);
    let first = runner.run_with_id("e", 4).await;
    assert_eq!(first.status(), InvocationStatus::Succeeded);
    assert_eq!(first.result::<u32>(), 50);
    assert_eq!(first.get_step("a").unwrap().result::<u32>(), 5);
    let (a, b) = (A_RUNS.load(Ordering::SeqCst), B_RUNS.load(Ordering::SeqCst));

    // Pretend the process died after the last checkpoint: the execution is resumed.
    running(&runner.store(), "e", "4").await.unwrap();
    let again = runner.run_with_id("e", 4).await;
    assert_eq!(again.result::<u32>(), 50);
    assert_eq!(
        A_RUNS.load(Ordering::SeqCst),
        a,
        "step a must not run on replay"
    );
    assert_eq!(
        B_RUNS.load(Ordering::SeqCst),
        b,
        "step b must not run on replay"
    );

    // A failing step fails the execution, and replays as the same failure.
    let failed = runner.run_with_id("f", 200).await;
    assert_eq!(failed.status(), InvocationStatus::Failed);
    assert_eq!(failed.error().unwrap().error_message, "201 is too big");
    assert_eq!(
        failed.get_step("b").unwrap().status(),
        OperationStatus::Failed
    );
    let b_after = B_RUNS.load(Ordering::SeqCst);
    running(&runner.store(), "f", "200").await.unwrap();
    let replayed = runner.run_with_id("f", 200).await;
    assert_eq!(replayed.error().unwrap().error_message, "201 is too big");
    assert_eq!(B_RUNS.load(Ordering::SeqCst), b_after);
}

async fn renamed(_n: u32, ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.step(|_s: StepContext| async { Ok::<_, String>(1) })
        .name("not-a")
        .await
}

#[tokio::test]
async fn changed_code_fails_with_a_non_determinism_error_naming_both() {
    let first = DurableTestRunner::new(two_steps);
    first.run_with_id("n", 1).await;
    let store = first.store();
    running(&store, "n", "1").await.unwrap();
    let executor = DurableExecutor::new(store.clone());
    let rec = executor
        .run("n", "renamed", &handler_fn(renamed), 1.into())
        .await
        .unwrap();
    assert_eq!(rec.status, InvocationStatus::Failed);
    let err = rec.error.unwrap();
    assert_eq!(err.error_type, "NonDeterministicExecution");
    assert!(
        err.error_message.contains("recorded STEP Some(\"a\")"),
        "{err}"
    );
    assert!(
        err.error_message.contains("requests STEP Some(\"not-a\")"),
        "{err}"
    );
}

/// Attempts seen per input (a retry delay suspends the execution: each attempt after the
/// first runs in a new invocation of the handler, so they are kept outside it).
static FLAKY_SEEN: std::sync::Mutex<Vec<(u32, u32)>> = std::sync::Mutex::new(Vec::new());

async fn flaky(fail_times: u32, ctx: DurableContext) -> Result<Vec<u32>, DurableError> {
    ctx.step(move |s: StepContext| async move {
        FLAKY_SEEN.lock().unwrap().push((fail_times, s.attempt()));
        if s.attempt() <= fail_times {
            Err(format!("attempt {} failed", s.attempt()))
        } else {
            Ok(s.attempt())
        }
    })
    .name("flaky")
    .retry(RetryStrategy {
        max_attempts: 3,
        ..RetryStrategy::default()
    })
    .await?;
    let seen = FLAKY_SEEN.lock().unwrap();
    Ok(seen
        .iter()
        .filter(|(f, _)| *f == fail_times)
        .map(|(_, a)| *a)
        .collect())
}

#[tokio::test]
async fn retries_follow_the_strategy_and_give_up_after_max_attempts() {
    let runner = DurableTestRunner::new(flaky);
    let ok = runner.run(2).await;
    assert_eq!(ok.result::<Vec<u32>>(), vec![1, 2, 3]);
    assert_eq!(ok.get_step("flaky").unwrap().record.attempt, 3);
    assert_eq!(
        ok.wake_ups, 2,
        "each retry delay suspended the execution once"
    );
    let bad = runner.run(3).await;
    assert_eq!(bad.status(), InvocationStatus::Failed);
    assert_eq!(bad.error().unwrap().error_message, "attempt 3 failed");
}

static AMO_ATTEMPTS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

async fn at_most_once(retries: u32, ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.step(|s: StepContext| async move {
        AMO_ATTEMPTS.lock().unwrap().push(s.attempt());
        Ok::<_, String>(s.attempt())
    })
    .name("charge")
    .semantics(StepSemantics::AtMostOncePerRetry)
    .retry(RetryStrategy::immediate(retries))
    .await
}

#[tokio::test]
async fn an_interrupted_at_most_once_step_goes_to_the_retry_strategy() {
    let runner = DurableTestRunner::new(at_most_once);
    let store = runner.store();
    for (exec, retries) in [("retry", 3u32), ("no-retry", 1)] {
        running(&store, exec, &retries.to_string()).await.unwrap();
        store
            .checkpoint(
                exec,
                &OperationRecord {
                    id: operation_id("", 1),
                    parent_id: None,
                    op_type: OperationType::Step,
                    sub_type: Some("Step".into()),
                    name: Some("charge".into()),
                    status: OperationStatus::Started,
                    result: None,
                    error: None,
                    attempt: 1,
                    started_ms: None,
                    ended_ms: None,
                    details: Default::default(),
                },
            )
            .await
            .unwrap();
    }
    let retried = runner.run_with_id("retry", 3).await;
    assert_eq!(
        retried.result::<u32>(),
        2,
        "attempt 1 was interrupted; attempt 2 runs"
    );
    let failed = runner.run_with_id("no-retry", 1).await;
    assert_eq!(failed.status(), InvocationStatus::Failed);
    assert_eq!(failed.error().unwrap().error_type, "StepInterrupted");
    assert_eq!(*AMO_ATTEMPTS.lock().unwrap(), vec![2]);
}
