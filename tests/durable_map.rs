//! `ctx.map`: the seed's tests translated, completion criteria, concurrency, replay.

use orkestra::durable::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

async fn square(
    _ctx: DurableContext,
    item: i64,
    _index: usize,
    _items: Arc<[i64]>,
) -> Result<i64, DurableError> {
    Ok(item * item)
}

async fn square_handler(
    _event: serde_json::Value,
    ctx: DurableContext,
) -> Result<serde_json::Value, DurableError> {
    let result = ctx.map(vec![1, 2, 3, 4, 5], square).await?;
    Ok(result.to_dict())
}

#[tokio::test]
async fn test_map_operations() {
    let result = DurableTestRunner::new(square_handler).run(json!({})).await;
    assert_eq!(result.status(), InvocationStatus::Succeeded);
    let batch: BatchResult<i64> = result.result();
    assert_eq!(batch.total_count(), 5);
    assert_eq!(batch.success_count(), 5);
    assert_eq!(batch.failure_count(), 0);
    assert_eq!(batch.results()[0].result, Some(1));
    assert_eq!(batch.results()[1].result, Some(4));
    assert_eq!(batch.results()[2].result, Some(9));
    assert_eq!(batch.completion_reason, CompletionReason::AllCompleted);
}

#[tokio::test]
async fn test_map_individual_items() {
    let result = DurableTestRunner::new(square_handler).run(json!({})).await;
    let map_op = result
        .get_map("square")
        .expect("the map is named after its function");
    let batch: BatchResult<i64> = map_op.result();
    assert_eq!(batch.total_count(), 5);
    assert_eq!(batch.results()[0].result, Some(1));
    assert_eq!(batch.results()[2].result, Some(9));
    let children = map_op.children();
    assert_eq!(children.len(), 5);
    let third = children
        .iter()
        .find(|c| c.record.name.as_deref() == Some("map-item-3"))
        .expect("items are named map-item-{index}");
    assert_eq!(third.result::<i64>(), 16);
}

#[tokio::test]
async fn to_dict_has_the_sdk_shape() {
    let result = DurableTestRunner::new(square_handler).run(json!({})).await;
    let dict: serde_json::Value = result.result();
    assert_eq!(dict["completionReason"], "ALL_COMPLETED");
    assert_eq!(
        dict["all"][1],
        json!({"index": 1, "status": "SUCCEEDED", "result": 4, "error": null})
    );
}

async fn process_item(
    _ctx: DurableContext,
    item: i64,
    _index: usize,
    _items: Arc<[i64]>,
) -> Result<serde_json::Value, String> {
    if item % 7 == 0 {
        return Err(format!("Item {item} failed"));
    }
    Ok(json!({"item": item, "processed": true}))
}

async fn handler_with_errors(
    _e: (),
    ctx: DurableContext,
) -> Result<BatchResult<serde_json::Value>, DurableError> {
    ctx.map((0..20).collect::<Vec<i64>>(), process_item)
        .name("process_items")
        .config(MapConfig {
            completion_config: CompletionConfig {
                min_successful: Some(15),
                tolerated_failure_count: Some(5),
                ..Default::default()
            },
            max_concurrency: Some(1),
            ..Default::default()
        })
        .await
}

#[tokio::test]
async fn test_map_error_handling_and_config() {
    let result = DurableTestRunner::new(handler_with_errors).run(()).await;
    assert_eq!(result.status(), InvocationStatus::Succeeded);
    let batch: BatchResult<serde_json::Value> = result.result();
    let successful = batch
        .results()
        .iter()
        .filter(|r| r.status == BatchItemStatus::Succeeded)
        .count();
    let failed: Vec<_> = batch
        .results()
        .iter()
        .filter(|r| r.status == BatchItemStatus::Failed)
        .collect();
    assert!(successful > 0 && !failed.is_empty());
    // Sequential: items 0, 7 and 14 fail; the 15th success is item 17.
    assert_eq!(
        batch.completion_reason,
        CompletionReason::MinSuccessfulReached
    );
    assert_eq!(successful, 15);
    assert_eq!(
        failed.iter().map(|r| r.index).collect::<Vec<_>>(),
        [0, 7, 14]
    );
    assert_eq!(
        failed[0].error.as_ref().unwrap().error_message,
        "Item 0 failed"
    );
    assert_eq!(
        batch.total_count(),
        18,
        "items after the criterion was met never start"
    );
    let map_op = result.get_map("process_items").unwrap();
    assert!(
        map_op
            .result::<BatchResult<serde_json::Value>>()
            .total_count()
            > 0
    );
    assert!(batch.throw_if_error().is_err());
}

async fn default_config(
    _e: (),
    ctx: DurableContext,
) -> Result<BatchResult<serde_json::Value>, DurableError> {
    ctx.map((0..20).collect::<Vec<i64>>(), process_item).await
}

#[tokio::test]
async fn default_runs_every_item_and_reports_failures() {
    let batch: BatchResult<serde_json::Value> = DurableTestRunner::new(default_config)
        .run(())
        .await
        .result();
    assert_eq!(batch.total_count(), 20);
    assert_eq!(batch.failure_count(), 3);
    assert_eq!(batch.completion_reason, CompletionReason::AllCompleted);
    assert_eq!(batch.get_errors().len(), 3);
    assert_eq!(batch.get_results().len(), 17);
}

fn preset_handler(
    cfg: CompletionConfig,
) -> impl Fn(
    Vec<i64>,
    DurableContext,
) -> futures_util::future::BoxFuture<
    'static,
    Result<BatchResult<serde_json::Value>, DurableError>,
> + Send
       + Sync
       + 'static {
    move |items, ctx| {
        let cfg = cfg.clone();
        Box::pin(async move {
            ctx.map(items, process_item)
                .name("m")
                .config(MapConfig {
                    completion_config: cfg,
                    max_concurrency: Some(1),
                    ..Default::default()
                })
                .await
        })
    }
}

#[tokio::test]
async fn completion_presets_and_thresholds_stop_early() {
    let items: Vec<i64> = vec![1, 7, 2, 14, 3, 21, 4];
    let run = |cfg: CompletionConfig| {
        let items = items.clone();
        async move {
            DurableTestRunner::new(preset_handler(cfg))
                .run(items)
                .await
                .result::<BatchResult<serde_json::Value>>()
        }
    };
    let b = run(CompletionConfig::all_successful()).await;
    assert_eq!(
        (b.completion_reason, b.total_count()),
        (CompletionReason::FailureToleranceExceeded, 2)
    );
    let b = run(CompletionConfig::all_completed()).await;
    assert_eq!(
        (b.completion_reason, b.total_count(), b.failure_count()),
        (CompletionReason::AllCompleted, 7, 3)
    );
    let b = run(CompletionConfig::first_successful()).await;
    assert_eq!(
        (b.completion_reason, b.total_count()),
        (CompletionReason::MinSuccessfulReached, 1)
    );
    let b = run(CompletionConfig {
        tolerated_failure_count: Some(1),
        ..Default::default()
    })
    .await;
    assert_eq!(
        (b.completion_reason, b.total_count()),
        (CompletionReason::FailureToleranceExceeded, 4)
    );
    // 2 of 7 = 28.6% > 25%.
    let b = run(CompletionConfig {
        tolerated_failure_percentage: Some(25.0),
        ..Default::default()
    })
    .await;
    assert_eq!(
        (b.completion_reason, b.total_count()),
        (CompletionReason::FailureToleranceExceeded, 4)
    );
    let b = run(CompletionConfig {
        min_successful: Some(3),
        ..Default::default()
    })
    .await;
    assert_eq!(
        (b.completion_reason, b.total_count()),
        (CompletionReason::MinSuccessfulReached, 5)
    );
    let bad = DurableTestRunner::new(preset_handler(CompletionConfig {
        min_successful: Some(8),
        ..Default::default()
    }))
    .run(items.clone())
    .await;
    assert_eq!(bad.status(), InvocationStatus::Failed);
    let msg = &bad.error().unwrap().error_message;
    assert!(
        msg.contains("min_successful = 8") && msg.contains("\"m\""),
        "{msg}"
    );
}

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

async fn slow(_ctx: DurableContext, item: u64, _i: usize, _all: Arc<[u64]>) -> Result<u64, String> {
    let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    Ok(item)
}

async fn limited(_e: (), ctx: DurableContext) -> Result<Vec<u64>, DurableError> {
    ctx.map((0..40).collect::<Vec<u64>>(), slow)
        .config(MapConfig {
            max_concurrency: Some(3),
            ..Default::default()
        })
        .await?
        .into_result()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_is_respected_and_order_kept() {
    let out: Vec<u64> = DurableTestRunner::new(limited).run(()).await.result();
    assert_eq!(out, (0..40).collect::<Vec<u64>>());
    let peak = PEAK.load(Ordering::SeqCst);
    assert!((2..=3).contains(&peak), "peak concurrency {peak}");
}

static USER_STEP_RUNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

async fn process_user(
    ctx: DurableContext,
    user_id: String,
    _index: usize,
    _ids: Arc<[String]>,
) -> Result<serde_json::Value, DurableError> {
    let uid = user_id.clone();
    let user = ctx
        .step(move |_s: StepContext| {
            let uid = uid.clone();
            async move {
                USER_STEP_RUNS.lock().unwrap().push(uid.clone());
                Ok::<_, String>(json!({"user_id": uid, "email": format!("{uid}@example.com")}))
            }
        })
        .name("fetch_user_data")
        .await?;
    let sent = ctx
        .step(move |_s: StepContext| {
            let email = user["email"].clone();
            async move { Ok::<_, String>(json!({"sent": true, "email": email})) }
        })
        .name("send_notification")
        .await?;
    Ok(json!({"user_id": user_id, "notification_sent": sent["sent"]}))
}

async fn users(_e: (), ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
    let ids: Vec<String> = vec!["user_1".into(), "user_2".into(), "user_3".into()];
    Ok(ctx.map(ids, process_user).await?.to_dict())
}

#[tokio::test]
async fn steps_inside_map_items_are_checkpointed_and_replayed() {
    let runner = DurableTestRunner::new(users);
    let first = runner.run_with_id("u", ()).await;
    let dict: serde_json::Value = first.result();
    assert_eq!(dict["all"][2]["result"]["user_id"], "user_3");
    assert_eq!(dict["all"][2]["result"]["notification_sent"], true);
    let map = first.get_map("process_user").unwrap();
    let item = map.children()[0];
    assert_eq!(item.record.sub_type.as_deref(), Some("MapIteration"));
    let steps = item.children();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].record.name.as_deref(), Some("fetch_user_data"));
    let runs = USER_STEP_RUNS.lock().unwrap().len();
    assert_eq!(runs, 3);

    // Simulate a crash before the map finished: drop its final record and two items' ones.
    let store = runner.store();
    let mut records = store.load_operations("u").unwrap();
    let map_rec = records
        .iter_mut()
        .find(|r| r.sub_type.as_deref() == Some("Map"))
        .unwrap();
    map_rec.status = OperationStatus::Started;
    map_rec.result = None;
    store.checkpoint("u", &map_rec.clone()).await.unwrap();
    for r in records
        .iter_mut()
        .filter(|r| r.sub_type.as_deref() == Some("MapIteration"))
        .skip(1)
    {
        r.status = OperationStatus::Started;
        r.result = None;
        store.checkpoint("u", &r.clone()).await.unwrap();
    }
    let again = runner.replay("u").await;
    assert_eq!(again.result::<serde_json::Value>(), dict);
    // Items 1 and 2 re-ran their functions, but their steps had finished: no step ran again.
    assert_eq!(USER_STEP_RUNS.lock().unwrap().len(), runs);
}

/// A codec writing item results as `n=<value>`.
struct Tagged;

impl Serdes<i64> for Tagged {
    fn serialize(&self, value: &i64) -> Result<String, String> {
        Ok(format!("n={value}"))
    }
    fn deserialize(&self, text: &str) -> Result<i64, String> {
        text.strip_prefix("n=")
            .ok_or_else(|| format!("not tagged: {text}"))?
            .parse()
            .map_err(|e| format!("{e}"))
    }
}

static TAGGED_RUNS: AtomicUsize = AtomicUsize::new(0);

async fn counted_square(
    ctx: DurableContext,
    item: i64,
    index: usize,
    items: Arc<[i64]>,
) -> Result<i64, DurableError> {
    TAGGED_RUNS.fetch_add(1, Ordering::SeqCst);
    square(ctx, item, index, items).await
}

async fn custom_codec(_e: (), ctx: DurableContext) -> Result<Vec<i64>, DurableError> {
    ctx.map(vec![2, 3], counted_square)
        .config(MapConfig {
            item_serdes: Some(Arc::new(Tagged)),
            ..Default::default()
        })
        .await?
        .into_result()
}

#[tokio::test]
async fn item_serdes_encodes_item_checkpoints_and_decodes_them_on_replay() {
    let runner = DurableTestRunner::new(custom_codec);
    let first = runner.run_with_id("s", ()).await;
    assert_eq!(first.result::<Vec<i64>>(), vec![4, 9]);
    let items: Vec<_> = first
        .operations
        .iter()
        .filter(|r| r.sub_type.as_deref() == Some("MapIteration"))
        .map(|r| r.result.clone().unwrap())
        .collect();
    assert!(items.contains(&"n=9".to_string()), "{items:?}");
    // Results in a custom encoding are the codec's to read: `durable check` leaves them be.
    let report = runner.store().check(Some("s")).unwrap();
    assert!(report.is_clean(), "{report:?}");
    // Replay the items (drop the map's own record first) through the codec.
    let store = runner.store();
    let mut map = first
        .operations
        .iter()
        .find(|r| r.sub_type.as_deref() == Some("Map"))
        .unwrap()
        .clone();
    map.status = OperationStatus::Started;
    map.result = None;
    store.checkpoint("s", &map).await.unwrap();
    let runs = TAGGED_RUNS.load(Ordering::SeqCst);
    assert_eq!(runner.replay("s").await.result::<Vec<i64>>(), vec![4, 9]);
    assert_eq!(TAGGED_RUNS.load(Ordering::SeqCst), runs);
}

async fn panicky(
    _ctx: DurableContext,
    item: u32,
    _i: usize,
    _all: Arc<[u32]>,
) -> Result<u32, String> {
    if item == 2 {
        panic!("item two is broken");
    }
    Ok(item)
}

async fn with_panic(_e: (), ctx: DurableContext) -> Result<usize, DurableError> {
    Ok(ctx
        .map(vec![1u32, 2, 3], panicky)
        .config(MapConfig {
            max_concurrency: Some(1),
            ..Default::default()
        })
        .await?
        .total_count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_item_fails_the_map_naming_the_item() {
    let result = DurableTestRunner::new(with_panic).run(()).await;
    assert_eq!(result.status(), InvocationStatus::Failed);
    let error = result.error().expect("an error");
    assert_eq!(error.error_type, "Panic", "{error}");
    assert!(
        error
            .error_message
            .contains("map item 1 panicked: item two is broken"),
        "{error}"
    );
}
