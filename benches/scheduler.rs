//! Scheduler throughput on the embedded SQLite queue. Run with `cargo bench --bench
//! scheduler`; prints figures, asserts nothing.
//!
//! - chunking: a job cut into 20,000 payloads;
//! - queueing: tasks queued per second (batches of 1,000 per transaction);
//! - dispatch: a no-op labourer drained at 1 and at 64 invocations at once; the time per task
//!   is the dispatcher's overhead (claim, invoke, archive, audit).

use std::sync::Arc;
use std::time::Instant;

use orkestra::scheduler::chunk::chunk_job;
use orkestra::scheduler::config::SchedulerConfig;
use orkestra::scheduler::dates::parse_date;
use orkestra::scheduler::dispatch::{DispatchOptions, Dispatcher};
use orkestra::scheduler::sqlite::SqliteQueue;
use orkestra::{compose, Context};
use serde_json::Value;

const TASKS: usize = 20_000;

/// Does nothing: what is measured is the dispatcher around it.
#[compose]
pub async fn noop_labourer(event: Value, _ctx: &Context) -> Value {
    event
}

fn config(limit: u32) -> SchedulerConfig {
    SchedulerConfig::parse(&format!(
        r#"{{"job_schema_variants":{{"default":{{"chunkable_attrs":["store"]}}}},
            "labourers":{{"noop_labourer":{{"max_simultaneous_invocations":{limit}}}}}}}"#
    ))
    .unwrap()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("orkestra-bench-scheduler-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let stores: Vec<usize> = (0..TASKS).collect();
    let job =
        serde_json::json!({"labourer": "noop_labourer", "isolate_stores": true, "stores": stores});
    for limit in [1u32, 64] {
        let config = config(limit);
        let started = Instant::now();
        let chunked = chunk_job(
            &job.to_string(),
            &config.job_schema_variants,
            parse_date("2024-06-12").unwrap(),
        )
        .unwrap();
        let chunk_secs = started.elapsed().as_secs_f64();

        let queue = Arc::new(SqliteQueue::open(dir.join(format!("limit-{limit}.db"))).unwrap());
        let started = Instant::now();
        let report = orkestra::scheduler::submit(&*queue, &chunked, |_| {}).unwrap();
        let queue_secs = started.elapsed().as_secs_f64();
        assert_eq!(report.queued as usize, TASKS);

        let started = Instant::now();
        let registry = orkestra::Registry::global().unwrap();
        let drained = rt
            .block_on(
                Dispatcher::new(queue, registry, config, DispatchOptions::default()).run(None),
            )
            .unwrap();
        let drain_secs = started.elapsed().as_secs_f64();
        assert_eq!(drained.completed as usize, TASKS);
        if limit == 1 {
            println!(
                "chunking:  {TASKS} payloads in {chunk_secs:.3} s ({:.0}/s)",
                TASKS as f64 / chunk_secs
            );
            println!(
                "queueing:  {TASKS} tasks in {queue_secs:.3} s ({:.0} tasks/s)",
                TASKS as f64 / queue_secs
            );
        }
        println!(
            "dispatch (max_simultaneous_invocations = {limit:>2}): {TASKS} no-op tasks in {drain_secs:.3} s ({:.0} tasks/s, {:.0} µs per task)",
            TASKS as f64 / drain_secs,
            drain_secs * 1e6 / TASKS as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
