//! State data throughput on the embedded SQLite store. Run with `cargo bench --bench
//! state_data`; prints figures, asserts nothing.
//!
//! For items of 1 KB and 1 MB, through the task-facing client (`ctx.state_data()`, JSON in and
//! out): one `put_item` after another, one `get_item` after another, the same reads from 16
//! tasks at once, and (1 KB) a whole list with `put_items` / `get_items`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orkestra::state_data::SqliteStateStore;
use orkestra::Context;

fn report(what: &str, count: usize, bytes: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what:<44} {count:>6} items in {:>8.3} s: {:>10.0} items/s, {:>8.1} MB/s",
        secs,
        count as f64 / secs,
        (count * bytes) as f64 / secs / 1e6
    );
}

async fn bench(store: Arc<SqliteStateStore>, item_bytes: usize, count: usize, label: &str) {
    let ctx = Context::new(format!("bench-{label}"), "bench", "bench").with_state_store(store);
    let client = ctx.state_data();
    let value = "x".repeat(item_bytes - 2); // a JSON string of `item_bytes` bytes

    let started = Instant::now();
    for index in 0..count {
        client
            .put_item("items", &value, Some(index as u64))
            .await
            .unwrap();
    }
    report(
        &format!("put_item, {label}, one after another"),
        count,
        item_bytes,
        started.elapsed(),
    );

    let started = Instant::now();
    for index in 0..count {
        let read: String = client.get_item("items", Some(index as u64)).await.unwrap();
        assert_eq!(read.len(), item_bytes - 2);
    }
    report(
        &format!("get_item, {label}, one after another"),
        count,
        item_bytes,
        started.elapsed(),
    );

    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|lane| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                for index in (lane..count).step_by(16) {
                    let read: String = ctx
                        .state_data()
                        .get_item("items", Some(index as u64))
                        .await
                        .unwrap();
                    assert_eq!(read.len(), item_bytes - 2);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    report(
        &format!("get_item, {label}, 16 tasks at once"),
        count,
        item_bytes,
        started.elapsed(),
    );

    if item_bytes <= 1024 {
        let list = vec![value.clone(); count];
        let started = Instant::now();
        client.put_items("list", &list).await.unwrap();
        report(
            &format!("put_items, {label}, one list"),
            count,
            item_bytes,
            started.elapsed(),
        );
        let started = Instant::now();
        let back: Vec<String> = client.get_items("list").await.unwrap();
        assert_eq!(back.len(), count);
        report(
            &format!("get_items, {label}, one list"),
            count,
            item_bytes,
            started.elapsed(),
        );
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("orkestra-bench-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(SqliteStateStore::open(dir.join("bench.db")).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("state data on SQLite ({}):", dir.join("bench.db").display());
    rt.block_on(bench(store.clone(), 1024, 10_000, "1 KB"));
    rt.block_on(bench(store, 1024 * 1024, 100, "1 MB"));
    let _ = std::fs::remove_dir_all(&dir);
}
