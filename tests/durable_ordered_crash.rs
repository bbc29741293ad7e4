//! Crash test of the ordered log with real processes: an at-least-once step's result and a map
//! item's completion are not awaited, so most writes of this handler are in flight when the
//! child process (this test binary re-executed with `ORKESTRA_ORDERED_CHILD` set) is
//! SIGKILLed. The handler runs 20,000 sequential at-least-once steps with an at-most-once step
//! (a barrier) after every 500th, then a 5,000-item map of at-least-once steps and one more
//! at-most-once step. The at-most-once steps append a line to a log file when their body runs.
//!
//! Kills are drawn over the whole execution by the number of rows the log holds. Checked at
//! every kill: each barrier whose body ran found every write before it durable.
//! Checked at the end: the result equals an uninterrupted run's, every at-most-once step ran
//! at most once per attempt, and every map item has exactly one completion row in the log
//! table.

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
use child_process::{child_runtime, crash_seed, is_child, kill_unless_finished, self_as_child};

/// Set in the child process.
const CHILD: &str = "ORKESTRA_ORDERED_CHILD";

const SEQUENTIAL: u64 = 20_000;
const BARRIER_EVERY: u64 = 500;
const ITEMS: u64 = 5_000;
const KILLS: usize = 20;

/// An at-most-once step that appends `line attempt` to the log when its body runs.
async fn barrier(ctx: &DurableContext, name: String, line: String) -> Result<(), DurableError> {
    let log = std::env::var("ORKESTRA_ORDERED_LOG").expect("log path");
    ctx.step(move |s: StepContext| {
        let (log, line) = (log.clone(), line.clone());
        async move {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            // One write per line: O_APPEND keeps lines whole across processes.
            f.write_all(format!("{line} {}\n", s.attempt()).as_bytes())?;
            Ok::<_, std::io::Error>(())
        }
    })
    .name(name)
    .semantics(StepSemantics::AtMostOncePerRetry)
    .retry(RetryStrategy::immediate(1_000))
    .await
}

async fn triple(
    ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    ctx.step(move |_s: StepContext| async move { Ok::<_, String>(item * 3) })
        .name("triple")
        .await
}

async fn burst(_event: (), ctx: DurableContext) -> Result<u64, DurableError> {
    let mut sum = 0;
    for i in 0..SEQUENTIAL {
        sum += ctx
            .step(move |_s: StepContext| async move { Ok::<_, String>(i) })
            .name(format!("a{i}"))
            .await?;
        if i % BARRIER_EVERY == BARRIER_EVERY - 1 {
            barrier(&ctx, format!("m{i}"), format!("seq {i}")).await?;
        }
    }
    let batch = ctx
        .map((0..ITEMS).collect::<Vec<u64>>(), triple)
        .name("items")
        .config(MapConfig {
            max_concurrency: Some(64),
            ..Default::default()
        })
        .await?;
    barrier(&ctx, "after-map".into(), "map 0".into()).await?;
    Ok(sum + batch.into_result()?.into_iter().sum::<u64>())
}

/// The child's entry point: does nothing unless `ORKESTRA_ORDERED_CHILD` is set.
#[test]
fn ordered_child_entry() {
    if !is_child(CHILD) {
        return;
    }
    child_runtime().block_on(async {
        let store = Arc::new(SqliteStore::open_default().expect("store"));
        let rec = DurableExecutor::new(store)
            .run(
                "burst",
                "burst",
                &handler_fn(burst),
                serde_json::json!(null),
            )
            .await
            .expect("execution");
        assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
    });
}

fn child(db: &Path, log: &Path) -> Command {
    let mut cmd = self_as_child("ordered_child_entry", CHILD, "1");
    cmd.env("ORKESTRA_DB", db).env("ORKESTRA_ORDERED_LOG", log);
    cmd
}

/// The log's lines: (what, index or 0, attempt).
fn log_lines(log: &Path) -> Vec<(String, u64, u32)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "line {l:?}");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// What is durable in the store right now: the names of the succeeded steps, and how many
/// map items have succeeded.
fn durable_state(db: &Path) -> (HashSet<String>, usize) {
    let store = SqliteStore::open(db).unwrap();
    let ops = store.load_operations("burst").unwrap();
    let steps = ops
        .iter()
        .filter(|r| r.op_type == OperationType::Step && r.status == OperationStatus::Succeeded)
        .filter_map(|r| r.name.clone())
        .collect();
    let items = ops
        .iter()
        .filter(|r| {
            r.sub_type.as_deref() == Some("MapIteration") && r.status == OperationStatus::Succeeded
        })
        .count();
    (steps, items)
}

/// Every barrier whose body ran (a log line) found the writes before it durable.
fn check_barriers(lines: &[(String, u64, u32)], steps: &HashSet<String>, items: usize) {
    for (what, index, attempt) in lines {
        if what == "seq" {
            for j in 0..=*index {
                assert!(
                    steps.contains(&format!("a{j}")),
                    "barrier m{index} (attempt {attempt}) ran while step a{j} before it was \
                     not durable"
                );
            }
        } else {
            assert_eq!(
                items, ITEMS as usize,
                "the barrier after the map ran while some item completions were not durable"
            );
        }
    }
}

/// How many rows the store's operation log holds (its last sequence number; 0 before the
/// file exists).
fn rows(db: &Path) -> u64 {
    if !db.exists() {
        return 0;
    }
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("SELECT max(seq) FROM durable_operation_log", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .map_or(0, |n| n.unwrap_or(0) as u64)
}

fn result_of(db: &Path) -> u64 {
    let store = SqliteStore::open(db).unwrap();
    let rec = store.get_execution("burst").unwrap().expect("execution");
    assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
    serde_json::from_str(rec.result.as_deref().unwrap()).unwrap()
}

#[test]
fn sigkill_during_unawaited_writes_keeps_barriers_and_exactly_once_items() {
    if is_child(CHILD) {
        return;
    }
    let seed = crash_seed();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("orkestra-ordered-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let (ref_db, ref_log) = (dir.join("ref.db"), dir.join("ref.log"));
    assert!(child(&ref_db, &ref_log).status().unwrap().success());
    let reference = result_of(&ref_db);
    let expected: u64 = (0..SEQUENTIAL).sum::<u64>() + (0..ITEMS).map(|x| x * 3).sum::<u64>();
    assert_eq!(reference, expected);

    // Kill moments are drawn by progress, not time: a kill comes as soon as the log holds a
    // drawn number of rows, while the writes after them are still in flight. Every operation
    // has a row, so a target below the operation count is reached before the end; half the
    // targets lie in the sequential steps, half in the map (rows of interrupted runs move a
    // kill a little earlier, never later).
    let sequential_ops = SEQUENTIAL + SEQUENTIAL / BARRIER_EVERY;
    let map_ops = 2 * ITEMS; // each item's completion and its step
    let mut targets: Vec<u64> = (0..KILLS)
        .map(|k| match k % 2 {
            0 => rng.random_range(1..sequential_ops),
            _ => rng.random_range(sequential_ops + map_ops / 4..sequential_ops + map_ops * 3 / 4),
        })
        .collect();
    targets.sort_unstable();
    let (db, log) = (dir.join("crash.db"), dir.join("crash.log"));
    let mut kills = 0;
    let mut durable_at_kill = Vec::new();
    for target in targets {
        let mut proc = child(&db, &log).spawn().unwrap();
        while proc.try_wait().unwrap().is_none() && rows(&db) < target {
            std::thread::sleep(Duration::from_micros(200));
        }
        if !kill_unless_finished(&mut proc) {
            break; // finished before we could kill it
        }
        kills += 1;
        let (steps, items) = durable_state(&db);
        check_barriers(&log_lines(&log), &steps, items);
        durable_at_kill.push((steps.len(), items));
    }
    eprintln!(
        "seed {seed}: {kills} kills; durable (steps, items) at each kill: {durable_at_kill:?}"
    );
    assert!(
        child(&db, &log).status().unwrap().success(),
        "the final run completes"
    );
    assert!(
        kills >= KILLS,
        "only {kills} kills before the execution finished"
    );
    assert!(
        durable_at_kill
            .iter()
            .any(|&(steps, items)| steps > 0 && items == 0),
        "some kill interrupted the sequential steps"
    );
    assert!(
        durable_at_kill
            .iter()
            .any(|&(_, items)| items > 0 && (items as u64) < ITEMS),
        "some kill interrupted the map"
    );

    // 1. The uninterrupted result.
    assert_eq!(result_of(&db), reference);

    // 2. At most once per (at-most-once step, attempt); every barrier ran.
    let lines = log_lines(&log);
    let mut seen: HashMap<(String, u64, u32), usize> = HashMap::new();
    for l in &lines {
        *seen.entry(l.clone()).or_default() += 1;
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "at-most-once violated: {dupes:?}");
    let barriers: HashSet<(String, u64)> = lines.iter().map(|l| (l.0.clone(), l.1)).collect();
    assert_eq!(barriers.len() as u64, SEQUENTIAL / BARRIER_EVERY + 1);
    let (steps, items) = durable_state(&db);
    check_barriers(&lines, &steps, items);

    // 3. Each map item's completion is in the log table exactly once: a completion lost in a
    // crash was never durable, and a durable one is never written again.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT l.op_id, count(*) FROM durable_operation_log l
               JOIN durable_execution_keys k ON k.key = l.exec_key
              WHERE k.id = 'burst' AND l.sub_type = 'MapIteration' AND l.status = 'SUCCEEDED'
              GROUP BY l.op_id",
        )
        .unwrap();
    let counts: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(counts.len() as u64, ITEMS, "every item completed");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| *n != 1).collect();
    assert!(
        twice.is_empty(),
        "items completed more than once: {twice:?}"
    );
    let report = SqliteStore::open(&db).unwrap().check(None).unwrap();
    assert!(report.is_clean(), "{report:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
