//! Crashes during suspension and wake-up, with real processes: executions that wait, retry
//! with a delay and wait for callbacks suspend; `Worker` processes (this test binary
//! re-executed with `ORKESTRA_WAKE_CHILD` set) wake them when due, two at a time on one
//! database file, and are SIGKILLed at seeded random moments (100+ kills) while a helper
//! thread completes the callbacks. Every execution must end with the uninterrupted result,
//! and every due time must have been served by exactly one finished wake-up.

use orkestra::durable::*;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/child_process.rs"]
mod child_process;
use child_process::{child_runtime, crash_seed, is_child, kill_unless_finished, self_as_child};

/// Set in the child process.
const CHILD: &str = "ORKESTRA_WAKE_CHILD";

const EXECUTIONS: u64 = 24;
const ROUNDS: u64 = 3;
const KILLS: usize = 100;

/// Three rounds of: a step, a wait, a step whose first attempt fails (retried after a
/// delay), and a callback completed from outside.
async fn cycles(n: u64, ctx: DurableContext) -> Result<String, DurableError> {
    let mut parts = Vec::new();
    for round in 0..ROUNDS {
        let a = ctx
            .step(move |_s: StepContext| async move { Ok::<_, String>(n * 10 + round) })
            .name(format!("a{round}"))
            .await?;
        ctx.wait(Duration::from_millis(150 + (n * 37 + round * 101) % 300))
            .await?;
        let b = ctx
            .step(move |s: StepContext| async move {
                if s.attempt() == 1 {
                    Err("the first attempt fails".to_string())
                } else {
                    Ok(u64::from(s.attempt()) + round)
                }
            })
            .name(format!("flaky{round}"))
            .retry(RetryStrategy {
                max_attempts: 3,
                initial_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(1),
                backoff_rate: 2.0,
                jitter: Jitter::None,
            })
            .await?;
        let c: String = ctx
            .wait_for_callback(
                &format!("cb{round}"),
                |callback_id: String, _s: StepContext| async move {
                    let log = std::env::var("ORKESTRA_WAKE_SUBMITTED").expect("log path");
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(log)?;
                    f.write_all(format!("{callback_id}\n").as_bytes())?;
                    Ok::<_, std::io::Error>(())
                },
                CallbackConfig::default(),
            )
            .await?;
        parts.push(format!("{a}/{b}/{c}"));
    }
    Ok(parts.join(","))
}

/// What an uninterrupted run of execution `n` returns.
fn expected(n: u64) -> String {
    (0..ROUNDS)
        .map(|round| format!("{}/{}/answer", n * 10 + round, 2 + round))
        .collect::<Vec<_>>()
        .join(",")
}

/// The child's entry point: a worker until killed (nothing unless `ORKESTRA_WAKE_CHILD`).
#[test]
fn wake_worker_entry() {
    if !is_child(CHILD) {
        return;
    }
    child_runtime().block_on(async {
        let store = Arc::new(SqliteStore::open_default().expect("store"));
        Worker::new(store)
            .handler("cycles", Arc::new(handler_fn(cycles)))
            .hold(Duration::ZERO)
            .concurrency(8)
            .poll_interval(Duration::from_millis(10))
            .run_until(std::future::pending())
            .await
            .expect("worker");
    });
}

fn worker(db: &Path, submitted: &Path) -> Child {
    self_as_child("wake_worker_entry", CHILD, "1")
        .env("ORKESTRA_DB", db)
        .env("ORKESTRA_WAKE_SUBMITTED", submitted)
        .spawn()
        .unwrap()
}

/// Completes every callback id the submitters logged (once; a second submission of the same
/// id, from a submitter step that ran again after a kill, is refused as already completed).
fn callback_helper(db: PathBuf, submitted: PathBuf, stop: Arc<AtomicBool>) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut store = SqliteStore::open(&db).unwrap();
        let mut done: HashSet<String> = HashSet::new();
        while !stop.load(Ordering::SeqCst) {
            let text = std::fs::read_to_string(&submitted).unwrap_or_default();
            for id in text.lines().filter(|l| !l.is_empty()) {
                if done.contains(id) {
                    continue;
                }
                match complete_callback(&store, id, Ok("answer".into())).await {
                    Ok(()) => {
                        done.insert(id.to_string());
                    }
                    // A store fault (the file busy while a killed process's WAL is
                    // recovered) stops that connection: as a caller would, try again later
                    // on a new one.
                    Err(DurableError::Store(e)) => {
                        eprintln!("completing {id}: {e}; retrying");
                        store = SqliteStore::open(&db).unwrap();
                        break;
                    }
                    Err(e) => panic!("completing {id}: {e}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        done.len()
    })
}

#[test]
fn sigkilled_workers_wake_every_execution_once_per_due_time() {
    if is_child(CHILD) {
        return;
    }
    let seed = crash_seed();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let dir =
        std::env::temp_dir().join(format!("orkestra-wake-crash-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (db, submitted) = (dir.join("wake.db"), dir.join("submitted.log"));
    std::env::set_var("ORKESTRA_WAKE_SUBMITTED", &submitted);
    let t = Instant::now();

    let stop = Arc::new(AtomicBool::new(false));
    let helper = {
        let (db, submitted, stop) = (db.clone(), submitted.clone(), stop.clone());
        std::thread::spawn(move || callback_helper(db, submitted, stop))
    };
    let rt = child_runtime();
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    // Starts execution `n`: it runs to its first wait and suspends.
    let start = |n: u64| {
        let rec = rt
            .block_on(
                DurableExecutor::new(store.clone())
                    .hold(Duration::ZERO)
                    .run(&format!("e{n}"), "cycles", &handler_fn(cycles), n.into()),
            )
            .unwrap();
        assert_eq!(rec.status, InvocationStatus::Running, "e{n} suspended");
    };

    // Two worker processes at a time, each killed at a random moment and replaced; new
    // executions start while the kills go on.
    let mut slots: Vec<(Child, Instant)> = Vec::new();
    let mut kills = 0;
    let mut started = 0;
    while kills < KILLS {
        if started < EXECUTIONS && kills % 3 == 0 {
            start(started);
            started += 1;
        }
        while slots.len() < 2 {
            let life = Duration::from_millis(rng.random_range(60..400));
            slots.push((worker(&db, &submitted), Instant::now() + life));
        }
        std::thread::sleep(Duration::from_millis(5));
        let now = Instant::now();
        if let Some(i) = slots.iter().position(|(_, until)| *until <= now) {
            let (mut proc, _) = slots.swap_remove(i);
            // A worker that exited by itself would be a failure the final checks show.
            kill_unless_finished(&mut proc);
            kills += 1;
        }
    }
    while started < EXECUTIONS {
        start(started);
        started += 1;
    }
    // One more worker, not killed, until every execution has ended.
    let mut last = worker(&db, &submitted);
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let all = store.list_executions().unwrap();
        let open = all
            .iter()
            .filter(|e| e.status == InvocationStatus::Running)
            .count();
        if all.len() as u64 == EXECUTIONS && open == 0 {
            break all;
        }
        assert!(Instant::now() < deadline, "{open} executions still running");
        std::thread::sleep(Duration::from_millis(50));
    };
    last.kill().unwrap();
    last.wait().unwrap();
    for (mut proc, _) in slots {
        let _ = proc.kill();
        let _ = proc.wait();
    }
    stop.store(true, Ordering::SeqCst);
    let completed = helper.join().unwrap();
    eprintln!(
        "seed {seed}: {kills} kills, {completed} callbacks, {:?}",
        t.elapsed()
    );

    // 1. Every execution has the uninterrupted result.
    for rec in &finished {
        let n: u64 = rec.id[1..].parse().unwrap();
        assert_eq!(
            rec.status,
            InvocationStatus::Succeeded,
            "{}: {:?}",
            rec.id,
            rec.error
        );
        let result: String = serde_json::from_str(rec.result.as_deref().unwrap()).unwrap();
        assert_eq!(result, expected(n), "{}", rec.id);
    }
    assert_eq!(completed as u64, EXECUTIONS * ROUNDS);

    // 2. Each due time was served by exactly one finished wake-up, never before it was due;
    //    each execution was woken for its waits and retries (2 per round) and for each
    //    callback not already completed when it came to wait for it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let wakes: Vec<(String, i64, i64, String)> = conn
        .prepare("SELECT execution_id, due_ms, at_ms, outcome FROM durable_wakes ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut per_due: HashMap<(&str, i64), usize> = HashMap::new();
    let mut per_execution: HashMap<&str, Vec<&str>> = HashMap::new();
    for (exec, due, at, outcome) in &wakes {
        assert!(at >= due, "{exec} woken at {at}, before its due time {due}");
        *per_due.entry((exec, *due)).or_default() += 1;
        per_execution.entry(exec).or_default().push(outcome);
    }
    let twice: Vec<_> = per_due.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "due times served twice: {twice:?}");
    assert_eq!(per_execution.len() as u64, EXECUTIONS);
    for (exec, outcomes) in &per_execution {
        assert!(
            outcomes.len() as u64 >= 2 * ROUNDS,
            "{exec}: {} wake-ups: {outcomes:?}",
            outcomes.len()
        );
        assert_eq!(outcomes.last(), Some(&"FINISHED"), "{exec}");
        assert_eq!(
            outcomes.iter().filter(|o| **o == "FINISHED").count(),
            1,
            "{exec}"
        );
    }

    // 3. Nothing left behind: no entry in the index, no live process holding anything (a
    //    lease of the last, SIGKILLed worker may remain: its process is gone), clean records.
    let due: i64 = conn
        .query_row("SELECT count(*) FROM durable_due", [], |r| r.get(0))
        .unwrap();
    assert_eq!(due, 0);
    let holders: Vec<u32> = conn
        .prepare("SELECT pid FROM durable_leases")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for pid in holders {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "a lease of live process {pid} remains"
        );
    }
    let report = store.check(None).unwrap();
    assert!(report.is_clean(), "{report:?}");
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}
