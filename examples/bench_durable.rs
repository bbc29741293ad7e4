//! Durable execution benchmark on the SQLite store. Run with
//! `cargo run --release --example bench_durable [-- N [map]]` (N defaults to 100000; `map`
//! runs the map figures alone, e.g. under a profiler). The store goes to a fresh directory under
//! `$ORKESTRA_BENCH_DIR` (default: the system temp directory); `ORKESTRA_BENCH_SYNC=full` opens
//! it with `synchronous=FULL` instead of `NORMAL`.
//!
//! Prints the conditions first (the store's path and file system, the synchronous mode, the
//! cores and the load average), then: checkpointed steps/s for an N-item map with one step per
//! item at `max_concurrency` 10 and 4096, and N sequential steps (each the median of five fresh
//! executions, with the load average after them), replay time of an execution with N finished
//! steps, and end-to-end times of the seed's `process_numbers` map (100 items) and a
//! 10,000-item trivial map.

use orkestra::durable::*;
use serde_json::json;
use std::path::Path;
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

async fn big_map(
    (n, concurrency): (u64, usize),
    ctx: DurableContext,
) -> Result<usize, DurableError> {
    let batch = ctx
        .map((0..n).collect::<Vec<u64>>(), one_step)
        .config(MapConfig {
            max_concurrency: Some(concurrency),
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

/// The system's load averages (1, 5, 15 minutes), as `/proc/loadavg` gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The file system `path` is on: the type and device of its longest mount point in
/// `/proc/mounts`.
fn file_system(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1])).then(|| (f[1].len(), f[2], f[0], f[1]))
        })
        .max_by_key(|m| m.0)
        .map(|(_, fs, dev, at)| format!("{fs} ({dev} on {at})"))
        .unwrap_or_else(|| "unknown".into())
}

/// CPU seconds (user + system) the process and its checkpoint writer thread have used, from
/// `/proc/self/task/*/stat` (zero where that is not available).
fn cpu_seconds() -> (f64, f64) {
    let tick = 100.0; // USER_HZ on Linux
    let (mut all, mut writer) = (0.0, 0.0);
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let secs = (f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0))
            / tick;
        all += secs;
        if head.contains("orkestra-checkp") {
            writer += secs;
        }
    }
    (all, writer)
}

/// One measured execution: its rate, and the CPU time it took (whole process, writer thread).
struct Run {
    rate: f64,
    cpu: f64,
    writer_cpu: f64,
}

/// Runs `f` (one execution of `n` steps) and measures it.
async fn measure<Fut: std::future::Future<Output = ()>>(n: u64, f: impl FnOnce() -> Fut) -> Run {
    let (cpu0, writer0) = cpu_seconds();
    let t = Instant::now();
    f().await;
    let secs = t.elapsed().as_secs_f64();
    let (cpu1, writer1) = cpu_seconds();
    Run {
        rate: n as f64 / secs,
        cpu: cpu1 - cpu0,
        writer_cpu: writer1 - writer0,
    }
}

/// Median, min and max of the runs' rates, the median CPU time per run and what the writer
/// thread's CPU time alone would allow (the bound on an idle machine), and the load average.
fn summary(n: u64, mut runs: Vec<Run>) -> String {
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let rates: Vec<f64> = runs.iter().map(|r| r.rate).collect();
    let mut cpu: Vec<f64> = runs.iter().map(|r| r.cpu).collect();
    let mut writer: Vec<f64> = runs.iter().map(|r| r.writer_cpu).collect();
    cpu.sort_by(f64::total_cmp);
    writer.sort_by(f64::total_cmp);
    let m = runs.len() / 2;
    format!(
        "median {:.0} steps/s over {} runs (min {:.0}, max {:.0}); CPU per run {:.2} s, \
         writer thread {:.2} s (= {:.0} steps per writer CPU second); load average {}",
        rates[m],
        runs.len(),
        rates[0],
        rates[rates.len() - 1],
        cpu[m],
        writer[m],
        n as f64 / writer[m].max(1e-9),
        load_average()
    )
}

const RUNS: usize = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let base = std::env::var_os("ORKESTRA_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("orkestra-bench-{}", std::process::id()));
    let sync = match std::env::var("ORKESTRA_BENCH_SYNC").as_deref() {
        Ok("full" | "FULL") => Synchronous::Full,
        _ => Synchronous::Normal,
    };
    let db = dir.join("bench.db");
    let store = Arc::new(SqliteStore::open_with(&db, sync)?);
    println!("store: {}", db.display());
    println!("file system: {}", file_system(&dir));
    println!("synchronous={} (journal_mode=WAL)", sync.as_str());
    println!(
        "cores: {}; load average at start: {}",
        std::thread::available_parallelism().map_or(0, |c| c.get()),
        load_average()
    );
    let exec = DurableExecutor::new(store.clone());

    // Five fresh executions of the map per concurrency; the figure is their median.
    for concurrency in [10usize, 4096] {
        let mut runs = Vec::new();
        for run in 1..=RUNS {
            let exec = &exec;
            runs.push(
                measure(n, || async move {
                    let rec = exec
                        .run(
                            &format!("map-{concurrency}-{run}"),
                            "big_map",
                            &handler_fn(big_map),
                            json!([n, concurrency]),
                        )
                        .await
                        .expect("map execution");
                    assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
                })
                .await,
            );
        }
        println!(
            "map of {n} items, one step each, max_concurrency {concurrency}: {}",
            summary(n, runs)
        );
    }

    if std::env::args().nth(2).as_deref() == Some("map") {
        drop(exec);
        let _ = std::fs::remove_dir_all(dir);
        return Ok(());
    }

    let seq = n;
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        let exec = &exec;
        runs.push(
            measure(seq, || async move {
                let r = exec
                    .run(
                        &format!("seq-{run}"),
                        "sequential",
                        &handler_fn(sequential),
                        json!(seq),
                    )
                    .await
                    .expect("sequential execution");
                assert_eq!(r.status, InvocationStatus::Succeeded, "{:?}", r.error);
            })
            .await,
        );
    }
    let rec = store
        .get_execution(&format!("seq-{RUNS}"))?
        .expect("sequential execution");
    println!("{seq} sequential steps: {}", summary(seq, runs));

    // Replay: an execution with n finished steps (the map above: n steps + n items).
    reset(&store, &rec).await;
    let map_rec = store
        .get_execution(&format!("map-4096-{RUNS}"))?
        .expect("map execution");
    reset(&store, &map_rec).await;
    let t = Instant::now();
    let loaded = store.load_operations(&map_rec.id)?.len();
    println!(
        "  (loading its {loaded} operation records alone: {:.3} s)",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let again = exec
        .run(
            &map_rec.id,
            "big_map",
            &handler_fn(big_map),
            json!([n, 4096]),
        )
        .await?;
    println!(
        "replay of the {n}-step map execution (result over 256 KB: rebuilt from item records): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(again.result, map_rec.result);

    let t = Instant::now();
    let again = exec
        .run(&rec.id, "sequential", &handler_fn(sequential), json!(seq))
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
