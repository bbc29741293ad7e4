//! Map results over 256 KB: a summary is checkpointed and the value is rebuilt on replay from
//! the children's records.

use orkestra::durable::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

static ITEM_RUNS: AtomicU32 = AtomicU32::new(0);

async fn big_item(
    _ctx: DurableContext,
    item: u32,
    _i: usize,
    _all: Arc<[u32]>,
) -> Result<String, DurableError> {
    ITEM_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(format!("{item}:{}", "x".repeat(1024)))
}

async fn big(_e: (), ctx: DurableContext) -> Result<usize, DurableError> {
    let batch = ctx
        .map((0..400).collect::<Vec<u32>>(), big_item)
        .config(MapConfig {
            summary_generator: Some(Arc::new(
                |b: &BatchResult<String>| serde_json::json!({"items": b.total_count()}),
            )),
            ..Default::default()
        })
        .await?;
    assert!(batch.results()[399]
        .result
        .as_ref()
        .unwrap()
        .starts_with("399:"));
    Ok(batch.total_count())
}

#[tokio::test]
async fn large_results_store_a_summary_and_replay_children() {
    let runner = DurableTestRunner::new(big);
    let first = runner.run_with_id("big", ()).await;
    assert_eq!(first.result::<usize>(), 400);
    let map = first.get_map("big_item").unwrap();
    let stored: serde_json::Value = map.result();
    assert_eq!(stored["summary"], serde_json::json!({"items": 400}));
    assert_eq!(stored["replayChildren"], true);
    assert!(map.record.result.as_ref().unwrap().len() < MAX_CHECKPOINT_RESULT);

    let runs = ITEM_RUNS.load(Ordering::SeqCst);
    let again = runner.replay("big").await;
    assert_eq!(again.result::<usize>(), 400, "{:?}", again.error());
    assert_eq!(
        ITEM_RUNS.load(Ordering::SeqCst),
        runs,
        "items replay from their records"
    );
}

static EARLY_RUNS: AtomicU32 = AtomicU32::new(0);

/// Items from 300 on never finish by themselves: they are in flight when the map stops.
async fn fast_or_stuck(
    _ctx: DurableContext,
    item: u32,
    _i: usize,
    _all: Arc<[u32]>,
) -> Result<String, DurableError> {
    EARLY_RUNS.fetch_add(1, Ordering::SeqCst);
    if item >= 300 {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    Ok(format!("{item}:{}", "x".repeat(1024)))
}

async fn early_stop(_e: (), ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
    let batch = ctx
        .map((0..400).collect::<Vec<u32>>(), fast_or_stuck)
        .config(MapConfig {
            completion_config: CompletionConfig {
                min_successful: Some(300),
                ..Default::default()
            },
            ..Default::default()
        })
        .await?;
    let statuses: Vec<_> = batch.all.iter().map(|item| item.status).collect();
    Ok(serde_json::json!({
        "reason": batch.completion_reason,
        "succeeded": batch.success_count(),
        "started": batch.started_count(),
        "statuses": statuses,
        "last": batch.all[299].result,
    }))
}

#[tokio::test]
async fn an_early_stopped_summarised_map_replays_as_it_completed_without_running_items() {
    let runner = DurableTestRunner::new(early_stop);
    let first = runner.run_with_id("early", ()).await;
    let out: serde_json::Value = first.result();
    assert_eq!(out["reason"], "MIN_SUCCESSFUL_REACHED");
    assert_eq!(out["succeeded"], 300);
    assert_eq!(out["started"], 100);
    let stored: serde_json::Value = first.get_map("fast_or_stuck").unwrap().result();
    assert_eq!(stored["replayChildren"], true, "the result is over 256 KB");

    let runs = EARLY_RUNS.load(Ordering::SeqCst);
    // Re-running an in-flight item would hang on it: the timeout turns that into a failure.
    let again = tokio::time::timeout(std::time::Duration::from_secs(30), runner.replay("early"))
        .await
        .expect("the replay does not run the in-flight items again");
    assert_eq!(again.result::<serde_json::Value>(), out);
    assert_eq!(EARLY_RUNS.load(Ordering::SeqCst), runs, "no item ran again");
}

static LOGGED_AFTER_MAP: std::sync::Mutex<Vec<bool>> = std::sync::Mutex::new(Vec::new());
static FAIL_AFTER_MAP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

async fn item_with_step(
    ctx: DurableContext,
    item: u32,
    _i: usize,
    _all: Arc<[u32]>,
) -> Result<u32, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(item + 1) })
        .name("inner")
        .await
}

async fn map_then_log(_e: (), ctx: DurableContext) -> Result<u32, DurableError> {
    let batch = ctx.map(vec![1u32, 2, 3], item_with_step).await?;
    LOGGED_AFTER_MAP
        .lock()
        .unwrap()
        .push(ctx.logger().info("after the map"));
    if FAIL_AFTER_MAP.swap(false, Ordering::SeqCst) {
        return Err(DurableError::OperationFailed {
            name: "after the map".into(),
            error: ErrorObject::new("Interrupted", "simulated interruption"),
        });
    }
    Ok(batch.get_results().into_iter().sum())
}

#[tokio::test]
async fn the_logger_speaks_again_once_a_replayed_map_is_passed() {
    let runner = DurableTestRunner::new(map_then_log);
    let first = runner.run_with_id("log", ()).await;
    assert_eq!(first.status(), InvocationStatus::Failed);
    let again = runner.replay("log").await;
    assert_eq!(again.result::<u32>(), 9);
    // First run: live. Replay: the map and its items' steps replayed, nothing recorded is left
    // ahead, so the line is logged again (the nested step records do not keep it silent).
    assert_eq!(*LOGGED_AFTER_MAP.lock().unwrap(), [true, true]);
}

static FLAT_STEP_RUNS: AtomicU32 = AtomicU32::new(0);

/// A FLAT item: one step with a 1 KB result (item 7's step fails).
async fn flat_big_item(
    ctx: DurableContext,
    item: u32,
    _i: usize,
    _all: Arc<[u32]>,
) -> Result<String, DurableError> {
    ctx.step(move |_s: StepContext| async move {
        FLAT_STEP_RUNS.fetch_add(1, Ordering::SeqCst);
        if item == 7 {
            return Err(format!("item {item} refused"));
        }
        Ok(format!("{item}:{}", "x".repeat(1024)))
    })
    .name("make")
    .retry(RetryStrategy::none())
    .await
}

async fn flat_big(_e: (), ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
    let batch = ctx
        .map((0..300).collect::<Vec<u32>>(), flat_big_item)
        .nesting(Nesting::Flat)
        .await?;
    Ok(serde_json::json!({
        "succeeded": batch.success_count(),
        "failed": batch.failure_count(),
        "error": batch.all[7].error,
        "last": batch.all[299].result,
        "reason": batch.completion_reason,
    }))
}

#[tokio::test]
async fn a_summarised_flat_map_rebuilds_its_batch_from_its_items_operations() {
    let runner = DurableTestRunner::new(flat_big);
    let first = runner.run_with_id("flat-big", ()).await;
    let out: serde_json::Value = first.result();
    assert_eq!(out["succeeded"], 299);
    assert_eq!(out["failed"], 1);
    assert!(out["last"].as_str().unwrap().starts_with("299:"));
    let map = first.get_map("flat_big_item").unwrap();
    assert!(
        map.record.details.replay_children,
        "the result is over 256 KB"
    );
    assert!(map.record.result.as_ref().unwrap().len() < MAX_CHECKPOINT_RESULT);
    assert_eq!(
        first
            .operations
            .iter()
            .filter(|r| r.sub_type.as_deref() == Some("MapIteration"))
            .count(),
        0,
        "FLAT items have no records to rebuild from"
    );

    let runs = FLAT_STEP_RUNS.load(Ordering::SeqCst);
    assert_eq!(runs, 300);
    let again = runner.replay("flat-big").await;
    assert_eq!(
        again.result::<serde_json::Value>(),
        out,
        "{:?}",
        again.error()
    );
    assert_eq!(
        FLAT_STEP_RUNS.load(Ordering::SeqCst),
        runs,
        "the items' steps replayed from their records"
    );
}
