//! Wake-up benchmark on the SQLite store. Run with
//! `cargo run --release --example bench_durable_wake [-- N]` (N defaults to 10000).
//!
//! Prints: how long it takes to start N executions that each suspend in a wait ending at the
//! same second; the time from that second until a `Worker` has run all N to their end; and
//! the suspend + wake round trip of one execution (the run that suspends, and the worker run
//! that wakes it once due), median of 200.

use orkestra::durable::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits until `until_ms` (milliseconds since the epoch), then ends.
async fn wait_until(until_ms: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let left = until_ms.saturating_sub(ctx.now_ms());
    ctx.wait(Duration::from_millis(left)).await?;
    Ok(until_ms)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("orkestra-bench-wake-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn CheckpointStore> =
        Arc::new(SqliteStore::open(dir.join("wake.db")).expect("store"));
    println!("store: {}", dir.join("wake.db").display());
    let handler: Arc<dyn DurableHandler> = Arc::new(handler_fn(wait_until));
    let executor = DurableExecutor::new(store.clone()).hold(Duration::ZERO);

    // N executions, all due at the same second (rounded up, well after starting them).
    let target = (ExecutionRecord::now_ms() / 1000 + 30) * 1000;
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (executor, handler) = (executor.clone(), handler.clone());
        set.spawn(async move {
            let id = format!("w{i}");
            let rec = executor
                .run(&id, "wait_until", handler.as_ref(), target.into())
                .await
                .expect("start");
            assert_eq!(rec.status, InvocationStatus::Running, "{id} suspended");
        });
        while set.len() >= 256 {
            set.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let started = t.elapsed();
    println!(
        "started {n} executions that suspend: {:.2} s ({:.0}/s)",
        started.as_secs_f64(),
        n as f64 / started.as_secs_f64()
    );
    let left = target.saturating_sub(ExecutionRecord::now_ms());
    assert!(
        left > 0,
        "starting took past the due second: raise the margin"
    );
    tokio::time::sleep(Duration::from_millis(left)).await;
    let due = Instant::now();
    let worker = Worker::new(store.clone())
        .handler("wait_until", handler.clone())
        .concurrency(256)
        .poll_interval(Duration::from_millis(5));
    let report = worker.run_once().await.expect("worker");
    let all = due.elapsed();
    assert_eq!(report.finished, n, "{report:?}");
    println!(
        "woke {n} executions due in the same second: all finished {:.2} s after it ({:.0}/s)",
        all.as_secs_f64(),
        n as f64 / all.as_secs_f64()
    );

    // Suspend + wake round trip of one execution.
    let (mut suspend, mut wake) = (Vec::new(), Vec::new());
    let single = Worker::new(store.clone())
        .handler("wait_until", handler.clone())
        .concurrency(1);
    for i in 0..200 {
        let until = ExecutionRecord::now_ms() + 20;
        let t = Instant::now();
        let rec = executor
            .run(
                &format!("rt{i}"),
                "wait_until",
                handler.as_ref(),
                until.into(),
            )
            .await
            .expect("run");
        suspend.push(t.elapsed());
        assert_eq!(rec.status, InvocationStatus::Running);
        tokio::time::sleep(Duration::from_millis(
            until.saturating_sub(ExecutionRecord::now_ms()) + 1,
        ))
        .await;
        let t = Instant::now();
        assert_eq!(single.run_once().await.expect("wake").finished, 1);
        wake.push(t.elapsed());
    }
    let (s, w) = (median(suspend), median(wake));
    println!(
        "round trip, median of 200: suspend {:.2} ms + wake-up run {:.2} ms = {:.2} ms",
        s.as_secs_f64() * 1e3,
        w.as_secs_f64() * 1e3,
        (s + w).as_secs_f64() * 1e3
    );
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}
