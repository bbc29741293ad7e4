//! `ctx.invoke` of a registered handler and `ctx.wait_for_condition`.

use orkestra::durable::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

static CHILD_RUNS: AtomicU32 = AtomicU32::new(0);

#[orkestra::durable_execution]
async fn square_it(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    CHILD_RUNS.fetch_add(1, Ordering::SeqCst);
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(n * n) })
        .name("square")
        .await
}

#[orkestra::durable_execution]
async fn parent(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let sq: u64 = ctx.invoke("square_it", n).await?;
    Ok(sq + 1)
}

async fn invoke_missing(_e: (), ctx: DurableContext) -> Result<u64, DurableError> {
    ctx.invoke("nobody", 1).await
}

#[tokio::test]
async fn invoke_runs_a_chained_execution_once() {
    let runner = DurableTestRunner::new(parent);
    let first = runner.run_with_id("p", 7).await;
    assert_eq!(first.result::<u64>(), 50);
    let op = &first.operations[0];
    assert_eq!(op.op_type, OperationType::ChainedInvoke);
    let chained = format!("p/{}", op.id);
    let child = runner
        .store()
        .get_execution(&chained)
        .unwrap()
        .expect("chained execution");
    assert_eq!(child.handler, "square_it");
    assert_eq!(child.result.as_deref(), Some("49"));

    let runs = CHILD_RUNS.load(Ordering::SeqCst);
    assert_eq!(runner.replay("p").await.result::<u64>(), 50);
    assert_eq!(
        CHILD_RUNS.load(Ordering::SeqCst),
        runs,
        "replay does not invoke again"
    );

    let missing = DurableTestRunner::new(invoke_missing).run(()).await;
    assert_eq!(missing.status(), InvocationStatus::Failed);
    assert!(missing
        .error()
        .unwrap()
        .error_message
        .contains("no durable handler \"nobody\""));
}

async fn poll_until_ready(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
    ctx.wait_for_condition(
        "poll-job",
        |state: u32, s: StepContext| async move {
            assert!(s.attempt() >= 1);
            Ok::<_, String>(state + 10)
        },
        WaitForConditionConfig {
            initial_state: 0,
            wait_strategy: Arc::new(|state: &u32, _attempt| {
                if *state >= 30 {
                    WaitDecision::Stop
                } else {
                    WaitDecision::ContinueAfter(Duration::from_secs(60))
                }
            }),
        },
    )
    .await
}

#[tokio::test]
async fn wait_for_condition_checks_until_the_strategy_stops() {
    let result = DurableTestRunner::new(poll_until_ready).run(()).await;
    assert_eq!(result.result::<u32>(), 30);
    // One STEP (sub type WaitForCondition) whose third check succeeded; the checks before
    // were retries of it (`tests/durable_wait_for_condition.rs` checks each record).
    let step = result.get_step("poll-job").unwrap();
    assert_eq!(step.record.sub_type.as_deref(), Some("WaitForCondition"));
    assert_eq!(step.record.attempt, 3);
    assert_eq!(step.result::<u32>(), 30);
    assert_eq!(result.wake_ups, 2);
}
