//! Crash test with real processes: a child process (this test binary re-executed with
//! `ORKESTRA_CRASH_CHILD` set) runs a 10,000-item durable map on the SQLite store, each item
//! an at-most-once step that appends `index attempt` to a log file. The parent SIGKILLs it at
//! 20+ seeded random moments, restarts it each time, and then checks the outcome.

use orkestra::durable::*;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/child_process.rs"]
mod child_process;
use child_process::{child_runtime, crash_seed, is_child, run_then_kill, self_as_child};

/// Set in the child process.
const CHILD: &str = "ORKESTRA_CRASH_CHILD";

const ITEMS: u64 = 10_000;
const KILLS: usize = 20;

async fn item(
    ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    let log = std::env::var("ORKESTRA_CRASH_LOG").expect("log path");
    ctx.step(move |s: StepContext| {
        let log = log.clone();
        async move {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            // One write per line: O_APPEND keeps lines whole across processes.
            f.write_all(format!("{item} {}\n", s.attempt()).as_bytes())?;
            Ok::<_, std::io::Error>(item * 2)
        }
    })
    .name("record")
    .semantics(StepSemantics::AtMostOncePerRetry)
    .retry(RetryStrategy::immediate(1_000))
    .await
}

async fn crash_handler(n: u64, ctx: DurableContext) -> Result<BatchResult<u64>, DurableError> {
    ctx.map((0..n).collect::<Vec<u64>>(), item)
        .name("crash-map")
        .config(MapConfig {
            max_concurrency: Some(64),
            ..Default::default()
        })
        .await
}

/// The child's entry point: does nothing unless `ORKESTRA_CRASH_CHILD` is set.
#[test]
fn crash_child_entry() {
    if !is_child(CHILD) {
        return;
    }
    child_runtime().block_on(async {
        let store = Arc::new(SqliteStore::open_default().expect("store"));
        let rec = DurableExecutor::new(store)
            .run(
                "crash",
                "crash_handler",
                &handler_fn(crash_handler),
                ITEMS.into(),
            )
            .await
            .expect("execution");
        assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
    });
}

fn child(db: &Path, log: &Path) -> Command {
    let mut cmd = self_as_child("crash_child_entry", CHILD, "1");
    cmd.env("ORKESTRA_DB", db).env("ORKESTRA_CRASH_LOG", log);
    cmd
}

fn log_lines(log: &Path) -> Vec<(u64, u32)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (i, a) = l.split_once(' ').expect("index attempt");
            (i.parse().unwrap(), a.parse().unwrap())
        })
        .collect()
}

/// Items whose step's SUCCEEDED checkpoint is durable in the store right now.
fn durable_finished(db: &Path) -> HashSet<u64> {
    let store = SqliteStore::open(db).unwrap();
    store
        .load_operations("crash")
        .unwrap()
        .into_iter()
        .filter(|r| r.op_type == OperationType::Step && r.status == OperationStatus::Succeeded)
        .map(|r| serde_json::from_str::<u64>(r.result.as_deref().unwrap()).unwrap() / 2)
        .collect()
}

fn result_of(db: &Path) -> BatchResult<u64> {
    let store = SqliteStore::open(db).unwrap();
    let rec = store
        .get_execution("crash")
        .unwrap()
        .expect("execution exists");
    assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
    serde_json::from_str(rec.result.as_deref().unwrap()).unwrap()
}

#[test]
fn sigkilled_durable_map_resumes_to_the_uninterrupted_result() {
    if is_child(CHILD) {
        return;
    }
    let seed = crash_seed();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("orkestra-crash-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The reference: one uninterrupted run.
    let (ref_db, ref_log) = (dir.join("ref.db"), dir.join("ref.log"));
    let started = std::time::Instant::now();
    assert!(child(&ref_db, &ref_log).status().unwrap().success());
    // Kill moments are drawn relative to how long an uninterrupted run takes here, so that
    // 20 kills land before the map can finish.
    let full_ms = started.elapsed().as_millis() as u64;
    let (lo, hi) = ((full_ms / 80).max(2), (full_ms / 8).max(4));
    let reference = result_of(&ref_db);
    assert_eq!(reference.success_count() as u64, ITEMS);

    let (db, log) = (dir.join("crash.db"), dir.join("crash.log"));
    // (log length, items durably finished) at each kill.
    let mut snapshots: Vec<(usize, HashSet<u64>)> = Vec::new();
    let mut kills = 0;
    while kills < KILLS {
        let life = Duration::from_millis(rng.random_range(lo..hi));
        if !run_then_kill(&mut child(&db, &log), life) {
            break; // finished before we could kill it
        }
        kills += 1;
        snapshots.push((log_lines(&log).len(), durable_finished(&db)));
    }
    eprintln!(
        "seed {seed}: {kills} kills; items durably finished at each kill: {:?}",
        snapshots.iter().map(|(_, f)| f.len()).collect::<Vec<_>>()
    );
    let status = child(&db, &log).status().unwrap();
    assert!(status.success(), "the final run completes");
    assert!(
        kills >= KILLS,
        "only {kills} kills happened before the map finished"
    );

    // 1. Same BatchResult as the uninterrupted run.
    assert_eq!(result_of(&db), reference);

    // 2. At most once per (item, attempt).
    let lines = log_lines(&log);
    let mut seen: HashMap<(u64, u32), usize> = HashMap::new();
    for l in &lines {
        *seen.entry(*l).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "at-most-once violated: {dupes:?}");
    let items: HashSet<u64> = lines.iter().map(|l| l.0).collect();
    assert_eq!(items.len() as u64, ITEMS, "every item ran");

    // 3. No item ran again after its checkpoint was durable.
    for (offset, finished) in &snapshots {
        for (index, attempt) in &lines[*offset..] {
            assert!(
                !finished.contains(index),
                "item {index} ran again (attempt {attempt}) after its result was durable"
            );
        }
    }
    // The kills really interrupted work: later runs had some at-most-once retries or resumed.
    assert!(snapshots
        .iter()
        .any(|(_, f)| !f.is_empty() && (f.len() as u64) < ITEMS));
    let _ = std::fs::remove_dir_all(&dir);
}
