//! Durable execution benchmark on the SQLite store. Run with
//! `cargo run --release --example bench_durable [-- N [map]]` (N defaults to 100000; `map`
//! runs the map figure alone, e.g. under a profiler).
//!
//! Prints: checkpointed steps/s for an N-item map with one step per item (concurrent, group
//! commit), sequential steps/s, replay time of an execution with N finished steps, and end-to-end
//! times of the seed's `process_numbers` map (100 items) and a 10,000-item trivial map.

use orkestra::durable::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

async fn one_step(
    ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(item * 2) })
        .name("double")
        .await
}

async fn big_map(n: u64, ctx: DurableContext) -> Result<usize, DurableError> {
    let batch = ctx
        .map((0..n).collect::<Vec<u64>>(), one_step)
        .config(MapConfig {
            max_concurrency: Some(4096),
            ..Default::default()
        })
        .await?;
    Ok(batch.success_count())
}

async fn sequential(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let mut sum = 0;
    for i in 0..n {
        sum += ctx
            .step(move |_s: StepContext| async move { Ok::<_, String>(i) })
            .name("s")
            .await?;
    }
    Ok(sum)
}

async fn process_item(
    _ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<serde_json::Value, DurableError> {
    Ok(json!({"item": item, "squared": item * item}))
}

async fn process_numbers(n: u64, ctx: DurableContext) -> Result<serde_json::Value, DurableError> {
    let result = ctx
        .map((0..n).collect::<Vec<u64>>(), process_item)
        .name("process_numbers")
        .config(MapConfig {
            max_concurrency: Some(10),
            completion_config: CompletionConfig::all_successful(),
            ..Default::default()
        })
        .await?;
    Ok(result.to_dict())
}

async fn trivial(
    _ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    Ok(item)
}

async fn trivial_map(n: u64, ctx: DurableContext) -> Result<usize, DurableError> {
    Ok(ctx
        .map((0..n).collect::<Vec<u64>>(), trivial)
        .await?
        .success_count())
}

async fn reset(store: &SqliteStore, rec: &ExecutionRecord) {
    store
        .put_execution(ExecutionRecord {
            status: InvocationStatus::Running,
            result: None,
            ..rec.clone()
        })
        .await
        .expect("reset");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("orkestra-bench-{}", std::process::id()));
    let store = Arc::new(SqliteStore::open(dir.join("bench.db"))?);
    let exec = DurableExecutor::new(store.clone());

    // Five fresh executions of the map; the figure is their median.
    let mut rates = Vec::new();
    for run in 1..=5 {
        let t = Instant::now();
        let rec = exec
            .run(
                &format!("map-{run}"),
                "big_map",
                &handler_fn(big_map),
                json!(n),
            )
            .await?;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
        rates.push(n as f64 / secs);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "map of {n} items, one step each: median {:.0} checkpointed steps/s over 5 runs (min {:.0}, max {:.0})",
        rates[2], rates[0], rates[4]
    );

    if std::env::args().nth(2).as_deref() == Some("map") {
        drop(exec);
        let _ = std::fs::remove_dir_all(dir);
        return Ok(());
    }

    let seq = n;
    let t = Instant::now();
    let rec = exec
        .run("seq", "sequential", &handler_fn(sequential), json!(seq))
        .await?;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(rec.status, InvocationStatus::Succeeded);
    println!(
        "{seq} sequential steps: {secs:.3} s = {:.0} steps/s",
        seq as f64 / secs
    );

    // Replay: an execution with n finished steps (the map above: n steps + n items).
    reset(&store, &rec).await;
    let map_rec = store.get_execution("map-5")?.expect("map execution");
    reset(&store, &map_rec).await;
    let t = Instant::now();
    let loaded = store.load_operations("map-5")?.len();
    println!(
        "  (loading its {loaded} operation records alone: {:.3} s)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let again = exec
        .run("map-5", "big_map", &handler_fn(big_map), json!(n))
        .await?;
    println!(
        "replay of the {n}-step map execution (result over 256 KB: rebuilt from item records): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(again.result, map_rec.result);

    let t = Instant::now();
    let again = exec
        .run("seq", "sequential", &handler_fn(sequential), json!(seq))
        .await?;
    println!(
        "replay of {seq} finished sequential steps: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(again.result, rec.result);

    let t = Instant::now();
    let rec = exec
        .run(
            "pn",
            "process_numbers",
            &handler_fn(process_numbers),
            json!(100),
        )
        .await?;
    assert_eq!(rec.status, InvocationStatus::Succeeded);
    println!(
        "process_numbers (100 items, max_concurrency 10): {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let t = Instant::now();
    let rec = exec
        .run(
            "trivial",
            "trivial_map",
            &handler_fn(trivial_map),
            json!(10_000),
        )
        .await?;
    assert_eq!(rec.status, InvocationStatus::Succeeded);
    println!(
        "10,000-item trivial map: {:.3} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    drop(exec);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
