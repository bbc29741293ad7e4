//! Callbacks completed (through another store connection), failed and timed out.

use orkestra::durable::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

static SUBMITTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

async fn approval(timeout_ms: u64, ctx: DurableContext) -> Result<String, DurableError> {
    let decision: String = ctx
        .wait_for_callback(
            "approval",
            |callback_id: String, _s: StepContext| async move {
                SUBMITTED.lock().unwrap().push(callback_id);
                Ok::<_, String>(())
            },
            CallbackConfig {
                timeout: Some(Duration::from_millis(timeout_ms)),
                ..Default::default()
            },
        )
        .await?;
    Ok(format!("decision: {decision}"))
}

async fn run_and_answer(
    exec_id: &str,
    answer: Option<Result<serde_json::Value, ErrorObject>>,
    timeout_ms: u64,
) -> ExecutionRecord {
    let dir = std::env::temp_dir().join(format!("orkestra-cb-{}-{exec_id}", std::process::id()));
    let path = dir.join("cb.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let run = {
        let store = store.clone();
        let exec_id = exec_id.to_string();
        tokio::spawn(async move {
            DurableExecutor::new(store)
                .run(
                    &exec_id,
                    "approval",
                    &handler_fn(approval),
                    timeout_ms.into(),
                )
                .await
                .unwrap()
        })
    };
    if let Some(answer) = answer {
        // The id reaches the outside world through the submitter step.
        let id = loop {
            let found = SUBMITTED
                .lock()
                .unwrap()
                .iter()
                .find(|id| id.starts_with(&format!("{exec_id}/")))
                .cloned();
            if let Some(id) = found {
                break id;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        // Another connection (as another process would) completes it.
        let other = SqliteStore::open(&path).unwrap();
        complete_callback(&other, &id, answer).await.unwrap();
        let again = complete_callback(&other, &id, Ok("late".into()))
            .await
            .unwrap_err();
        assert!(again.to_string().contains("already"), "{again}");
    }
    let rec = run.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_completed_from_outside_resumes_the_execution() {
    let rec = run_and_answer("ok", Some(Ok("approved".into())), 60_000).await;
    assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
    assert_eq!(rec.result.as_deref(), Some("\"decision: approved\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_callback_fails_with_its_error() {
    let rec = run_and_answer(
        "no",
        Some(Err(ErrorObject::new("Rejected", "not today"))),
        60_000,
    )
    .await;
    assert_eq!(rec.status, InvocationStatus::Failed);
    assert_eq!(
        rec.error.unwrap(),
        ErrorObject::new("Rejected", "not today")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_callback_times_out() {
    let rec = run_and_answer("late", None, 100).await;
    assert_eq!(rec.status, InvocationStatus::Failed);
    assert_eq!(rec.error.unwrap().error_type, "CallbackTimeout");
}

#[tokio::test]
async fn bad_callback_ids_are_refused_clearly() {
    let dir = std::env::temp_dir().join(format!("orkestra-cb-bad-{}", std::process::id()));
    let store = SqliteStore::open(dir.join("cb.db")).unwrap();
    let e = complete_callback(&store, "no-slash", Ok(1.into()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("EXECUTION_ID/OPERATION_ID"), "{e}");
    let e = complete_callback(&store, "x/y", Ok(1.into()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no callback \"x/y\""), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits for an answer with no timeout.
async fn patient(_event: (), ctx: DurableContext) -> Result<String, DurableError> {
    ctx.wait_for_callback(
        "approval",
        |_id: String, _s: StepContext| async move { Ok::<_, String>(()) },
        CallbackConfig::default(),
    )
    .await
}

#[tokio::test]
async fn wait_for_callback_is_recorded_as_the_protocol_records_it() {
    let runner = DurableTestRunner::new(patient);
    let first = runner.run_with_id("shape", ()).await;
    assert!(first.is_suspended(), "waits for the answer");
    let context = first.get_context("approval").expect("the wrapping context");
    assert_eq!(context.record.op_type, OperationType::Context);
    assert_eq!(context.record.sub_type.as_deref(), Some("WaitForCallback"));
    let children: Vec<_> = context
        .children()
        .iter()
        .map(|c| (c.record.op_type, c.record.sub_type.clone(), c.status()))
        .collect();
    assert_eq!(
        children,
        vec![
            (
                OperationType::Callback,
                Some("Callback".to_string()),
                OperationStatus::Started
            ),
            (
                OperationType::Step,
                Some("Step".to_string()),
                OperationStatus::Succeeded
            ),
        ]
    );
}
