//! The scheduler on one machine: a labourer task, a job chunked into a few thousand tasks,
//! queued in a SQLite file and drained by the local dispatcher.
//!
//! ```text
//! cargo run --example scheduler                  # submits a 2,800-task job and drains it
//! cargo run --example scheduler -- schedule plan examples/scheduler/report_job.json \
//!     --today 2024-06-12 --config examples/scheduler/scheduler.json      # the 10 payloads
//! cargo run --example scheduler -- schedule submit examples/scheduler/report_job.json \
//!     --config examples/scheduler/scheduler.json
//! cargo run --example scheduler -- schedule work --config examples/scheduler/scheduler.json
//! cargo run --example scheduler -- schedule status
//! ```
//!
//! Built with `--features aws`, the same binary is the labourer's Lambda function
//! (`_HANDLER=report_worker`) and the orchestrator's (`_HANDLER=orkestra-scheduler`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orkestra::scheduler::chunk::chunk_job;
use orkestra::scheduler::config::SchedulerConfig;
use orkestra::scheduler::dates::today_utc;
use orkestra::scheduler::dispatch::{DispatchOptions, Dispatcher};
use orkestra::scheduler::sqlite::SqliteQueue;
use orkestra::scheduler::store::QueueStore;
use orkestra::{compose, Context, ErrorName};
use serde_json::{json, Value};

/// A report could not be built.
#[derive(Debug, ErrorName)]
pub struct NoSections;

impl std::fmt::Display for NoSections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the task names no section")
    }
}

/// Builds one chunk of the daily report: one row per (date, section, store, product) named.
/// Its output says when it ran (epoch ms), so tests can see how many ran at once.
#[compose(max_simultaneous_invocations = 16, max_attempts = 3)]
pub async fn report_worker(task: Value, ctx: &Context) -> Result<Value, NoSections> {
    let started_ms = epoch_ms();
    let count = |key: &str| task[key].as_array().map_or(1, Vec::len);
    if task.get("sections").is_none() {
        return Err(NoSections);
    }
    // Stands in for the I/O of a real report: a short wait (`work_ms`, default 2), not CPU.
    let work_ms = task["work_ms"].as_u64().unwrap_or(2);
    tokio::time::sleep(Duration::from_millis(work_ms)).await;
    let rows = count("date_list") * count("sections") * count("stores") * count("products");
    Ok(
        json!({"task": ctx.execution_id(), "rows": rows, "started_ms": started_ms, "ended_ms": epoch_ms()}),
    )
}

fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn main() -> ExitCode {
    // With arguments, or inside Lambda (feature `lambda`): the binary's command line / handler.
    if std::env::args().len() > 1 || std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return orkestra::main();
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(demo()) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// 7 days × 20 sections × 20 stores, every level isolated: 2,800 tasks.
async fn demo() -> Result<Value, Box<dyn std::error::Error>> {
    let sections: serde_json::Map<String, Value> = (0..20)
        .map(|s| {
            let stores: Vec<String> = (0..20).map(|t| format!("store-{s}-{t}")).collect();
            (
                format!("section-{s}"),
                json!({"isolate_stores": true, "stores": stores}),
            )
        })
        .collect();
    let job = json!({"labourer": "report_worker", "period": "last_7_days", "isolate_days": true,
        "isolate_sections": true, "report_type": "daily", "sections": sections});
    let config = SchedulerConfig::parse(
        r#"{"job_schema_variants":{"default":{"chunkable_attrs":["section","store","product"]}}}"#,
    )?;
    let chunked = chunk_job(&job.to_string(), &config.job_schema_variants, today_utc())?;

    let dir =
        std::env::temp_dir().join(format!("orkestra-scheduler-example-{}", std::process::id()));
    let queue = Arc::new(SqliteQueue::open(dir.join("orkestra.db"))?);
    let started = Instant::now();
    let submitted = orkestra::scheduler::submit(&*queue, &chunked, |_| {})?;
    let queue_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let registry = orkestra::Registry::global()?;
    let report = Dispatcher::new(queue.clone(), registry, config, DispatchOptions::default())
        .run(None)
        .await?;
    let drain_secs = started.elapsed().as_secs_f64();
    let counts = queue.counts()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "tasks": chunked.payloads.len(),
        "queued": submitted.queued,
        "queued_per_sec": (submitted.queued as f64 / queue_secs).round(),
        "completed": report.completed,
        "dead": report.dead,
        "drain_secs": (drain_secs * 100.0).round() / 100.0,
        "labourers": counts,
    }))
}
