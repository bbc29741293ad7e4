//! FLAT nesting: map items and parallel branches in virtual contexts. No record per item; the
//! items' operations record the map as their parent, keep distinct ids, and replay.

use orkestra::durable::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

static RUNS: AtomicU32 = AtomicU32::new(0);

async fn shout(
    ctx: DurableContext,
    item: String,
    _i: usize,
    _all: Arc<[String]>,
) -> Result<String, DurableError> {
    ctx.step(move |_s: StepContext| {
        let item = item.clone();
        async move {
            RUNS.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(item.to_uppercase())
        }
    })
    .name("shout")
    .await
}

async fn flat_map(items: Vec<String>, ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let out = ctx
        .map(items, shout)
        .name("flat")
        .nesting(Nesting::Flat)
        .await?
        .into_result()?;
    // A wait after the map: the run suspends and replays the map from its record.
    ctx.wait(Duration::from_secs(30)).await?;
    Ok(out)
}

#[tokio::test]
async fn flat_items_record_only_their_operations_under_the_map() {
    let runner = DurableTestRunner::new(flat_map);
    let result = runner
        .run(vec!["a".to_string(), "b".to_string(), "c".to_string()])
        .await;
    assert_eq!(result.status(), InvocationStatus::Succeeded);
    assert_eq!(result.result::<Vec<String>>(), vec!["A", "B", "C"]);
    let map = result.get_map("flat").expect("the map's record");
    let map_id = map.record.id.clone();
    let iterations = result
        .operations
        .iter()
        .filter(|r| r.sub_type.as_deref() == Some("MapIteration"))
        .count();
    assert_eq!(iterations, 0, "FLAT items have no context records");
    let steps: Vec<&OperationRecord> = result
        .operations
        .iter()
        .filter(|r| r.op_type == OperationType::Step)
        .collect();
    assert_eq!(steps.len(), 3);
    assert!(steps
        .iter()
        .all(|s| s.parent_id.as_deref() == Some(map_id.as_str())));
    let ids: std::collections::HashSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "each virtual item keeps its own id namespace");
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        3,
        "the suspension's replay ran no step again"
    );
}

async fn flat_parallel(_: (), ctx: DurableContext) -> Result<Vec<String>, DurableError> {
    let step = |v: &'static str| {
        branch(move |c: DurableContext| async move {
            c.step(move |_s: StepContext| async move { Ok::<_, String>(v.to_string()) })
                .await
        })
    };
    let config = ParallelConfig {
        max_concurrency: Some(1),
        nesting: Nesting::Flat,
        ..Default::default()
    };
    ctx.parallel(Some("both"), vec![step("x"), step("y")], config)
        .await?
        .into_result()
}

#[tokio::test]
async fn flat_branches_have_no_branch_records() {
    let result = DurableTestRunner::new(flat_parallel).run(()).await;
    assert_eq!(result.result::<Vec<String>>(), vec!["x", "y"]);
    assert!(result
        .operations
        .iter()
        .all(|r| r.sub_type.as_deref() != Some("ParallelBranch")));
    let parallel = result.get_context("both").expect("the parallel's record");
    let under: Vec<_> = result
        .operations
        .iter()
        .filter(|r| r.parent_id.as_deref() == Some(parallel.record.id.as_str()))
        .collect();
    assert_eq!(under.len(), 2);
}

async fn zero(_: (), ctx: DurableContext) -> Result<Vec<u32>, DurableError> {
    let id =
        |_c: DurableContext, v: u32, _i: usize, _a: Arc<[u32]>| async move { Ok::<_, String>(v) };
    ctx.map(vec![1u32, 2], id)
        .config(MapConfig {
            max_concurrency: Some(0),
            ..Default::default()
        })
        .await?
        .into_result()
}

#[tokio::test]
async fn max_concurrency_zero_is_refused_before_anything_is_recorded() {
    let result = DurableTestRunner::new(zero).run(()).await;
    assert_eq!(result.status(), InvocationStatus::Failed);
    let error = result.error().unwrap();
    assert!(error.error_message.contains("max_concurrency 0"), "{error}");
    assert!(result.operations.is_empty());
}
