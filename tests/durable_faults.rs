//! Store faults stop an execution in place and are never recorded as a user failure:
//! another connection holding the write lock (10.5 s and 60 s, past the 10 s busy timeout),
//! a full disk (a small tmpfs) and a read-only file (a read-only bind mount). The mounts need
//! root, as CI runs.

use orkestra::cli::{execute, Command as CliCommand, ExitStatus};
use orkestra::durable::cli::DurableCommand;
use orkestra::durable::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orkestra-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One at-most-once step per item, appending `item attempt` to the log named by the
/// execution id's log file.
async fn logged_item(
    ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<u64, DurableError> {
    let log = LOGS.with_id(ctx.execution_id());
    ctx.step(move |s: StepContext| {
        let log = log.clone();
        async move {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            f.write_all(format!("{item} {}\n", s.attempt()).as_bytes())?;
            Ok::<_, std::io::Error>(item)
        }
    })
    .name("record")
    .semantics(StepSemantics::AtMostOncePerRetry)
    .await
}

/// Where each execution's step log is (executions of several tests run in this binary).
struct Logs(std::sync::Mutex<HashMap<String, PathBuf>>);
static LOGS: std::sync::LazyLock<Logs> =
    std::sync::LazyLock::new(|| Logs(std::sync::Mutex::new(HashMap::new())));
impl Logs {
    fn set(&self, id: &str, path: PathBuf) {
        self.0.lock().unwrap().insert(id.into(), path);
    }
    fn with_id(&self, id: &str) -> PathBuf {
        self.0.lock().unwrap()[id].clone()
    }
}

async fn logged_map(n: u64, ctx: DurableContext) -> Result<usize, DurableError> {
    let batch = ctx
        .map((0..n).collect::<Vec<u64>>(), logged_item)
        .name("items")
        .config(MapConfig {
            max_concurrency: Some(64),
            ..Default::default()
        })
        .await?;
    Ok(batch.success_count())
}

fn log_counts(log: &Path) -> HashMap<u64, usize> {
    let mut counts = HashMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let item: u64 = line.split(' ').next().unwrap().parse().unwrap();
        *counts.entry(item).or_default() += 1;
    }
    counts
}

/// No record of the execution is a failure or carries an error (a store error in particular).
fn assert_no_failure_recorded(store: &SqliteStore, id: &str) {
    let exec = store.get_execution(id).unwrap().unwrap();
    assert!(exec.error.is_none(), "{exec:?}");
    for op in store.load_operations(id).unwrap() {
        assert!(
            op.status != OperationStatus::Failed && op.error.is_none(),
            "a failure was recorded: {op:?}"
        );
    }
}

/// Runs the 4,000-item map while another connection takes the write lock (`BEGIN IMMEDIATE`)
/// once 500 items are done and holds it for `hold`.
async fn map_under_a_held_lock(name: &str, hold: Duration) {
    const ITEMS: u64 = 4_000;
    let dir = temp_dir(name);
    let db = dir.join("orkestra.db");
    let log = dir.join("steps.log");
    let id = format!("locked-{name}");
    LOGS.set(&id, log.clone());
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let locker = {
        let (db, log) = (db.clone(), log.clone());
        std::thread::spawn(move || {
            while log_counts(&log).len() < 500 {
                std::thread::sleep(Duration::from_millis(5));
            }
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.busy_timeout(Duration::from_secs(30)).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            let taken = Instant::now();
            let done_when_taken = log_counts(&log).len();
            std::thread::sleep(hold);
            conn.execute_batch("COMMIT").unwrap();
            (taken, Instant::now(), done_when_taken)
        })
    };
    let mut rec = DurableExecutor::new(store.clone())
        .run(&id, "logged_map", &handler_fn(logged_map), ITEMS.into())
        .await;
    let (taken, released, done_when_taken) = locker.join().unwrap();
    let ended = Instant::now();
    if let Err(e) = &rec {
        // Stopped in place: resumable, and it completes on resume.
        eprintln!("stopped by the lock ({e}); resuming");
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        rec = DurableExecutor::new(store)
            .run(&id, "logged_map", &handler_fn(logged_map), ITEMS.into())
            .await;
    }
    let rec = rec.unwrap();
    assert_eq!(rec.status, InvocationStatus::Succeeded, "{:?}", rec.error);
    assert_eq!(rec.result.as_deref(), Some("4000"));
    assert!(
        done_when_taken < ITEMS as usize && ended >= released,
        "the lock was taken mid-map ({done_when_taken} done) and the map waited for it"
    );
    eprintln!(
        "{name}: lock held {:.1} s from item {done_when_taken}; map finished {:.1} s after release",
        (released - taken).as_secs_f64(),
        (ended - released).as_secs_f64()
    );
    let counts = log_counts(&log);
    assert_eq!(counts.len(), ITEMS as usize, "every item ran");
    assert!(
        counts.values().all(|&n| n == 1),
        "an at-most-once item ran twice"
    );
    let store = SqliteStore::open(&db).unwrap();
    assert_no_failure_recorded(&store, &id);
    let succeeded = store
        .load_operations(&id)
        .unwrap()
        .iter()
        .filter(|op| op.op_type == OperationType::Step && op.status == OperationStatus::Succeeded)
        .count();
    assert_eq!(succeeded, ITEMS as usize);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_for_10_5_s_loses_nothing() {
    map_under_a_held_lock("10s", Duration::from_millis(10_500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_for_60_s_loses_nothing() {
    map_under_a_held_lock("60s", Duration::from_secs(60)).await;
}

/// Runs `mount args` (a new mount, or a remount of one already there).
fn mount(args: &[&str]) {
    let out = Command::new("mount").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "mount {args:?} failed (this test needs root, as CI runs): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A mount point that is detached when dropped, so a test that fails part-way leaves no
/// mount behind.
struct Mounted(PathBuf);

impl Mounted {
    /// Mounts with `args`, whose last one is the mount point.
    fn new(args: &[&str]) -> Mounted {
        mount(args);
        Mounted(PathBuf::from(args.last().expect("a mount point")))
    }
}

impl Drop for Mounted {
    /// Detaches lazily: a store's threads may still be closing their files.
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Each item's step returns a 4 KB string, so a small disk fills up mid-map.
async fn big_item(
    ctx: DurableContext,
    item: u64,
    _i: usize,
    _all: Arc<[u64]>,
) -> Result<usize, DurableError> {
    let text: String =
        ctx.step(move |_s: StepContext| async move {
            Ok::<_, String>(format!("{item:04}").repeat(1024))
        })
        .name("fill")
        .await?;
    Ok(text.len())
}

async fn filling_map(n: u64, ctx: DurableContext) -> Result<usize, DurableError> {
    let batch = ctx
        .map((0..n).collect::<Vec<u64>>(), big_item)
        .name("fill-map")
        .config(MapConfig {
            max_concurrency: Some(16),
            ..Default::default()
        })
        .await?;
    Ok(batch.success_count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_run_in_place_and_it_completes_once_there_is_room() {
    const ITEMS: u64 = 1_000;
    let dir = temp_dir("full");
    let disk = dir.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted = Mounted::new(&[
        "-t",
        "tmpfs",
        "-o",
        "size=1m",
        "tmpfs",
        disk.to_str().unwrap(),
    ]);
    let db = disk.join("orkestra.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let err = DurableExecutor::new(store.clone())
        .run(
            "fill",
            "filling_map",
            &handler_fn(filling_map),
            ITEMS.into(),
        )
        .await
        .expect_err("4 MB of results do not fit in 1 MB");
    let message = err.to_string();
    eprintln!("disk full: {message}");
    assert!(
        matches!(err, DurableError::Store(_)) && message.contains("full"),
        "{message}"
    );
    assert!(
        message.contains(db.to_str().unwrap()),
        "names the file: {message}"
    );
    drop(store);
    // The fault goes away: the execution is still running and resumes to the full result.
    mount(&["-o", "remount,size=64m", disk.to_str().unwrap()]);
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let before = store.get_execution("fill").unwrap().unwrap();
    assert_eq!(before.status, InvocationStatus::Running);
    let done_before = store
        .load_operations("fill")
        .unwrap()
        .iter()
        .filter(|op| op.op_type == OperationType::Step && op.status == OperationStatus::Succeeded)
        .count();
    assert!(
        done_before > 0 && done_before < ITEMS as usize,
        "{done_before}"
    );
    assert_no_failure_recorded(&store, "fill");
    let rec = DurableExecutor::new(store.clone())
        .run(
            "fill",
            "filling_map",
            &handler_fn(filling_map),
            ITEMS.into(),
        )
        .await
        .unwrap();
    assert_eq!(
        (rec.status, rec.result.as_deref()),
        (InvocationStatus::Succeeded, Some("1000"))
    );
    assert_no_failure_recorded(&store, "fill");
    drop(store);
    drop(mounted);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Six at-least-once steps.
#[orkestra::durable_execution]
async fn six_steps(n: u64, ctx: DurableContext) -> Result<u64, DurableError> {
    let mut sum = 0;
    for i in 0..6 {
        sum += ctx
            .step(move |_s: StepContext| async move { Ok::<_, String>(n + i) })
            .name(format!("s{i}"))
            .await?;
    }
    Ok(sum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_is_a_store_fault_and_the_execution_resumes_once_writable() {
    let dir = temp_dir("ro");
    let (rw, ro) = (dir.join("rw"), dir.join("ro"));
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    // An execution interrupted after its first steps (its records written, as a crash leaves
    // them): RUNNING with two steps done.
    let store = Arc::new(SqliteStore::open(rw.join("orkestra.db")).unwrap());
    store
        .put_execution(ExecutionRecord {
            id: "ro-1".into(),
            handler: "six_steps".into(),
            status: InvocationStatus::Running,
            input: "10".into(),
            result: None,
            error: None,
            started_ms: Some(ExecutionRecord::now_ms()),
            ended_ms: None,
        })
        .await
        .unwrap();
    for i in 0..2u64 {
        store
            .checkpoint(
                "ro-1",
                &OperationRecord {
                    id: operation_id("", i + 1),
                    parent_id: None,
                    op_type: OperationType::Step,
                    sub_type: Some("Step".into()),
                    name: Some(format!("s{i}")),
                    status: OperationStatus::Succeeded,
                    result: Some((10 + i).to_string()),
                    error: None,
                    attempt: 1,
                    started_ms: None,
                    ended_ms: None,
                    details: Default::default(),
                },
            )
            .await
            .unwrap();
    }
    drop(store);
    // Root ignores file modes, so the file is made read-only by a read-only bind mount.
    let mounted = Mounted::new(&["--bind", rw.to_str().unwrap(), ro.to_str().unwrap()]);
    mount(&["-o", "remount,ro,bind", ro.to_str().unwrap()]);
    std::env::set_var("ORKESTRA_DB", ro.join("orkestra.db"));
    let out = execute(Some(CliCommand::Durable {
        command: DurableCommand::Resume {
            id: "ro-1".into(),
            hold: std::time::Duration::from_secs(1),
        },
    }))
    .await;
    drop(mounted);
    assert_eq!(out.code, ExitStatus::StoreFault, "{}", out.stdout);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let message = json["error"].as_str().unwrap();
    assert!(
        message.contains("Read-only file system") && message.contains("durable resume"),
        "{message}"
    );
    // Writable again: nothing was lost, and it resumes to the result.
    std::env::set_var("ORKESTRA_DB", rw.join("orkestra.db"));
    let out = execute(Some(CliCommand::Durable {
        command: DurableCommand::Resume {
            id: "ro-1".into(),
            hold: std::time::Duration::from_secs(1),
        },
    }))
    .await;
    assert_eq!(out.code, ExitStatus::Succeeded, "{}", out.stdout);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["result"], 10 + 11 + 12 + 13 + 14 + 15);
    let _ = std::fs::remove_dir_all(&dir);
}
