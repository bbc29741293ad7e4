//! `ctx.stop_execution(error, cause)`: the execution ends ABORTED with the error and cause,
//! whatever the task returns; no Retry or Catch handles it; no later state or map item runs;
//! a configured stopper is called with the execution id; `run` exits with code 3.

#[path = "support/examples.rs"]
mod examples;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use orkestra::engine::EventKind;
use orkestra::state_data::{ExecutionStopped, ExecutionStopper, StateDataError, StoreFuture};
use orkestra::{compose, Context, Engine, ExecutionStatus};
use serde_json::{json, Value};

static AFTER_RAN: AtomicUsize = AtomicUsize::new(0);
static STOP_ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
static ITEMS_STARTED: AtomicUsize = AtomicUsize::new(0);

/// Stops the execution, retried on every error if it were an ordinary failure.
#[compose(retry(max_attempts = 3, interval_secs = 1))]
async fn stop_now(n: u32, ctx: &Context) -> Result<u32, ExecutionStopped> {
    if n == 4 {
        // Only the run that checks the attempt count (tests run at once).
        STOP_ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    }
    Err(ctx
        .stop_execution("Halt", format!("asked to stop at {n}"))
        .await)
}

/// Stops the execution but returns normally: the stop still wins.
#[compose]
async fn stop_and_return(n: u32, ctx: &Context) -> u32 {
    let _ = ctx.stop_execution("Quiet", "stopped, returned Ok").await;
    n
}

#[compose]
fn after(n: u32, _ctx: &Context) -> u32 {
    AFTER_RAN.fetch_add(1, Ordering::SeqCst);
    n
}

orkestra::workflow!(stops = stop_now >> after);
orkestra::workflow!(stops_quietly = stop_and_return >> after);

#[tokio::test]
async fn stop_execution_aborts_with_error_and_cause_and_nothing_runs_after() {
    let execution = Engine::default().run(&stops(), json!(4)).await;
    assert_eq!(execution.status, ExecutionStatus::Aborted);
    assert_eq!(
        execution.to_json(),
        json!({"status": "ABORTED", "error": "Halt", "cause": "asked to stop at 4"})
    );
    assert_eq!(
        AFTER_RAN.load(Ordering::SeqCst),
        0,
        "no state after the stop"
    );
    assert_eq!(
        STOP_ATTEMPTS.load(Ordering::SeqCst),
        1,
        "the task's retry rule does not retry a stop"
    );
    let aborted: Vec<_> = execution
        .history
        .events()
        .filter(|e| e.kind == EventKind::ExecutionAborted)
        .collect();
    assert_eq!(aborted.len(), 1);
    let error = aborted[0].error.clone().unwrap();
    assert_eq!(
        (error.error.as_str(), error.cause.as_str()),
        ("Halt", "asked to stop at 4")
    );
    assert_eq!(execution.history.count(EventKind::ExecutionFailed), 0);
    assert_eq!(execution.history.count(EventKind::ExecutionSucceeded), 0);

    let execution = Engine::default().run(&stops_quietly(), json!(1)).await;
    assert_eq!(execution.status, ExecutionStatus::Aborted);
    assert_eq!(execution.error.unwrap().name(), "Quiet");
    assert_eq!(AFTER_RAN.load(Ordering::SeqCst), 0);
}

/// Item 2 stops the execution; items run one at a time.
#[compose(map, capture_errors, max_concurrency = 1)]
async fn stop_at_two(n: u32, ctx: &Context) -> Result<u32, ExecutionStopped> {
    ITEMS_STARTED.fetch_add(1, Ordering::SeqCst);
    if n == 2 {
        return Err(ctx.stop_execution("AtTwo", "item two").await);
    }
    Ok(n)
}

orkestra::workflow!(stops_in_a_map = stop_at_two);

#[compose]
fn fine(n: u32, _ctx: &Context) -> u32 {
    n
}

#[compose]
fn after_group(pair: (orkestra::Captured<u32>, orkestra::Captured<u32>), _ctx: &Context) -> u32 {
    AFTER_RAN.fetch_add(1, Ordering::SeqCst);
    pair.1.ok().unwrap_or(0)
}

orkestra::workflow!(stops_in_a_swallowing_group = (stop_now, fine) >> after_group);

#[tokio::test]
async fn captures_and_swallowing_groups_do_not_catch_a_stop() {
    let execution = Engine::default()
        .run(&stops_in_a_map(), json!([0, 1, 2, 3, 4, 5]))
        .await;
    assert_eq!(
        execution.status,
        ExecutionStatus::Aborted,
        "{:?}",
        execution.output
    );
    assert_eq!(execution.error.unwrap().name(), "AtTwo");
    assert_eq!(
        ITEMS_STARTED.load(Ordering::SeqCst),
        3,
        "no item starts after the stop"
    );
    let execution = Engine::default()
        .run(&stops_in_a_swallowing_group(), json!(9))
        .await;
    assert_eq!(execution.status, ExecutionStatus::Aborted);
    assert_eq!(execution.error.unwrap().name(), "Halt");
}

#[derive(Default)]
struct RecordingStopper {
    calls: Mutex<Vec<(String, String, String)>>,
}

impl ExecutionStopper for RecordingStopper {
    fn stop<'a>(
        &'a self,
        execution_id: &'a str,
        error: &'a str,
        cause: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.calls.lock().unwrap().push((
                execution_id.to_string(),
                error.to_string(),
                cause.to_string(),
            ));
            Ok(())
        })
    }
}

struct FailingStopper;

impl ExecutionStopper for FailingStopper {
    fn stop<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async {
            Err(StateDataError::Backend {
                backend: "sfn",
                operation: "StopExecution",
                table: "feature_flag".into(),
                message: "access denied".into(),
            })
        })
    }
}

#[tokio::test]
async fn a_stopper_is_called_with_the_execution_id() {
    let stopper = Arc::new(RecordingStopper::default());
    let execution = Engine::default()
        .with_stopper(stopper.clone())
        .run(&stops(), json!(7))
        .await;
    assert_eq!(execution.status, ExecutionStatus::Aborted);
    let calls = stopper.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![(
            execution.execution_id.clone(),
            "Halt".to_string(),
            "asked to stop at 7".to_string()
        )]
    );
    // A context outside an engine calls its stopper too (Lambda mode sets one).
    let stopper = Arc::new(RecordingStopper::default());
    let ctx = Context::new("arn:aws:states:x:1:execution:sm:run-1", "sm", "check")
        .with_stopper(stopper.clone());
    let stopped = ctx.stop_execution("E", "C").await;
    assert_eq!(stopped.stopper_failure, None);
    assert_eq!(
        stopper.calls.lock().unwrap()[0].0,
        "arn:aws:states:x:1:execution:sm:run-1"
    );
    // A failing stopper is reported in the error the task returns.
    let ctx = Context::new("e", "sm", "check").with_stopper(Arc::new(FailingStopper));
    let stopped = ctx.stop_execution("E", "C").await;
    assert!(
        stopped.to_string().contains("sfn StopExecution failed"),
        "{stopped}"
    );
}

#[test]
fn run_exits_3_with_the_aborted_report() {
    let binary = examples::example_binary("stop_execution");
    let out = Command::new(&binary)
        .args(["run", "--input", r#"{"enabled": false}"#, "--history"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report,
        json!({"status": "ABORTED", "error": "FeatureDisabled", "cause": "the feature flag is off for this run"})
    );
    let history = String::from_utf8_lossy(&out.stderr);
    assert!(
        history.contains(r#""type":"ExecutionAborted","error":"FeatureDisabled""#),
        "{history}"
    );
    assert!(!history.contains(r#""state":"do_work""#), "{history}");

    let out = Command::new(&binary)
        .args(["run", "--input", r#"{"enabled": true}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // `invoke` of the stopping task alone: exit code 3 too.
    let out = Command::new(&binary)
        .args(["invoke", "check_feature", r#"{"enabled": false}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["errorType"], "Orkestra.ExecutionStopped");
}
