//! Crash test with real processes: a child process (this test binary re-executed with
//! `ORKESTRA_SCHED_CHILD` set) queues a 3,000-task job, or drains it, on the SQLite queue. The
//! parent SIGKILLs it at seeded random moments during queueing and during dispatch, restarts
//! it each time, and then checks: every task queued once and archived exactly once, none lost,
//! and no task ever ran twice at the same time.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/child_process.rs"]
mod child_process;
use child_process::{child_runtime, crash_seed, is_child, run_then_kill, self_as_child};

use orkestra::scheduler::chunk::{chunk_job, ChunkedJob};
use orkestra::scheduler::config::SchedulerConfig;
use orkestra::scheduler::dates::parse_date;
use orkestra::scheduler::dispatch::{Backoff, DispatchOptions, Dispatcher};
use orkestra::scheduler::sqlite::SqliteQueue;
use orkestra::scheduler::store::{task_id, QueueStore};
use orkestra::{compose, Context};
use rand::{Rng, SeedableRng};
use serde_json::Value;

const TASKS: usize = 3000;
const SUBMIT_KILLS: usize = 5;
const WORK_KILLS: usize = 8;

fn the_job() -> ChunkedJob {
    let stores: Vec<usize> = (0..TASKS).collect();
    let job =
        serde_json::json!({"labourer": "crash_labourer", "isolate_stores": true, "stores": stores});
    let config = SchedulerConfig::parse(
        r#"{"job_schema_variants":{"default":{"chunkable_attrs":["store"]}}}"#,
    )
    .unwrap();
    chunk_job(
        &job.to_string(),
        &config.job_schema_variants,
        parse_date("2024-06-12").unwrap(),
    )
    .unwrap()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Holds a lock file per task while it runs; finding one held by a live process means the
/// task runs twice at once, which is logged as `OVERLAP`.
#[compose(max_simultaneous_invocations = 16)]
pub async fn crash_labourer(event: Value, _ctx: &Context) -> Value {
    let dir = PathBuf::from(std::env::var("ORKESTRA_SCHED_DIR").expect("dir"));
    let n = event["stores"][0].as_u64().unwrap();
    let lock = dir.join("locks").join(n.to_string());
    let me = std::process::id();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runs.log"))
        .unwrap();
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
    {
        Ok(mut f) => f.write_all(me.to_string().as_bytes()).unwrap(),
        Err(_) => {
            let holder: u32 = std::fs::read_to_string(&lock)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if holder == me || pid_alive(holder) {
                log.write_all(format!("OVERLAP {n}\n").as_bytes()).unwrap();
            }
            std::fs::write(&lock, me.to_string()).unwrap();
        }
    }
    // One write per line: O_APPEND keeps lines whole.
    log.write_all(format!("run {n} {me}\n").as_bytes()).unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    let _ = std::fs::remove_file(&lock);
    event
}

/// The child's entry point: does nothing unless `ORKESTRA_SCHED_CHILD` is set.
#[test]
fn sched_child_entry() {
    let Some(mode) = std::env::var_os("ORKESTRA_SCHED_CHILD") else {
        return;
    };
    let queue = Arc::new(SqliteQueue::open_default().unwrap());
    if mode == "submit" {
        orkestra::scheduler::submit(&*queue, &the_job(), |_| {}).unwrap();
        return;
    }
    let rt = child_runtime();
    let config = SchedulerConfig::parse(
        r#"{"labourers":{"crash_labourer":{"lease_secs":1,"max_attempts":100}}}"#,
    )
    .unwrap();
    let options = DispatchOptions {
        poll: Duration::from_millis(20),
        grace: Duration::from_millis(200),
        backoff: Backoff {
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
        },
        ..DispatchOptions::default()
    };
    let report = rt
        .block_on(
            Dispatcher::new(
                queue,
                orkestra::Registry::global().unwrap(),
                config,
                options,
            )
            .run(None),
        )
        .unwrap();
    assert_eq!(report.dead, 0);
}

fn child(mode: &str, dir: &Path) -> Command {
    let mut cmd = self_as_child("sched_child_entry", "ORKESTRA_SCHED_CHILD", mode);
    cmd.env("ORKESTRA_DB", dir.join("q.db"))
        .env("ORKESTRA_SCHED_DIR", dir);
    cmd
}

fn fresh_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("locks")).unwrap();
}

fn timed(mut cmd: Command) -> u64 {
    let started = Instant::now();
    assert!(cmd.status().unwrap().success());
    started.elapsed().as_millis() as u64
}

/// Runs `mode` children, SIGKILLing each at a random moment in `range` (ms), `kills` times;
/// returns the queue's (pending, archived) count seen after each kill.
fn kill_repeatedly(
    mode: &str,
    dir: &Path,
    kills: usize,
    range: (u64, u64),
    rng: &mut impl Rng,
) -> Vec<(u64, u64)> {
    let mut seen = Vec::new();
    while seen.len() < kills {
        let life = Duration::from_millis(rng.random_range(range.0..range.1));
        if !run_then_kill(&mut child(mode, dir), life) {
            break; // finished before the kill
        }
        let counts = SqliteQueue::open(dir.join("q.db"))
            .unwrap()
            .counts()
            .unwrap();
        let c = counts.get("crash_labourer").copied().unwrap_or_default();
        seen.push((c.pending(), c.completed + c.dead));
    }
    seen
}

#[test]
fn sigkill_during_queueing_and_dispatch_loses_and_doubles_nothing() {
    if is_child("ORKESTRA_SCHED_CHILD") {
        return;
    }
    let seed = crash_seed();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let root = std::env::temp_dir().join(format!(
        "orkestra-sched-crash-{}-{seed}",
        std::process::id()
    ));

    // Uninterrupted runs give the time scale for the kill moments.
    let reference = root.join("ref");
    fresh_dir(&reference);
    let submit_ms = timed(child("submit", &reference));
    let work_ms = timed(child("work", &reference));

    let dir = root.join("crash");
    let part_way = |seen: &[(u64, u64)]| seen.iter().any(|(p, _)| *p > 0 && (*p as usize) < TASKS);
    let mut window = ((submit_ms / 10).max(1), (submit_ms * 9 / 10).max(2));
    let mut during_submit = Vec::new();
    for _ in 0..8 {
        fresh_dir(&dir);
        during_submit = kill_repeatedly("submit", &dir, SUBMIT_KILLS, window, &mut rng);
        if part_way(&during_submit) {
            break;
        }
        // Every kill came before the first commit (a loaded machine starts processes slowly)
        // or after the last: move the window and start again on a fresh file.
        window = if during_submit.iter().all(|(p, _)| *p == 0) {
            (window.1, window.1 * 2)
        } else {
            ((window.0 / 2).max(1), window.0.max(2))
        };
    }
    assert!(child("submit", &dir).status().unwrap().success());
    let queue = SqliteQueue::open(dir.join("q.db")).unwrap();
    let counts = queue.counts().unwrap()["crash_labourer"];
    assert_eq!(
        counts.queued as usize, TASKS,
        "every task queued once after the restarts"
    );

    let during_work = kill_repeatedly(
        "work",
        &dir,
        WORK_KILLS,
        ((work_ms / 20).max(1), (work_ms / 6).max(2)),
        &mut rng,
    );
    assert!(
        child("work", &dir).status().unwrap().success(),
        "the final run drains the queue"
    );
    eprintln!("seed {seed}: (pending, archived) after submit kills {during_submit:?}, after work kills {during_work:?}");
    assert!(
        part_way(&during_submit),
        "no kill landed part-way through queueing: {during_submit:?}"
    );
    assert!(
        during_work.len() >= WORK_KILLS / 2,
        "the queue drained before most kills happened: {during_work:?}"
    );
    assert!(during_work
        .iter()
        .any(|(_, a)| *a > 0 && (*a as usize) < TASKS));

    // Every task archived exactly once, as completed; none lost, none extra.
    let counts = queue.counts().unwrap()["crash_labourer"];
    assert_eq!(
        (counts.completed as usize, counts.dead, counts.pending()),
        (TASKS, 0, 0)
    );
    let conn = rusqlite::Connection::open(dir.join("q.db")).unwrap();
    let archived: HashMap<String, i64> = conn
        .prepare(
            "SELECT task_id, COUNT(*) FROM sched_audit WHERE event = 'archived' GROUP BY task_id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: BTreeSet<String> = the_job()
        .payloads
        .iter()
        .map(|p| task_id("crash_labourer", p))
        .collect();
    assert_eq!(archived.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(
        archived.values().all(|&n| n == 1),
        "a task was archived twice"
    );
    let created: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sched_audit WHERE event = 'created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(created as usize, TASKS, "a task was queued twice");

    // Never twice at once; every task ran.
    let log = std::fs::read_to_string(dir.join("runs.log")).unwrap();
    let overlaps: Vec<&str> = log.lines().filter(|l| l.starts_with("OVERLAP")).collect();
    assert!(overlaps.is_empty(), "tasks ran twice at once: {overlaps:?}");
    let ran: BTreeSet<u64> = log
        .lines()
        .filter_map(|l| l.strip_prefix("run ")?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(ran.len(), TASKS);
    let _ = std::fs::remove_dir_all(&root);
}
