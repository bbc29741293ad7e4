//! Local engine throughput. Run with `cargo bench --bench engine`; prints figures, asserts nothing.
//!
//! - a chain of 1,000 trivial task states (state transitions per second);
//! - a map job over 1,000,000 trivial items with `max_concurrency = 256` (items per second), and
//!   the process's peak RSS afterwards, with the full (compact) history kept;
//! - reading back the full history of a 1,000,000-item map, with no failures and with 10 % of its
//!   items failing (captured with `capture_errors`): expansion must stay linear in the events.

use std::time::{Duration, Instant};

use orkestra::engine::EventKind;
use orkestra::{compose, Context, Engine, EngineConfig, ErrorName, Node, TaskDef, Workflow};
use serde_json::{json, Value};

#[compose]
fn increment(n: u64, _ctx: &Context) -> u64 {
    n + 1
}

#[compose(map, max_concurrency = 256)]
fn double_item(n: u64, _ctx: &Context) -> u64 {
    n * 2
}

#[compose(map, max_concurrency = 256)]
async fn double_item_async(n: u64, _ctx: &Context) -> u64 {
    n * 2
}

/// The failure of every tenth item.
#[derive(Debug, ErrorName)]
struct Tenth;

impl std::fmt::Display for Tenth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("every tenth item fails")
    }
}

#[compose(map, capture_errors, max_concurrency = 256)]
fn fail_every_tenth(n: u64, _ctx: &Context) -> Result<u64, Tenth> {
    if n.is_multiple_of(10) {
        Err(Tenth)
    } else {
        Ok(n)
    }
}

/// Runs `workflow` on a million items, then times reading back its full history.
fn history_readback(runtime: &tokio::runtime::Runtime, engine: &Engine, workflow: &Workflow) {
    let input = Value::Array((0..1_000_000u64).map(Value::from).collect());
    let execution = runtime.block_on(engine.run(workflow, input));
    assert!(execution.output.is_some(), "{} succeeded", workflow.name());
    let started = Instant::now();
    let (mut events, mut failed) = (0usize, 0usize);
    for event in execution.history.events() {
        events += 1;
        failed += usize::from(event.kind == EventKind::LambdaFunctionFailed);
    }
    let elapsed = started.elapsed();
    println!(
        "history read-back of {} ({} failed attempts): {} events in {:.1} ms",
        workflow.name(),
        failed,
        events,
        elapsed.as_secs_f64() * 1e3
    );
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    // Criterion-style arguments (`--bench`) are ignored.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::new(EngineConfig {
        payload_limit: None,
        ..EngineConfig::default()
    });

    let chain = Workflow::from_node(
        "chain_1000",
        Node::Chain(vec![Node::task(increment::spec()); 1000]),
    );
    let samples: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            let execution = runtime.block_on(engine.run(&chain, json!(0)));
            let elapsed = started.elapsed();
            assert_eq!(execution.output, Some(json!(1000)));
            elapsed
        })
        .collect();
    let per_run = median(samples);
    println!(
        "chain of 1,000 tasks: median {:.3} ms per execution, {:.0} state transitions/s",
        per_run.as_secs_f64() * 1e3,
        1000.0 / per_run.as_secs_f64()
    );

    let map = Workflow::new("map_1m", double_item {});
    let items: Vec<Value> = (0..1_000_000u64).map(Value::from).collect();
    let input = Value::Array(items);
    let started = Instant::now();
    let execution = runtime.block_on(engine.run(&map, input));
    let elapsed = started.elapsed();
    let output = execution.output.as_ref().expect("map succeeded");
    assert_eq!(output[999_999], json!(1_999_998));
    println!(
        "map of 1,000,000 items (max_concurrency 256): {:.1} ms, {:.0} items/s",
        elapsed.as_secs_f64() * 1e3,
        1_000_000.0 / elapsed.as_secs_f64()
    );
    println!(
        "  history kept: {} MapIterationSucceeded events from {:.1} MB of compact records",
        execution.history.count(EventKind::MapIterationSucceeded),
        execution.history.compact_size() as f64 / 1e6
    );
    match peak_rss_mb() {
        Some(mb) => println!("  peak RSS of the process so far: {mb:.0} MB"),
        None => println!("  peak RSS: unavailable (no /proc)"),
    }
    drop(execution);

    // The same map with an async task: each item is a future, at most 256 in flight.
    let map = Workflow::new("map_1m_async", double_item_async {});
    let input = Value::Array((0..1_000_000u64).map(Value::from).collect());
    let started = Instant::now();
    let execution = runtime.block_on(engine.run(&map, input));
    let elapsed = started.elapsed();
    assert_eq!(
        execution.output.as_ref().unwrap()[999_999],
        json!(1_999_998)
    );
    println!(
        "async map of 1,000,000 items (max_concurrency 256): {:.1} ms, {:.0} items/s",
        elapsed.as_secs_f64() * 1e3,
        1_000_000.0 / elapsed.as_secs_f64()
    );
    if let Some(mb) = peak_rss_mb() {
        println!("  peak RSS of the process after both maps: {mb:.0} MB");
    }

    drop(execution);

    history_readback(&runtime, &engine, &Workflow::new("map_1m", double_item {}));
    history_readback(
        &runtime,
        &engine,
        &Workflow::new("map_1m_10pct_failures", fail_every_tenth {}),
    );
}
