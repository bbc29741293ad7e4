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
    runner
        .store()
        .put_execution(ExecutionRecord {
            status: InvocationStatus::Running,
            result: None,
            ..first.execution.clone()
        })
        .await
        .unwrap();
    let again = runner.run_with_id("big", ()).await;
    assert_eq!(again.result::<usize>(), 400, "{:?}", again.error());
    assert_eq!(
        ITEM_RUNS.load(Ordering::SeqCst),
        runs,
        "items replay from their records"
    );
}
