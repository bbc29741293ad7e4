//! A step body cannot start durable operations: one started through a captured (cloned)
//! `DurableContext` fails at once, on the first run, naming the step and the operation, and
//! the step fails with that error whatever its body returned.

use orkestra::durable::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

static INNER_RUNS: AtomicU32 = AtomicU32::new(0);
static OUTER_RUNS: AtomicU32 = AtomicU32::new(0);

async fn square(_ctx: DurableContext, n: u32, _i: usize, _all: Arc<[u32]>) -> Result<u32, String> {
    Ok(n * n)
}

/// Starts the durable operation `op` on `ctx`; returns its error text (or "ok").
async fn start(op: &str, ctx: &DurableContext) -> String {
    let outcome: Result<(), DurableError> = match op {
        "step" => ctx
            .step(|_s: StepContext| async {
                INNER_RUNS.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(1u32)
            })
            .name("inner")
            .await
            .map(drop),
        "map" => ctx
            .map(vec![1u32, 2], square)
            .name("squares")
            .await
            .map(drop),
        "parallel" => ctx
            .parallel(
                Some("both"),
                vec![branch(|_c: DurableContext| async { Ok::<u32, String>(1) })],
                ParallelConfig::default(),
            )
            .await
            .map(drop),
        "wait" => ctx.wait(Duration::from_millis(1)).await,
        "child context" => ctx
            .run_in_child_context("nested", |_c: DurableContext| async {
                Ok::<u32, String>(1)
            })
            .await
            .map(drop),
        "callback" => ctx
            .create_callback::<u32>(Some("approval"), CallbackConfig::default())
            .await
            .map(drop),
        "wait_for_callback" => ctx
            .wait_for_callback::<u32, String, _, _>(
                "approval",
                |_id, _s| async { Ok(()) },
                CallbackConfig::default(),
            )
            .await
            .map(drop),
        "wait_for_condition" => ctx
            .wait_for_condition(
                "ready",
                |n: u32, _s: StepContext| async move { Ok::<u32, String>(n + 1) },
                WaitForConditionConfig {
                    initial_state: 0u32,
                    wait_strategy: Arc::new(|_n: &u32, _attempt| WaitDecision::Stop),
                },
            )
            .await
            .map(drop),
        "invoke" => ctx.invoke::<_, u32>("other_handler", 1).await.map(drop),
        other => panic!("unknown operation {other}"),
    };
    match outcome {
        Ok(()) => "ok".into(),
        Err(error) => error.to_string(),
    }
}

/// A closure step that captured a clone of the handler's context starts `op` in its body.
async fn nested(op: String, ctx: DurableContext) -> Result<String, DurableError> {
    let captured = ctx.clone();
    ctx.step(move |_s: StepContext| {
        let (captured, op) = (captured.clone(), op.clone());
        async move {
            OUTER_RUNS.fetch_add(1, Ordering::SeqCst);
            // The body swallows the error: the step must fail all the same.
            let inner = start(&op, &captured).await;
            Ok::<_, String>(inner)
        }
    })
    .name("outer")
    .retry(RetryStrategy::immediate(3))
    .await
}

#[tokio::test]
async fn every_durable_operation_started_in_a_step_body_fails_the_step_on_the_first_run() {
    let operations = [
        ("step", "step \"inner\""),
        ("map", "map \"squares\""),
        ("parallel", "parallel \"both\""),
        ("wait", "wait"),
        ("child context", "child context \"nested\""),
        ("callback", "callback \"approval\""),
        ("wait_for_callback", "wait_for_callback \"approval\""),
        ("wait_for_condition", "wait_for_condition \"ready\""),
        ("invoke", "invoke \"other_handler\""),
    ];
    for (index, (op, described)) in operations.into_iter().enumerate() {
        let runner = DurableTestRunner::new(nested);
        let outer_before = OUTER_RUNS.load(Ordering::SeqCst);
        let id = format!("nested-{index}");
        let result = runner.run_with_id(&id, op).await;
        assert_eq!(result.status(), InvocationStatus::Failed, "{op}");
        let error = result.error().expect("an error").clone();
        assert_eq!(error.error_type, "DurableOperationInStep", "{op}: {error}");
        assert!(
            error
                .error_message
                .contains(&format!("the body of step \"outer\" started the durable operation {described} on the DurableContext")),
            "{op}: {error}"
        );
        assert!(
            error.error_message.contains("start them in the handler"),
            "{error}"
        );
        // Failed at once, not retried: another attempt would do the same.
        assert_eq!(OUTER_RUNS.load(Ordering::SeqCst), outer_before + 1, "{op}");
        let step = result
            .get_step("outer")
            .expect("the outer step is recorded");
        assert_eq!(step.status(), OperationStatus::Failed);
        assert_eq!(step.error(), Some(&error));
        // Nothing the body tried was recorded, so a replay meets the same records and fails
        // with the same error (not a non-determinism error).
        let replayed = runner.replay(&id).await;
        assert_eq!(replayed.error(), Some(&error), "{op}");
        assert_eq!(OUTER_RUNS.load(Ordering::SeqCst), outer_before + 1, "{op}");
    }
    assert_eq!(
        INNER_RUNS.load(Ordering::SeqCst),
        0,
        "the inner step never ran"
    );
}

/// The error the operation itself returns (what the body sees) names both, too.
#[tokio::test]
async fn the_refused_operation_returns_an_error_naming_the_step_and_the_operation() {
    async fn handler(_: (), ctx: DurableContext) -> Result<String, DurableError> {
        let captured = ctx.clone();
        let seen = Arc::new(std::sync::Mutex::new(String::new()));
        let slot = seen.clone();
        let _ = ctx
            .step(move |_s: StepContext| {
                let (captured, slot) = (captured.clone(), slot.clone());
                async move {
                    let text = start("step", &captured).await;
                    *slot.lock().unwrap() = text;
                    Ok::<_, String>(())
                }
            })
            .name("charge")
            .await;
        let text = seen.lock().unwrap().clone();
        Ok(text)
    }
    let result = DurableTestRunner::new(handler).run(()).await;
    let text: String = result.result();
    assert!(
        text.starts_with("operation \"step \\\"inner\\\"\" failed: DurableOperationInStep: the body of step \"charge\""),
        "{text}"
    );
}

/// Operations of the handler itself, around and between steps, are unaffected; so is a step
/// body that runs an execution of its own.
#[tokio::test]
async fn operations_outside_step_bodies_and_other_executions_inside_them_still_run() {
    async fn inner_handler(n: u32, ctx: DurableContext) -> Result<u32, DurableError> {
        ctx.step(move |_s: StepContext| async move { Ok::<_, String>(n * 2) })
            .name("double")
            .await
    }
    async fn handler(n: u32, ctx: DurableContext) -> Result<u32, DurableError> {
        let a = ctx
            .step(move |_s: StepContext| async move {
                let result = DurableTestRunner::new(inner_handler).run(n).await;
                Ok::<_, String>(result.result::<u32>())
            })
            .name("own execution")
            .await?;
        ctx.wait(Duration::from_millis(1)).await?;
        ctx.run_in_child_context("child", move |c: DurableContext| async move {
            c.step(move |_s: StepContext| async move { Ok::<_, String>(a + 1) })
                .name("plus one")
                .await
        })
        .await
    }
    let result = DurableTestRunner::new(handler).run(20).await;
    assert_eq!(
        result.status(),
        InvocationStatus::Succeeded,
        "{:?}",
        result.error()
    );
    assert_eq!(result.result::<u32>(), 41);
}
